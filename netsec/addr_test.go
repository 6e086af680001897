package netsec

import "testing"

func TestSplitHostPort(t *testing.T) {
	for _, tc := range []struct {
		addr string
		host string
		port int
		ok   bool
	}{
		{addr: "0.0.0.0:8443", host: "0.0.0.0", port: 8443, ok: true},
		{addr: "127.0.0.1:0", host: "127.0.0.1", port: 0, ok: true},
		{addr: "[::1]:65535", host: "::1", port: 65535, ok: true},
		{addr: ":9878", host: "", port: 9878, ok: true},
		{addr: "0.0.0.0:99999"},
		{addr: "0.0.0.0:-1"},
		{addr: "gw.example:https"},
		{addr: "0.0.0.0:"},
		{addr: "0.0.0.0"},
	} {
		host, port, err := SplitHostPort(tc.addr)
		if (err == nil) != tc.ok || tc.ok && (host != tc.host || port != tc.port) {
			t.Errorf("SplitHostPort(%q) = %q, %d, %v; want %q, %d, ok %v", tc.addr, host, port, err, tc.host, tc.port, tc.ok)
		}
	}
}

package gateway

import (
	"testing"

	"sgw/netsec"
)

// TestPerIPCountsIPv6Networks: the WebSocket connection limit per address
// counts an IPv6 client by its /64, as the listener's does, so a client
// cannot spread its connections over the addresses of its network to get
// around it (before, each address of the /64 was a client of its own).
// IPv4 addresses, and an IPv4 address written as IPv6, count alone.
func TestPerIPCountsIPv6Networks(t *testing.T) {
	w := &wsServer{limits: netsec.NewConnLimits(100, 2)}
	for _, tc := range []struct {
		ip, want string
	}{
		{"2001:db8:1:2::1", ""},
		{"2001:db8:1:2:ffff::9", ""},
		{"2001:db8:1:2::77", "too_many_connections_per_ip"},
		{"2001:db8:1:3::1", ""}, // another /64
		{"192.0.2.1", ""},
		{"::ffff:192.0.2.1", ""},
		{"192.0.2.1", "too_many_connections_per_ip"},
		{"192.0.2.2", ""},
	} {
		if got := w.admit(tc.ip); got != tc.want {
			t.Fatalf("admit %s = %q, want %q (from its client: %d)", tc.ip, got, tc.want, w.limits.OpenFrom(clientAddr(tc.ip)))
		}
	}
	w.release("2001:db8:1:2::1")
	if got := w.admit("2001:db8:1:2::abcd"); got != "" {
		t.Fatalf("after a release of the /64, admit = %q", got)
	}
}

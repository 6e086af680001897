package netsec_test

import (
	"errors"
	"net/netip"
	"testing"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// proxyCase is a header and what ParseProxyHeader must make of it.
type proxyCase struct {
	name     string
	b        []byte
	wantErr  bool
	wantN    int // 0 with !wantErr: incomplete
	wantCmd  netsec.ProxyCommand
	src, dst string // "" = invalid (the connection's own endpoints)
}

// proxyCases are real headers (encoded by go-proxyproto), broken ones and
// partial ones.
func proxyCases(t testing.TB) []proxyCase {
	src4, dst4 := netip.MustParseAddrPort("203.0.113.7:50123"), netip.MustParseAddrPort("10.0.0.5:443")
	src6, dst6 := netip.MustParseAddrPort("[2001:db8::7]:50123"), netip.MustParseAddrPort("[2001:db8:1::5]:443")
	v4 := netsectest.ProxyV2(t, src4, dst4)
	v6 := netsectest.ProxyV2(t, src6, dst6)
	local := netsectest.ProxyV2Local(t)
	tlvs := []netsectest.TLV{{Type: 0x01, Value: []byte("http/1.1")}, {Type: 0x05, Value: []byte("req-42")}, {Type: 0xE0, Value: make([]byte, 300)}}
	v4TLV := netsectest.ProxyV2(t, src4, dst4, tlvs...)
	localTLV := netsectest.ProxyV2Local(t, netsectest.TLV{Type: 0x04, Value: []byte{0, 0, 0}})
	with := func(b []byte, i int, v byte) []byte {
		c := append([]byte(nil), b...)
		c[i] = v
		return c
	}
	// A header whose last TLV claims one byte more than there is.
	overrun := append([]byte(nil), v4TLV...)
	overrun[len(v4)+2]++ // the first TLV's length, low byte
	// A header whose len leaves 2 bytes after the addresses: half a TLV.
	halfTLV := append(append([]byte(nil), v4...), 0x04, 0x00)
	halfTLV[15] += 2
	return []proxyCase{
		{name: "IPv4", b: v4, wantN: len(v4), wantCmd: netsec.ProxyProxy, src: "203.0.113.7:50123", dst: "10.0.0.5:443"},
		{name: "IPv6", b: v6, wantN: len(v6), wantCmd: netsec.ProxyProxy, src: "[2001:db8::7]:50123", dst: "[2001:db8:1::5]:443"},
		{name: "LOCAL", b: local, wantN: 16, wantCmd: netsec.ProxyLocal},
		{name: "IPv4 with TLVs", b: v4TLV, wantN: len(v4TLV), wantCmd: netsec.ProxyProxy, src: "203.0.113.7:50123", dst: "10.0.0.5:443"},
		{name: "LOCAL with a NOOP TLV", b: localTLV, wantN: len(localTLV), wantCmd: netsec.ProxyLocal},
		{name: "IPv4 followed by data", b: append(append([]byte(nil), v4...), "GET / HTTP/1.1\r\n"...), wantN: len(v4), wantCmd: netsec.ProxyProxy, src: "203.0.113.7:50123", dst: "10.0.0.5:443"},
		{name: "PROXY over UNSPEC", b: with(local, 12, 0x21), wantN: 16, wantCmd: netsec.ProxyProxy},
		{name: "empty", b: nil},
		{name: "signature only", b: v4[:12]},
		{name: "fixed part only", b: v4[:16]},
		{name: "addresses cut", b: v4[:20]},
		{name: "TLV cut", b: v4TLV[:len(v4TLV)-1]},
		{name: "v1 text header", b: netsectest.ProxyV1(t, src4, dst4), wantErr: true},
		{name: "v1 prefix alone", b: []byte("PROXY "), wantErr: true},
		{name: "HTTP request", b: []byte("GET / HTTP/1.1\r\n\r\n"), wantErr: true},
		{name: "TLS ClientHello", b: []byte{0x16, 0x03, 0x01, 0x00, 0xc8, 0x01}, wantErr: true},
		{name: "version 1 in ver_cmd", b: with(v4, 12, 0x11), wantErr: true},
		{name: "version 3", b: with(v4, 12, 0x31), wantErr: true},
		{name: "command 2", b: with(v4, 12, 0x22), wantErr: true},
		{name: "UDP over IPv4", b: with(v4, 13, 0x12), wantErr: true},
		{name: "UNIX stream", b: with(v4, 13, 0x31), wantErr: true},
		{name: "family 4", b: with(v4, 13, 0x41), wantErr: true},
		{name: "transport 3", b: with(v4, 13, 0x13), wantErr: true},
		{name: "UNSPEC family with a transport", b: with(local, 13, 0x01), wantErr: true},
		{name: "len shorter than IPv4 addresses", b: with(v4, 15, 11), wantErr: true},
		{name: "len shorter than IPv6 addresses", b: with(v6, 15, 35), wantErr: true},
		{name: "TLV overruns the header", b: overrun, wantErr: true},
		{name: "half a TLV", b: halfTLV, wantErr: true},
		{name: "bad version, partial", b: with(v4, 12, 0x11)[:13], wantErr: true},
	}
}

func TestParseProxyHeader(t *testing.T) {
	for _, tc := range proxyCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			h, n, err := netsec.ParseProxyHeader(tc.b)
			switch {
			case tc.wantErr:
				if !errors.Is(err, netsec.ErrProxyHeader) || n != 0 {
					t.Fatalf("ParseProxyHeader = %d, %v; want an ErrProxyHeader", n, err)
				}
				return
			case err != nil || n != tc.wantN:
				t.Fatalf("ParseProxyHeader = %d, %v; want %d, nil", n, err, tc.wantN)
			case n == 0:
				return
			}
			if h.Command != tc.wantCmd || addrString(h.Source) != tc.src || addrString(h.Destination) != tc.dst {
				t.Fatalf("header %+v; want command %d from %q to %q", h, tc.wantCmd, tc.src, tc.dst)
			}
		})
	}
}

func addrString(a netip.AddrPort) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

func mustAddr(s string) netip.AddrPort { return netip.MustParseAddrPort(s) }

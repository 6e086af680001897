package netsec_test

import (
	"bufio"
	"bytes"
	"errors"
	"net"
	"testing"

	"github.com/pires/go-proxyproto"

	"sgw/netsec"
)

// FuzzProxyHeader feeds arbitrary first bytes of a connection to
// ParseProxyHeader, seeded with real v2 headers (IPv4, IPv6, LOCAL, with
// TLVs) from go-proxyproto, a v1 header and broken ones. It checks that
// the parser never reads past its input, that every prefix of an accepted
// header is "incomplete" (never an error, never a header), and that a
// header it accepts with addresses is read the same by go-proxyproto, an
// implementation that shares no code with it.
func FuzzProxyHeader(f *testing.F) {
	for _, tc := range proxyCases(f) {
		f.Add(tc.b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := netsec.ParseProxyHeader(b)
		if err != nil {
			if !errors.Is(err, netsec.ErrProxyHeader) || n != 0 {
				t.Fatalf("error %v with n %d", err, n)
			}
			return
		}
		if n == 0 {
			return
		}
		if n > len(b) || n < netsec.ProxyHeaderLen || n != netsec.ProxyHeaderLen+int(b[14])<<8+int(b[15]) {
			t.Fatalf("n %d of %d bytes, len field %d", n, len(b), int(b[14])<<8+int(b[15]))
		}
		for k := range n {
			if _, m, err := netsec.ParseProxyHeader(b[:k]); m != 0 || err != nil {
				t.Fatalf("prefix of %d bytes of a valid %d-byte header: n %d, %v", k, n, m, err)
			}
		}
		if h.Command != netsec.ProxyProxy || !h.Source.IsValid() {
			if h.Source.IsValid() || h.Destination.IsValid() {
				t.Fatalf("addresses %v %v without a PROXY command over TCP", h.Source, h.Destination)
			}
			return
		}
		ref, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(b[:n])))
		if err != nil {
			t.Fatalf("go-proxyproto refuses a header netsec accepts (%+v): %v", h, err)
		}
		src, dst, ok := ref.TCPAddrs()
		if !ok || !addrEqual(src, h.Source.String()) || !addrEqual(dst, h.Destination.String()) {
			t.Fatalf("go-proxyproto reads %v -> %v; netsec %v -> %v", src, dst, h.Source, h.Destination)
		}
	})
}

// addrEqual compares a go-proxyproto address with netsec's (IPv4-mapped
// IPv6 addresses unmapped).
func addrEqual(a *net.TCPAddr, want string) bool {
	ap := a.AddrPort()
	return ap.Addr().Unmap().String() == mustAddr(want).Addr().String() && ap.Port() == mustAddr(want).Port()
}

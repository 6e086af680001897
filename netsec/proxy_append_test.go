package netsec_test

import (
	"bufio"
	"bytes"
	"net/netip"
	"testing"

	"github.com/pires/go-proxyproto"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// TestAppendProxyHeader: the encoder's headers equal go-proxyproto's
// (an implementation this package shares no code with), its parser reads
// them back, and so does ours.
func TestAppendProxyHeader(t *testing.T) {
	for _, c := range []struct{ src, dst string }{
		{"203.0.113.7:50123", "10.0.0.5:8080"},
		{"[2001:db8::7]:443", "[2001:db8::1]:8443"},
		{"[::ffff:203.0.113.7]:1", "10.0.0.5:2"},
	} {
		src, dst := netip.MustParseAddrPort(c.src), netip.MustParseAddrPort(c.dst)
		got, err := netsec.AppendProxyHeader(nil, src, dst)
		if err != nil {
			t.Fatalf("%s -> %s: %v", c.src, c.dst, err)
		}
		want := netsectest.ProxyV2(t, netip.AddrPortFrom(src.Addr().Unmap(), src.Port()), netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port()))
		if !bytes.Equal(got, want) {
			t.Errorf("%s -> %s:\n got %x\nwant %x (go-proxyproto)", c.src, c.dst, got, want)
		}
		h, err := proxyproto.Read(bufio.NewReader(bytes.NewReader(got)))
		if err != nil || h.SourceAddr.String() != netip.AddrPortFrom(src.Addr().Unmap(), src.Port()).String() {
			t.Errorf("go-proxyproto read %v, %v", h, err)
		}
		ph, n, err := netsec.ParseProxyHeader(got)
		if err != nil || n != len(got) || ph.Source.Addr().Unmap() != src.Addr().Unmap() || ph.Destination.Port() != dst.Port() {
			t.Errorf("ParseProxyHeader = %+v, %d, %v", ph, n, err)
		}
	}
	if _, err := netsec.AppendProxyHeader(nil, netip.MustParseAddrPort("1.2.3.4:1"), netip.MustParseAddrPort("[2001:db8::1]:2")); err == nil {
		t.Error("mixed families accepted")
	}
}

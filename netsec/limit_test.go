package netsec_test

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// limitServer is a LimitListener over a ProxyListener trusting 127.0.0.1:
// connections from 127.0.0.1 carry a header naming the client.
type limitServer struct {
	ln      *netsec.LimitListener
	refused chan string
	conns   chan net.Conn
}

func newLimitServer(t *testing.T, max, perIP int) *limitServer {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pl, err := netsec.NewProxyListener(raw, netsec.ProxyConfig{Trusted: []string{"127.0.0.1"}}, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	s := &limitServer{refused: make(chan string, 16), conns: make(chan net.Conn, 16)}
	s.ln = netsec.NewLimitListener(pl, max, perIP, func(_ net.Addr, reason string) { s.refused <- reason })
	t.Cleanup(func() { s.ln.Close() })
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			if _, err := c.Write([]byte("hi")); err != nil {
				c.Close()
				continue
			}
			s.conns <- c
		}
	}()
	return s
}

// connect connects as client (through the "load balancer" 127.0.0.1).
func (s *limitServer) connect(t *testing.T, client string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	h := netsectest.ProxyV2(t, netip.MustParseAddrPort(client), netip.MustParseAddrPort("198.51.100.1:443"))
	if _, err := c.Write(h); err != nil {
		t.Fatal(err)
	}
	return c
}

// admitted checks that c was accepted: it is greeted.
func (s *limitServer) admitted(t *testing.T, c net.Conn) net.Conn {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(await))
	b := make([]byte, 2)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("not admitted: %v", err)
	}
	select {
	case sc := <-s.conns:
		return sc
	case <-time.After(await):
		t.Fatal("server side missing")
		return nil
	}
}

// refusedAs checks that c was closed for reason.
func (s *limitServer) refusedAs(t *testing.T, c net.Conn, reason string) {
	t.Helper()
	select {
	case got := <-s.refused:
		if got != reason {
			t.Fatalf("refused for %s; want %s", got, reason)
		}
	case <-time.After(await):
		t.Fatal("not refused")
	}
	closedByServer(t, c)
}

func TestLimitListenerPerIP(t *testing.T) {
	s := newLimitServer(t, 0, 2)
	a1 := s.admitted(t, s.connect(t, "203.0.113.7:1001"))
	s.admitted(t, s.connect(t, "203.0.113.7:1002"))
	s.refusedAs(t, s.connect(t, "203.0.113.7:1003"), netsec.ReasonMaxConnsPerIP)
	// Another client, behind the same load balancer, is not affected.
	s.admitted(t, s.connect(t, "203.0.113.8:1001"))
	// A closed connection frees its place.
	a1.Close()
	s.admitted(t, s.connect(t, "203.0.113.7:1004"))
	if n := s.ln.Open(); n != 3 {
		t.Fatalf("Open() = %d; want 3", n)
	}
	// IPv6 clients count by /64.
	s.admitted(t, s.connect(t, "[2001:db8:0:1::1]:1"))
	s.admitted(t, s.connect(t, "[2001:db8:0:1::2]:1"))
	s.refusedAs(t, s.connect(t, "[2001:db8:0:1::3]:1"), netsec.ReasonMaxConnsPerIP)
	s.admitted(t, s.connect(t, "[2001:db8:0:2::1]:1"))
}

func TestLimitListenerTotal(t *testing.T) {
	s := newLimitServer(t, 2, 0)
	first := s.admitted(t, s.connect(t, "203.0.113.7:1"))
	s.admitted(t, s.connect(t, "203.0.113.8:1"))
	s.refusedAs(t, s.connect(t, "203.0.113.9:1"), netsec.ReasonMaxConns)
	first.Close()
	s.admitted(t, s.connect(t, "203.0.113.9:2"))
}

package netsec_test

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// await bounds each wait; it only keeps a broken test from hanging.
const await = 10 * time.Second

// refusals collects what a listener refused.
type refusals chan error

func (r refusals) hook(_ net.Addr, err error) {
	select {
	case r <- err:
	default:
	}
}

func (r refusals) next(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r:
		return err
	case <-time.After(await):
		t.Fatal("no connection refused")
		return nil
	}
}

// proxyServer is a ProxyListener on 127.0.0.1:0 trusting 127.0.0.1 only;
// each accepted connection's remote address and first bytes are reported.
type proxyServer struct {
	ln       *netsec.ProxyListener
	refused  refusals
	accepted chan accepted
}

type accepted struct {
	remote, local string
	data          string
	err           error
}

func newProxyServer(t *testing.T, cfg netsec.ProxyConfig) *proxyServer {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Trusted == nil {
		cfg.Trusted = []string{"127.0.0.1"}
	}
	s := &proxyServer{refused: make(refusals, 16), accepted: make(chan accepted, 16)}
	s.ln, err = netsec.NewProxyListener(raw, cfg, "test.proxy_protocol", s.refused.hook)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.ln.Close() })
	go func() {
		for {
			c, err := s.ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetReadDeadline(time.Now().Add(await))
				b := make([]byte, 5)
				_, err := io.ReadFull(c, b)
				s.accepted <- accepted{remote: c.RemoteAddr().String(), local: c.LocalAddr().String(), data: string(b), err: err}
				_, _ = c.Write([]byte("ok"))
			}()
		}
	}()
	return s
}

// dial connects from the loopback address from (127.0.0.1 is trusted,
// 127.0.0.2 is not) and writes b.
func (s *proxyServer) dial(t *testing.T, from string, b []byte) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if len(b) > 0 {
		if _, err := c.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func (s *proxyServer) next(t *testing.T) accepted {
	t.Helper()
	select {
	case a := <-s.accepted:
		if a.err != nil {
			t.Fatalf("accepted connection: %v", a.err)
		}
		return a
	case <-time.After(await):
		t.Fatal("no connection accepted")
		return accepted{}
	}
}

// closedByServer reads c until the server closes it (a reset when it
// closed with our bytes unread).
func closedByServer(t *testing.T, c net.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(await))
	if n, err := io.Copy(io.Discard, c); err != nil && !errors.Is(err, syscall.ECONNRESET) || n != 0 {
		t.Fatalf("connection not closed without an answer: %d bytes, %v", n, err)
	}
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestProxyListener checks who may send a header and what the accepted
// connections look like.
func TestProxyListener(t *testing.T) {
	client := netip.MustParseAddrPort("203.0.113.7:50123")
	front := netip.MustParseAddrPort("198.51.100.1:443")
	client6 := netip.MustParseAddrPort("[2001:db8::7]:4000")

	t.Run("trusted peer: the client's address", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		tlv := netsectest.TLV{Type: 0x05, Value: []byte("id-1")}
		c := s.dial(t, "127.0.0.1", cat(netsectest.ProxyV2(t, client, front, tlv), []byte("hello")))
		a := s.next(t)
		if a.remote != client.String() || a.local != s.ln.Addr().String() || a.data != "hello" {
			t.Fatalf("accepted %+v; want from %s to the listener %s, data hello", a, client, s.ln.Addr())
		}
		_ = c.SetReadDeadline(time.Now().Add(await))
		if b, _ := io.ReadAll(c); string(b) != "ok" {
			t.Fatalf("answer %q", b)
		}
	})
	t.Run("trusted peer: IPv6 client", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		s.dial(t, "127.0.0.1", cat(netsectest.ProxyV2(t, client6, netip.MustParseAddrPort("[2001:db8::1]:443")), []byte("hello")))
		if a := s.next(t); a.remote != client6.String() {
			t.Fatalf("remote %s; want %s", a.remote, client6)
		}
	})
	t.Run("trusted peer: LOCAL keeps the peer's address", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		c := s.dial(t, "127.0.0.1", cat(netsectest.ProxyV2Local(t), []byte("check")))
		if a := s.next(t); a.remote != c.LocalAddr().String() || a.data != "check" {
			t.Fatalf("accepted %+v; want the load balancer's own %s", a, c.LocalAddr())
		}
	})
	t.Run("trusted peer without a header: refused", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		c := s.dial(t, "127.0.0.1", []byte("GET / HTTP/1.1\r\n\r\n"))
		if err := s.refused.next(t); !errors.Is(err, netsec.ErrProxyHeader) {
			t.Fatalf("refused with %v", err)
		}
		closedByServer(t, c)
	})
	t.Run("trusted peer without a header, optional: its own address", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{Optional: true})
		c := s.dial(t, "127.0.0.1", []byte("hello"))
		if a := s.next(t); a.remote != c.LocalAddr().String() || a.data != "hello" {
			t.Fatalf("accepted %+v; want from %s, data hello", a, c.LocalAddr())
		}
	})
	t.Run("trusted peer, v1 header: refused", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{Optional: true})
		c := s.dial(t, "127.0.0.1", netsectest.ProxyV1(t, client, front))
		if err := s.refused.next(t); !errors.Is(err, netsec.ErrProxyHeader) || !strings.Contains(err.Error(), "version 1") {
			t.Fatalf("refused with %v", err)
		}
		closedByServer(t, c)
	})
	t.Run("trusted peer, malformed header: refused", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		h := netsectest.ProxyV2(t, client, front)
		h[13] = 0x12 // UDP
		c := s.dial(t, "127.0.0.1", h)
		if err := s.refused.next(t); !errors.Is(err, netsec.ErrProxyHeader) {
			t.Fatalf("refused with %v", err)
		}
		closedByServer(t, c)
	})
	t.Run("untrusted peer with a header: refused", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		c := s.dial(t, "127.0.0.2", cat(netsectest.ProxyV2(t, client, front), []byte("hello")))
		if err := s.refused.next(t); !errors.Is(err, netsec.ErrProxyUntrusted) {
			t.Fatalf("refused with %v", err)
		}
		closedByServer(t, c)
	})
	t.Run("untrusted peer with a v1 header: refused", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		c := s.dial(t, "127.0.0.2", netsectest.ProxyV1(t, client, front))
		if err := s.refused.next(t); !errors.Is(err, netsec.ErrProxyUntrusted) {
			t.Fatalf("refused with %v", err)
		}
		closedByServer(t, c)
	})
	t.Run("untrusted peer without a header: its own address", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{})
		c := s.dial(t, "127.0.0.2", []byte("\r\nab\n")) // starts like the signature
		if a := s.next(t); a.remote != c.LocalAddr().String() || a.data != "\r\nab\n" {
			t.Fatalf("accepted %+v; want from %s, data intact", a, c.LocalAddr())
		}
	})
	t.Run("silent trusted peer: refused after the timeout, others served meanwhile", func(t *testing.T) {
		s := newProxyServer(t, netsec.ProxyConfig{HeaderTimeout: 200 * time.Millisecond})
		silent := s.dial(t, "127.0.0.1", []byte("\r\n\r\n")) // part of a signature, then nothing
		s.dial(t, "127.0.0.1", cat(netsectest.ProxyV2(t, client, front), []byte("hello")))
		if a := s.next(t); a.remote != client.String() {
			t.Fatalf("remote %s; want %s", a.remote, client)
		}
		if err := s.refused.next(t); !errors.Is(err, netsec.ErrProxyHeader) || !strings.Contains(err.Error(), "timeout") {
			t.Fatalf("refused with %v", err)
		}
		closedByServer(t, silent)
	})
}

// TestProxyListenerClose checks that Close ends Accept and closes the
// connections whose header is still awaited.
func TestProxyListenerClose(t *testing.T) {
	s := newProxyServer(t, netsec.ProxyConfig{})
	c := s.dial(t, "127.0.0.1", nil)
	// Wait until the listener holds the connection: the next one, with a
	// header, is delivered after it was accepted.
	s.dial(t, "127.0.0.1", cat(netsectest.ProxyV2(t, netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2")), []byte("hello")))
	s.next(t)
	if err := s.ln.Close(); err != nil {
		t.Fatal(err)
	}
	closedByServer(t, c)
	if _, err := s.ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept after Close: %v", err)
	}
}

func TestProxyConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		cfg  netsec.ProxyConfig
		want string
	}{
		{netsec.ProxyConfig{}, "x.trusted: name the load balancers"},
		{netsec.ProxyConfig{Trusted: []string{"10.0.0.0/8", "lb-1"}}, `x.trusted[1] "lb-1"`},
		{netsec.ProxyConfig{Trusted: []string{"10.0.0.1"}, HeaderTimeout: -1}, "negative"},
	} {
		if err := tc.cfg.Validate("x"); !errors.Is(err, netsec.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v; want ErrConfig containing %q", tc.cfg, err, tc.want)
		}
	}
}

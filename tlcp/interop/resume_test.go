package interop

import (
	"context"
	"io"
	"testing"

	"github.com/tjfoc/gmsm/gmtls"

	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// TestResumptionFallsBack: gmtls resumes no GM session (its server never
// finds one, its client offers none), so with session caches on our side
// every connection is a full handshake that succeeds, in both
// directions. Resumption itself has no independent peer here.
func TestResumptionFallsBack(t *testing.T) {
	ca := tlcptest.NewCA(t, "interop CA")
	server := ca.Issue(t, "127.0.0.1")
	// Our client, their server.
	theirs := &gmtls.Config{GMSupport: gmtls.NewGMSupport(), Certificates: []gmtls.Certificate{theirCert(server.Sign), theirCert(server.Enc)}}
	ln := listen(t)
	go func() {
		l := gmtls.NewListener(ln, theirs)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { io.Copy(c, c); c.Close() }()
		}
	}()
	d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: ca.Pool(), SessionCache: tlcp.NewSessionCache(0, 0)}}
	for i := range 2 {
		c, err := d.DialContext(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if c.(*tlcp.Conn).ConnectionState().DidResume {
			t.Fatalf("dial %d: gmtls resumed", i)
		}
		c.Close()
	}
	// Their client, our server.
	ln2 := listen(t)
	cfg := &tlcp.Config{SignCertificate: server.Sign, EncCertificate: server.Enc, SessionCache: tlcp.NewSessionCache(0, 0)}
	go func() {
		l := tlcp.NewListener(ln2, cfg)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				io.Copy(c, c)
				c.Close()
			}()
		}
	}()
	tcfg := &gmtls.Config{GMSupport: gmtls.NewGMSupport(), RootCAs: theirPool(t, ca), ServerName: "127.0.0.1", ClientSessionCache: gmtls.NewLRUClientSessionCache(4)}
	for range 2 {
		c, err := gmtls.Dial("tcp", ln2.Addr().String(), tcfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
		if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
			t.Fatal(err)
		}
		c.Close()
	}
}

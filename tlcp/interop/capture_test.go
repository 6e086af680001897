package interop

import (
	"bytes"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/tjfoc/gmsm/gmtls"

	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// recordingConn records what a connection reads.
type recordingConn struct {
	net.Conn
	mu   sync.Mutex
	read bytes.Buffer
}

func (c *recordingConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.mu.Lock()
	c.read.Write(b[:n])
	c.mu.Unlock()
	return n, err
}

func (c *recordingConn) bytes() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.read.Bytes()...)
}

// TestCaptureFrames writes what gmtls sends, as a client and as a
// server, to ../testdata/peer-*.bin: the seeds of tlcp's fuzz targets.
// It runs only with TLCP_CAPTURE=1.
func TestCaptureFrames(t *testing.T) {
	if os.Getenv("TLCP_CAPTURE") != "1" {
		t.Skip("set TLCP_CAPTURE=1 to rewrite ../testdata/peer-*.bin")
	}
	ca := tlcptest.NewCA(t, "capture CA")
	server, client := ca.Issue(t, "127.0.0.1"), ca.Issue(t, "client.test")
	for _, clientAuth := range []bool{false, true} {
		suffix := "ecc"
		if clientAuth {
			suffix = "ecc-client-auth"
		}
		// gmtls's client frames, as our server reads them.
		ln := listen(t)
		got := make(chan []byte, 1)
		go func() {
			raw, err := ln.Accept()
			if err != nil {
				got <- nil
				return
			}
			rc := &recordingConn{Conn: raw}
			cfg := &tlcp.Config{SignCertificate: server.Sign, EncCertificate: server.Enc}
			if clientAuth {
				cfg.ClientAuth, cfg.ClientCAs = tlcp.RequireAndVerifyClientCert, ca.Pool()
			}
			c := tlcp.Server(rc, cfg)
			io.Copy(c, c)
			c.Close()
			got <- rc.bytes()
		}()
		theirs := &gmtls.Config{GMSupport: gmtls.NewGMSupport(), RootCAs: theirPool(t, ca), ServerName: "127.0.0.1"}
		if clientAuth {
			theirs.Certificates = []gmtls.Certificate{theirCert(client.Sign), theirCert(client.Enc)}
		}
		tc, err := gmtls.Dial("tcp", ln.Addr().String(), theirs)
		if err != nil {
			t.Fatal(err)
		}
		tc.Write([]byte("hello"))
		io.ReadFull(tc, make([]byte, 5))
		tc.Close()
		write(t, "peer-client-"+suffix+".bin", <-got)

		// gmtls's server frames, as our client reads them.
		ln2 := listen(t)
		srv := &gmtls.Config{GMSupport: gmtls.NewGMSupport(), Certificates: []gmtls.Certificate{theirCert(server.Sign), theirCert(server.Enc)}}
		if clientAuth {
			srv.ClientAuth, srv.ClientCAs = gmtls.RequireAndVerifyClientCert, theirPool(t, ca)
		}
		go func() {
			c, err := gmtls.NewListener(ln2, srv).Accept()
			if err != nil {
				return
			}
			io.Copy(c, c)
			c.Close()
		}()
		raw, err := net.Dial("tcp", ln2.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		rc := &recordingConn{Conn: raw}
		ours := &tlcp.Config{RootCAs: ca.Pool()}
		if clientAuth {
			ours.SignCertificate, ours.EncCertificate = client.Sign, client.Enc
		}
		c := tlcp.Client(rc, ours)
		if _, err := c.Write([]byte("hello")); err != nil {
			t.Fatal(err)
		}
		io.ReadFull(c, make([]byte, 5))
		c.Close()
		write(t, "peer-server-"+suffix+".bin", rc.bytes())
	}
}

func write(t *testing.T, name string, b []byte) {
	if len(b) == 0 {
		t.Fatalf("%s: nothing captured", name)
	}
	if err := os.WriteFile(filepath.Join("..", "testdata", name), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

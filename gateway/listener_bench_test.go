package gateway

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// BenchmarkTLSHandshake measures TLS 1.3 handshakes per second on the
// public listener: the Server's own listener stack (connection caps, then
// TLS with its netsec configuration; ECDSA P-256 certificate, Go's default
// key exchange X25519MLKEM768) on 127.0.0.1, each iteration one TCP
// connection, one handshake and one byte read (which takes the session
// ticket). "full" handshakes from scratch; "resumed" resumes from a
// session ticket (PSK with (EC)DHE: the key exchange is still made, the
// certificate is neither signed nor verified); "full-x25519" is a full
// handshake by a client that offers X25519 alone, without the
// post-quantum hybrid. Server and client share the machine's cores.
//
//	go test -run '^$' -bench TLSHandshake -benchmem ./gateway/
func BenchmarkTLSHandshake(b *testing.B) {
	pki := netsectest.NewPKI(b, "bench CA")
	pair := pki.Server("server")
	srv, err := New(Config{MaxConnectionsPerIP: 1 << 20, MaxConnections: 1 << 20,
		TLS: &netsec.ServerTLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile}},
		Deps{Market: newTestBooks(b, "600519.SH"), PublishedDepth: 20, Registry: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ln, err := srv.listener(raw)
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				if _, err := c.Write([]byte{1}); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c)
			}()
		}
	}()
	addr := raw.Addr().String()
	for _, bc := range []struct {
		name   string
		resume bool
		curves []tls.CurveID // the client's key exchanges; nil: Go's default
	}{{name: "full"}, {name: "resumed", resume: true}, {name: "full-x25519", curves: []tls.CurveID{tls.X25519}}} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := pki.ClientConfig(0, 0)
			cfg.NextProtos = []string{"http/1.1"}
			cfg.CurvePreferences = bc.curves
			if bc.resume {
				cfg.ClientSessionCache = tls.NewLRUClientSessionCache(1)
				handshake(b, addr, cfg) // takes the first ticket
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if resumed := handshake(b, addr, cfg); resumed != bc.resume {
					b.Fatalf("resumed %v; want %v", resumed, bc.resume)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// handshake connects, handshakes, reads the server's byte and closes; it
// reports whether the session was resumed.
func handshake(b *testing.B, addr string, cfg *tls.Config) bool {
	c, err := tls.Dial("tcp", addr, cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if _, err := io.ReadFull(c, make([]byte, 1)); err != nil {
		b.Fatal(err)
	}
	st := c.ConnectionState()
	if st.Version != tls.VersionTLS13 {
		b.Fatalf("version %x", st.Version)
	}
	return st.DidResume
}

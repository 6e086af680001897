package tlcp_test

import (
	"crypto/tls"
	"io"
	"net"
	"testing"

	"sgw/netsec/netsectest"
	"sgw/tlcp"
)

// The benchmarks run both ends in this process over net.Pipe: a
// handshake's time is the client's and the server's together, and
// throughput is one direction, the writer sealing and the reader
// opening. The TLS 1.3 variants measure crypto/tls (ECDSA P-256, X25519,
// AES-128-GCM) on the same machine for comparison.

var benchSuites = []uint16{tlcp.ECC_SM4_GCM_SM3, tlcp.ECC_SM4_CBC_SM3, tlcp.ECDHE_SM4_GCM_SM3, tlcp.ECDHE_SM4_CBC_SM3}

func isECDHE(id uint16) bool { return id == tlcp.ECDHE_SM4_GCM_SM3 || id == tlcp.ECDHE_SM4_CBC_SM3 }

// handshakePair runs one handshake between client and server configs.
func handshakePair(b *testing.B, client, server func(net.Conn) interface{ Handshake() error }) {
	cc, sc := net.Pipe()
	defer cc.Close()
	defer sc.Close()
	errc := make(chan error, 1)
	go func() { errc <- server(sc).Handshake() }()
	if err := client(cc).Handshake(); err != nil {
		b.Fatal(err)
	}
	if err := <-errc; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkHandshake is full and resumed handshakes per suite (ECDHE with
// the client certificates it needs), and TLS 1.3's.
func BenchmarkHandshake(b *testing.B) {
	f := newFixture(b)
	for _, suite := range benchSuites {
		for _, resumed := range []bool{false, true} {
			name := tlcp.CipherSuiteName(suite) + "/full"
			if resumed {
				name = tlcp.CipherSuiteName(suite) + "/resumed"
			}
			b.Run(name, func(b *testing.B) {
				scfg := f.serverConfig(isECDHE(suite))
				ccfg := f.clientConfig(suite, isECDHE(suite))
				if resumed {
					scfg.SessionCache = tlcp.NewSessionCache(0, 0)
					ccfg.SessionCache = tlcp.NewSessionCache(0, 0)
				}
				client := func(c net.Conn) interface{ Handshake() error } { return tlcp.Client(c, ccfg) }
				server := func(c net.Conn) interface{ Handshake() error } { return tlcp.Server(c, scfg) }
				handshakePair(b, client, server) // primes the caches
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					handshakePair(b, client, server)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
			})
		}
	}
	pki := netsectest.NewPKI(b, "bench CA")
	cert := pki.Server("localhost").Certificate
	for _, resumed := range []bool{false, true} {
		name := "TLS13/full"
		if resumed {
			name = "TLS13/resumed"
		}
		b.Run(name, func(b *testing.B) {
			scfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}
			ccfg := pki.ClientConfig(tls.VersionTLS13, tls.VersionTLS13)
			if resumed {
				ccfg.ClientSessionCache = tls.NewLRUClientSessionCache(0)
			} else {
				scfg.SessionTicketsDisabled = true
			}
			client := func(c net.Conn) interface{ Handshake() error } { return tls.Client(c, ccfg) }
			server := func(c net.Conn) interface{ Handshake() error } { return tls.Server(c, scfg) }
			handshakePair(b, client, server)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				handshakePair(b, client, server)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
		})
	}
}

// throughput writes 64 KiB chunks from client to server after a handshake.
func throughput(b *testing.B, client, server net.Conn) {
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, server)
		done <- err
	}()
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := client.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	client.Close()
	<-done
}

// BenchmarkThroughput is bulk transfer per suite, and TLS 1.3's.
func BenchmarkThroughput(b *testing.B) {
	f := newFixture(b)
	for _, suite := range benchSuites {
		b.Run(tlcp.CipherSuiteName(suite), func(b *testing.B) {
			cc, sc := net.Pipe()
			defer sc.Close()
			server := tlcp.Server(sc, f.serverConfig(isECDHE(suite)))
			go server.Handshake()
			client := tlcp.Client(cc, f.clientConfig(suite, isECDHE(suite)))
			if err := client.Handshake(); err != nil {
				b.Fatal(err)
			}
			throughput(b, client, server)
		})
	}
	b.Run("TLS13_AES_128_GCM", func(b *testing.B) {
		pki := netsectest.NewPKI(b, "bench CA")
		cert := pki.Server("localhost").Certificate
		cc, sc := net.Pipe()
		defer sc.Close()
		server := tls.Server(sc, &tls.Config{Certificates: []tls.Certificate{cert}})
		go server.Handshake()
		client := tls.Client(cc, pki.ClientConfig(tls.VersionTLS13, tls.VersionTLS13))
		if err := client.Handshake(); err != nil {
			b.Fatal(err)
		}
		throughput(b, client, server)
	})
}

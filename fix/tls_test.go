package fix

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// tlsFront is a venue's TLS terminator on 127.0.0.1:0 in front of target:
// it reports the state of each handshake it completes.
type tlsFront struct {
	addr  string
	state chan tls.ConnectionState
}

func newTLSFront(t *testing.T, target string, cfg *tls.Config) *tlsFront {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(func() { cancel(); ln.Close() })
	f := &tlsFront{addr: ln.Addr().String(), state: make(chan tls.ConnectionState, 16)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				if err := tc.HandshakeContext(ctx); err != nil {
					return
				}
				select {
				case f.state <- tc.ConnectionState():
				default:
				}
				var d net.Dialer
				back, err := d.DialContext(ctx, "tcp", target)
				if err != nil {
					return
				}
				defer back.Close()
				go func() { _, _ = io.Copy(back, c); back.Close() }()
				_, _ = io.Copy(c, back)
			}()
		}
	}()
	return f
}

// TestUpstreamOverTLS runs the session over TLS lines: carrierA's
// terminator presents a certificate of a CA the line does not trust, so
// the session fails over to carrierB, whose terminator asks for the
// gateway's client certificate; the session logs on over TLS 1.3 and
// orders are acknowledged.
func TestUpstreamOverTLS(t *testing.T) {
	gw, up := newCompIDs()
	acc := newTestAcceptor(t, gw, up, acceptorOpts{paced: true})
	venue := netsectest.NewPKI(t, "venue CA")
	rogue := netsectest.NewPKI(t, "rogue CA").Server("rogue")
	good := venue.Server("venue")
	client := venue.Client("gateway", "gw.broker.example")
	rogueFront := newTLSFront(t, acc.addr(), &tls.Config{Certificates: []tls.Certificate{rogue.Certificate}})
	srv, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: good.CertFile, KeyFile: good.KeyFile, ClientCAFile: venue.CAFile}, "venue.tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	goodFront := newTLSFront(t, acc.addr(), srv.Config())
	lineTLS := &netsec.ClientTLSConfig{CAFile: venue.CAFile, ServerName: "localhost", CertFile: client.CertFile, KeyFile: client.KeyFile}
	cfg := UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up, StoreDir: t.TempDir(),
		Lines: []LineConfig{{Name: "carrierA", Addr: rogueFront.addr, TLS: lineTLS}, {Name: "carrierB", Addr: goodFront.addr, TLS: lineTLS}}}
	u, rec := runUpstream(t, cfg)
	if line := rec.waitUp(t, 20*time.Second); line != "carrierB" {
		t.Fatalf("logged on over %q; want carrierB (carrierA's certificate is not trusted)", line)
	}
	select {
	case st := <-goodFront.state:
		if st.Version != tls.VersionTLS13 || len(st.PeerCertificates) == 0 || st.PeerCertificates[0].Subject.CommonName != "gw.broker.example" {
			t.Fatalf("carrierB handshake: version %x, client certificates %d; want TLS 1.3 with the gateway's", st.Version, len(st.PeerCertificates))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no handshake on carrierB")
	}
	select {
	case st := <-rogueFront.state:
		t.Fatalf("carrierA completed a handshake (%x) with an untrusted certificate", st.Version)
	default:
	}
	o := orderN(1)
	if err := u.Send(o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the order acknowledged over TLS", func() bool { return rec.ackCount(o.ClOrdID) == 1 })
}

// TestUpstreamOverTLCP runs the session over a TLCP line, the venue's
// terminator asking for the gateway's SM2 pair (so that an ECDHE suite
// can be chosen): the session logs on and an order is acknowledged.
func TestUpstreamOverTLCP(t *testing.T) {
	gw, up := newCompIDs()
	acc := newTestAcceptor(t, gw, up, acceptorOpts{paced: true})
	ca := tlcptest.NewCA(t, "venue SM2 CA")
	dir := t.TempDir()
	venue := ca.Issue(t, "localhost")
	clientFiles := ca.Issue(t, "gw.broker.example").WriteFiles(t, dir, "gw")
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	suites := make(chan uint16, 16)
	front := &tlcp.Config{SignCertificate: venue.Sign, EncCertificate: venue.Enc,
		ClientAuth: tlcp.RequireAndVerifyClientCert, ClientCAs: ca.Pool()}
	go func() {
		for {
			raw, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				c := tlcp.Server(raw, front)
				defer c.Close()
				if err := c.Handshake(); err != nil {
					return
				}
				select {
				case suites <- c.ConnectionState().CipherSuite:
				default:
				}
				back, err := net.Dial("tcp", acc.addr())
				if err != nil {
					return
				}
				defer back.Close()
				go func() { _, _ = io.Copy(back, c); back.Close() }()
				_, _ = io.Copy(c, back)
			}()
		}
	}()
	line := &netsec.ClientTLCPConfig{CAFile: caFile, ServerName: "localhost",
		SignCertFile: clientFiles.SignCert, SignKeyFile: clientFiles.SignKey, EncCertFile: clientFiles.EncCert, EncKeyFile: clientFiles.EncKey}
	cfg := UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up, StoreDir: t.TempDir(),
		Lines: []LineConfig{{Name: "carrierA", Addr: ln.Addr().String(), TLCP: line}}}
	u, rec := runUpstream(t, cfg)
	if line := rec.waitUp(t, 20*time.Second); line != "carrierA" {
		t.Fatalf("logged on over %q", line)
	}
	if s := <-suites; s != tlcp.ECC_SM4_GCM_SM3 {
		t.Fatalf("suite %s; want the default first, ECC_SM4_GCM_SM3", tlcp.CipherSuiteName(s))
	}
	o := orderN(1)
	if err := u.Send(o); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the order acknowledged over TLCP", func() bool { return rec.ackCount(o.ClOrdID) == 1 })
}

// runUpstream runs an Upstream on cfg, with a recorder, until the test
// ends (then checks that Run returned cleanly).
func runUpstream(t *testing.T, cfg UpstreamConfig) (*Upstream, *recorder) {
	t.Helper()
	rec := newRecorder()
	u, err := NewUpstream(cfg, rec, prometheus.NewRegistry(), testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return u, rec
}

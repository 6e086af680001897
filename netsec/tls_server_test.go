package netsec_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"sgw/netsec"
	"sgw/netsec/netsectest"
)

// serveEcho serves TLS with cfg on 127.0.0.1:0, echoing what each
// connection sends, until the test ends.
func serveEcho(t *testing.T, cfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	tln := tls.NewListener(ln, cfg)
	go func() {
		for {
			c, err := tln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

// echo writes msg on c and reads it back.
func echo(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatalf("write: %v", err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, got, err)
	}
}

func newServerTLS(t *testing.T, cfg netsec.ServerTLSConfig) *netsec.ServerTLS {
	t.Helper()
	s, err := netsec.NewServerTLS(cfg, "test.tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestMinVersion checks the versions and suites a listener accepts: TLS
// 1.3 by default, 1.2 only when configured and then with AEAD ECDHE
// suites only, never 1.1 or 1.0.
func TestMinVersion(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	cbc := []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}
	tests := []struct {
		name       string
		min        string
		clientMin  uint16
		clientMax  uint16
		suites     []uint16
		wantErr    string // "" = handshake succeeds
		wantVerion uint16
	}{
		{name: "default: 1.3", clientMax: tls.VersionTLS13, wantVerion: tls.VersionTLS13},
		{name: "default: 1.2 refused", clientMax: tls.VersionTLS12, wantErr: "protocol version"},
		{name: "default: 1.1 refused", clientMin: tls.VersionTLS10, clientMax: tls.VersionTLS11, wantErr: "protocol version"},
		{name: "1.3: 1.2 refused", min: "1.3", clientMax: tls.VersionTLS12, wantErr: "protocol version"},
		{name: "1.2: 1.3 preferred", min: "1.2", wantVerion: tls.VersionTLS13},
		{name: "1.2: 1.2 with AEAD", min: "1.2", clientMax: tls.VersionTLS12, wantVerion: tls.VersionTLS12},
		{name: "1.2: CBC suites refused", min: "1.2", clientMax: tls.VersionTLS12, suites: cbc, wantErr: "handshake failure"},
		{name: "1.2: 1.1 refused", min: "1.2", clientMin: tls.VersionTLS10, clientMax: tls.VersionTLS11, wantErr: "protocol version"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: tc.min})
			addr := serveEcho(t, s.Config())
			cc := pki.ClientConfig(tc.clientMin, tc.clientMax)
			cc.CipherSuites = tc.suites
			c, err := tls.Dial("tcp", addr, cc)
			if err == nil {
				defer c.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("handshake: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("handshake error %v; want one containing %q", err, tc.wantErr)
			case tc.wantErr == "":
				if v := c.ConnectionState().Version; v != tc.wantVerion {
					t.Fatalf("version %s; want %s", tls.VersionName(v), tls.VersionName(tc.wantVerion))
				}
				echo(t, c, "hello")
			}
		})
	}
}

// TestConfigErrors checks that old versions and incomplete key pairs are
// configuration errors naming the key.
func TestConfigErrors(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	other := pki.Server("other")
	tests := []struct {
		name string
		cfg  netsec.ServerTLSConfig
		want string
	}{
		{name: "TLS 1.1", cfg: netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: "1.1"}, want: "test.tls.min_version \"1.1\": TLS 1.0, 1.1 and SSL are refused"},
		{name: "TLS 1.0", cfg: netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: "1.0"}, want: "are refused"},
		{name: "unknown version", cfg: netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, MinVersion: "1.4"}, want: `want "1.3" (default) or "1.2"`},
		{name: "no key", cfg: netsec.ServerTLSConfig{CertFile: srv.CertFile}, want: "cert_file and key_file are required"},
		{name: "key of another certificate", cfg: netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: other.KeyFile}, want: "private key does not match"},
		{name: "client CA file missing", cfg: netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: pki.Dir + "/none.pem"}, want: "test.tls.client_ca_file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := netsec.NewServerTLS(tc.cfg, "test.tls", nil)
			if !errors.Is(err, netsec.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewServerTLS: %v; want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestReloadKeepsConnections replaces the certificate files under a
// served listener: the connection open before keeps working, and new
// handshakes get the new certificate.
func TestReloadKeepsConnections(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	first := pki.Server("server")
	s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: first.CertFile, KeyFile: first.KeyFile})
	addr := serveEcho(t, s.Config())
	served := func(c *tls.Conn) []byte { return c.ConnectionState().PeerCertificates[0].Raw }

	old, err := tls.Dial("tcp", addr, pki.ClientConfig(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer old.Close()
	echo(t, old, "before")
	if !bytes.Equal(served(old), first.Certificate.Leaf.Raw) {
		t.Fatal("the first connection did not get the first certificate")
	}

	second, err := pki.CA.Issue(netsec.LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	pki.Write(netsectest.Pair{Issued: second}, first.CertFile, first.KeyFile)
	if err := s.Reload(); err != nil {
		t.Fatal(err)
	}
	echo(t, old, "after the reload")

	fresh, err := tls.Dial("tcp", addr, pki.ClientConfig(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	if !bytes.Equal(served(fresh), second.Certificate.Leaf.Raw) {
		t.Fatal("a new handshake after the reload did not get the new certificate")
	}
	echo(t, fresh, "new")
	echo(t, old, "still")
}

// TestReloadFailureKeepsCertificate checks that a broken pair is refused
// and the certificate in service stays.
func TestReloadFailureKeepsCertificate(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	first := pki.Server("server")
	s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: first.CertFile, KeyFile: first.KeyFile})
	other := pki.Server("other")
	if err := os.WriteFile(first.KeyFile, other.KeyPEM, 0o600); err != nil { // half-replaced pair
		t.Fatal(err)
	}
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of a mismatched pair succeeded")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, first.Certificate.Leaf.Raw) {
		t.Fatal("a failed reload replaced the certificate")
	}
	addr := serveEcho(t, s.Config())
	c, err := tls.Dial("tcp", addr, pki.ClientConfig(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c, "served")
}

// TestMutualTLS checks that a listener with a client CA refuses clients
// without a certificate or with one of another CA.
func TestMutualTLS(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	good := pki.Client("client", "broker-a")
	stranger := netsectest.NewPKI(t, "another CA").Client("stranger", "broker-a")
	s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: pki.CAFile})
	if !s.MutualTLS() {
		t.Fatal("MutualTLS() = false")
	}
	addr := serveEcho(t, s.Config())
	tests := []struct {
		name    string
		certs   []tls.Certificate
		wantErr string
	}{
		{name: "client certificate", certs: []tls.Certificate{good.Certificate}},
		{name: "no certificate", wantErr: "certificate required"},
		{name: "certificate of another CA", certs: []tls.Certificate{stranger.Certificate}, wantErr: "unknown certificate authority"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cc := pki.ClientConfig(0, 0)
			// Offered whatever CAs the server names (Go's client would
			// otherwise keep a certificate of another CA to itself).
			cc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if len(tc.certs) == 0 {
					return &tls.Certificate{}, nil
				}
				return &tc.certs[0], nil
			}
			c, err := tls.Dial("tcp", addr, cc)
			if err == nil {
				defer c.Close()
				// In TLS 1.3 the server checks the client's certificate
				// after the client has finished: its verdict comes with
				// the first read.
				_ = c.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err = c.Write([]byte("x")); err == nil {
					_, err = c.Read(make([]byte, 1))
				}
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("error %v; want one containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestClientTLS checks the client configuration: it trusts the CA named,
// offers the client certificate and keeps TLS 1.3 as its minimum.
func TestClientTLS(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	client := pki.Client("client", "gateway")
	s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: pki.CAFile})
	addr := serveEcho(t, s.Config())
	cc, err := netsec.ClientTLS(netsec.ClientTLSConfig{CAFile: pki.CAFile, CertFile: client.CertFile, KeyFile: client.KeyFile}, addr, "line.tls")
	if err != nil {
		t.Fatal(err)
	}
	if cc.MinVersion != tls.VersionTLS13 || cc.ServerName != "127.0.0.1" {
		t.Fatalf("MinVersion %x ServerName %q; want TLS 1.3 and the address's host", cc.MinVersion, cc.ServerName)
	}
	cc.ServerName = "localhost"
	c, err := tls.Dial("tcp", addr, cc)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	echo(t, c, "mutual")

	for _, bad := range []struct {
		cfg  netsec.ClientTLSConfig
		want string
	}{
		{netsec.ClientTLSConfig{CertFile: client.CertFile}, "cert_file and key_file go together"},
		{netsec.ClientTLSConfig{MinVersion: "1.1"}, "are refused"},
		{netsec.ClientTLSConfig{CAPEM: "not a certificate"}, "no PEM certificate"},
	} {
		if _, err := netsec.ClientTLS(bad.cfg, addr, "line.tls"); !errors.Is(err, netsec.ErrConfig) || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("ClientTLS(%+v) = %v; want ErrConfig containing %q", bad.cfg, err, bad.want)
		}
	}
}

// TestWatchStops checks that Watch returns when its context ends.
func TestWatchStops(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	s := newServerTLS(t, netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ReloadInterval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Watch(ctx); close(done) }()
	cancel()
	<-done
}

package netsec_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// bothProtocols is a ServerTLS with TLS and TLCP pairs in files.
type bothProtocols struct {
	pki    *netsectest.PKI
	ca     *tlcptest.CA
	files  tlcptest.Files
	server *netsec.ServerTLS
}

func newBothProtocols(t *testing.T, clientCA bool) *bothProtocols {
	b := &bothProtocols{pki: netsectest.NewPKI(t, "tls CA"), ca: tlcptest.NewCA(t, "tlcp CA")}
	pair := b.pki.Server("gateway")
	b.pki.Write(pair, b.pki.Dir+"/gw.pem", b.pki.Dir+"/gw.key")
	b.files = b.ca.Issue(t, "localhost").WriteFiles(t, b.pki.Dir, "gw-tlcp")
	tc := &netsec.ServerTLCPConfig{
		SignCertFile: b.files.SignCert, SignKeyFile: b.files.SignKey,
		EncCertFile: b.files.EncCert, EncKeyFile: b.files.EncKey,
	}
	if clientCA {
		tc.ClientCAFile = b.pki.Dir + "/tlcp-ca.pem"
		if err := os.WriteFile(tc.ClientCAFile, b.ca.CertPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	b.server = newServerTLS(t, netsec.ServerTLSConfig{CertFile: b.pki.Dir + "/gw.pem", KeyFile: b.pki.Dir + "/gw.key", TLCP: tc})
	return b
}

// serve runs an HTTP server on a ProtocolListener on 127.0.0.1:0; refused
// connections go to the returned channel.
func (b *bothProtocols) serve(t *testing.T, timeout time.Duration) (string, <-chan error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := make(chan error, 8)
	pl := netsec.NewProtocolListener(ln, b.server.Config(), b.server.TLCPConfig(), timeout, func(_ net.Addr, err error) { refused <- err })
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto := "tlcp"
		if r.TLS != nil {
			proto = "tls"
		}
		io.WriteString(w, proto)
	})}
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), refused
}

func (b *bothProtocols) tlcpClient(t *testing.T) *http.Client {
	d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: b.ca.Pool(), ServerName: "localhost"}}
	tr := &http.Transport{DialTLSContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func (b *bothProtocols) tlsClient(t *testing.T) *http.Client {
	tr := &http.Transport{TLSClientConfig: b.pki.ClientConfig(tls.VersionTLS13, tls.VersionTLS13)}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return string(body)
}

// TestProtocolListenerServesBoth: TLS and TLCP clients on one port, each
// handed to its stack.
func TestProtocolListenerServesBoth(t *testing.T) {
	b := newBothProtocols(t, false)
	addr, _ := b.serve(t, 0)
	for range 2 {
		if got := get(t, b.tlsClient(t), "https://"+addr+"/"); got != "tls" {
			t.Fatalf("TLS client served %q", got)
		}
		if got := get(t, b.tlcpClient(t), "https://"+addr+"/"); got != "tlcp" {
			t.Fatalf("TLCP client served %q", got)
		}
	}
}

// TestProtocolListenerRefuses: plain HTTP is closed and reported, and a
// silent client holds neither Accept nor other clients; it is refused at
// the timeout.
func TestProtocolListenerRefuses(t *testing.T) {
	b := newBothProtocols(t, false)
	addr, refused := b.serve(t, 200*time.Millisecond)

	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if err := <-refused; !errors.Is(err, netsec.ErrProtocol) {
		t.Fatalf("plain HTTP: %v", err)
	}
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("plain HTTP connection not closed")
	}

	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	if got := get(t, b.tlsClient(t), "https://"+addr+"/"); got != "tls" {
		t.Fatalf("TLS client behind a silent one served %q", got)
	}
	if got := get(t, b.tlcpClient(t), "https://"+addr+"/"); got != "tlcp" {
		t.Fatalf("TLCP client behind a silent one served %q", got)
	}
	if err := <-refused; !errors.Is(err, netsec.ErrProtocol) {
		t.Fatalf("silent client: %v", err)
	}
}

// TestTLCPReload: a renewed TLCP pair serves new handshakes after Reload;
// a broken one leaves the pair in service.
func TestTLCPReload(t *testing.T) {
	b := newBothProtocols(t, false)
	addr, _ := b.serve(t, 0)
	serial := func() string {
		d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: b.ca.Pool(), ServerName: "localhost"}}
		c, err := d.DialContext(context.Background(), "tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.(*tlcp.Conn).ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	first := serial()
	b.ca.Issue(t, "localhost").WriteFiles(t, b.pki.Dir, "gw-tlcp")
	if err := b.server.Reload(); err != nil {
		t.Fatal(err)
	}
	second := serial()
	if second == first {
		t.Fatal("the renewed TLCP signature certificate is not served")
	}
	if err := os.WriteFile(b.files.EncKey, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.server.Reload(); err == nil {
		t.Fatal("a broken encryption key reloaded")
	}
	if serial() != second {
		t.Fatal("a failed reload changed the certificate in service")
	}
}

// TestTLCPConfigErrors: the TLCP section needs its four files.
func TestTLCPConfigErrors(t *testing.T) {
	cfg := netsec.ServerTLSConfig{CertFile: "a.pem", KeyFile: "a.key", TLCP: &netsec.ServerTLCPConfig{SignCertFile: "s.pem"}}
	if err := cfg.Validate("gateway.tls"); !errors.Is(err, netsec.ErrConfig) {
		t.Fatalf("Validate: %v", err)
	}
}

// TestTLCPClientAuth: with a client CA file, TLCP clients must present
// certificates, and the ECDHE suites are offered.
func TestTLCPClientAuth(t *testing.T) {
	b := newBothProtocols(t, true)
	addr, refused := b.serve(t, 0)
	pair := b.ca.Issue(t, "client")
	for _, tc := range []struct {
		name    string
		suite   uint16
		certs   bool
		wantErr bool
	}{
		{name: "ECC with certificates", suite: tlcp.ECC_SM4_GCM_SM3, certs: true},
		{name: "ECDHE with certificates", suite: tlcp.ECDHE_SM4_GCM_SM3, certs: true},
		{name: "no certificate", suite: tlcp.ECC_SM4_GCM_SM3, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := &tlcp.Config{RootCAs: b.ca.Pool(), ServerName: "localhost", CipherSuites: []uint16{tc.suite}}
			if tc.certs {
				cfg.SignCertificate, cfg.EncCertificate = pair.Sign, pair.Enc
			}
			d := &tlcp.Dialer{Config: cfg}
			c, err := d.DialContext(context.Background(), "tcp", addr)
			if (err != nil) != tc.wantErr {
				t.Fatalf("dial: %v", err)
			}
			if err == nil {
				c.Close()
				return
			}
			if rerr := <-refused; !errors.Is(rerr, netsec.ErrTLCPHandshake) {
				t.Fatalf("refused: %v; want a failed TLCP handshake reported", rerr)
			}
		})
	}
}

// TestTLCPHandshakePanicContained: a panic in a TLCP handshake (a bug in
// package tlcp or gmsm reached by a hostile message; here the
// certificate callback) ends that connection only: it is closed and
// reported (ErrHandshakePanic), its place under the per-address cap is
// given back, and the next client of that address is served. Before, the
// handshake ran on the classifying goroutine with nothing to recover the
// panic, and it ended the process: every connection of the gateway, where
// net/http recovers a panicking TLS handshake and drops one connection.
func TestTLCPHandshakePanicContained(t *testing.T) {
	b := newBothProtocols(t, false)
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	limited := netsec.NewLimitListener(raw, 0, 1, nil)
	cfg := *b.server.TLCPConfig()
	var calls atomic.Int32
	certificates := cfg.GetCertificates
	cfg.GetCertificates = func() (*tlcp.Certificate, *tlcp.Certificate, error) {
		if calls.Add(1) == 1 {
			panic("certificate store corrupted")
		}
		return certificates()
	}
	refused := make(chan error, 8)
	pl := netsec.NewProtocolListener(limited, b.server.Config(), &cfg, 0, func(_ net.Addr, err error) { refused <- err })
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tlcp") })}
	go srv.Serve(pl)
	t.Cleanup(func() { srv.Close() })
	addr := raw.Addr().String()

	d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: b.ca.Pool(), ServerName: "localhost"}}
	ctx, cancel := context.WithTimeout(context.Background(), await)
	defer cancel()
	if c, err := d.DialContext(ctx, "tcp", addr); err == nil {
		c.Close()
		t.Fatal("the panicking handshake completed")
	}
	select {
	case err := <-refused:
		if !errors.Is(err, netsec.ErrTLCPHandshake) || !errors.Is(err, netsec.ErrHandshakePanic) {
			t.Fatalf("refused with %v", err)
		}
	case <-time.After(await):
		t.Fatal("the panicking handshake was not reported")
	}
	for deadline := time.Now().Add(await); limited.Open() != 0; {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still counted after the panicking one closed", limited.Open())
		}
		time.Sleep(time.Millisecond)
	}
	if got := get(t, b.tlcpClient(t), "https://"+addr+"/"); got != "tlcp" {
		t.Fatalf("next TLCP client served %q", got)
	}
}

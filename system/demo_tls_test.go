package system

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	"sgw/configs"
	"sgw/tlcp"
)

// TestDemoTLSAndTLCP runs the demo with DemoTLS (`gateway demo -tls`):
// its public port answers a TLS 1.3 client that trusts ca.pem and a
// TLCP client that trusts sm2-ca.pem, each with the same readiness and
// market data.
func TestDemoTLSAndTLCP(t *testing.T) {
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	files, err := DemoTLS(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(files.Dir) })
	if _, err := DemoTLS(cfg); !errors.Is(err, configs.ErrConfig) {
		t.Fatalf("DemoTLS over a set gateway.tls: %v, want ErrConfig", err)
	}
	d, err := NewDemo(cfg, brokerLog())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.BaseURL, "https://") {
		t.Fatalf("base URL %s", d.BaseURL)
	}
	ctx := runDemo(t, d)

	caPEM, err := os.ReadFile(files.CA)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("no certificate in ca.pem")
	}
	sm2PEM, err := os.ReadFile(files.SM2CA)
	if err != nil {
		t.Fatal(err)
	}
	sm2Pool := smx509.NewCertPool()
	if !sm2Pool.AppendCertsFromPEM(sm2PEM) {
		t.Fatal("no certificate in sm2-ca.pem")
	}
	tlcpDialer := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: sm2Pool}}
	clients := map[string]*http.Client{
		"TLS":  {Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS13}}},
		"TLCP": {Transport: &http.Transport{DialTLSContext: tlcpDialer.DialContext}},
	}
	get := func(c *http.Client, path string) (int, string) {
		resp, err := c.Get(d.BaseURL + path)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			brokerWaitUntil(t, "/readyz over "+name, func() bool { code, _ := get(c, "/readyz"); return code == http.StatusOK })
			if code, body := get(c, "/api/v1/instruments"); code != http.StatusOK || !strings.Contains(body, "600519.SH") {
				t.Fatalf("instruments over %s: %d %s", name, code, body)
			}
		})
	}
	// The TLCP connection is TLCP: its server presents the SM2 pair.
	c, err := tlcpDialer.DialContext(ctx, "tcp", strings.TrimPrefix(d.BaseURL, "https://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if st := c.(*tlcp.Conn).ConnectionState(); st.Version != tlcp.VersionTLCP || len(st.PeerCertificates) < 2 {
		t.Fatalf("TLCP state %+v", st)
	}
}

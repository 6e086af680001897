package gateway

import (
	"context"
	"crypto/tls"
	"net/http"
	"testing"

	"sgw/gateway/mdclient"
	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// TestTLCPBesideTLS serves REST and /ws over TLS 1.3 and over TLCP on the
// one listener of gateway.tls with a tlcp section.
func TestTLCPBesideTLS(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	pair := pki.Server("server")
	ca := tlcptest.NewCA(t, "tlcp CA")
	files := ca.Issue(t, "localhost").WriteFiles(t, pki.Dir, "tlcp")
	s := serveLive(t, Config{TLS: &netsec.ServerTLSConfig{CertFile: pair.CertFile, KeyFile: pair.KeyFile,
		TLCP: &netsec.ServerTLCPConfig{SignCertFile: files.SignCert, SignKeyFile: files.SignKey, EncCertFile: files.EncCert, EncKeyFile: files.EncKey}}})

	d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: ca.Pool(), ServerName: "localhost"}}
	clients := map[string]*http.Client{
		"TLS":  httpsClient(pki, tls.VersionTLS13, 0),
		"TLCP": {Transport: &http.Transport{DialTLSContext: d.DialContext}},
	}
	for name, c := range clients {
		t.Run(name, func(t *testing.T) {
			resp, err := c.Get("https://" + s.addr + "/healthz")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("healthz: %d", resp.StatusCode)
			}
			ctx := context.Background()
			ws, _, err := mdclient.Dial(ctx, "wss://"+s.addr+"/ws", mdclient.Options{HTTPClient: c})
			if err != nil {
				t.Fatal(err)
			}
			defer ws.Conn().CloseNow()
			if err := ws.Subscribe(ctx, "book", 5, nil, "600519.SH"); err != nil {
				t.Fatal(err)
			}
			collect(t, ws, func(m mdclient.Message) bool { return m.Type == "subscribed" })
		})
	}
	t.Run("failed TLCP handshake counted", func(t *testing.T) {
		// ECDHE needs client certificates, which this listener does not
		// ask for: handshake_failure.
		d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: ca.Pool(), ServerName: "localhost", CipherSuites: []uint16{tlcp.ECDHE_SM4_GCM_SM3}}}
		if c, err := d.DialContext(context.Background(), "tcp", s.addr); err == nil {
			c.Close()
			t.Fatal("ECDHE without client certificates succeeded")
		}
		waitUntil(t, func() bool {
			return metricValue(t, s.reg, "gateway_tls_handshake_failures_total", `listener="http"`) >= 1
		})
	})
}

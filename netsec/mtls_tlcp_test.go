package netsec_test

import (
	"context"
	"testing"

	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp"
	"sgw/tlcp/tlcptest"
)

// TestMutualTLSNotBypassedByTLCP: a listener whose TLS requires client
// certificates (gateway.tls.client_ca_file: "every client present a
// certificate", docs/SECURITY.md "Mutual TLS") must not let a client in
// without one by speaking TLCP on the same port: either the
// configuration is refused, or TLCP clients must present theirs too.
func TestMutualTLSNotBypassedByTLCP(t *testing.T) {
	pki := netsectest.NewPKI(t, "tls CA")
	ca := tlcptest.NewCA(t, "tlcp CA")
	pki.Write(pki.Server("gateway"), pki.Dir+"/gw.pem", pki.Dir+"/gw.key")
	files := ca.Issue(t, "localhost").WriteFiles(t, pki.Dir, "gw-tlcp")
	cfg := netsec.ServerTLSConfig{CertFile: pki.Dir + "/gw.pem", KeyFile: pki.Dir + "/gw.key", ClientCAFile: pki.CAFile,
		TLCP: &netsec.ServerTLCPConfig{SignCertFile: files.SignCert, SignKeyFile: files.SignKey, EncCertFile: files.EncCert, EncKeyFile: files.EncKey}}
	s, err := netsec.NewServerTLS(cfg, "test.tls", nil)
	if err != nil {
		return // refused: mutual TLS cannot be undercut by TLCP
	}
	if !s.MutualTLS() {
		t.Fatal("client_ca_file set, but MutualTLS is false")
	}
	b := &bothProtocols{pki: pki, ca: ca, files: files, server: s}
	addr, _ := b.serve(t, 0)
	d := &tlcp.Dialer{Config: &tlcp.Config{RootCAs: ca.Pool(), ServerName: "localhost"}} // no client certificates
	c, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		return
	}
	c.Close()
	t.Fatal("a TLCP client without any certificate completed its handshake on a listener that requires client certificates (mutual TLS)")
}

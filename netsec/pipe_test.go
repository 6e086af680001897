package netsec_test

import (
	"os"
	"path/filepath"
	"testing"

	"sgw/internal/secretfile/secretfiletest"
	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp/tlcptest"
)

// TestCertFilesRefusePipes: a named pipe at any certificate or CA path
// netsec reads (a listener's certificate, its client CAs, its TLCP
// certificates and client CAs, a client's CAs and certificates) is
// refused before it is opened, at the start and at a reload. Before, the
// open waited for a writer: the gateway's start, or a certificate reload
// with the listener's lock held, waited for ever.
func TestCertFilesRefusePipes(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	cli := pki.Client("client", "gw1")
	sm2 := tlcptest.NewCA(t, "tlcp CA").Issue(t, "localhost").WriteFiles(t, pki.Dir, "tlcp")
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	tlcpCfg := func() *netsec.ServerTLCPConfig {
		return &netsec.ServerTLCPConfig{SignCertFile: sm2.SignCert, SignKeyFile: sm2.SignKey, EncCertFile: sm2.EncCert, EncKeyFile: sm2.EncKey}
	}
	server := func(cfg netsec.ServerTLSConfig) error {
		_, err := netsec.NewServerTLS(cfg, "test.tls", nil)
		return err
	}
	for _, tc := range []struct {
		name string
		load func(fifo string) error
	}{
		{name: "cert_file", load: func(fifo string) error {
			return server(netsec.ServerTLSConfig{CertFile: fifo, KeyFile: srv.KeyFile})
		}},
		{name: "client_ca_file", load: func(fifo string) error {
			return server(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, ClientCAFile: fifo})
		}},
		{name: "tlcp sign_cert_file", load: func(fifo string) error {
			c := tlcpCfg()
			c.SignCertFile = fifo
			return server(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TLCP: c})
		}},
		{name: "tlcp enc_cert_file", load: func(fifo string) error {
			c := tlcpCfg()
			c.EncCertFile = fifo
			return server(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TLCP: c})
		}},
		{name: "tlcp client_ca_file", load: func(fifo string) error {
			c := tlcpCfg()
			c.ClientCAFile = fifo
			return server(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TLCP: c})
		}},
		{name: "client's ca_file", load: func(fifo string) error {
			_, err := netsec.ClientTLS(netsec.ClientTLSConfig{CAFile: fifo}, "127.0.0.1:1", "test.tls")
			return err
		}},
		{name: "client's cert_file", load: func(fifo string) error {
			_, err := netsec.ClientTLS(netsec.ClientTLSConfig{CAPEM: string(caPEM), CertFile: fifo, KeyFile: cli.KeyFile}, "127.0.0.1:1", "test.tls")
			return err
		}},
		{name: "client's tlcp ca_file", load: func(fifo string) error {
			_, err := netsec.ClientTLCP(netsec.ClientTLCPConfig{CAFile: fifo}, "localhost:1", "test.tlcp")
			return err
		}},
		{name: "client's tlcp sign_cert_file", load: func(fifo string) error {
			_, err := netsec.ClientTLCP(netsec.ClientTLCPConfig{CAPEM: string(caPEM), SignCertFile: fifo, SignKeyFile: sm2.SignKey,
				EncCertFile: sm2.EncCert, EncKeyFile: sm2.EncKey}, "localhost:1", "test.tlcp")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := secretfiletest.Mkfifo(t, filepath.Join(t.TempDir(), "cert.pem"))
			secretfiletest.RefusesPipe(t, fifo, func() error { return tc.load(fifo) })
		})
	}
	t.Run("reload", func(t *testing.T) {
		// A certificate replaced by a pipe after the start.
		cert := filepath.Join(t.TempDir(), "cert.pem")
		certPEM, err := os.ReadFile(srv.CertFile)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cert, certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		s, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: cert, KeyFile: srv.KeyFile}, "test.tls", nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(cert); err != nil {
			t.Fatal(err)
		}
		secretfiletest.RefusesPipe(t, secretfiletest.Mkfifo(t, cert), s.Reload)
	})
}

package netsec_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp/tlcptest"
)

// refusesPipe runs load, which reads the named pipe fifo, and fails the
// test unless load refuses it as not a regular file without opening it
// for reading. It cannot hang if load does open it (as
// internal/secretfile's TestReadRefusesPipe): while load runs it opens
// the pipe for writing without waiting, which succeeds only once a reader
// has it open (else ENXIO), and closes its end, which lets that reader on.
func refusesPipe(t *testing.T, fifo string, load func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- load() }()
	for {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
				t.Fatalf("error %v; want one saying %s is not a regular file", err, fifo)
			}
			return
		default:
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			w.Close()
			<-done
			t.Fatal("the pipe was opened for reading: the load waits for a writer")
		}
		if !errors.Is(err, syscall.ENXIO) {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
}

// mkfifo makes a named pipe at path.
func mkfifo(t *testing.T, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

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
			fifo := mkfifo(t, filepath.Join(t.TempDir(), "cert.pem"))
			refusesPipe(t, fifo, func() error { return tc.load(fifo) })
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
		refusesPipe(t, mkfifo(t, cert), s.Reload)
	})
}

package netsec_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sgw/netsec"
	"sgw/netsec/netsectest"
	"sgw/tlcp/tlcptest"
)

// copyMode copies src to dir/name with mode perm and returns its path.
func copyMode(t *testing.T, src, dir, name string, perm os.FileMode) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, perm); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKeyFileModes: every private key file netsec reads (a listener's TLS
// key, its TLCP signature and encryption keys, a client's TLS and TLCP
// keys) must be a regular file its group and others may not access, as
// the storage key file and the token secret must.
func TestKeyFileModes(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	cli := pki.Client("client", "gw1")
	sm2 := tlcptest.NewCA(t, "tlcp CA").Issue(t, "localhost").WriteFiles(t, pki.Dir, "tlcp")
	dir := t.TempDir()
	caPEM, err := os.ReadFile(pki.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		perm os.FileMode
		src  string
		load func(key string) error
		want string // "" = loads
	}{
		{name: "TLS key 0600", perm: 0o600, src: srv.KeyFile, load: func(key string) error {
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: key}, "test.tls", nil)
			return err
		}},
		{name: "TLS key 0400", perm: 0o400, src: srv.KeyFile, load: func(key string) error {
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: key}, "test.tls", nil)
			return err
		}},
		{name: "TLS key readable by others", perm: 0o644, src: srv.KeyFile, want: "has permissions 0644: group and others must have no access", load: func(key string) error {
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: key}, "test.tls", nil)
			return err
		}},
		{name: "TLS key readable by its group", perm: 0o640, src: srv.KeyFile, want: "has permissions 0640", load: func(key string) error {
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: key}, "test.tls", nil)
			return err
		}},
		{name: "TLCP encryption key readable by others", perm: 0o644, src: sm2.EncKey, want: "tlcp encryption pair: key file", load: func(key string) error {
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TLCP: &netsec.ServerTLCPConfig{
				SignCertFile: sm2.SignCert, SignKeyFile: sm2.SignKey, EncCertFile: sm2.EncCert, EncKeyFile: key}}, "test.tls", nil)
			return err
		}},
		{name: "TLCP signature key writable by others", perm: 0o602, src: sm2.SignKey, want: "tlcp signature pair: key file", load: func(key string) error {
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: srv.KeyFile, TLCP: &netsec.ServerTLCPConfig{
				SignCertFile: sm2.SignCert, SignKeyFile: key, EncCertFile: sm2.EncCert, EncKeyFile: sm2.EncKey}}, "test.tls", nil)
			return err
		}},
		{name: "client TLS key readable by others", perm: 0o644, src: cli.KeyFile, want: "has permissions 0644", load: func(key string) error {
			_, err := netsec.ClientTLS(netsec.ClientTLSConfig{CAPEM: string(caPEM), CertFile: cli.CertFile, KeyFile: key}, "127.0.0.1:1", "test.tls")
			return err
		}},
		{name: "client TLCP key readable by others", perm: 0o644, src: sm2.SignKey, want: "has permissions 0644", load: func(key string) error {
			_, err := netsec.ClientTLCP(netsec.ClientTLCPConfig{CAPEM: string(caPEM), SignCertFile: sm2.SignCert, SignKeyFile: key,
				EncCertFile: sm2.EncCert, EncKeyFile: sm2.EncKey}, "127.0.0.1:1", "test.tlcp")
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			key := copyMode(t, tc.src, dir, strings.ReplaceAll(tc.name, " ", "-"), tc.perm)
			err := tc.load(key)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.Is(err, netsec.ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v; want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestKeyFileSymlinks: a key mounted as Kubernetes mounts a secret (key ->
// ..data/key, ..data -> ..2026_01_01, the file 0400 there) is judged by the
// file the links lead to: taken at 0400, refused at 0644; a directory is
// not a key file.
func TestKeyFileSymlinks(t *testing.T) {
	pki := netsectest.NewPKI(t, "test CA")
	srv := pki.Server("server")
	for _, tc := range []struct {
		name string
		perm os.FileMode
		want string
	}{
		{name: "0400 target", perm: 0o400},
		{name: "0644 target", perm: 0o644, want: "has permissions 0644"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ts := filepath.Join(dir, "..2026_01_01")
			if err := os.Mkdir(ts, 0o755); err != nil {
				t.Fatal(err)
			}
			copyMode(t, srv.KeyFile, ts, "tls.key", tc.perm)
			if err := os.Symlink("..2026_01_01", filepath.Join(dir, "..data")); err != nil {
				t.Fatal(err)
			}
			key := filepath.Join(dir, "tls.key")
			if err := os.Symlink(filepath.Join("..data", "tls.key"), key); err != nil {
				t.Fatal(err)
			}
			_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: key}, "test.tls", nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
	t.Run("directory", func(t *testing.T) {
		_, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: srv.CertFile, KeyFile: t.TempDir()}, "test.tls", nil)
		if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
			t.Fatalf("error %v; want one saying it is not a regular file", err)
		}
	})
}

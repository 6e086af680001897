package netsec

import (
	"bytes"
	"os"
	"testing"
	"time"
)

// TestPollReloadsChangedFiles checks Watch's step: files untouched are not
// reloaded; files replaced are, at the next poll.
func TestPollReloadsChangedFiles(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := dir+"/server.pem", dir+"/server.key"
	write := func(is Issued, mod time.Time) {
		for _, f := range []struct {
			path string
			data []byte
		}{{certFile, is.CertPEM}, {keyFile, is.KeyPEM}} {
			if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(f.path, mod, mod); err != nil {
				t.Fatal(err)
			}
		}
	}
	first, err := ca.Issue(LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	write(first, start)
	s, err := NewServerTLS(ServerTLSConfig{CertFile: certFile, KeyFile: keyFile}, "test.tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.poll() {
		t.Fatal("poll reloaded files that did not change")
	}
	second, err := ca.Issue(LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	write(second, start.Add(time.Minute))
	if !s.poll() {
		t.Fatal("poll did not notice the new files")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, second.Certificate.Leaf.Raw) {
		t.Fatal("poll did not load the new certificate")
	}
	if s.poll() {
		t.Fatal("poll reloaded again without a change")
	}
}

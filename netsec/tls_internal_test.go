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
	write := func(is Issued, mod time.Time) { writePair(t, certFile, keyFile, is, mod, 0o600) }
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

// TestPollReloadsAfterChmod: a renewed key refused at a poll for its mode
// (0644) is loaded at the next poll once the operator runs chmod 600, as
// the error tells them to; chmod changes no modification time nor size.
func TestPollReloadsAfterChmod(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := dir+"/server.pem", dir+"/server.key"
	write := func(is Issued, mod time.Time, keyPerm os.FileMode) { writePair(t, certFile, keyFile, is, mod, keyPerm) }
	first, err := ca.Issue(LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	write(first, start, 0o600)
	s, err := NewServerTLS(ServerTLSConfig{CertFile: certFile, KeyFile: keyFile}, "test.tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	second, err := ca.Issue(LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	write(second, start.Add(time.Minute), 0o644)
	if !s.poll() {
		t.Fatal("poll did not notice the new files")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, first.Certificate.Leaf.Raw) {
		t.Fatal("a key readable by others was loaded")
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if !s.poll() {
		t.Fatal("poll did not notice the key's new mode")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, second.Certificate.Leaf.Raw) {
		t.Fatal("the renewed pair was not loaded after chmod 600")
	}
	if s.poll() {
		t.Fatal("poll reloaded again without a change")
	}
}

// writePair writes is's certificate (mode 0644) and key (keyPerm) to
// certFile and keyFile, both modified at mod.
func writePair(t *testing.T, certFile, keyFile string, is Issued, mod time.Time, keyPerm os.FileMode) {
	t.Helper()
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{certFile, is.CertPEM, 0o644}, {keyFile, is.KeyPEM, keyPerm}} {
		if err := os.WriteFile(f.path, f.data, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.perm); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f.path, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

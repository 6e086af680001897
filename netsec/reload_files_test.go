package netsec

import (
	"bytes"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestPollKeepsCertificateOnPipe: a certificate file replaced by a named
// pipe is refused at the poll, without waiting for a writer, and the
// certificate in service stays; the pipe replaced by a renewed
// certificate is loaded at the next poll.
func TestPollKeepsCertificateOnPipe(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile := dir+"/server.pem", dir+"/server.key"
	first, err := ca.Issue(LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now().Add(-time.Hour)
	writePair(t, certFile, keyFile, first, start, 0o600)
	s, err := NewServerTLS(ServerTLSConfig{CertFile: certFile, KeyFile: keyFile}, "test.tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(certFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if !s.poll() {
		t.Fatal("poll did not notice the certificate replaced by a pipe")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, first.Certificate.Leaf.Raw) {
		t.Fatal("the certificate in service changed")
	}
	if err := s.Reload(); err == nil {
		t.Fatal("Reload of a pipe succeeded")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, first.Certificate.Leaf.Raw) {
		t.Fatal("the certificate in service changed at a failed Reload")
	}
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	second, err := ca.Issue(LocalhostLeaf())
	if err != nil {
		t.Fatal(err)
	}
	writePair(t, certFile, keyFile, second, start.Add(time.Minute), 0o600)
	if !s.poll() {
		t.Fatal("poll did not notice the renewed pair")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, second.Certificate.Leaf.Raw) {
		t.Fatal("the renewed pair was not loaded")
	}
}

// TestPollFollowsSecretMountLinks: a pair mounted as Kubernetes mounts a
// secret (tls.crt -> ..data/tls.crt, ..data -> ..<timestamp>, the files
// there) loads through the links, and so does a certificate path that is
// a link to a link to the file; the mount's update (..data swapped to a
// new directory) is loaded at the next poll.
func TestPollFollowsSecretMountLinks(t *testing.T) {
	ca, err := NewCA("test CA")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	start := time.Now().Add(-time.Hour)
	version := func(name string, mod time.Time) Issued {
		t.Helper()
		is, err := ca.Issue(LocalhostLeaf())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writePair(t, filepath.Join(dir, name, "tls.crt"), filepath.Join(dir, name, "tls.key"), is, mod, 0o600)
		return is
	}
	symlink := func(target, link string) {
		t.Helper()
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
	}
	first := version("..2026_01_01", start)
	symlink("..2026_01_01", filepath.Join(dir, "..data"))
	symlink(filepath.Join("..data", "tls.crt"), filepath.Join(dir, "tls.crt"))
	symlink(filepath.Join("..data", "tls.key"), filepath.Join(dir, "tls.key"))
	symlink("tls.crt", filepath.Join(dir, "cert.pem")) // a link to a link to the file
	s, err := NewServerTLS(ServerTLSConfig{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "tls.key")}, "test.tls", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, first.Certificate.Leaf.Raw) {
		t.Fatal("the mounted certificate was not loaded")
	}
	second := version("..2026_02_01", start.Add(time.Minute))
	symlink("..2026_02_01", filepath.Join(dir, "..data_tmp"))
	if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
		t.Fatal(err)
	}
	if !s.poll() {
		t.Fatal("poll did not notice the mount's update")
	}
	if !bytes.Equal(s.Certificate().Leaf.Raw, second.Certificate.Leaf.Raw) {
		t.Fatal("the updated mount's certificate was not loaded")
	}
}

package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"sgw/internal/secretfile/secretfiletest"
)

// TestRead: a regular file only its owner may access is read (to max
// bytes); one its group or others may access, a directory, a missing file
// and one over max are refused, naming the file and never its contents.
func TestRead(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, mode os.FileMode, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(file("target", 0o400, "via link"), link); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		max        int64
		want, err  string
	}{
		{name: "0600", path: file("a", 0o600, "secret-a"), want: "secret-a"},
		{name: "0400", path: file("b", 0o400, "secret-b"), want: "secret-b"},
		{name: "symlink to 0400", path: link, want: "via link"},
		{name: "at max", path: file("c", 0o600, "12345"), max: 5, want: "12345"},
		{name: "over max", path: file("d", 0o600, "123456"), max: 5, err: "is over 5 bytes"},
		{name: "others may read", path: file("e", 0o644, "secret-e"), err: "has permissions 0644: group and others must have no access"},
		{name: "group may read", path: file("f", 0o640, "secret-f"), err: "has permissions 0640"},
		{name: "others may write", path: file("g", 0o602, "secret-g"), err: "has permissions 0602"},
		{name: "directory", path: dir, err: "is not a regular file"},
		{name: "missing", path: filepath.Join(dir, "none"), err: "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Read(tc.path, tc.max)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) || strings.Contains(err.Error(), "secret-") {
					t.Fatalf("error %v; want one containing %q, no contents", err, tc.err)
				}
				return
			}
			if err != nil || string(b) != tc.want {
				t.Fatalf("got %q, %v; want %q", b, err, tc.want)
			}
		})
	}
}

// TestReadRefusesPipe: a named pipe at a key path is refused, by Read and
// ReadPublic, without being opened for reading: before, the open waited
// for a writer, and the gateway's start with it. The test cannot hang on
// that wait (secretfiletest.RefusesPipe).
func TestReadRefusesPipe(t *testing.T) {
	for _, tc := range []struct {
		name string
		read func(string, int64) ([]byte, error)
	}{
		{"Read", Read},
		{"ReadPublic", ReadPublic},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fifo := secretfiletest.Mkfifo(t, filepath.Join(t.TempDir(), "key"))
			secretfiletest.RefusesPipe(t, fifo, func() error {
				_, err := tc.read(fifo, 0)
				return err
			})
		})
	}
}

// TestReadPublic: a public file is read whatever its mode; a directory is
// refused.
func TestReadPublic(t *testing.T) {
	p := filepath.Join(t.TempDir(), "key.pub")
	if err := os.WriteFile(p, []byte("public"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadPublic(p, 6); err != nil || string(b) != "public" {
		t.Fatalf("got %q, %v; want public", b, err)
	}
	if _, err := ReadPublic(p, 5); err == nil {
		t.Fatal("a file over max was read")
	}
	if _, err := ReadPublic(filepath.Dir(p), 0); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Fatalf("directory: error %v", err)
	}
}

// TestReadRefusesLinkToNonRegular: a symbolic link is judged by what it
// leads to, so a link at a key path to a named pipe, a device or a
// directory is refused as they are, by Read and ReadPublic, naming the
// key path: the link is followed, never trusted for being a link.
func TestReadRefusesLinkToNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, target, kind string }{
		{"named pipe", fifo, "p"},
		{"device", os.DevNull, "D"},
		{"directory", dir, "d"},
	} {
		for _, r := range []struct {
			name string
			read func(string, int64) ([]byte, error)
		}{{"Read", Read}, {"ReadPublic", ReadPublic}} {
			t.Run(tc.name+"/"+r.name, func(t *testing.T) {
				link := filepath.Join(t.TempDir(), "key")
				if err := os.Symlink(tc.target, link); err != nil {
					t.Fatal(err)
				}
				_, err := r.read(link, 0)
				want := link + " is not a regular file (" + tc.kind
				if err == nil || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v; want one containing %q", err, want)
				}
			})
		}
	}
}

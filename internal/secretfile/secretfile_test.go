package secretfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
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

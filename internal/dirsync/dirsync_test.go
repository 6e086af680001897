package dirsync

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestMkdirAll: MkdirAll makes the missing directories 0700 and fsyncs
// the parent of each new one, from the top down, and nothing else; a file
// in the way is an error.
func TestMkdirAll(t *testing.T) {
	for _, tt := range []struct {
		name    string
		exist   []string // made before, below the test's directory
		sub     []string // the directory asked for, below the test's directory
		want    []string // the directories synced, below the test's directory
		wantErr bool
	}{
		{name: "exists", exist: []string{"a"}, sub: []string{"a"}},
		{name: "one new", sub: []string{"a"}, want: []string{""}},
		{name: "two new", sub: []string{"a", "b"}, want: []string{"", "a"}},
		{name: "under an existing one", exist: []string{"a"}, sub: []string{"a", "b", "c"}, want: []string{"a", "a/b"}},
		{name: "a file in the way", exist: []string{"f"}, sub: []string{"f", "b"}, wantErr: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			if len(tt.exist) > 0 {
				p := filepath.Join(append([]string{base}, tt.exist...)...)
				var err error
				if tt.wantErr {
					err = os.WriteFile(p, nil, 0o600)
				} else {
					err = os.MkdirAll(p, 0o755)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var synced []string
			dir := filepath.Join(append([]string{base}, tt.sub...)...)
			err := MkdirAll(dir, func(d string) error {
				synced = append(synced, d)
				return Sync(d)
			})
			if tt.wantErr {
				if err == nil {
					t.Fatal("MkdirAll through a file succeeded")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, w := range tt.want {
				want = append(want, filepath.Join(base, w))
			}
			if !slices.Equal(synced, want) {
				t.Fatalf("synced %q, want %q", synced, want)
			}
			if fi, err := os.Stat(dir); err != nil {
				t.Fatal(err)
			} else if perm := fi.Mode().Perm(); len(tt.want) > 0 && perm != 0o700 {
				t.Fatalf("mode %v, want 0700", perm)
			}
		})
	}
}

// TestMkdirAllDanglingLink: a symbolic link to nothing where a directory
// is asked for (a data_dir linked to a volume not mounted) is an error
// naming it, as one to a file is; a link to a directory is that directory,
// left as it is.
func TestMkdirAllDanglingLink(t *testing.T) {
	base := t.TempDir()
	target := filepath.Join(base, "vol")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "data")
	if err := os.Symlink(filepath.Join(target, "sgw"), link); err != nil {
		t.Fatal(err)
	}
	err := MkdirAll(filepath.Join(link, "wal"), Sync)
	if err == nil || !strings.Contains(err.Error(), link) || !strings.Contains(err.Error(), "not a directory") {
		t.Fatalf("MkdirAll under a dangling link: error %v, want one naming %s as not a directory", err, link)
	}
	if err := MkdirAll(link, Sync); err == nil {
		t.Fatal("MkdirAll of a dangling link succeeded")
	}
	// The link's target made: the link is a directory, its mode kept.
	if err := os.Mkdir(filepath.Join(target, "sgw"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := MkdirAll(filepath.Join(link, "wal"), Sync); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(target, "sgw")); err != nil {
		t.Fatal(err)
	} else if perm := fi.Mode().Perm(); perm != 0o755 {
		t.Fatalf("an existing directory's mode changed to %v", perm)
	}
	if fi, err := os.Stat(filepath.Join(target, "sgw", "wal")); err != nil || !fi.IsDir() {
		t.Fatalf("wal not made through the link: %v", err)
	}
}

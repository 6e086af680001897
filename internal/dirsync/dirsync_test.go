package dirsync

import (
	"os"
	"path/filepath"
	"slices"
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

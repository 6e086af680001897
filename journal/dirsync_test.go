package journal

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sgw/internal/dirsync"
)

// TestOpenSyncsNewDirectories: Open creates the directories missing on
// the way to a new journal and fsyncs each into its parent, and the new
// file into its directory, before the first record can be acknowledged.
// Before, the gateway made the directory with os.MkdirAll and nothing
// fsynced its entry: a machine crash right after the first acknowledged
// orders could lose the directory, and the orders with it.
func TestOpenSyncsNewDirectories(t *testing.T) {
	for _, tt := range []struct {
		name string
		sub  []string // below the test's directory, the journal's directory
		make bool     // the journal's directory exists before Open
	}{
		{name: "existing directory", make: true},
		{name: "one new directory", sub: []string{"state"}},
		{name: "two new directories", sub: []string{"var", "sgw"}},
		{name: "under an existing one", sub: []string{"var", "sgw"}, make: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(append([]string{base}, tt.sub...)...)
			want := []string{dir} // the file's entry
			if tt.make {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				// Each new directory's entry, from the top down.
				want = want[:0]
				for i := range tt.sub {
					want = append(want, filepath.Join(append([]string{base}, tt.sub[:i]...)...))
				}
				want = append(want, dir)
			}
			var synced []string
			cfg := Config{Path: filepath.Join(dir, "orders.jrnl"), syncDir: func(d string) error {
				synced = append(synced, d)
				return dirsync.Sync(d)
			}}
			j := mustOpen(t, cfg)
			if _, err := j.Append(1, testBody(1)); err != nil {
				t.Fatal(err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(synced, want) {
				t.Fatalf("directories fsynced: %q, want %q", synced, want)
			}
			if fi, err := os.Stat(dir); err != nil {
				t.Fatal(err)
			} else if perm := fi.Mode().Perm(); perm != 0o700 && !tt.make {
				t.Fatalf("journal directory mode %v, want 0700", perm)
			}

			synced = nil
			j = mustOpen(t, cfg) // nothing new to sync
			j.Close()
			if len(synced) != 0 {
				t.Fatalf("reopen fsynced directories %q", synced)
			}
		})
	}
}

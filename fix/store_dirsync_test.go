package fix

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sgw/atrest"
	"sgw/internal/dirsync"
)

// TestCreateSyncsNewStoreDirectories: Create makes a missing store
// directory and the directories above it, and fsyncs each new one into
// its parent, for the plain file store and the sealed one alike; before,
// os.MkdirAll made them and nothing fsynced their entries, so a machine
// crash could lose the store (and the session's sequence numbers) with its
// fsynced reservation. An existing directory is not synced again.
func TestCreateSyncsNewStoreDirectories(t *testing.T) {
	for _, tt := range []struct {
		name string
		keys func(t *testing.T) *atrest.KeyRing
	}{
		{name: "plain", keys: func(*testing.T) *atrest.KeyRing { return nil }},
		{name: "sealed", keys: func(t *testing.T) *atrest.KeyRing { return keyRing(t, "k1") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "a", "b")
			var synced []string
			open := func() {
				t.Helper()
				f, sid := newTestStoreFactory(t, dir)
				f.keys = tt.keys(t)
				f.syncDir = func(d string) error {
					synced = append(synced, d)
					return dirsync.Sync(d)
				}
				if _, err := f.Create(sid); err != nil {
					t.Fatal(err)
				}
				if err := f.close(); err != nil {
					t.Fatal(err)
				}
			}
			open()
			if want := []string{base, filepath.Join(base, "a")}; !slices.Equal(synced, want) {
				t.Fatalf("synced %q, want %q", synced, want)
			}
			if fi, err := os.Stat(dir); err != nil {
				t.Fatal(err)
			} else if perm := fi.Mode().Perm(); perm != 0o700 {
				t.Fatalf("store directory mode %v, want 0700", perm)
			}
			synced = nil
			open()
			if len(synced) != 0 {
				t.Fatalf("reopen synced %q, want nothing", synced)
			}
		})
	}
}

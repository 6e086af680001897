package cluster

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/hashicorp/raft"

	"sgw/internal/dirsync"
)

// TestNewSyncsNewDirectories: New creates the directories missing on the
// way to DataDir, and wal/ and snapshots/ in it, and fsyncs each into its
// parent before raft-wal and the snapshot store write into them (they
// fsync only their own files into those directories). Before, DataDir and
// wal/ were made with os.MkdirAll and snapshots/ by hashicorp/raft, and
// nothing fsynced their entries: a machine crash right after the first
// committed entries could lose the node's vote and log, which breaks
// Raft's safety.
func TestNewSyncsNewDirectories(t *testing.T) {
	for _, tt := range []struct {
		name string
		sub  []string // below the test's directory, DataDir
		make bool     // DataDir exists (empty) before New
	}{
		{name: "existing data dir", make: true},
		{name: "new data dir", sub: []string{"raft"}},
		{name: "two new directories", sub: []string{"var", "raft"}},
		{name: "under an existing one", sub: []string{"var", "raft"}, make: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(append([]string{base}, tt.sub...)...)
			var want []string
			if tt.make {
				if err := os.MkdirAll(dir, 0o700); err != nil {
					t.Fatal(err)
				}
			} else {
				// Each new directory's entry, from the top down.
				for i := range tt.sub {
					want = append(want, filepath.Join(append([]string{base}, tt.sub[:i]...)...))
				}
			}
			want = append(want, dir, dir) // wal/, then snapshots/
			var synced []string
			cfg := Config{NodeID: "n1", DataDir: dir, syncDir: func(d string) error {
				synced = append(synced, d)
				return dirsync.Sync(d)
			}}
			open := func() {
				t.Helper()
				_, trans := raft.NewInmemTransport("n1-addr")
				n, err := newNode(cfg, newMemFSM(), trans)
				if err != nil {
					t.Fatal(err)
				}
				if err := n.Close(); err != nil {
					t.Fatal(err)
				}
			}
			open()
			if !slices.Equal(synced, want) {
				t.Fatalf("directories fsynced: %q, want %q", synced, want)
			}
			made := []string{filepath.Join(dir, walDir), filepath.Join(dir, snapDir)}
			if !tt.make {
				made = append(made, dir)
			}
			for _, d := range made {
				if fi, err := os.Stat(d); err != nil {
					t.Fatal(err)
				} else if perm := fi.Mode().Perm(); perm != 0o700 {
					t.Fatalf("%s: mode %v, want 0700", d, perm)
				}
			}

			synced = nil
			open() // nothing new to sync
			if len(synced) != 0 {
				t.Fatalf("reopen fsynced directories %q", synced)
			}
		})
	}
}

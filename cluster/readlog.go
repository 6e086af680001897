package cluster

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"

	"sgw/atrest"
	"sgw/internal/dirsync"
	"sgw/journal"
)

// ReadJournal reads, offline, the order journal a stopped node's DataDir
// holds: its latest snapshot, then every command of its Raft log after it.
// keys opens a sealed cluster's records (nil: plain).
// Tests and operators use it after a cluster stopped cleanly, when the
// last leader's log holds only committed entries; the log of a node that
// crashed may end with entries that were never committed. It locks
// dataDir while it reads (an error if a node has it open) and, like a
// node's start, first migrates an older version's raft.db.
func ReadJournal(dataDir string, keys *atrest.KeyRing, fn func(journal.Record) error) error {
	_, werr := os.Stat(filepath.Join(dataDir, walDir))
	_, berr := os.Stat(filepath.Join(dataDir, legacyBolt))
	if werr != nil && berr != nil {
		return fmt.Errorf("cluster: read journal: %s holds no Raft log: %w", dataDir, werr)
	}
	store, err := openLogStore(dataDir, hclog.NewNullLogger(), dirsync.Sync)
	if err != nil {
		return fmt.Errorf("cluster: read journal: %w", err)
	}
	defer store.Close()
	snaps, err := raft.NewFileSnapshotStore(dataDir, 1, nil)
	if err != nil {
		return fmt.Errorf("cluster: read journal: snapshots: %w", err)
	}
	st := NewSealedState(keys)
	var from uint64 = 1
	metas, err := snaps.List()
	if err != nil {
		return fmt.Errorf("cluster: read journal: snapshots: %w", err)
	}
	if len(metas) > 0 {
		_, rc, err := snaps.Open(metas[0].ID)
		if err != nil {
			return fmt.Errorf("cluster: read journal: snapshot %s: %w", metas[0].ID, err)
		}
		err = st.Restore(rc)
		rc.Close()
		if err != nil {
			return err
		}
		from = metas[0].Index + 1
	}
	last, err := store.LastIndex()
	if err != nil {
		return fmt.Errorf("cluster: read journal: %w", err)
	}
	for i := from; i <= last; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			if errors.Is(err, raft.ErrLogNotFound) {
				continue
			}
			return fmt.Errorf("cluster: read journal: log %d: %w", i, err)
		}
		if l.Type != raft.LogCommand {
			continue
		}
		if err := st.Apply(l.Index, l.Data); err != nil {
			return fmt.Errorf("cluster: read journal: apply %d: %w", i, err)
		}
	}
	return st.Replay(fn)
}

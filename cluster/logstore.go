package cluster

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	wal "github.com/hashicorp/raft-wal"
	"go.etcd.io/bbolt"

	"sgw/internal/dirsync"
	"sgw/journal"
)

// The files of a node's DataDir besides the snapshots.
const (
	walDir     = "wal"       // the Raft log and stable store (hashicorp/raft-wal)
	lockFile   = "LOCK"      // flocked while a process has the directory open
	legacyBolt = "raft.db"   // an older version's log and stable store (raft-boltdb), migrated once
	snapDir    = "snapshots" // hashicorp/raft's FileSnapshotStore's directory
)

// logStore is a node's Raft log and stable store: hashicorp/raft-wal, the
// segmented append-only log HashiCorp wrote for hashicorp/raft and Consul
// now uses by default. Each batch of entries costs one write and one
// fdatasync; raft-boltdb's copy-on-write B-tree cost two fsyncs and a
// freelist update per batch, which on one disk doubled every commit (a
// commit waits for the leader's batch, then a follower's;
// BenchmarkJournalAppendRate in docs/PERFORMANCE.md).
//
// It holds an exclusive flock on DataDir/LOCK while open, so a second
// process given the same DataDir fails at once with a clear error instead
// of waiting on the WAL's metadata database. Its methods are the WAL's and
// may be called from any goroutine.
type logStore struct {
	*wal.WAL
	lock *os.File
}

// openLogStore locks dir and opens its WAL, first moving an older version's
// raft.db into it (migrateBolt). A new wal/ is fsynced into dir with
// syncDir.
func openLogStore(dir string, log hclog.Logger, syncDir func(string) error) (_ *logStore, err error) {
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("cluster: lock data dir: %w", err)
	}
	defer func() {
		if err != nil {
			lock.Close()
		}
	}()
	if err := journal.LockFile(lock); errors.Is(err, journal.ErrLocked) {
		return nil, fmt.Errorf("cluster: data dir %s is in use by another process", dir)
	} else if err != nil {
		return nil, fmt.Errorf("cluster: lock data dir: %w", err)
	}
	if err := migrateBolt(dir, log); err != nil {
		return nil, err
	}
	if err := dirsync.MkdirAll(filepath.Join(dir, walDir), syncDir); err != nil {
		return nil, fmt.Errorf("cluster: log store: %w", err)
	}
	w, err := wal.Open(filepath.Join(dir, walDir), wal.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("cluster: open log store: %w", err)
	}
	return &logStore{WAL: w, lock: lock}, nil
}

// Close closes the WAL, then releases the directory.
func (s *logStore) Close() error {
	err := s.WAL.Close()
	if cerr := s.lock.Close(); err == nil {
		err = cerr
	}
	return err
}

// migrateBolt moves the Raft state of an older version's DataDir/raft.db
// (raft-boltdb) into a new WAL: the stable keys hashicorp/raft writes
// (term and vote), then every log entry, into wal.tmp, which is renamed to
// wal once complete; raft.db is then renamed raft.db.migrated (kept for the
// operator to delete). A crash at any point leaves either no wal (the copy
// starts again) or a complete one (only the rename of raft.db is left).
// Nothing is done when dir holds no raft.db.
func migrateBolt(dir string, log hclog.Logger) error {
	src := filepath.Join(dir, legacyBolt)
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("cluster: migrate %s: %w", src, err)
	}
	dst := filepath.Join(dir, walDir)
	if _, err := os.Stat(dst); errors.Is(err, fs.ErrNotExist) {
		tmp := dst + ".tmp"
		if err := os.RemoveAll(tmp); err != nil {
			return fmt.Errorf("cluster: migrate %s: %w", src, err)
		}
		if err := os.Mkdir(tmp, 0o700); err != nil {
			return fmt.Errorf("cluster: migrate %s: %w", src, err)
		}
		n, err := copyBolt(tmp, src, log)
		if err != nil {
			return fmt.Errorf("cluster: migrate %s: %w", src, err)
		}
		if err := renameSynced(dir, tmp, dst); err != nil {
			return fmt.Errorf("cluster: migrate %s: %w", src, err)
		}
		log.Info("migrated the raft log from raft-boltdb to raft-wal", "entries", n, "from", src, "to", dst)
	} else if err != nil {
		return fmt.Errorf("cluster: migrate %s: %w", src, err)
	}
	if err := renameSynced(dir, src, src+".migrated"); err != nil {
		return fmt.Errorf("cluster: migrate %s: %w", src, err)
	}
	return nil
}

// copyBolt copies the Raft state of the bolt file src into a new WAL in
// walPath and returns the number of log entries copied.
func copyBolt(walPath, src string, log hclog.Logger) (int, error) {
	old, err := raftboltdb.New(raftboltdb.Options{Path: src, BoltOptions: &bbolt.Options{Timeout: time.Second, ReadOnly: true}})
	if err != nil {
		return 0, err
	}
	defer old.Close()
	w, err := wal.Open(walPath, wal.WithLogger(log))
	if err != nil {
		return 0, err
	}
	n, err := copyRaftState(w, old)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// raftStore is what copyRaftState reads and writes: a log and stable store.
type raftStore interface {
	raft.LogStore
	raft.StableStore
}

// copyRaftState copies hashicorp/raft's stable keys and every log entry of
// src into the empty dst.
func copyRaftState(dst, src raftStore) (int, error) {
	for _, k := range []string{"CurrentTerm", "LastVoteTerm"} {
		v, err := src.GetUint64([]byte(k))
		if errors.Is(err, raftboltdb.ErrKeyNotFound) {
			continue
		} else if err != nil {
			return 0, fmt.Errorf("read %s: %w", k, err)
		}
		if err := dst.SetUint64([]byte(k), v); err != nil {
			return 0, fmt.Errorf("write %s: %w", k, err)
		}
	}
	if v, err := src.Get([]byte("LastVoteCand")); err == nil {
		if err := dst.Set([]byte("LastVoteCand"), v); err != nil {
			return 0, fmt.Errorf("write LastVoteCand: %w", err)
		}
	} else if !errors.Is(err, raftboltdb.ErrKeyNotFound) {
		return 0, fmt.Errorf("read LastVoteCand: %w", err)
	}
	first, err := src.FirstIndex()
	if err != nil {
		return 0, fmt.Errorf("first index: %w", err)
	}
	last, err := src.LastIndex()
	if err != nil {
		return 0, fmt.Errorf("last index: %w", err)
	}
	if last == 0 {
		return 0, nil
	}
	const batch = 1024
	logs := make([]*raft.Log, 0, batch)
	for i := first; i <= last; i++ {
		l := new(raft.Log)
		if err := src.GetLog(i, l); err != nil {
			return 0, fmt.Errorf("read entry %d: %w", i, err)
		}
		logs = append(logs, l)
		if len(logs) == batch || i == last {
			if err := dst.StoreLogs(logs); err != nil {
				return 0, fmt.Errorf("write entries to %d: %w", i, err)
			}
			logs = logs[:0]
		}
	}
	return int(last - first + 1), nil
}

// renameSynced renames from to to within dir and syncs dir, so the rename
// survives a crash.
func renameSynced(dir, from, to string) error {
	if err := os.Rename(from, to); err != nil {
		return err
	}
	return dirsync.Sync(dir)
}

package cluster

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"sgw/internal/dirsync"
)

// TestMigrateBoltStore: a DataDir written by an older version (hashicorp/raft
// on raft-boltdb: a bootstrapped single-member cluster with committed
// records) starts as a Node on raft-wal with its term, configuration and
// every record: the node elects itself and applies them all; raft.db is
// kept aside as raft.db.migrated.
func TestMigrateBoltStore(t *testing.T) {
	dir := t.TempDir()
	const addr, records = "n1-addr", 20
	func() { // the older version's run
		store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, legacyBolt)})
		if err != nil {
			t.Fatal(err)
		}
		defer store.Close()
		snaps, err := raft.NewFileSnapshotStore(dir, 1, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		_, trans := raft.NewInmemTransport(addr)
		rc := raft.DefaultConfig()
		rc.LocalID = "n1"
		rc.Logger = hclog.NewNullLogger()
		r, err := raft.NewRaft(rc, &fsm{sm: newMemFSM()}, store, store, snaps, trans)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Shutdown()
		cfg := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: "n1", Address: addr}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-r.LeaderCh():
		case <-time.After(waitDeadline):
			t.Fatal("the bolt-backed node never led")
		}
		for i := range records {
			if err := r.Apply(fmt.Appendf(nil, "r%d", i), waitDeadline).Error(); err != nil {
				t.Fatal(err)
			}
		}
		if err := r.Shutdown().Error(); err != nil {
			t.Fatal(err)
		}
	}()

	m := newMemFSM()
	_, trans := raft.NewInmemTransport(addr)
	n, err := newNode(Config{NodeID: "n1", DataDir: dir}, m, trans)
	if err != nil {
		t.Fatal(err)
	}
	defer n.Close()
	if err := n.Start(nil); err != nil {
		t.Fatal(err)
	}
	got := m.waitLen(t, records)
	for i, r := range got[:records] {
		if want := fmt.Sprintf("r%d", i); r != want {
			t.Fatalf("record %d = %q, want %q", i, r, want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, legacyBolt)); !os.IsNotExist(err) {
		t.Errorf("raft.db still in place after the migration: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, legacyBolt+".migrated")); err != nil {
		t.Errorf("raft.db.migrated: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, walDir+".tmp")); !os.IsNotExist(err) {
		t.Errorf("wal.tmp left behind: %v", err)
	}
}

// TestMigrateBoltAfterCrash: a migration that crashed after its WAL was
// complete (wal/ renamed into place, raft.db not yet set aside) only sets
// raft.db aside on the next start; the WAL is not copied over again.
func TestMigrateBoltAfterCrash(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenLogStore(t, dir)
	storeEntries(t, s, 1, 3)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	old, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, legacyBolt)})
	if err != nil {
		t.Fatal(err)
	}
	storeEntries(t, old, 1, 5)
	if err := old.Close(); err != nil {
		t.Fatal(err)
	}

	s = reopenLogStore(t, dir, 3) // the WAL's, not copied over again
	defer s.Close()
	if _, err := os.Stat(filepath.Join(dir, legacyBolt+".migrated")); err != nil {
		t.Errorf("raft.db.migrated: %v", err)
	}
}

// TestLogStoreLocked: a second process (or Node) given a DataDir in use
// fails at once with an error that says so; after the first closes, the
// directory opens again with its entries.
func TestLogStoreLocked(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenLogStore(t, dir)
	storeEntries(t, s, 1, 2)
	if _, err := New(Config{NodeID: "n1", DataDir: dir}, newMemFSM()); err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("New on a data dir in use: %v, want an 'in use' error", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopenLogStore(t, dir, 2)
	defer s.Close()
}

// storeEntries stores command entries from..to (term 1) in s.
func storeEntries(t *testing.T, s raft.LogStore, from, to uint64) {
	t.Helper()
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: fmt.Appendf(nil, "e%d", i)})
	}
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
}

// TestLogStoreTailTruncationSurvivesRestart: a follower clears an
// uncommitted suffix of its log (a new leader's entries conflict with it),
// then restarts: the log opens with the prefix and takes the new entries.
// raft-wal v0.4.0 could not open such a log again ("sealed segment has
// no index block", hashicorp/raft-wal#31), which a restarted follower of
// the kill -9 tests hit at once.
func TestLogStoreTailTruncationSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s := mustOpenLogStore(t, dir)
	storeEntries(t, s, 1, 10)
	if err := s.DeleteRange(8, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = reopenLogStore(t, dir, 7)
	defer s.Close()
	var l raft.Log
	if err := s.GetLog(1, &l); err != nil || string(l.Data) != "e1" {
		t.Fatalf("GetLog(1) = %q, %v", l.Data, err)
	}
	storeEntries(t, s, 8, 9)
	if last, err := s.LastIndex(); err != nil || last != 9 {
		t.Fatalf("LastIndex after appending = %d, %v; want 9", last, err)
	}
}

// mustOpenLogStore opens the log store in dir or fails the test.
func mustOpenLogStore(t *testing.T, dir string) *logStore {
	t.Helper()
	s, err := openLogStore(dir, hclog.NewNullLogger(), dirsync.Sync)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// reopenLogStore opens the log store in dir again and fails the test
// unless its last index is wantLast.
func reopenLogStore(t *testing.T, dir string, wantLast uint64) *logStore {
	t.Helper()
	s := mustOpenLogStore(t, dir)
	if last, err := s.LastIndex(); err != nil || last != wantLast {
		s.Close()
		t.Fatalf("LastIndex after reopening = %d, %v; want %d", last, err, wantLast)
	}
	return s
}

package cluster

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/quickfixgo/quickfix"

	"sgw/atrest"
	"sgw/journal"
)

func testKeys(t testing.TB) *atrest.KeyRing {
	t.Helper()
	k := make([]byte, atrest.KeySize)
	rand.Read(k)
	r, err := atrest.NewKeyRing(map[string][]byte{"k1": k}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// appendWait appends one journal record and waits for its commit.
func appendWait(t *testing.T, j *Journal, body string) {
	t.Helper()
	done := make(chan error, 1)
	if err := j.AppendAsync('O', []byte(body), func(_ uint64, err error) { done <- err }); err != nil {
		t.Fatalf("append %s: %v", body, err)
	}
	if err := <-done; err != nil {
		t.Fatalf("append %s: %v", body, err)
	}
}

func replayBodies(t *testing.T, s *State) []string {
	t.Helper()
	var out []string
	if err := s.Replay(func(r journal.Record) error { out = append(out, string(r.Body)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSealedCluster runs a 3-node cluster with a key ring: a leader seals
// nothing before its term's record key; journal records and a FIX
// session's store replicate to every member; a new leader seals under its
// own key; no member's Raft log holds a record in the clear; ReadJournal
// opens the log with the keys and refuses it without.
func TestSealedCluster(t *testing.T) {
	keys := testKeys(t)
	c := startCluster(&testCluster{t: t, events: make(chan leaderEvent, 64), useState: true, keys: keys}, false)
	leader := c.waitLeader("")
	j := newTestJournal(t, leader)
	if err := j.AppendAsync('O', []byte("early"), func(uint64, error) {}); !errors.Is(err, ErrNoRecordKey) {
		t.Fatalf("append before BeginTerm = %v; want ErrNoRecordKey", err)
	}
	if err := leader.state.BeginTerm(leader.node); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 40 {
		body := fmt.Sprintf("SECRET-ORDER-%d", i)
		appendWait(t, j, body)
		want = append(want, body)
	}
	ss, sid, st := openTestStore(t, leader)
	for seq := 1; seq <= 20; seq++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, fmt.Appendf(nil, "8=FIX.4.4\x0111=SECRET-FIX-%d\x01", seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := ss.WriteReservation(sid, 4097, false, "n/1"); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// A new leader seals under its own key.
	c.kill(leader)
	next := c.waitLeader(leader.id)
	j2 := newTestJournal(t, next)
	if err := j2.AppendAsync('O', []byte("x"), func(uint64, error) {}); !errors.Is(err, ErrNoRecordKey) {
		t.Fatalf("append on the new leader before its BeginTerm = %v; want ErrNoRecordKey", err)
	}
	if err := next.state.BeginTerm(next.node); err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		body := fmt.Sprintf("SECRET-NEXT-%d", i)
		appendWait(t, j2, body)
		want = append(want, body)
	}
	applied := next.state.AppliedIndex()
	for _, tn := range c.followers(next) {
		if !tn.alive() {
			continue
		}
		tn.watch.waitApplied(t, applied)
		if got := replayBodies(t, tn.state); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("%s replays %q; want %q", tn.id, got, want)
		}
		if v := tn.state.session(sid.String()); v.messages.len() != 20 || v.nextSender != 21 || v.reserved != 4097 {
			t.Errorf("%s session: %d messages, next %d, reserved %d", tn.id, v.messages.len(), v.nextSender, v.reserved)
		}
	}
	if got := replayBodies(t, next.state); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("the new leader replays %q; want %q", got, want)
	}

	// Nothing in the clear on any member's disk.
	for _, tn := range c.nodes {
		c.kill(tn)
	}
	for _, tn := range c.nodes {
		filepath.Walk(tn.dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte("SECRET")) {
				t.Errorf("%s holds a record in the clear", path)
			}
			return nil
		})
	}
	var read []string
	if err := ReadJournal(next.dir, keys, func(r journal.Record) error { read = append(read, string(r.Body)); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(read, ",") != strings.Join(want, ",") {
		t.Errorf("ReadJournal = %q; want %q", read, want)
	}
	if err := ReadJournal(next.dir, nil, func(journal.Record) error { return nil }); !errors.Is(err, atrest.ErrKey) {
		t.Errorf("ReadJournal without keys = %v; want ErrKey", err)
	}
}

// TestSealedStateRecords: a replica without the key ring, or with another
// key under the same id, stops at the record key (sticky, not a silent
// divergence); a sealed snapshot restores only with the keys; a tampered
// sealed record stops the replica.
func TestSealedStateRecords(t *testing.T) {
	keys := testKeys(t)
	l := newSealedLeader(t, keys)
	leader, key := l.s, l.term(1)
	rec := l.journal("SECRET")
	if bytes.Contains(rec, []byte("SECRET")) {
		t.Fatal("sealed record holds the body in the clear")
	}
	if err := leader.Apply(2, rec); err != nil {
		t.Fatal(err)
	}

	for name, st := range map[string]*State{"no keys": NewState(), "another key": NewSealedState(testKeys(t))} {
		if err := st.Apply(1, key); !errors.Is(err, atrest.ErrKey) {
			t.Errorf("%s: record key = %v; want ErrKey", name, err)
		}
		if err := st.Apply(2, appendJournalRecord(nil, 'O', 1, nil)); err == nil || st.Err() == nil {
			t.Errorf("%s: a replica that missed the key applied on (%v)", name, err)
		}
	}

	tampered := NewSealedState(keys)
	if err := tampered.Apply(1, key); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(rec)
	bad[len(bad)-1] ^= 1
	if err := tampered.Apply(2, bad); err == nil || tampered.Err() == nil {
		t.Errorf("a tampered record applied (%v)", err)
	}
	// Stopped, it takes no snapshot: Raft would label it with entries it
	// never applied and drop them from the log.
	if _, err := tampered.Snapshot(); err == nil || !errors.Is(err, tampered.Err()) {
		t.Errorf("a stopped replica's Snapshot = %v; want its error", err)
	}

	snap, err := encodeState(leader)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(snap, []byte(sealedSnapshotMagic)) || bytes.Contains(snap, []byte("SECRET")) {
		t.Fatal("the snapshot is not sealed")
	}
	restored := NewSealedState(keys)
	if err := restored.Restore(bytes.NewReader(snap)); err != nil {
		t.Fatal(err)
	}
	if got := replayBodies(t, restored); len(got) != 1 || got[0] != "SECRET" {
		t.Errorf("restored journal = %q", got)
	}
	// The restored replica opens the next record under the key it carries.
	rec2, _ := leader.seal(appendJournalRecord(nil, 'O', 2, []byte("NEXT")))
	if err := restored.Apply(3, rec2); err != nil {
		t.Fatalf("record after a restore: %v", err)
	}
	// A leader's snapshot restarts a stopped replica.
	if err := tampered.Restore(bytes.NewReader(snap)); err != nil || tampered.Err() != nil {
		t.Fatalf("restore of a stopped replica = %v (Err %v)", err, tampered.Err())
	}
	if err := tampered.Apply(3, rec2); err != nil {
		t.Errorf("record after restoring a stopped replica: %v", err)
	}
	if err := NewState().Restore(bytes.NewReader(snap)); !errors.Is(err, atrest.ErrKey) {
		t.Errorf("restore without keys = %v; want ErrKey", err)
	}
	if _, err := restored.seal([]byte("x")); !errors.Is(err, ErrNoRecordKey) {
		t.Errorf("a restored replica sealed under another leader's key (%v)", err)
	}
}

// TestSealedStateRefusesPlain: with a key ring, a plain record (written
// into the Raft log on disk: a sealed cluster's leaders append none) stops
// the replica with ErrPlain instead of being applied, and a plain
// snapshot (one forged in place of a sealed one) is refused with ErrPlain
// and changes nothing. Sealing must protect the state, not only hide it.
func TestSealedStateRefusesPlain(t *testing.T) {
	keys := testKeys(t)
	l := newSealedLeader(t, keys)
	leader, key := l.s, l.term(1)
	rec := l.journal("GENUINE")
	if err := leader.Apply(2, rec); err != nil {
		t.Fatal(err)
	}

	forged := appendJournalRecord(nil, 'O', 2, []byte("FORGED"))
	if err := leader.Apply(3, forged); !errors.Is(err, atrest.ErrPlain) || !errors.Is(leader.Err(), atrest.ErrPlain) {
		t.Errorf("a plain record in a sealed cluster = %v (Err %v); want ErrPlain, sticky", err, leader.Err())
	}
	if got := replayBodies(t, leader); len(got) != 1 || got[0] != "GENUINE" {
		t.Errorf("journal = %q; want only the sealed record", got)
	}

	plain := NewState()
	if err := plain.Apply(1, forged); err != nil {
		t.Fatal(err)
	}
	snap, err := encodeState(plain)
	if err != nil {
		t.Fatal(err)
	}
	restored := NewSealedState(keys)
	if err := restored.Apply(1, key); err != nil {
		t.Fatal(err)
	}
	if err := restored.Apply(2, rec); err != nil {
		t.Fatal(err)
	}
	if err := restored.Restore(bytes.NewReader(snap)); !errors.Is(err, atrest.ErrPlain) {
		t.Errorf("a plain snapshot restored into a sealed State = %v; want ErrPlain", err)
	}
	if got := replayBodies(t, restored); len(got) != 1 || got[0] != "GENUINE" {
		t.Errorf("journal after the refused snapshot = %q; want it unchanged", got)
	}
}

// sealedLeader is a State that appended record keys of its own terms, for
// sealing records by hand: key(i) is the 'K' record of its i-th term and
// seal seals under the current one.
type sealedLeader struct {
	t    *testing.T
	s    *State
	keys [][]byte // 'K' records, in term order
	// legacy writes record keys as a build before keyOrdered did.
	legacy bool
}

func newSealedLeader(t *testing.T, keys *atrest.KeyRing) *sealedLeader {
	return &sealedLeader{t: t, s: NewSealedState(keys)}
}

// term starts a new term: a new record key, applied at index.
func (l *sealedLeader) term(index uint64) []byte {
	l.t.Helper()
	h, _, err := l.s.keys.NewHeader([]byte(sealContext))
	if err != nil {
		l.t.Fatal(err)
	}
	l.s.mine = h
	k := append(append([]byte{kindKey}, h...), keyOrdered)
	if l.legacy {
		k = k[:len(k)-1]
	}
	if err := l.s.Apply(index, k); err != nil {
		l.t.Fatal(err)
	}
	l.keys = append(l.keys, k)
	return k
}

// journal seals a journal record of body under the current key.
func (l *sealedLeader) journal(body string) []byte {
	l.t.Helper()
	rec, err := l.s.seal(appendJournalRecord(nil, 'O', 1, []byte(body)))
	if err != nil {
		l.t.Fatal(err)
	}
	return rec
}

// TestSealedStateRefusesReplay: a sealed record, or a record key, written
// again later in the log (it verifies: it is genuine) stops the replica
// with ErrReplayed instead of being applied twice; a record whose
// submission failed (a gap in the counters) does not.
func TestSealedStateRefusesReplay(t *testing.T) {
	keys := testKeys(t)
	l := newSealedLeader(t, keys)
	k1 := l.term(1)
	e1, e2, e3 := l.journal("r1"), l.journal("r2"), l.journal("r3")
	k2 := l.term(2)
	f1 := l.journal("f1")
	old := newSealedLeader(t, keys)
	old.legacy = true
	g1 := old.term(1)
	h1, h2, h3 := old.journal("g1"), old.journal("g2"), old.journal("g3")

	for _, tc := range []struct {
		name   string
		log    [][]byte // applied at indexes 1, 2, …
		replay bool     // the last one is refused
		want   []string // the journal after
	}{
		{name: "in order", log: [][]byte{k1, e1, e2, e3}, want: []string{"r1", "r2", "r3"}},
		{name: "gap", log: [][]byte{k1, e1, e3}, want: []string{"r1", "r3"}},
		{name: "next term", log: [][]byte{k1, e1, k2, f1}, want: []string{"r1", "f1"}},
		{name: "copy later", log: [][]byte{k1, e1, e2, e3, e1}, replay: true, want: []string{"r1", "r2", "r3"}},
		{name: "copy next", log: [][]byte{k1, e1, e2, e2}, replay: true, want: []string{"r1", "r2"}},
		{name: "step back", log: [][]byte{k1, e2, e1}, replay: true, want: []string{"r2"}},
		{name: "key again", log: [][]byte{k1, e1, e2, k1}, replay: true, want: []string{"r1", "r2"}},
		{name: "earlier key again", log: [][]byte{k1, e1, k2, f1, k1}, replay: true, want: []string{"r1", "f1"}},
		// An earlier build's key: its leader sealed before submitting, so
		// its counters may reach the log out of order, and a replica
		// upgraded with that log in it must apply them.
		{name: "earlier build's key, out of order", log: [][]byte{g1, h2, h1, h3}, want: []string{"g2", "g1", "g3"}},
		{name: "earlier build's key again", log: [][]byte{g1, h1, g1}, replay: true, want: []string{"g1"}},
		{name: "ordered key after an earlier build's", log: [][]byte{g1, h2, h1, k2, f1, f1}, replay: true, want: []string{"g2", "g1", "f1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSealedState(keys)
			for i, rec := range tc.log {
				err := s.Apply(uint64(i)+1, rec)
				if i < len(tc.log)-1 || !tc.replay {
					if err != nil {
						t.Fatalf("record %d: %v", i+1, err)
					}
					continue
				}
				if !errors.Is(err, ErrReplayed) || !errors.Is(s.Err(), ErrReplayed) {
					t.Fatalf("replayed record %d = %v (Err %v); want ErrReplayed, sticky", i+1, err, s.Err())
				}
			}
			if got := replayBodies(t, s); !slices.Equal(got, tc.want) {
				t.Errorf("journal = %q; want %q", got, tc.want)
			}
			if tc.replay {
				if err := s.Apply(uint64(len(tc.log))+1, l.journal("after")); err == nil {
					t.Error("a stopped replica applied the next record")
				}
			}
		})
	}
}

// TestSealedSnapshotKeepsReplayCheck: a replica restored from a snapshot
// refuses a copy of a record (or record key) applied before the snapshot,
// and applies the next genuine record; a version 2 snapshot (written
// before the check) still restores.
func TestSealedSnapshotKeepsReplayCheck(t *testing.T) {
	keys := testKeys(t)
	l := newSealedLeader(t, keys)
	k1 := l.term(1)
	e1 := l.journal("r1")
	k2 := l.term(3)
	f1, f2 := l.journal("f1"), l.journal("f2")
	f3 := l.journal("f3")

	s := NewSealedState(keys)
	for i, rec := range [][]byte{k1, e1, k2, f1, f2} {
		if err := s.Apply(uint64(i)+1, rec); err != nil {
			t.Fatal(err)
		}
	}
	snap, err := encodeState(s)
	if err != nil {
		t.Fatal(err)
	}
	restore := func(t *testing.T, snap []byte) *State {
		t.Helper()
		r := NewSealedState(keys)
		if err := r.Restore(bytes.NewReader(snap)); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// The restored state snapshots to the same encoding (each sealed
	// snapshot has a new salt: compare what they seal).
	plain, err := keys.OpenBlob([]byte(sealedSnapshotMagic), snap[len(sealedSnapshotMagic):])
	if err != nil {
		t.Fatal(err)
	}
	again, err := encodeState(restore(t, snap))
	if err != nil {
		t.Fatal(err)
	}
	if b, err := keys.OpenBlob([]byte(sealedSnapshotMagic), again[len(sealedSnapshotMagic):]); err != nil || !bytes.Equal(b, plain) {
		t.Errorf("the restored state's snapshot differs (%v)", err)
	}
	for _, tc := range []struct {
		name   string
		rec    []byte
		replay bool
	}{
		{name: "copy of a record before the snapshot", rec: f2, replay: true},
		{name: "copy of an earlier one", rec: f1, replay: true},
		{name: "current key again", rec: k2, replay: true},
		{name: "earlier key again", rec: k1, replay: true},
		{name: "next record", rec: f3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := restore(t, snap)
			err := r.Apply(6, tc.rec)
			want := []string{"r1", "f1", "f2"}
			if tc.replay {
				if !errors.Is(err, ErrReplayed) || !errors.Is(r.Err(), ErrReplayed) {
					t.Fatalf("Apply = %v (Err %v); want ErrReplayed, sticky", err, r.Err())
				}
			} else if err != nil {
				t.Fatal(err)
			} else {
				want = append(want, "f3")
			}
			if got := replayBodies(t, r); !slices.Equal(got, want) {
				t.Errorf("journal = %q; want %q", got, want)
			}
		})
	}

	// Version 2: the same encoding without the replay check's fields.
	head := len(snapshotMagic) + 2 + 8 + 2 + atrest.HeaderSize
	extra := 1 + 8 + 4 + 1*atrest.HeaderSize // ordered, the counter, one earlier key
	v2 := slices.Concat(plain[:head], plain[head+extra:len(plain)-4])
	binary.BigEndian.PutUint16(v2[len(snapshotMagic):], snapshotKeyedV2)
	v2 = binary.BigEndian.AppendUint32(v2, crc32.Checksum(v2, castagnoli))
	sealed, err := keys.SealBlob([]byte(sealedSnapshotMagic), v2)
	if err != nil {
		t.Fatal(err)
	}
	r := restore(t, append([]byte(sealedSnapshotMagic), sealed...))
	if err := r.Apply(6, f3); err != nil {
		t.Fatalf("record after a version 2 snapshot: %v", err)
	}
	if got := replayBodies(t, r); !slices.Equal(got, []string{"r1", "f1", "f2", "f3"}) {
		t.Errorf("journal after a version 2 snapshot = %q", got)
	}
}

// waitErr waits, on apply notifications, until the State has stopped
// applying, and returns its error.
func (w *watchedState) waitErr(t *testing.T) error {
	t.Helper()
	w.waitUntil(t, func() bool { return w.Err() != nil }, func() string {
		return fmt.Sprintf("still applying after %v (applied index %d)", waitDeadline, w.AppliedIndex())
	})
	return w.Err()
}

// TestSealedClusterRefusesReplayedEntry: a follower whose Raft log was
// written on disk to hold a genuine sealed entry a second time, later
// (copied over its last entry, same term), stops at the copy when it
// restarts and replays its log, with the record applied once; the
// leader and the other follower go on.
func TestSealedClusterRefusesReplayedEntry(t *testing.T) {
	keys := testKeys(t)
	c := startCluster(&testCluster{t: t, events: make(chan leaderEvent, 64), useState: true, keys: keys}, false)
	leader := c.waitLeader("")
	if err := leader.state.BeginTerm(leader.node); err != nil {
		t.Fatal(err)
	}
	j := newTestJournal(t, leader)
	var want []string
	for i := range 5 {
		body := fmt.Sprintf("order-%d", i)
		appendWait(t, j, body)
		want = append(want, body)
	}
	appendWait(t, j, "last")
	applied := leader.state.AppliedIndex()
	f := c.followers(leader)[0]
	f.watch.waitApplied(t, applied)
	c.kill(f)

	store := mustOpenLogStore(t, f.dir)
	var first, last raft.Log
	for i := uint64(1); i <= applied; i++ {
		var l raft.Log
		if err := store.GetLog(i, &l); err != nil {
			t.Fatal(err)
		}
		if l.Type == raft.LogCommand && len(l.Data) > 0 && l.Data[0] == kindSealed && first.Index == 0 {
			first = l
		}
		last = l
	}
	if first.Index == 0 || last.Index != applied || last.Type != raft.LogCommand || !bytes.HasPrefix(last.Data, []byte{kindSealed}) {
		t.Fatalf("log: first sealed entry %d, last %d (type %v) of %d", first.Index, last.Index, last.Type, applied)
	}
	if err := store.DeleteRange(last.Index, last.Index); err != nil {
		t.Fatal(err)
	}
	last.Data = first.Data // order-0, again
	if err := store.StoreLog(&last); err != nil {
		t.Fatal(err)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}

	c.restart(f)
	if err := f.watch.waitErr(t); !errors.Is(err, ErrReplayed) {
		t.Fatalf("the follower stopped with %v; want ErrReplayed", err)
	}
	if got := replayBodies(t, f.state); !slices.Equal(got, want) {
		t.Errorf("the follower's journal = %q; want %q (order-0 once)", got, want)
	}
	want = append(want, "last")
	for _, tn := range c.nodes {
		if tn == f {
			continue
		}
		if err := tn.state.Err(); err != nil {
			t.Errorf("%s stopped: %v", tn.id, err)
		}
		tn.watch.waitApplied(t, applied)
		if got := replayBodies(t, tn.state); !slices.Equal(got, want) {
			t.Errorf("%s's journal = %q; want %q", tn.id, got, want)
		}
	}
}

// TestSealedConcurrentAppends: many goroutines appending at once on a
// sealed leader, through the journal (ApplyAsync), a session store's
// batches and reservations written on their own (Apply), all commit and
// every member applies them all: the counters reach the log in order, so
// the replay check refuses none.
func TestSealedConcurrentAppends(t *testing.T) {
	const (
		appenders = 16
		each      = 60
	)
	c := startCluster(&testCluster{t: t, events: make(chan leaderEvent, 64), useState: true, keys: testKeys(t)}, true)
	leader := c.waitLeader("")
	if err := leader.state.BeginTerm(leader.node); err != nil {
		t.Fatal(err)
	}
	j := newTestJournal(t, leader)
	ss, sid, st := openTestStore(t, leader)
	errs := make(chan error, appenders*each+2)
	var wg sync.WaitGroup
	for g := range appenders {
		wg.Go(func() {
			for i := range each {
				body := fmt.Sprintf("g%d-%d", g, i)
				if err := j.AppendAsync('O', []byte(body), func(_ uint64, err error) { errs <- err }); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for seq := 1; seq <= each; seq++ {
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, fmt.Appendf(nil, "8=FIX.4.4\x0134=%d\x01", seq)); err != nil {
				errs <- err
				return
			}
		}
		errs <- ss.Flush(sid)
	})
	wg.Go(func() {
		other := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "OTHER"}
		for i := range each {
			if err := ss.WriteReservation(other, 1000+i, false, "n/1"); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	})
	wg.Wait()
	for range appenders*each + 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	applied := leader.state.AppliedIndex()
	for _, tn := range c.nodes {
		tn.watch.waitApplied(t, applied)
		if err := tn.state.Err(); err != nil {
			t.Fatalf("%s stopped: %v", tn.id, err)
		}
		got := replayBodies(t, tn.state)
		slices.Sort(got)
		if len(got) != appenders*each || len(slices.Compact(got)) != appenders*each {
			t.Errorf("%s applied %d distinct journal records; want %d", tn.id, len(got), appenders*each)
		}
		if v := tn.state.session(sid.String()); v.nextSender != each+1 {
			t.Errorf("%s: next sender %d; want %d", tn.id, v.nextSender, each+1)
		}
	}
}

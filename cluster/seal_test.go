package cluster

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

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
	leader := NewSealedState(keys)
	h, _, err := keys.NewHeader([]byte(sealContext))
	if err != nil {
		t.Fatal(err)
	}
	leader.mine = h
	key := append([]byte{kindKey}, h...)
	if err := leader.Apply(1, key); err != nil {
		t.Fatal(err)
	}
	rec, err := leader.seal(appendJournalRecord(nil, 'O', 1, []byte("SECRET")))
	if err != nil {
		t.Fatal(err)
	}
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
	leader := NewSealedState(keys)
	h, _, err := keys.NewHeader([]byte(sealContext))
	if err != nil {
		t.Fatal(err)
	}
	leader.mine = h
	if err := leader.Apply(1, append([]byte{kindKey}, h...)); err != nil {
		t.Fatal(err)
	}
	rec, err := leader.seal(appendJournalRecord(nil, 'O', 1, []byte("GENUINE")))
	if err != nil {
		t.Fatal(err)
	}
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
	if err := restored.Apply(1, append([]byte{kindKey}, h...)); err != nil {
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

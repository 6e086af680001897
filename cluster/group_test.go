package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sgw/journal"
)

// groupOf encodes a journal group of journal records.
func groupOf(recs ...[]byte) []byte {
	b := newGroup(0)
	for _, r := range recs {
		b = appendBatchRecord(b, r)
	}
	return b
}

func journalBodies(t *testing.T, s *State) []string {
	t.Helper()
	var got []string
	var seq uint64
	if err := s.Replay(func(r journal.Record) error {
		if seq++; r.Seq != seq {
			return fmt.Errorf("record %q has seq %d, want %d", r.Body, r.Seq, seq)
		}
		got = append(got, string(r.Body))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestStateJournalGroup: a journal group's records are applied in order at
// consecutive seqs under the group's one index, between single journal
// records (the format before groups, still applied); journalSeq finds each
// by its place in the group, and a snapshot restores them all.
func TestStateJournalGroup(t *testing.T) {
	j := func(body string) []byte { return appendJournalRecord(nil, 'O', 7, []byte(body)) }
	for _, sealed := range []bool{false, true} {
		t.Run(fmt.Sprintf("sealed=%v", sealed), func(t *testing.T) {
			s := NewState()
			seal := func(b []byte) []byte { return b }
			index := uint64(5)
			if sealed {
				l := newSealedLeader(t, testKeys(t))
				l.term(4)
				s = l.s
				seal = func(b []byte) []byte {
					out, err := s.seal(b)
					if err != nil {
						t.Fatal(err)
					}
					return out
				}
			}
			for _, rec := range [][]byte{
				j("a"),
				groupOf(j("b"), j("c"), j("d")),
				sessionRecord(opSender, "s", 2, nil),
				groupOf(j("e")),
				j("f"),
			} {
				if err := s.Apply(index, seal(rec)); err != nil {
					t.Fatalf("apply at %d: %v", index, err)
				}
				index++
			}
			want := []string{"a", "b", "c", "d", "e", "f"}
			if got := journalBodies(t, s); !slices.Equal(got, want) {
				t.Fatalf("journal %q, want %q", got, want)
			}
			check := func(who string, st *State) {
				t.Helper()
				for _, c := range []struct {
					index uint64
					pos   int
					seq   uint64 // 0: not found
				}{
					{5, 0, 1}, {6, 0, 2}, {6, 1, 3}, {6, 2, 4}, {6, 3, 0}, {6, -1, 0},
					{7, 0, 0}, {8, 0, 5}, {8, 1, 0}, {9, 0, 6}, {10, 0, 0},
				} {
					seq, ok := st.journalSeq(c.index, c.pos)
					if ok != (c.seq != 0) || seq != c.seq {
						t.Errorf("%s: journalSeq(%d, %d) = %d, %v; want %d", who, c.index, c.pos, seq, ok, c.seq)
					}
				}
			}
			check("applied", s)
			b, err := encodeState(s)
			if err != nil {
				t.Fatal(err)
			}
			r := NewSealedState(s.keys)
			if err := r.Restore(bytes.NewReader(b)); err != nil {
				t.Fatalf("restore: %v", err)
			}
			if got := journalBodies(t, r); !slices.Equal(got, want) {
				t.Fatalf("restored journal %q, want %q", got, want)
			}
			check("restored", r)
			if b2, _ := encodeState(r); !sealed && !bytes.Equal(b, b2) { // sealing draws a new nonce
				t.Error("restored state encodes differently")
			}
		})
	}
}

// TestStateRejectsBadGroups: a group holds journal records only, at least
// one; a bad one refuses the whole group and changes nothing.
func TestStateRejectsBadGroups(t *testing.T) {
	j := appendJournalRecord(nil, 'O', 1, []byte("x"))
	for name, rec := range map[string][]byte{
		"empty":             groupOf(),
		"session record":    groupOf(j, sessionRecord(opSender, "s", 2, nil)),
		"group in a group":  groupOf(groupOf(j)),
		"batch in a group":  groupOf(batchOf(sessionRecord(opSender, "s", 2, nil))),
		"short record":      groupOf(j, j[:journalHeader-1]),
		"trailing bytes":    append(groupOf(j), 0),
		"count above":       func() []byte { b := groupOf(j); b[2]++; return b }(),
		"journal in batch":  batchOf(j),
		"header only, 1":    {kindGroup, 0, 1},
		"header cut short":  {kindGroup, 0},
		"length past end":   func() []byte { b := groupOf(j); b[batchHeader+3]++; return b }(),
		"zero-length entry": {kindGroup, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			s := NewState()
			if err := s.Apply(1, rec); !errors.Is(err, ErrBadRecord) {
				t.Fatalf("Apply = %v, want ErrBadRecord", err)
			}
			if s.JournalLen() != 0 || s.AppliedIndex() != 0 {
				t.Fatalf("a refused group changed the state: %d records, applied %d", s.JournalLen(), s.AppliedIndex())
			}
		})
	}
}

// TestJournalAppendsGrouped: journal records appended while an entry is in
// flight (the leader's state machine held) gather into one journal group;
// each caller's done gets its own seq, dense and in append order, and
// every replica applies the same journal.
func TestJournalAppendsGrouped(t *testing.T) {
	c := newStateCluster(t, true)
	leader := c.waitLeader("")
	j := newTestJournal(t, leader)
	appendWait(t, j, "first")
	before := leader.state.AppliedIndex()
	hold := holdApply(leader)
	const n = 50
	type ack struct {
		seq uint64
		err error
	}
	acks := make(chan ack, n)
	for i := range n {
		if err := j.AppendAsync('O', fmt.Appendf(nil, "r%d", i), func(seq uint64, err error) { acks <- ack{seq, err} }); err != nil {
			t.Fatal(err)
		}
	}
	// Record 0 is in flight, held by the leader's state machine; the
	// others were gathered behind it.
	release(leader, hold)
	for i := range n {
		a := <-acks
		if a.err != nil || a.seq != uint64(i)+2 {
			t.Fatalf("append %d: done(%d, %v), want seq %d", i, a.seq, a.err, i+2)
		}
	}
	if got := leader.state.AppliedIndex() - before; got != 2 {
		t.Errorf("%d records took %d entries, want 2 (one, then a group)", n, got)
	}
	want := []string{"first"}
	for i := range n {
		want = append(want, fmt.Sprintf("r%d", i))
	}
	applied := leader.state.AppliedIndex()
	for _, tn := range c.nodes {
		tn.watch.waitApplied(t, applied)
		if got := journalBodies(t, tn.state); !slices.Equal(got, want) {
			t.Errorf("%s: journal %q, want %q", tn.id, got, want)
		}
	}
}

// TestJournalNoGroupsUnlessSet: without Config.JournalGroups (the default:
// members of an earlier version may follow) records appended while one is
// in flight still go one log entry each, never as a group.
func TestJournalNoGroupsUnlessSet(t *testing.T) {
	c := &testCluster{t: t, events: make(chan leaderEvent, 64), useState: true}
	c.config = func(cfg *Config) { cfg.JournalGroups = false }
	startCluster(c, true)
	leader := c.waitLeader("")
	j := newTestJournal(t, leader)
	appendWait(t, j, "first")
	before := leader.state.AppliedIndex()
	hold := holdApply(leader)
	const n = 20
	acks := make(chan error, n)
	for i := range n {
		if err := j.AppendAsync('O', fmt.Appendf(nil, "r%d", i), func(_ uint64, err error) { acks <- err }); err != nil {
			t.Fatal(err)
		}
	}
	release(leader, hold)
	for range n {
		if err := <-acks; err != nil {
			t.Fatal(err)
		}
	}
	if got := leader.state.AppliedIndex() - before; got != n {
		t.Errorf("%d records took %d entries, want one each", n, got)
	}
}

// TestJournalGatheredTimeout: records gathered behind an entry that does
// not complete get ErrTimeout at their deadline, although they were never
// submitted; once the entry completes the pipeline goes on.
func TestJournalGatheredTimeout(t *testing.T) {
	c := &testCluster{t: t, events: make(chan leaderEvent, 64), useState: true}
	c.config = func(cfg *Config) { cfg.ApplyTimeout = 300 * time.Millisecond }
	startCluster(c, true)
	leader := c.waitLeader("")
	j := newTestJournal(t, leader)
	appendWait(t, j, "first")
	hold := holdApply(leader)
	const n = 5
	errs := make(chan error, n)
	for i := range n {
		if err := j.AppendAsync('O', fmt.Appendf(nil, "r%d", i), func(_ uint64, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		if err := <-errs; !errors.Is(err, ErrTimeout) {
			t.Fatalf("append %d: %v, want ErrTimeout", i, err)
		}
	}
	release(leader, hold)
	// In doubt, they may be applied; what follows is acknowledged in order.
	// (A loaded machine may have moved leadership meanwhile.)
	done := make(chan error, 1)
	if err := j.AppendAsync('O', []byte("last"), func(_ uint64, err error) { done <- err }); err != nil {
		if !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
		return
	}
	if err := <-done; err != nil && !errors.Is(err, ErrNoQuorum) && !errors.Is(err, ErrTimeout) {
		t.Fatalf("append after the hold: %v", err)
	}
}

// gatherAcrossTerms appends "first", then n records while the leader's
// state machine is held (record 0 in flight, the others gathered behind
// it), and hands the leadership over and back, so that the node leads in a
// later term with the gathered records not yet submitted. It returns the
// leader, its journal, the records' results and the hold to close; it
// skips when a loaded machine's elections get in the way.
func gatherAcrossTerms(t *testing.T, n int) (*testNode, *Journal, chan error, chan struct{}) {
	t.Helper()
	c := newStateCluster(t, true)
	leader := c.waitLeader("")
	j := newTestJournal(t, leader)
	appendWait(t, j, "first")
	hold := holdApply(leader)
	errs := make(chan error, n)
	for i := range n {
		if err := j.AppendAsync('O', fmt.Appendf(nil, "r%d", i), func(_ uint64, err error) { errs <- err }); err != nil {
			t.Fatal(err)
		}
	}
	// Record 0 is in flight, held by the leader's state machine; hand the
	// leadership over and back.
	term := leader.node.raft.CurrentTerm()
	if err := leader.node.raft.LeadershipTransfer().Error(); err != nil {
		t.Skipf("leadership transfer: %v", err) // a loaded machine's election got in the way
	}
	other := c.waitLeader(leader.id)
	back := make(chan raft.Observation, 16)
	leader.node.raft.RegisterObserver(raft.NewObserver(back, false, func(o *raft.Observation) bool {
		l, ok := o.Data.(raft.LeaderObservation)
		return ok && string(l.LeaderID) == leader.id
	}))
	if err := other.node.raft.LeadershipTransferToServer(raft.ServerID(leader.id), raft.ServerAddress(leader.addr)).Error(); err != nil {
		t.Skipf("leadership transfer back: %v", err)
	}
	select {
	case <-back:
	case <-time.After(waitDeadline):
		t.Fatalf("%s not leader again after %v", leader.id, waitDeadline)
	}
	if !leader.node.IsLeader() || leader.node.raft.CurrentTerm() == term {
		t.Skipf("%s lost the leadership again, or never lost it (term %d)", leader.id, term)
	}
	return leader, j, errs, hold
}

// holdApply makes tn's state machine wait, at its next record, until
// release.
func holdApply(tn *testNode) chan struct{} {
	hold := make(chan struct{})
	tn.watch.mu.Lock()
	tn.watch.hold = hold
	tn.watch.mu.Unlock()
	return hold
}

// release lets tn's state machine apply again.
func release(tn *testNode, hold chan struct{}) {
	tn.watch.mu.Lock()
	tn.watch.hold = nil
	tn.watch.mu.Unlock()
	close(hold)
}

// TestJournalGatheredNotAppendedInALaterTerm: records gathered behind an
// entry in flight when the leadership ends are failed with ErrNotLeader,
// nothing appended, even when the node leads again by the time the entry
// is answered: they were accepted for a term that is over.
func TestJournalGatheredNotAppendedInALaterTerm(t *testing.T) {
	const n = 5
	leader, _, errs, hold := gatherAcrossTerms(t, n)
	release(leader, hold)
	if err := <-errs; err != nil && !errors.Is(err, ErrNoQuorum) {
		t.Fatalf("append 0, in flight: %v", err)
	}
	for i := 1; i < n; i++ {
		if err := <-errs; !errors.Is(err, ErrNotLeader) {
			t.Fatalf("append %d, gathered: %v, want ErrNotLeader", i, err)
		}
	}
	if err := leader.node.Barrier(0); err != nil {
		t.Skipf("barrier on the node leading again: %v", err)
	}
	for _, b := range journalBodies(t, leader.state) {
		if b != "first" && b != "r0" {
			t.Fatalf("journal holds %q, gathered in the earlier term", b)
		}
	}
}

// TestJournalAppendedInALaterTermNotFailedWithAnEarlierGroup: a record
// appended once the node leads again is not gathered into the group of an
// earlier term, which is failed with ErrNotLeader: it is appended and
// acknowledged with its seq (before, it joined that group and got
// ErrNotLeader from a node that leads, and the term's order manager
// refused every order after it as not leader).
func TestJournalAppendedInALaterTermNotFailedWithAnEarlierGroup(t *testing.T) {
	const n = 3
	leader, j, errs, hold := gatherAcrossTerms(t, n)
	type ack struct {
		seq uint64
		err error
	}
	later := make(chan ack, 1)
	if err := j.AppendAsync('O', []byte("later"), func(seq uint64, err error) { later <- ack{seq, err} }); err != nil {
		t.Skipf("append in the later term: %v", err) // leadership moved again
	}
	release(leader, hold)
	for i := range n {
		if err := <-errs; i > 0 && !errors.Is(err, ErrNotLeader) {
			t.Fatalf("append %d, gathered: %v, want ErrNotLeader", i, err)
		}
	}
	a := <-later
	if errors.Is(a.err, ErrNoQuorum) || errors.Is(a.err, ErrTimeout) {
		t.Skipf("append in the later term: %v", a.err) // a loaded machine's election
	}
	if a.err != nil {
		t.Fatalf("append in the later term, the node leading: %v", a.err)
	}
	bodies := journalBodies(t, leader.state)
	if a.seq == 0 || a.seq > uint64(len(bodies)) || bodies[a.seq-1] != "later" {
		t.Fatalf("append in the later term acknowledged at seq %d; journal %q", a.seq, bodies)
	}
}

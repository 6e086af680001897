package cluster

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"sgw/journal"
)

// cut isolates tn: its links to every other node, both ways.
func (c *testCluster) cut(tn *testNode) {
	tn.inmem.DisconnectAll()
	for _, o := range c.nodes {
		if o != tn {
			o.inmem.Disconnect(raft.ServerAddress(tn.addr))
		}
	}
}

func newTestJournal(t *testing.T, tn *testNode) *Journal {
	t.Helper()
	j, err := NewJournal(JournalConfig{Node: tn.node, State: tn.state})
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// ack is one done callback of an append stream.
type ack struct {
	i   int // append number
	seq uint64
	err error
}

// appendStream appends records "r-<i>" through j from one goroutine until
// an append is refused or limit records were accepted, and collects their
// completions.
type appendStream struct {
	mu       sync.Mutex
	acks     []ack
	accepted int  // records AppendAsync accepted
	finished bool // the appender stopped
	refusal  error
	changed  chan struct{} // closed and replaced on every change
}

func startStream(j *Journal, limit int) *appendStream {
	s := &appendStream{changed: make(chan struct{})}
	go func() {
		for i := range limit {
			err := j.AppendAsync('O', []byte("r-"+strconv.Itoa(i)), func(seq uint64, err error) {
				s.update(func() { s.acks = append(s.acks, ack{i: i, seq: seq, err: err}) })
			})
			if err != nil {
				s.update(func() { s.refusal = err })
				break
			}
			s.update(func() { s.accepted++ })
		}
		s.update(func() { s.finished = true })
	}()
	return s
}

func (s *appendStream) update(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f()
	close(s.changed)
	s.changed = make(chan struct{})
}

// waitFor waits, on change notifications, until cond holds.
func (s *appendStream) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(waitDeadline)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok, ch := cond(), s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("stream: no %s after %v", what, waitDeadline)
		}
	}
}

func replayAll(t *testing.T, j *Journal) []journal.Record {
	t.Helper()
	var recs []journal.Record
	if err := j.Replay(func(r journal.Record) error { recs = append(recs, r); return nil }); err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestJournalFailoverKeepsAcknowledged appends a stream of records on the
// leader and stops the leader (closed, or cut off from the others) after
// different numbers of acknowledgements: the new leader's Replay holds
// every acknowledged record at the seq its done reported, in append order,
// with dense seqs.
func TestJournalFailoverKeepsAcknowledged(t *testing.T) {
	tests := []struct {
		name  string
		acked int  // acknowledgements before the leader goes
		cut   bool // cut the links instead of closing the node
	}{
		{name: "close after 1", acked: 1},
		{name: "close after 300", acked: 300},
		{name: "cut after 1", acked: 1, cut: true},
		{name: "cut after 50", acked: 50, cut: true},
		{name: "cut after 1000", acked: 1000, cut: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newStateCluster(t, true)
			old := c.waitLeader("")
			s := startStream(newTestJournal(t, old), tt.acked+20000)
			// A loaded machine may depose the leader on its own (its lease
			// ran out) before the acknowledgements are in: the stream then
			// ends early, and the checks below still hold for what it did.
			var early bool
			s.waitFor(t, fmt.Sprintf("%d acknowledgements", tt.acked), func() bool {
				ok := 0
				for _, a := range s.acks {
					if a.err == nil {
						ok++
					}
				}
				early = s.finished && ok < tt.acked
				return ok >= tt.acked || s.finished
			})
			if tt.cut {
				c.cut(old)
			} else {
				c.kill(old)
			}
			s.waitFor(t, "end of the stream", func() bool { return s.finished && len(s.acks) == s.accepted })
			leader := c.waitLeader(old.id)
			recs := replayAll(t, newTestJournal(t, leader))

			s.mu.Lock()
			acks, refusal := s.acks, s.refusal
			s.mu.Unlock()
			ok, inDoubt := 0, 0
			for k, a := range acks {
				if a.i != k {
					t.Fatalf("done %d is for append %d: not in append order", k, a.i)
				}
				if a.err != nil {
					inDoubt++
					if !errors.Is(a.err, ErrNoQuorum) && !errors.Is(a.err, ErrTimeout) && !errors.Is(a.err, ErrClosed) && !errors.Is(a.err, ErrNotLeader) {
						t.Errorf("append %d failed with %v, want ErrNoQuorum, ErrTimeout, ErrClosed or ErrNotLeader", a.i, a.err)
					}
					continue
				}
				ok++
				if a.seq == 0 || a.seq > uint64(len(recs)) {
					t.Fatalf("append %d acknowledged with seq %d; the new leader holds %d records", a.i, a.seq, len(recs))
				}
				if r := recs[a.seq-1]; !bytes.Equal(r.Body, []byte("r-"+strconv.Itoa(a.i))) || r.Type != 'O' {
					t.Fatalf("seq %d: new leader holds %c %q, acknowledged r-%d", a.seq, r.Type, r.Body, a.i)
				}
			}
			last := -1
			for k, r := range recs {
				if r.Seq != uint64(k)+1 {
					t.Fatalf("record %d has seq %d: not dense", k, r.Seq)
				}
				i, err := strconv.Atoi(string(bytes.TrimPrefix(r.Body, []byte("r-"))))
				if err != nil || i <= last {
					t.Fatalf("record seq %d is %q after r-%d: not in append order", r.Seq, r.Body, last)
				}
				last = i
			}
			t.Logf("%d appended, %d acknowledged, %d in doubt; new leader %s holds %d; appender stopped on: %v",
				len(acks), ok, inDoubt, leader.id, len(recs), refusal)
			if early {
				t.Logf("the leader stepped down on its own after %d acknowledgements (a loaded machine)", ok)
			} else if ok < tt.acked {
				t.Errorf("%d acknowledged, want at least %d", ok, tt.acked)
			}
		})
	}
}

func TestJournalRefusedOnFollower(t *testing.T) {
	c := newStateCluster(t, true)
	leader := c.waitLeader("")
	j := newTestJournal(t, leader)
	done := make(chan error, 1)
	if err := j.AppendAsync('O', []byte("first"), func(_ uint64, err error) { done <- err }); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	for _, f := range c.followers(leader) {
		called := false
		err := newTestJournal(t, f).AppendAsync('O', []byte("x"), func(uint64, error) { called = true })
		var nle *NotLeaderError
		if !errors.Is(err, ErrNotLeader) || !errors.As(err, &nle) {
			t.Errorf("%s: AppendAsync on a follower = %v, want a *NotLeaderError", f.id, err)
		}
		if called {
			t.Errorf("%s: done called for a refused record", f.id)
		}
	}
}

func TestJournalAppendTooLarge(t *testing.T) {
	c := newStateCluster(t, true)
	leader := c.waitLeader("")
	j, err := NewJournal(JournalConfig{Node: leader.node, State: leader.state, MaxRecord: 8})
	if err != nil {
		t.Fatal(err)
	}
	if err := j.AppendAsync('O', make([]byte, 9), func(uint64, error) { t.Error("done called") }); !errors.Is(err, journal.ErrTooLarge) {
		t.Fatalf("AppendAsync of 9 bytes with MaxRecord 8 = %v, want ErrTooLarge", err)
	}
}

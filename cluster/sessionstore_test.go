package cluster

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/quickfixgo/quickfix"
)

// TestSessionStoreBatches drives a leader's store through a stream of
// mutations with a reservation and a reset among them: every replica's
// State ends equal to the store's copy, the State holds everything before
// the reservation once WriteReservation returns, and the stream took far
// fewer log entries than mutations.
func TestSessionStoreBatches(t *testing.T) {
	c := newStateCluster(t, false)
	leader := c.waitLeader("")
	ss, sid, st := openTestStore(t, leader)
	msg := func(seq int) []byte { return fmt.Appendf(nil, "8=FIX.4.4\x0135=D\x0134=%d\x01", seq) }
	start := leader.state.AppliedIndex()
	mutations := 0
	must := func(err error) {
		t.Helper()
		mutations++
		if err != nil {
			t.Fatal(err)
		}
	}
	for i := 1; i <= 3000; i++ {
		switch {
		case i == 1000:
			must(ss.WriteReservation(sid, 5000, false, "n/1"))
			v := leader.state.session(sid.String())
			if v.nextSender != st.NextSenderMsgSeqNum() || v.nextTarget != st.NextTargetMsgSeqNum() || len(v.messages) != st.NextSenderMsgSeqNum()-1 || v.reserved != 5000 {
				t.Fatalf("after the reservation the State holds next %d/%d, %d messages, reserved %d; the store next %d/%d",
					v.nextSender, v.nextTarget, len(v.messages), v.reserved, st.NextSenderMsgSeqNum(), st.NextTargetMsgSeqNum())
			}
		case i == 2000:
			must(st.SetNextTargetMsgSeqNum(7000)) // coalesced, then wiped by the reset
			must(st.Reset())
		case i%3 == 0:
			must(st.IncrNextTargetMsgSeqNum())
		case i%7 == 0:
			seq := st.NextSenderMsgSeqNum()
			must(st.SaveMessage(seq, msg(seq)))
			must(st.SetNextSenderMsgSeqNum(seq + 1))
			must(st.SetNextSenderMsgSeqNum(seq + 1))
		default:
			seq := st.NextSenderMsgSeqNum()
			must(st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, msg(seq)))
		}
	}
	if err := ss.Flush(sid); err != nil {
		t.Fatal(err)
	}
	if v := leader.state.session(sid.String()); v.nextSender != st.NextSenderMsgSeqNum() || v.nextTarget != st.NextTargetMsgSeqNum() {
		t.Errorf("after Flush the State holds next %d/%d; the store %d/%d", v.nextSender, v.nextTarget, st.NextSenderMsgSeqNum(), st.NextTargetMsgSeqNum())
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ss.WriteReservation(sid, 6000, true, "n/1"); err != nil {
		t.Fatalf("reservation after Close: %v", err)
	}
	if err := leader.node.Barrier(0); err != nil {
		t.Fatal(err)
	}
	entries := leader.state.AppliedIndex() - start
	if entries*4 > uint64(mutations) {
		t.Errorf("%d mutations took %d log entries; want batches (at most a quarter)", mutations, entries)
	}
	t.Logf("%d mutations in %d log entries", mutations, entries)
	want, _ := st.GetMessages(1, 1<<20)
	for _, tn := range c.nodes {
		applied := leader.state.AppliedIndex()
		tn.watch.waitApplied(t, applied)
		v := tn.state.session(sid.String())
		if v.nextSender != st.NextSenderMsgSeqNum() || v.nextTarget != st.NextTargetMsgSeqNum() ||
			!v.clean || v.reserved != 6000 || v.created != st.CreationTime().UnixNano() {
			t.Errorf("%s: session %d/%d clean %v reserved %d created %d; store %d/%d created %d", tn.id,
				v.nextSender, v.nextTarget, v.clean, v.reserved, v.created,
				st.NextSenderMsgSeqNum(), st.NextTargetMsgSeqNum(), st.CreationTime().UnixNano())
		}
		if len(v.messages) != len(want) {
			t.Fatalf("%s: %d messages, store %d", tn.id, len(v.messages), len(want))
		}
		for i, m := range want {
			if !bytes.Equal(v.messages[i+1], m) {
				t.Fatalf("%s: message %d = %q, store %q", tn.id, i+1, v.messages[i+1], m)
			}
		}
	}
	if err := st.SaveMessage(1, msg(1)); err == nil {
		t.Error("a closed store took a message")
	}
}

// watchedState is a State that notifies each record applied.
type watchedState struct {
	*State
	mu      sync.Mutex
	changed chan struct{} // closed and replaced on each Apply
}

func (w *watchedState) Apply(index uint64, b []byte) error {
	err := w.State.Apply(index, b)
	w.mu.Lock()
	close(w.changed)
	w.changed = make(chan struct{})
	w.mu.Unlock()
	return err
}

// waitApplied waits, on apply notifications, until index i is applied.
func (w *watchedState) waitApplied(t *testing.T, i uint64) {
	t.Helper()
	deadline := time.NewTimer(waitDeadline)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if w.AppliedIndex() >= i {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("applied index %d after %v, want %d", w.AppliedIndex(), waitDeadline, i)
		}
	}
}

// openTestStore opens the session store of GW->CORE on tn, the leader; onFail,
// if given, is the stores' OnFail.
func openTestStore(t *testing.T, tn *testNode, onFail ...func(string, error)) (*SessionStores, quickfix.SessionID, quickfix.MessageStore) {
	t.Helper()
	cfg := SessionStoresConfig{Node: tn.node, State: tn.state}
	if len(onFail) > 0 {
		cfg.OnFail = onFail[0]
	}
	ss, err := NewSessionStores(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "CORE"}
	st, err := ss.OpenMessages(sid)
	if err != nil {
		t.Fatal(err)
	}
	return ss, sid, st
}

// TestSessionStoreReportsFailure cuts the leader holding an open store off
// its peers: the batch in flight fails, OnFail hears of it once, and the
// store refuses every later mutation (its session could send nothing).
func TestSessionStoreReportsFailure(t *testing.T) {
	c := newStateCluster(t, true)
	leader := c.waitLeader("")
	failures := make(chan error, 4)
	ss, sid, st := openTestStore(t, leader, func(session string, err error) { failures <- fmt.Errorf("%s: %w", session, err) })
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, []byte("8=FIX.4.4\x0135=D\x0134=1\x01")); err != nil {
		t.Fatal(err)
	}
	if err := ss.Flush(sid); err != nil {
		t.Fatal(err)
	}
	leader.inmem.DisconnectAll()
	for _, f := range c.followers(leader) {
		f.inmem.Disconnect(raft.ServerAddress(leader.addr))
	}
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(2, []byte("8=FIX.4.4\x0135=D\x0134=2\x01")); err != nil {
		t.Fatal(err) // queued: replication is asynchronous
	}
	if err := ss.Flush(sid); err == nil {
		t.Fatal("the isolated leader's store flushed")
	}
	select {
	case err := <-failures:
		t.Logf("OnFail: %v", err)
		if !strings.HasPrefix(err.Error(), sid.String()+": ") {
			t.Errorf("OnFail named another session: %v", err)
		}
	case <-time.After(waitDeadline):
		t.Fatal("OnFail was not called")
	}
	if err := st.IncrNextSenderMsgSeqNum(); err == nil {
		t.Error("the failed store took a mutation")
	}
	st.Close()
	select {
	case err := <-failures:
		t.Errorf("OnFail called again: %v", err)
	default:
	}
}

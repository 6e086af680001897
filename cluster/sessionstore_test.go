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
			if v.nextSender != st.NextSenderMsgSeqNum() || v.nextTarget != st.NextTargetMsgSeqNum() || v.messages.len() != st.NextSenderMsgSeqNum()-1 || v.reserved != 5000 {
				t.Fatalf("after the reservation the State holds next %d/%d, %d messages, reserved %d; the store next %d/%d",
					v.nextSender, v.nextTarget, v.messages.len(), v.reserved, st.NextSenderMsgSeqNum(), st.NextTargetMsgSeqNum())
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
		if v.messages.len() != len(want) {
			t.Fatalf("%s: %d messages, store %d", tn.id, v.messages.len(), len(want))
		}
		for i, m := range want {
			if !bytes.Equal(v.messages.get(i+1), m) {
				t.Fatalf("%s: message %d = %q, store %q", tn.id, i+1, v.messages.get(i+1), m)
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
	hold    chan struct{} // when set, each Apply waits for it to close
}

func (w *watchedState) Apply(index uint64, b []byte) error {
	w.mu.Lock()
	hold := w.hold
	w.mu.Unlock()
	if hold != nil {
		<-hold
	}
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
	w.waitUntil(t, func() bool { return w.AppliedIndex() >= i }, func() string {
		return fmt.Sprintf("applied index %d after %v, want %d", w.AppliedIndex(), waitDeadline, i)
	})
}

// waitUntil waits, on apply notifications, until cond holds, failing the
// test with what() after waitDeadline.
func (w *watchedState) waitUntil(t *testing.T, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.NewTimer(waitDeadline)
	defer deadline.Stop()
	for {
		w.mu.Lock()
		ch := w.changed
		w.mu.Unlock()
		if cond() {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatal(what())
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

// BenchmarkSessionOpen measures what a new leader's session store costs
// a session that sent n messages today (about 250 bytes each, as
// execution reports): the State's view of it and the store built on it
// (open, under the State's lock for the view), then a resend request's
// read of the last 100 messages, then a read of them all (the broker
// acceptor's restatement scans the whole store at its first logon).
//
//	go test -run '^$' -bench BenchmarkSessionOpen -benchmem ./cluster/
func BenchmarkSessionOpen(b *testing.B) {
	const n = 200_000
	s := NewState()
	const id = "FIX.4.4:GW->BROKER1"
	for seq := 1; seq <= n; seq++ {
		msg := fmt.Appendf(nil, "8=FIX.4.4\x019=200\x0135=8\x0134=%d\x0149=GW\x0156=BROKER1\x0152=20261203-10:00:00.000\x01"+
			"37=O%07d\x0111=C%07d\x0117=E%07d\x01150=0\x0139=0\x011=A1\x0155=600519\x01207=XSHG\x0154=1\x0140=2\x0144=1700\x0138=100\x01151=100\x0114=0\x016=0\x0110=000\x01",
			seq, seq, seq, seq)
		if err := s.Apply(uint64(seq), sessionRecord(opSent, id, uint64(seq), msg)); err != nil {
			b.Fatal(err)
		}
	}
	ss := &SessionStores{cfg: SessionStoresConfig{State: s, Clock: time.Now}, open: map[string]*messageStore{}}
	for _, bc := range []struct {
		name       string
		begin, end int
	}{{"open", 0, -1}, {"open+resend100", n - 99, n}, {"open+readAll", 1, n}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				st := ss.newStore(id, s.session(id))
				if bc.end < 0 {
					continue
				}
				msgs, err := st.GetMessages(bc.begin, bc.end)
				if err != nil || len(msgs) != bc.end-bc.begin+1 {
					b.Fatalf("%d messages, %v; want %d", len(msgs), err, bc.end-bc.begin+1)
				}
			}
		})
	}
}

// TestSessionViewIsPointInTime opens a store on the State's session (the
// two share the messages' slices), then changes each in the ways a
// session changes: neither sees the other's change, and the store reads
// ranges of what it holds in sequence order.
func TestSessionViewIsPointInTime(t *testing.T) {
	const id = "FIX.4.4:GW->BROKER1"
	msg := func(seq int) []byte { return fmt.Appendf(nil, "8=FIX.4.4\x0135=8\x0134=%d\x01", seq) }
	var before [][]byte
	var seqs []int
	for seq := 1; seq <= 40; seq += 3 { // with gaps, so a message can be inserted
		before = append(before, sessionRecord(opSent, id, uint64(seq), msg(seq)))
		seqs = append(seqs, seq)
	}
	read := func(get func(begin, end int) ([][]byte, error), begin, end int) string {
		t.Helper()
		msgs, err := get(begin, end)
		if err != nil {
			t.Fatal(err)
		}
		return string(bytes.Join(msgs, []byte("|")))
	}
	want := func(begin, end int) string {
		var msgs [][]byte
		for _, seq := range seqs {
			if seq >= begin && seq <= end {
				msgs = append(msgs, msg(seq))
			}
		}
		return string(bytes.Join(msgs, []byte("|")))
	}
	changes := []struct {
		name  string
		state [][]byte                             // applied to the State after the open
		store func(st quickfix.MessageStore) error // done on the store after the open
	}{
		{name: "appended", state: [][]byte{sessionRecord(opSent, id, 41, msg(41))},
			store: func(st quickfix.MessageStore) error {
				return st.SaveMessageAndIncrNextSenderMsgSeqNum(41, []byte("mine"))
			}},
		{name: "replaced", state: [][]byte{sessionRecord(opMessage, id, 4, []byte("changed"))},
			store: func(st quickfix.MessageStore) error { return st.SaveMessage(4, []byte("the store's")) }},
		{name: "inserted", state: [][]byte{sessionRecord(opMessage, id, 2, msg(2))},
			store: func(st quickfix.MessageStore) error { return st.SaveMessage(2, []byte("inserted")) }},
		{name: "reset", state: [][]byte{sessionRecord(opReset, id, 7, nil), sessionRecord(opSent, id, 1, []byte("new day"))},
			store: func(st quickfix.MessageStore) error { return st.Reset() }},
	}
	for _, tt := range changes {
		t.Run(tt.name, func(t *testing.T) {
			s := NewState()
			applyAll(t, s, before)
			ss := &SessionStores{cfg: SessionStoresConfig{State: s, Clock: time.Now}, open: map[string]*messageStore{}}
			st := ss.newStore(id, s.session(id))
			for i, r := range tt.state {
				if err := s.Apply(uint64(1000+i), r); err != nil {
					t.Fatal(err)
				}
			}
			ranges := [][2]int{{1, 40}, {0, 0}, {-3, 1}, {2, 3}, {2, 10}, {4, 4}, {38, 100}, {41, 50}, {5, 4}}
			for _, r := range ranges {
				if got, w := read(st.GetMessages, r[0], r[1]), want(r[0], r[1]); got != w {
					t.Fatalf("after the State changed, the store's messages %d to %d are %q; want %q", r[0], r[1], got, w)
				}
			}

			// The other way: the State's own view, then the store changes.
			view := s.session(id)
			held := func() string { return string(bytes.Join(view.messages.between(1, 100), []byte("|"))) }
			was := held()
			st = ss.newStore(id, view)
			if err := tt.store(st); err != nil {
				t.Fatal(err)
			}
			now := s.session(id)
			if now := string(bytes.Join(now.messages.between(1, 100), []byte("|"))); now != was {
				t.Fatalf("the store's change reached the State: %q, was %q", now, was)
			}
			if got := read(st.GetMessages, 1, 100); got == was {
				t.Fatal("the store's change changed nothing: the test proves nothing")
			}
		})
	}
}

package cluster

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestStoreBatchesEqualStore is a property test of a leader's session
// store: random quickfix calls (next sender and target set and
// incremented, messages saved over, between and after those held, sent,
// resets) on a store opened from a State that already holds messages,
// whose batches are handed over at random points, as the flusher takes
// them (the one being built too), and applied to the State. Whenever
// every batch is applied, the State holds what the store holds; the store
// reads back what it was given; the view the store was opened from, and a
// snapshot taken when it opened, keep what the State held then. No Node:
// the batches are applied to the State directly. Seeds are fixed; a
// failure names its seed and prints the calls (-state-seeds runs more).
func TestStoreBatchesEqualStore(t *testing.T) {
	for seed := range uint64(*stateSeeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			runStoreProp(t, seed)
		})
	}
}

func runStoreProp(t *testing.T, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x570e))
	const id = "FIX.4.4:GW->CORE"
	st := NewState()
	var index uint64
	apply := func(rec []byte) {
		t.Helper()
		index++
		if err := st.Apply(index, rec); err != nil {
			t.Fatalf("seed %d: apply at %d: %v", seed, index, err)
		}
	}
	msg := func(seq int) []byte { return fmt.Appendf(nil, "8=FIX.4.4\x0134=%d\x0158=%d\x01", seq, r.IntN(1000)) }
	for seq := 1; seq <= 1+r.IntN(20); seq++ {
		if r.IntN(3) != 0 {
			apply(sessionRecord(opSent, id, uint64(seq), msg(seq)))
		}
	}
	apply(sessionRecord(opTarget, id, uint64(1+r.IntN(9)), nil))
	apply(sessionRecord(opCreated, id, 7, nil))

	before, err := encodeState(st)
	if err != nil {
		t.Fatal(err)
	}
	snap, err := st.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	v := st.session(id)
	viewSeqs, viewMsgs := v.messages.all()

	clock := time.Unix(0, 1_700_000_000_000_000_000)
	ss := &SessionStores{cfg: SessionStoresConfig{State: st, Clock: func() time.Time {
		clock = clock.Add(time.Millisecond)
		return clock
	}}, open: map[string]*messageStore{}}
	ms := ss.newStore(id, v)
	model := map[int][]byte{}
	for i, seq := range viewSeqs {
		model[int(seq)] = viewMsgs[i]
	}
	var trace []string
	fail := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("seed %d: %s\ncalls:\n%s", seed, fmt.Sprintf(format, args...), strings.Join(trace, "\n"))
	}
	must := func(what string, err error) {
		t.Helper()
		trace = append(trace, what)
		if err != nil {
			fail("%s: %v", what, err)
		}
	}
	// take hands over the first batch, as the flusher does.
	take := func() {
		ms.mu.Lock()
		defer ms.mu.Unlock()
		if len(ms.batches) == 0 {
			return
		}
		b := ms.batches[0]
		ms.batches = ms.batches[1:]
		if len(ms.batches) == 0 {
			ms.batches = nil
			ms.targetAt, ms.senderAt = -1, -1
		}
		trace = append(trace, fmt.Sprintf("batch of %d bytes applied", len(b)))
		apply(b)
	}
	check := func() {
		t.Helper()
		for len(ms.batches) > 0 {
			take()
		}
		got := st.session(id)
		if got.nextSender != ms.nextSender || got.nextTarget != ms.nextTarget || got.created != ms.created.UnixNano() {
			fail("State next %d/%d created %d; store %d/%d %d", got.nextSender, got.nextTarget, got.created,
				ms.nextSender, ms.nextTarget, ms.created.UnixNano())
		}
		gotSeqs, gotMsgs := got.messages.all()
		msSeqs, msMsgs := ms.messages.all()
		if !slices.Equal(gotSeqs, msSeqs) || !slices.EqualFunc(gotMsgs, msMsgs, bytes.Equal) {
			fail("State messages %v; store %v", gotSeqs, msSeqs)
		}
		want := make([][]byte, 0, len(model))
		for _, seq := range slices.Sorted(maps.Keys(model)) {
			want = append(want, model[seq])
		}
		all, err := ms.GetMessages(1, maxSeqNum)
		if err != nil || !slices.EqualFunc(all, want, bytes.Equal) {
			fail("GetMessages = %d messages (%v); want %d", len(all), err, len(want))
		}
	}
	for range 200 {
		switch k := r.IntN(100); {
		case k < 10:
			n := 1 + r.IntN(30)
			must(fmt.Sprintf("SetNextSender %d", n), ms.SetNextSenderMsgSeqNum(n))
		case k < 20:
			n := 1 + r.IntN(30)
			must(fmt.Sprintf("SetNextTarget %d", n), ms.SetNextTargetMsgSeqNum(n))
		case k < 28:
			must("IncrNextSender", ms.IncrNextSenderMsgSeqNum())
		case k < 40:
			must("IncrNextTarget", ms.IncrNextTargetMsgSeqNum())
		case k < 55:
			seq := 1 + r.IntN(30)
			m := msg(seq)
			must(fmt.Sprintf("SaveMessage %d", seq), ms.SaveMessage(seq, m))
			model[seq] = m
		case k < 75:
			seq := ms.NextSenderMsgSeqNum()
			m := msg(seq)
			must(fmt.Sprintf("SaveMessageAndIncr %d", seq), ms.SaveMessageAndIncrNextSenderMsgSeqNum(seq, m))
			model[seq] = m
		case k < 79:
			must("Reset", ms.Reset())
			model = map[int][]byte{}
		case k < 92:
			take()
		default:
			check()
		}
	}
	check()

	if seqs, msgs := v.messages.all(); !slices.Equal(seqs, viewSeqs) || !slices.EqualFunc(msgs, viewMsgs, bytes.Equal) {
		fail("the view the store opened from changed")
	}
	var b bytes.Buffer
	if _, err := snap.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b.Bytes(), before) {
		fail("the snapshot taken as the store opened changed")
	}
}

package orders

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"sgw/journal"
)

// growingJournal is a journal whose records are committed a few at a
// time, as a cluster follower sees them: Replay reads the first n.
type growingJournal struct {
	mu   sync.Mutex
	recs memJournal
	n    int
}

func (j *growingJournal) commit(n int) { j.mu.Lock(); j.n = n; j.mu.Unlock() }

func (j *growingJournal) AppendAsync(byte, []byte, func(uint64, error)) error {
	return fmt.Errorf("growingJournal: read only")
}

func (j *growingJournal) Replay(fn func(journal.Record) error) error {
	j.mu.Lock()
	recs := j.recs[:j.n]
	j.mu.Unlock()
	return memJournal(recs).Replay(fn)
}

// afterJournal adds ReplayAfter, which reads nothing at or before seq;
// its Replay fails the test: a manager must not read the whole journal
// when it can read the tail.
type afterJournal struct {
	*growingJournal
	t *testing.T
}

func (j afterJournal) Replay(fn func(journal.Record) error) error {
	j.t.Error("Replay called on a journal with ReplayAfter")
	return j.growingJournal.Replay(fn)
}

func (j afterJournal) ReplayAfter(seq uint64, fn func(journal.Record) error) error {
	j.mu.Lock()
	recs := j.recs[:j.n]
	j.mu.Unlock()
	return memJournal(recs[min(int(seq), len(recs)):]).Replay(fn)
}

// shownOrder is what TestCatchUpThenRecover compares of an order.
type shownOrder struct {
	ClOrdID, UpstreamID string
	Status              Status
	CumQty, LeavesQty   int64
}

func shown(m *Manager) []shownOrder {
	var out []shownOrder
	for _, o := range m.OrdersFrom(src) {
		out = append(out, shownOrder{o.ClOrdID, o.UpstreamID, o.Status, o.CumQty, o.LeavesQty})
	}
	return out
}

// TestCatchUpThenRecover keeps a standby manager warm while the journal
// grows (CatchUp at points inside and between replay batches), adds its
// upstream, then recovers it: Recover replays only the tail, and the
// manager ends exactly as one that replayed the whole journal at once:
// the orders, the account, the orders left to resolve at logon and the
// upstream's inbound resume point.
func TestCatchUpThenRecover(t *testing.T) {
	const orders = 3*replayBatch + 17
	day := dayJournal(t, orders)
	// The last order is open: accepted and acknowledged, not filled.
	day = day[:len(day)-1]
	cuts := []int{0, 1, 2, replayBatch - 1, replayBatch, 2*replayBatch + 5, len(day) - 40}

	for _, tt := range []struct {
		name  string
		after bool // the journal reads from a seq on (cluster.Journal)
	}{{"Replay", false}, {"ReplayAfter", true}} {
		t.Run(tt.name, func(t *testing.T) {
			g := &growingJournal{recs: day}
			var j Journal = g
			if tt.after {
				j = afterJournal{g, t}
			}
			warm := dayManagerNoUpstream(t, j, orders)
			t.Cleanup(warm.Close)
			total := 0
			for _, n := range cuts {
				g.commit(n)
				got, err := warm.CatchUp()
				if err != nil {
					t.Fatalf("CatchUp at %d records: %v", n, err)
				}
				total += got
				if total != n || warm.Replayed() != uint64(n) {
					t.Fatalf("after CatchUp at %d records: %d applied in all, Replayed %d", n, total, warm.Replayed())
				}
			}
			g.commit(len(day))
			up := newFakeUpstream()
			warm.AddUpstream("core", up)
			tail, err := warm.Recover()
			if err != nil || tail != len(day)-cuts[len(cuts)-1] {
				t.Fatalf("Recover of the warm manager = %d, %v; want the %d records of the tail", tail, err, len(day)-cuts[len(cuts)-1])
			}

			cold, n, err := recoverDay(t, memJournal(day), orders)
			if err != nil || n != len(day) {
				t.Fatalf("Recover = %d, %v", n, err)
			}
			if w, c := shown(warm), shown(cold); !slices.Equal(w, c) {
				t.Errorf("the warm manager's orders differ from a full replay's (%d and %d orders)", len(w), len(c))
			}
			wa, err1 := warm.Account("A1")
			ca, err2 := cold.Account("A1")
			if err1 != nil || err2 != nil || fmt.Sprint(wa) != fmt.Sprint(ca) {
				t.Errorf("account A1: warm %+v (%v), full replay %+v (%v)", wa, err1, ca, err2)
			}
			if w, c := len(warm.routes["core"].recovery), len(cold.routes["core"].recovery); w != 1 || c != 1 {
				t.Errorf("orders to resolve at logon: warm %d, full replay %d; want 1", w, c)
			}
			coldUp := cold.routes["core"].up.(*fakeUpstream)
			if up.resumeAfter == 0 || up.resumeAfter != coldUp.resumeAfter {
				t.Errorf("inbound resumes after %d (warm), %d (full replay)", up.resumeAfter, coldUp.resumeAfter)
			}
		})
	}
}

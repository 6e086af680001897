package orders

import (
	"context"
	"errors"
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
				got, err := warm.CatchUp(t.Context())
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

			sameAsFullReplay(t, warm, up, day, orders)
		})
	}
}

// sameAsFullReplay checks that warm, recovered with up as its "core"
// upstream, ends exactly as a manager that replayed day at once: the
// orders, the account, the one order left to resolve at logon and the
// upstream's inbound resume point.
func sameAsFullReplay(t *testing.T, warm *Manager, up *fakeUpstream, day memJournal, orders int) {
	t.Helper()
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
}

// stopAt is a journal that ends ctx's cancel as its reader reaches the
// record at index at.
type stopAt struct {
	*growingJournal
	at     int
	cancel context.CancelFunc
}

func (j stopAt) Replay(fn func(journal.Record) error) error {
	i := 0
	return j.growingJournal.Replay(func(r journal.Record) error {
		if i == j.at {
			j.cancel()
		}
		i++
		return fn(r)
	})
}

// TestCatchUpStops stops a standby's catch-up part way through, as a node
// that is taking over or stopping does: CatchUp returns the context's
// error at the next replay batch, having applied what it read, and the
// manager goes on from there: a second CatchUp and a Recover end exactly
// as a full replay.
func TestCatchUpStops(t *testing.T) {
	const orders = 3*replayBatch + 17
	day := dayJournal(t, orders)
	day = day[:len(day)-1] // the last order open, as in TestCatchUpThenRecover
	for _, at := range []int{0, 1, replayBatch - 1, replayBatch, replayBatch + 1} {
		t.Run(fmt.Sprintf("at=%d", at), func(t *testing.T) {
			g := &growingJournal{recs: day, n: len(day)}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			warm := dayManagerNoUpstream(t, stopAt{g, at, cancel}, orders)
			t.Cleanup(warm.Close)
			n, err := warm.CatchUp(ctx)
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("CatchUp = %d, %v; want context.Canceled", n, err)
			}
			// The replay stops where the next batch would start: at the
			// record that cancelled if it starts one, after its batch
			// otherwise.
			want := (at + replayBatch - 1) / replayBatch * replayBatch
			if n != want || warm.Replayed() != uint64(want) {
				t.Fatalf("stopped after %d records read, Replayed %d; want %d", n, warm.Replayed(), want)
			}
			rest, err := warm.CatchUp(t.Context())
			if err != nil || rest != len(day)-want {
				t.Fatalf("second CatchUp = %d, %v; want %d", rest, err, len(day)-want)
			}
			up := newFakeUpstream()
			warm.AddUpstream("core", up)
			if tail, err := warm.Recover(); err != nil || tail != 0 {
				t.Fatalf("Recover = %d, %v; want nothing left", tail, err)
			}
			sameAsFullReplay(t, warm, up, day, orders)
		})
	}
}

package mdbus

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"

	"sgw/orderbook"
)

// stallHandler is a slog handler that, once armed, holds the goroutine
// logging a record with message msg (the edge's loop) until released.
type stallHandler struct {
	msg     string
	armed   atomic.Bool
	blocked chan struct{}
	release chan struct{}
}

func (h *stallHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *stallHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg && h.armed.CompareAndSwap(true, false) {
		close(h.blocked)
		<-h.release
	}
	return nil
}
func (h *stallHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *stallHandler) WithGroup(string) slog.Handler      { return h }

// handPub is a publisher written by hand on subject prefix "t": status
// updates of empty books, and snapshots at each symbol's last update
// (reply, when set, writes them instead).
type handPub struct {
	t     testing.TB
	nc    *nats.Conn
	epoch uint64
	mu    sync.Mutex
	last  map[string]orderbook.Update
	reply func(sym string) []byte
}

var emptyCk10, emptyCk5 = orderbook.Checksum(nil, nil, 10), orderbook.Checksum(nil, nil, 5)

func newHandPub(t testing.TB, n *natsServer, epoch uint64) *handPub {
	p := &handPub{t: t, nc: n.connect(t), epoch: epoch, last: map[string]orderbook.Update{}}
	if _, err := p.nc.Subscribe("t.snap.>", func(m *nats.Msg) {
		sym := strings.TrimPrefix(m.Subject, "t.snap.")
		p.mu.Lock()
		u, f := p.last[sym], p.reply
		p.mu.Unlock()
		if f != nil {
			m.Respond(f(sym))
			return
		}
		v := orderbook.View{Seq: u.Seq, State: u.State, Checksum: emptyCk10, Checksum5: emptyCk5}
		m.Respond(AppendSnapshot(nil, p.epoch, sym, &v))
	}); err != nil {
		t.Fatal(err)
	}
	if err := p.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	return p
}

// send publishes a status update of sym; a seq at or below the last one
// sent is published without changing what snapshots show.
func (p *handPub) send(sym string, seq uint64, state orderbook.TradingState) {
	u := orderbook.Update{Seq: seq, Kind: orderbook.KindStatus, State: state, Checksum: emptyCk10, Checksum5: emptyCk5}
	p.mu.Lock()
	if seq > p.last[sym].Seq {
		p.last[sym] = u
	}
	p.mu.Unlock()
	if err := p.nc.Publish("t.d."+sym, AppendUpdate(nil, p.epoch, sym, &u)); err != nil {
		p.t.Fatal(err)
	}
}

// runEdge runs an edge of cfg until the test ends.
func runEdge(t testing.TB, cfg EdgeConfig) *Edge {
	t.Helper()
	return startEdgeWith(t, cfg).Edge
}

// oneSymbol runs a hand publisher of epoch 7 of one symbol at seq 5,
// trading, and an edge that has loaded its snapshot.
func oneSymbol(t testing.TB) (*natsServer, string, *handPub, *Edge) {
	t.Helper()
	n := startNATS(t)
	ins := testInstruments(1)
	p := newHandPub(t, n, 7)
	p.send(ins[0].Symbol, 5, orderbook.StateTrading)
	e := runEdge(t, EdgeConfig{Conn: n.connect(t), Books: orderbook.Config{Instruments: ins, Shards: 1}, Subject: "t"})
	waitFor(t, "the first snapshot", func() bool { return e.Stale() == 0 })
	return n, ins[0].Symbol, p, e
}

// view returns the edge's view of symbol id, and whether any symbol is
// stale.
func view(e *Edge, id orderbook.SymbolID) (orderbook.View, bool) {
	var v orderbook.View
	e.Engine().View(id, 20, &v)
	return v, e.Stale() > 0
}

// TestEdgeSlowConsumerDropsTail: NATS drops a symbol's last update for an
// edge whose buffer is full (a slow consumer). No later update of that
// symbol reveals a gap, yet the edge must not serve the old state as
// valid: it reads the drop count, marks every symbol stale and rebuilds
// them from snapshots.
func TestEdgeSlowConsumerDropsTail(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(2)
	symA, symB := ins[0].Symbol, ins[1].Symbol
	p := newHandPub(t, n, 7)
	p.send(symA, 1, orderbook.StateTrading)
	p.send(symB, 1, orderbook.StateTrading)
	econn := n.connect(t)
	h := &stallHandler{msg: "mdbus: symbol stale; requesting a snapshot", blocked: make(chan struct{}), release: make(chan struct{})}
	e := runEdge(t, EdgeConfig{Conn: econn, Books: orderbook.Config{Instruments: ins, Shards: 1}, Subject: "t", Buffer: 2,
		Log: slog.New(h)})
	waitFor(t, "the first snapshots", func() bool { return e.Stale() == 0 })

	h.armed.Store(true)
	p.send(symB, 3, orderbook.StateTrading) // a gap on B: the loop logs it, and stalls there
	<-h.blocked
	p.send(symA, 2, orderbook.StateTrading)
	p.send(symA, 3, orderbook.StateTrading)
	p.send(symA, 4, orderbook.StateHalted) // the buffer holds two: NATS drops this one
	if err := p.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := econn.Flush(); err != nil { // the edge's connection has read all three
		t.Fatal(err)
	}
	close(h.release)
	waitFor(t, "the edge to serve A halted at seq 4", func() bool {
		v, stale := view(e, 0)
		return !stale && v.Seq == 4 && v.State == orderbook.StateHalted
	})
	if st := e.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v: no drop counted", st)
	}
}

// TestEdgeFarAheadUpdate: one update far ahead of a symbol's stream (a
// stray or hostile message of the current epoch) costs one snapshot, not
// one after every snapshot: the updates kept while stale that do not
// follow the snapshot loaded are dropped.
func TestEdgeFarAheadUpdate(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	before := e.Stats()
	// Published by hand, so the publisher's snapshots stay at seq 5.
	stray := orderbook.Update{Seq: 1_000_000, Kind: orderbook.KindStatus, State: orderbook.StateTrading, Checksum: emptyCk10, Checksum5: emptyCk5}
	if err := p.nc.Publish("t.d."+sym, AppendUpdate(nil, 7, sym, &stray)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the gap and one snapshot", func() bool {
		st := e.Stats()
		return st.Gaps == before.Gaps+1 && st.Snapshots == before.Snapshots+1 && st.Stale == 0
	})
	// The stream goes on from seq 6; the edge follows it.
	p.send(sym, 6, orderbook.StateHalted)
	waitFor(t, "seq 6", func() bool {
		v, stale := view(e, 0)
		return !stale && v.Seq == 6 && v.State == orderbook.StateHalted
	})
	if st := e.Stats(); st.Snapshots != before.Snapshots+1 {
		t.Errorf("%d snapshots loaded for one stray update; want 1", st.Snapshots-before.Snapshots)
	}
}

// TestEdgeSnapshotOfAnotherSymbol: a snapshot reply naming another symbol
// than the one asked for is refused (and asked again), never loaded.
func TestEdgeSnapshotOfAnotherSymbol(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	p := newHandPub(t, n, 7)
	var wrong atomic.Bool
	wrong.Store(true)
	p.reply = func(sym string) []byte {
		v := orderbook.View{Seq: 42, State: orderbook.StateTrading, Checksum: emptyCk10, Checksum5: emptyCk5}
		if wrong.Load() {
			sym = "ZZZ.XX"
		}
		return AppendSnapshot(nil, 7, sym, &v)
	}
	e := runEdge(t, EdgeConfig{Conn: n.connect(t), Books: orderbook.Config{Instruments: ins, Shards: 1}, Subject: "t"})
	waitFor(t, "a refused reply", func() bool { return e.Stats().Failed > 0 })
	if st := e.Stats(); st.Snapshots != 0 || st.Stale != 1 {
		t.Fatalf("stats %+v: a snapshot of another symbol was loaded", st)
	}
	wrong.Store(false)
	waitFor(t, "the right snapshot", func() bool { v, stale := view(e, 0); return !stale && v.Seq == 42 })
}

// TestEdgeEpochGoesBack: the ingest starts again under a lower epoch (its
// state wiped, or a clock stepped back). The edge does not ignore it for
// ever, serving frozen books as valid: once the bus has carried only the
// older epoch for epochTakeover, it follows it and rebuilds every symbol.
func TestEdgeEpochGoesBack(t *testing.T) {
	n, sym, p, e := oneSymbol(t)
	p.nc.Close() // the ingest stops; another starts, under epoch 3
	p2 := newHandPub(t, n, 3)
	seq := uint64(0)
	waitFor(t, "the edge to follow epoch 3", func() bool {
		seq++
		p2.send(sym, seq, orderbook.StateHalted)
		v, stale := view(e, 0)
		return !stale && v.State == orderbook.StateHalted
	})
	if st := e.Stats(); st.OldEpoch == 0 {
		t.Errorf("stats %+v: no message of an older epoch counted", st)
	}
}

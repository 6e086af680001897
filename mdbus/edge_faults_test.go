package mdbus

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sgw/orderbook"
	"sgw/refdata"
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

// stalled waits for e's loop to stall in h (h's message logged while it
// was armed), at what, for at most testBound.
func (h *stallHandler) stalled(t *testing.T, e *Edge, what string) {
	t.Helper()
	select {
	case <-h.blocked:
	case <-time.After(testBound):
		t.Fatalf("the edge's loop did not reach %s in %v (stats %+v)", what, testBound, e.Stats())
	}
}

// handPub is a publisher written by hand on subject prefix "t": status
// updates of empty books, and snapshots at each symbol's last update
// (reply, when set, writes them instead, or none when it returns nil).
type handPub struct {
	t     testing.TB
	nc    *nats.Conn
	epoch uint64
	mu    sync.Mutex
	last  map[string]orderbook.Update
	reply func(sym string) []byte
	gate  chan struct{} // for reply's use
	asked atomic.Int64  // snapshot requests received
	hold  sync.Mutex    // held by beat: a test holds it to keep heartbeats out of a burst
}

var emptyCk10, emptyCk5 = orderbook.Checksum(nil, nil, 10), orderbook.Checksum(nil, nil, 5)

func newHandPub(t testing.TB, n *natsServer, epoch uint64) *handPub {
	p := &handPub{t: t, nc: n.connect(t), epoch: epoch, last: map[string]orderbook.Update{}}
	if _, err := p.nc.Subscribe("t.snap.>", func(m *nats.Msg) {
		sym := strings.TrimPrefix(m.Subject, "t.snap.")
		p.asked.Add(1)
		p.mu.Lock()
		u, f := p.last[sym], p.reply
		p.mu.Unlock()
		if f != nil {
			if b := f(sym); b != nil {
				m.Respond(b)
			}
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
	u := p.lose(sym, seq, state)
	if err := p.nc.Publish("t.d."+sym, AppendUpdate(nil, p.epoch, sym, &u)); err != nil {
		p.t.Fatal(err)
	}
}

// lose makes a status update of sym that snapshots and heartbeats show,
// but does not publish it, and returns it.
func (p *handPub) lose(sym string, seq uint64, state orderbook.TradingState) orderbook.Update {
	u := orderbook.Update{Seq: seq, Kind: orderbook.KindStatus, State: state, Checksum: emptyCk10, Checksum5: emptyCk5}
	p.mu.Lock()
	if seq > p.last[sym].Seq {
		p.last[sym] = u
	}
	p.mu.Unlock()
	return u
}

// stray publishes u of sym on the bus by hand, so the publisher's
// snapshots stay where they were, and waits until e, from its stats
// before, counted one gap and loaded one snapshot, nothing stale.
func (p *handPub) stray(e *Edge, sym string, u orderbook.Update, before EdgeStats, what string) {
	p.t.Helper()
	if err := p.nc.Publish("t.d."+sym, AppendUpdate(nil, p.epoch, sym, &u)); err != nil {
		p.t.Fatal(err)
	}
	waitFor(p.t, what, func() bool {
		st := e.Stats()
		return st.Gaps == before.Gaps+1 && st.Snapshots == before.Snapshots+1 && st.Stale == 0
	})
}

// beat publishes a heartbeat of every symbol sent or lost.
func (p *handPub) beat() {
	p.hold.Lock()
	defer p.hold.Unlock()
	p.mu.Lock()
	b := AppendHeartbeat(nil, p.epoch, len(p.last))
	for sym, u := range p.last {
		b = AppendBeat(b, sym, u.Seq)
	}
	p.mu.Unlock()
	if err := p.nc.Publish("t.hb", b); err != nil {
		p.t.Fatal(err)
	}
}

// handEdge is the config of an edge of ins on prefix "t" that hears a
// hand publisher, which beats only when told: the publisher's silence
// goes unnoticed unless a test sets Silence.
func handEdge(conn *nats.Conn, ins []refdata.Instrument) EdgeConfig {
	return EdgeConfig{Conn: conn, Books: orderbook.Config{Instruments: ins, Shards: 1}, Subject: "t", Silence: time.Hour}
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
	e := runEdge(t, handEdge(n.connect(t), ins))
	waitFor(t, "the first snapshot", func() bool { return e.Stale() == 0 })
	return n, ins[0].Symbol, p, e
}

// servedAt waits until the edge serves its first symbol at seq, in
// state, and no symbol is stale.
func servedAt(t testing.TB, e *Edge, seq uint64, state orderbook.TradingState) {
	t.Helper()
	waitFor(t, fmt.Sprintf("the edge to serve seq %d, %v", seq, state), func() bool {
		v, stale := view(e, 0)
		return !stale && v.Seq == seq && v.State == state
	})
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
	cfg := handEdge(econn, ins)
	cfg.Buffer = 2
	e, h, release := stallingEdge(t, cfg, "mdbus: symbol stale; requesting a snapshot")

	h.armed.Store(true)
	p.send(symB, 3, orderbook.StateTrading) // a gap on B: the loop logs it, and stalls there
	h.stalled(t, e, "B's gap")
	p.send(symA, 2, orderbook.StateTrading)
	p.send(symA, 3, orderbook.StateTrading)
	p.send(symA, 4, orderbook.StateHalted) // the buffers hold two: this one is dropped
	if err := p.nc.Flush(); err != nil {
		t.Fatal(err)
	}
	// A's seq 4 is dropped by NATS (raw full: forward starved) or by
	// forward (msgs full), and marked either way (dropMark: NATS's once
	// forward takes seq 2). Released before that, the loop made room for
	// it, and nothing was dropped (seen once in a full -race run).
	waitFor(t, "A's last update dropped", func() bool { return e.dropMark.Load() > 0 })
	release()
	servedAt(t, e, 4, orderbook.StateHalted)
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
	p.stray(e, sym, stray, before, "the gap and one snapshot")
	// The stream goes on from seq 6; the edge follows it.
	p.send(sym, 6, orderbook.StateHalted)
	servedAt(t, e, 6, orderbook.StateHalted)
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
	e := runEdge(t, handEdge(n.connect(t), ins))
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

// TestEdgeHeartbeatRevealsLostTail: a symbol's last update never reaches
// the edge (the publisher failed to publish it, or skipped it), and the
// symbol goes quiet, so no gap reveals the loss. The next heartbeat names
// a later Seq than the edge holds: the symbol goes stale and is rebuilt.
func TestEdgeHeartbeatRevealsLostTail(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	p.lose(sym, 6, orderbook.StateHalted)
	p.beat()
	servedAt(t, e, 6, orderbook.StateHalted)
	if st := e.Stats(); st.Lost != 1 || st.Gaps != 0 {
		t.Errorf("stats %+v: want the loss counted once, by the heartbeat", st)
	}
}

// TestEdgeHeartbeatOfSymbolsNotCarried: a heartbeat naming symbols the
// edge does not carry, and its own at the Seq it holds, changes nothing.
func TestEdgeHeartbeatOfSymbolsNotCarried(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	before := e.Stats()
	b := AppendHeartbeat(nil, 7, 2)
	b = AppendBeat(b, "999999.SZ", 1_000_000)
	b = AppendBeat(b, sym, 5)
	if err := p.nc.Publish("t.hb", b); err != nil {
		t.Fatal(err)
	}
	p.send(sym, 6, orderbook.StateHalted) // follows the heartbeat on the bus
	waitFor(t, "seq 6", func() bool { v, _ := view(e, 0); return v.Seq == 6 })
	if st := e.Stats(); st.Lost != 0 || st.Snapshots != before.Snapshots || st.Stale != 0 {
		t.Errorf("stats %+v: the heartbeat changed something", st)
	}
}

// TestEdgeSilentPublisher: the publisher stops beating (its node died, or
// its link to NATS is cut) while the edge stays connected. The edge does
// not serve its books as valid for ever: after Silence every symbol is
// stale, and snapshots, which the publisher may still answer, are not
// loaded until a heartbeat shows its stream reaches the edge again.
func TestEdgeSilentPublisher(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	p := newHandPub(t, n, 7)
	p.send(ins[0].Symbol, 5, orderbook.StateTrading)
	cfg := handEdge(n.connect(t), ins)
	cfg.Silence, cfg.RetryInterval = 300*time.Millisecond, 10*time.Millisecond
	e := runEdge(t, cfg)
	waitFor(t, "the publisher's silence", func() bool { st := e.Stats(); return st.Silences == 1 && st.Stale == 1 })
	waitFor(t, "a snapshot refused while silent", func() bool { return e.Stats().Failed > 0 })
	if _, stale := view(e, 0); !stale {
		t.Fatal("a snapshot was loaded while the publisher was silent")
	}
	if !e.Stats().Silent {
		t.Error("Stats: not Silent while the publisher is silent (/readyz names the silence by it)")
	}
	before := e.Stats().Snapshots
	beating(t, p, 20*time.Millisecond)
	waitFor(t, "the snapshot after a heartbeat, no longer silent", func() bool { st := e.Stats(); return st.Snapshots > before && !st.Silent })
}

// TestEdgeSilentAsksNothing: while the publisher is silent (the ingest is
// down, or its cluster has no leader) the edge asks for no snapshot after
// the round it asks as it falls silent, and asks for every stale symbol
// at the first heartbeat. Before, it asked for every stale symbol every
// RetryInterval for as long as the silence lasted: with a day's
// instruments, thousands of requests a second from each edge, each
// answered "no responders", while the operators brought the ingest back.
func TestEdgeSilentAsksNothing(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(3)
	p := newHandPub(t, n, 7)
	for _, in := range ins {
		p.send(in.Symbol, 5, orderbook.StateTrading)
	}
	cfg := handEdge(n.connect(t), ins)
	cfg.Silence, cfg.RetryInterval = 300*time.Millisecond, 10*time.Millisecond
	e := runEdge(t, cfg)
	waitFor(t, "the publisher's silence", func() bool { st := e.Stats(); return st.Silences == 1 && st.Stale == 3 })
	waitFor(t, "the round asked at the silence, refused", func() bool { return e.Stats().Failed >= 3 })
	failed := e.Stats().Failed
	// Fifty retry intervals: a retry would have asked again by now.
	for deadline := time.Now().Add(50 * cfg.RetryInterval); time.Now().Before(deadline); time.Sleep(cfg.RetryInterval) {
		if st := e.Stats(); st.Failed != failed {
			t.Fatalf("stats %+v: snapshots asked for again while the publisher is silent (failed %d, then %d)", st, failed, st.Failed)
		}
	}
	before := e.Stats().Snapshots
	beating(t, p, 20*time.Millisecond)
	waitFor(t, "every symbol's snapshot after the first heartbeat", func() bool {
		st := e.Stats()
		return st.Stale == 0 && st.Snapshots >= before+3
	})
}

// beating makes p beat every interval until the test ends, and returns
// the longest time between two beats, in ns, so far.
func beating(t *testing.T, p *handPub, interval time.Duration) *atomic.Int64 {
	stop, done := make(chan struct{}), make(chan struct{})
	var maxGap atomic.Int64
	go func() {
		defer close(done)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		last := time.Now()
		for {
			p.beat()
			if g := int64(time.Since(last)); g > maxGap.Load() {
				maxGap.Store(g)
			}
			last = time.Now()
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return &maxGap
}

// TestEdgeReconnectEndsNoSilence: a reconnection to NATS is no sign of the
// publisher's life: an edge that took it for silent still loads no
// snapshot until a heartbeat comes.
func TestEdgeReconnectEndsNoSilence(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	p := newHandPub(t, n, 7)
	p.send(ins[0].Symbol, 5, orderbook.StateTrading)
	econn := n.connect(t)
	cfg := handEdge(econn, ins)
	cfg.Silence, cfg.RetryInterval = 300*time.Millisecond, 10*time.Millisecond
	e := runEdge(t, cfg)
	waitFor(t, "the publisher's silence", func() bool { st := e.Stats(); return st.Silences == 1 && st.Stale == 1 })
	// Its one request as it fell silent, refused; no other until a
	// heartbeat (TestEdgeSilentAsksNothing).
	waitFor(t, "the snapshot asked for at the silence, refused", func() bool { return e.Stats().Failed >= 1 })
	silent := e.Stats()
	n.restart(func() { waitFor(t, "the disconnection", func() bool { return e.Stats().Disconnects == 1 }) })
	waitFor(t, "the reconnections", func() bool { return econn.Stats().Reconnects >= 1 && p.nc.Stats().Reconnects >= 1 })
	if err := p.nc.Flush(); err != nil { // the publisher answers again
		t.Fatal(err)
	}
	waitFor(t, "a snapshot asked for and answered after the reconnection", func() bool {
		st := e.Stats()
		return st.Failed > silent.Failed || st.Snapshots > silent.Snapshots
	})
	if st := e.Stats(); st.Snapshots != silent.Snapshots || st.Stale != 1 || st.Silences != 1 {
		t.Fatalf("stats %+v: a snapshot loaded after a reconnection, no heartbeat heard", st)
	}
}

// TestEdgeBacklogIsNoSilence: heartbeats waiting in the edge's queue
// behind a backlog that takes its loop longer than Silence to work
// through are not the publisher's silence: the edge decides once it has
// caught up.
func TestEdgeBacklogIsNoSilence(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(150)
	p := newHandPub(t, n, 7)
	for _, in := range ins {
		p.send(in.Symbol, 1, orderbook.StateTrading)
	}
	slow := &slowHandler{msg: "mdbus: symbol stale; requesting a snapshot", d: 10 * time.Millisecond}
	cfg := handEdge(n.connect(t), ins)
	cfg.Silence, cfg.Log = time.Second, slog.New(slow)
	e := runEdge(t, cfg)
	maxGap := beating(t, p, 20*time.Millisecond)
	waitFor(t, "the first snapshots", func() bool { return e.Stale() == 0 })

	// A gap on every symbol, sent at once: the loop takes 150 × 10 ms to
	// log them, the heartbeats queued behind.
	slow.on.Store(true)
	p.hold.Lock()
	for _, in := range ins {
		p.send(in.Symbol, 3, orderbook.StateTrading)
	}
	p.hold.Unlock()
	waitFor(t, "every symbol at seq 3", func() bool {
		if e.Stale() != 0 {
			return false
		}
		for i := range ins {
			if v, _ := view(e, orderbook.SymbolID(i)); v.Seq != 3 {
				return false
			}
		}
		return true
	})
	if st := e.Stats(); st.Silences != 0 {
		if g := time.Duration(maxGap.Load()); g >= cfg.Silence {
			t.Skipf("the test's publisher itself paused %v (a loaded machine)", g)
		}
		t.Fatalf("stats %+v: heartbeats in the edge's backlog taken for silence", st)
	}
}

// slowHandler is a slog handler that, once on, takes d over each record
// with message msg: an edge's loop with work to do.
type slowHandler struct {
	msg string
	d   time.Duration
	on  atomic.Bool
}

func (h *slowHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *slowHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg && h.on.Load() {
		time.Sleep(h.d) // work, not synchronization
	}
	return nil
}
func (h *slowHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *slowHandler) WithGroup(string) slog.Handler      { return h }

// TestEdgeHeartbeatWhileStale: a heartbeat heard while a symbol is stale
// names an update that is lost, and the snapshot that comes next was
// taken before it: the edge does not load it (not even for a moment, as
// valid) but asks again.
func TestEdgeHeartbeatWhileStale(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	sym := ins[0].Symbol
	p := newHandPub(t, n, 7)
	p.send(sym, 5, orderbook.StateTrading)
	// The first reply is the book at seq 5, whatever the publisher has
	// reached since; then the current one.
	var first atomic.Bool
	first.Store(true)
	p.reply = func(string) []byte {
		p.mu.Lock()
		u := p.last[sym]
		p.mu.Unlock()
		if first.Swap(false) {
			<-p.gate
			u = orderbook.Update{Seq: 5, State: orderbook.StateTrading}
		}
		v := orderbook.View{Seq: u.Seq, State: u.State, Checksum: emptyCk10, Checksum5: emptyCk5}
		return AppendSnapshot(nil, 7, sym, &v)
	}
	p.gate = make(chan struct{})
	e := runEdge(t, handEdge(n.connect(t), ins))
	// While the edge waits for that reply, seq 6 is lost and a heartbeat
	// names it.
	waitFor(t, "the edge's first request", func() bool { return p.asked.Load() > 0 })
	p.lose(sym, 6, orderbook.StateHalted)
	p.beat()
	waitFor(t, "the edge to take the heartbeat", func() bool { return e.Stats().Heartbeats == 1 })
	close(p.gate)
	servedAt(t, e, 6, orderbook.StateHalted)
	if st := e.Stats(); st.Snapshots != 1 || st.Lost != 1 || p.asked.Load() != 2 {
		t.Errorf("stats %+v, %d requests: want the first snapshot found short of the heartbeat, not loaded, and a second loaded", st, p.asked.Load())
	}
}

// TestEdgeDuplicateNotApplied: an update the edge already holds (a
// duplicate delivery) is counted as such, not as applied, and changes
// nothing.
func TestEdgeDuplicateNotApplied(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	before := e.Stats()
	p.send(sym, 5, orderbook.StateHalted) // seq 5 again
	p.send(sym, 6, orderbook.StateTrading)
	// The mirror serves seq 6 a moment before the edge counts it applied:
	// wait for the count. Seq 5 came first on the same loop, so its count
	// is in by then.
	waitFor(t, "seq 6 applied", func() bool { return e.Stats().Updates > before.Updates })
	if v, _ := view(e, 0); v.Seq != 6 {
		t.Fatalf("view at seq %d after seq 6 applied", v.Seq)
	}
	st := e.Stats()
	if st.Duplicates != before.Duplicates+1 || st.Updates != before.Updates+1 {
		t.Fatalf("stats %+v (before %+v): want one duplicate and one update applied", st, before)
	}
	if v, stale := view(e, 0); stale || v.State != orderbook.StateTrading {
		t.Fatalf("view %+v stale %v", v, stale)
	}
}

// TestEdgeHeartbeatFarAhead: a heartbeat naming a seq far ahead of a
// symbol's stream (a stray or hostile message of the epoch, or a
// publisher's bug) costs one snapshot. Before, the edge kept the seq for
// the whole epoch: every snapshot fell short of it, so the symbol went
// stale again at once and was asked for again with no pause, for ever.
func TestEdgeHeartbeatFarAhead(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	before := e.Stats()
	// Published by hand, so the publisher's snapshots stay at seq 5.
	b := AppendBeat(AppendHeartbeat(nil, 7, 1), sym, 1_000_000)
	if err := p.nc.Publish("t.hb", b); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the loss and a snapshot", func() bool {
		st := e.Stats()
		return st.Lost > before.Lost && st.Snapshots > before.Snapshots
	})
	// The stream goes on from seq 6; the edge follows it.
	p.send(sym, 6, orderbook.StateHalted)
	waitFor(t, "seq 6", func() bool { v, _ := view(e, 0); return v.Seq == 6 })
	if st := e.Stats(); st.Snapshots != before.Snapshots+1 || st.Lost != before.Lost+1 {
		t.Fatalf("stats %+v (before %+v): want one loss and one snapshot for one stray heartbeat", st, before)
	}
	servedAt(t, e, 6, orderbook.StateHalted)
}

// TestEdgeSnapshotBehindUpdateKept: a symbol is stale and its snapshot
// requested; before the reply comes, updates are lost and a later one
// arrives and is kept. The reply, taken before the lost updates, does not
// reach the one kept: the edge does not serve it as valid (before, it
// dropped the update kept and served the older book until another update
// or a heartbeat showed the gap) but asks again.
func TestEdgeSnapshotBehindUpdateKept(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	// The next reply is the book at seq 7, held until the test lets it
	// go; then the current one.
	var first atomic.Bool
	first.Store(true)
	p.gate = make(chan struct{})
	p.mu.Lock()
	p.reply = func(string) []byte {
		p.mu.Lock()
		u := p.last[sym]
		p.mu.Unlock()
		if first.Swap(false) {
			<-p.gate
			u = orderbook.Update{Seq: 7, State: orderbook.StateTrading}
		}
		v := orderbook.View{Seq: u.Seq, State: u.State, Checksum: emptyCk10, Checksum5: emptyCk5}
		return AppendSnapshot(nil, 7, sym, &v)
	}
	p.mu.Unlock()
	asked := p.asked.Load()
	p.lose(sym, 6, orderbook.StateTrading)
	p.send(sym, 7, orderbook.StateTrading) // a gap: the edge asks
	waitFor(t, "the edge's request", func() bool { return p.asked.Load() > asked })
	p.lose(sym, 8, orderbook.StateTrading)
	p.lose(sym, 9, orderbook.StateTrading)
	p.send(sym, 10, orderbook.StateHalted)
	// A heartbeat of another symbol: once the edge has taken it, it has
	// kept seq 10, which came before it.
	hb := AppendBeat(AppendHeartbeat(nil, 7, 1), "999999.SZ", 1)
	if err := p.nc.Publish("t.hb", hb); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edge to take the heartbeat", func() bool { return e.Stats().Heartbeats == 1 })
	close(p.gate)
	waitFor(t, "a second request, or the snapshot at 7 served", func() bool {
		v, stale := view(e, 0)
		return p.asked.Load() > asked+1 || (!stale && v.Seq == 7)
	})
	if v, stale := view(e, 0); !stale && v.Seq == 7 {
		t.Fatalf("the snapshot at seq 7 served as valid, seq 10 kept")
	}
	servedAt(t, e, 10, orderbook.StateHalted)
}

// TestEdgeOlderPublisherAnswersFirst: two ingest nodes publish, the
// older one (epoch 7, a deposed leader still in its term, or the other of
// an active/active pair) answering snapshot requests before the newer
// (epoch 9) whose stream the edge follows. The edge still loads the
// newer one's snapshots: its requests name its epoch, which the older
// publisher leaves alone. Before, NATS handed the edge the older reply,
// which it refused, and so on for as long as the older node ran: the
// edge stayed stale.
func TestEdgeOlderPublisherAnswersFirst(t *testing.T) {
	n := startNATS(t)
	g := newIngest(t, 1)
	sym := g.ins[0].Symbol
	old, err := NewPublisher(PublisherConfig{Conn: n.connect(t), Books: g.e, Subject: "t", Epoch: 7, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); old.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	// The newer publisher answers only once the older has taken the same
	// request: it asks the older about a symbol of its own first, and the
	// older takes requests, and sends replies, in order.
	p := newHandPub(t, n, 9)
	p.mu.Lock()
	p.reply = func(s string) []byte {
		if s == "probe" {
			return nil
		}
		if _, err := p.nc.Request("t.snap.probe", nil, testBound); err != nil {
			t.Errorf("probe: %v", err)
		}
		p.mu.Lock()
		u := p.last[s]
		p.mu.Unlock()
		v := orderbook.View{Seq: u.Seq, State: u.State, Checksum: emptyCk10, Checksum5: emptyCk5}
		return AppendSnapshot(nil, 9, s, &v)
	}
	p.mu.Unlock()
	cfg := handEdge(n.connect(t), g.ins)
	// The newer publisher's reply waits for a request of its own: on a
	// loaded machine that can outlast the default 2 s, and a request
	// timed out counts as failed, which the test means as refused.
	cfg.RequestTimeout = testBound
	e := runEdge(t, cfg)
	// With no epoch yet, the edge takes the first reply: the older's.
	waitFor(t, "the older publisher's snapshot", func() bool { return e.Stats().Snapshots == 1 })
	p.send(sym, 5, orderbook.StateHalted) // the newer epoch: the edge follows it
	beating(t, p, 20*time.Millisecond)
	waitFor(t, "a refused reply, or the newer snapshot served", func() bool {
		v, stale := view(e, 0)
		return e.Stats().Failed > 0 || (!stale && v.Seq == 5 && v.State == orderbook.StateHalted)
	})
	if st := e.Stats(); st.Failed != 0 {
		t.Fatalf("stats %+v: the older publisher's reply taken for the newer epoch's", st)
	}
}

// TestEdgeSilentUpdatesAskNothing: the publisher's updates reach the edge
// but its heartbeats do not (an ingest of a version before heartbeats,
// the operators' upgrade order reversed; a heartbeat subject the bus does
// not carry). Once silent, the edge loads nothing until a heartbeat, and
// the snapshot it asks for then follows every update heard before: an
// update of a stale symbol asks for no snapshot and is not kept. Before,
// every update asked again (the reply refused as the publisher is
// silent), as many requests as the Requesters could carry for as long as
// the silence lasted, and each symbol kept up to Pending updates.
func TestEdgeSilentUpdatesAskNothing(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	sym := ins[0].Symbol
	p := newHandPub(t, n, 7)
	p.send(sym, 5, orderbook.StateTrading)
	cfg := handEdge(n.connect(t), ins)
	cfg.Silence, cfg.RetryInterval = 300*time.Millisecond, 10*time.Millisecond
	e := startEdgeWith(t, cfg)
	waitFor(t, "the publisher's silence", func() bool { st := e.Stats(); return st.Silences == 1 && st.Stale == 1 })
	waitFor(t, "the round asked at the silence, refused", func() bool { return e.Stats().Failed >= 1 })
	failed := e.Stats().Failed
	for seq := uint64(6); seq < 106; seq++ {
		p.send(sym, seq, orderbook.StateTrading)
	}
	quietUntilTaken(t, p, e.Edge)
	e.stop()
	s := &e.syms[0]
	if st := e.Stats(); st.Failed != failed || s.queued || s.inflight || len(s.pending) != 0 {
		t.Fatalf("stats %+v: updates of a silent publisher asked for snapshots (failed %d, then %d; queued %v, in flight %v) or were kept (%d)",
			st, failed, st.Failed, s.queued, s.inflight, len(s.pending))
	}
}

// TestEdgeUpdatesKeepRetryInterval: a symbol's snapshot request failed
// (here refused), so it is asked again after RetryInterval. Its updates,
// which keep coming, do not ask sooner. Before, each update after a
// failure asked again at once: a busy symbol's requests came at the pace
// of its updates, not of RetryInterval.
func TestEdgeUpdatesKeepRetryInterval(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	sym := ins[0].Symbol
	p := newHandPub(t, n, 7)
	p.mu.Lock()
	p.reply = func(s string) []byte { return AppendError(nil, 7, s, "unknown symbol") }
	p.mu.Unlock()
	p.send(sym, 5, orderbook.StateTrading)
	cfg := handEdge(n.connect(t), ins)
	cfg.RetryInterval = time.Hour
	e := startEdgeWith(t, cfg)
	waitFor(t, "the first request, refused", func() bool { return e.Stats().Failed == 1 })
	for seq := uint64(6); seq < 106; seq++ {
		p.send(sym, seq, orderbook.StateTrading)
	}
	quietUntilTaken(t, p, e.Edge)
	e.stop()
	s := &e.syms[0]
	if st := e.Stats(); st.Failed != 1 || s.queued || s.inflight {
		t.Fatalf("stats %+v: updates asked again before RetryInterval (failed %d; queued %v, in flight %v)", st, st.Failed, s.queued, s.inflight)
	}
}

// quietUntilTaken publishes, after what p sent, an update of a symbol the
// edge does not carry, and waits until e has counted it: e's loop has
// taken every update p sent before, and handed out (its dispatch follows
// each message) the requests they made.
func quietUntilTaken(t *testing.T, p *handPub, e *Edge) {
	t.Helper()
	before := e.Stats().Unknown
	u := orderbook.Update{Seq: 1, Kind: orderbook.KindStatus, State: orderbook.StateTrading, Checksum: emptyCk10, Checksum5: emptyCk5}
	if err := p.nc.Publish("t.d.999999.SZ", AppendUpdate(nil, p.epoch, "999999.SZ", &u)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the edge to take the updates", func() bool { return e.Stats().Unknown > before })
}

// TestEdgeSilenceEndDiscardsSnapshotAskedDuring: a snapshot asked for as
// the publisher fell silent is answered with the book at seq 5, but its
// reply reaches the edge's loop only after the heartbeat that ends the
// silence. Meanwhile the symbol's updates 6 to 10 came, not kept (the
// publisher was silent), and that heartbeat does not name the symbol (a
// publisher of more than MaxBeats symbols beats in several messages; or
// one that read the symbol's seq just before publishing its last
// update). The reply must not be loaded: the updates it lacks are gone,
// and the book would be served as valid at seq 5 while the publisher is
// at 10, until the next heartbeat naming it or its next update. Before,
// it was loaded; the updates, kept while silent, used to make up for it.
func TestEdgeSilenceEndDiscardsSnapshotAskedDuring(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(2)
	a, b := ins[0].Symbol, ins[1].Symbol
	p := newHandPub(t, n, 7)
	p.send(a, 5, orderbook.StateTrading)
	p.send(b, 5, orderbook.StateTrading)
	held, gate := make(chan struct{}), make(chan struct{})
	var holding atomic.Bool
	p.mu.Lock()
	p.reply = func(sym string) []byte {
		p.mu.Lock()
		u := p.last[sym] // the book when the request is taken
		p.mu.Unlock()
		if sym == a && holding.CompareAndSwap(true, false) {
			close(held)
			<-gate
		}
		v := orderbook.View{Seq: u.Seq, State: u.State, Checksum: emptyCk10, Checksum5: emptyCk5}
		return AppendSnapshot(nil, p.epoch, sym, &v)
	}
	p.mu.Unlock()
	cfg := handEdge(n.connect(t), ins)
	cfg.Silence, cfg.RetryInterval, cfg.RequestTimeout = 300*time.Millisecond, 10*time.Millisecond, testBound
	e := runEdge(t, cfg)
	waitFor(t, "the first snapshots", func() bool { p.beat(); return e.Stale() == 0 })

	// From now on the only request for a is the one of the silence.
	holding.Store(true)
	waitFor(t, "the publisher's silence", func() bool { return e.Stats().Silences == 1 })
	waitFor(t, "a's request of the silence, held", func() bool {
		select {
		case <-held:
			return true
		default:
			return false
		}
	})
	for seq := uint64(6); seq <= 10; seq++ {
		p.send(a, seq, orderbook.StateTrading)
	}
	// Heartbeats naming b only: the first ends the silence (after a's
	// updates: one connection), the others keep it away.
	beats := e.Stats().Heartbeats
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for {
			if err := p.nc.Publish("t.hb", AppendBeat(AppendHeartbeat(nil, p.epoch, 1), b, 5)); err != nil {
				t.Error(err)
				return
			}
			select {
			case <-stop:
				return
			case <-tk.C:
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	waitFor(t, "the heartbeat ending the silence", func() bool { return e.Stats().Heartbeats > beats })
	close(gate)
	waitFor(t, "a served again", func() bool { return !e.Engine().Stale(0) })
	if v, _ := view(e, 0); v.Seq != 10 {
		t.Fatalf("a served as valid at seq %d, the publisher at 10: a snapshot asked for during the silence, short of the updates heard while silent, was loaded (stats %+v)", v.Seq, e.Stats())
	}
}

// TestEdgeKeepsUpdatesOnlyWhileAsking: the publisher streams updates and
// heartbeats but its snapshot replies do not come (they time out: an edge
// whose NATS user may not read its inbox; or are refused), so every symbol
// stays stale. Only the symbols whose request is in flight keep their
// updates: one that came before a request cannot be past the snapshot it
// asks for, which the publisher takes after. Before, every stale symbol
// kept up to Pending updates, queued behind the Requesters or waiting for
// its retry: 4,096 updates of 240 bytes for each of thousands of
// instruments, gigabytes, until the edge was killed for its memory.
func TestEdgeKeepsUpdatesOnlyWhileAsking(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(4)
	p := newHandPub(t, n, 7)
	p.mu.Lock()
	p.reply = func(sym string) []byte {
		if sym == ins[1].Symbol {
			return AppendError(nil, 7, sym, "unknown symbol")
		}
		return nil // never answered
	}
	p.mu.Unlock()
	cfg := handEdge(n.connect(t), ins)
	cfg.Requesters, cfg.RequestTimeout, cfg.RetryInterval = 2, testBound, testBound
	e := startEdgeWith(t, cfg)
	// 0 and 2 in flight, 1 refused and waiting for its retry, 3 queued.
	waitFor(t, "three requests, one refused", func() bool { return p.asked.Load() == 3 && e.Stats().Failed == 1 })
	for seq := uint64(1); seq <= 100; seq++ {
		for _, in := range ins {
			p.send(in.Symbol, seq, orderbook.StateTrading)
		}
	}
	quietUntilTaken(t, p, e.Edge)
	e.stop()
	for id, want := range []int{100, 0, 100, 0} {
		if s := &e.syms[id]; len(s.pending) != want || (want == 0 && cap(s.pending) != 0) {
			t.Errorf("%s (in flight %v, retry %v, queued %v) keeps %d updates (room for %d); want %d",
				ins[id].Symbol, s.inflight, s.retry, s.queued, len(s.pending), cap(s.pending), want)
		}
	}
}

// TestEdgeHostileFrames: a publisher on the data and heartbeat subjects
// sends what no Publisher sends: random bytes, a frame of a later
// version, a truncated update, a frame with bytes after it, nearly 1 MiB
// (NATS's largest payload), a snapshot and an error where an update or a
// heartbeat goes, and an update at the next seq whose checksums are not
// the book's. Each is refused and counted (the last one marks the symbol
// stale and it is rebuilt); the book is never served as valid in the
// state that update carried, and the edge follows the stream after.
func TestEdgeHostileFrames(t *testing.T) {
	_, sym, p, e := oneSymbol(t)
	rd := e.Engine().NewReader(e.Engine().Shard(0))
	defer rd.Close()
	before := e.Stats()
	u := orderbook.Update{Seq: 6, Kind: orderbook.KindStatus, State: orderbook.StateTrading, Checksum: emptyCk10, Checksum5: emptyCk5}
	good := AppendUpdate(nil, 7, sym, &u)
	v := orderbook.View{Seq: 99, State: orderbook.StateHalted, Checksum: emptyCk10, Checksum5: emptyCk5}
	huge := append(append([]byte(nil), good...), make([]byte, 1<<20-len(good)-64)...)
	bad := [][]byte{
		{0xde, 0xad, 0xbe, 0xef, 0x00, 0xff},
		append([]byte{2}, good[1:]...),
		good[:len(good)-3],
		append(append([]byte(nil), good...), 0),
		huge,
		AppendSnapshot(nil, 7, sym, &v),
		AppendError(nil, 7, sym, "unknown symbol"),
	}
	for _, b := range bad {
		if err := p.nc.Publish("t.d."+sym, b); err != nil {
			t.Fatal(err)
		}
		if err := p.nc.Publish("t.hb", b); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "every frame refused", func() bool { return e.Stats().Malformed == before.Malformed+uint64(2*len(bad)) })
	if v, stale := view(e, 0); stale || v.Seq != 5 || v.State != orderbook.StateTrading {
		t.Fatalf("after the hostile frames the edge serves seq %d %v (stale %v); want 5, trading", v.Seq, v.State, stale)
	}
	// The next seq, halted, with checksums of another book: published by
	// hand, so that the publisher's snapshots stay at seq 5.
	wrong := orderbook.Update{Seq: 6, Kind: orderbook.KindStatus, State: orderbook.StateHalted, Checksum: emptyCk10 + 1, Checksum5: emptyCk5}
	p.stray(e, sym, wrong, before, "the mismatch and the snapshot after it")
	p.send(sym, 6, orderbook.StatePaused)
	servedAt(t, e, 6, orderbook.StatePaused)
	readRing(t, rd, func(u orderbook.Update) bool {
		if u.State == orderbook.StateHalted {
			t.Fatalf("the mismatched update's state published: %+v", u)
		}
		return u.Seq == 6 && u.State == orderbook.StatePaused
	})
}

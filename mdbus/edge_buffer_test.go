package mdbus

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sgw/orderbook"
	"sgw/refdata"
)

// stalledEdge runs a hand publisher of epoch 7 of two symbols, A and B,
// at seq 1, and an edge of cfg (Buffer and BufferBytes set by the test)
// that has loaded their snapshots; then stalls the edge's loop on a gap
// of B until the returned release is called (or the test ends), so that
// what the test publishes on A waits for the loop.
func stalledEdge(t *testing.T, buffer int, bufferBytes int64) (p *handPub, symA string, e *Edge, release func()) {
	t.Helper()
	n := startNATS(t)
	ins := testInstruments(2)
	symA, symB := ins[0].Symbol, ins[1].Symbol
	p = newHandPub(t, n, 7)
	p.send(symA, 1, orderbook.StateTrading)
	p.send(symB, 1, orderbook.StateTrading)
	cfg := handEdge(n.connect(t), ins)
	cfg.Buffer, cfg.BufferBytes = buffer, bufferBytes
	e, h, release := stallingEdge(t, cfg, "mdbus: symbol stale; requesting a snapshot")
	h.armed.Store(true)
	p.send(symB, 3, orderbook.StateTrading) // a gap on B: the loop logs it, and stalls there
	h.stalled(t, e, "B's gap")
	return p, symA, e, release
}

// stallingEdge runs an edge of cfg whose loop stalls at its next log of
// msg once the returned handler is armed, and waits for its first
// snapshots. release lets a stalled loop go on; it may be called more
// than once, and is called at the test's end, before the edge's own
// cleanup (Run ends only once released).
func stallingEdge(t *testing.T, cfg EdgeConfig, msg string) (e *Edge, h *stallHandler, release func()) {
	t.Helper()
	h = &stallHandler{msg: msg, blocked: make(chan struct{}), release: make(chan struct{})}
	cfg.Log = slog.New(h)
	e = runEdge(t, cfg)
	waitFor(t, "the first snapshots", func() bool { return e.Stale() == 0 })
	release = sync.OnceFunc(func() { close(h.release) })
	t.Cleanup(release)
	return e, h, release
}

// TestEdgeBufferBytesDropsTail: the messages waiting for an edge's loop
// are bounded in bytes (BufferBytes), not only in count (Buffer): past it
// they are dropped, here A's last update among them, and the edge, as
// for NATS's drops, marks every symbol stale and rebuilds them from
// snapshots, never serving A short of its last update. Before, only
// Buffer (65536) bounded them, at up to the server's max_payload (1 MiB,
// up to 64 MiB) each: gigabytes from a broken or hostile publisher while
// the loop fell behind.
func TestEdgeBufferBytesDropsTail(t *testing.T) {
	const limit = 200 // about four status updates of A
	p, symA, e, release := stalledEdge(t, 1<<16, limit)
	for seq := uint64(2); seq < 20; seq++ {
		p.send(symA, seq, orderbook.StateTrading)
	}
	p.send(symA, 20, orderbook.StateHalted)
	// The loop is stalled: each of the 19 is waiting for it or dropped.
	waitFor(t, "the updates of A waiting or dropped", func() bool { return len(e.msgs)+int(e.overflow.Load()) == 19 })
	if q := e.queued.Load(); q > limit || e.overflow.Load() == 0 {
		t.Errorf("%d bytes wait for the loop, %d messages dropped; BufferBytes is %d", q, e.overflow.Load(), limit)
	}
	release()
	servedAt(t, e, 20, orderbook.StateHalted)
	if st := e.Stats(); st.Dropped == 0 {
		t.Errorf("stats %+v: no drop counted", st)
	}
}

// TestEdgeOversizedMessage: a message on an edge's update subjects longer
// than any update or heartbeat (maxStreamFrame) is counted as malformed
// and dropped as it arrives, taking no room in the buffer: the messages
// around it are applied, and nothing goes stale for it. Without the
// check, it waited for the loop as any message, and one larger than the
// room left in BufferBytes was dropped as an overflow, every symbol
// stale.
func TestEdgeOversizedMessage(t *testing.T) {
	p, symA, e, release := stalledEdge(t, 1<<16, 4096)
	before := e.Stats()
	p.send(symA, 2, orderbook.StateTrading)
	u := p.lose(symA, 3, orderbook.StateHalted)
	junk := AppendUpdate(nil, p.epoch, symA, &u)
	junk = append(junk, bytes.Repeat([]byte{0}, maxStreamFrame+1-len(junk))...)
	if err := p.nc.Publish("t.d."+symA, junk); err != nil {
		t.Fatal(err)
	}
	p.send(symA, 3, orderbook.StateHalted)
	waitFor(t, "the oversized message counted as malformed, the others waiting", func() bool {
		return e.Stats().Malformed == before.Malformed+1 && len(e.msgs) == 2
	})
	release()
	servedAt(t, e, 3, orderbook.StateHalted)
	if st := e.Stats(); st.Dropped != 0 || st.Gaps != before.Gaps {
		t.Errorf("stats %+v: want no drop, and no gap of A", st)
	}
}

// TestMaxStreamFrame: maxStreamFrame is the size of the largest heartbeat,
// which decodes; a byte more cannot be an update or a heartbeat.
func TestMaxStreamFrame(t *testing.T) {
	b := AppendHeartbeat(nil, math.MaxUint64, MaxBeats)
	sym := strings.Repeat("9", refdata.MaxSymbolLen)
	for range MaxBeats {
		b = AppendBeat(b, sym, math.MaxUint64)
	}
	var m Message
	if err := Decode(b, &m); err != nil || len(b) != maxStreamFrame {
		t.Fatalf("the largest heartbeat: %d bytes, maxStreamFrame %d; decode: %v", len(b), maxStreamFrame, err)
	}
	if err := Decode(append(b, 0), &m); err == nil {
		t.Fatal("a heartbeat a byte longer decoded")
	}
}

// TestEdgeBufferAccounting: what waits for a stalled loop stops at either
// bound, Buffer (messages) or BufferBytes, and a message is always taken
// into an empty buffer, however large (up to maxStreamFrame); the excess
// is dropped and the edge resyncs. Once the loop has caught up no byte
// is counted as waiting: each message's bytes are counted once as it is
// taken and once as the loop reads it or it is dropped. A byte left
// counted would make the edge drop more each time, for ever (every
// symbol stale at each drop check); one counted off twice would let the
// buffer grow past BufferBytes.
func TestEdgeBufferAccounting(t *testing.T) {
	for _, tc := range []struct {
		name        string
		buffer      int
		bufferBytes int64
		waiting     int // of the updates sent, how many wait; the rest are dropped
	}{
		{name: "past Buffer", buffer: 4, bufferBytes: 1 << 20, waiting: 4},
		{name: "past BufferBytes, one always taken", buffer: 1 << 10, bufferBytes: 1, waiting: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, symA, e, release := stalledEdge(t, tc.buffer, tc.bufferBytes)
			const sent = 10
			for seq := uint64(2); seq < 2+sent; seq++ {
				p.send(symA, seq, orderbook.StateTrading)
				// One at a time, so that NATS's own channel (raw) never fills.
				waitFor(t, "the update waiting or dropped", func() bool {
					if p.nc.Stats().Reconnects+e.cfg.Conn.Stats().Reconnects > 0 {
						// Core NATS delivers at most once: what was
						// published while a connection was cut (a full
						// run's load starving the client) never comes.
						t.Skip("a NATS connection was cut and reconnected under load: an update may be lost, which the counts cannot tell")
					}
					return len(e.raw) == 0 && len(e.msgs)+int(e.overflow.Load()) == int(seq-1)
				})
			}
			if len(e.msgs) != tc.waiting || e.overflow.Load() != sent-uint64(tc.waiting) {
				t.Fatalf("%d updates wait, %d dropped; want %d waiting", len(e.msgs), e.overflow.Load(), tc.waiting)
			}
			release()
			servedAt(t, e, 1+sent, orderbook.StateTrading)
			// The loop counts a message off just after it takes it: once
			// none waits, the count comes to 0 and stays there.
			waitFor(t, "no byte counted as waiting once the loop caught up", func() bool {
				return len(e.msgs) == 0 && e.queued.Load() == 0
			})
			if st := e.Stats(); st.Dropped != sent-uint64(tc.waiting) {
				t.Errorf("stats %+v: want %d dropped", st, sent-tc.waiting)
			}
		})
	}
}

// TestEdgeOverflowStaleBeforeNextMessage: a message the edge drops past
// Buffer (here A's last update) makes every symbol stale before the loop
// applies any message it takes after the drop, not at its next drop
// check: here a later update of C and a heartbeat naming only C, and
// the drop check never runs (check an hour), so only the messages can
// tell the loop. Before, the loop applied them and went on serving A as
// valid, short of its last update, until the next drop check (up to
// dropCheck later, however many messages it served meanwhile).
func TestEdgeOverflowStaleBeforeNextMessage(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(3)
	symA, symB, symC := ins[0].Symbol, ins[1].Symbol, ins[2].Symbol
	p := newHandPub(t, n, 7)
	for _, sym := range []string{symA, symB, symC} {
		p.send(sym, 1, orderbook.StateTrading)
	}
	cfg := handEdge(n.connect(t), ins)
	cfg.Buffer, cfg.check = 2, time.Hour
	e, h, release := stallingEdge(t, cfg, "mdbus: symbol stale; requesting a snapshot")
	h.armed.Store(true)
	p.send(symB, 3, orderbook.StateTrading) // a gap on B: the loop logs it, and stalls there
	h.stalled(t, e, "B's gap")
	p.send(symA, 2, orderbook.StateTrading)
	p.send(symA, 3, orderbook.StateTrading) // these two wait for the loop (Buffer)
	p.send(symA, 4, orderbook.StateHalted)  // A's last update: dropped
	waitFor(t, "A's last update dropped", func() bool { return e.overflow.Load() == 1 && len(e.msgs) == 2 })
	before := e.Stats()
	release()
	waitFor(t, "the loop to take the two waiting", func() bool { return len(e.msgs) == 0 }) // room for the next two
	p.send(symC, 2, orderbook.StateHalted)
	if err := p.nc.Publish("t.hb", AppendBeat(AppendHeartbeat(nil, p.epoch, 1), symC, 2)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the loop to take the heartbeat after C's update", func() bool { return e.Stats().Heartbeats == before.Heartbeats+1 })
	var v orderbook.View
	e.Engine().View(0, 20, &v)
	if v.State != orderbook.StateStale && v.Seq < 4 {
		t.Fatalf("after the drop of A's seq 4 the loop took later messages and A is served valid at seq %d, %v (stats %+v)", v.Seq, v.State, e.Stats())
	}
	if st := e.Stats(); st.Dropped != 1 {
		t.Errorf("stats %+v: want the drop counted once the loop took a later message", st)
	}
	servedAt(t, e, 4, orderbook.StateHalted)
}

// TestEdgeForwardMarksNATSDrop: when NATS drops a message for the edge
// (its channel raw full: a slow consumer), forward marks the drop
// (dropMark) before it hands the loop any message that came after it:
// raw was full as forward took the first message waiting there, and
// NATS counts the drop before it delivers another. The loop then makes
// every symbol stale before applying them (as for forward's own drops,
// TestEdgeOverflowStaleBeforeNextMessage). Before, only the loop's drop
// check, up to dropCheck later, saw NATS's drops.
func TestEdgeForwardMarksNATSDrop(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	cfg := handEdge(n.connect(t), ins)
	cfg.Buffer = 2
	e, err := NewEdge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// The edge's subscription, without Run: nothing takes from raw until
	// forward starts.
	sub, err := cfg.Conn.ChanSubscribe("t.d.>", e.raw)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := cfg.Conn.Flush(); err != nil {
		t.Fatal(err)
	}
	p := newHandPub(t, n, 7)
	for seq := uint64(1); seq <= 3; seq++ {
		p.send(ins[0].Symbol, seq, orderbook.StateTrading) // raw holds two: NATS drops the third
	}
	waitFor(t, "NATS to drop the third update", func() bool { d, _ := sub.Dropped(); return d == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		e.forward(ctx, []*nats.Subscription{sub})
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-e.msgs:
	case <-time.After(testBound):
		t.Fatalf("forward handed on nothing in %v", testBound)
	}
	if e.dropMark.Load() == 0 {
		t.Fatal("forward handed on a message from a full raw without marking NATS's drop")
	}
}

// TestEdgeDropWhileAllStaleDiscardsInflight: a drop while every symbol
// is stale already (dropStale's gen, not allStale) still discards the
// reply to a request made before it. Here A's request is in flight, its
// snapshot taken at seq 3, B stale from a heartbeat, when the edge drops
// A's last update (6): the snapshot, with the updates kept meanwhile (4
// and 5), would reach every seq the edge heard of, but is not loaded; A
// is asked again and served at 6.
func TestEdgeDropWhileAllStaleDiscardsInflight(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(2)
	symA, symB := ins[0].Symbol, ins[1].Symbol
	p := newHandPub(t, n, 7)
	p.send(symA, 1, orderbook.StateTrading)
	p.send(symB, 1, orderbook.StateTrading)
	cfg := handEdge(n.connect(t), ins)
	cfg.Buffer, cfg.check = 2, time.Hour
	e, h, release := stallingEdge(t, cfg, "mdbus: a heartbeat shows updates lost; requesting a snapshot")
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open)
	p.mu.Lock()
	p.reply = func(sym string) []byte { // the snapshot as asked, sent once the gate opens
		p.mu.Lock()
		u := p.last[sym]
		p.mu.Unlock()
		<-gate
		v := orderbook.View{Seq: u.Seq, State: u.State, Checksum: emptyCk10, Checksum5: emptyCk5}
		return AppendSnapshot(nil, p.epoch, sym, &v)
	}
	p.mu.Unlock()
	asked := p.asked.Load()
	p.send(symA, 3, orderbook.StateTrading) // a gap on A: asked, its snapshot taken at 3
	waitFor(t, "A's request", func() bool { return p.asked.Load() == asked+1 })
	h.armed.Store(true)
	p.lose(symB, 2, orderbook.StateTrading)
	if err := p.nc.Publish("t.hb", AppendBeat(AppendHeartbeat(nil, p.epoch, 1), symB, 2)); err != nil {
		t.Fatal(err)
	}
	h.stalled(t, e, "B's heartbeat") // B lost its seq 2: the loop logs it, and stalls there
	p.send(symA, 4, orderbook.StateTrading)
	p.send(symA, 5, orderbook.StateTrading) // these two wait for the loop (Buffer)
	p.send(symA, 6, orderbook.StateHalted)  // A's last update: dropped
	waitFor(t, "A's last update dropped", func() bool { return e.overflow.Load() == 1 && len(e.msgs) == 2 })
	release()
	waitFor(t, "the loop to take the two waiting", func() bool { return len(e.msgs) == 0 }) // room for the next
	// A message the loop takes after 4 and 5 (kept for A's request).
	if err := p.nc.Publish("t.d.ZZZ", AppendUpdate(nil, p.epoch, "ZZZ", &orderbook.Update{Seq: 1, Kind: orderbook.KindStatus})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the loop to take the messages after the drop", func() bool { return e.Stats().Unknown == 1 })
	if st := e.Stats(); st.Stale != 2 || st.Dropped != 1 {
		t.Fatalf("stats %+v: want both symbols stale and the drop counted", st)
	}
	open()
	waitFor(t, "both symbols loaded", func() bool { return e.Stale() == 0 })
	var v orderbook.View
	e.Engine().View(0, 20, &v)
	if v.Seq != 6 || v.State != orderbook.StateHalted {
		t.Fatalf("A served valid at seq %d, %v, short of its dropped update (stats %+v)", v.Seq, v.State, e.Stats())
	}
}

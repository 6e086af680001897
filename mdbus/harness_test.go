package mdbus

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"sgw/feed/event"
	"sgw/orderbook"
	"sgw/refdata"
)

// testBound bounds every wait for an event.
const testBound = 60 * time.Second

// waitFor waits until cond holds, polling: the event is a state change of
// another goroutine, read through its lock-free accessors.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testBound)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// natsServer is an embedded NATS server on a loopback port.
type natsServer struct {
	t    testing.TB
	srv  *server.Server
	port int
}

func startNATS(t testing.TB) *natsServer {
	t.Helper()
	n := &natsServer{t: t, port: -1}
	n.start()
	t.Cleanup(func() { n.srv.Shutdown(); n.srv.WaitForShutdown() })
	return n
}

// start starts the server, on the port it had before if it ran already.
func (n *natsServer) start() {
	n.t.Helper()
	s, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: n.port, NoLog: true, NoSigs: true})
	if err != nil {
		n.t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(testBound) {
		n.t.Fatal("nats server not ready")
	}
	n.srv = s
	n.port = s.Addr().(*net.TCPAddr).Port
}

// restart stops the server, calls down while it is down, and starts it
// again on the same port.
func (n *natsServer) restart(down func()) {
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	down()
	n.start()
}

func (n *natsServer) url() string { return "nats://127.0.0.1:" + strconv.Itoa(n.port) }

// connect returns a connection that reconnects for ever, closed at cleanup.
func (n *natsServer) connect(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.url(), nats.MaxReconnects(-1), nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// connectOnce returns a connection that nats.go closes for good once it
// fails to reconnect after one disconnection (MaxReconnects 1), closed at
// cleanup.
func (n *natsServer) connectOnce(t testing.TB) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(n.url(), nats.MaxReconnects(1), nats.ReconnectWait(10*time.Millisecond), nats.ReconnectJitter(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// ingest is a running ingest Engine fed with a synthetic stream of
// events, written here and sharing nothing with the feed decoders.
type ingest struct {
	e    *orderbook.Engine
	in   *orderbook.Input
	ins  []refdata.Instrument
	rng  *rand.Rand
	live []map[uint64]int64 // resting qty by ref, per symbol
	refs [][]uint64
	ref  uint64
	ts   uint64
	sent uint64
}

func testInstruments(n int) []refdata.Instrument {
	ins := make([]refdata.Instrument, n)
	for i := range ins {
		ins[i] = refdata.Instrument{Symbol: fmt.Sprintf("6%05d.SH", i), Board: refdata.BoardMain, PrevClose: 17000000}
	}
	return ins
}

func newIngest(t testing.TB, nsym int) *ingest {
	t.Helper()
	return newIngestRing(t, nsym, 0)
}

// newIngestRing is newIngest with rings of the given size (0: the
// default).
func newIngestRing(t testing.TB, nsym, ring int) *ingest {
	t.Helper()
	ins := testInstruments(nsym)
	e, err := orderbook.New(orderbook.Config{Instruments: ins, Shards: 2, RingSize: ring})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	g := &ingest{e: e, in: e.NewInput("test"), ins: ins, rng: rand.New(rand.NewPCG(1, uint64(nsym))),
		live: make([]map[uint64]int64, nsym), refs: make([][]uint64, nsym)}
	for i := range g.live {
		g.live[i] = map[uint64]int64{}
		g.apply(t, event.Event{Kind: event.State, Symbol: uint32(i), Code: 'T'})
	}
	return g
}

func (g *ingest) apply(t testing.TB, ev event.Event) {
	g.ts += 1000
	ev.Time = 34200000000000 + g.ts
	ev.Recv = time.Now().UnixNano()
	if err := g.in.Apply(&ev); err != nil {
		t.Fatal(err)
	}
	g.sent++
}

// flow applies n random events: adds on 40 ticks each side of 1700.00
// (deeper than 20 levels), printed executions, deletes, trades and the
// odd halt.
func (g *ingest) flow(t testing.TB, n int) {
	for range n {
		sym := g.rng.IntN(len(g.ins))
		live, refs := g.live[sym], g.refs[sym]
		switch r := g.rng.IntN(100); {
		case r < 50 || len(refs) < 30:
			g.ref++
			ev := event.Event{Kind: event.Add, Symbol: uint32(sym), Ref: g.ref, Side: event.Buy,
				Price: refdata.Price(17000000 - 100*g.rng.IntN(40)), Qty: int64(100 * (1 + g.rng.IntN(10)))}
			if g.rng.IntN(2) == 0 {
				ev.Side, ev.Price = event.Sell, refdata.Price(17000100+100*g.rng.IntN(40))
			}
			live[g.ref] = ev.Qty
			g.refs[sym] = append(refs, g.ref)
			g.apply(t, ev)
		case r < 70:
			i := g.rng.IntN(len(refs))
			g.apply(t, event.Event{Kind: event.Execute, Symbol: uint32(sym), Ref: refs[i], Qty: 100, Flags: event.FlagPrint})
			if live[refs[i]] -= 100; live[refs[i]] == 0 {
				delete(live, refs[i])
				g.refs[sym] = slices.Delete(refs, i, i+1)
			}
		case r < 96:
			i := g.rng.IntN(len(refs))
			g.apply(t, event.Event{Kind: event.Delete, Symbol: uint32(sym), Ref: refs[i]})
			delete(live, refs[i])
			g.refs[sym] = slices.Delete(refs, i, i+1)
		case r < 99:
			g.apply(t, event.Event{Kind: event.Trade, Symbol: uint32(sym), Price: 17000000, Qty: 100})
		default:
			g.apply(t, event.Event{Kind: event.State, Symbol: uint32(sym), Code: "TTTH"[g.rng.IntN(4)]})
		}
	}
}

// settle waits until the books have applied every event sent.
func (g *ingest) settle(t testing.TB) {
	t.Helper()
	waitFor(t, "the ingest books", func() bool { return g.e.Stats().Messages >= g.sent })
}

// seqs returns the ingest Seq of every symbol.
func (g *ingest) seqs() []uint64 {
	var v orderbook.View
	out := make([]uint64, len(g.ins))
	for i := range out {
		g.e.View(orderbook.SymbolID(i), 1, &v)
		out[i] = v.Seq
	}
	return out
}

// startPublisher runs a Publisher of g's books on its own connection.
func startPublisher(t testing.TB, n *natsServer, g *ingest, subject string) *Publisher {
	t.Helper()
	p, err := NewPublisher(PublisherConfig{Conn: n.connect(t), Books: g.e, Subject: subject})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("publisher: %v", err)
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

// runningEdge is an Edge running on its own connection until stop.
type runningEdge struct {
	*Edge
	stop func()
}

// startEdge runs an edge of g's instruments on n until the test's end. Its
// Silence is testBound: under a whole -race run on two cores, the thousand
// clients of TestEdgeKillClientsResume may hold the publisher's heartbeats
// up past the default 3 s, and an edge that took the publisher for lost
// answers every resume with a snapshot. The silence has tests of its own
// (TestEdgeSilentPublisher).
func startEdge(t testing.TB, n *natsServer, g *ingest, subject string) *runningEdge {
	t.Helper()
	return startEdgeWith(t, EdgeConfig{Conn: n.connect(t), Books: orderbook.Config{Instruments: g.ins, Shards: 2}, Subject: subject,
		RetryInterval: 20 * time.Millisecond, Silence: testBound})
}

// startEdgeWith runs an Edge of cfg until stop or the test's end.
func startEdgeWith(t testing.TB, cfg EdgeConfig) *runningEdge {
	t.Helper()
	e, err := NewEdge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := e.Run(ctx); err != nil {
			t.Errorf("edge: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return &runningEdge{Edge: e, stop: stop}
}

// synced waits until edge e holds every symbol at the ingest's Seq, not
// stale, then checks that its books equal the ingest's.
func synced(t testing.TB, g *ingest, e *Edge) {
	t.Helper()
	g.settle(t)
	want := g.seqs()
	waitFor(t, "the edge to catch up", func() bool {
		if e.Stale() != 0 {
			return false
		}
		var v orderbook.View
		for i, s := range want {
			if e.Engine().View(orderbook.SymbolID(i), 1, &v); v.Seq != s {
				return false
			}
		}
		return true
	})
	sameBooks(t, g.e, e.Engine())
}

// sameBooks compares every published view of the two engines.
func sameBooks(t testing.TB, want, got *orderbook.Engine) {
	t.Helper()
	for _, id := range want.Symbols() {
		var a, b orderbook.View
		want.View(id, 20, &a)
		got.View(id, 20, &b)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s differs:\nedge   %+v\ningest %+v", want.Instrument(id).Symbol, b, a)
		}
	}
}

// relay carries the bus from subject prefix from to prefix to, snapshot
// requests and heartbeats included, dropping the updates drop names: a
// lossy network between the ingest node and an edge. Updates and
// heartbeats share one subscription, so they keep their order.
func relay(t testing.TB, n *natsServer, from, to string, drop func(sym string, n int) bool) {
	t.Helper()
	nc := n.connect(t)
	counts := map[string]int{} // the subscription's goroutine only
	if _, err := nc.Subscribe(from+".>", func(m *nats.Msg) {
		if m.Subject == from+".hb" {
			nc.Publish(to+".hb", m.Data)
			return
		}
		sym, ok := strings.CutPrefix(m.Subject, from+".d.")
		if !ok {
			return // a snapshot request
		}
		k := counts[sym]
		counts[sym]++
		if drop(sym, k) {
			return
		}
		nc.Publish(to+".d."+sym, m.Data)
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe(to+".snap.>", func(m *nats.Msg) {
		r, err := nc.Request(from+".snap."+strings.TrimPrefix(m.Subject, to+".snap."), nil, 5*time.Second)
		if err == nil {
			m.Respond(r.Data)
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
}

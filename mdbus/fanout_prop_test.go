package mdbus

import (
	"context"
	"flag"
	"maps"
	"math"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/feed/event"
	"sgw/gateway"
	"sgw/gateway/fanouttest"
	"sgw/orderbook"
	"sgw/refdata"
)

var fanoutSeed = flag.Uint64("fanout.seed", 0, "the seed of TestEdgeFanoutProperty (0: from the clock)")

// TestEdgeFanoutProperty is gateway.TestWSFanoutProperty across the bus:
// an ingest's books, published on NATS, served by two edges; random events
// (the book going stale and valid and being rebuilt among them), clients
// subscribing, stalling, and reconnecting to either edge with honest and
// hostile resumes, while NATS restarts, the publisher restarts under a new
// epoch and an edge is replaced. Every client checks every message against
// the reference model (fanouttest). An edge may mark a book stale that the
// ingest holds valid (it lost the bus), and resyncs it after; so those are
// accepted, but a book the ingest holds stale is always marked so, and at
// the end, once everything has healed, every client holds every book at
// the ingest's seq, marked as the ingest marks it. The seed is logged;
// -fanout.seed replays one.
func TestEdgeFanoutProperty(t *testing.T) {
	seed := *fanoutSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (-fanout.seed=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	n := startNATS(t)
	g := newIngest(t, 4)
	p := &edgeProp{t: t, rng: rng, n: n, g: g, history: 1024}
	syms := make([]string, len(g.ins))
	for i, in := range g.ins {
		syms[i] = in.Symbol
	}
	p.syms = syms
	p.model = fanouttest.NewModel(syms...)
	for i, s := range syms {
		p.orders = append(p.orders, fanouttest.NewOrders())
		p.refs = append(p.refs, nil)
		p.model.Next(s, p.orders[i].State()) // newIngest's trading state
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*testBound)
	defer cancel()
	p.ctx = ctx
	p.startPublisher()
	p.edges = []*servedEdge{p.newEdge(), p.newEdge()}
	for i := range 4 {
		c := fanouttest.New(string(rune('A'+i)), p.model, fanouttest.Options{ReadBuffer: 4096, ExtraStale: true, Resyncs: true})
		p.connect(c)
		p.clients = append(p.clients, c)
		p.subscribeRandom(c)
	}
	faults := 0
	for range 300 {
		switch r := rng.IntN(100); {
		case r < 50:
			p.burst(1 + rng.IntN(30))
		case r < 56:
			p.control()
		case r < 64:
			p.subscribeRandom(p.pick())
		case r < 68:
			c := p.pick()
			p.sent(c, c.Unsubscribe(p.ctx, p.randomSyms()))
		case r < 82:
			p.reconnect(p.clients[rng.IntN(len(p.clients))])
		case r < 90:
			p.pauseOrUnpause()
		default:
			faults++
			switch rng.IntN(3) {
			case 0:
				n.restart(func() { p.events(1 + rng.IntN(30)) })
			case 1:
				p.stopPublisher()
				p.events(1 + rng.IntN(30))
				p.startPublisher()
			default: // an edge is replaced: its clients are cut
				i := rng.IntN(len(p.edges))
				p.edges[i].stop()
				p.edges[i] = p.newEdge()
			}
		}
		p.check()
	}
	for _, c := range p.clients {
		c.Unpause()
	}
	for _, e := range p.edges {
		synced(t, g, e.Edge)
	}
	// A client paused until now may be closed (4008) as it reads again:
	// it connects and resumes until it has caught up.
	for _, c := range p.clients {
		for {
			if alive, _ := c.Alive(); !alive {
				p.reconnect(c)
			}
			ok, err := c.Wait(p.ctx, c.CaughtUp)
			if err != nil {
				t.Fatal(err)
			}
			p.check()
			if ok {
				break
			}
		}
	}
	for _, c := range p.clients {
		for sym, cp := range c.Copies() {
			want, _ := p.model.At(sym, cp.Seq)
			if cp.Seq != p.model.Seq(sym) || cp.Book.Stale != want.Stale {
				t.Errorf("client %s holds %s at %d, stale %v; the ingest's is at %d, stale %v", c.Name(), sym, cp.Seq, cp.Book.Stale, p.model.Seq(sym), want.Stale)
			}
		}
	}
	p.check()
	var snaps, ups, replayed int
	for _, c := range p.clients {
		st := c.Stats()
		snaps, ups, replayed = snaps+st.Snapshots, ups+st.Updates, replayed+st.Replayed
	}
	t.Logf("seqs %v; %d faults; clients got %d snapshots, %d updates (%d resumed)", p.seqs(), faults, snaps, ups, replayed)
}

// edgeProp is one run of TestEdgeFanoutProperty. The test's goroutine
// alone uses it.
type edgeProp struct {
	t       *testing.T
	rng     *rand.Rand
	ctx     context.Context
	n       *natsServer
	g       *ingest
	syms    []string
	model   *fanouttest.Model
	orders  []*fanouttest.Orders
	refs    [][]uint64
	history int
	edges   []*servedEdge
	clients []*fanouttest.Client
	pubStop func()
	epoch   uint64
}

func (p *edgeProp) seqs() []uint64 {
	var out []uint64
	for _, s := range p.syms {
		out = append(out, p.model.Seq(s))
	}
	return out
}

func (p *edgeProp) check() {
	p.t.Helper()
	var all []string
	for _, c := range p.clients {
		all = append(all, c.Violations()...)
	}
	if len(all) > 0 {
		p.t.Fatalf("%d violations, the first:\n%s", len(all), all[:min(len(all), 8)])
	}
}

// startPublisher runs a publisher of the ingest's books under a new,
// larger epoch.
func (p *edgeProp) startPublisher() {
	p.epoch = max(p.epoch+1, uint64(time.Now().UnixNano()))
	pub, err := NewPublisher(PublisherConfig{Conn: p.n.connect(p.t), Books: p.g.e, Epoch: p.epoch})
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := pub.Run(ctx); err != nil {
			p.t.Errorf("publisher: %v", err)
		}
	}()
	p.pubStop = func() { cancel(); <-done }
	p.t.Cleanup(p.pubStop)
}

func (p *edgeProp) stopPublisher() { p.pubStop() }

// newEdge runs an edge served over WebSocket, with the ingest's history.
func (p *edgeProp) newEdge() *servedEdge {
	p.t.Helper()
	e := startEdge(p.t, p.n, p.g, "")
	reg := prometheus.NewRegistry()
	srv, err := gateway.New(gateway.Config{ReadHeaderTimeout: testBound, ReadTimeout: testBound,
		WS: gateway.WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10, History: p.history, MaxMessagesPerSecond: 100000,
			SlowTimeout: 300 * time.Millisecond, IdleTimeout: 4 * testBound}},
		gateway.Deps{Market: e.Engine(), PublishedDepth: orderbook.DefaultMaxDepth, Registry: reg, Tokens: anonymousL2(p.t)})
	if err != nil {
		p.t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			p.t.Errorf("serve: %v", err)
		}
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
			e.stop()
		}
	}
	p.t.Cleanup(stop)
	return &servedEdge{runningEdge: e, url: "ws://" + ln.Addr().String() + "/ws", reg: reg, stop: stop}
}

// connect connects c to a random edge. An edge just started refuses
// upgrades (503) until its WebSocket side runs: c dials again until then.
func (p *edgeProp) connect(c *fanouttest.Client) {
	p.t.Helper()
	url := p.edges[p.rng.IntN(len(p.edges))].url
	var err error
	waitFor(p.t, "an edge to take a connection", func() bool {
		err = c.Connect(p.ctx, url)
		return err == nil || !strings.Contains(err.Error(), "got 503")
	})
	if err != nil {
		p.t.Fatal(err)
	}
}

// apply records sym's next state in the model, then sends ev to the
// ingest's books (one input: the books apply events in order).
func (p *edgeProp) apply(sym int, ev event.Event, reset bool) {
	st := p.orders[sym].State()
	st.Reset = reset
	p.model.Next(p.syms[sym], st)
	ev.Symbol = uint32(sym)
	p.g.apply(p.t, ev)
}

// burst waits for the clients that read, then applies n random events.
func (p *edgeProp) burst(n int) {
	p.waitReaders()
	p.events(n)
}

// events applies n random events.
func (p *edgeProp) events(n int) {
	for range n {
		sym := p.rng.IntN(len(p.syms))
		o, refs := p.orders[sym], p.refs[sym]
		switch r := p.rng.IntN(10); {
		case r < 5 || len(refs) < 10:
			p.g.ref++
			ev := event.Event{Kind: event.Add, Ref: p.g.ref, Side: event.Buy,
				Price: refdata.Price(17000000 - 100*p.rng.IntN(30)), Qty: int64(100 * (1 + p.rng.IntN(10)))}
			if p.rng.IntN(2) == 0 {
				ev.Side, ev.Price = event.Sell, refdata.Price(17000100+100*p.rng.IntN(30))
			}
			o.Add(ev.Ref, ev.Side == event.Sell, int64(ev.Price), ev.Qty)
			p.refs[sym] = append(refs, ev.Ref)
			p.apply(sym, ev, false)
		case r < 7:
			i := p.rng.IntN(len(refs))
			ref := refs[i]
			o.Reduce(ref, 100)
			if o.Qty(ref) == 0 {
				p.refs[sym] = slices.Delete(refs, i, i+1)
			}
			p.apply(sym, event.Event{Kind: event.Execute, Ref: ref, Qty: 100, Flags: event.FlagPrint}, false)
		default:
			i := p.rng.IntN(len(refs))
			ref := refs[i]
			o.Remove(ref)
			p.refs[sym] = slices.Delete(refs, i, i+1)
			p.apply(sym, event.Event{Kind: event.Delete, Ref: ref}, false)
		}
	}
}

// control marks a book stale or valid, or rebuilds it.
func (p *edgeProp) control() {
	sym := p.rng.IntN(len(p.syms))
	o := p.orders[sym]
	switch {
	case p.rng.IntN(4) == 0:
		o.Clear()
		p.refs[sym] = nil
		o.Stale = true
		p.apply(sym, event.Event{Kind: event.Clear}, true)
	case o.Stale:
		o.Stale = false
		p.apply(sym, event.Event{Kind: event.Valid}, false)
	default:
		o.Stale = true
		p.apply(sym, event.Event{Kind: event.Stale}, false)
	}
}

func (p *edgeProp) readers() []*fanouttest.Client {
	var out []*fanouttest.Client
	for _, c := range p.clients {
		if alive, _ := c.Alive(); alive && !c.Paused() {
			out = append(out, c)
		}
	}
	return out
}

// waitReaders waits until every client that reads has caught up with the
// model; one cut meanwhile (its edge replaced) connects again.
func (p *edgeProp) waitReaders() {
	p.t.Helper()
	for _, c := range p.readers() {
		if _, err := c.Wait(p.ctx, c.CaughtUp); err != nil {
			p.t.Fatal(err)
		}
		p.check()
	}
}

// pick returns a random connected client, connecting it if needed.
func (p *edgeProp) pick() *fanouttest.Client {
	c := p.clients[p.rng.IntN(len(p.clients))]
	if alive, _ := c.Alive(); !alive {
		p.reconnect(c)
	}
	return c
}

// sent checks the outcome of a request: the connection may have been cut
// (a paused client closed for it, an edge replaced); the client is then
// dropped, to connect again later.
func (p *edgeProp) sent(c *fanouttest.Client, err error) {
	if err != nil {
		c.Drop()
	}
}

func (p *edgeProp) randomSyms() []string {
	syms := slices.Clone(p.syms)
	p.rng.Shuffle(len(syms), func(i, j int) { syms[i], syms[j] = syms[j], syms[i] })
	return syms[:1+p.rng.IntN(len(syms))]
}

func (p *edgeProp) subscribeRandom(c *fanouttest.Client) {
	p.sent(c, c.Subscribe(p.ctx, []int{5, 10, 20}[p.rng.IntN(3)], p.randomSyms(), nil, false))
}

func (p *edgeProp) pauseOrUnpause() {
	c := p.clients[p.rng.IntN(len(p.clients))]
	if c.Paused() {
		c.Unpause()
	} else if len(p.readers()) > 1 {
		c.Pause()
	}
}

// reconnect drops c and connects it to a random edge, resuming its books
// from random resume points, honest or hostile.
func (p *edgeProp) reconnect(c *fanouttest.Client) {
	copies := c.Copies()
	c.Drop()
	p.connect(c)
	ck := func(v uint32) *uint32 { return &v }
	byDepth := map[int]map[string]*fanouttest.Resume{}
	for sym, cp := range copies {
		var r *fanouttest.Resume
		switch k := p.rng.IntN(10); {
		case k < 5:
			r = &fanouttest.Resume{Seq: cp.Seq, Checksum: ck(cp.Book.Checksum(cp.Depth)), Copy: &cp.Book}
		case k < 6:
			r = &fanouttest.Resume{Seq: cp.Seq, Copy: &cp.Book}
		case k < 7:
			back := min(cp.Seq, p.rng.Uint64N(200))
			st, _ := p.model.At(sym, cp.Seq-back)
			tr := st.Truncated(cp.Depth)
			r = &fanouttest.Resume{Seq: cp.Seq - back, Checksum: ck(tr.Checksum(cp.Depth)), Copy: &tr}
		case k < 8:
			r = &fanouttest.Resume{Seq: p.model.Seq(sym) + 1 + p.rng.Uint64N(math.MaxUint32), Checksum: ck(p.rng.Uint32())}
		case k < 9:
			bad := cp.Book.Checksum(cp.Depth) ^ (1 + p.rng.Uint32N(math.MaxUint32))
			r = &fanouttest.Resume{Seq: cp.Seq, Checksum: &bad}
		default:
			continue
		}
		if byDepth[cp.Depth] == nil {
			byDepth[cp.Depth] = map[string]*fanouttest.Resume{}
		}
		byDepth[cp.Depth][sym] = r
	}
	for depth, rs := range byDepth {
		p.sent(c, c.Subscribe(p.ctx, depth, slices.Collect(maps.Keys(rs)), rs, false))
	}
	if len(byDepth) == 0 {
		p.subscribeRandom(c)
	}
}

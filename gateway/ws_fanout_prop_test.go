package gateway

import (
	"context"
	"flag"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"sgw/feed/event"
	"sgw/gateway/fanouttest"
	"sgw/orderbook"
	"sgw/refdata"
)

var fanoutSeed = flag.Uint64("fanout.seed", 0, "the first seed of TestWSFanoutProperty (0: from the clock)")

// TestWSFanoutProperty drives real books with random events (adds,
// executions, deletions, the book going stale and valid, rebuilds that
// empty it) while random clients subscribe and unsubscribe at random
// depths, stall until the server drops their backlog, drop their
// connection and resume from their own seq or from a hostile one (from the
// future, of another symbol, with a wrong checksum, none), on the same
// connection or a new one. Every client checks every message against the
// reference model (fanouttest): each seq's book and checksum, seqs
// contiguous after each snapshot, no duplicate, the stale mark, a
// snapshot whenever continuity cannot be kept, and, at moments when the
// server has caught up, exactly what a resume must get: the missed
// updates when the history holds them and the copy's checksum is the
// book's, else a snapshot. Clients that read are waited for before every
// burst of events, also while another is stalled: a stalled client never
// holds them back (and they never get a resync). The seed is logged;
// -fanout.seed replays one.
func TestWSFanoutProperty(t *testing.T) {
	seed := *fanoutSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	for i := range uint64(2) {
		s := seed + i
		t.Run("", func(t *testing.T) {
			t.Logf("seed %d (-fanout.seed=%d)", s, s)
			runFanoutProperty(t, s, 200)
		})
	}
}

// fanoutProp is one run of the property test. The test's goroutine alone
// uses it.
type fanoutProp struct {
	t       *testing.T
	e       *wsEnv
	rng     *rand.Rand
	ctx     context.Context
	model   *fanouttest.Model
	orders  []*fanouttest.Orders
	refs    [][]uint64
	ctl     *orderbook.Input
	history int
	clients []*fanouttest.Client
	stalls  int // clients stalled until their backlog was dropped
	// everPaused are the clients paused at some time: the server may
	// have closed them (4008).
	everPaused map[*fanouttest.Client]bool
}

func runFanoutProperty(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	history := []int{8, 32, 128}[rng.IntN(3)]
	slow := time.Hour
	if rng.IntN(2) == 0 {
		slow = 200 * time.Millisecond // stalled clients are closed (4008) and resume
	}
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10, History: history, SlowTimeout: slow,
		MaxMessagesPerSecond: 100000})
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	p := &fanoutProp{t: t, e: e, rng: rng, ctx: ctx, model: fanouttest.NewModel(testSymbols...), ctl: e.books.NewInput("ctl"), history: history,
		everPaused: map[*fanouttest.Client]bool{}}
	for range testSymbols {
		p.orders = append(p.orders, fanouttest.NewOrders())
		p.refs = append(p.refs, nil)
	}
	t.Logf("history %d, slow_timeout %v", history, slow)
	for i := range 5 {
		c := fanouttest.New(string(rune('A'+i)), p.model, fanouttest.Options{ReadBuffer: 4096})
		p.connect(c)
		p.clients = append(p.clients, c)
		p.subscribeRandom(c)
	}
	p.burst(100)
	for range steps {
		switch r := rng.IntN(100); {
		case r < 45:
			p.burst(1 + rng.IntN(30))
		case r < 50:
			p.control()
		case r < 60:
			p.subscribeRandom(p.pick())
		case r < 66:
			p.unsubscribeRandom(p.pick())
		case r < 80:
			p.reconnect(p.pickAny(), rng.IntN(2) == 0)
		case r < 86:
			p.pauseOrUnpause()
		case r < 88:
			p.stall()
		default:
			p.quiesce()
		}
		p.checkViolations()
	}
	for _, c := range p.clients {
		c.Unpause()
	}
	// A client paused until now may be closed (4008) as it reads again:
	// it connects and resumes until it has caught up.
	for _, c := range p.clients {
		for {
			if alive, _ := c.Alive(); !alive {
				p.reconnect(c, true)
			}
			ok, err := c.Wait(p.ctx, c.CaughtUp)
			if err != nil {
				t.Fatal(err)
			}
			p.checkViolations()
			if ok {
				break
			}
		}
	}
	p.quiesce()
	p.checkViolations()
	var snaps, ups, replayed int
	for _, c := range p.clients {
		st := c.Stats()
		snaps, ups, replayed = snaps+st.Snapshots, ups+st.Updates, replayed+st.Replayed
	}
	t.Logf("seqs %v; clients got %d snapshots, %d updates (%d resumed); %d stalls; resumes %v, refused %v; resyncs %v, slow disconnects %v",
		p.seqs(), snaps, ups, replayed, p.stalls,
		metricValue(t, e.reg, "gateway_ws_resumes_total", ""), metricValue(t, e.reg, "gateway_ws_resumes_refused_total", ""),
		metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", ""), metricValue(t, e.reg, "gateway_ws_slow_client_disconnects_total", ""))
	if n := metricValue(t, e.reg, "gateway_ws_hub_resnapshots_total", "") + metricValue(t, e.reg, "gateway_ws_hub_lapped_total", ""); n != 0 {
		t.Errorf("the hubs reloaded books %v times", n)
	}
}

func (p *fanoutProp) seqs() []uint64 {
	var out []uint64
	for _, s := range testSymbols {
		out = append(out, p.model.Seq(s))
	}
	return out
}

func (p *fanoutProp) checkViolations() {
	p.t.Helper()
	var all []string
	for _, c := range p.clients {
		all = append(all, c.Violations()...)
	}
	if len(all) > 0 {
		for _, h := range p.e.srv.ws.hubs {
			h.mu.Lock()
			for _, st := range h.syms {
				var hs []uint64
				for i := range st.histLen {
					hs = append(hs, st.hist[(st.histNext-st.histLen+i+len(st.hist))%len(st.hist)].Seq)
				}
				m, _ := p.model.At(st.sym, st.seq)
				p.t.Logf("hub: %s seq %d state %c histLen %d hist %v base %d/%d ck %d/%d model ck %d/%d stale %v", st.sym, st.seq, st.q.state, st.histLen, hs, st.baseCk10, st.baseCk5, st.ck10, st.ck5, m.Checksum(10), m.Checksum(5), m.Stale)
			}
			h.mu.Unlock()
		}
		p.t.Logf("hubs: resnapshots %v lapped %v", metricValue(p.t, p.e.reg, "gateway_ws_hub_resnapshots_total", ""), metricValue(p.t, p.e.reg, "gateway_ws_hub_lapped_total", ""))
		p.t.Fatalf("%d violations, the first:\n%s", len(all), all[:min(len(all), 8)])
	}
}

// pick returns a random client that is connected, reconnecting one if
// none is.
func (p *fanoutProp) pick() *fanouttest.Client {
	c := p.pickAny()
	if alive, _ := c.Alive(); !alive {
		p.reconnect(c, false)
	}
	return c
}

func (p *fanoutProp) pickAny() *fanouttest.Client { return p.clients[p.rng.IntN(len(p.clients))] }

// connect connects c and makes the server's send buffer to it small, so
// that a paused client backs the server up quickly (see dialStalled).
func (p *fanoutProp) connect(c *fanouttest.Client) {
	p.t.Helper()
	known := p.e.srv.ws.snapshotClients()
	if err := c.Connect(p.ctx, p.e.url); err != nil {
		p.t.Fatal(err)
	}
	var server *client
	waitUntil(p.t, func() bool {
		for _, sc := range p.e.srv.ws.snapshotClients() {
			if !slices.Contains(known, sc) {
				server = sc
				return true
			}
		}
		return false
	})
	if err := tcpConn(server.raw).SetWriteBuffer(4096); err != nil {
		p.t.Fatal(err)
	}
}

// event records the next state of symbol sym in the model and returns it.
func (p *fanoutProp) record(sym int, reset bool) {
	st := p.orders[sym].State()
	st.Reset = reset
	p.model.Next(testSymbols[sym], st)
}

// burst waits for the clients that read, then applies n random book
// events. Bursts are small enough that a client that keeps up never
// overflows its queue.
func (p *fanoutProp) burst(n int) {
	p.waitReaders()
	tb := p.e.books
	for range n {
		sym := p.rng.IntN(len(testSymbols))
		o, refs := p.orders[sym], p.refs[sym]
		switch r := p.rng.IntN(10); {
		case r < 5 || len(refs) < 10:
			ask, price := false, refdata.Price(17000000-100*p.rng.IntN(30))
			if p.rng.IntN(2) == 0 {
				ask, price = true, refdata.Price(17000100+100*p.rng.IntN(30))
			}
			qty := int64(100 * (1 + p.rng.IntN(10)))
			ref := tb.ref + 1
			o.Add(ref, ask, int64(price), qty)
			p.record(sym, false)
			side := byte('B')
			if ask {
				side = 'S'
			}
			if got := tb.add(p.t, sym, side, price, uint64(qty)); got != ref {
				p.t.Fatalf("order ref %d, want %d", got, ref)
			}
			p.refs[sym] = append(refs, ref)
		case r < 7:
			i := p.rng.IntN(len(refs))
			o.Reduce(refs[i], 100)
			p.record(sym, false)
			tb.execute(p.t, sym, refs[i], 100)
			if o.Qty(refs[i]) == 0 {
				p.refs[sym] = slices.Delete(refs, i, i+1)
			}
		default:
			i := p.rng.IntN(len(refs))
			o.Remove(refs[i])
			p.record(sym, false)
			tb.remove(p.t, sym, refs[i])
			p.refs[sym] = slices.Delete(refs, i, i+1)
		}
	}
}

// waitBooks waits until the engine has applied every event of sym the
// model holds.
func (p *fanoutProp) waitBooks(sym int) {
	p.t.Helper()
	want := p.model.Seq(testSymbols[sym])
	waitUntil(p.t, func() bool { return p.e.books.seq(sym) == want })
}

// control marks a book stale or valid, or rebuilds it (empty and stale),
// through another input than the feed's: the feed's events are waited
// for first, so the model knows the order.
func (p *fanoutProp) control() {
	sym := p.rng.IntN(len(testSymbols))
	p.waitBooks(sym)
	o := p.orders[sym]
	ev := event.Event{Symbol: uint32(sym)}
	switch {
	case p.rng.IntN(4) == 0:
		ev.Kind = event.Clear
		o.Clear()
		p.refs[sym] = nil
		o.Stale = true
		p.record(sym, true)
	case o.Stale:
		ev.Kind = event.Valid
		o.Stale = false
		p.record(sym, false)
	default:
		ev.Kind = event.Stale
		o.Stale = true
		p.record(sym, false)
	}
	if err := p.ctl.Apply(&ev); err != nil {
		p.t.Fatal(err)
	}
	p.waitBooks(sym)
}

// readers are the clients connected and not paused.
func (p *fanoutProp) readers() []*fanouttest.Client {
	var out []*fanouttest.Client
	for _, c := range p.clients {
		if alive, _ := c.Alive(); alive && !c.Paused() {
			out = append(out, c)
		}
	}
	return out
}

// waitReaders waits until every client that reads has caught up with the
// model, whatever the paused ones do.
func (p *fanoutProp) waitReaders() {
	p.t.Helper()
	for _, c := range p.readers() {
		ok, err := c.Wait(p.ctx, c.CaughtUp)
		p.checkViolations()
		if err != nil {
			p.t.Fatalf("%v; paused: %v", err, p.pausedNames())
		}
		if _, code := c.Alive(); !ok && !p.everPaused[c] {
			p.t.Fatalf("client %s, which never stalled, was closed (%v)", c.Name(), code)
		}
	}
}

func (p *fanoutProp) pausedNames() []string {
	var out []string
	for _, c := range p.clients {
		if c.Paused() {
			out = append(out, c.Name())
		}
	}
	return out
}

// quiesce waits until the books, the hubs and the reading clients have
// caught up, and makes the readers strict again.
func (p *fanoutProp) quiesce() {
	p.t.Helper()
	p.e.books.settle(p.t)
	p.e.hubsAt()
	p.waitReaders()
	for _, c := range p.readers() {
		c.Strict()
	}
}

func (p *fanoutProp) randomSyms() []string {
	syms := slices.Clone(testSymbols)
	p.rng.Shuffle(len(syms), func(i, j int) { syms[i], syms[j] = syms[j], syms[i] })
	return syms[:1+p.rng.IntN(len(syms))]
}

// subscribeRandom subscribes c to random books; now and then with an
// unknown symbol, or resuming from the future on the same connection.
func (p *fanoutProp) subscribeRandom(c *fanouttest.Client) {
	syms := p.randomSyms()
	depth := bookDepths[p.rng.IntN(3)]
	hostile := false
	var resume map[string]*fanouttest.Resume
	switch p.rng.IntN(10) {
	case 0:
		syms, hostile = append(syms, "999999.SH"), true
	case 1:
		resume = map[string]*fanouttest.Resume{}
		for _, s := range syms {
			resume[s] = &fanouttest.Resume{Seq: p.model.Seq(s) + 1 + p.rng.Uint64N(1000), Expect: fanouttest.ExpectSnapshot}
		}
	}
	p.sent(c, c.Subscribe(p.ctx, depth, syms, resume, hostile))
}

// sent checks the outcome of sending a request to c: a client that was
// paused may have been closed for it (4008), and is then dropped, to
// connect again later; any other failure ends the test.
func (p *fanoutProp) sent(c *fanouttest.Client, err error) {
	p.t.Helper()
	if err == nil {
		return
	}
	if !p.everPaused[c] {
		p.t.Fatalf("client %s never paused: %v", c.Name(), err)
	}
	c.Drop()
}

func (p *fanoutProp) unsubscribeRandom(c *fanouttest.Client) {
	p.sent(c, c.Unsubscribe(p.ctx, p.randomSyms()))
}

// pauseOrUnpause pauses a reading client (one always reads) or lets a
// paused one read again.
func (p *fanoutProp) pauseOrUnpause() {
	c := p.pickAny()
	if c.Paused() {
		c.Unpause()
		return
	}
	if len(p.readers()) > 1 {
		c.Pause()
		p.everPaused[c] = true
	}
}

// stall pauses a client holding every book at depth 20 and goes on with
// bursts, waiting each time for the clients that read, until the server
// has dropped the stalled client's backlog (or closed it, 4008): the
// stalled client never held the others back.
func (p *fanoutProp) stall() {
	if len(p.readers()) < 2 {
		return
	}
	c := p.readers()[p.rng.IntN(len(p.readers()))]
	p.sent(c, c.Subscribe(p.ctx, 20, testSymbols, nil, false))
	p.waitReaders()
	resyncs := metricValue(p.t, p.e.reg, "gateway_ws_slow_client_resyncs_total", "")
	c.Pause()
	p.everPaused[c] = true
	// The bound is generous: the server's socket takes up to 4 MiB
	// (tcp_wmem) before its writes block and the queue (64 KiB) fills,
	// some 1,500 bursts of a few KiB; 2,000 was seen too few.
	for i := 0; metricValue(p.t, p.e.reg, "gateway_ws_slow_client_resyncs_total", "") == resyncs; i++ {
		if i == 20000 {
			p.t.Fatalf("client %s stalled through %d bursts and never had its backlog dropped", c.Name(), i)
		}
		p.burst(20)
	}
	p.stalls++
}

// reconnect drops c's connection (if it has one) and connects it again,
// resuming the books it held, each from a random kind of resume point.
// When strict, the server is first let catch up, so that what each
// resume must get is known.
func (p *fanoutProp) reconnect(c *fanouttest.Client, strict bool) {
	copies := c.Copies()
	c.Drop()
	if strict {
		p.quiesce()
	}
	p.connect(c)
	byDepth := map[int]map[string]*fanouttest.Resume{}
	for sym, cp := range copies {
		depth, r := cp.Depth, p.resumePoint(sym, cp)
		if r == nil {
			continue
		}
		if r.Copy == nil && p.rng.IntN(3) == 0 {
			depth = bookDepths[p.rng.IntN(3)] // a hostile resume need not keep the depth
		}
		if strict {
			r.Expect = p.expect(sym, depth, r)
		}
		if byDepth[depth] == nil {
			byDepth[depth] = map[string]*fanouttest.Resume{}
		}
		byDepth[depth][sym] = r
	}
	for depth, rs := range byDepth {
		p.sent(c, c.Subscribe(p.ctx, depth, slices.Collect(maps.Keys(rs)), rs, false))
	}
	if strict {
		// What the resumes must get was decided for the books as they
		// are: no event may reach them before the server has taken the
		// requests.
		if _, err := c.Wait(p.ctx, c.Answered); err != nil {
			p.t.Fatal(err)
		}
		p.checkViolations()
	}
	if len(byDepth) == 0 || p.rng.IntN(4) == 0 {
		p.subscribeRandom(c)
	}
}

// resumePoint returns a resume of sym for a client that held cp: its own
// (with its checksum or without), an earlier honest one, one at the edge
// of the history, or a hostile one. Nil: subscribe afresh.
func (p *fanoutProp) resumePoint(sym string, cp fanouttest.Copy) *fanouttest.Resume {
	ck := func(v uint32) *uint32 { return &v }
	maybe := func(v *uint32) *uint32 { // half the time, without (a snapshot)
		if p.rng.IntN(2) == 0 {
			return nil
		}
		return v
	}
	at := func(seq uint64) *fanouttest.State {
		st, _ := p.model.At(sym, seq)
		tr := st.Truncated(cp.Depth)
		return &tr
	}
	switch r := p.rng.IntN(20); {
	case r < 6: // its own copy
		return &fanouttest.Resume{Seq: cp.Seq, Checksum: ck(cp.Book.Checksum(cp.Depth)), Copy: &cp.Book}
	case r < 8: // its own, without its checksum
		return &fanouttest.Resume{Seq: cp.Seq, Copy: &cp.Book}
	case r < 11: // the copy it had earlier, up to twice the history back
		back := min(cp.Seq, p.rng.Uint64N(uint64(2*p.history+2)))
		c := at(cp.Seq - back)
		return &fanouttest.Resume{Seq: cp.Seq - back, Checksum: maybe(ck(c.Checksum(cp.Depth))), Copy: c}
	case r < 13: // the copy at the oldest seq the history holds, or one before
		now := p.model.Seq(sym)
		held := min(uint64(p.history), now-p.model.LastReset(sym))
		from := now - held
		if p.rng.IntN(2) == 0 && from > 0 {
			from--
		}
		c := at(from)
		return &fanouttest.Resume{Seq: from, Checksum: maybe(ck(c.Checksum(cp.Depth))), Copy: c}
	case r < 14: // from the future
		seq := p.model.Seq(sym) + 1 + p.rng.Uint64N(1000)
		if p.rng.IntN(3) == 0 {
			seq = math.MaxUint64
		}
		res := &fanouttest.Resume{Seq: seq}
		if p.rng.IntN(2) == 0 {
			res.Checksum = ck(p.rng.Uint32())
		}
		return res
	case r < 16: // another symbol's seq and checksum
		other := testSymbols[p.rng.IntN(len(testSymbols))]
		for other == sym {
			other = testSymbols[p.rng.IntN(len(testSymbols))]
		}
		seq := p.rng.Uint64N(p.model.Seq(other) + 1)
		ost, _ := p.model.At(other, seq)
		res := &fanouttest.Resume{Seq: seq}
		if p.rng.IntN(3) > 0 {
			res.Checksum = ck(ost.Checksum(cp.Depth))
		}
		if st, ok := p.model.At(sym, seq); ok && (res.Checksum == nil || st.Checksum(cp.Depth) == *res.Checksum) {
			res.Copy = at(seq) // no checksum (a snapshot), or the same checksum: the server may go on from the book's own state
		}
		return res
	case r < 18: // its seq, a wrong checksum
		bad := cp.Book.Checksum(cp.Depth) ^ (1 + p.rng.Uint32N(math.MaxUint32))
		return &fanouttest.Resume{Seq: cp.Seq, Checksum: &bad}
	case r < 19: // from seq 0, the empty book
		empty := &fanouttest.State{}
		return &fanouttest.Resume{Seq: 0, Checksum: ck(empty.Checksum(cp.Depth)), Copy: empty}
	default:
		return nil
	}
}

// expect returns what a resume must get from a server that has caught up
// with the model: the missed updates when the history holds them, the
// book is not stale and the checksum is given and the book's at the
// resume seq; else a snapshot.
func (p *fanoutProp) expect(sym string, depth int, r *fanouttest.Resume) fanouttest.Expect {
	now := p.model.Seq(sym)
	cur, _ := p.model.At(sym, now)
	held := min(uint64(p.history), now-p.model.LastReset(sym))
	if cur.Stale || r.Seq > now || now-r.Seq > held {
		return fanouttest.ExpectSnapshot
	}
	if r.Checksum == nil {
		return fanouttest.ExpectSnapshot // nothing tells the copy from another book at r.Seq
	}
	if st, _ := p.model.At(sym, r.Seq); st.Checksum(depth) != *r.Checksum {
		return fanouttest.ExpectSnapshot
	}
	return fanouttest.ExpectReplay
}

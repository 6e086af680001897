package gateway

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/gateway/mdclient"
	"sgw/orderbook"
	"sgw/refdata"
)

// wsEnv is a gateway server over hand-fed books, served by httptest.
type wsEnv struct {
	t     *testing.T
	books *testBooks
	srv   *Server
	http  *httptest.Server
	url   string
	rng   *rand.Rand
	live  map[int][]uint64 // resting order refs by symbol
	reg   *prometheus.Registry
	auth  *auth.Verifier
}

var testSymbols = []string{"600519.SH", "601318.SH", "000001.SZ", "300750.SZ"}

func newWSEnv(t *testing.T, cfg WSConfig) *wsEnv {
	t.Helper()
	books := newTestBooks(t, testSymbols...)
	reg := prometheus.NewRegistry()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{WS: cfg}, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, srv, books, reg, v)
}

// startEnv runs srv's WebSocket side and serves it with httptest.
func startEnv(t *testing.T, srv *Server, books *testBooks, reg *prometheus.Registry, v *auth.Verifier) *wsEnv {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); srv.ws.run(ctx) }()
	<-srv.ws.started
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.CloseClientConnections(); cancel(); <-done; hs.Close() })
	return &wsEnv{t: t, books: books, srv: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws",
		rng: rand.New(rand.NewPCG(1, 2)), live: map[int][]uint64{}, reg: reg, auth: v}
}

// flow applies n random book events: adds around 1700.00, executions and
// deletions of resting orders.
func (e *wsEnv) flow(n int) {
	for range n {
		sym := e.rng.IntN(len(testSymbols))
		refs := e.live[sym]
		switch r := e.rng.IntN(10); {
		case r < 5 || len(refs) < 10:
			side := byte('B')
			price := refdata.Price(17000000 - 100*e.rng.IntN(30))
			if e.rng.IntN(2) == 0 {
				side, price = 'S', refdata.Price(17000100+100*e.rng.IntN(30))
			}
			e.live[sym] = append(refs, e.books.add(e.t, sym, side, price, uint64(100*(1+e.rng.IntN(10)))))
		case r < 7:
			i := e.rng.IntN(len(refs))
			e.books.execute(e.t, sym, refs[i], 100)
		default:
			i := e.rng.IntN(len(refs))
			e.books.remove(e.t, sym, refs[i])
			e.live[sym] = slices.Delete(refs, i, i+1)
		}
	}
	e.books.settle(e.t)
}

func (e *wsEnv) dial(token string) *mdclient.Client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	c, _, err := mdclient.Dial(ctx, e.url, mdclient.Options{Token: token})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Conn().CloseNow() })
	return c
}

// drain reads from c until cond holds for its state.
func drain(t *testing.T, c *mdclient.Client, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for !cond() {
		if _, err := c.Next(ctx); err != nil {
			t.Fatalf("read: %v (stats %+v)", err, c.Stats)
		}
	}
}

// readUntil reads from c until stop is closed and cond holds for c's
// state; it checks cond after every frame once stop is closed. It may run
// on any goroutine, and is then the only one using c. Its bound only keeps
// a broken test from hanging: reaching it is a failure, reported as the
// read error.
func readUntil(c *mdclient.Client, stop <-chan struct{}, cond func() bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for {
		select {
		case <-stop:
			if cond() {
				return nil
			}
		default:
		}
		if _, err := c.Next(ctx); err != nil {
			return fmt.Errorf("read: %w (stats %+v)", err, c.Stats)
		}
	}
}

// caughtUp reports whether c's books have reached the engine's seqs.
func (e *wsEnv) caughtUp(c *mdclient.Client, syms ...string) func() bool {
	return func() bool {
		for _, s := range syms {
			id, _ := e.books.Lookup(s)
			b := c.Books[s]
			if b == nil || b.Seq < e.books.seq(int(id)) {
				return false
			}
		}
		return true
	}
}

// sameAsEngine checks that c's copy of sym equals the engine's view.
func (e *wsEnv) sameAsEngine(c *mdclient.Client, sym string) {
	e.t.Helper()
	id, _ := e.books.Lookup(sym)
	b := c.Books[sym]
	var v orderbook.View
	e.books.View(id, b.Depth, &v)
	strip := func(ls []orderbook.Level) []orderbook.Level {
		out := make([]orderbook.Level, len(ls))
		for i, l := range ls {
			out[i] = orderbook.Level{Price: l.Price, Qty: l.Qty}
		}
		return out
	}
	if v.Seq != b.Seq || !slices.Equal(strip(v.Bids), b.Bids) || !slices.Equal(strip(v.Asks), b.Asks) {
		e.t.Fatalf("%s depth %d: client seq %d %v / %v; engine seq %d %v / %v", sym, b.Depth, b.Seq, b.Bids, b.Asks, v.Seq, strip(v.Bids), strip(v.Asks))
	}
}

func TestWSManyClientsSeeEveryUpdate(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
	e.flow(200)
	type sub struct {
		c     *mdclient.Client
		depth int
		syms  []string
	}
	var subs []sub
	for i := range 24 {
		depth := bookDepths[i%3]
		syms := []string{testSymbols[i%4], testSymbols[(i+1)%4]}
		c := e.dial("")
		if err := c.Subscribe(context.Background(), "book", depth, nil, syms...); err != nil {
			t.Fatal(err)
		}
		subs = append(subs, sub{c, depth, syms})
	}
	// Clients read while the flow runs, each on its own goroutine, until
	// the flow is over and the client has caught up with the books. A
	// reader that caught up and waits for a frame is woken by the pong to
	// a ping sent once the flow is over.
	flowDone := make(chan struct{})
	errs := make(chan error, len(subs))
	for _, s := range subs {
		go func() { errs <- readUntil(s.c, flowDone, e.caughtUp(s.c, s.syms...)) }()
	}
	e.flow(3000)
	close(flowDone)
	for _, s := range subs {
		if err := s.c.Send(context.Background(), map[string]string{"op": "ping"}); err != nil {
			t.Fatal(err)
		}
	}
	for range subs {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range subs {
		if v := s.c.Stats.Violations(); v != 0 || s.c.Stats.Resyncs != 0 {
			t.Fatalf("depth %d client: %d violations, %d resyncs: %+v", s.depth, v, s.c.Stats.Resyncs, s.c.Stats)
		}
		for _, sym := range s.syms {
			e.sameAsEngine(s.c, sym)
		}
		if s.c.Stats.Snapshots != 2 {
			t.Fatalf("client got %d snapshots, want one per symbol", s.c.Stats.Snapshots)
		}
	}
	if sent := metricValue(t, e.reg, "gateway_ws_messages_sent_total", ""); sent == 0 {
		t.Fatal("gateway_ws_messages_sent_total not counted")
	}
}

func TestWSQuotesAndTrades(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
	c := e.dial("")
	ctx := context.Background()
	if err := c.Subscribe(ctx, "quote", 0, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "trades", 0, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "subscribed" && m.Channel == "trades" })
	ref := e.books.add(t, 0, 'B', 17000000, 500)
	e.books.add(t, 0, 'S', 17000100, 300)
	e.books.execute(t, 0, ref, 200)
	var quote, trade mdclient.Message
	collect(t, c, func(m mdclient.Message) bool {
		switch m.Ch {
		case "quote":
			quote = m
		case "trades":
			trade = m
		}
		return quote.Volume == 200 && trade.Qty == 200
	})
	if quote.Bid.Price != 17000000 || quote.Bid.Qty != 300 || quote.Ask.Price != 17000100 || quote.Last != 17000000 {
		t.Fatalf("quote %+v", quote)
	}
	if trade.Price != 17000000 || trade.Seq != 3 {
		t.Fatalf("trade %+v", trade)
	}
}

// collect reads messages until done returns true for one.
func collect(t *testing.T, c *mdclient.Client, done func(m mdclient.Message) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for {
		msgs, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, m := range msgs {
			if done(m) {
				return
			}
		}
	}
}

// metricValue returns the value of a counter or gauge in reg, summed over
// the series whose labels contain label (as name="value"), or all.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			match := label == ""
			for _, lp := range m.GetLabel() {
				if fmt.Sprintf("%s=%q", lp.GetName(), lp.GetValue()) == label {
					match = true
				}
			}
			if !match {
				continue
			}
			if m.Counter != nil {
				sum += m.Counter.GetValue()
			}
			if m.Gauge != nil {
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

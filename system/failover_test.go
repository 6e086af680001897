package system

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/configs"
	"sgw/gateway/mdclient"
	"sgw/journal"
	"sgw/sim"
	"sgw/sim/fixsim"
)

// venue is the simulator and its FIX acceptor, which outlive gateways.
type venue struct {
	cfg *configs.File
	sim *sim.Sim
	fix *fixsim.Acceptor
}

func testLog() *slog.Logger {
	if os.Getenv("SGW_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// startVenue runs the demo's simulator and FIX acceptor and returns the demo
// configuration wired to them.
func startVenue(t *testing.T) *venue {
	t.Helper()
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	sc, err := cfg.SimConfig()
	if err != nil {
		t.Fatal(err)
	}
	sc.Logger = testLog()
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	WireSimFeeds(cfg, s)
	fa, err := fixsim.New(*cfg.FIXSim, s, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := wireSimFIX(cfg, fa); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Run(ctx) }()
	go func() { defer wg.Done(); fa.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &venue{cfg: cfg, sim: s, fix: fa}
}

// runningGateway is one gateway process's worth of components.
type runningGateway struct {
	g      *Gateway
	base   string
	cancel context.CancelFunc
	done   chan error
}

func startGateway(t *testing.T, v *venue) *runningGateway {
	t.Helper()
	g, err := New(v.cfg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rg := &runningGateway{g: g, base: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	go func() { rg.done <- g.Run(ctx, ln) }()
	t.Cleanup(rg.stop)
	return rg
}

func (rg *runningGateway) stop() {
	if rg.cancel != nil {
		rg.cancel()
		<-rg.done
		rg.cancel = nil
	}
}

// trader is a WebSocket client entering orders for account A1 and counting
// what comes back for each client order id.
type trader struct {
	t   *testing.T
	c   *mdclient.Client
	ctx context.Context

	mu       sync.Mutex
	accepted map[string]int
	news     map[string]int // exec new
	terminal map[string]string
	errors   map[string]string
	seen     map[string]bool // exec ids seen, to catch a duplicate delivery
	dupExecs int
}

func newTrader(t *testing.T, rg *runningGateway) *trader {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	token, err := rg.g.Tokens().IssueFor("t", []string{"A1"}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := mdclient.Dial(ctx, "ws"+strings.TrimPrefix(rg.base, "http")+"/ws", mdclient.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	tr := &trader{t: t, c: c, ctx: ctx, accepted: map[string]int{}, news: map[string]int{}, terminal: map[string]string{},
		errors: map[string]string{}, seen: map[string]bool{}}
	if err := c.Send(ctx, map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{"A1"}}); err != nil {
		t.Fatal(err)
	}
	go tr.read()
	return tr
}

func (tr *trader) read() {
	for {
		msgs, err := tr.c.Next(tr.ctx)
		if err != nil {
			return
		}
		tr.mu.Lock()
		for _, m := range msgs {
			switch {
			case m.Type == "error":
				tr.errors[m.Ref] = m.Code + ": " + m.Msg
			case m.Type == "accepted" && m.Ref == m.ClOrdID:
				tr.accepted[m.ClOrdID]++
			case m.Type == "exec" && m.ExecType == "new":
				tr.news[m.ClOrdID]++
			case m.Type == "exec" && (m.Status == "canceled" || m.Status == "filled" || m.Status == "rejected"):
				tr.terminal[m.ClOrdID] = m.Status
			}
		}
		tr.mu.Unlock()
	}
}

// send enters a resting buy far below the market.
func (tr *trader) send(id string) {
	if err := tr.c.Send(tr.ctx, map[string]any{"op": "order.new", "clOrdId": id, "account": "A1", "symbol": "601318.SH",
		"side": "buy", "type": "limit", "price": "41.10", "qty": 100}); err != nil {
		tr.t.Fatal(err)
	}
}

// stream enters n orders at rate per second and returns their ids.
func (tr *trader) stream(prefix string, n, rate int, midway func()) []string {
	var ids []string
	for i := range n {
		if i == n/2 && midway != nil {
			midway()
		}
		id := fmt.Sprintf("%s-%d", prefix, i)
		tr.send(id)
		ids = append(ids, id)
		time.Sleep(time.Second / time.Duration(rate))
	}
	return ids
}

func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkOutcomes checks that every order has exactly one outcome: either
// it was refused while the gateway reconciled after a failover (nothing
// journaled, nothing sent), or it was accepted once, acknowledged by the
// upstream once, rests at the venue exactly once (a PossDup resend may have
// carried it, never a second fresh copy) and is journaled once.
func checkOutcomes(t *testing.T, v *venue, rg *runningGateway, tr *trader, ids []string) {
	t.Helper()
	waitUntil(t, "every order answered", 30*time.Second, func() bool {
		tr.mu.Lock()
		defer tr.mu.Unlock()
		for _, id := range ids {
			if tr.news[id] == 0 && tr.errors[id] == "" {
				return false
			}
		}
		return true
	})
	journaled := map[string]int{}
	if err := journal.ReadFile(v.cfg.Orders.Journal, func(r journal.Record) error {
		if r.Type == 'N' {
			var rec struct {
				ClOrdID string `json:"c"`
			}
			if err := json.Unmarshal(r.Body, &rec); err != nil {
				return err
			}
			journaled[rec.ClOrdID]++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	resting := map[string]int{}
	bids, _ := v.sim.Orders("601318.SH")
	for _, o := range bids {
		resting[o.Tag]++
	}
	tr.mu.Lock()
	defer tr.mu.Unlock()
	refused := 0
	for _, id := range ids {
		if e := tr.errors[id]; e != "" {
			refused++
			if !strings.HasPrefix(e, "orders.reconciling") || tr.accepted[id] != 0 || journaled[id] != 0 {
				t.Errorf("%s: refused (%s) but accepted %d times, journaled %d times", id, e, tr.accepted[id], journaled[id])
			}
			continue
		}
		o, ok := rg.g.Orders().Get("A1", id)
		if !ok {
			t.Errorf("%s unknown to the gateway", id)
			continue
		}
		fresh, dup := v.fix.Seen(o.UpstreamID)
		if tr.accepted[id] != 1 || tr.news[id] != 1 || journaled[id] != 1 || resting[o.UpstreamID] != 1 || fresh > 1 || fresh+dup == 0 {
			t.Errorf("%s (%s): accepted %d, acknowledged %d, journaled %d, resting at the venue %d, reached it fresh %d + as a resend %d",
				id, o.UpstreamID, tr.accepted[id], tr.news[id], journaled[id], resting[o.UpstreamID], fresh, dup)
		}
	}
	t.Logf("%d orders: %d refused while reconciling, the rest accepted and resting once", len(ids), refused)
}

func TestOrdersSurviveLineFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault func(v *venue)
		heal  func(v *venue)
	}{
		{"cut line A", func(v *venue) { v.fix.CutLine(v.fix.ActiveLine("SGW-CORE")) }, nil},
		{"stall line A silently", func(v *venue) { v.fix.StallLine(v.fix.ActiveLine("SGW-CORE")) }, nil},
		{"cut both then restore one", func(v *venue) { v.fix.CutLine(0); v.fix.CutLine(1) }, func(v *venue) { v.fix.RestoreLine(1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := startVenue(t)
			rg := startGateway(t, v)
			waitUntil(t, "the core session up", 15*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
			tr := newTrader(t, rg)
			time.Sleep(100 * time.Millisecond) // the orders subscription
			ids := tr.stream("o", 60, 30, func() { tc.fault(v) })
			if tc.heal != nil {
				time.Sleep(500 * time.Millisecond)
				tc.heal(v)
			}
			checkOutcomes(t, v, rg, tr, ids)
		})
	}
}

func TestGatewayRestartMidStream(t *testing.T) {
	v := startVenue(t)
	first := startGateway(t, v)
	waitUntil(t, "the core session up", 15*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	tr := newTrader(t, first)
	time.Sleep(100 * time.Millisecond)
	before := tr.stream("r1", 30, 1000, nil)
	first.stop() // mid-stream: acknowledgements and fills may still be in flight

	second := startGateway(t, v)
	waitUntil(t, "the core session up again", 15*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	// The restarted gateway knows every order the first one accepted, and
	// resolves their state with the upstream.
	accepted := 0
	tr.mu.Lock()
	for _, id := range before {
		if tr.accepted[id] == 1 {
			accepted++
		}
	}
	tr.mu.Unlock()
	waitUntil(t, "reconciliation", 15*time.Second, func() bool {
		for _, id := range before {
			o, ok := second.g.Orders().Get("A1", id)
			if tr.accepted[id] == 1 && (!ok || o.Status == "unknown" || o.Status == "pending_new") {
				return false
			}
		}
		return true
	})
	for _, id := range before {
		o, ok := second.g.Orders().Get("A1", id)
		if !ok {
			continue // never accepted: the client saw no acknowledgement
		}
		if fresh, _ := v.fix.Seen(o.UpstreamID); fresh != 1 {
			t.Errorf("%s reached the venue %d times fresh, want 1", id, fresh)
		}
	}
	// New orders flow through the restarted gateway.
	tr2 := newTrader(t, second)
	time.Sleep(100 * time.Millisecond)
	after := tr2.stream("r2", 20, 30, nil)
	checkOutcomes(t, v, second, tr2, after)
	t.Logf("%d of %d orders were acknowledged before the restart", accepted, len(before))
}

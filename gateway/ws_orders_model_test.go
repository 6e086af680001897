package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/journal"
	"sgw/orders"
	"sgw/orders/orderstest"
	"sgw/refdata"
	"sgw/risk"
)

// TestWSOrdersAgainstModel is a randomized model test of WebSocket order
// entry: three trading clients (two on account A1, one on A2), written
// from docs/PROTOCOL.md with their own JSON and sharing nothing with the
// server's encoders, trade over the real WebSocket server in front of a
// real orders.Manager (journal on disk, risk) and a simulated venue. They
// send new orders (fresh, reused and invalid client order ids, bad
// fields), cancels, replaces, status and list requests, the same request
// twice, messages over the size limit (closed with 1009), and drop their
// connections, also right after a request, then connect again,
// subscribe to their account's orders and list them. The venue
// acknowledges, rejects, fills, cancels on its own, takes and refuses
// cancels and replaces and answers status requests; its line is cut and
// restored; the gateway restarts (the server and the manager, on its
// journal). Cancel-on-disconnect is on or off by seed. At quiescence: the
// venue got each order the manager holds exactly once and agrees with its
// state; every request got exactly one answer echoing its id, of a kind
// its request allows (or, on a connection that died first, at most one,
// and order.status on the next connection answers for its client order
// id as the manager does); each client's view of its account (its
// connection's order events and list pages, the last word on each order
// winning) equals the manager's; the trades a connection saw of an order
// sum to its cumQty, and each names by its execId a fill the venue made of
// it; order.trades of each order lists the venue's fills of it; with cancel-on-disconnect, no order of a connection
// that is gone still works; nothing hung. WS_MODEL_SEED replays a seed
// (its choices, not its timing), WS_MODEL_RUNS sets how many seeds run
// (from it on), WS_MODEL_STEPS the steps of each.
func TestWSOrdersAgainstModel(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("WS_MODEL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	runs, steps := 3, 200
	if s := os.Getenv("WS_MODEL_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("WS_MODEL_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	for i := range uint64(runs) {
		s := seed + i
		t.Run(strconv.FormatUint(s, 10), func(t *testing.T) {
			t.Logf("seed %d (WS_MODEL_SEED=%d WS_MODEL_RUNS=1 to replay), %d steps", s, s, steps)
			runWSOrdersModel(t, s, steps)
		})
	}
}

// wsModelWait bounds every wait of the model test: reaching it is a
// failure (something hung), never a pass.
const wsModelWait = 30 * time.Second

func runWSOrdersModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := startWSModelGateway(t, rng.IntN(2) == 0)
	// The venue draws from its own source: what it has to answer
	// depends on timing, and the steps should not.
	v := orderstest.NewVenue(t, g.m, g.up, rand.New(rand.NewPCG(seed^0x5bd1e995, seed)))
	v.SelfCancel = true
	var clients []*wsModelClient
	for i, acct := range []string{"A1", "A1", "A2"} {
		c := &wsModelClient{t: t, g: g, name: fmt.Sprintf("c%d", i), acct: acct, reqs: map[int]*wsModelReq{},
			sentIDs: map[string]int{}, notify: make(chan struct{})}
		c.connect()
		clients = append(clients, c)
	}
	trace := os.Getenv("WS_MODEL_TRACE") != ""
	for step := range steps {
		c := clients[rng.IntN(len(clients))]
		if c.dead() {
			c.connect()
		}
		r := rng.IntN(100)
		if trace {
			t.Logf("step %d: %s r=%d", step, c.name, r)
		}
		switch {
		case r < 22:
			c.newOrder(rng, step)
		case r < 30:
			c.cancel(rng, step, clients)
		case r < 38:
			c.replace(rng, step, clients)
		case r < 42:
			c.status(rng, clients)
		case r < 44:
			c.list()
		case r < 47:
			c.again(rng)
		case r < 48:
			c.oversized()
		case r < 51:
			c.dropMidRequest(rng, step, clients)
		case r < 53:
			c.reconnect()
		case r < 86:
			v.Act()
		case r < 89:
			v.LineCut()
		case r < 92:
			v.LineUp()
		case r < 93:
			g.restart(v, clients)
		default:
			c.marker()
		}
	}

	// Quiescence: the line up, every client connected and its requests
	// handled, the venue answering until no order awaits it.
	v.LineUp()
	ended := 0
	for _, c := range clients {
		if c.dead() {
			c.connect()
		}
		c.marker()
		ended += c.gen - 1
	}
	g.waitDisconnects(ended)
	v.Settle(wsModelWait, g.allOrders)
	for _, c := range clients {
		c.converge()
	}
	for _, c := range clients {
		c.checkAnswers()
		c.checkTrades()
		c.checkExecIDs(v)
		c.checkOrderTrades(v)
	}
	v.Check(g.allOrders())
	if g.cod {
		g.checkCancelOnDisconnect(clients, v)
	}
	stale := 0
	for _, c := range clients {
		c.mu.Lock()
		stale += stalePages(c.got)
		c.mu.Unlock()
	}
	if stale > 0 {
		t.Errorf("%d list entries or status answers came after a newer event of their order on their connection", stale)
	}
	t.Logf("cancel-on-disconnect %v; %d gateway restarts; %d orders at the venue, %d executions; connections %d %d %d",
		g.cod, g.restarts, v.Orders(), v.Execs(), clients[0].gen, clients[1].gen, clients[2].gen)
}

// wsModelGateway is the gateway under test: the WebSocket server in front
// of an order manager with its journal on disk and a recording upstream,
// restarted on the same journal. Only the test's goroutine uses it.
type wsModelGateway struct {
	t      *testing.T
	path   string
	cod    bool // risk.Config.CancelOnDisconnect
	tokens *auth.Verifier
	handed map[string]bool // the ids of every request an earlier run's upstream had

	m      *orders.Manager
	j      *journal.Journal
	up     *orderstest.Line
	srv    *Server
	url    string
	cancel context.CancelFunc
	served chan error

	restarts int

	mu          sync.Mutex
	disconnects int           // connections the server has seen end (OrderEntry.Disconnected)
	notify      chan struct{} // closed and replaced at each
}

// wsModelEntry is the order manager as the server's order entry,
// counting the connections that end.
type wsModelEntry struct {
	*orders.Manager
	g *wsModelGateway
}

// Disconnected implements OrderEntry.
func (e wsModelEntry) Disconnected(src orders.Source) int {
	n := e.Manager.Disconnected(src)
	e.g.mu.Lock()
	e.g.disconnects++
	close(e.g.notify)
	e.g.notify = make(chan struct{})
	e.g.mu.Unlock()
	return n
}

// waitDisconnects waits until the server has handled the end of n
// connections (their cancels on disconnect made).
func (g *wsModelGateway) waitDisconnects(n int) {
	deadline := time.After(wsModelWait)
	for {
		g.mu.Lock()
		d, ch := g.disconnects, g.notify
		g.mu.Unlock()
		if d >= n {
			if d > n {
				g.t.Errorf("%d connections ended, the server saw %d end", n, d)
			}
			return
		}
		select {
		case <-ch:
		case <-deadline:
			g.t.Fatalf("the server saw %d connections end of %d", d, n)
		}
	}
}

func startWSModelGateway(t *testing.T, cod bool) *wsModelGateway {
	t.Helper()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	g := &wsModelGateway{t: t, path: filepath.Join(t.TempDir(), "orders.jrnl"), cod: cod, tokens: v, handed: map[string]bool{},
		notify: make(chan struct{})}
	g.open(true)
	t.Cleanup(g.stop)
	return g
}

// open opens the journal and the manager, recovered from it, and serves
// them; up says whether the venue's line is up.
func (g *wsModelGateway) open(up bool) {
	t := g.t
	t.Helper()
	j, err := journal.Open(journal.Config{Path: g.path, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := risk.New(risk.Config{
		Instruments: []refdata.Instrument{{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000}},
		Accounts: []risk.AccountConfig{
			{ID: "A1", Cash: 1_000_000_000 * refdata.PriceScale},
			{ID: "A2", Cash: 1_000_000_000 * refdata.PriceScale},
		},
		Schedule:    risk.ScheduleConfig{AlwaysOpen: true},
		AccountRate: risk.MaxRate, SessionRate: risk.MaxRate,
		CancelOnDisconnect: g.cod,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var log *slog.Logger
	if os.Getenv("WS_MODEL_TRACE") != "" {
		log = slog.New(slog.NewTextHandler(tWriter{t}, nil))
	}
	m, err := orders.New(orders.Config{}, rc, j, log)
	if err != nil {
		t.Fatal(err)
	}
	line := orderstest.NewLine(g.handed)
	m.AddUpstream(orderstest.Upstream, line)
	if _, err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	if up {
		m.OnSessionUp("core", "line")
	}
	srv, err := New(Config{WS: WSConfig{MaxMessagesPerSecond: 100000, PingInterval: time.Hour, IdleTimeout: 2 * time.Hour}},
		Deps{Market: newTestBooks(t, "600519.SH"), PublishedDepth: 20, Registry: prometheus.NewRegistry(), Tokens: g.tokens, Orders: wsModelEntry{m, g}})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	<-srv.ws.started
	g.m, g.j, g.up, g.srv, g.cancel, g.served = m, j, line, srv, cancel, served
	g.url = "ws://" + ln.Addr().String() + "/ws"
}

// stop shuts the server down (its connections closed with 1001), then
// closes the journal and the manager. Idempotent.
func (g *wsModelGateway) stop() {
	if g.cancel == nil {
		return
	}
	g.cancel()
	if err := <-g.served; err != nil {
		g.t.Errorf("serve: %v", err)
	}
	if err := g.j.Close(); err != nil {
		g.t.Errorf("journal close: %v", err)
	}
	g.m.Close()
	g.cancel = nil
}

// restart stops the gateway and opens it again on its journal; the venue
// keeps what it had not answered and answers the new manager. The
// clients connect again.
func (g *wsModelGateway) restart(v *orderstest.Venue, clients []*wsModelClient) {
	g.restarts++
	g.stop()
	v.Pull() // what the old process handed over reached the venue
	g.up.AddHanded(g.handed)
	for _, c := range clients {
		c.waitDead()
	}
	g.open(!v.Down())
	v.Attach(g.m, g.up)
	for _, c := range clients {
		c.connect()
	}
}

// accountOrders returns every order of acct the manager holds, page by
// page.
func (g *wsModelGateway) accountOrders(acct string) []orders.Order {
	var out []orders.Order
	cursor := ""
	for {
		p, err := g.m.List(acct, cursor, orders.MaxListLimit)
		if err != nil {
			g.t.Fatal(err)
		}
		out = append(out, p.Orders...)
		if p.Next == "" {
			return out
		}
		cursor = p.Next
	}
}

// allOrders returns every order the manager holds (of A1 and A2).
func (g *wsModelGateway) allOrders() []orders.Order {
	return append(g.accountOrders("A1"), g.accountOrders("A2")...)
}

// checkCancelOnDisconnect checks that every order entered on a
// connection that is gone was cancelled (with cancel-on-disconnect): it
// ended, or the venue refused a cancel of it (the gateway's own cancel
// is not told apart from a client's there). An order some replace took over may belong to another connection:
// not checked.
func (g *wsModelGateway) checkCancelOnDisconnect(clients []*wsModelClient, v *orderstest.Venue) {
	for _, c := range clients {
		for _, o := range g.accountOrders(c.acct) {
			// Sent on the current connection (the one that took it,
			// for all the model knows), or by another client.
			gens, ok := c.newOn[o.OrigClOrdID]
			if !ok || o.ClOrdID != o.OrigClOrdID || o.Status.Terminal() || slices.Contains(gens, c.gen) {
				continue
			}
			gen := gens[len(gens)-1]
			if len(v.Cancels(o.UpstreamID)) > 0 {
				continue // refused: the venue cannot tell the gateway's cancel from a client's
			}
			c.mu.Lock()
			why := c.ended[gen]
			c.mu.Unlock()
			g.t.Errorf("%s: order %s, entered on connection %d (now %d, that one ended: %v), is still %s with cancel-on-disconnect; cancels at the venue %q",
				c.name, o.ClOrdID, gen, c.gen, why, o.Status, v.Cancels(o.UpstreamID))
		}
	}
}

// tWriter writes to the test's log (WS_MODEL_TRACE).
type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

package gateway

import (
	"context"
	"errors"
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
	"sgw/fix"
	"sgw/journal"
	"sgw/orders"
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
// sum to its cumQty; with cancel-on-disconnect, no order of a connection
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
	v := &wsModelVenue{t: t, g: g, rng: rand.New(rand.NewPCG(seed^0x5bd1e995, seed)), orders: map[string]*wsVenueOrder{}, newSeen: map[string]int{}, cancels: map[string][]string{}}
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
			v.act()
		case r < 89:
			v.lineCut()
		case r < 92:
			v.lineUp()
		case r < 93:
			g.restart(v, clients)
		default:
			c.marker()
		}
	}

	// Quiescence: the line up, every client connected and its requests
	// handled, the venue answering until no order awaits it.
	v.lineUp()
	ended := 0
	for _, c := range clients {
		if c.dead() {
			c.connect()
		}
		c.marker()
		ended += c.gen - 1
	}
	g.waitDisconnects(ended)
	v.settle()
	for _, c := range clients {
		c.converge()
	}
	for _, c := range clients {
		c.checkAnswers()
		c.checkTrades()
	}
	v.check()
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
		g.cod, g.restarts, len(v.newSeen), v.execs, clients[0].gen, clients[1].gen, clients[2].gen)
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
	up     *wsModelLine
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
	line := &wsModelLine{handed: g.handed, notify: make(chan struct{})}
	m.AddUpstream("core", line)
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
func (g *wsModelGateway) restart(v *wsModelVenue, clients []*wsModelClient) {
	g.restarts++
	g.stop()
	v.pull() // what the old process handed over reached the venue
	g.up.mu.Lock()
	for _, req := range g.up.sent {
		id, _ := fix.RequestID(req)
		g.handed[id] = true
	}
	g.up.mu.Unlock()
	for _, c := range clients {
		c.waitDead()
	}
	g.open(!v.down)
	v.read = 0
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

// checkCancelOnDisconnect checks that every order entered on a
// connection that is gone was cancelled (with cancel-on-disconnect): it
// ended, or the venue refused a cancel of it (the gateway's own cancel
// is not told apart from a client's there). An order some replace took over may belong to another connection:
// not checked.
func (g *wsModelGateway) checkCancelOnDisconnect(clients []*wsModelClient, v *wsModelVenue) {
	for _, c := range clients {
		for _, o := range g.accountOrders(c.acct) {
			// Sent on the current connection (the one that took it,
			// for all the model knows), or by another client.
			gens, ok := c.newOn[o.OrigClOrdID]
			if !ok || o.ClOrdID != o.OrigClOrdID || o.Status.Terminal() || slices.Contains(gens, c.gen) {
				continue
			}
			gen := gens[len(gens)-1]
			if len(v.cancels[o.UpstreamID]) > 0 {
				continue // refused: the venue cannot tell the gateway's cancel from a client's
			}
			c.mu.Lock()
			why := c.ended[gen]
			c.mu.Unlock()
			g.t.Errorf("%s: order %s, entered on connection %d (now %d, that one ended: %v), is still %s with cancel-on-disconnect; cancels at the venue %q",
				c.name, o.ClOrdID, gen, c.gen, why, o.Status, v.cancels[o.UpstreamID])
		}
	}
}

// wsModelLine is the manager's upstream: it records what it is sent, for
// the venue to read; it is always logged on. Safe for concurrent use; mu
// guards sent and notify.
type wsModelLine struct {
	handed map[string]bool // read-only: requests an earlier run's upstream had

	mu     sync.Mutex
	sent   []any
	notify chan struct{} // closed and replaced at each request
}

// Send implements orders.Upstream.
func (u *wsModelLine) Send(req any) error {
	if p, ok := req.(fix.Prepared); ok {
		req = p.Request()
	}
	u.mu.Lock()
	u.sent = append(u.sent, req)
	close(u.notify)
	u.notify = make(chan struct{})
	u.mu.Unlock()
	return nil
}

// Handed implements orders.Upstream.
func (u *wsModelLine) Handed(id string) fix.Handed {
	if u.handed[id] {
		return fix.HandedYes
	}
	return fix.HandedNo
}

// ResumeInboundAfter implements orders.Upstream.
func (u *wsModelLine) ResumeInboundAfter(int, int64) {}

// Queued implements orders.Upstream.
func (u *wsModelLine) Queued() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return uint64(len(u.sent))
}

// Left implements orders.Upstream.
func (u *wsModelLine) Left() uint64 { return u.Queued() }

// wsVenueOrder is an order as the venue holds it, by its upstream id.
type wsVenueOrder struct {
	uid, orderID string
	price        refdata.Price
	qty, cum     int64
	status       byte // '0' '1' '2' '4' '8'
	replacedBy   string
}

func (o *wsVenueOrder) working() bool { return o.status == '0' || o.status == '1' }

// wsModelVenue is the simulated venue: it reads what the manager sends
// its upstream and answers through the manager's callbacks. Only the
// test's goroutine uses it.
type wsModelVenue struct {
	t       *testing.T
	g       *wsModelGateway
	rng     *rand.Rand
	read    int   // requests of g.up.sent read
	queue   []any // requests read, not yet answered
	orders  map[string]*wsVenueOrder
	newSeen map[string]int // NewOrders by upstream id
	// cancels holds the ids of the cancels of each upstream id.
	cancels map[string][]string
	execs   int
	down    bool
}

func (v *wsModelVenue) pull() {
	v.g.up.mu.Lock()
	v.queue = append(v.queue, v.g.up.sent[v.read:]...)
	v.read = len(v.g.up.sent)
	v.g.up.mu.Unlock()
}

func (v *wsModelVenue) execID() string { v.execs++; return fmt.Sprintf("V%d", v.execs) }

// act does one thing a venue does: answer its oldest request, fill a
// working order, or cancel one on its own.
func (v *wsModelVenue) act() {
	if v.down {
		return
	}
	v.pull()
	if len(v.queue) > 0 && v.rng.IntN(3) > 0 {
		v.answer()
		return
	}
	var working []*wsVenueOrder
	for _, o := range v.orders {
		if o.working() && o.replacedBy == "" {
			working = append(working, o)
		}
	}
	if len(working) == 0 {
		return
	}
	slices.SortFunc(working, func(a, b *wsVenueOrder) int { return strings.Compare(a.uid, b.uid) })
	o := working[v.rng.IntN(len(working))]
	if v.rng.IntN(8) == 0 {
		o.status = '4' // the venue ends it (a cancel of its own)
		v.report(o, '4', o.uid, "")
		return
	}
	last := o.qty - o.cum
	if last > 100 && v.rng.IntN(2) == 0 {
		last = 100 * (1 + v.rng.Int64N(last/100-1))
	}
	o.cum += last
	o.status = '1'
	if o.cum == o.qty {
		o.status = '2'
	}
	v.g.m.OnExecReport("core", fix.ExecReport{ClOrdID: o.uid, OrderID: o.orderID, ExecID: v.execID(), ExecType: 'F', OrdStatus: o.status,
		Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty, LastQty: last, LastPx: o.price,
		CumQty: o.cum, LeavesQty: o.qty - o.cum, AvgPx: o.price})
}

func (v *wsModelVenue) current(uid string) *wsVenueOrder {
	o := v.orders[uid]
	for o != nil && o.replacedBy != "" {
		o = v.orders[o.replacedBy]
	}
	return o
}

func (v *wsModelVenue) report(o *wsVenueOrder, execType byte, clOrdID, orig string) {
	leaves := o.qty - o.cum
	if !o.working() {
		leaves = 0
	}
	v.g.m.OnExecReport("core", fix.ExecReport{ClOrdID: clOrdID, OrigClOrdID: orig, OrderID: o.orderID, ExecID: v.execID(),
		ExecType: execType, OrdStatus: o.status, Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty,
		CumQty: o.cum, LeavesQty: leaves, AvgPx: o.price})
}

// answer answers the oldest request.
func (v *wsModelVenue) answer() {
	req := v.queue[0]
	v.queue = v.queue[1:]
	switch r := req.(type) {
	case fix.NewOrder:
		if o := v.orders[r.ClOrdID]; o != nil {
			if !r.PossResend {
				v.t.Errorf("the venue got order %s again, not flagged PossResend", r.ClOrdID)
			}
			v.report(o, 'I', r.ClOrdID, "")
			return
		}
		v.newSeen[r.ClOrdID]++
		o := &wsVenueOrder{uid: r.ClOrdID, price: r.Price, qty: r.Qty, status: '0', orderID: "VO-" + r.ClOrdID}
		v.orders[r.ClOrdID] = o
		if v.rng.IntN(6) == 0 {
			o.status = '8'
			v.report(o, '8', r.ClOrdID, "")
			return
		}
		v.report(o, '0', r.ClOrdID, "")
	case fix.CancelRequest:
		v.cancels[r.OrigClOrdID] = append(v.cancels[r.OrigClOrdID], r.ClOrdID)
		o := v.current(r.OrigClOrdID)
		if o == nil || !o.working() || o.uid != r.OrigClOrdID || v.rng.IntN(5) == 0 {
			v.refuse(r.ClOrdID, r.OrigClOrdID, o, '1')
			return
		}
		o.status = '4'
		v.report(o, '4', r.ClOrdID, r.OrigClOrdID)
	case fix.ReplaceRequest:
		o := v.current(r.OrigClOrdID)
		if o == nil || !o.working() || o.uid != r.OrigClOrdID || r.Qty <= o.cum || v.rng.IntN(4) == 0 {
			v.refuse(r.ClOrdID, r.OrigClOrdID, o, '2')
			return
		}
		n := &wsVenueOrder{uid: r.ClOrdID, price: r.Price, qty: r.Qty, cum: o.cum, status: '0', orderID: o.orderID}
		if n.cum > 0 {
			n.status = '1'
		}
		o.replacedBy = r.ClOrdID
		v.orders[r.ClOrdID] = n
		v.report(n, '5', r.ClOrdID, r.OrigClOrdID)
	case fix.StatusRequest:
		o := v.current(r.ClOrdID)
		if o == nil {
			v.g.m.OnExecReport("core", fix.ExecReport{ClOrdID: r.ClOrdID, OrderID: "NONE", ExecID: v.execID(), ExecType: 'I',
				OrdStatus: '8', OrdRejReason: 5, Symbol: "600519.SH", Side: fix.Buy, Text: "unknown order"})
			return
		}
		v.report(o, 'I', o.uid, "")
	default:
		v.t.Fatalf("venue got %T", req)
	}
}

func (v *wsModelVenue) refuse(clOrdID, orig string, o *wsVenueOrder, to byte) {
	id := ""
	if o != nil {
		id = o.orderID
	}
	v.g.m.OnCancelReject("core", fix.CancelReject{ClOrdID: clOrdID, OrigClOrdID: orig, OrderID: id, Text: "venue refuses", ResponseTo: to})
}

func (v *wsModelVenue) lineCut() {
	if v.down {
		return
	}
	v.down = true
	v.g.m.OnSessionDown("core", "line", errors.New("cut"), nil)
}

func (v *wsModelVenue) lineUp() {
	if !v.down {
		return
	}
	v.down = false
	v.g.m.OnSessionUp("core", "line")
}

// settle answers the venue's requests until no order awaits an answer.
func (v *wsModelVenue) settle() {
	t := v.t
	t.Helper()
	deadline := time.After(wsModelWait)
	for {
		v.g.up.mu.Lock()
		ch := v.g.up.notify
		v.g.up.mu.Unlock()
		v.pull()
		for len(v.queue) > 0 {
			v.answer()
			v.pull()
		}
		var busy []string
		for _, acct := range []string{"A1", "A2"} {
			for _, o := range v.g.accountOrders(acct) {
				if o.Status == orders.StatusPendingNew || o.Pending() != 0 {
					busy = append(busy, fmt.Sprintf("%s %s pending %q", o.ClOrdID, o.Status, o.Pending()))
				}
			}
		}
		if len(busy) == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("orders never settled: %q", busy)
		}
	}
}

// venueStatus is an order's status as the venue's OrdStatus.
func venueStatus(s orders.Status) byte {
	switch s {
	case orders.StatusNew:
		return '0'
	case orders.StatusPartiallyFilled:
		return '1'
	case orders.StatusFilled:
		return '2'
	case orders.StatusCanceled:
		return '4'
	case orders.StatusRejected:
		return '8'
	}
	return '?'
}

// check checks the venue against the manager: each order the manager
// holds reached the venue exactly once, and the venue agrees with it.
func (v *wsModelVenue) check() {
	t := v.t
	t.Helper()
	for uid, n := range v.newSeen {
		if n != 1 {
			t.Errorf("the venue got order %s %d times", uid, n)
		}
	}
	total := 0
	for _, acct := range []string{"A1", "A2"} {
		for _, o := range v.g.accountOrders(acct) {
			total++
			vo := v.orders[o.UpstreamID]
			switch {
			case vo == nil:
				t.Errorf("order %s (upstream id %s) never reached the venue", o.ClOrdID, o.UpstreamID)
			case vo.replacedBy != "":
				t.Errorf("order %s: the gateway has terms %s, the venue replaced them by %s", o.ClOrdID, o.UpstreamID, vo.replacedBy)
			case vo.working() != !o.Status.Terminal() || vo.cum != o.CumQty || vo.status != venueStatus(o.Status):
				t.Errorf("order %s: venue %c cum %d, gateway %s cum %d", o.ClOrdID, vo.status, vo.cum, o.Status, o.CumQty)
			}
		}
	}
	if total != len(v.newSeen) {
		t.Errorf("the venue got %d orders; the gateway holds %d", len(v.newSeen), total)
	}
}

// tWriter writes to the test's log (WS_MODEL_TRACE).
type tWriter struct{ t *testing.T }

func (w tWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

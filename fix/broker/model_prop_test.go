package broker

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/journal"
	"sgw/orders"
	"sgw/orders/orderstest"
	"sgw/refdata"
	"sgw/risk"
	"sgw/sim/faultproxy"
)

// TestBrokerAgainstModel is a randomized model test of the broker path:
// two brokers (QuickFIX/Go initiators, each behind a proxy that can cut
// its connection or lose a message either way, so that both sides see
// gaps and ask for resends), each trading two accounts, send new orders,
// cancels and replaces (naming their order's account, or none) with
// fresh, reused (for the same account or the other) and invalid
// ClOrdIDs, resend orders flagged PossResend and
// send malformed ones; a simulated venue acknowledges, rejects, fills in
// part or whole, cancels, replaces, refuses cancels and replaces, cancels
// and corrects its fills (orderstest.Venue.Busts), and answers status
// requests; the venue line is cut and restored; the
// acceptor restarts on its stores (Config.Restate) in front of the same
// order manager. At quiescence: the venue saw each order the manager
// accepted exactly once, and agrees with the manager on its state; no two
// orders of a session share a ClOrdID (FIX's rule, across accounts); each
// broker's view (its ExecutionReports folded, deduplicated by ExecID)
// equals the manager's state of each of its orders; each broker was told
// of every trade of its orders, with its LastQty and CumQty, in order
// but those an acceptor stop lost and the next acceptor resent flagged
// PossResend, and every trade as the broker books it (its cancels and
// corrections applied by ExecRefID) is the venue's fill as the venue
// last left it (checkTrades: the venue fills a few orders at quiescence
// too); every new order got an
// answer; nothing hung. BROKER_MODEL_SEED replays a seed's choices
// (not its timing: the brokers, the acceptor and the proxies run on their
// own goroutines); BROKER_MODEL_STEPS sets the number of steps. Documented
// behaviour the model allows: a PossDup NewOrderSingle is answered with
// the status of the order its ClOrdID names (so no reuse of a replace's
// ClOrdID); a restatement shows an order under its current ClOrdID,
// without OrigClOrdID; a refusal queued when the acceptor stops is lost
// (nothing is journaled for it), and the broker asks with an
// OrderStatusRequest.
func TestBrokerAgainstModel(t *testing.T) {
	seed := rand.Uint64()
	if s := os.Getenv("BROKER_MODEL_SEED"); s != "" {
		seed, _ = strconv.ParseUint(s, 10, 64)
	}
	steps := 250
	if s := os.Getenv("BROKER_MODEL_STEPS"); s != "" {
		steps, _ = strconv.Atoi(s)
	}
	t.Logf("seed %d (BROKER_MODEL_SEED=%d to replay), %d steps", seed, seed, steps)
	runBrokerModel(t, seed, steps)
}

func runBrokerModel(t *testing.T, seed uint64, steps int) {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := startModelGateway(t)
	v := orderstest.NewVenue(t, g.m, g.up, rng)
	v.Busts = true

	var brokers []*modelBroker
	for i := range g.cfg.Sessions {
		b := g.dialBroker(t, i)
		brokers = append(brokers, b)
	}
	for _, b := range brokers {
		b.waitLogons(t, 1)
	}

	for step := range steps {
		b := brokers[rng.IntN(len(brokers))]
		switch r := rng.IntN(100); {
		case r < 22:
			b.newOrder(rng, step)
		case r < 30:
			b.cancel(rng, step)
		case r < 38:
			b.replace(rng, step)
		case r < 41:
			b.possResend(rng)
		case r < 43:
			b.malformed(step)
		case r < 80:
			v.Act()
		case r < 84:
			b.proxy.DropOnce(faultproxy.Up, lossy)
		case r < 88:
			b.proxy.DropOnce(faultproxy.Down, lossy)
		case r < 92:
			b.proxy.Cut()
			b.proxy.Restore()
		case r < 95:
			v.LineCut()
		case r < 96:
			g.restart(t)
		case r < 97:
			g.restartAll(t, v)
		case r < 98:
			b.marker(t)
		default:
			v.LineUp()
		}
	}

	// Quiescence: no more faults, the line up, every broker's messages
	// processed (the answer to a status request comes after them), the
	// venue answers every request until no order awaits one.
	for _, b := range brokers {
		b.proxy.ForgetRules()
	}
	v.LineUp()
	for _, b := range brokers {
		b.marker(t)
	}
	held := func() []orders.Order {
		var out []orders.Order
		for _, b := range brokers {
			out = append(out, g.m.OrdersFrom(b.src)...)
		}
		return out
	}
	v.Settle(await, held)
	// A few fills with no fault after them: their trades reach the
	// brokers whatever the run did before (checkTrades).
	for range 4 {
		v.Act()
	}
	v.Settle(await, held)
	asked, trades, resent, amends := 0, 0, 0, 0
	for _, b := range brokers {
		b.converge(t, g.m)
		// Every report went out: none left noted as queued (ToApp
		// forgets each one quickfix takes, so the notes stay within the
		// queue's size).
		if q := sessionOf(t, g.a, b.src.Session).queuedNow(); len(q) != 0 {
			t.Errorf("%s: trades still noted as queued after quiescence: %v", b.src.Session, q)
		}
		n, again, a := b.checkTrades(t, g.m, v.Fills())
		trades, resent, amends = trades+n, resent+again, amends+a
		asked += b.checkAnswered(t, g.restarts+g.fullRestarts > 0)
	}
	v.Check(held())
	busts := 0
	for _, f := range v.Fills() {
		if f.Amended != "" {
			busts++
		}
	}
	t.Logf("%d orders, %d venue executions (%d fills, %d of them canceled or corrected); %d trades reported, %d of them resent (PossResend) after acceptor stops; %d trade cancels and corrections reported",
		len(held()), v.Execs(), len(v.Fills()), busts, trades, resent, amends)
	t.Logf("%d acceptor restarts (slowest stop %v), %d gateway restarts; logons %d and %d; ResendRequests %d and %d; %d refusals lost in restarts",
		g.restarts, g.slowest, g.fullRestarts, brokers[0].logonCount(), brokers[1].logonCount(), brokers[0].tb.resendRequests(), brokers[1].tb.resendRequests(), asked)
}

// modelGateway runs an Acceptor in front of an order manager (the rig's),
// and restarts the acceptor on the same stores and address, or both on
// their stores and journal. Only the test's goroutine uses it.
type modelGateway struct {
	path   string // the journal's
	m      *orders.Manager
	j      *journal.Journal
	up     *orderstest.Line
	handed map[string]bool // the ids of every request the upstreams had
	cfg    Config
	gw     string
	a      *Acceptor
	cancel context.CancelFunc
	done   chan error

	restarts, fullRestarts int
	slowest                time.Duration // the longest stop of an acceptor, logged
	clk                    modelClock    // risk's, kept across restarts
}

// modelClock is risk's clock in the model test: it ticks with the wall
// clock from modelDay, a morning in Shanghai, so that a run never crosses
// the end of risk's trading day. On the wall clock a run across
// Shanghai's midnight (16:00 UTC) changed the rules under the model,
// which knows one day: a ClOrdID of an order ended before it is free
// after it (its reuse entered as a second order), and a PossResend
// without OrigSendingTime of such an order is refused as a duplicate
// (103=6). The days the acceptor reads off the wall clock (a store's
// CreationTime, a SendingTime) are earlier than modelDay's and only
// bound risk's from below (restatement) or above (session.sentDay).
// Safe for concurrent use.
type modelClock struct {
	start time.Time // on the wall clock, with its monotonic reading
}

// modelDay is modelClock's first reading: 10:00 on 2099-12-01 in
// Shanghai, later than any wall clock a run meets.
var modelDay = time.Date(2099, 12, 1, 2, 0, 0, 0, time.UTC)

// Now returns modelDay plus the wall-clock time since c.start.
func (c modelClock) Now() time.Time { return modelDay.Add(time.Since(c.start)) }

func startModelGateway(t *testing.T) *modelGateway {
	n := compSeq.Add(1)
	gw := fmt.Sprintf("SGW%d", n)
	g := &modelGateway{path: filepath.Join(t.TempDir(), "orders.jrnl"), gw: gw, cfg: Config{StoreDir: t.TempDir(), Restate: true, Sessions: []SessionConfig{
		{SenderCompID: gw, TargetCompID: fmt.Sprintf("BRK%dA", n), Password: "right", Accounts: []string{"A1", "A3"}},
		{SenderCompID: gw, TargetCompID: fmt.Sprintf("BRK%dB", n), Password: "right", Accounts: []string{"A2", "A4"}},
	}}}
	g.handed = map[string]bool{}
	g.clk = modelClock{start: time.Now()}
	g.m, g.j, g.up = openRigManager(t, g.path, modelAccounts, g.handed, g.clk)
	g.m.OnSessionUp("core", "line")
	t.Cleanup(func() {
		g.j.Close()
		g.m.Close()
	})
	g.start(t)
	t.Cleanup(g.stop)
	return g
}

// modelAccounts adds the sessions' second accounts, A3 and A4, to the
// rig's risk configuration.
func modelAccounts(c *risk.Config) {
	c.Accounts = append(c.Accounts,
		risk.AccountConfig{ID: "A3", Cash: 10_000_000 * refdata.PriceScale},
		risk.AccountConfig{ID: "A4", Cash: 10_000_000 * refdata.PriceScale})
}

func (g *modelGateway) start(t *testing.T) {
	t.Helper()
	entry := registering{Manager: g.m, registered: make(chan struct{}, len(g.cfg.Sessions))}
	a, err := New(g.cfg, entry, prometheus.NewRegistry(), testLog())
	if err != nil {
		t.Fatal(err)
	}
	g.cfg.Listen = a.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	g.a, g.cancel, g.done = a, cancel, make(chan error, 1)
	go func(done chan error) { done <- a.Run(ctx) }(g.done)
	// The sessions' sinks are registered before the venue acts again:
	// the reports of its executions go to this acceptor (checkTrades).
	for range g.cfg.Sessions {
		select {
		case <-entry.registered:
		case err := <-g.done:
			t.Fatalf("the acceptor stopped: %v", err)
		}
	}
}

// registering is the order manager as an acceptor sees it, telling
// registered of each sink registered (Acceptor.Run registers them on its
// goroutine).
type registering struct {
	*orders.Manager
	registered chan struct{}
}

func (r registering) Register(src orders.Source, sink orders.Sink) {
	r.Manager.Register(src, sink)
	r.registered <- struct{}{}
}

func (g *modelGateway) stop() {
	start := time.Now()
	g.cancel()
	<-g.done
	g.slowest = max(g.slowest, time.Since(start))
}

func (g *modelGateway) restart(t *testing.T) {
	t.Helper()
	g.restarts++
	g.stop()
	g.start(t)
}

// restartAll restarts the acceptor and the order manager, which recovers
// from its journal; the venue keeps what it had not answered yet, and
// answers the new manager.
func (g *modelGateway) restartAll(t *testing.T, v *orderstest.Venue) {
	t.Helper()
	g.fullRestarts++
	g.stop()
	if err := g.j.Close(); err != nil {
		t.Fatal(err)
	}
	g.m.Close()
	v.Pull() // what the old process handed over reached the venue
	g.up.AddHanded(g.handed)
	g.m, g.j, g.up = openRigManager(t, g.path, modelAccounts, g.handed, g.clk)
	v.Attach(g.m, g.up)
	if !v.Down() {
		g.m.OnSessionUp("core", "line")
	}
	g.start(t)
}

// dialBroker starts broker i (the i-th session, trading its accounts)
// behind a fault proxy.
func (g *modelGateway) dialBroker(t *testing.T, i int) *modelBroker {
	t.Helper()
	sc := g.cfg.Sessions[i]
	p, err := faultproxy.NewFramed(g.cfg.Listen, qfcpp.SplitFIX)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	tb := dialTestBroker(t, &running{gateway: g.gw, broker: sc.TargetCompID}, p.Addr(), "right")
	b := &modelBroker{tb: tb, proxy: p, accts: sc.Accounts, src: orders.Source{Kind: "fix", Session: sc.TargetCompID},
		notify: make(chan struct{}), sent: map[string]string{}, replaces: map[string]string{}, reused: map[string]bool{},
		acctOf: map[string]string{}}
	go b.collect()
	return b
}

// modelBroker is a broker of the model test: what it sent, and every
// application message it received (collected from the test broker's
// channels by collect, so that quickfix never blocks on them). The test's
// goroutine sends and reads; collect, on its own goroutine, appends under
// mu and closes notify at each message or logon.
type modelBroker struct {
	tb    *testBroker
	proxy *faultproxy.Proxy // cut, and losing application messages (lossy) either way
	// accts are the session's accounts; its ClOrdIDs are unique across
	// them (FIX), and begin with the first.
	accts []string
	src   orders.Source

	reused   map[string]bool   // ClOrdIDs sent again in a NewOrderSingle not flagged as a resend
	acctOf   map[string]string // valid ClOrdID of each new order and replace -> the account it was first sent for
	replaces map[string]string // ClOrdID of each replace sent -> the OrigClOrdID it named
	ids      []string          // valid ClOrdIDs of new orders and replaces sent: targets of cancels and replaces
	newIDs   []string          // valid ClOrdIDs of new orders sent, for reuse
	sent     map[string]string // each new order sent: ClOrdID -> the id its answer carries
	lastD    []*quickfix.Message
	markers  int

	mu     sync.Mutex
	got    []*quickfix.Message
	logons int
	notify chan struct{}
}

func (b *modelBroker) collect() {
	for {
		var m *quickfix.Message
		logon := false
		select {
		case m = <-b.tb.app:
		case <-b.tb.logons:
			logon = true
		}
		b.mu.Lock()
		if logon {
			b.logons++
		} else {
			b.got = append(b.got, m)
		}
		close(b.notify)
		b.notify = make(chan struct{})
		b.mu.Unlock()
	}
}

// wait waits until ok holds of what was received, or fails saying what.
func (b *modelBroker) wait(t *testing.T, what string, ok func(got []*quickfix.Message, logons int) bool, diag func() string) {
	t.Helper()
	deadline := time.After(await)
	for {
		b.mu.Lock()
		got, logons, ch := slices.Clone(b.got), b.logons, b.notify
		b.mu.Unlock()
		if ok(got, logons) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			d := ""
			if diag != nil {
				d = diag()
			}
			t.Fatalf("%s: %s never happened (hung?) %s", b.src.Session, what, d)
		}
	}
}

func (b *modelBroker) logonCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.logons
}

// resendRequests counts the ResendRequests the engine sent and received.
func (b *testBroker) resendRequests() int {
	b.traceMu.Lock()
	defer b.traceMu.Unlock()
	n := 0
	for _, l := range b.trace {
		if strings.Contains(l, "|35=2|") {
			n++
		}
	}
	return n
}

func (b *modelBroker) waitLogons(t *testing.T, n int) {
	b.wait(t, "logon", func(_ []*quickfix.Message, logons int) bool { return logons >= n }, nil)
}

func (b *modelBroker) send(m *quickfix.Message) {
	// Sent while logged out, it is stored and numbered: the gateway sees
	// the gap at the next logon and asks for it.
	_ = quickfix.SendToTarget(m, b.tb.sid)
}

func (b *modelBroker) message(msgType string, fields ...string) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, msgType)
	for _, f := range fields {
		k, v, _ := strings.Cut(f, "=")
		n, _ := strconv.Atoi(k)
		m.Body.SetString(quickfix.Tag(n), v)
	}
	return m
}

func now() string { return time.Now().UTC().Format("20060102-15:04:05.000") }

// newOrder sends a NewOrderSingle for one of the session's accounts: a
// fresh ClOrdID, a reused one (for its order's account or another: a
// ClOrdID is unique per session, across its accounts) or an invalid one.
func (b *modelBroker) newOrder(rng *rand.Rand, step int) {
	id := fmt.Sprintf("%s-o%d", b.accts[0], step)
	acct := b.accts[rng.IntN(len(b.accts))]
	switch r := rng.IntN(10); {
	case r == 0 && len(b.newIDs) > 0:
		// Reused. Not a replace's ClOrdID: flagged PossDupFlag (a
		// session-level resend), that is answered with the status of the
		// order the replace is of (doc.go), as FIX has a PossDup
		// NewOrderSingle whose ClOrdID is known be that order.
		id = b.newIDs[rng.IntN(len(b.newIDs))]
		b.reused[id] = true
	case r == 1:
		id = strings.Repeat("L", 33+rng.IntN(40)) // too long
	case r == 2:
		id = "bad id!" + strconv.Itoa(step) // characters outside the set
	}
	answer := id
	if !refdata.ValidID(id, refdata.MaxClOrdIDLen) {
		answer = fix.EchoID(id, refdata.MaxClOrdIDLen)
	} else if _, reused := b.sent[id]; !reused {
		b.ids = append(b.ids, id)
		b.newIDs = append(b.newIDs, id)
		b.acctOf[id] = acct
	}
	if _, ok := b.sent[id]; !ok {
		b.sent[id] = answer
	}
	qty := 100 * (1 + rng.IntN(5))
	m := b.message("D", "11="+id, "1="+acct, "55=600519", "207=XSHG", "54=1", "40=2",
		"44="+price(rng), "38="+strconv.Itoa(qty), "60="+now())
	b.lastD = append(b.lastD, m)
	b.send(m)
}

func price(rng *rand.Rand) string { return strconv.Itoa(1690+rng.IntN(21)) + ".00" }

// possResend sends an earlier NewOrderSingle again, flagged PossResend.
func (b *modelBroker) possResend(rng *rand.Rand) {
	if len(b.lastD) == 0 {
		return
	}
	m := quickfix.NewMessage()
	b.lastD[rng.IntN(len(b.lastD))].CopyInto(m)
	m.Header.SetString(tag.PossResend, "Y")
	b.send(m)
}

// malformed sends a NewOrderSingle without Side: a session-level Reject,
// nothing entered.
func (b *modelBroker) malformed(step int) {
	b.send(b.message("D", "11="+fmt.Sprintf("%s-mal%d", b.accts[0], step), "1="+b.accts[0], "55=600519", "207=XSHG", "40=2",
		"44=1700.00", "38=100", "60="+now()))
}

func (b *modelBroker) target(rng *rand.Rand) string {
	if len(b.ids) == 0 || rng.IntN(10) == 0 {
		return "nosuch"
	}
	return b.ids[rng.IntN(len(b.ids))]
}

// account returns the Account field of a cancel or replace of the order
// orig: its account, or none (the gateway finds the session's order that
// holds the ClOrdID) one time in three.
func (b *modelBroker) account(rng *rand.Rand, orig string) []string {
	acct, ok := b.acctOf[orig]
	if !ok {
		acct = b.accts[rng.IntN(len(b.accts))]
	}
	if rng.IntN(3) == 0 {
		return nil
	}
	return []string{"1=" + acct}
}

func (b *modelBroker) cancel(rng *rand.Rand, step int) {
	orig := b.target(rng)
	b.send(b.message("F", append(b.account(rng, orig), fmt.Sprintf("11=%s-c%d", b.accts[0], step), "41="+orig,
		"55=600519", "207=XSHG", "54=1", "38=100", "60="+now())...))
}

// replace sends a replace under a new ClOrdID, which is then the order's.
func (b *modelBroker) replace(rng *rand.Rand, step int) {
	id := fmt.Sprintf("%s-r%d", b.accts[0], step)
	b.ids = append(b.ids, id)
	orig := b.target(rng)
	b.replaces[id] = orig
	acct := b.account(rng, orig)
	if a, ok := b.acctOf[orig]; ok {
		b.acctOf[id] = a
	}
	b.send(b.message("G", append(acct, "11="+id, "41="+orig, "55=600519", "207=XSHG", "54=1", "40=2",
		"44="+price(rng), "38="+strconv.Itoa(100*(1+rng.IntN(5))), "60="+now())...))
}

// marker sends a status request of an unknown order and waits for its
// answer: every message the broker sent before has been handled.
func (b *modelBroker) marker(t *testing.T) {
	t.Helper()
	// A lost last message shows only at the next heartbeat (30 s): the
	// marker and its answer are not lost.
	b.proxy.ForgetRules()
	b.markers++
	req := fmt.Sprintf("mk%d", b.markers)
	b.send(b.message("H", "11="+req, "1="+b.accts[0], "55=600519", "207=XSHG", "54=1", "790="+req))
	b.wait(t, "the answer to status request "+req, func(got []*quickfix.Message, _ int) bool {
		for _, m := range got {
			if field(m, tag.OrdStatusReqID) == req {
				return true
			}
		}
		return false
	}, nil)
}

// brokerOrder is the broker's view of an order: OrdStatus, CumQty,
// LeavesQty of its last report.
type brokerOrder struct {
	status      byte
	cum, leaves int64
}

// view folds the reports received, deduplicated by ExecID, into the
// broker's view of its orders, by ClOrdID, as a broker keeps it: a report
// under a ClOrdID its replace took over (replaces: each replace it sent,
// to the OrigClOrdID it named) is about the order under its new ClOrdID.
// It returns an error for two reports with one ExecID that differ.
func view(got []*quickfix.Message, replaces map[string]string) (map[string]brokerOrder, error) {
	out := map[string]brokerOrder{}
	seen := map[string]string{}
	replacedBy := map[string]string{} // the replaces seen taken
	resolve := func(id string) string {
		for replacedBy[id] != "" {
			id = replacedBy[id]
		}
		return id
	}
	for _, m := range got {
		switch field(m, tag.MsgType) {
		case "8":
			id, execType := field(m, tag.ClOrdID), field(m, tag.ExecType)
			execID := field(m, tag.ExecID)
			body := fmt.Sprintf("%s|%s|%s|%s|%s", id, execType, field(m, tag.OrdStatus), field(m, tag.CumQty), field(m, tag.LeavesQty))
			if prev, ok := seen[execID]; ok {
				if prev != body {
					return nil, fmt.Errorf("ExecID %s on two different reports: %s and %s", execID, prev, body)
				}
				continue
			}
			seen[execID] = body
			if field(m, tag.OrdStatusReqID) != "" || execType == "6" || execType == "E" {
				continue // a status request's answer; a pending request
			}
			if _, ok := out[id]; (ok || replacedBy[id] != "") && execType == "8" && field(m, tag.OrdRejReason) == "6" {
				continue // a reused ClOrdID refused: the order it names stays
			}
			switch orig := field(m, tag.OrigClOrdID); {
			case execType == "4" && orig != "":
				id = orig // the order keeps its ClOrdID at the gateway
			case field(m, tag.OrdStatus) != "E" && replaces[id] != "":
				// A report under a replace's ClOrdID (the Replaced, or a
				// restatement, which has no OrigClOrdID) shows the replace
				// was taken, of the order the Replaced names (the gateway
				// finds an order by a refused replace's ClOrdID too) or
				// the one the replace named.
				for _, o := range []string{orig, replaces[id]} {
					if o = resolve(o); o != "" && o != id {
						replacedBy[o] = id
						delete(out, o)
					}
				}
			}
			id = resolve(id)
			cum, _ := strconv.ParseInt(field(m, tag.CumQty), 10, 64)
			leaves, _ := strconv.ParseInt(field(m, tag.LeavesQty), 10, 64)
			out[id] = brokerOrder{status: field(m, tag.OrdStatus)[0], cum: cum, leaves: leaves}
		case "9":
			orig := resolve(field(m, tag.OrigClOrdID))
			if o, ok := out[orig]; ok && (o.status == '6' || o.status == 'E') {
				o.status = field(m, tag.OrdStatus)[0]
				out[orig] = o
			}
		}
	}
	return out, nil
}

// diff compares the broker's view with the manager's orders.
func (b *modelBroker) diff(m *orders.Manager, got []*quickfix.Message) []string {
	v, err := view(got, b.replaces)
	if err != nil {
		return []string{err.Error()}
	}
	var out []string
	current := map[string]bool{}
	for _, o := range m.OrdersFrom(b.src) {
		if current[o.ClOrdID] {
			// A ClOrdID is unique per session, across its accounts.
			out = append(out, fmt.Sprintf("two orders of the session under ClOrdID %s (one of %s)", o.ClOrdID, o.Account))
		}
		current[o.ClOrdID] = true
		want := brokerOrder{status: ordStatus(&o), cum: o.CumQty, leaves: o.LeavesQty}
		if o.Status.Terminal() {
			want.leaves = 0
		}
		if g, ok := v[o.ClOrdID]; !ok || g != want {
			out = append(out, fmt.Sprintf("order %s (status %s): broker has %+v (known %v), gateway %+v", o.ClOrdID, o.Status, g, ok, want))
		}
	}
	for id, o := range v {
		if strings.ContainsRune("A016E", rune(o.status)) && !current[id] {
			out = append(out, fmt.Sprintf("broker thinks %s working (%+v); the gateway has no such order", id, o))
		}
	}
	slices.Sort(out)
	return out
}

// converge waits until the broker's view equals the manager's state.
func (b *modelBroker) converge(t *testing.T, m *orders.Manager) {
	t.Helper()
	var last []*quickfix.Message
	b.wait(t, "agreement with the gateway", func(got []*quickfix.Message, _ int) bool {
		last = got
		return len(b.diff(m, got)) == 0
	}, func() string { return "\n" + strings.Join(b.diff(m, last), "\n") })
}

// checkTrades checks the trades the broker was told of (ExecutionReports
// ExecType F, deduplicated by ExecID, so that a resend counts once) of
// each of its orders, told apart by OrderID (the venue's, kept across
// replaces, whichever ClOrdID a report carries), against the venue's
// executions (fills; the gateway forwards V<n> as ExecID "core:V<n>"):
// every trade of the venue's is reported, with its LastQty and CumQty;
// the trades reported in order (not PossResend) follow each other, each
// trade's CumQty the previous one's plus its LastQty (and those of the
// trades between them that came resent); at quiescence the trades sum to
// the manager's CumQty. A status (ExecType I: an answer, a restatement)
// is not a trade: it shows the order's CumQty without its executions.
//
// An acceptor stop loses the reports its sessions' pacers still queue
// (Acceptor.Run); the next acceptor's restatement resends, flagged
// PossResend, the trades whose reports the store lacks, after what that
// acceptor queued before the logon: such a trade may come after later
// ones. It returns how many trades the broker got and how many of them
// came first resent.
func (b *modelBroker) checkTrades(t *testing.T, m *orders.Manager, fills []orderstest.Fill) (trades, resent, amends int) {
	t.Helper()
	b.mu.Lock()
	got := slices.Clone(b.got)
	b.mu.Unlock()
	type trade struct {
		n           int
		orderID     string
		last, cum   int64
		resent      bool // PossResend
		description string
	}
	var inOrder []trade              // the trades the broker got not resent, in the order it got them
	byN := map[int]trade{}           // every trade got, by the venue's number
	history := map[string][]string{} // each order's reports, for a failure's message
	seen := map[string]bool{}
	booked := map[int]int64{}    // each trade as the broker books it, by the venue's number
	tradeOf := map[string]int{}  // the venue's number of the trade an ExecID (a trade's, a cancel's, a correction's) is of
	busted := map[string]bool{}  // the orders (OrderID) with a trade cancel or correction reported
	amended := map[string]bool{} // the orders (OrderID) of a fill the venue canceled or corrected
	// The quantities the corrections the broker got (by ExecRefID, the
	// trade's ExecID, whatever came first) gave each trade: a trade
	// resent as corrected, by a correction the venue amended again since,
	// goes with that correction's quantity, neither the fill's first nor
	// its last, and the broker gets that correction too.
	corrected := map[string]map[int64]bool{}
	for _, f := range fills {
		if f.Amended != "" {
			amended[f.OrderID] = true
		}
	}
	for _, msg := range got {
		execID, execType, orderID := field(msg, tag.ExecID), field(msg, tag.ExecType), field(msg, tag.OrderID)
		if field(msg, tag.MsgType) != "8" {
			continue
		}
		amend := execType == "H" || execType == "G"
		if seen[execID] {
			// A report again: the broker ignores it by its ExecID only
			// when it is flagged (a session resend, a restatement's).
			if dup, possResend := fix.PossDup(msg); !dup && !possResend && (execType == "F" || amend) {
				t.Errorf("%s: trade, trade cancel or correction %s reported again without PossDupFlag or PossResend: %s", b.src.Session, execID, msg)
			}
			continue
		}
		seen[execID] = true
		last, _ := strconv.ParseInt(field(msg, tag.LastQty), 10, 64)
		cum, _ := strconv.ParseInt(field(msg, tag.CumQty), 10, 64)
		_, possResend := fix.PossDup(msg)
		d := fmt.Sprintf("%s ExecType %s ExecID %s ExecRefID %s LastQty %d CumQty %d PossResend %v", field(msg, tag.ClOrdID), execType, execID,
			field(msg, tag.ExecRefID), last, cum, possResend)
		history[orderID] = append(history[orderID], d)
		if amend {
			// A trade cancel or correction: the broker books the trade
			// its ExecRefID names anew (LastQty as corrected). One that
			// names a trade the broker has yet to get (its report queued
			// before the restatement resent the trade, as corrected) it
			// cannot book.
			busted[orderID] = true
			amends++
			if execType == "H" {
				last = 0
			} else {
				ref := field(msg, tag.ExecRefID)
				if corrected[ref] == nil {
					corrected[ref] = map[int64]bool{}
				}
				corrected[ref][last] = true
			}
			if n, ok := tradeOf[field(msg, tag.ExecRefID)]; ok {
				booked[n], tradeOf[execID] = last, n
			}
			continue
		}
		if execType != "F" {
			continue
		}
		n, venue := venueExec(execID)
		if !venue {
			t.Errorf("%s: a trade without the venue's ExecID: %s", b.src.Session, msg)
			continue
		}
		tr := trade{n: n, orderID: orderID, last: last, cum: cum, resent: possResend, description: d}
		byN[n] = tr
		booked[n], tradeOf[execID] = last, n
		if possResend {
			resent++
		} else {
			inOrder = append(inOrder, tr)
		}
	}
	held := map[string]orders.Order{}
	for _, o := range m.OrdersFrom(b.src) {
		if o.OrderID != "" {
			held[o.OrderID] = o
		}
	}
	sums := map[string]int64{} // each order's trades: LastQty summed
	mine := map[int]bool{}
	for _, f := range fills {
		if _, ok := held[f.OrderID]; !ok {
			continue
		}
		mine[f.N] = true
		tr, ok := byN[f.N]
		switch {
		case amended[f.OrderID]:
			// A trade of an order whose trades the venue canceled or
			// corrected: resent, it goes as the venue last left it, or
			// if canceled as it stood before the cancel (which may be
			// a correction's quantity), the cancel following, or as a
			// correction the broker got left it (the venue amended it
			// again after the resend), with the totals after it as the
			// amends moved them. The trades as booked sum to the
			// order's quantity (below).
			if ok && (tr.orderID != f.OrderID || tr.last != f.Last && tr.last != f.Qty && !(tr.resent && f.Qty == 0) &&
				!corrected[fmt.Sprintf("%s:V%d", orderstest.Upstream, f.N)][tr.last]) {
				t.Errorf("%s: the trade of the venue's execution V%d (order %s, LastQty %d, now %d) reported as %s (OrderID %s)",
					b.src.Session, f.N, f.OrderID, f.Last, f.Qty, tr.description, tr.orderID)
			}
			if ok {
				sums[f.OrderID] += booked[f.N]
			} else if f.Qty != 0 {
				t.Errorf("%s: the trade of the venue's execution V%d (order %s, LastQty %d, now %d) never reported\n%s",
					b.src.Session, f.N, f.OrderID, f.Last, f.Qty, strings.Join(history[f.OrderID], "\n"))
			}
			if ok && booked[f.N] != f.Qty {
				t.Errorf("%s: the trade of the venue's execution V%d (order %s, LastQty %d) booked as %d; the venue's last cancel or correction (%s) left %d\n%s",
					b.src.Session, f.N, f.OrderID, f.Last, booked[f.N], f.Amended, f.Qty, strings.Join(history[f.OrderID], "\n"))
			}
		case ok && (tr.orderID != f.OrderID || tr.last != f.Last || tr.cum != f.CumQty):
			t.Errorf("%s: the trade of the venue's execution V%d (order %s, LastQty %d, CumQty %d) reported as %s (OrderID %s)",
				b.src.Session, f.N, f.OrderID, f.Last, f.CumQty, tr.description, tr.orderID)
		case ok:
			sums[f.OrderID] += tr.last
		default:
			t.Errorf("%s: the trade of the venue's execution V%d (order %s, LastQty %d, CumQty %d) never reported\n%s",
				b.src.Session, f.N, f.OrderID, f.Last, f.CumQty, strings.Join(history[f.OrderID], "\n"))
		}
	}
	for n, tr := range byN {
		if !mine[n] {
			t.Errorf("%s: trade %s of order %s is no execution of the venue's of an order of the broker's", b.src.Session, tr.description, tr.orderID)
		}
	}
	prev := map[string]trade{} // each order's last trade got in order
	for _, tr := range inOrder {
		if amended[tr.orderID] || busted[tr.orderID] {
			continue // checked as booked (above)
		}
		p := prev[tr.orderID]
		want := p.cum + tr.last
		for n, r := range byN {
			if r.resent && r.orderID == tr.orderID && p.n < n && n < tr.n {
				want += r.last
			}
		}
		if tr.cum != want {
			t.Errorf("%s: order %s: trade %s: the trades before it and its LastQty make CumQty %d (out of order?)\n%s",
				b.src.Session, tr.orderID, tr.description, want, strings.Join(history[tr.orderID], "\n"))
		}
		prev[tr.orderID] = tr
	}
	for id, o := range held {
		if sums[id] != o.CumQty {
			t.Errorf("%s: order %s (%s, OrderID %s): its trades sum to %d; the gateway has CumQty %d\n%s",
				b.src.Session, o.ClOrdID, o.Status, id, sums[id], o.CumQty, strings.Join(history[id], "\n"))
		}
	}
	return len(byN), resent, amends
}

// byOrder returns the OrderID of the venue's execution n.
func byOrder(fills []orderstest.Fill, n int) string {
	for _, f := range fills {
		if f.N == n {
			return f.OrderID
		}
	}
	return ""
}

// venueExec returns the venue's number of an execution the gateway
// forwarded (ExecID "core:V<n>").
func venueExec(execID string) (int, bool) {
	rest, ok := strings.CutPrefix(execID, orderstest.Upstream+":V")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(rest)
	return n, err == nil
}

// checkAnswered checks that every new order sent got a report under the
// ClOrdID it was sent with (or the placeholder of an invalid one). After
// an acceptor restart an answer that is not journaled, a refusal, may
// have been lost with the pacer's queue (Acceptor.Run: the broker
// reconciles with OrderStatusRequest): then the broker asks, and must be
// answered. It returns how many it asked about.
func (b *modelBroker) checkAnswered(t *testing.T, restarted bool) int {
	t.Helper()
	b.mu.Lock()
	got := slices.Clone(b.got)
	b.mu.Unlock()
	answered := map[string]bool{}
	for _, m := range got {
		if field(m, tag.MsgType) != "8" {
			continue
		}
		id := field(m, tag.ClOrdID)
		answered[id] = true
		if field(m, tag.ExecType) == "8" && field(m, tag.OrdRejReason) == "6" && !b.reused[id] {
			// Only resent (PossResend, or PossDupFlag by the session).
			t.Errorf("%s: a resend of order %s was refused as a duplicate, not answered with its status: %s", b.src.Session, id, m)
		}
	}
	asked := 0
	for id, answer := range b.sent {
		switch {
		case answered[answer]:
		case !restarted:
			t.Errorf("%s: new order %q never answered (as %q)", b.src.Session, id, answer)
		default:
			asked++
			req := fmt.Sprintf("q%d", asked)
			acct := b.acctOf[id] // the order's; an invalid ClOrdID's: none
			if acct == "" {
				acct = b.accts[0]
			}
			b.send(b.message("H", "11="+id, "1="+acct, "55=600519", "207=XSHG", "54=1", "790="+req))
			b.wait(t, "the answer to status request "+req+" for "+id, func(got []*quickfix.Message, _ int) bool {
				for _, m := range got {
					if field(m, tag.OrdStatusReqID) == req {
						return true
					}
				}
				return false
			}, nil)
		}
	}
	return asked
}

// lossy matches the frames the model's line may lose: an application
// message, not a resend, so that the receiver sees a gap and asks for it.
func lossy(f []byte) bool {
	return !bytes.Contains(f, []byte("\x0143=Y\x01")) && appFrame(f)
}

func appFrame(f []byte) bool {
	for _, mt := range []string{"D", "F", "G", "H", "8", "9"} {
		if bytes.Contains(f, []byte("\x0135="+mt+"\x01")) {
			return true
		}
	}
	return false
}

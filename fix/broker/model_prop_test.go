package broker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/journal"
	"sgw/orders"
	"sgw/refdata"
)

// TestBrokerAgainstModel is a randomized model test of the broker path:
// two brokers (QuickFIX/Go initiators, each behind a proxy that can cut
// its connection or lose a message either way, so that both sides see
// gaps and ask for resends) send new orders, cancels and replaces with
// fresh, reused and invalid ClOrdIDs, resend orders flagged PossResend and
// send malformed ones; a simulated venue acknowledges, rejects, fills in
// part or whole, cancels, replaces, refuses cancels and replaces, and
// answers status requests; the venue line is cut and restored; the
// acceptor restarts on its stores (Config.Restate) in front of the same
// order manager. At quiescence: the venue saw each order the manager
// accepted exactly once, and agrees with the manager on its state; each
// broker's view (its ExecutionReports folded, deduplicated by ExecID)
// equals the manager's state of each of its orders; every new order got
// an answer; nothing hung. BROKER_MODEL_SEED replays a seed's choices
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
	v := &modelVenue{t: t, m: g.m, up: g.up, rng: rng, orders: map[string]*venueOrder{}, newSeen: map[string]int{}}

	var brokers []*modelBroker
	for i, acct := range []string{"A1", "A2"} {
		b := g.dialBroker(t, i, acct)
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
			v.act()
		case r < 84:
			b.proxy.dropToGateway.Add(1)
		case r < 88:
			b.proxy.dropToBroker.Add(1)
		case r < 92:
			b.proxy.cut()
		case r < 95:
			v.lineCut()
		case r < 96:
			g.restart(t)
		case r < 97:
			g.restartAll(t, v)
		case r < 98:
			b.marker(t)
		default:
			v.lineUp()
		}
	}

	// Quiescence: no more faults, the line up, every broker's messages
	// processed (the answer to a status request comes after them), the
	// venue answers every request until no order awaits one.
	for _, b := range brokers {
		b.proxy.dropToGateway.Store(0)
		b.proxy.dropToBroker.Store(0)
	}
	v.lineUp()
	for _, b := range brokers {
		b.marker(t)
	}
	v.settle(t, brokers)
	asked := 0
	for _, b := range brokers {
		b.converge(t, g.m)
		asked += b.checkAnswered(t, g.restarts+g.fullRestarts > 0)
	}
	v.check(t, brokers)
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
	up     *rigUpstream
	handed map[string]bool // the ids of every request the upstreams had
	cfg    Config
	gw     string
	a      *Acceptor
	cancel context.CancelFunc
	done   chan error

	restarts, fullRestarts int
	slowest                time.Duration // the longest stop of an acceptor, logged
}

func startModelGateway(t *testing.T) *modelGateway {
	n := compSeq.Add(1)
	gw := fmt.Sprintf("SGW%d", n)
	g := &modelGateway{path: filepath.Join(t.TempDir(), "orders.jrnl"), gw: gw, cfg: Config{StoreDir: t.TempDir(), Restate: true, Sessions: []SessionConfig{
		{SenderCompID: gw, TargetCompID: fmt.Sprintf("BRK%dA", n), Password: "right", Accounts: []string{"A1"}},
		{SenderCompID: gw, TargetCompID: fmt.Sprintf("BRK%dB", n), Password: "right", Accounts: []string{"A2"}},
	}}}
	g.handed = map[string]bool{}
	g.m, g.j, g.up = openRigManager(t, g.path, nil, g.handed)
	g.m.OnSessionUp("core", "line")
	t.Cleanup(func() {
		g.j.Close()
		g.m.Close()
	})
	g.start(t)
	t.Cleanup(g.stop)
	return g
}

func (g *modelGateway) start(t *testing.T) {
	t.Helper()
	a, err := New(g.cfg, g.m, prometheus.NewRegistry(), testLog())
	if err != nil {
		t.Fatal(err)
	}
	g.cfg.Listen = a.Addr()
	ctx, cancel := context.WithCancel(context.Background())
	g.a, g.cancel, g.done = a, cancel, make(chan error, 1)
	go func(done chan error) { done <- a.Run(ctx) }(g.done)
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
func (g *modelGateway) restartAll(t *testing.T, v *modelVenue) {
	t.Helper()
	g.fullRestarts++
	g.stop()
	if err := g.j.Close(); err != nil {
		t.Fatal(err)
	}
	g.m.Close()
	v.pull() // what the old process handed over reached the venue
	g.up.mu.Lock()
	for _, req := range g.up.sent {
		id, _ := fix.RequestID(req)
		g.handed[id] = true
	}
	g.up.mu.Unlock()
	g.m, g.j, g.up = openRigManager(t, g.path, nil, g.handed)
	v.m, v.up, v.read = g.m, g.up, 0
	if !v.down {
		g.m.OnSessionUp("core", "line")
	}
	g.start(t)
}

// dialBroker starts broker i (the i-th session, trading acct) behind a
// fault proxy.
func (g *modelGateway) dialBroker(t *testing.T, i int, acct string) *modelBroker {
	t.Helper()
	sc := g.cfg.Sessions[i]
	p := newFaultProxy(t, g.cfg.Listen)
	tb := dialTestBroker(t, &running{gateway: g.gw, broker: sc.TargetCompID}, p.ln.Addr().String(), "right")
	b := &modelBroker{tb: tb, proxy: p, acct: acct, src: orders.Source{Kind: "fix", Session: sc.TargetCompID},
		notify: make(chan struct{}), sent: map[string]string{}, replaces: map[string]string{}, reused: map[string]bool{}}
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
	proxy *faultProxy
	acct  string
	src   orders.Source

	reused   map[string]bool   // ClOrdIDs sent again in a NewOrderSingle not flagged as a resend
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

// newOrder sends a NewOrderSingle: a fresh ClOrdID, a reused one or an
// invalid one.
func (b *modelBroker) newOrder(rng *rand.Rand, step int) {
	id := fmt.Sprintf("%s-o%d", b.acct, step)
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
	}
	if _, ok := b.sent[id]; !ok {
		b.sent[id] = answer
	}
	qty := 100 * (1 + rng.IntN(5))
	m := b.message("D", "11="+id, "1="+b.acct, "55=600519", "207=XSHG", "54=1", "40=2",
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
	b.send(b.message("D", "11="+fmt.Sprintf("%s-mal%d", b.acct, step), "1="+b.acct, "55=600519", "207=XSHG", "40=2",
		"44=1700.00", "38=100", "60="+now()))
}

func (b *modelBroker) target(rng *rand.Rand) string {
	if len(b.ids) == 0 || rng.IntN(10) == 0 {
		return "nosuch"
	}
	return b.ids[rng.IntN(len(b.ids))]
}

func (b *modelBroker) cancel(rng *rand.Rand, step int) {
	b.send(b.message("F", fmt.Sprintf("11=%s-c%d", b.acct, step), "41="+b.target(rng), "1="+b.acct,
		"55=600519", "207=XSHG", "54=1", "38=100", "60="+now()))
}

// replace sends a replace under a new ClOrdID, which is then the order's.
func (b *modelBroker) replace(rng *rand.Rand, step int) {
	id := fmt.Sprintf("%s-r%d", b.acct, step)
	b.ids = append(b.ids, id)
	orig := b.target(rng)
	b.replaces[id] = orig
	b.send(b.message("G", "11="+id, "41="+orig, "1="+b.acct, "55=600519", "207=XSHG", "54=1", "40=2",
		"44="+price(rng), "38="+strconv.Itoa(100*(1+rng.IntN(5))), "60="+now()))
}

// marker sends a status request of an unknown order and waits for its
// answer: every message the broker sent before has been handled.
func (b *modelBroker) marker(t *testing.T) {
	t.Helper()
	// A lost last message shows only at the next heartbeat (30 s): the
	// marker and its answer are not lost.
	b.proxy.dropToGateway.Store(0)
	b.proxy.dropToBroker.Store(0)
	b.markers++
	req := fmt.Sprintf("mk%d", b.markers)
	b.send(b.message("H", "11="+req, "1="+b.acct, "55=600519", "207=XSHG", "54=1", "790="+req))
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
			b.send(b.message("H", "11="+id, "1="+b.acct, "55=600519", "207=XSHG", "54=1", "790="+req))
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

// venueOrder is an order as the venue holds it, by its current upstream
// ClOrdID.
type venueOrder struct {
	uid         string
	price       refdata.Price
	qty, cum    int64
	status      byte // '0' '1' '2' '4' '8'
	orderID     string
	replacedBy  string
	acct        string
	newRequests int
}

func (o *venueOrder) working() bool { return o.status == '0' || o.status == '1' }

// modelVenue is the simulated venue: it reads what the manager sends the
// upstream (the rig's recorder, under its lock) and answers through the
// manager's upstream callbacks. Only the test's goroutine uses it.
type modelVenue struct {
	t      *testing.T
	m      *orders.Manager
	up     *rigUpstream
	rng    *rand.Rand
	read   int   // requests of up.sent read
	queue  []any // requests read, not yet answered
	orders map[string]*venueOrder
	// newSeen counts the NewOrders of each upstream id.
	newSeen map[string]int
	execs   int
	down    bool
}

func (v *modelVenue) pull() {
	v.up.mu.Lock()
	v.queue = append(v.queue, v.up.sent[v.read:]...)
	v.read = len(v.up.sent)
	v.up.mu.Unlock()
}

func (v *modelVenue) execID() string { v.execs++; return fmt.Sprintf("V%d", v.execs) }

// act does one thing a venue does: answer its oldest request, or fill a
// working order.
func (v *modelVenue) act() {
	if v.down {
		return
	}
	v.pull()
	if len(v.queue) > 0 && v.rng.IntN(3) > 0 {
		v.answer()
		return
	}
	var working []*venueOrder
	for _, o := range v.orders {
		if o.working() && o.replacedBy == "" {
			working = append(working, o)
		}
	}
	if len(working) == 0 {
		return
	}
	slices.SortFunc(working, func(a, b *venueOrder) int { return strings.Compare(a.uid, b.uid) })
	o := working[v.rng.IntN(len(working))]
	last := o.qty - o.cum
	if last > 100 && v.rng.IntN(2) == 0 {
		last = 100 * (1 + v.rng.Int64N(last/100-1))
	}
	o.cum += last
	o.status = '1'
	if o.cum == o.qty {
		o.status = '2'
	}
	v.m.OnExecReport("core", fix.ExecReport{ClOrdID: o.uid, OrderID: o.orderID, ExecID: v.execID(), ExecType: 'F', OrdStatus: o.status,
		Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty, LastQty: last, LastPx: o.price,
		CumQty: o.cum, LeavesQty: o.qty - o.cum, AvgPx: o.price})
}

// current follows replaces to an order's current terms.
func (v *modelVenue) current(uid string) *venueOrder {
	o := v.orders[uid]
	for o != nil && o.replacedBy != "" {
		o = v.orders[o.replacedBy]
	}
	return o
}

func (v *modelVenue) report(o *venueOrder, execType byte, clOrdID, orig string) {
	leaves := o.qty - o.cum
	if !o.working() {
		leaves = 0
	}
	v.m.OnExecReport("core", fix.ExecReport{ClOrdID: clOrdID, OrigClOrdID: orig, OrderID: o.orderID, ExecID: v.execID(),
		ExecType: execType, OrdStatus: o.status, Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty,
		CumQty: o.cum, LeavesQty: leaves, AvgPx: o.price})
}

// answer answers the oldest request.
func (v *modelVenue) answer() {
	req := v.queue[0]
	v.queue = v.queue[1:]
	switch r := req.(type) {
	case fix.NewOrder:
		if o := v.orders[r.ClOrdID]; o != nil {
			if !r.PossResend {
				v.t.Errorf("the venue got order %s again, not flagged PossResend", r.ClOrdID)
			}
			v.report(o, 'I', r.ClOrdID, "") // a resend of an order it has
			return
		}
		v.newSeen[r.ClOrdID]++
		o := &venueOrder{uid: r.ClOrdID, price: r.Price, qty: r.Qty, status: '0', orderID: "VO-" + r.ClOrdID, acct: r.Account}
		v.orders[r.ClOrdID] = o
		if v.rng.IntN(6) == 0 {
			o.status = '8'
			v.report(o, '8', r.ClOrdID, "")
			return
		}
		v.report(o, '0', r.ClOrdID, "")
	case fix.CancelRequest:
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
		n := &venueOrder{uid: r.ClOrdID, price: r.Price, qty: r.Qty, cum: o.cum, status: '0', orderID: o.orderID, acct: o.acct}
		if n.cum > 0 {
			n.status = '1'
		}
		o.replacedBy = r.ClOrdID
		v.orders[r.ClOrdID] = n
		v.report(n, '5', r.ClOrdID, r.OrigClOrdID)
	case fix.StatusRequest:
		o := v.current(r.ClOrdID)
		if o == nil {
			v.m.OnExecReport("core", fix.ExecReport{ClOrdID: r.ClOrdID, OrderID: "NONE", ExecID: v.execID(), ExecType: 'I',
				OrdStatus: '8', OrdRejReason: 5, Symbol: "600519.SH", Side: fix.Buy, Text: "unknown order"})
			return
		}
		v.report(o, 'I', o.uid, "")
	default:
		v.t.Fatalf("venue got %T", req)
	}
}

func (v *modelVenue) refuse(clOrdID, orig string, o *venueOrder, to byte) {
	id := ""
	if o != nil {
		id = o.orderID
	}
	v.m.OnCancelReject("core", fix.CancelReject{ClOrdID: clOrdID, OrigClOrdID: orig, OrderID: id, Reason: 0,
		Text: "venue refuses", ResponseTo: to})
}

func (v *modelVenue) lineCut() {
	if v.down {
		return
	}
	v.down = true
	v.m.OnSessionDown("core", "line", errors.New("cut"), nil)
}

func (v *modelVenue) lineUp() {
	if !v.down {
		return
	}
	v.down = false
	v.m.OnSessionUp("core", "line")
}

// settle answers the venue's requests until no order of the brokers
// awaits an answer.
func (v *modelVenue) settle(t *testing.T, brokers []*modelBroker) {
	t.Helper()
	deadline := time.After(await)
	for {
		v.up.mu.Lock()
		ch := v.up.notify
		v.up.mu.Unlock()
		v.pull()
		for len(v.queue) > 0 {
			v.answer()
			v.pull()
		}
		var busy []string
		for _, b := range brokers {
			for _, o := range v.m.OrdersFrom(b.src) {
				if o.Status == orders.StatusPendingNew || o.Pending() != 0 || !o.Status.Terminal() && o.Status != orders.StatusNew && o.Status != orders.StatusPartiallyFilled {
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

// check checks the venue against the manager: each order the manager
// holds reached the venue exactly once, and the venue agrees with its
// state.
func (v *modelVenue) check(t *testing.T, brokers []*modelBroker) {
	t.Helper()
	total := 0
	for uid, n := range v.newSeen {
		if n != 1 {
			t.Errorf("the venue got order %s %d times", uid, n)
		}
	}
	for _, b := range brokers {
		for _, o := range v.m.OrdersFrom(b.src) {
			total++
			vo := v.orders[o.UpstreamID]
			if vo == nil {
				t.Errorf("order %s (upstream id %s) never reached the venue", o.ClOrdID, o.UpstreamID)
				continue
			}
			if vo.replacedBy != "" {
				t.Errorf("order %s: the gateway has terms %s, the venue replaced them by %s", o.ClOrdID, o.UpstreamID, vo.replacedBy)
			}
			if vo.working() != !o.Status.Terminal() || vo.cum != o.CumQty || vo.status != ordStatus(&o) {
				t.Errorf("order %s: venue %c cum %d, gateway %s cum %d", o.ClOrdID, vo.status, vo.cum, o.Status, o.CumQty)
			}
		}
	}
	if total != len(v.newSeen) {
		t.Errorf("the venue got %d orders; the gateway holds %d", len(v.newSeen), total)
	}
	t.Logf("%d orders, %d venue executions", total, v.execs)
}

// faultProxy relays FIX connections to an acceptor, frame by frame: cut
// closes the connections open, and each count of dropToGateway or
// dropToBroker loses the next application message that way (not a
// resend), so that the receiver sees a gap and asks for a resend. Two
// goroutines per connection forward; the counters and cut are safe from
// any goroutine.
type faultProxy struct {
	ln                          net.Listener
	target                      string
	dropToGateway, dropToBroker atomic.Int64

	mu    sync.Mutex
	conns []net.Conn
}

func newFaultProxy(t *testing.T, target string) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go p.forward(up, c, &p.dropToGateway)
			go p.forward(c, up, &p.dropToBroker)
		}
	}()
	return p
}

func (p *faultProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *faultProxy) forward(dst, src net.Conn, drop *atomic.Int64) {
	defer dst.Close()
	defer src.Close()
	var in []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		in = append(in, buf[:n]...)
		for {
			k, garbled, ferr := fix.CheckFrame(in, fix.DefaultMaxFrameBytes)
			if ferr != nil || garbled != "" {
				_, _ = dst.Write(in)
				in = in[:0]
				break
			}
			if k == 0 {
				break
			}
			frame := in[:k]
			lose := false
			if app := !bytes.Contains(frame, []byte("\x0143=Y\x01")) && appFrame(frame); app {
				if c := drop.Load(); c > 0 && drop.CompareAndSwap(c, c-1) {
					lose = true
				}
			}
			if !lose {
				if _, werr := dst.Write(frame); werr != nil {
					return
				}
			}
			in = in[k:]
		}
		if err != nil {
			return
		}
	}
}

func appFrame(f []byte) bool {
	for _, mt := range []string{"D", "F", "G", "H", "8", "9"} {
		if bytes.Contains(f, []byte("\x0135="+mt+"\x01")) {
			return true
		}
	}
	return false
}

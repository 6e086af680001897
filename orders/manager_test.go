package orders

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"sgw/fix"
	"sgw/refdata"
	"sgw/risk"
)

func TestOrderLifecycle(t *testing.T) {
	e := newEnv(t, t.TempDir())
	if _, err := e.m.New(buy("c1", 300)); err != nil {
		t.Fatal(err)
	}
	evs := e.ev.wait(t, 1)
	if evs[0].Kind != EventAccepted || evs[0].Order.Status != StatusPendingNew {
		t.Fatalf("first event %+v", evs[0])
	}
	sent := e.core.wait(t, 1)
	if n, ok := sent[0].(fix.NewOrder); !ok || n.ClOrdID != e.uid("c1") || n.Qty != 300 || n.PossResend {
		t.Fatalf("core upstream got %+v", sent)
	}
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 300, "e1"))
	e.m.OnExecReport("core", e.er("c1", 'F', '1', 100, 100, 200, "e2"))
	dup := e.er("c1", 'F', '1', 100, 100, 200, "e2")
	dup.PossDup = true
	e.m.OnExecReport("core", dup) // a resend: ignored
	e.ev.wait(t, 3)
	o, _ := e.m.Get("A1", "c1")
	if o.CumQty != 100 || o.LeavesQty != 200 || o.Status != StatusPartiallyFilled || o.OrderID != "Xc1" {
		t.Fatalf("after a fill: %+v", o)
	}
	st, _ := e.rc.Snapshot("A1")
	if st.Cash != (10_000_000-300*1700)*refdata.PriceScale {
		t.Fatalf("cash %s", st.Cash)
	}
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "c1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	cxl := e.core.wait(t, 2)[1].(fix.CancelRequest)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: cxl.ClOrdID, OrigClOrdID: cxl.OrigClOrdID, ExecID: "e3", ExecType: '4', OrdStatus: '4', CumQty: 100})
	evs = e.ev.wait(t, 5)
	if last := evs[4]; last.Order.Status != StatusCanceled || last.Ref != "x1" {
		t.Fatalf("cancel event %+v", last)
	}
	st, _ = e.rc.Snapshot("A1")
	if st.Cash != (10_000_000-100*1700)*refdata.PriceScale {
		t.Fatalf("cash after cancel %s: the unfilled 200 must be released", st.Cash)
	}
	if got := strings.Join(records(t, e.path()), ""); got != "NEECE" {
		t.Errorf("journal records %q, want NEECE (the resend is not journaled)", got)
	}
}

func TestRejectsAreNotJournaled(t *testing.T) {
	e := newEnv(t, t.TempDir())
	before, day := e.j.LastSeq(), e.rc.DayDate()
	_, err := e.m.New(NewRequest{ClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit, Price: 19000000, Qty: 100, Source: src})
	if !errorsCode(err, "risk.price_band") {
		t.Fatalf("New = %v, want risk.price_band", err)
	}
	if _, err := e.m.Cancel(CancelRequest{OrigClOrdID: "nope", Account: "A1", Source: src}); !errorsCode(err, CodeUnknownOrder) {
		t.Fatalf("cancel of an unknown order: %v", err)
	}
	if e.rc.DayDate() != day {
		before++ // the first request after midnight in Shanghai journaled the day
	}
	if e.j.LastSeq() != before || len(e.core.list()) != 0 {
		t.Fatal("a rejected request was journaled or sent")
	}
}

// TestHostileIdentifiers checks that identifiers are bounded and
// restricted on the manager's own entry, whatever the protocol layer
// checked, and that a huge one leaves order entry working (it used to
// deadlock the manager: the journal refused the record and called back
// on the caller's goroutine, under the manager's lock).
func TestHostileIdentifiers(t *testing.T) {
	e := newEnv(t, t.TempDir())
	day := e.rc.DayDate()
	for _, tc := range []struct{ name, id, account, symbol string }{
		{"70,000-byte ClOrdID", strings.Repeat("A", 70000), "A1", "600519.SH"},
		{"SOH", "c1\x0158=fill", "A1", "600519.SH"},
		{"pipe and equals", "c1|58=filled", "A1", "600519.SH"},
		{"newline", "c1\nFILLED", "A1", "600519.SH"},
		{"empty", "", "A1", "600519.SH"},
		{"33 bytes", strings.Repeat("a", 33), "A1", "600519.SH"},
		{"account with space", "c1", "A 1", "600519.SH"},
		{"symbol with SOH", "c1", "A1", "600519.SH\x01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := buy(tc.id, 100)
			req.Account, req.Symbol = tc.account, tc.symbol
			_, err := e.m.New(req)
			if !errorsCode(err, CodeBadID) {
				t.Fatalf("New = %v, want %s", err, CodeBadID)
			}
			if strings.ContainsAny(err.Error(), "\x01\n|") || len(err.Error()) > 200 {
				t.Errorf("the error echoes the bad value: %q", err.Error())
			}
			_, err = e.m.Cancel(CancelRequest{ClOrdID: "x", OrigClOrdID: tc.id, Account: tc.account, Source: src})
			if !refdata.ValidID(tc.id, refdata.MaxClOrdIDLen) && !errorsCode(err, CodeBadID) {
				t.Fatalf("Cancel = %v, want %s", err, CodeBadID)
			}
		})
	}
	days := uint64(1) // the day Recover began
	if e.rc.DayDate() != day {
		days++ // and the one the first request after midnight in Shanghai began
	}
	if e.j.LastSeq() != days {
		t.Fatalf("%d records journaled for refused requests", e.j.LastSeq()-days)
	}
	// Order entry still works, and so does everything that takes the lock.
	if _, err := e.m.New(buy(strings.Repeat("a", refdata.MaxClOrdIDLen), 100)); err != nil {
		t.Fatalf("a %d-byte ClOrdID: %v", refdata.MaxClOrdIDLen, err)
	}
	e.core.wait(t, 1)
	_ = e.m.Stats()
}

func TestCreditAccountsGoToMargin(t *testing.T) {
	e := newEnv(t, t.TempDir())
	req := buy("m1", 100)
	req.Account = "M1"
	if _, err := e.m.New(req); err != nil {
		t.Fatal(err)
	}
	e.mgn.wait(t, 1)
	if len(e.mgn.list()) != 1 || len(e.core.list()) != 0 {
		t.Fatalf("core %v margin %v", e.core.list(), e.mgn.list())
	}
}

func TestReplace(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	// reserved checks the cash risk holds for A1's working buys, in yuan.
	reserved := func(rc *risk.Checker, want int64) {
		t.Helper()
		if st, _ := rc.Snapshot("A1"); st.Reserved != refdata.Price(want*refdata.PriceScale) {
			t.Fatalf("risk holds %s, want %d", st.Reserved, want)
		}
	}
	e.m.New(buy("c1", 300))
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 300, "e1"))
	reserved(e.rc, 300*1700)
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Price: 16990000, Qty: 500, Source: src}); err != nil {
		t.Fatal(err)
	}
	reserved(e.rc, 500*1700) // pending: the larger price times the larger quantity
	// Its accepted names who sent it (a WebSocket client matches its
	// request's id by it).
	if ev := findEvent(e.ev.wait(t, 3), EventAccepted, "r1"); ev.Request != 'G' || ev.Requester != src {
		t.Fatalf("the replace's accepted %+v; want Request G, Requester %v", ev, src)
	}
	g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, ExecID: "e2", ExecType: '5', OrdStatus: '0', LeavesQty: 500})
	o, _ := e.m.Get("A1", "c1")
	if o.ClOrdID != "r1" || o.Price != 16990000 || o.Qty != 500 || o.LeavesQty != 500 {
		t.Fatalf("after replace %+v", o)
	}
	reserved(e.rc, 500*1699)
	// A refused replace leaves the order as it was.
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r2", OrigClOrdID: "r1", Account: "A1", Price: 17000000, Qty: 600, Source: src}); err != nil {
		t.Fatal(err)
	}
	reserved(e.rc, 600*1700)
	g2 := e.core.wait(t, 3)[2].(fix.ReplaceRequest)
	e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: g2.ClOrdID, OrigClOrdID: g2.OrigClOrdID, Text: "too late"})
	if o, _ := e.m.Get("A1", "r1"); o.Price != 16990000 || o.Qty != 500 {
		t.Fatalf("after a refused replace %+v", o)
	}
	reserved(e.rc, 500*1699)
	// A replace pending at the stop: the replay holds what the live
	// checker held, and the answer after the restart releases it.
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r3", OrigClOrdID: "r1", Account: "A1", Price: 17000000, Qty: 400, Source: src}); err != nil {
		t.Fatal(err)
	}
	g3 := e.core.wait(t, 4)[3].(fix.ReplaceRequest)
	reserved(e.rc, 500*1700)
	e.j.Close()

	r := newEnv(t, dir)
	reserved(r.rc, 500*1700)
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: g3.ClOrdID, OrigClOrdID: g3.OrigClOrdID, ExecID: "e3", ExecType: '5', OrdStatus: '0', LeavesQty: 400})
	if o, _ := r.m.Get("A1", "r3"); o.Price != 17000000 || o.Qty != 400 {
		t.Fatalf("after the restart and replace %+v", o)
	}
	reserved(r.rc, 400*1700)
}

// TestExecIDsPerUpstream: two upstreams number their executions alike;
// each upstream's are applied once.
func TestExecIDsPerUpstream(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.m.New(buy("c1", 200))
	m1 := buy("m1", 200)
	m1.Account = "M1"
	e.m.New(m1)
	e.core.wait(t, 1)
	e.mgn.wait(t, 1)
	mu := func() string { o, _ := e.m.Get("M1", "m1"); return o.UpstreamID }()
	for i, up := range []string{"core", "margin"} {
		uid := e.uid("c1")
		if up == "margin" {
			uid = mu
		}
		for n := 1; n <= 2; n++ {
			e.m.OnExecReport(up, fix.ExecReport{ClOrdID: uid, ExecID: fmt.Sprint(n), ExecType: 'F', OrdStatus: '1',
				LastPx: 17000000, LastQty: 100, CumQty: int64(100 * n), LeavesQty: int64(200 - 100*n)})
		}
		// A PossDup resend of the first execution is dropped.
		e.m.OnExecReport(up, fix.ExecReport{ClOrdID: uid, ExecID: "1", ExecType: 'F', OrdStatus: '1', LastPx: 17000000,
			LastQty: 100, CumQty: 100, LeavesQty: 100, PossDup: true})
		_ = i
	}
	c1, _ := e.m.Get("A1", "c1")
	mo, _ := e.m.Get("M1", "m1")
	if c1.CumQty != 200 || c1.Status != StatusPartiallyFilled && c1.Status != StatusFilled || mo.CumQty != 200 {
		t.Fatalf("core order %+v, margin order %+v: each must have its two fills once", c1, mo)
	}
}

func TestListPages(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(_ *env, cfg *Config) {})
	big := riskConfig()
	big.Accounts[0].Cash = 1e12 * refdata.PriceScale
	big.AccountRate, big.SessionRate = 1e6, 1e6
	rc, err := risk.New(big, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.m.risk = rc
	const n = 2000
	for i := range n {
		if _, err := e.m.New(buy(fmt.Sprintf("c%d", i), 100)); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		p, err := e.m.List("A1", cursor, 0)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if len(p.Orders) > DefaultListLimit || p.Total != n || p.Remaining != n-len(seen)-len(p.Orders) {
			t.Fatalf("page %d: %d orders, total %d, remaining %d", pages, len(p.Orders), p.Total, p.Remaining)
		}
		for _, o := range p.Orders {
			if seen[o.ClOrdID] {
				t.Fatalf("%s listed twice", o.ClOrdID)
			}
			seen[o.ClOrdID] = true
		}
		if p.Next == "" {
			break
		}
		cursor = p.Next
	}
	if len(seen) != n || pages != n/DefaultListLimit {
		t.Fatalf("listed %d orders in %d pages", len(seen), pages)
	}
	for _, bad := range []string{"x", "-1", "999999"} {
		if _, err := e.m.List("A1", bad, 10); !errorsCode(err, CodeBadCursor) {
			t.Errorf("cursor %q: %v", bad, err)
		}
	}
}

// TestRiskErrorsCounted: the risk ledger's refusal of an update (here a
// fill beyond the order's quantity: the venue's word) is logged and
// counted, and the order follows the venue all the same; once, not again
// at each replay.
func TestRiskErrorsCounted(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.m.New(buy("c1", 100))
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 100, 100, 0, "e1"))
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 100, 200, 0, "e2")) // an overfill
	var m dto.Metric
	if err := e.m.met.riskErrors.WithLabelValues("fill").Write(&m); err != nil {
		t.Fatal(err)
	}
	if m.GetCounter().GetValue() != 1 {
		t.Fatalf("gateway_orders_risk_errors_total{op=fill} = %v, want 1", m.GetCounter().GetValue())
	}
	if o, _ := e.m.Get("A1", "c1"); o.CumQty != 200 {
		t.Fatalf("the order does not follow the venue: %+v", o)
	}
	// A restart (or a follower's standby) replays the refusal: it was
	// counted when it happened and is not counted again, or every replay
	// would fire the alert anew.
	e.j.Close()
	r := newEnv(t, e.dir)
	if n := testCounter(t, r.m.met.riskErrors.WithLabelValues("fill")); n != 0 {
		t.Fatalf("after the replay gateway_orders_risk_errors_total{op=fill} = %v, want 0", n)
	}
	if o, _ := r.m.Get("A1", "c1"); o.CumQty != 200 {
		t.Fatalf("the replayed order does not follow the venue: %+v", o)
	}
}

// TestMetricsFromStart: the counters known up front exist at zero before
// any order, and a new order's first answer is timed once.
func TestMetricsFromStart(t *testing.T) {
	e := newEnv(t, t.TempDir())
	st := e.m.Stats()
	for _, k := range [][2]string{{"ws", "accepted"}, {"ws", "rejected"}, {"fix", "accepted"}, {"fix", "rejected"}} {
		if v, ok := st.Orders[k]; !ok || v != 0 {
			t.Errorf("Orders[%v] = %d, %v; want 0 from the start", k, v, ok)
		}
	}
	for _, code := range []string{risk.CodeKillSwitch, risk.CodePriceBand, CodeUpstreamDown, CodeNotLeader} {
		if v, ok := st.RiskRejects[code]; !ok || v != 0 {
			t.Errorf("RiskRejects[%s] = %d, %v; want 0 from the start", code, v, ok)
		}
	}
	if want := map[string]bool{"": false, "A1": false, "M1": false}; !maps.Equal(st.KillSwitches, want) {
		t.Errorf("KillSwitches = %v, want %v", st.KillSwitches, want)
	}
	if _, err := e.m.Kill("", true); err != nil {
		t.Fatal(err)
	}
	if st := e.m.Stats(); !st.KillSwitches[""] || st.KillSwitches["A1"] {
		t.Errorf("global kill switch on: KillSwitches = %v", st.KillSwitches)
	}
	if _, err := e.m.Kill("", false); err != nil {
		t.Fatal(err)
	}

	if _, err := e.m.New(buy("c1", 100)); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	e.advance(3 * time.Millisecond)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 100, "e1"))
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 100, 100, 0, "e2"))
	var m dto.Metric
	if err := e.m.met.ackLatency.WithLabelValues("core").(prometheus.Histogram).Write(&m); err != nil {
		t.Fatal(err)
	}
	if h := m.GetHistogram(); h.GetSampleCount() != 1 || h.GetSampleSum() != 0.003 {
		t.Errorf("ack latency: %d samples, sum %v; want the first answer only, 0.003 s", h.GetSampleCount(), h.GetSampleSum())
	}
}

// TestUpstreamSeriesFromStart: every series labelled by upstream exists
// from AddUpstream on (docs/OPERATIONS.md, "Monitoring": counters whose
// labels are known at start exist at zero, so that rate() and increase()
// see the first event), the upstream rejects by each MsgType too.
func TestUpstreamSeriesFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	newEnv(t, t.TempDir(), func(_ *env, c *Config) { c.Registry = reg })
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{} // family name, upstream, msg_type
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var up, mt string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "upstream":
					up = l.GetValue()
				case "msg_type":
					mt = l.GetValue()
				}
			}
			have[f.GetName()+" "+up+" "+mt] = true
		}
	}
	for _, name := range []string{"gateway_orders_held", "gateway_orders_status_checks_queued",
		"gateway_orders_hold_expired_total", "gateway_orders_status_unsupported", "gateway_orders_unknown_reports_total",
		"gateway_orders_duplicate_reports_total", "gateway_orders_unanswered_total", "gateway_orders_expired_unreported_total",
		"gateway_orders_stale_unknown_answers_total", "gateway_order_ack_latency_seconds"} {
		for _, up := range []string{"core", "margin"} {
			if !have[name+" "+up+" "] {
				t.Errorf("%s{upstream=%q} does not exist from the start", name, up)
			}
		}
	}
	for _, up := range []string{"core", "margin"} {
		for _, mt := range []string{"D", "F", "G", "H", "other"} {
			if !have["gateway_orders_upstream_rejects_total "+up+" "+mt] {
				t.Errorf("gateway_orders_upstream_rejects_total{upstream=%q,msg_type=%q} does not exist from the start", up, mt)
			}
		}
	}
}

// TestOrdersFromChunks checks OrdersFrom across its chunks while orders
// are entered alongside (under the manager's lock, as intake enters
// them): every order entered before the call comes back, in entry order,
// as it was, and the race detector sees the locking.
func TestOrdersFromChunks(t *testing.T) {
	brk := Source{Kind: "fix", Session: "BROKER1"}
	m := &Manager{bySource: map[Source][]*Order{}}
	add := func(i int) {
		m.mu.Lock()
		m.bySource[brk] = append(m.bySource[brk], &Order{ClOrdID: fmt.Sprintf("c%d", i), Source: brk, Qty: int64(i)})
		m.mu.Unlock()
	}
	const before = 3*ordersFromChunk + 7
	for i := range before {
		add(i)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := before; i < before+2*ordersFromChunk; i++ {
			add(i)
		}
	}()
	got := m.OrdersFrom(brk)
	<-done
	if len(got) < before {
		t.Fatalf("%d orders; want at least the %d entered before the call", len(got), before)
	}
	for i, o := range got {
		if o.ClOrdID != fmt.Sprintf("c%d", i) || o.Qty != int64(i) {
			t.Fatalf("order %d is %s (qty %d)", i, o.ClOrdID, o.Qty)
		}
	}
}

// TestOrdersFrom checks that OrdersFrom returns the orders of one source
// (its index), in entry order, and the same after a replay of the journal.
func TestOrdersFrom(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	brk := Source{Kind: "fix", Session: "BROKER1"}
	for i, id := range []string{"w1", "f1", "w2", "f2", "f3"} {
		r := buy(id, 100)
		if id[0] == 'f' {
			r.Source = brk
		}
		if _, err := e.m.New(r); err != nil {
			t.Fatalf("order %d: %v", i, err)
		}
	}
	if _, err := e.m.New(buy("big", 1_000_000_000)); err == nil { // refused by risk: not an order of the source
		t.Fatal("risk accepted an order beyond the cash")
	}
	ids := func(m *Manager, s Source) string {
		var out []string
		for _, o := range m.OrdersFrom(s) {
			out = append(out, o.ClOrdID)
		}
		return strings.Join(out, ",")
	}
	if got := ids(e.m, brk); got != "f1,f2,f3" {
		t.Errorf("broker's orders %q; want f1,f2,f3", got)
	}
	if got := ids(e.m, src); got != "w1,w2" {
		t.Errorf("client's orders %q; want w1,w2", got)
	}
	if got := e.m.OrdersFrom(Source{Kind: "fix", Session: "NOBODY"}); got != nil {
		t.Errorf("a source without orders: %v; want nil", got)
	}
	// A client's order.status.
	if o, err := e.m.Status("A1", "f2"); err != nil || o.ClOrdID != "f2" {
		t.Errorf("Status of f2: %+v, %v", o, err)
	}
	var rej *Reject
	if _, err := e.m.Status("A1", "big"); !errors.As(err, &rej) || rej.Code != CodeUnknownOrder {
		t.Errorf("Status of an order risk refused: %v; want %s", err, CodeUnknownOrder)
	}
	e.core.wait(t, 5)
	e.j.Close()
	r := newEnv(t, dir)
	if got := ids(r.m, brk); got != "f1,f2,f3" {
		t.Errorf("after a replay, the broker's orders %q; want f1,f2,f3", got)
	}
}

// TestConfigRefusesNegative: Config.Check names the negative field.
func TestConfigRefusesNegative(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"hold queue", Config{HoldQueue: -1}, "hold_queue -1"},
		{"ack timeout", Config{AckTimeout: -time.Second}, "ack_timeout -1s"},
		{"status check window", Config{StatusCheckWindow: -1}, "status check window -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Check()
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Check = %v; want ErrConfig naming %q", err, tt.want)
			}
		})
	}
	if err := (Config{}).Check(); err != nil {
		t.Fatalf("the zero Config: %v", err)
	}
}

// TestEventRequester: the events answering a cancel name the source that
// sent it (Event.Requester), which a client's session compares with its
// own to tell its requests from others'; a cancel the gateway made itself
// (cancel-on-disconnect here, the kill switch alike: no ClOrdID given)
// names none, though it is made for the session. Both hold for requests
// replayed from the journal.
func TestEventRequester(t *testing.T) {
	other := Source{Kind: "fix", Session: "BROKER1"}
	for _, replayed := range []bool{false, true} {
		t.Run(fmt.Sprintf("replayed=%v", replayed), func(t *testing.T) {
			dir := t.TempDir()
			withRisk := func(e *env, _ *Config) {
				rcfg := riskConfig()
				rcfg.CancelOnDisconnect = true
				rc, err := risk.New(rcfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.rc = rc
			}
			e := newEnv(t, dir, withRisk)
			e.working("w1", 100)
			e.working("w2", 100)
			if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "w1", Account: "A1", Source: other}); err != nil {
				t.Fatal(err)
			}
			e.core.wait(t, 3)
			if n := e.m.SessionEnded(src); n != 1 { // w2; w1's cancel is pending
				t.Fatalf("cancel-on-disconnect sent %d cancels; want 1", n)
			}
			reqs := e.core.wait(t, 4)
			x1, own := reqs[2].(fix.CancelRequest), reqs[3].(fix.CancelRequest)
			if replayed {
				e.j.Close()
				e = newEnv(t, dir, withRisk)
			}

			e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: x1.ClOrdID, OrigClOrdID: x1.OrigClOrdID, Text: "no cancels now"})
			e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: own.ClOrdID, OrigClOrdID: own.OrigClOrdID, Text: "no cancels now"})
			var rejects []Event
			for n := 1; len(rejects) < 2; n++ {
				if ev := e.ev.wait(t, n)[n-1]; ev.Kind == EventCancelReject {
					rejects = append(rejects, ev)
				}
			}
			if ev := rejects[0]; ev.Ref != "x1" || ev.Request != 'F' || ev.Requester != other {
				t.Errorf("refusal of x1: Ref %q, Request %q, Requester %+v; want x1, F, from %+v", ev.Ref, ev.Request, ev.Requester, other)
			}
			if ev := rejects[1]; ev.Order.ClOrdID != "w2" || ev.Request != 'F' || ev.Requester != (Source{}) {
				t.Errorf("refusal of the gateway's cancel of w2: order %s, Request %q, Requester %+v; want w2, F and none (no client sent it)",
					ev.Order.ClOrdID, ev.Request, ev.Requester)
			}
		})
	}
}

// findEvent returns the first event of kind with ref in evs, or the zero
// Event.
func findEvent(evs []Event, kind EventKind, ref string) Event {
	for _, ev := range evs {
		if ev.Kind == kind && ev.Ref == ref {
			return ev
		}
	}
	return Event{}
}

// TestRequestForOrderWhoseIDWasReused: an order of an earlier day,
// replaced (its current client order id the replace's), whose current id
// a later day's order took (risk frees a day's ids at its end): a cancel
// or replace naming it by its first id is refused as for an unknown
// order, and today's order is left alone; the id now names today's order.
// Before, the request was checked against today's order (the earlier
// one's current id named it), which took it as pending, and the manager
// then panicked on the earlier order's lack of one, under its lock (found
// by TestReplayEqualsLive).
func TestRequestForOrderWhoseIDWasReused(t *testing.T) {
	tests := []struct {
		name    string
		request func(m *Manager, orig string) error
	}{
		{"cancel", func(m *Manager, orig string) error {
			_, err := m.Cancel(CancelRequest{ClOrdID: "x", OrigClOrdID: orig, Account: "A1", Source: src})
			return err
		}},
		{"cancel named by the gateway", func(m *Manager, orig string) error {
			_, err := m.Cancel(CancelRequest{OrigClOrdID: orig, Account: "A1", Source: src})
			return err
		}},
		{"replace", func(m *Manager, orig string) error {
			_, err := m.Replace(ReplaceRequest{ClOrdID: "x", OrigClOrdID: orig, Account: "A1", Price: 17000000, Qty: 300, Source: src})
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) // Tuesday 10:00 in Shanghai
			e := calendarRuns(t, clk, &clockJournal{clk: clk})()
			e.working("a", 200)
			if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "b", OrigClOrdID: "a", Account: "A1", Price: 17000000, Qty: 100, Source: src}); err != nil {
				t.Fatal(err)
			}
			g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, ExecID: "e2", ExecType: '5', OrdStatus: '0', LeavesQty: 100})
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, ExecID: "e3", ExecType: 'F', OrdStatus: '2', LastPx: 17000000, LastQty: 100, CumQty: 100, AvgPx: 17000000})

			clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)) // Wednesday 10:00
			if _, err := e.m.New(buy("b", 200)); err != nil {
				t.Fatalf("Wednesday's b: %v", err)
			}
			if err := tt.request(e.m, "a"); !errorsCode(err, CodeUnknownOrder) {
				t.Fatalf("a request naming Tuesday's a: %v, want %s", err, CodeUnknownOrder)
			}
			if o, _ := e.m.Get("A1", "b"); o.OrigClOrdID != "b" || o.Pending() != 0 {
				t.Fatalf("Wednesday's b: %+v, pending %c; want it untouched", o, o.Pending())
			}
			if err := tt.request(e.m, "b"); err != nil {
				t.Fatalf("a request naming Wednesday's b: %v", err)
			}
			if o, _ := e.m.Get("A1", "b"); o.OrigClOrdID != "b" || o.Pending() == 0 {
				t.Fatalf("Wednesday's b: %+v; want its request pending", o)
			}
		})
	}
}

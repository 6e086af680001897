package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/refdata"
)

// checkOrders checks the orders part of a passed run: load went out and
// came back, and every order ended with exactly one outcome.
func checkOrders(t *testing.T, sum *Summary) {
	t.Helper()
	o := sum.Orders
	if o == nil {
		t.Fatalf("no orders summary:\n%s", sum.Text())
	}
	if o.SentPerSecond <= 0 || o.AcceptedPerSecond <= 0 || o.ExecsPerSecond <= 0 {
		t.Errorf("throughput: sent %.1f/s accepted %.1f/s execs %.1f/s", o.SentPerSecond, o.AcceptedPerSecond, o.ExecsPerSecond)
	}
	var final int64
	for _, k := range []string{outcomeFilled, outcomeCanceled, outcomeExpired, outcomeRejectedUpstream, outcomeRejectedGateway} {
		final += o.Outcomes[k]
	}
	if o.Total == 0 || final != o.Total || o.Outcomes["working"] != 0 || o.Outcomes["unanswered"] != 0 {
		t.Errorf("outcomes %v of %d orders: want exactly one final outcome each", o.Outcomes, o.Total)
	}
	if o.Outcomes[outcomeFilled] == 0 || o.Outcomes[outcomeCanceled] == 0 {
		t.Errorf("outcomes %v: want marketable orders filled and resting ones cancelled", o.Outcomes)
	}
	if o.Violations != 0 || len(o.Rejects) != 0 || o.SendErrors != 0 {
		t.Errorf("violations %d %v, rejects %v, send errors %d", o.Violations, o.ViolationsBy, o.Rejects, o.SendErrors)
	}
	for _, name := range []string{"order_ack", "order_first_exec"} {
		m := sum.measure(name)
		if m == nil || m.Count == 0 {
			t.Errorf("measure %s: %+v", name, m)
		} else if m.P50 > m.P99 || m.P99 > m.Max {
			t.Errorf("measure %s percentiles out of order: %+v", name, m)
		}
	}
}

// TestOrdersRun runs a short orders scenario against an in-process
// simulator and gateway and checks the report files and that every order
// had one outcome.
func TestOrdersRun(t *testing.T) {
	out := t.TempDir()
	c := Config{Scenario: ScenarioOrders, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Out: out,
		Sessions: 2, OrderRate: 40, Rate: 300}
	sum, err := Run(context.Background(), c, io.Discard, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, summaryText(sum))
	}
	if !sum.Pass {
		t.Fatalf("summary:\n%s", sum.Text())
	}
	checkOrders(t, sum)
	if sum.measure("tick_to_client") != nil {
		t.Error("an orders run reports tick_to_client")
	}
	// The orders the window scheduled were measured, and none beyond:
	// 40/s over the window, however long a loaded machine made it. Each
	// session's first and last slot may fall either side of an edge, and
	// a loaded machine can delay a session's schedule, so only the upper
	// bound is tight (TestSenderBehindAtWindowEnd checks the catch-up
	// exactly).
	want := 40 * sum.Elapsed.Seconds()
	if n := float64(sum.measure("order_ack").Count); n < 0.8*want || n > want+3 {
		t.Errorf("order_ack count %.0f, want about %.0f (40/s over %v)", n, want, sum.Elapsed)
	}

	var decoded Summary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &decoded); err != nil || decoded.Orders == nil || decoded.Orders.Total != sum.Orders.Total || !decoded.Pass {
		t.Fatalf("summary.json: %v %+v", err, decoded.Orders)
	}
	txt, _ := os.ReadFile(filepath.Join(out, "summary.txt"))
	for _, want := range []string{"order_ack", "order_first_exec", "integrity violations     0", "gateway internal", "PASS"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("summary.txt lacks %q:\n%s", want, txt)
		}
	}
	for _, f := range []string{"order_ack.hgrm", "order_first_exec.hgrm", "chart.html"} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// TestMixedRun runs market data and orders at once: one report holds both
// measure sets.
func TestMixedRun(t *testing.T) {
	c := Config{Scenario: ScenarioMixed, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Out: t.TempDir(),
		Clients: 10, Depth: 5, Rate: 300, Sessions: 2, OrderRate: 40}
	sum, err := Run(context.Background(), c, io.Discard, nil)
	if err != nil || !sum.Pass {
		t.Fatalf("run: %v\n%s", err, summaryText(sum))
	}
	checkOrders(t, sum)
	if m := sum.measure("tick_to_client"); m == nil || m.Count == 0 || sum.Connected != 10 || sum.Delivered <= 0 {
		t.Fatalf("market data part:\n%s", sum.Text())
	}
	if sum.Counts["seq_gaps"] != 0 || sum.Counts["checksum_failures"] != 0 {
		t.Fatalf("counts %v", sum.Counts)
	}
}

// TestSoakRun runs a short soak: the feed's primary source goes down and
// comes back, a FIX line is cut and restored, and the integrity checks
// hold throughout.
func TestSoakRun(t *testing.T) {
	c := Config{Scenario: ScenarioSoak, Duration: 6 * time.Second, Warmup: 500 * time.Millisecond, Out: t.TempDir(),
		Clients: 10, Depth: 5, Rate: 300, Sessions: 2, OrderRate: 40}
	sum, err := Run(context.Background(), c, io.Discard, nil)
	if err != nil || !sum.Pass {
		t.Fatalf("run: %v\n%s", err, summaryText(sum))
	}
	var kinds []string
	for _, f := range sum.Faults {
		if f.Err != "" {
			t.Errorf("fault %s: %s", f.Kind, f.Err)
		}
		kinds = append(kinds, f.Kind)
	}
	if strings.Join(kinds, ",") != "feed_primary_down,feed_primary_up,fix_line0_cut,fix_line0_restored" {
		t.Fatalf("faults %v", kinds)
	}
	if sum.Counts["seq_gaps"] != 0 || sum.Counts["checksum_failures"] != 0 || sum.Counts["updates_without_state"] != 0 {
		t.Fatalf("market data integrity: %v", sum.Counts)
	}
	// A cut line refuses nothing: orders accepted during the failover are
	// held and sent once the session is back.
	for code, n := range sum.Orders.Rejects {
		t.Errorf("%d orders refused with %s during the soak", n, code)
	}
	checkOrders(t, sum)
	txt, _ := os.ReadFile(filepath.Join(c.Out, "summary.txt"))
	if !strings.Contains(string(txt), "fix_line0_cut ok") {
		t.Errorf("summary.txt does not list the faults:\n%s", txt)
	}
}

func summaryText(s *Summary) string {
	if s == nil {
		return "(no summary)"
	}
	return s.Text()
}

func TestOrderThresholds(t *testing.T) {
	ms := func(name string, p99 float64) Measure {
		return Measure{Name: name, Count: 10, P50: 1, P99: p99, Max: p99}
	}
	tests := []struct {
		name string
		c    Config
		lat  []Measure
		want string // a failure, or "" for a pass
	}{
		{"orders: -max-p99 applies to order_ack", Config{Scenario: ScenarioOrders, MaxP99: time.Millisecond},
			[]Measure{ms("order_ack", 2000), ms("order_first_exec", 500)}, "order_ack p99 2000µs > -max-p99"},
		{"orders: under the threshold", Config{Scenario: ScenarioOrders, MaxP99: time.Millisecond},
			[]Measure{ms("order_ack", 900), ms("order_first_exec", 5000)}, ""},
		{"mixed: -max-p99 applies to tick_to_client", Config{Scenario: ScenarioMixed, MaxP99: time.Millisecond},
			[]Measure{ms("tick_to_client", 500), ms("order_ack", 2000)}, ""},
		{"mixed: -max-order-p99", Config{Scenario: ScenarioMixed, MaxOrderP99: time.Millisecond},
			[]Measure{ms("tick_to_client", 5000), ms("order_ack", 2000)}, "order_ack p99 2000µs > -max-order-p99"},
		{"no samples", Config{Scenario: ScenarioOrders},
			[]Measure{ms("order_ack", 1), {Name: "order_first_exec"}}, "no order_first_exec sample"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := &Summary{Config: tc.c, Latency: tc.lat, Orders: &OrdersSummary{}}
			s.judge(0)
			got := strings.Join(s.Failures, "; ")
			if (tc.want == "") != s.Pass || !strings.Contains(got, tc.want) {
				t.Fatalf("failures %q, want %q", got, tc.want)
			}
		})
	}
}

// TestTrackerIntegrity feeds a tracker event sequences and checks what it
// counts as outcomes and violations.
func TestTrackerIntegrity(t *testing.T) {
	type ev struct {
		typ, ref, execType, status string
		cum                        int64
	}
	tests := []struct {
		name       string
		events     []ev
		outcome    string
		violations string // kinds, comma-separated
	}{
		{"fill", []ev{{"accepted", "o", "", "", 0}, {"exec", "", "new", "new", 0}, {"exec", "", "trade", "filled", 100}}, "filled", ""},
		{"cancel", []ev{{"accepted", "o", "", "", 0}, {"exec", "", "new", "new", 0}, {"accepted", "x", "", "", 0},
			{"exec", "", "canceled", "canceled", 0}}, "canceled", ""},
		{"gateway reject", []ev{{"error", "o", "", "risk.cash", 0}}, "rejected_gateway", ""},
		{"status restates the fill", []ev{{"accepted", "o", "", "", 0}, {"exec", "", "trade", "filled", 100},
			{"exec", "", "status", "filled", 100}}, "filled", ""},
		{"two fills", []ev{{"accepted", "o", "", "", 0}, {"exec", "", "trade", "filled", 100},
			{"exec", "", "trade", "filled", 100}}, "filled", "duplicate_outcome"},
		{"cancel after fill", []ev{{"accepted", "o", "", "", 0}, {"exec", "", "trade", "filled", 100},
			{"exec", "", "canceled", "canceled", 100}}, "filled", "duplicate_outcome"},
		{"accepted twice", []ev{{"accepted", "o", "", "", 0}, {"accepted", "o", "", "", 0}}, "", "duplicate_ack"},
		{"exec before accepted", []ev{{"exec", "", "new", "new", 0}, {"accepted", "o", "", "", 0}}, "", "exec_before_ack"},
		{"overfill", []ev{{"accepted", "o", "", "", 0}, {"exec", "", "trade", "partially_filled", 200}}, "", "bad_cum_qty"},
		{"reject after accepted", []ev{{"accepted", "o", "", "", 0}, {"error", "o", "", "risk.cash", 0}}, "", "reject_after_ack"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newOrderStats()
			tr := newOrderTracker(0, st, NewRecorder("a"), NewRecorder("e"))
			now := time.Now()
			o := &trackedOrder{id: "o", qty: 100, intended: now, sent: now, measured: true}
			tr.add(o)
			tr.cancelling(o, "x", now)
			for _, e := range tc.events {
				switch e.typ {
				case "accepted":
					tr.accepted(e.ref, "o", now)
				case "exec":
					tr.exec("o", e.execType, e.status, "", false, e.cum, now)
				case "error":
					tr.reject(e.ref, e.status)
				}
			}
			out := map[string]int64{}
			tr.tally(out)
			if tc.outcome != "" && out[tc.outcome] != 1 {
				t.Errorf("outcomes %v, want %s", out, tc.outcome)
			}
			var kinds []string
			for k := range st.kinds {
				kinds = append(kinds, k)
			}
			if strings.Join(kinds, ",") != tc.violations || st.violations.Load() != int64(len(kinds)) {
				t.Errorf("violations %v (%d), want %q", st.kinds, st.violations.Load(), tc.violations)
			}
		})
	}
}

func TestPriceOnTickInBand(t *testing.T) {
	p := func(s string) refdata.Price {
		v, err := refdata.ParsePrice(s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	in := &instrumentInfo{Symbol: "601318.SH", Tick: p("0.01"), Lot: 100, PrevClose: p("45.60"), LimitDown: p("41.04"), LimitUp: p("50.16")}
	tests := []struct {
		name     string
		kind     orderKind
		bid, ask string
		want     string
	}{
		{"marketable buy crosses the ask", marketableBuy, "45.50", "45.52", "45.54"},
		{"marketable sell crosses the bid", marketableSell, "45.50", "45.52", "45.48"},
		{"resting buy behind the bid", restingBuy, "45.50", "45.52", "45.40"},
		{"resting sell behind the ask", restingSell, "45.50", "45.52", "45.62"},
		{"no ask: buy from the bid", marketableBuy, "45.50", "0", "45.52"},
		{"empty book: from the previous close", restingBuy, "0", "0", "45.50"},
		{"clamped to limit-up", marketableBuy, "50.10", "50.15", "50.16"},
		{"clamped to limit-down", restingBuy, "41.05", "41.06", "41.04"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := price(in, tc.kind, p(tc.bid), p(tc.ask))
			if got != p(tc.want) || got%in.Tick != 0 {
				t.Fatalf("price = %s, want %s", got, tc.want)
			}
		})
	}
}

func TestOrdersBadConfig(t *testing.T) {
	base := Config{Scenario: ScenarioOrders, Duration: time.Second, Out: t.TempDir()}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"soak against a target", func(c *Config) { c.Scenario, c.Target = ScenarioSoak, "http://127.0.0.1:8080" }, "not with -target"},
		{"soak spawned", func(c *Config) { c.Scenario, c.Spawn, c.Duration = ScenarioSoak, true, time.Minute }, "not with -target or -spawn"},
		{"soak too short", func(c *Config) { c.Scenario = ScenarioSoak }, "at least 3s"},
		{"order rate", func(c *Config) { c.OrderRate = 1e6 }, "-order-rate"},
		{"cluster too big", func(c *Config) { c.Cluster = 10 }, "-cluster 10 out of range"},
		{"cluster and a target", func(c *Config) { c.Cluster, c.Target = 3, "http://127.0.0.1:8080" }, "not with -target"},
		{"fewer orders than sessions", func(c *Config) { c.OrderRate, c.Sessions = 3, 4 }, "below one order per second per session"},
		{"sessions", func(c *Config) { c.Sessions = -1 }, "-sessions"},
		{"empty account", func(c *Config) { c.Accounts = []string{"A1", ""} }, "-accounts"},
		{"negative order threshold", func(c *Config) { c.MaxOrderP99 = -1 }, "thresholds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			_, err := Run(context.Background(), c, io.Discard, nil)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want ErrConfig containing %q", err, tc.want)
			}
		})
	}
}

// TestOrdersRunFIX runs a short orders scenario with one of its two
// sessions trading over the gateway's FIX broker acceptor, and checks
// that FIX orders went out and every order had one outcome.
func TestOrdersRunFIX(t *testing.T) {
	c := Config{Scenario: ScenarioOrders, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Out: t.TempDir(),
		Sessions: 2, FIXSessions: 1, OrderRate: 40, Rate: 300}
	sum, err := Run(context.Background(), c, io.Discard, nil)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, summaryText(sum))
	}
	if !sum.Pass {
		t.Fatalf("summary:\n%s", sum.Text())
	}
	checkOrders(t, sum)
	o := sum.Orders
	if o.Transport != "websocket+fix" || o.FIXSessions != 1 || o.FIXOrders < 20 || o.FIXOrders >= o.Total {
		t.Errorf("transport %s, %d FIX sessions, %d FIX orders of %d: want about half over FIX", o.Transport, o.FIXSessions, o.FIXOrders, o.Total)
	}
	if !strings.Contains(sum.Text(), "orders sent over FIX") {
		t.Errorf("summary does not report the FIX orders:\n%s", sum.Text())
	}
}

// TestFIXLogonRefused checks that a FIX session the gateway refuses
// fails the run at once with the gateway's reason.
func TestFIXLogonRefused(t *testing.T) {
	c := Config{Scenario: ScenarioOrders, Duration: 2 * time.Second, Out: t.TempDir(),
		Sessions: 1, FIXSessions: 1, FIXPassword: "nope", OrderRate: 40, Rate: 300}
	t0 := time.Now()
	_, err := Run(context.Background(), c, io.Discard, nil)
	if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "bad password") || time.Since(t0) > 10*time.Second {
		t.Errorf("run with a wrong FIX password: %v after %v; want a config error naming the refusal, at once", err, time.Since(t0))
	}
}

// TestFIXSessionsConfig checks the -fix-sessions flags' validation and
// CompIDs.
func TestFIXSessionsConfig(t *testing.T) {
	base := Config{Scenario: ScenarioOrders, Duration: time.Second, Out: "x", Sessions: 2}
	for _, tc := range []struct {
		n      int
		target string
		broker string
		ok     bool
	}{{0, "", "", true}, {2, "", "", true}, {3, "", "", false}, {-1, "", "", false},
		{1, "http://127.0.0.1:8080", "", false}, {1, "http://127.0.0.1:8080", "127.0.0.1:9878", true}} {
		c := base
		c.FIXSessions, c.Target, c.FIXBroker = tc.n, tc.target, tc.broker
		got, err := c.withDefaults()
		if (err == nil) != tc.ok {
			t.Errorf("%+v: err %v", tc, err)
		}
		if err == nil && (got.FIXSender != "BROKER1" || got.FIXPassword != "demo") {
			t.Errorf("defaults %q %q", got.FIXSender, got.FIXPassword)
		}
	}
	for k, want := range []string{"BROKER1", "BROKER2", "BROKER3"} {
		if got := fixCompID("BROKER1", k); got != want {
			t.Errorf("fixCompID(BROKER1, %d) = %s, want %s", k, got, want)
		}
	}
	if got := fixCompID("ACME", 1); got != "ACME2" {
		t.Errorf("fixCompID(ACME, 1) = %s", got)
	}
}

// TestTrackerRefusedCancelBacksOff: a cancel the gateway refuses (a
// request of the order still pending) is sent again only after
// cancelRetry, not on the next sweep: a slow gateway is not flooded.
func TestTrackerRefusedCancelBacksOff(t *testing.T) {
	tr := newOrderTracker(0, newOrderStats(), NewRecorder("a"), NewRecorder("e"))
	sent := time.Now().Add(-time.Minute)
	o := &trackedOrder{id: "o", qty: 100, intended: sent, sent: sent, measured: true}
	tr.add(o)
	tr.accepted("o", "o", sent)
	if due := tr.due(time.Now(), 0); len(due) != 1 {
		t.Fatalf("due before any cancel: %d orders", len(due))
	}
	tr.cancelling(o, "x1", time.Now())
	tr.reject("x1", "orders.request_pending")
	now := time.Now()
	if due := tr.due(now, 0); len(due) != 0 {
		t.Fatalf("a refused cancel is due again at once")
	}
	if due := tr.due(now.Add(cancelRetry+time.Millisecond), 0); len(due) != 1 {
		t.Fatalf("a refused cancel is not due again after cancelRetry")
	}
}

// TestTrackerDue follows orders through the sweeps that cancel them: an
// order is due once it is age old, then not while its cancel is pending,
// again after cancelRetry if the cancel goes unanswered, never once the
// cancel is accepted, at once if the upstream refuses the cancel, and
// never after its outcome; no sweep returns an order twice.
func TestTrackerDue(t *testing.T) {
	tr := newOrderTracker(0, newOrderStats(), NewRecorder("a"), NewRecorder("e"))
	t0 := time.Now().Add(-time.Hour)
	const age = 500 * time.Millisecond
	orders := make([]*trackedOrder, 5)
	for i := range orders {
		sent := t0.Add(time.Duration(i) * 100 * time.Millisecond)
		orders[i] = &trackedOrder{id: fmt.Sprintf("o%d", i), qty: 100, intended: sent, sent: sent, measured: true}
		tr.add(orders[i])
		tr.accepted(orders[i].id, orders[i].id, sent)
	}
	ids := func(due []*trackedOrder) string {
		var s []string
		for _, o := range due {
			s = append(s, o.id)
		}
		return strings.Join(s, ",")
	}
	sweep := func(at time.Duration, want string) {
		t.Helper()
		due := tr.due(t0.Add(at), age)
		if got := ids(due); got != want {
			t.Fatalf("sweep at %v: due %q, want %q", at, got, want)
		}
		for i, o := range due {
			tr.cancelling(o, fmt.Sprintf("%s-x%d", o.id, int(at/time.Millisecond)+i), t0.Add(at))
		}
	}
	sweep(400*time.Millisecond, "")
	sweep(600*time.Millisecond, "o0,o1")
	sweep(650*time.Millisecond, "")
	tr.accepted(orders[0].cancelID, orders[0].id, t0) // o0's cancel accepted
	sweep(800*time.Millisecond, "o2,o3")
	tr.cancelRejected(orders[2].cancelID) // the upstream refused o2's cancel
	sweep(850*time.Millisecond, "o2")
	orders[3].outcome = outcomeFilled // o3 filled, its cancel never answered
	sweep(900*time.Millisecond, "o4")
	// o1's and o4's cancels were never answered: sent again after cancelRetry;
	// o0's was accepted, o3 has its outcome, o2's second cancel is pending.
	sweep(600*time.Millisecond+cancelRetry, "o1")
	sweep(900*time.Millisecond+cancelRetry, "o2,o4")
	if n := tr.working(); n != 4 {
		t.Errorf("working %d, want 4", n)
	}
}

// TestTrackerTradeResent checks the integrity check against a FIX broker
// session's restatement after a restart or a takeover: the trades its
// store lacks (every trade, after a logon with ResetSeqNumFlag=Y) come
// again flagged PossResend (97=Y) under their first ExecIDs, and a broker
// books a trade by its ExecID, ignoring a PossResend one it has
// (docs/PROTOCOL.md). Before, the tester took each for a second final
// outcome: a failover drill over FIX reported one duplicate_outcome per
// trade resent.
func TestTrackerTradeResent(t *testing.T) {
	type report struct {
		execType, status, execID string
		possResend               bool
	}
	tests := []struct {
		name         string
		reports      []report
		violations   string // kinds, comma-separated
		restatements int64
	}{
		{name: "trade resent", reports: []report{{execType: "trade", status: "filled", execID: "T1"},
			{execType: "trade", status: "filled", execID: "T1", possResend: true}}, restatements: 1},
		{name: "trade resent the tester lacks", reports: []report{{execType: "new", status: "new"},
			{execType: "trade", status: "filled", execID: "T1", possResend: true}}},
		{name: "trade resent under another ExecID", reports: []report{{execType: "trade", status: "filled", execID: "T1"},
			{execType: "trade", status: "filled", execID: "T2", possResend: true}}, violations: "duplicate_outcome"},
		{name: "trade repeated without PossResend", reports: []report{{execType: "trade", status: "filled", execID: "T1"},
			{execType: "trade", status: "filled", execID: "T1"}}, violations: "duplicate_outcome"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := newOrderStats()
			tr := newOrderTracker(0, st, NewRecorder("a"), NewRecorder("e"))
			now := time.Now()
			tr.add(&trackedOrder{id: "o", qty: 100, intended: now, sent: now, measured: true})
			tr.accepted("o", "o", now)
			for _, r := range tc.reports {
				tr.exec("o", r.execType, r.status, r.execID, r.possResend, 100, now)
			}
			out := map[string]int64{}
			tr.tally(out)
			if out[outcomeFilled] != 1 {
				t.Errorf("outcomes %v, want one filled", out)
			}
			var kinds []string
			for k := range st.kinds {
				kinds = append(kinds, k)
			}
			if strings.Join(kinds, ",") != tc.violations || st.violations.Load() != int64(len(kinds)) {
				t.Errorf("violations %v (%d), want %q", st.kinds, st.violations.Load(), tc.violations)
			}
			if got := st.restatements.Load(); got != tc.restatements {
				t.Errorf("restatements %d, want %d", got, tc.restatements)
			}
		})
	}
}

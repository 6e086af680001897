package orders

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"sgw/fix"
	"sgw/journal"
	"sgw/risk"
)

func testGauge(t *testing.T, g prometheus.Gauge) float64 { t.Helper(); return testValue(t, g) }

func testCounter(t *testing.T, c prometheus.Counter) float64 { t.Helper(); return testValue(t, c) }

// testValue returns the value of a gauge or a counter.
func testValue(t *testing.T, c prometheus.Metric) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

// TestRecoveryRule: orders acknowledged to clients but not yet handed to
// the session when the process stopped are sent at the first logon after
// the restart, exactly once; the ones the session had are not sent again
// (FIX resend covers them); the state of every order the venue has is
// asked for, behind them; nothing is refused meanwhile.
func TestRecoveryRule(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.m.New(buy("a", 100)) // sent and acknowledged
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("a", '0', '0', 0, 0, 100, "e1"))
	e.m.New(buy("b", 100)) // handed to the session, no answer yet
	e.core.wait(t, 2)
	// Both lines down: the next orders are held.
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	for _, id := range []string{"c", "d"} {
		if _, err := e.m.New(buy(id, 100)); err != nil {
			t.Fatal(err)
		}
	}
	e.ev.wait(t, 5)
	uids := map[string]string{}
	for _, id := range []string{"a", "b", "c", "d"} {
		uids[id] = e.uid(id)
	}
	e.j.Close() // the process dies: what was held is gone from memory

	r := newEnv(t, dir, func(r *env, _ *Config) {
		r.core.handed[uids["a"]] = fix.HandedYes
		r.core.handed[uids["b"]] = fix.HandedYes
		r.core.setDown(true) // not logged on before Recover
	})
	r.core.setDown(false)
	r.m.OnSessionUp("core", "carrierB")
	got := describe(r.core.wait(t, 4))
	// The status checks go behind the requests never sent (sendChecks).
	want := fmt.Sprint([]string{"N:" + uids["c"], "N:" + uids["d"], "H:" + uids["a"], "H:" + uids["b"]})
	if fmt.Sprint(got) != want {
		t.Fatalf("at the first logon the upstream got %v, want %v", got, want)
	}
	if _, err := r.m.New(buy("e", 100)); err != nil {
		t.Fatalf("New during recovery: %v", err)
	}
	for _, id := range []string{"b", "c", "d"} {
		if o, _ := r.m.Get("A1", id); o.Status != StatusPendingNew {
			t.Fatalf("%s after recovery: %+v", id, o)
		}
	}
}

// probedAfterRestart enters orders p1 and p2 while the session is down,
// stops the process, and starts it again (with tune applied to its
// Config, if set) on a store that may have lost its tail: the first logon
// probes both with a status request. It returns the new env and the two
// orders' upstream ids.
func probedAfterRestart(t *testing.T, tune func(*Config)) (r *env, u1, u2 string) {
	t.Helper()
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	e.m.New(buy("p1", 100))
	e.m.New(buy("p2", 100))
	e.ev.wait(t, 2)
	u1, u2 = e.uid("p1"), e.uid("p2")
	e.j.Close()

	r = newEnv(t, dir, func(r *env, cfg *Config) {
		r.core.handed[u1], r.core.handed[u2] = fix.HandedUnknown, fix.HandedUnknown
		if tune != nil {
			tune(cfg)
		}
	})
	r.m.OnSessionUp("core", "carrierA") // the env logged on before; the first logon after Recover resolves
	if got := describe(r.core.wait(t, 2)); fmt.Sprint(got) != fmt.Sprint([]string{"H:" + u1, "H:" + u2}) {
		t.Fatalf("probes %v", got)
	}
	return r, u1, u2
}

// TestRecoveryProbe: after an unclean stop that may have lost the store's
// tail, an order the store does not hold is probed with a status request
// and sent again (PossResend) only if the venue does not know it.
func TestRecoveryProbe(t *testing.T) {
	r, u1, u2 := probedAfterRestart(t, nil)
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: u1, ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: u2, ExecType: 'I', OrdStatus: '0', LeavesQty: 100})
	got := describe(r.core.wait(t, 3))
	if len(got) != 3 || got[2] != "N:"+u1+"(possresend)" {
		t.Fatalf("after the answers %v: only p1 goes again, flagged PossResend", got)
	}
	if o, _ := r.m.Get("A1", "p2"); o.Status != StatusNew {
		t.Fatalf("p2 %+v", o)
	}
}

// TestRecoveryResumesInboundPeriod: the session's period (its store's
// creation or last reset) is journaled before the first report of each
// period, so after a restart the session is told the last report's number
// within its period, or, when the last period journaled has no report
// (a crash between the two records), 0 in that period. Before, a restart
// early in a new period was told the old period's last number, and the
// store, numbering the new period from 1, asked for nothing again.
func TestRecoveryResumesInboundPeriod(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.m.New(buy("a", 300))
	e.core.wait(t, 1)
	const day1, day2 = int64(1_764_806_400), int64(1_764_892_800)
	ack := e.er("a", '0', '0', 0, 0, 300, "e1")
	ack.SeqNum, ack.Period = 500, day1
	e.m.OnExecReport("core", ack)
	fill := e.er("a", 'F', '1', 100, 100, 200, "e2")
	fill.SeqNum, fill.Period = 3, day2 // the next period, numbered from 1
	e.m.OnExecReport("core", fill)
	e.ev.wait(t, 3)
	e.j.Close()

	r := newEnv(t, dir)
	if r.core.resumeAfter != 3 || r.core.resumePeriod != day2 {
		t.Fatalf("resume after %d of period %d; want 3 of %d", r.core.resumeAfter, r.core.resumePeriod, day2)
	}
	if r.mgn.resumeAfter != 0 || r.mgn.resumePeriod != 0 {
		t.Fatalf("margin resumes after %d of period %d; want nothing", r.mgn.resumeAfter, r.mgn.resumePeriod)
	}
	var periods []periodRec
	if err := r.j.Replay(func(rec journal.Record) error {
		if rec.Type == recPeriod {
			v, err := decodeRecord(rec)
			if err != nil {
				return err
			}
			periods = append(periods, *v.(*periodRec))
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if want := []periodRec{{"core", day1}, {"core", day2}}; !slices.Equal(periods, want) {
		t.Fatalf("periods journaled %v, want %v: one before each period's first report", periods, want)
	}
	// A period journaled without a report after it (the process stopped
	// between the two records): the journal holds nothing of it.
	r.m.mu.Lock()
	err := r.m.replay(recPeriod, &periodRec{Upstream: "core", Period: day2 + 86400})
	r.m.mu.Unlock()
	if err != nil || r.m.lastIn["core"] != 0 || r.m.period["core"] != day2+86400 {
		t.Fatalf("after a period record alone: %v, last in %d, period %d", err, r.m.lastIn["core"], r.m.period["core"])
	}
}

// TestExecIDsReusedByAnotherOrder: FIX makes ExecIDs unique within a
// trading day only, and a venue may number them from 1 each day. After a
// restart early in the second day, that day's reports are resent
// (PossDupFlag) with ExecIDs the first day used, for another order: they
// are applied, not dropped as duplicates. A resend of an order's own
// execution is dropped, also when the venue rebuilt it with another
// TransactTime (PossResend, after a reset of the session: another period)
// and after another order reused its ExecID.
func TestExecIDsReusedByAnotherOrder(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	day1 := time.Date(2026, 12, 3, 6, 59, 0, 0, time.UTC) // 14:59 in Beijing
	day2 := day1.Add(18 * time.Hour)
	e.m.New(buy("a", 100))
	e.core.wait(t, 1)
	ack := e.er("a", '0', '0', 0, 0, 100, "e1")
	ack.SeqNum, ack.Period, ack.TransactTime = 500, 1, day1
	e.m.OnExecReport("core", ack)
	fill := e.er("a", 'F', '1', 40, 40, 60, "e2")
	fill.SeqNum, fill.Period, fill.TransactTime = 501, 1, day1
	e.m.OnExecReport("core", fill)
	e.ev.wait(t, 3)
	e.j.Close()

	r := newEnv(t, dir)
	r.m.New(buy("c", 100))
	r.core.wait(t, 1)
	// Day 2's first reports, received but not journaled before the stop,
	// come again: ExecIDs e1 and e2 again, of another order.
	for _, rep := range []struct {
		execType, status  byte
		last, cum, leaves int64
		id                string
	}{{'0', '0', 0, 0, 100, "e1"}, {'F', '2', 100, 100, 0, "e2"}} {
		er := r.er("c", rep.execType, rep.status, rep.last, rep.cum, rep.leaves, rep.id)
		er.Period, er.PossDup, er.TransactTime = 2, true, day2
		r.m.OnExecReport("core", er)
	}
	if o, _ := r.m.Get("A1", "c"); o.CumQty != 100 || o.Status != StatusFilled {
		t.Fatalf("c after day 2's reports came again: %v, cum %d; want filled 100", o.Status, o.CumQty)
	}
	// a's fill again: resent in its period, then rebuilt by the venue
	// (PossResend) after a reset of the session, stamped anew.
	fill.PossDup = true
	r.m.OnExecReport("core", fill)
	fill.PossDup, fill.PossResend, fill.Period, fill.SeqNum, fill.TransactTime = false, true, 3, 1, day2.Add(time.Minute)
	r.m.OnExecReport("core", fill)
	if got := testCounter(t, r.m.met.duplicates.WithLabelValues("core")); got != 2 {
		t.Fatalf("%v duplicate reports counted, want a's fill's two resends", got)
	}
	if o, _ := r.m.Get("A1", "a"); o.CumQty != 40 {
		t.Fatalf("a after its fill came again: cum %d, want 40", o.CumQty)
	}
}

// TestRecoveryResumesInbound: after a restart the session is told the
// last message from the upstream the journal holds, so that reports
// received but not journaled are sent again; their repeats change
// nothing.
func TestRecoveryResumesInbound(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.m.New(buy("a", 200))
	e.core.wait(t, 1)
	ack := e.er("a", '0', '0', 0, 0, 200, "e1")
	ack.SeqNum = 6
	fill := e.er("a", 'F', '1', 100, 100, 100, "e2")
	fill.SeqNum = 7
	e.m.OnExecReport("core", ack)
	e.m.OnExecReport("core", fill)
	e.ev.wait(t, 3)
	e.j.Close()

	r := newEnv(t, dir)
	if r.core.resumeAfter != 7 || r.mgn.resumeAfter != 0 {
		t.Fatalf("resume after core %d, margin %d; want 7 and 0", r.core.resumeAfter, r.mgn.resumeAfter)
	}
	// The upstream resends 7 (applied before) and 8 (lost in the crash).
	fill.PossDup = true
	r.m.OnExecReport("core", fill)
	lost := r.er("a", 'F', '2', 100, 200, 0, "e3")
	lost.SeqNum, lost.PossDup = 8, true
	r.m.OnExecReport("core", lost)
	if o, _ := r.m.Get("A1", "a"); o.CumQty != 200 || o.Status != StatusFilled {
		t.Fatalf("after the resends: %+v", o)
	}
}

// TestRecoveryProbeStaleAnswers: "unknown order" ends an order only when
// it answers a status request that went after the order's last
// NewOrderSingle. Two sequences seen when leaders were killed one after
// the other:
//   - a resent (PossDup) answer to the previous process's probe arrives
//     while this process's probe is still queued: it is not this probe's
//     answer, and the probe's own "unknown" then sends the order again;
//   - a probe times out, the order goes again (PossResend), then the
//     probe's late "unknown" arrives: the order is on its way, and stays
//     pending until the venue answers it.
func TestRecoveryProbeStaleAnswers(t *testing.T) {
	r, u1, u2 := probedAfterRestart(t, func(cfg *Config) { cfg.StatusTimeout = time.Second })
	unknown := func(uid string, dup bool) fix.ExecReport {
		return fix.ExecReport{ClOrdID: uid, ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order", PossDup: dup}
	}
	// p1: the previous process's probe answer, resent; then this one's.
	r.m.OnExecReport("core", unknown(u1, true))
	if got := r.core.list(); len(got) != 2 {
		t.Fatalf("a resent answer sent %v", describe(got[2:]))
	}
	r.m.OnExecReport("core", unknown(u1, false))
	got := describe(r.core.wait(t, 3))
	if got[2] != "N:"+u1+"(possresend)" {
		t.Fatalf("after the probe's answer the upstream got %v; want p1 again, flagged PossResend", got)
	}
	// p2: its probe times out, the order goes again; the probe's answer
	// comes late.
	r.m.tick(r.advance(2 * time.Second))
	got = describe(r.core.wait(t, 4))
	if got[3] != "N:"+u2+"(possresend)" {
		t.Fatalf("after the probe's timeout the upstream got %v; want p2 again, flagged PossResend", got)
	}
	r.m.OnExecReport("core", unknown(u2, false))
	for _, id := range []string{"p1", "p2"} {
		if o, _ := r.m.Get("A1", id); o.Status != StatusPendingNew {
			t.Fatalf("%s ended by an answer older than its PossResend: %+v", id, o)
		}
	}
	// The venue answers the resent orders; a status request that went
	// after one, answered "unknown", would end it (not the case here).
	r.m.OnExecReport("core", r.er("p2", '0', '0', 0, 0, 100, "x2"))
	if o, _ := r.m.Get("A1", "p2"); o.Status != StatusNew {
		t.Fatalf("p2 after the venue's answer: %+v", o)
	}
}

// TestRecoveryChecksBehindLiveRequests: after a restart the status checks
// of the orders the venue has go out a window at a time, as the venue
// answers them, and a new order entered meanwhile is sent behind at most
// a window of them, not behind all.
func TestRecoveryChecksBehindLiveRequests(t *testing.T) {
	const window, n = 4, 20
	dir := t.TempDir()
	e := newEnv(t, dir)
	var ids []string
	for i := range n {
		id := fmt.Sprintf("o%d", i)
		if _, err := e.m.New(buy(id, 100)); err != nil {
			t.Fatal(err)
		}
		e.core.wait(t, i+1)
		e.m.OnExecReport("core", e.er(id, '0', '0', 0, 0, 100, "e"+id))
		ids = append(ids, id)
	}
	e.ev.wait(t, 2*n)
	uids := map[string]string{}
	for _, id := range ids {
		uids[id] = e.uid(id)
	}
	e.j.Close()

	r := newEnv(t, dir, func(r *env, cfg *Config) {
		cfg.StatusCheckWindow = window
		r.core.setDown(true) // the first logon fails to send
		r.core.setHold(true) // nothing leaves the session's queue
	})
	checks := r.m.met.checks.WithLabelValues("core")
	if got := testGauge(t, checks); got != n || len(r.core.list()) != 0 {
		t.Fatalf("with the session refusing, %v checks queued and %v sent; want %d and none", got, describe(r.core.list()), n)
	}
	r.core.setDown(false)
	r.m.OnSessionUp("core", "carrierB")
	if got := describe(r.core.list()); len(got) != window {
		t.Fatalf("at the first logon the upstream got %v; want %d status checks, a window", got, window)
	}
	if got := testGauge(t, checks); got != n-window {
		t.Fatalf("checks queued = %v; want %d", got, n-window)
	}
	if _, err := r.m.New(buy("live", 100)); err != nil {
		t.Fatal(err)
	}
	got := describe(r.core.wait(t, window+1))
	if got[window] != "N:"+r.uid("live") {
		t.Fatalf("the upstream got %v; want the new order right after the first %d checks", got, window)
	}

	// The queue drains and the venue answers a check: the rest follow.
	r.core.setHold(false)
	r.m.OnExecReport("core", r.er("o0", 'I', '0', 0, 0, 100, ""))
	sent := map[string]int{}
	for _, s := range describe(r.core.list()) {
		sent[s]++
	}
	for _, id := range ids {
		if c := sent["H:"+uids[id]]; c != 1 {
			t.Errorf("%s: %d status checks sent; want 1", id, c)
		}
	}
	if len(sent) != n+1 || testGauge(t, checks) != 0 {
		t.Fatalf("the upstream got %v, %v checks still queued; want one check per order and the new order", sent, testGauge(t, checks))
	}
}

// TestRecoveryDayOver: orders held for a session that was down when the
// gateway stopped are not sent at the first logon of a restart on a later
// trading day, where the venue would take them as that day's. One the
// session's store does not hold ends rejected as never sent, journaled,
// and a cancel of it ends with it; one the store may hold is probed
// first, and expires on the gateway's word if the venue does not know it
// (it may have traded on its day). A further restart sends nothing of
// them. A restart on their own day sends them (TestRecoveryRule,
// TestRecoveryProbe).
func TestRecoveryDayOver(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 6, 0, 0, 0, time.UTC)) // Tuesday 14:00 in Shanghai
	start := calendarRuns(t, clk, &clockJournal{clk: clk})
	live := start()
	live.core.setDown(true)
	live.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	for _, id := range []string{"h1", "h2", "h3"} {
		if _, err := live.m.New(buy(id, 100)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := live.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "h1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	live.ev.wait(t, 4)
	u2, u3 := live.uid("h2"), live.uid("h3")

	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30
	next := start(func(r *env, _ *Config) {
		r.core.handed[u2], r.core.handed[u3] = fix.HandedUnknown, fix.HandedUnknown
	})
	if got := describe(next.core.wait(t, 2)); fmt.Sprint(got) != fmt.Sprint([]string{"H:" + u2, "H:" + u3}) {
		t.Fatalf("at the first logon the upstream got %v, want the probes of h2 and h3 only", got)
	}
	// The order's reject, then its cancel's refusal, both journaled.
	evs := next.ev.wait(t, 2)
	if evs[0].ExecType != '8' || evs[0].Ref != "h1" || evs[0].Code != CodeUpstreamDown ||
		evs[1].Kind != EventCancelReject || evs[1].Ref != "x1" {
		t.Fatalf("events %+v: want h1 rejected as never sent, then its cancel refused", evs)
	}
	next.m.OnExecReport("core", fix.ExecReport{ClOrdID: u2, ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	next.m.OnExecReport("core", fix.ExecReport{ClOrdID: u3, OrderID: "Xh3", ExecType: 'I', OrdStatus: '0', LeavesQty: 100})
	if got := describe(next.core.list()); len(got) != 2 {
		t.Fatalf("after the probes' answers the upstream got %v: h2 was sent again", got)
	}
	for id, want := range map[string]Status{"h1": StatusRejected, "h2": StatusExpired, "h3": StatusNew} {
		if o, _ := next.m.Get("A1", id); o.Status != want {
			t.Errorf("%s: %+v, want %v", id, o, want)
		}
	}
	if n := testCounter(t, next.m.met.recovered.WithLabelValues("core", "ended")); n != 2 {
		t.Errorf("%v orders counted ended at recovery, want 2", n)
	}

	again := start()
	if got := describe(again.core.wait(t, 1)); fmt.Sprint(got) != fmt.Sprint([]string{"H:" + u3}) {
		t.Fatalf("the next restart sent %v, want only h3's status check", got)
	}
	for id, want := range map[string]Status{"h1": StatusRejected, "h2": StatusExpired, "h3": StatusNew} {
		if o, _ := again.m.Get("A1", id); o.Status != want {
			t.Errorf("replayed %s: %+v, want %v", id, o, want)
		}
	}
}

package orders

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"sgw/fix"
	"sgw/risk"
)

// dayEndRun starts a run on the exchange calendar (calendarRuns) at
// Tuesday 10:00 in Shanghai, with ids bought (200 each), sent and
// acknowledged: working orders. It returns the run, its clock and the
// function that starts a restart on the same journal.
func dayEndRun(t *testing.T, ids ...string) (*env, *risk.ManualClock, func(...envOpt) *env) {
	t.Helper()
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	start := calendarRuns(t, clk, &clockJournal{clk: clk})
	e := start()
	for _, id := range ids {
		e.working(id, 200)
	}
	return e, clk, start
}

// atShanghai sets clk to hh:mm on Tuesday 2026-12-01 in Shanghai.
func atShanghai(clk *risk.ManualClock, hh, mm int) time.Time {
	clk.Set(time.Date(2026, 12, 1, hh-8, mm, 0, 0, time.UTC))
	return clk.Now()
}

// bought returns A1's shares of 600519.SH bought today and its working
// orders.
func bought(t *testing.T, m *Manager) (int64, int) {
	t.Helper()
	a, p := a1(t, m)
	return p.BoughtToday, a.OpenOrders
}

// wantStatus checks the status of A1's orders.
func wantStatus(t *testing.T, name string, m *Manager, want map[string]Status) {
	t.Helper()
	for id, w := range want {
		if o, _ := m.Get("A1", id); o.Status != w {
			t.Errorf("%s: %s is %s, want %s", name, id, o.Status, w)
		}
	}
}

// unanswered lets the status requests asked go unanswered past
// StatusTimeout, and checks that the orders ids expired.
func unanswered(t *testing.T, e *env, clk *risk.ManualClock, ids ...string) {
	t.Helper()
	clk.Advance(DefaultStatusTimeout + time.Second)
	e.m.tick(clk.Now())
	want := map[string]Status{}
	for _, id := range ids {
		want[id] = StatusExpired
	}
	wantStatus(t, "unanswered", e.m, want)
}

// asked checks that the upstream's n-th request (from 1) is id's status
// request.
func asked(t *testing.T, e *env, n int, id, when string) {
	t.Helper()
	if got := describe(e.core.wait(t, n)); got[n-1] != "H:"+e.uid(id) {
		t.Fatalf("%s the upstream got %v, want %s's status asked", when, got, id)
	}
}

// cancelW1 enters a cancel of w1 (x1) and waits for the upstream to get
// it, its second request.
func cancelW1(t *testing.T, e *env) {
	t.Helper()
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "w1", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 2)
}

// TestDayEndAsksStatus: DayEndCheck (1h) after the close, each order sent
// and never reported ended gets a status request, once (one asked
// already waits for that answer), while risk still holds the day; ended
// orders are not asked about. The answers end them: the venue's word with
// the fills it reveals counted in risk, "unknown order" as expired (the
// venue had acknowledged it), and no answer as expired by the gateway,
// journaled (orders.expired_unreported), so that a restart ends it the
// same.
func TestDayEndAsksStatus(t *testing.T) {
	e, clk, start := dayEndRun(t, "w1", "w2", "w3", "f1")
	e.m.OnExecReport("core", e.er("f1", 'F', '2', 200, 200, 0, "t1"))
	if _, err := e.m.New(buy("p1", 200)); err != nil { // never answered at all
		t.Fatal(err)
	}
	e.core.wait(t, 5)
	e.m.tick(atShanghai(clk, 15, 59)) // p1's own status request
	sent := len(e.core.wait(t, 6))
	if got := describe(e.core.list()); got[5] != "H:"+e.uid("p1") {
		t.Fatalf("before the day's end check the upstream got %v", got)
	}
	e.m.tick(atShanghai(clk, 16, 0)) // p1's question, given up, is its check: it expires
	e.m.tick(clk.Now())              // asks once
	got := e.core.wait(t, sent+3)
	want := []string{"H:" + e.uid("w1"), "H:" + e.uid("w2"), "H:" + e.uid("w3")}
	if d := describe(got[sent:]); !slices.Equal(d, want) {
		t.Fatalf("after the close the upstream got %v, want %v", d, want)
	}
	// w1 filled 100 whose report was lost; w2 is no longer known; w3 gets
	// no answer.
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w1"), OrderID: "Xw1", ExecType: 'I', OrdStatus: 'C',
		AvgPx: 17000000, CumQty: 100})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w2"), ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	clk.Advance(DefaultStatusTimeout + time.Second)
	e.m.tick(clk.Now())
	if o, _ := e.m.Get("A1", "w3"); o.Status != StatusExpired || o.Text == "" {
		t.Fatalf("w3 unanswered: %+v", o)
	}
	check := func(name string, m *Manager) {
		t.Helper()
		wantStatus(t, name, m, map[string]Status{"w1": StatusExpired, "w2": StatusExpired, "w3": StatusExpired,
			"f1": StatusFilled, "p1": StatusExpired})
		if b, open := bought(t, m); b != 300 || open != 0 {
			t.Errorf("%s: A1 bought %d today with %d orders working; want 300 (f1's 200, w1's 100) and none", name, b, open)
		}
	}
	check("live", e.m)
	var own []Event
	for _, ev := range e.ev.wait(t, 14) { // four accepted and acknowledged, f1 filled, p1 accepted, the four ends
		if ev.Code == CodeExpiredUnreported {
			own = append(own, ev)
		}
	}
	if len(own) != 2 || own[0].Ref != "p1" || own[1].Ref != "w3" || own[1].ExecType != 'C' {
		t.Errorf("the gateway's own expiries: %+v, want p1's and w3's", own)
	}
	if n := testCounter(t, e.m.met.expiredOwn.WithLabelValues("core")); n != 2 {
		t.Errorf("%v own expiries counted, want 2", n)
	}
	check("replayed", start().m)
}

// TestDayEndWithoutStatusRequests: the orders of an upstream that refuses
// status requests expire at the day's end check, unasked; and when the
// upstream shows it refuses them midway (the first refusal), the checks
// still queued (StatusCheckWindow) expire their orders too, as do the
// ones refused. Before, those orders stayed working here.
func TestDayEndWithoutStatusRequests(t *testing.T) {
	t.Run("known", func(t *testing.T) {
		e, clk, start := dayEndRun(t, "w1")
		e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("w1"), MsgType: "H", Reason: 3}) // learnt earlier in the day
		e.m.tick(atShanghai(clk, 16, 30))
		wantStatus(t, "live", e.m, map[string]Status{"w1": StatusExpired})
		if got := e.core.list(); len(got) != 1 {
			t.Fatalf("the upstream got %v, which refuses status requests", describe(got))
		}
		wantStatus(t, "replayed", start().m, map[string]Status{"w1": StatusExpired})
	})
	t.Run("learnt midway", func(t *testing.T) {
		clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
		start := calendarRuns(t, clk, &clockJournal{clk: clk})
		e := start(func(_ *env, c *Config) { c.StatusCheckWindow = 1 })
		ids := []string{"w1", "w2", "w3"}
		for _, id := range ids {
			e.working(id, 200)
		}
		e.core.setHold(true) // the venue is slow: the checks wait behind the window
		e.m.tick(atShanghai(clk, 16, 0))
		got := e.core.wait(t, 4)
		if d := describe(got[3:]); !slices.Equal(d, []string{"H:" + e.uid("w1")}) {
			t.Fatalf("the checks sent %v, want w1's only (the window)", d)
		}
		e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("w1"), MsgType: "H", Reason: 3})
		wantStatus(t, "live", e.m, map[string]Status{"w1": StatusExpired, "w2": StatusExpired, "w3": StatusExpired})
		if b, open := bought(t, e.m); b != 0 || open != 0 {
			t.Errorf("A1 bought %d with %d orders working, want none", b, open)
		}
	})
}

// TestDayEndCheckGivenBack: a day's end status request the session gives
// back unsent (its line went down) goes back to the checks, asked at the
// next logon, not held: the hold time would have expired the order
// unasked. The answer, its fill, then counts.
func TestDayEndCheckGivenBack(t *testing.T) {
	e, clk, _ := dayEndRun(t, "w1")
	e.core.setDown(true) // the check is refused by the session: it stays a check
	e.m.tick(atShanghai(clk, 16, 0))
	e.core.setDown(false)
	e.m.tick(clk.Now())
	h := e.core.wait(t, 2)[1]
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, []any{h})
	clk.Advance(DefaultHoldTimeout + DefaultStatusTimeout + time.Second)
	e.m.tick(clk.Now())
	wantStatus(t, "down", e.m, map[string]Status{"w1": StatusNew})
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	if got := describe(e.core.wait(t, 3)); got[2] != "H:"+e.uid("w1") {
		t.Fatalf("at the logon the upstream got %v, want w1's check again", got)
	}
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w1"), OrderID: "Xw1", ExecType: 'I', OrdStatus: 'C',
		AvgPx: 17000000, CumQty: 100})
	wantStatus(t, "answered", e.m, map[string]Status{"w1": StatusExpired})
	if b, _ := bought(t, e.m); b != 100 {
		t.Errorf("A1 bought %d, want w1's 100", b)
	}
}

// TestDayEndLateFill: a fill the venue reports after the gateway expired
// the order itself (its status answer came too late) counts, in risk too
// (risk.Checker.OnLateFill), and the order stays ended: filled if the
// fills reach its quantity, expired otherwise. A restart ends the same.
// Before, the order left its end (partially filled, working) while risk
// refused the fill.
func TestDayEndLateFill(t *testing.T) {
	e, clk, start := dayEndRun(t, "w1", "w2")
	e.m.tick(atShanghai(clk, 16, 0))
	e.core.wait(t, 4)
	unanswered(t, e, clk, "w1", "w2")
	e.m.OnExecReport("core", e.er("w1", 'F', '1', 100, 100, 100, "t1"))
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w2"), OrderID: "Xw2", ExecType: 'I', OrdStatus: '2',
		AvgPx: 17000000, CumQty: 200})
	for name, m := range map[string]*Manager{"live": e.m, "replayed": start().m} {
		wantStatus(t, name, m, map[string]Status{"w1": StatusExpired, "w2": StatusFilled})
		if o, _ := m.Get("A1", "w1"); o.CumQty != 100 || o.LeavesQty != 0 {
			t.Errorf("%s: w1 %+v", name, o)
		}
		if b, open := bought(t, m); b != 300 || open != 0 {
			t.Errorf("%s: A1 bought %d with %d working, want the late 100 and 200", name, b, open)
		}
	}
	if n := testCounter(t, e.m.met.riskErrors.WithLabelValues("fill")); n != 0 {
		t.Errorf("%v fills refused by risk", n)
	}
}

// TestDayEndConfig: the check runs from the close to before midnight.
func TestDayEndConfig(t *testing.T) {
	for _, d := range []time.Duration{-time.Second, 9 * time.Hour} {
		if _, err := (Config{DayEndCheck: d}).withDefaults(); err == nil {
			t.Errorf("day_end_check %v accepted", d)
		}
	}
	if c, err := (Config{}).withDefaults(); err != nil || c.DayEndCheck != time.Hour {
		t.Errorf("default %v %v", c.DayEndCheck, err)
	}
}

// TestAlwaysOpenCarriesAcrossMidnight: with risk's AlwaysOpen schedule
// (the simulator's venue never closes) an order working at midnight in
// Shanghai carries on into the next day, live and in replay: its fill
// after the change of day counts, its cancel is taken, and an order that
// ended before it frees its client order id; the journal live wrote
// replays to the same state. Before, risk expired it at the change of
// day: the fill refused, the cancel refused.
func TestAlwaysOpenCarriesAcrossMidnight(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // Tuesday 23:00 in Shanghai
	start := scheduleRuns(t, clk, &clockJournal{clk: clk}, risk.ScheduleConfig{AlwaysOpen: true})
	e := start()
	e.working("w1", 200)
	e.working("d1", 100)
	e.m.OnExecReport("core", e.er("d1", 'F', '2', 100, 100, 0, "t0"))
	clk.Set(time.Date(2026, 12, 1, 16, 10, 0, 0, time.UTC)) // Wednesday 00:10
	if _, err := e.m.New(buy("d1", 100)); err != nil {      // the day changes here
		t.Fatalf("d1 again on a new day: %v", err)
	}
	e.m.OnExecReport("core", e.er("w1", 'F', '1', 100, 100, 100, "t1"))
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "w1", Account: "A1", Source: src}); err != nil {
		t.Fatalf("cancel of the order carried over: %v", err)
	}
	e.ev.wait(t, 8) // w1, d1: accepted, acknowledged; d1 filled; d1 again accepted; w1 filled; the cancel accepted
	check := func(name string, m *Manager) {
		t.Helper()
		if o, _ := m.Get("A1", "w1"); o.Status != StatusPartiallyFilled || o.CumQty != 100 {
			t.Errorf("%s: w1 %+v", name, o)
		}
		a, p := a1(t, m)
		if p.Sellable != 1100 || p.BoughtToday != 100 || a.OpenOrders != 2 {
			t.Errorf("%s: %+v with %d working, want Tuesday's 100 sellable, w1's 100 bought today, w1 and d1 working", name, p, a.OpenOrders)
		}
	}
	check("live", e.m)
	if n := testCounter(t, e.m.met.riskErrors.WithLabelValues("fill")); n != 0 {
		t.Errorf("%v fills refused by risk", n)
	}
	check("replayed", start().m)
}

// TestAlwaysOpenSendsHeldNextDay: with the AlwaysOpen schedule an order
// held when the gateway stopped goes to the venue at the first logon of a
// restart on the next day (its orders carry on from day to day), where the
// exchange calendar ends it (TestRecoveryDayOver).
func TestAlwaysOpenSendsHeldNextDay(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // Tuesday 23:00 in Shanghai
	start := scheduleRuns(t, clk, &clockJournal{clk: clk}, risk.ScheduleConfig{AlwaysOpen: true})
	e := start()
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	if _, err := e.m.New(buy("h1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 1)
	uid := e.uid("h1")
	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30
	r := start()
	if got := describe(r.core.wait(t, 1)); fmt.Sprint(got) != fmt.Sprint([]string{"N:" + uid}) {
		t.Fatalf("at the first logon the upstream got %v, want h1", got)
	}
}

// TestDayEndHeldStatusNotSilence: a status request held (given back by
// the session before the day's end check began: a takeover at 15:59
// whose recovery checks were queued when the line broke) that the hold
// time ends was never sent: it is not the venue's silence, and the order
// does not expire on it; its day's end check, queued, asks at the next
// logon. Before, the order expired unasked, counted unanswered.
func TestDayEndHeldStatusNotSilence(t *testing.T) {
	_, clk, start := dayEndRun(t, "w1")
	atShanghai(clk, 15, 59)
	next := start(func(r *env, _ *Config) { r.core.setHold(true) }) // a takeover: the recovery's check queued
	h := next.core.wait(t, 1)[0]
	if d := describe([]any{h}); d[0] != "H:"+next.uid("w1") {
		t.Fatalf("recovery sent %v", d)
	}
	next.core.setDown(true)
	next.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, []any{h}) // given back: held
	next.m.tick(atShanghai(clk, 16, 0))                                   // the day's end check begins, the route down
	clk.Advance(DefaultHoldTimeout + time.Second)                         // the held request ends
	next.m.tick(clk.Now())
	if o, _ := next.m.Get("A1", "w1"); o.Status != StatusNew {
		t.Errorf("w1 %s (%q), never asked at the day's end; want it working, its check queued", o.Status, o.Text)
	}
	if n := testCounter(t, next.m.met.unanswered.WithLabelValues("core")); n != 0 {
		t.Errorf("%v counted unanswered, nothing was asked", n)
	}
	next.core.setDown(false)
	next.core.setHold(false)
	next.m.OnSessionUp("core", "carrierB")
	if got := describe(next.core.wait(t, 2)); got[1] != "H:"+next.uid("w1") {
		t.Fatalf("at the logon the upstream got %v, want w1's day's end check", got)
	}
}

// TestDayEndAnswerAfterDayChange: the route is down at the day's end
// check, so the check waits for the next logon; a request the next
// morning (another route's) changes risk's day first, which expires the
// order in risk. The venue's answer then reveals a fill of the day
// before: it counts, as a late fill (bought yesterday: sellable), live
// and in replay. Before, risk refused it (its order closed).
func TestDayEndAnswerAfterDayChange(t *testing.T) {
	e, clk, start := dayEndRun(t, "w1")
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	e.m.tick(atShanghai(clk, 16, 0))                       // w1's check queued, the route down
	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30 in Shanghai
	if _, err := e.m.New(NewRequest{ClOrdID: "m1", Account: "M1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
		Price: 17000000, Qty: 100, Source: src}); err != nil {
		t.Fatal(err)
	}
	e.core.setDown(false)
	n := len(e.core.list())
	e.m.OnSessionUp("core", "carrierA")
	if got := describe(e.core.wait(t, n+1)); got[n] != "H:"+e.uid("w1") {
		t.Fatalf("at the logon the upstream got %v", got)
	}
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w1"), OrderID: "Xw1", ExecType: 'I', OrdStatus: 'C',
		AvgPx: 17000000, CumQty: 100})
	for name, m := range map[string]*Manager{"live": e.m, "replayed": start().m} {
		_, p := a1(t, m)
		if o, _ := m.Get("A1", "w1"); o.Status != StatusExpired || o.CumQty != 100 || p.Sellable != 1100 || p.BoughtToday != 0 {
			t.Errorf("%s: w1 %s cum %d; A1 %+v, want 1,100 sellable (w1's 100 bought yesterday)", name, o.Status, o.CumQty, p)
		}
	}
	if n := testCounter(t, e.m.met.riskErrors.WithLabelValues("fill")); n != 0 {
		t.Errorf("%v fills refused by risk", n)
	}
}

// replacePendingNoStatus starts a day's end run of w1 (dayEndRun) on an
// upstream known to refuse status requests, and a replace of w1 to qty
// shares, sent at 14:50 and never answered.
func replacePendingNoStatus(t *testing.T, qty int64) (*env, *risk.ManualClock, func(...envOpt) *env) {
	t.Helper()
	e, clk, start := dayEndRun(t, "w1")
	e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("w1"), MsgType: "H", Reason: 3})
	atShanghai(clk, 14, 50)
	n := len(e.core.list())
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 17000000, Qty: qty, Source: src}); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, n+1)
	return e, clk, start
}

// TestDayEndPendingReplace: an order with a replace pending expires at
// the day's end check of an upstream known to refuse status requests:
// the replace is refused as too late after the expiry, a late fill
// counts, and a restart reaches the same state.
func TestDayEndPendingReplace(t *testing.T) {
	e, clk, start := replacePendingNoStatus(t, 300)
	e.m.tick(atShanghai(clk, 16, 0))
	e.m.OnExecReport("core", e.er("w1", 'F', '1', 100, 100, 100, "t1"))
	type view struct {
		o    Order
		acct risk.AccountState
	}
	get := func(m *Manager) view {
		o, _ := m.Get("A1", "w1")
		a, _ := a1(t, m)
		o.Updated, o.statusAfter, o.newSent, o.resv = time.Time{}, nil, 0, nil // this run's own
		return view{o, a}
	}
	live := get(e.m)
	if live.o.Status != StatusExpired || live.o.CumQty != 100 || live.o.pending != nil || live.acct.OpenOrders != 0 {
		t.Errorf("live %+v", live)
	}
	if re := get(start().m); fmt.Sprint(re) != fmt.Sprint(live) {
		t.Errorf("replayed %+v\nlive     %+v", re, live)
	}
	var got []string
	for _, ev := range e.ev.wait(t, 6)[3:] {
		got = append(got, fmt.Sprintf("%s/%c/%s/%s", ev.Kind, ev.ExecType, ev.Ref, ev.Code))
	}
	want := []string{"exec/C/w1/" + CodeExpiredUnreported, "cancel_reject/\x00/r1/" + CodeTooLate, "exec/F/w1/"}
	if !slices.Equal(got, want) {
		t.Errorf("events after the replace's acceptance %q, want %q", got, want)
	}
}

// TestDayEndStillWorking: an order the venue says still works after the
// close stays working, and is asked about again at the next day's check.
func TestDayEndStillWorking(t *testing.T) {
	e, clk, _ := dayEndRun(t, "w1")
	e.m.tick(atShanghai(clk, 16, 0))
	e.core.wait(t, 2)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w1"), OrderID: "Xw1", ExecType: 'I', OrdStatus: '0', LeavesQty: 200})
	clk.Set(time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC)) // Wednesday 16:00
	e.m.tick(clk.Now())
	if got := describe(e.core.wait(t, 3)); got[2] != "H:"+e.uid("w1") {
		t.Fatalf("the next day's check sent %v", got)
	}
}

// TestDayEndAfterEveningRestart: a restart in the evening whose session
// has not logged on at the day's end check, or whose recovery's status
// checks still wait to be sent, asks about each order once, not twice,
// and the order expires if it goes unanswered.
func TestDayEndAfterEveningRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  envOpt
	}{
		{"not logged on", func(r *env, _ *Config) { r.noLogon = true }},
		{"checks waiting", func(r *env, _ *Config) { r.core.setDown(true) }}, // logged on, the session refusing sends
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, clk, start := dayEndRun(t, "w1")
			atShanghai(clk, 16, 30)
			r := start(tc.opt)
			r.m.tick(clk.Now())
			r.core.setDown(false)
			r.m.OnSessionUp("core", "carrierB")
			r.m.tick(clk.Now())
			r.m.tick(clk.Now())
			if got := describe(r.core.list()); !slices.Equal(got, []string{"H:" + r.uid("w1")}) {
				t.Fatalf("after the logon the upstream got %v, want w1's status asked once", got)
			}
			unanswered(t, r, clk, "w1")
		})
	}
}

// TestDayEndAfterGivenUpStatus: an order whose earlier status request
// went unanswered during the day (a cancel's ack timeout asked, the
// request given up) is still asked about at the day's end, and expires
// unanswered. Before, the given-up request was taken for one still
// awaited: the order was never asked, never expired, on any later day.
func TestDayEndAfterGivenUpStatus(t *testing.T) {
	e, clk, _ := dayEndRun(t, "w1")
	cancelW1(t, e)
	for range 4 { // the cancel unanswered: status asked, given up, the cancel refused
		clk.Advance(DefaultAckTimeout + DefaultStatusTimeout + time.Second)
		e.m.tick(clk.Now())
	}
	if got := describe(e.core.list()); len(got) != 3 || got[2] != "H:"+e.uid("w1") {
		t.Fatalf("during the day the upstream got %v", got)
	}
	if o, _ := e.m.Get("A1", "w1"); o.Status != StatusNew || o.pending != nil {
		t.Fatalf("w1 %+v, want working, its cancel refused", o)
	}
	e.m.tick(atShanghai(clk, 16, 0))
	asked(t, e, 4, "w1", "at the day's end")
	unanswered(t, e, clk, "w1")
}

// TestDayEndRefusedStatusRequest: an upstream that refuses a status
// request really sent for the order (a cancel's ack timeout asked) is
// known to refuse them: at the day's end the order expires, unasked.
func TestDayEndRefusedStatusRequest(t *testing.T) {
	e, clk, _ := dayEndRun(t, "w1")
	cancelW1(t, e)
	clk.Advance(DefaultAckTimeout + time.Second)
	e.m.tick(clk.Now())
	asked(t, e, 3, "w1", "after the cancel's ack timeout")
	e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("w1"), MsgType: "H", Reason: 3})
	e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: e.uid("x1"), OrigClOrdID: e.uid("w1"), Text: "too late"})
	e.m.tick(atShanghai(clk, 16, 30))
	wantStatus(t, "day's end", e.m, map[string]Status{"w1": StatusExpired})
	if got := e.core.list(); len(got) != 3 {
		t.Errorf("the upstream got %v, which refuses status requests", describe(got))
	}
}

// TestDayEndAfterDaytimeRestart: a restart during the day whose
// recovery's status check of a working order went unanswered: the day's
// end check asks again, and the order expires unanswered.
func TestDayEndAfterDaytimeRestart(t *testing.T) {
	_, clk, start := dayEndRun(t, "w1")
	atShanghai(clk, 11, 0)
	r := start()
	asked(t, r, 1, "w1", "at the recovery")
	clk.Advance(DefaultStatusTimeout + time.Second)
	r.m.tick(clk.Now()) // the recovery's check given up
	r.m.tick(atShanghai(clk, 16, 0))
	asked(t, r, 2, "w1", "at the day's end")
	unanswered(t, r, clk, "w1")
}

// TestDayEndLateFillUnderReplace: the gateway expires an order with a
// replace pending (refused as too late); the venue's reports then come:
// it had applied the replace (200 to 400 shares) and filled 300 under
// it. The fills count in risk too, beyond the old terms, live and in
// replay, and the client is told why a fill follows the expiry.
func TestDayEndLateFillUnderReplace(t *testing.T) {
	e, clk, start := replacePendingNoStatus(t, 400)
	o, _ := e.m.Get("A1", "w1")
	ruid := o.pending.uid
	e.m.tick(atShanghai(clk, 16, 0)) // expired unreported
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: ruid, OrigClOrdID: e.uid("w1"), OrderID: "Xw1", ExecID: "r", ExecType: '5',
		OrdStatus: '0', Price: 17000000, LeavesQty: 400})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: ruid, OrderID: "Xw1", ExecID: "t1", ExecType: 'F', OrdStatus: '1',
		LastPx: 17000000, LastQty: 300, CumQty: 300, LeavesQty: 100, AvgPx: 17000000})
	for name, m := range map[string]*Manager{"live": e.m, "replayed": start().m} {
		o, _ := m.Get("A1", "w1")
		b, open := bought(t, m)
		if b != 300 || o.CumQty != 300 || !o.Status.Terminal() || open != 0 {
			t.Errorf("%s: w1 %s cum %d; risk counts %d bought, %d working", name, o.Status, o.CumQty, b, open)
		}
	}
	if n := testCounter(t, e.m.met.riskErrors.WithLabelValues("fill")); n != 0 {
		t.Errorf("%v fills refused by risk", n)
	}
	evs := e.ev.wait(t, 7) // w1 accepted, acknowledged; r1 accepted; expired; r1 too late; the fill
	if last := evs[len(evs)-1]; last.ExecType != 'F' || last.Text == "" {
		t.Errorf("the late fill's event %+v: no word of why it follows the expiry", last)
	}
}

// TestDayEndStaleAnswer: an answer resent from before (PossDup) does not
// answer the day's end check: the order's state may have changed since.
// Without the real answer the order expires.
func TestDayEndStaleAnswer(t *testing.T) {
	e, clk, _ := dayEndRun(t, "w1")
	e.m.tick(atShanghai(clk, 16, 0))
	e.core.wait(t, 2)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w1"), OrderID: "Xw1", ExecType: 'I', OrdStatus: '0',
		LeavesQty: 200, PossDup: true})
	unanswered(t, e, clk, "w1")
}

// heldAt starts a run at Tuesday hh:mm in Shanghai whose core session is
// down, with h1 held for it, never sent. It returns h1's upstream id,
// the clock and the function that starts a restart.
func heldAt(t *testing.T, hh, mm int) (string, *risk.ManualClock, func(...envOpt) *env, *env) {
	t.Helper()
	clk := risk.NewManualClock(time.Date(2026, 12, 1, hh-8, mm, 0, 0, time.UTC))
	start := calendarRuns(t, clk, &clockJournal{clk: clk})
	live := start()
	live.core.setDown(true)
	live.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	if _, err := live.m.New(buy("h1", 100)); err != nil {
		t.Fatal(err)
	}
	live.ev.wait(t, 1)
	return live.uid("h1"), clk, start, live
}

// TestDayEndHeldNotSentAfterClose: a new order never sent is not sent
// once its day has closed, even on the same date: not at the first logon
// of a restart in the evening, not when its session comes back after the
// close with it held (the venue, a broker's counter taking night orders,
// would take it as the next day's). It ends as never sent.
func TestDayEndHeldNotSentAfterClose(t *testing.T) {
	t.Run("restart", func(t *testing.T) {
		_, clk, start, _ := heldAt(t, 14, 50)
		atShanghai(clk, 18, 0)
		next := start()
		if got := describe(next.core.list()); len(got) != 0 {
			t.Fatalf("at a logon three hours after h1's day closed the upstream got %v", got)
		}
		wantStatus(t, "restart", next.m, map[string]Status{"h1": StatusRejected})
	})
	t.Run("session back", func(t *testing.T) {
		_, clk, _, live := heldAt(t, 14, 59)
		atShanghai(clk, 15, 0)
		live.core.setDown(false)
		live.m.OnSessionUp("core", "carrierB")
		if got := describe(live.core.list()); len(got) != 0 {
			t.Fatalf("the session back at the close: the upstream got %v", got)
		}
		wantStatus(t, "session back", live.m, map[string]Status{"h1": StatusRejected})
	})
}

// TestDayEndLaterDayProbeSilence: an order the session's store may hold
// is probed at the first logon of a restart on the next day, and the
// venue is silent (it forgets its orders after the close): the order may
// have traded on its day, so it expires on the gateway's word rather
// than ending as never sent, and a fill the venue reports later counts.
func TestDayEndLaterDayProbeSilence(t *testing.T) {
	u1, clk, start, _ := heldAt(t, 14, 0)
	clk.Set(time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC)) // Wednesday 08:30
	next := start(func(r *env, _ *Config) { r.core.handed[u1] = fix.HandedUnknown })
	asked(t, next, 1, "h1", "at the recovery")
	unanswered(t, next, clk, "h1")
	next.m.OnExecReport("core", fix.ExecReport{ClOrdID: u1, OrderID: "Xh1", ExecID: "t1", ExecType: 'F', OrdStatus: '1',
		LastPx: 17000000, LastQty: 50, CumQty: 50, LeavesQty: 50, AvgPx: 17000000, PossDup: true})
	o, _ := next.m.Get("A1", "h1")
	_, p := a1(t, next.m)
	if refused := testCounter(t, next.m.met.riskErrors.WithLabelValues("fill")); !o.Status.Terminal() || refused != 0 ||
		p.BoughtToday+p.Sellable != 1050 {
		t.Errorf("after its fill: h1 %s cum %d; risk refused %v fills; A1 %+v, want 1,050 shares, h1 ended", o.Status, o.CumQty, refused, p)
	}
}

// TestDayEndUnknownAfterFilled: the venue reports the order filled, then
// answers the day's end check "unknown order" (it no longer holds filled
// orders): the order stays filled.
func TestDayEndUnknownAfterFilled(t *testing.T) {
	e, clk, start := dayEndRun(t, "w1")
	e.m.tick(atShanghai(clk, 16, 0))
	e.core.wait(t, 2)
	e.m.OnExecReport("core", e.er("w1", 'F', '2', 200, 200, 0, "t1"))
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("w1"), ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	for name, m := range map[string]*Manager{"live": e.m, "replayed": start().m} {
		if o, _ := m.Get("A1", "w1"); o.Status != StatusFilled {
			t.Errorf("%s: w1 %s cum %d (%q), want filled", name, o.Status, o.CumQty, o.Text)
		}
	}
}

// TestDayEndMissedCheck: the gateway stopped on Tuesday before the day's
// end check and starts again on Wednesday morning: the recovery's status
// check of Tuesday's working order is that day's end check, and the
// venue's silence expires it (before, it stayed working here all
// Wednesday while risk had expired it: its cancel refused).
func TestDayEndMissedCheck(t *testing.T) {
	_, clk, start := dayEndRun(t, "w1")
	clk.Set(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)) // Wednesday 09:00
	r := start()
	asked(t, r, 1, "w1", "at the recovery")
	unanswered(t, r, clk, "w1")
}

// TestDayEndNeverAnswered: an order the venue answered neither itself
// nor its status request during the day is asked about at the day's end
// too, and expires unanswered; "unknown order" rejects one (it never
// reached the venue).
func TestDayEndNeverAnswered(t *testing.T) {
	e, clk, _ := dayEndRun(t)
	atShanghai(clk, 14, 0)
	for _, id := range []string{"p1", "p2"} {
		if _, err := e.m.New(buy(id, 200)); err != nil {
			t.Fatal(err)
		}
	}
	e.core.wait(t, 2)
	for range 3 {
		clk.Advance(DefaultAckTimeout + DefaultStatusTimeout + time.Second)
		e.m.tick(clk.Now())
	}
	wantStatus(t, "through the day", e.m, map[string]Status{"p1": StatusPendingNew, "p2": StatusPendingNew})
	e.m.tick(atShanghai(clk, 16, 0))
	asked(t, e, 5, "p1", "at the day's end")
	asked(t, e, 6, "p2", "at the day's end")
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("p2"), ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	unanswered(t, e, clk, "p1")
	wantStatus(t, "unknown", e.m, map[string]Status{"p2": StatusRejected})
}

// TestDayEndStandbyCatchUp: a standby catching up record by record over
// a day's end (an own expiry, a late fill, the next day's orders, an
// answer after the day changed) ends as the live run.
func TestDayEndStandbyCatchUp(t *testing.T) {
	e, clk, _ := dayEndRun(t, "w1", "w2", "w3")
	cj := e.jrnl.(*clockJournal)
	e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("w3"), MsgType: "H", Reason: 3})
	e.m.tick(atShanghai(clk, 16, 0))
	e.m.OnExecReport("core", e.er("w1", 'F', '1', 100, 100, 100, "t1"))
	clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30
	e.working("n1", 100)
	e.m.OnExecReport("core", e.er("w2", 'F', '1', 50, 50, 150, "t2"))
	e.ev.wait(t, 12)
	shownLive := shown(e.m)
	al, pl := a1(t, e.m)

	cj.mu.Lock()
	recs := append(memJournal(nil), cj.recs...)
	cj.mu.Unlock()
	g := &growingJournal{recs: recs}
	cfg := riskConfig()
	cfg.Schedule = risk.ScheduleConfig{}
	rc, err := risk.New(cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	m, err := New(Config{CreditAccounts: []string{"M1"}, Clock: clk.Now}, rc, g, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	for i := 1; i <= len(recs); i++ {
		g.commit(i)
		if _, err := m.CatchUp(t.Context()); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	as, ps := a1(t, m)
	if fmt.Sprint(shown(m)) != fmt.Sprint(shownLive) || fmt.Sprint(as, ps) != fmt.Sprint(al, pl) {
		t.Errorf("standby %v %+v %+v\nlive    %v %+v %+v", shown(m), as, ps, shownLive, al, pl)
	}
}

// TestDayEndHeldNeverExpiredUnsent: an upstream known to refuse status
// requests, its session down over the close with a cancel and a new
// order held (a long hold_timeout); at the logon the session refuses the
// first release. The held order is not the day's end check's to expire
// (the venue never had it), and it is not sent after the close: it ends
// as never sent.
func TestDayEndHeldNeverExpiredUnsent(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC))
	start := calendarRuns(t, clk, &clockJournal{clk: clk})
	e := start(func(_ *env, c *Config) { c.HoldTimeout = 2 * time.Hour })
	e.working("w0", 200)
	e.m.OnReject("core", fix.Reject{ClOrdID: e.uid("w0"), MsgType: "H", Reason: 3}) // refuses status requests
	atShanghai(clk, 14, 55)
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x0", OrigClOrdID: "w0", Account: "A1", Source: src}); err != nil {
		t.Fatal(err)
	}
	atShanghai(clk, 14, 58)
	if _, err := e.m.New(buy("h1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 4)
	n := len(e.core.list())
	e.m.tick(atShanghai(clk, 16, 0))    // the day's end check, the route down
	e.m.OnSessionUp("core", "carrierB") // the session refuses the first send
	e.core.setDown(false)
	e.m.tick(clk.Now())
	for _, d := range describe(e.core.list()[n:]) {
		if d == "N:"+e.uid("h1") {
			t.Errorf("h1 sent after its day closed")
		}
	}
	if o, _ := e.m.Get("A1", "h1"); o.Status != StatusRejected {
		t.Errorf("h1 %s (%q), want rejected as never sent", o.Status, o.Text)
	}
}

// TestDayEndPendingNewAck: the venue acknowledges an order only with a
// pending new (ExecType A), then answers the day's end check "unknown
// order": a restart on the journal ends it as live did (expired: the
// venue had it), the pending new journaled though no client hears it.
func TestDayEndPendingNewAck(t *testing.T) {
	e, clk, start := dayEndRun(t)
	atShanghai(clk, 14, 0)
	if _, err := e.m.New(buy("p1", 200)); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("p1"), OrderID: "Xp1", ExecID: "a1", ExecType: 'A', OrdStatus: 'A', LeavesQty: 200})
	e.m.tick(atShanghai(clk, 16, 0))
	asked(t, e, 2, "p1", "at the day's end")
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("p1"), ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	e.ev.wait(t, 2)
	wantStatus(t, "live", e.m, map[string]Status{"p1": StatusExpired})
	wantStatus(t, "replayed", start().m, map[string]Status{"p1": StatusExpired})
}

// TestHeldRequestOfEndedOrderNotSent: a new order's request held while
// the order ended by another path (here the gateway's own expiry) is
// dropped when its turn comes, never sent.
func TestHeldRequestOfEndedOrderNotSent(t *testing.T) {
	e, _, _ := dayEndRun(t)
	e.core.setDown(true)
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	if _, err := e.m.New(buy("h1", 100)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 1)
	e.m.mu.Lock()
	e.m.expireOwn(e.m.routes["core"], e.m.orders[key("A1", "h1")], "ended by the test")
	e.m.unlock()
	e.core.setDown(false)
	e.m.OnSessionUp("core", "carrierB")
	if got := e.core.list(); len(got) != 0 {
		t.Errorf("the upstream got %v for an order that had ended", describe(got))
	}
}

// TestProbeUnknownAfterReport: a probed order (the store may not hold
// it) that the venue reports filled before it answers the probe
// "unknown order" (it purged the order after the close) stays filled,
// live and in replay: the venue spoke of it since the probe went. Before,
// the probe's answer expired it live (a replay found it filled).
func TestProbeUnknownAfterReport(t *testing.T) {
	u1, clk, start, _ := heldAt(t, 14, 0)
	clk.Set(time.Date(2026, 12, 2, 0, 30, 0, 0, time.UTC)) // Wednesday 08:30
	next := start(func(r *env, _ *Config) { r.core.handed[u1] = fix.HandedUnknown })
	asked(t, next, 1, "h1", "at the recovery")
	next.m.OnExecReport("core", fix.ExecReport{ClOrdID: u1, OrderID: "Xh1", ExecID: "t1", ExecType: 'F', OrdStatus: '2',
		LastPx: 17000000, LastQty: 100, CumQty: 100, LeavesQty: 0, AvgPx: 17000000})
	next.m.OnExecReport("core", fix.ExecReport{ClOrdID: u1, ExecType: 'I', OrdStatus: '8', OrdRejReason: 5, Text: "unknown order"})
	next.ev.wait(t, 1)
	for name, m := range map[string]*Manager{"live": next.m, "replayed": start().m} {
		if o, _ := m.Get("A1", "h1"); o.Status != StatusFilled {
			t.Errorf("%s: h1 %s cum %d (%q), want filled", name, o.Status, o.CumQty, o.Text)
		}
	}
	if got := describe(next.core.list()); len(got) != 1 {
		t.Errorf("the upstream got %v: nothing is sent again", got)
	}
}

package orders

import (
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// TestTradeCancelAndCorrectionAmendTrades: an upstream's trade cancel (a
// bust) and correction, in FIX 4.2 form (ExecTransType 1 or 2, which fix
// makes a restatement) and in FIX 4.4 form (ExecType H or G), amend the
// trade their ExecRefID names in Order.Trades: a canceled trade is marked
// so, a corrected one takes the correction's quantity and price (a second
// correction may name the first by its ExecID), and the totals after it
// and after the trades that follow move by the difference; the order's
// totals are the upstream's. The same after a restart, from the journal.
// Before, a canceled trade stayed a live trade there, which the broker
// restatement then sent as a fill.
func TestTradeCancelAndCorrectionAmendTrades(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.working("c1", 300)
	e.working("c2", 100)
	rep := func(id string, execType, transType byte, execID, ref string, last int64, px refdata.Price, cum, leaves int64, avg refdata.Price) {
		t.Helper()
		status := byte('1')
		if cum == 0 {
			status = '0'
		}
		e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid(id), OrderID: "X" + id, ExecID: execID, ExecRefID: ref,
			ExecType: execType, ExecTransType: transType, OrdStatus: status, LastQty: last, LastPx: px, CumQty: cum,
			LeavesQty: leaves, AvgPx: avg})
	}
	rep("c1", 'F', 0, "E1", "", 100, 17000000, 100, 200, 17000000)
	rep("c1", 'F', 0, "E2", "", 100, 17010000, 200, 100, 17005000)
	rep("c1", 'F', 0, "E3", "", 50, 17000000, 250, 50, 17004000)
	rep("c1", 'D', '1', "X1", "E1", 100, 17000000, 150, 150, 17006667) // FIX 4.2 cancel of E1
	rep("c1", 'G', 0, "X2", "E2", 80, 17020000, 130, 170, 17012308)    // FIX 4.4 correction of E2
	rep("c1", 'D', '2', "X3", "X2", 70, 17030000, 120, 180, 17017500)  // FIX 4.2 correction of it, named by X2
	rep("c2", 'F', 0, "E4", "", 100, 17000000, 100, 0, 17000000)
	rep("c2", 'H', 0, "X4", "E4", 100, 17000000, 0, 0, 0) // FIX 4.4 cancel of E4
	check := func(m *Manager, when string) {
		t.Helper()
		o, ok := m.Get("A1", "c1")
		if !ok {
			t.Fatalf("%s: no order c1", when)
		}
		if o.CumQty != 120 || o.LeavesQty != 180 || o.AvgPx != 17017500 {
			t.Errorf("%s: the order's totals %d/%d at %s; want the upstream's, 120/180 at 1701.7500", when, o.CumQty, o.LeavesQty, o.AvgPx)
		}
		tr := o.Trades()
		if len(tr) != 3 {
			t.Fatalf("%s: %d trades: %+v", when, len(tr), tr)
		}
		if e1 := tr[0]; !e1.Canceled || e1.Amended != "X1" || e1.Qty != 100 || e1.CumQty != 0 || e1.LeavesQty != 300 {
			t.Errorf("%s: the canceled trade E1 is %+v; want canceled by X1, 100 as it was, CumQty 0 and LeavesQty 300 after it", when, e1)
		}
		if e2 := tr[1]; e2.Canceled || e2.Amended != "X3" || e2.Qty != 70 || e2.Px != 17030000 || e2.CumQty != 70 || e2.AvgPx != 17030000 || e2.LeavesQty != 230 {
			t.Errorf("%s: the corrected trade E2 is %+v; want 70 at 1703 (X3), CumQty 70 at 1703 and LeavesQty 230 after it", when, e2)
		}
		if e3 := tr[2]; e3.Canceled || e3.Amended != "" || e3.Qty != 50 || e3.CumQty != 120 || e3.LeavesQty != 180 || e3.AvgPx != 17017500 {
			t.Errorf("%s: the trade E3 after them is %+v; want 50, CumQty 120 at 1701.7500 and LeavesQty 180 after it", when, e3)
		}
		o2, _ := m.Get("A1", "c2")
		if tr := o2.Trades(); len(tr) != 1 || !tr[0].Canceled || tr[0].Amended != "X4" || tr[0].CumQty != 0 {
			t.Errorf("%s: c2's trades %+v; want E4 canceled by X4", when, tr)
		}
	}
	check(e.m, "live")
	e.j.Close()
	check(newEnv(t, dir).m, "after a restart")
}

// TestTradeAmendKeepsCopies: a copy of an order taken before a trade
// cancel keeps the trades it saw (the amended trades are a new slice).
func TestTradeAmendKeepsCopies(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.working("c1", 100)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c1"), OrderID: "Xc1", ExecID: "E1", ExecType: 'F', OrdStatus: '1',
		LastQty: 40, LastPx: 17000000, CumQty: 40, LeavesQty: 60, AvgPx: 17000000})
	before, _ := e.m.Get("A1", "c1")
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c1"), OrderID: "Xc1", ExecID: "X1", ExecRefID: "E1", ExecType: 'H',
		OrdStatus: '0', LeavesQty: 100})
	if tr := before.Trades(); tr[0].Canceled {
		t.Error("a copy taken before the cancel sees its trade canceled")
	}
	if after, _ := e.m.Get("A1", "c1"); !after.Trades()[0].Canceled {
		t.Error("the trade is not canceled")
	}
}

// TestTradeAmendNamesTheLatestTrade: a trade cancel names the latest of
// the order's trades its ExecRefID matches. ExecIDs are unique within a
// trading day only: an order a venue that never closes carried over to a
// day whose ExecIDs it numbered anew may hold a trade whose ExecID an
// earlier trade (or an earlier day's cancel of one) had. Before, the
// earliest match was amended: the earlier day's canceled trade took
// today's cancel, and today's trade stayed live (and was resent to a
// broker as a fill).
func TestTradeAmendNamesTheLatestTrade(t *testing.T) {
	for _, tc := range []struct {
		name string
		old  Trade // the earlier day's trade
	}{
		{"an earlier trade's ExecID", Trade{ExecID: "2", Qty: 100, Px: 17000000, CumQty: 100, LeavesQty: 200, AvgPx: 17000000, turnover: 1700000000, Day: 1}},
		{"an earlier cancel's ExecID", Trade{ExecID: "1", Qty: 100, Px: 17000000, Canceled: true, Amended: "2", LeavesQty: 300, Day: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cum := tc.old.CumQty + 50
			o := &Order{trades: []Trade{tc.old,
				{ExecID: "2", Qty: 50, Px: 17000000, CumQty: cum, LeavesQty: 300 - cum, AvgPx: 17000000, turnover: cum * 17000000, Day: 2}}}
			if _, k := amendTrade(o, 'H', &fix.ExecReport{ExecID: "3", ExecRefID: "2"}, 2); k < 0 {
				t.Fatal("no trade amended")
			}
			if tr := o.Trades(); !tr[1].Canceled || tr[1].Amended != "3" || tr[0] != tc.old {
				t.Errorf("trades %+v; want today's trade 2 canceled by 3, the earlier day's as it was", tr)
			}
		})
	}
}

// TestTradeAmendOnlyJournalsItsRef: a report that is no trade cancel or
// correction is journaled in a version 1 body even when the upstream set
// ExecRefID (19) on it, which FIX allows: a build before version 2 must
// go on reading the journal. Before, any report with an ExecRefID was
// written in version 2.
func TestTradeAmendOnlyJournalsItsRef(t *testing.T) {
	e := newEnv(t, t.TempDir())
	e.working("c1", 100)
	er := e.er("c1", 'F', '1', 40, 40, 60, "E1")
	er.ExecRefID = "R0"
	e.m.OnExecReport("core", er)
	er = e.er("c1", 'D', '1', 0, 40, 60, "D1")
	er.ExecRefID = "E1"
	e.m.OnExecReport("core", er)
	e.j.Close()
	n := 0
	if err := journal.ReadFile(e.path(), func(r journal.Record) error {
		if r.Type == recExec {
			n++
			if r.Body[0] != bodyBinaryV1 {
				t.Errorf("report %d journaled in form %#02x; want version 1", n, r.Body[0])
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("%d reports journaled; want 3 (the new order's ack too)", n)
	}
}

// TestTradeCancelAndCorrectionReachRisk: a venue's trade cancel or
// correction moves the account in risk back, live and after a restart
// from the journal: a busted buy's shares bought today go (they would
// have been sellable tomorrow) and its cost comes back, a corrected one
// costs what the correction says, a busted sell's shares are the
// account's again and its proceeds leave; a working order holds again
// for the leaves the bust gave back, and an order the bust took off its
// fills, which the venue works again, fills again. A cancel naming no
// trade the gateway knows moves risk by the venue's totals. Before, risk
// kept every canceled fill for the day: the shares and cash of trades
// that never happened.
func TestTradeCancelAndCorrectionReachRisk(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.working("c1", 300)
	e.working("c2", 100)
	e.working("c3", 200)
	sell := buy("s1", 500)
	sell.Side = risk.Sell
	if _, err := e.m.New(sell); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 4)
	rep := func(id string, execType, transType byte, execID, ref string, last int64, px refdata.Price, cum, leaves int64, avg refdata.Price, status byte) {
		t.Helper()
		e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid(id), OrderID: "X" + id, ExecID: execID, ExecRefID: ref,
			ExecType: execType, ExecTransType: transType, OrdStatus: status, LastQty: last, LastPx: px, CumQty: cum,
			LeavesQty: leaves, AvgPx: avg})
	}
	rep("s1", '0', 0, "N4", "", 0, 0, 0, 500, 0, '0')
	rep("c1", 'F', 0, "E1", "", 100, 17000000, 100, 200, 17000000, '1')
	rep("c1", 'F', 0, "E2", "", 100, 17000000, 200, 100, 17000000, '1')
	rep("c2", 'F', 0, "E3", "", 100, 17000000, 100, 0, 17000000, '2')
	rep("c3", 'F', 0, "E5", "", 100, 17000000, 100, 100, 17000000, '1')
	rep("s1", 'F', 0, "E4", "", 200, 17100000, 200, 300, 17100000, '1')

	rep("c1", 'D', '1', "X1", "E1", 100, 17000000, 100, 200, 17000000, '1') // FIX 4.2 cancel of E1
	rep("c1", 'G', 0, "X2", "E2", 50, 16900000, 50, 250, 16900000, '1')     // FIX 4.4 correction of E2: 50 at 1690
	rep("c2", 'H', 0, "X3", "E3", 100, 17000000, 0, 100, 0, '0')            // the filled c2's E3 canceled; the venue works c2 again
	rep("c2", 'F', 0, "E6", "", 100, 17000000, 100, 0, 17000000, '2')       // and fills it again
	rep("c3", 'H', 0, "X5", "", 100, 17000000, 0, 200, 0, '0')              // a cancel naming no trade: by the totals
	rep("s1", 'H', 0, "X4", "E4", 200, 17100000, 0, 500, 0, '0')            // the sell's E4 canceled

	// Left: c1 50 at 1690 and 250 working at 1700; c2 100 at 1700; c3
	// 200 working at 1700; s1 500 working, none sold.
	const wantCash = (10_000_000 - 250*1700 - 50*1690 - 100*1700 - 200*1700) * refdata.PriceScale
	const wantHeld = (250*1700 + 200*1700) * refdata.PriceScale
	check := func(m *Manager, when string) {
		t.Helper()
		a, p := a1(t, m)
		if a.Cash != wantCash || a.Reserved != wantHeld || a.OpenOrders != 3 {
			t.Errorf("%s: A1's cash %s, held %s, %d working; want %s, %s, 3", when, a.Cash, a.Reserved, a.OpenOrders,
				refdata.Price(wantCash), refdata.Price(wantHeld))
		}
		if p.Sellable != 500 || p.Reserved != 500 || p.BoughtToday != 150 {
			t.Errorf("%s: A1's 600519.SH %+v; want 500 sellable, 500 held by s1, 150 bought today", when, p)
		}
		if o, _ := m.Get("A1", "c1"); o.CumQty != 50 || o.AvgPx != 16900000 {
			t.Errorf("%s: c1 filled %d at %s; want 50 at 1690", when, o.CumQty, o.AvgPx)
		}
	}
	check(e.m, "live")
	// The events name the trade they cancel or correct (a broker's
	// ExecRefID).
	for deadline := time.After(waitFor); ; {
		e.ev.mu.Lock()
		evs, ch := e.ev.evs, e.ev.notify
		e.ev.mu.Unlock()
		refs := map[string]string{}
		for _, ev := range evs {
			refs[ev.ExecID] = ev.ExecRefID
		}
		if _, ok := refs["X4"]; ok {
			if refs["X1"] != "E1" || refs["X2"] != "E2" || refs["X3"] != "E3" || refs["X4"] != "E4" || refs["E6"] != "" {
				t.Errorf("the events' ExecRefIDs by ExecID: %v", refs)
			}
			break
		}
		select {
		case <-ch:
		case <-deadline:
			t.Fatalf("no event of X4: %v", refs)
		}
	}
	for _, op := range []string{"fill", "trade_amend", "done"} {
		if n := testCounter(t, e.m.met.riskErrors.WithLabelValues(op)); n != 0 {
			t.Errorf("the risk ledger refused %v %s updates", n, op)
		}
	}
	e.j.Close()
	check(newEnv(t, dir).m, "after a restart")
}

// TestTradeBustOfAFillRiskRefused: a venue's cancel of a fill risk refused
// when it came (a fill above the order's limit, an overfill after the
// order filled) takes nothing back from risk, which never had it: the
// order's other fills stay in the account. Before, risk took the busted
// fill back from them: the account got the cost of shares it still holds
// back, and lost the shares.
func TestTradeBustOfAFillRiskRefused(t *testing.T) {
	const px, bad = refdata.Price(17000000), refdata.Price(18000000)
	for _, tc := range []struct {
		name string
		qty  int64 // the order's
		// the refused fill E2 (after E1, 100 at the limit), and the
		// venue's totals after it and after its cancel
		last                  refdata.Price
		cum, leaves           int64
		status                byte
		bustCum, bustLeaves   int64
		bustStatus            byte
		wantHeld, wantWorking int64
		wantCashOut           int64 // cost of E1 and what is held, in yuan
	}{
		{name: "above the limit", qty: 200, last: bad, cum: 200, leaves: 0, status: '2', bustCum: 100, bustLeaves: 100, bustStatus: '1',
			wantHeld: 100 * 1700, wantWorking: 1, wantCashOut: 100*1700 + 100*1700},
		{name: "an overfill", qty: 100, last: px, cum: 200, leaves: 0, status: '2', bustCum: 100, bustLeaves: 0, bustStatus: '2',
			wantCashOut: 100 * 1700},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, dir)
			e.working("c1", tc.qty)
			rep := func(execType byte, execID, ref string, last int64, lpx refdata.Price, cum, leaves int64, status byte) {
				t.Helper()
				e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c1"), OrderID: "Xc1", ExecID: execID, ExecRefID: ref,
					ExecType: execType, OrdStatus: status, LastQty: last, LastPx: lpx, CumQty: cum, LeavesQty: leaves, AvgPx: px})
			}
			st := byte('1')
			if tc.qty == 100 {
				st = '2'
			}
			rep('F', "E1", "", 100, px, 100, tc.qty-100, st)
			rep('F', "E2", "", 100, tc.last, tc.cum, tc.leaves, tc.status) // risk refuses it
			rep('H', "X2", "E2", 100, tc.last, tc.bustCum, tc.bustLeaves, tc.bustStatus)
			check := func(m *Manager, when string) {
				t.Helper()
				a, p := a1(t, m)
				wantCash := refdata.Price(10_000_000-tc.wantCashOut) * refdata.PriceScale
				if a.Cash != wantCash || a.Reserved != refdata.Price(tc.wantHeld)*refdata.PriceScale || int64(a.OpenOrders) != tc.wantWorking {
					t.Errorf("%s: A1's cash %s, held %s, %d working; want %s, %s, %d", when, a.Cash, a.Reserved, a.OpenOrders,
						wantCash, refdata.Price(tc.wantHeld)*refdata.PriceScale, tc.wantWorking)
				}
				if p.BoughtToday != 100 || p.Sellable != 1000 {
					t.Errorf("%s: A1's 600519.SH %+v; want E1's 100 bought today, 1000 sellable", when, p)
				}
			}
			check(e.m, "live")
			if n := testCounter(t, e.m.met.riskErrors.WithLabelValues("trade_amend")); n != 0 {
				t.Errorf("the risk ledger refused %v trade amends", n)
			}
			e.j.Close()
			check(newEnv(t, dir).m, "after a restart")
		})
	}
}

// TestResentStatusAnswerMovesNoRisk: a status answer resent from before
// (PossDup), whose totals the reports since moved on, changes neither the
// order's filled quantity nor risk: its fills are not counted again when
// the next report's totals bring them back, nor a busted fill brought
// back. Before, an answer of fewer shares lowered the order's count and
// the next answer applied the shares to risk a second time; one of more
// shares, after a trade cancel, applied the busted fill again.
func TestResentStatusAnswerMovesNoRisk(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.working("c1", 300)
	e.working("c2", 300)
	rep := func(id string, execType byte, execID, ref string, last, cum int64, status byte, possDup bool) {
		t.Helper()
		e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid(id), OrderID: "X" + id, ExecID: execID, ExecRefID: ref,
			ExecType: execType, OrdStatus: status, LastQty: last, LastPx: 17000000, CumQty: cum, LeavesQty: 300 - cum,
			AvgPx: 17000000, PossDup: possDup})
	}
	rep("c1", 'F', "E1", "", 200, 200, '1', false)
	rep("c1", 'I', "", "", 0, 0, '0', true) // answered before E1
	rep("c1", 'I', "", "", 0, 200, '1', false)
	rep("c2", 'F', "E2", "", 100, 100, '1', false)
	rep("c2", 'H', "X2", "E2", 100, 0, '0', false)
	rep("c2", 'I', "", "", 0, 100, '1', true) // answered before X2
	check := func(m *Manager, when string) {
		t.Helper()
		a, p := a1(t, m)
		const wantCash = (10_000_000 - 200*1700 - 100*1700 - 300*1700) * refdata.PriceScale
		const wantHeld = (100*1700 + 300*1700) * refdata.PriceScale
		if a.Cash != wantCash || a.Reserved != wantHeld || p.BoughtToday != 200 {
			t.Errorf("%s: A1's cash %s, held %s, %d bought today; want %s, %s, 200 (c1's E1 once, c2's busted E2 not)",
				when, a.Cash, a.Reserved, p.BoughtToday, refdata.Price(wantCash), refdata.Price(wantHeld))
		}
		for id, want := range map[string]int64{"c1": 200, "c2": 0} {
			if o, _ := m.Get("A1", id); o.CumQty != want {
				t.Errorf("%s: %s filled %d; want %d", when, id, o.CumQty, want)
			}
		}
	}
	check(e.m, "live")
	e.j.Close()
	check(newEnv(t, dir).m, "after a restart")
}

// TestResentStatusAnswerKeepsStatusAndLeaves: a status answer resent from
// before (PossDup) whose totals are not the order's leaves the order's
// status and leaves as they are, as it leaves its filled quantity: a
// partly filled order did not go back to new, with leaves beyond its
// quantity, live or after a restart.
func TestResentStatusAnswerKeepsStatusAndLeaves(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.working("c1", 300)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c1"), OrderID: "Xc1", ExecID: "E1", ExecType: 'F', OrdStatus: '1',
		LastQty: 200, LastPx: 17000000, CumQty: 200, LeavesQty: 100, AvgPx: 17000000})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: e.uid("c1"), OrderID: "Xc1", ExecType: 'I', OrdStatus: '0',
		CumQty: 0, LeavesQty: 300, PossDup: true}) // answered before E1
	check := func(m *Manager, when string) {
		t.Helper()
		o, _ := m.Get("A1", "c1")
		if o.Status != StatusPartiallyFilled || o.CumQty != 200 || o.LeavesQty != 100 {
			t.Errorf("%s: c1 %s, filled %d, leaves %d; want %s, 200, 100", when, o.Status, o.CumQty, o.LeavesQty, StatusPartiallyFilled)
		}
	}
	check(e.m, "live")
	e.j.Close()
	check(newEnv(t, dir).m, "after a restart")
}

// TestTradeAmendDay: a trade an order a venue that never closes carried
// over made on one day, canceled on the next, keeps the day it was made
// (Trade.Day) and takes the cancel's (Trade.AmendDay), live and in
// replay: a broker acceptor's restatement resends the cancels made today
// of earlier days' trades, and not those made on earlier days.
func TestTradeAmendDay(t *testing.T) { tradeCanceledNextDay(t, true) }

// TestTradeAmendDayBeforeTheDaysFirstRequest: a cancel applied after
// midnight, before the day's first request (risk still counts the day
// before, as a manager restarted or taken over in the night does), is of
// the date it was applied on, live and in replay: a broker acceptor's
// restatement on a store whose session period began that day resends it
// if its report is lost. Before, it took risk's day, the day before, and
// the restatement left it out as told on that day.
func TestTradeAmendDayBeforeTheDaysFirstRequest(t *testing.T) { tradeCanceledNextDay(t, false) }

// tradeCanceledNextDay runs the two tests above: an always-open venue's
// order w1 trades t1 on Tuesday (20261201), and t1 is canceled at 00:10
// on Wednesday, after a request that starts the day (request) or before
// any. Live and in replay (on Thursday's clock when no request came: the
// record's date counts, not the clock's), t1 is of 20261201 and canceled
// on 20261202.
func tradeCanceledNextDay(t *testing.T, request bool) {
	t.Helper()
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // Tuesday 23:00 in Shanghai
	start := scheduleRuns(t, clk, &clockJournal{clk: clk}, risk.ScheduleConfig{AlwaysOpen: true})
	e := start()
	e.working("w1", 200)
	e.m.OnExecReport("core", e.er("w1", 'F', '1', 100, 100, 100, "t1"))
	clk.Set(time.Date(2026, 12, 1, 16, 10, 0, 0, time.UTC)) // Wednesday 00:10
	if request {
		if _, err := e.m.New(buy("d1", 100)); err != nil { // the day changes here
			t.Fatal(err)
		}
	}
	er := e.er("w1", 'H', '0', 0, 0, 200, "x1")
	er.ExecRefID = "t1"
	e.m.OnExecReport("core", er)
	if d := e.m.TradingDay(); !request && d != 20261201 {
		t.Fatalf("the trading day %d; want 20261201 (no request yet)", d)
	}
	check := func(name string, m *Manager) {
		t.Helper()
		o, _ := m.Get("A1", "w1")
		if tr := o.Trades(); len(tr) != 1 || !tr[0].Canceled || tr[0].Day != 20261201 || tr[0].AmendDay != 20261202 {
			t.Errorf("%s: trades %+v; want t1 of 20261201, canceled on 20261202", name, tr)
		}
	}
	check("live", e.m)
	if !request {
		clk.Set(time.Date(2026, 12, 2, 16, 10, 0, 0, time.UTC)) // restarted on Thursday
	}
	check("replayed", start().m)
}

// TestTradeReportDayBeforeTheDaysFirstRequest: a trade applied after
// midnight, before the day's first request, is of risk's day, the day
// before (Trade.Day, as risk counts its fills), and reported on the date
// it was applied on (Trade.ReportDay), live and in replay: a broker
// acceptor's restatement on a store whose session period began that day
// resends its lost report. The order it filled ended on risk's day
// (Order.EndDay), which frees its ClOrdID on the new day.
func TestTradeReportDayBeforeTheDaysFirstRequest(t *testing.T) {
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 15, 0, 0, 0, time.UTC)) // Tuesday 23:00 in Shanghai
	start := scheduleRuns(t, clk, &clockJournal{clk: clk}, risk.ScheduleConfig{AlwaysOpen: true})
	e := start()
	e.working("w1", 200)
	e.m.OnExecReport("core", e.er("w1", 'F', '1', 100, 100, 100, "t1"))
	clk.Set(time.Date(2026, 12, 1, 16, 10, 0, 0, time.UTC)) // Wednesday 00:10, no request since
	e.m.OnExecReport("core", e.er("w1", 'F', '2', 100, 200, 0, "t2"))
	if d := e.m.TradingDay(); d != 20261201 {
		t.Fatalf("the trading day %d; want 20261201 (no request yet)", d)
	}
	check := func(name string, m *Manager) {
		t.Helper()
		o, _ := m.Get("A1", "w1")
		tr := o.Trades()
		if len(tr) != 2 || tr[0].Day != 20261201 || tr[0].ReportDay != 20261201 || tr[1].Day != 20261201 || tr[1].ReportDay != 20261202 {
			t.Errorf("%s: trades %+v; want t1 of 20261201, t2 of 20261201 reported on 20261202", name, tr)
		}
		if o.Status != StatusFilled || o.EndDay() != 20261201 {
			t.Errorf("%s: the order %s, ended on %d; want filled on 20261201", name, o.Status, o.EndDay())
		}
	}
	check("live", e.m)
	clk.Set(time.Date(2026, 12, 2, 16, 10, 0, 0, time.UTC)) // restarted on Thursday: the records' dates, not the clock's
	check("replayed", start().m)
}

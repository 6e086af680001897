package risk

import (
	"strings"
	"testing"
	"time"
)

func TestSessionBoundaries(t *testing.T) {
	cases := []struct {
		at         string
		phase      Phase
		newCode    string
		cancelCode string
	}{
		{"09:14:59.999", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
		{"09:15:00.000", PhaseOpeningCall, "", ""},
		{"09:19:59.999", PhaseOpeningCall, "", ""},
		{"09:20:00.000", PhaseOpeningCallNoCancel, "", CodeNoCancelPeriod},
		{"09:24:59.999", PhaseOpeningCallNoCancel, "", CodeNoCancelPeriod},
		{"09:25:00.000", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
		{"09:29:59.999", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
		{"09:30:00.000", PhaseContinuous, "", ""},
		{"11:29:59.999", PhaseContinuous, "", ""},
		{"11:30:00.000", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
		{"12:59:59.999", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
		{"13:00:00.000", PhaseContinuous, "", ""},
		{"14:56:59.999", PhaseContinuous, "", ""},
		{"14:57:00.000", PhaseClosingCall, "", CodeNoCancelPeriod},
		{"14:59:59.999", PhaseClosingCall, "", CodeNoCancelPeriod},
		{"15:00:00.000", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
		{"23:59:59.999", PhaseClosed, CodeSessionClosed, CodeSessionClosed},
	}
	for _, tc := range cases {
		t.Run(tc.at, func(t *testing.T) {
			c, clk := newChecker(t, nil)
			// A working order to cancel and replace, placed the same day.
			clk.Set(at(monday + " 09:15"))
			mustNew(t, c, buy("A1", "w1", "000001.SZ", "10", 100))
			mustNew(t, c, buy("A1", "w2", "000001.SZ", "10", 100))

			clk.Set(at(monday + " " + tc.at))
			if got := c.Phase(); got != tc.phase {
				t.Fatalf("Phase = %s, want %s", got, tc.phase)
			}
			_, rej := c.CheckNew(buy("A1", "n1", "000001.SZ", "10", 100))
			wantCode(t, rej, tc.newCode)
			if rej != nil && rej.FIXReason != FIXExchangeClosed {
				t.Fatalf("FIXReason %d", rej.FIXReason)
			}
			wantCode(t, c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: "w1"}), tc.cancelCode)
			// A replace needs both a new order and a cancel to be allowed.
			replaceCode := tc.newCode
			if replaceCode == "" {
				replaceCode = tc.cancelCode
			}
			_, rej = c.CheckReplace("w2", buy("A1", "r2", "000001.SZ", "10.01", 100))
			wantCode(t, rej, replaceCode)
			checkInvariants(t, c)
		})
	}
}

func TestSessionClosedDays(t *testing.T) {
	cases := []struct {
		name, at, code, text string
	}{
		{"monday", "2025-06-09 10:00", "", ""},
		{"saturday", "2025-06-07 10:00", CodeSessionClosed, "2025-06-07 is a Saturday"},
		{"sunday", "2025-06-08 10:00", CodeSessionClosed, "2025-06-08 is a Sunday"},
		{"holiday", "2025-10-01 10:00", CodeSessionClosed, "2025-10-01 is an exchange holiday"},
		{"day after holiday", "2025-10-02 10:00", "", ""},
		{"night", "2025-06-09 20:00:01", CodeSessionClosed, "market closed at 20:00:01.000"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, clk := newChecker(t, nil)
			clk.Set(at(tc.at))
			_, rej := c.CheckNew(buy("A1", "n1", "000001.SZ", "10", 100))
			wantCode(t, rej, tc.code)
			if rej != nil && !strings.Contains(rej.Text, tc.text) {
				t.Fatalf("text %q, want %q", rej.Text, tc.text)
			}
		})
	}
}

func TestSessionUsesExchangeTimeZone(t *testing.T) {
	c, clk := newChecker(t, nil)
	// 01:30 UTC is 09:30 in Shanghai.
	clk.Set(time.Date(2025, 6, 9, 1, 30, 0, 0, time.UTC))
	mustNew(t, c, buy("A1", "n1", "000001.SZ", "10", 100))
	clk.Set(time.Date(2025, 6, 9, 1, 29, 59, 0, time.UTC))
	_, rej := c.CheckNew(buy("A1", "n2", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeSessionClosed)
	// Friday 16:00 UTC is Saturday 00:00 in Shanghai.
	clk.Set(time.Date(2025, 6, 13, 16, 0, 0, 0, time.UTC))
	_, rej = c.CheckNew(buy("A1", "n3", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeSessionClosed)
	if !strings.Contains(rej.Text, "Saturday") {
		t.Fatal(rej.Text)
	}
}

func TestAlwaysOpen(t *testing.T) {
	c, clk := newChecker(t, func(c *Config) { c.Schedule.AlwaysOpen = true })
	for i, s := range []string{"2025-06-09 03:00", "2025-06-09 09:22", "2025-06-09 12:00", "2025-06-09 14:58"} {
		clk.Set(at(s))
		id := string(rune('a' + i))
		mustNew(t, c, buy("A1", id, "000001.SZ", "10", 100))
		wantCode(t, c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: id}), "")
		if c.Phase() != PhaseContinuous {
			t.Fatal(c.Phase())
		}
	}
	clk.Set(at("2025-06-07 03:00")) // Saturday
	mustNew(t, c, buy("A1", "sat", "000001.SZ", "10", 100))
}

func TestPhaseAcceptsAndNames(t *testing.T) {
	for _, tc := range []struct {
		p               Phase
		name            string
		newOK, cancelOK bool
	}{
		{PhaseClosed, "closed", false, false},
		{PhaseOpeningCall, "opening_call", true, true},
		{PhaseOpeningCallNoCancel, "opening_call_no_cancel", true, false},
		{PhaseContinuous, "continuous", true, true},
		{PhaseClosingCall, "closing_call", true, false},
		{Phase(9), "phase(9)", true, false},
	} {
		if tc.p.String() != tc.name || tc.p.AcceptsNew() != tc.newOK || tc.p.AcceptsCancel() != tc.cancelOK {
			t.Errorf("%d: %s %v %v", tc.p, tc.p, tc.p.AcceptsNew(), tc.p.AcceptsCancel())
		}
	}
}

func TestDayAndRollover(t *testing.T) {
	c, clk := newChecker(t, nil)
	if c.Day() != "2025-06-09" {
		t.Fatal(c.Day())
	}
	if c.Rollover(at("2025-06-09 23:59:59.999")) {
		t.Fatal("rolled over within the day")
	}
	if c.Rollover(at("2025-06-08 10:00")) {
		t.Fatal("rolled over backwards")
	}
	clk.Set(at("2025-06-10 09:00"))
	_, rej := c.CheckNew(buy("A1", "n1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeSessionClosed)
	if c.Day() != "2025-06-10" {
		t.Fatal(c.Day())
	}
}

// TestReplayFrom: a replay may start on a day before the clock's (the
// Checker goes back to it, then rolls forward with the journal), or
// after it (a rollover).
func TestReplayFrom(t *testing.T) {
	c, _ := newChecker(t, nil) // the clock is on 2025-06-09
	c.ReplayFrom(at("2025-06-06 10:00"))
	if c.Day() != "2025-06-06" {
		t.Fatalf("after ReplayFrom an earlier day: %s", c.Day())
	}
	if !c.Rollover(at("2025-06-09 09:30")) || c.Day() != "2025-06-09" {
		t.Fatalf("the journal's next day: %s", c.Day())
	}
	c2, _ := newChecker(t, nil)
	c2.ReplayFrom(at("2025-06-10 10:00"))
	if c2.Day() != "2025-06-10" {
		t.Fatalf("after ReplayFrom a later day: %s", c2.Day())
	}
}

// TestDaysByCaller: with DaysByCaller the checks keep the day however late
// the clock; DayDue tells the day the clock is on, and RolloverTo starts
// it, once.
func TestDaysByCaller(t *testing.T) {
	c, clk := newChecker(t, nil)
	c.DaysByCaller()
	mustNew(t, c, buy("A1", "w", "000001.SZ", "10", 100))
	if d, later := c.DayDue(); d != 20250609 || later {
		t.Fatalf("DayDue = %d, %v within the day", d, later)
	}
	clk.Set(at("2025-06-10 09:30"))
	mustNew(t, c, buy("A1", "x", "000001.SZ", "10", 100)) // Monday's still
	if c.Day() != "2025-06-09" || c.DayDate() != 20250609 {
		t.Fatalf("a check changed the day to %s", c.Day())
	}
	d, later := c.DayDue()
	if d != 20250610 || !later || c.Day() != "2025-06-09" {
		t.Fatalf("DayDue = %d, %v after midnight; day %s", d, later, c.Day())
	}
	if !c.RolloverTo(d) || c.RolloverTo(d) || c.Day() != "2025-06-10" {
		t.Fatalf("RolloverTo: day %s", c.Day())
	}
	if st := snap(t, c, "A1"); st.OpenOrders != 0 {
		t.Fatalf("Monday's orders still work: %+v", st)
	}
	if _, later := c.DayDue(); later {
		t.Fatal("DayDue after the day began")
	}
}

// TestAlwaysOpenCarriesWorkingOrders: with AlwaysOpen the venue (the
// simulator) never closes, so an order working at midnight in Shanghai
// carries on into the next day: it can be cancelled, its fill is counted
// and its client order id stays used, while the day's other ends happen
// (an ended order's id may be used again, yesterday's buys are
// sellable). Before, risk expired it at the change of day while the
// simulator still worked it: its fill refused, its cancel refused.
func TestAlwaysOpenCarriesWorkingOrders(t *testing.T) {
	c, clk := newChecker(t, func(c *Config) { c.Schedule.AlwaysOpen = true })
	clk.Set(at(monday + " 23:59:59.999"))
	working := mustNew(t, c, buy("A1", "w", "000001.SZ", "10", 300))
	mustNew(t, c, buy("A1", "c", "000001.SZ", "10", 100))
	bought := mustNew(t, c, buy("A1", "b", "000001.SZ", "10", 200))
	wantErr(t, c.OnFill(bought, px("10"), 200), nil)

	c.Rollover(at("2025-06-11 02:00")) // Wednesday
	wantCode(t, c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: "c"}), "")
	_, rej := c.CheckNew(buy("A1", "w", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeDuplicateClOrd)
	again := mustNew(t, c, buy("A1", "b", "000001.SZ", "10", 100)) // b ended on Monday
	wantErr(t, c.OnFill(working, px("10"), 300), nil)
	if p := pos(snap(t, c, "A1"), "000001.SZ"); p.Sellable != 1200 || p.BoughtToday != 300 {
		t.Fatalf("position %+v, want 1,200 sellable (Monday's 200 bought among them) and 300 bought today", p)
	}
	if open := c.OpenOrders("A1"); len(open) != 2 || open[0].ClOrdID != "c" || open[1].ClOrdID != "b" {
		t.Fatalf("open orders %+v, want Monday's c (its cancel not yet answered) and today's b", open)
	}
	checkInvariants(t, c)
	wantErr(t, c.OnDone(again, 100), nil)
	c.Rollover(at("2025-06-12 02:00")) // Thursday: c carries on again
	if open := c.OpenOrders("A1"); len(open) != 1 || open[0].ClOrdID != "c" {
		t.Fatalf("open orders on Thursday %+v, want Monday's c", open)
	}
	checkInvariants(t, c)

	old, _ := newChecker(t, func(c *Config) { c.Schedule.AlwaysOpen = true })
	y := mustNew(t, old, buy("A1", "y", "000001.SZ", "10", 100))
	old.RolloverExpiring(at("2025-06-10 00:01")) // a replay of a journal written before day records
	wantErr(t, old.OnFill(y, px("10"), 100), ErrOrderClosed)

	e, _ := newChecker(t, nil) // the exchange's calendar: the day's end expires it
	x := mustNew(t, e, buy("A1", "x", "000001.SZ", "10", 100))
	e.Rollover(at("2025-06-10 09:00"))
	wantErr(t, e.OnFill(x, px("10"), 100), ErrOrderClosed)
	if open := e.OpenOrders("A1"); len(open) != 0 {
		t.Fatalf("open orders after the day's end %+v", open)
	}
}

// TestAlwaysOpenCarriedReplace: orders carried over two changes of day,
// with a replace pending across the first, then answered, filled,
// replaced again and cancelled: the books hold after each step.
func TestAlwaysOpenCarriedReplace(t *testing.T) {
	c, clk := newChecker(t, func(c *Config) { c.Schedule.AlwaysOpen = true })
	clk.Set(at(monday + " 23:00"))
	w := mustNew(t, c, buy("A1", "w", "000001.SZ", "10", 300))
	s := mustNew(t, c, sell("A1", "s", "000001.SZ", "10", 200))
	wantErr(t, c.OnFill(w, px("10"), 100), nil)
	rw, rej := c.CheckReplace("w", buy("A1", "w2", "000001.SZ", "10.5", 500))
	wantCode(t, rej, "")
	checkInvariants(t, c)
	c.Rollover(at("2025-06-10 00:10")) // w's replace pending across the change of day
	checkInvariants(t, c)
	wantErr(t, c.OnReplaced(rw), nil)
	wantErr(t, c.OnFill(w, px("10.5"), 100), nil)
	rs, rej := c.CheckReplace("s", sell("A1", "s2", "000001.SZ", "10", 300))
	wantCode(t, rej, "")
	wantErr(t, c.OnReplaceRejected(rs), nil)
	checkInvariants(t, c)
	c.Rollover(at("2025-06-11 00:10"))
	checkInvariants(t, c)
	wantCode(t, c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: "w2"}), "")
	wantErr(t, c.OnDone(w, 300), nil)
	wantErr(t, c.OnFill(s, px("10"), 200), nil)
	checkInvariants(t, c)
	if st := snap(t, c, "A1"); st.OpenOrders != 0 || st.Reserved != 0 {
		t.Errorf("%+v", st)
	}
}

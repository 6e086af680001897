package risk

import (
	"strings"
	"testing"
	"time"
)

func TestBuyFillReleasesPriceDifference(t *testing.T) {
	c, _ := newChecker(t, nil)
	start := snap(t, c, "A1").Cash
	r := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10.50", 1000))
	if r.Cash != cny(10_500) {
		t.Fatalf("reservation %+v", r)
	}
	// 400 at 10.00: the 400*0.50 it held beyond the fill comes back.
	wantErr(t, c.OnFill(r, px("10.00"), 400), nil)
	st := snap(t, c, "A1")
	if st.Reserved != cny(6300) || st.Cash != start-cny(6300)-cny(4000) {
		t.Fatalf("after fill: %+v (start %s)", st, start)
	}
	if p := pos(st, "000001.SZ"); p.Sellable != 1000 || p.BoughtToday != 400 {
		t.Fatalf("position %+v", p)
	}
	// Done with 600 left: the rest comes back.
	wantErr(t, c.OnDone(r, 600), nil)
	st = snap(t, c, "A1")
	if st.Reserved != 0 || st.Cash != start-cny(4000) || st.OpenOrders != 0 {
		t.Fatalf("after done: %+v", st)
	}
	checkInvariants(t, c)
}

func TestTPlusOne(t *testing.T) {
	c, clk := newChecker(t, nil)
	b1 := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10", 400))
	wantErr(t, c.OnFill(b1, px("10"), 400), nil)
	// Bought today: not sellable. A1 had 1000 from earlier days.
	_, rej := c.CheckNew(sell("A1", "s1", "000001.SZ", "10", 1400))
	wantCode(t, rej, CodePosition)
	if !strings.Contains(rej.Text, "400 bought today are sellable from the next trading day") {
		t.Fatal(rej.Text)
	}
	_, rej = c.CheckNew(sell("A1", "s1", "000001.SZ", "10", 1100))
	wantCode(t, rej, CodePosition)
	s2 := mustNew(t, c, sell("A1", "s2", "000001.SZ", "10", 1000))

	// A buy of a symbol not held before: nothing sellable today.
	cb1 := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 500))
	wantErr(t, c.OnFill(cb1, px("10"), 500), nil)
	_, rej = c.CheckNew(sell("C1", "s1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodePosition)

	// Next trading day: yesterday's buys are sellable; yesterday's working
	// sell expired and released its shares.
	clk.Set(at("2025-06-10 09:30"))
	mustNew(t, c, sell("C1", "s1", "000001.SZ", "10", 500))
	mustNew(t, c, sell("A1", "s1", "000001.SZ", "10", 1400))
	st := snap(t, c, "A1")
	if p := pos(st, "000001.SZ"); p.Sellable != 0 || p.Reserved != 1400 || p.BoughtToday != 0 || st.OpenOrders != 1 {
		t.Fatalf("next day: %+v", st)
	}
	checkInvariants(t, c)

	// Yesterday's Reservations name yesterday's orders, expired, never
	// today's with the same client order id.
	wantErr(t, c.OnFill(s2, px("10"), 100), ErrOrderClosed)
	wantErr(t, c.OnDone(s2, 1000), nil)
	today := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10", 400))
	wantErr(t, c.OnFill(b1, px("10"), 100), ErrOrderClosed)
	wantErr(t, c.OnDone(b1, 0), nil)
	if st := snap(t, c, "A1"); st.OpenOrders != 2 || st.Reserved != cny(4000) {
		t.Fatalf("yesterday's Reservation reached today's order: %+v", st)
	}
	wantErr(t, c.OnDone(today, 400), nil)
	checkInvariants(t, c)
}

func TestSellFillCreditsCashAtOnce(t *testing.T) {
	c, _ := newChecker(t, nil)
	// S1 has no cash and 150 STAR shares.
	s1 := mustNew(t, c, sell("S1", "s1", "688981.SH", "50.00", 150))
	_, rej := c.CheckNew(buy("S1", "b1", "000001.SZ", "10.00", 700))
	wantCode(t, rej, CodeCash)
	wantErr(t, c.OnFill(s1, px("50.00"), 150), nil)
	st := snap(t, c, "S1")
	if st.Cash != cny(7500) || st.OpenOrders != 0 || len(st.Positions) != 0 {
		t.Fatalf("after sell: %+v", st)
	}
	// The proceeds buy at once (A-share cash is T+0 for buying).
	mustNew(t, c, buy("S1", "b1", "000001.SZ", "10.00", 700))
	checkInvariants(t, c)
}

func TestPartialSellFill(t *testing.T) {
	c, _ := newChecker(t, nil)
	start := snap(t, c, "A1").Cash
	r := mustNew(t, c, sell("A1", "s1", "600519.SH", "1800", 200))
	if r.Shares != 200 || r.Cash != 0 {
		t.Fatalf("reservation %+v", r)
	}
	// Sells fill at or above the limit.
	wantErr(t, c.OnFill(r, px("1810"), 100), nil)
	st := snap(t, c, "A1")
	if p := pos(st, "600519.SH"); p.Sellable != 50 || p.Reserved != 100 || st.Cash != start+cny(181_000) {
		t.Fatalf("after fill: %+v", st)
	}
	wantErr(t, c.OnDone(r, 100), nil)
	if p := pos(snap(t, c, "A1"), "600519.SH"); p.Sellable != 150 || p.Reserved != 0 {
		t.Fatalf("after done: %+v", p)
	}
	checkInvariants(t, c)
}

func TestFullFillClosesOrder(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 1000))
	wantErr(t, c.OnFill(r, px("9.90"), 600), nil)
	wantErr(t, c.OnFill(r, px("9.80"), 400), nil)
	st := snap(t, c, "C1")
	if st.OpenOrders != 0 || st.Reserved != 0 || st.Cash != cny(10_000)-cny(5940)-cny(3920) {
		t.Fatalf("state %+v", st)
	}
	// Done after the last fill is a no-op; a further fill is refused.
	wantErr(t, c.OnDone(r, 0), nil)
	wantErr(t, c.OnFill(r, px("9.80"), 1), ErrOrderClosed)
	// A cancel of a done order is refused.
	wantCode(t, c.CheckCancel(Cancel{Account: "C1", OrigClOrdID: "b1"}), CodeUnknownOrder)
	checkInvariants(t, c)
}

func TestBadCallbacksChangeNothing(t *testing.T) {
	c, _ := newChecker(t, nil)
	b1 := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 500))
	s1 := mustNew(t, c, sell("A1", "s1", "000001.SZ", "10", 500))
	// other is a Checker of the same Config with the same order: its
	// Reservation looks like b1's but is not this Checker's.
	other, _ := newChecker(t, nil)
	ob1 := mustNew(t, other, buy("C1", "b1", "000001.SZ", "10", 500))
	made := *b1 // a copy is the same handle
	made.ord = nil
	before, otherBefore := snap(t, c, "C1"), snap(t, other, "C1")
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"over leaves", c.OnFill(b1, px("10"), 501), ErrBadFill},
		{"above limit", c.OnFill(b1, px("10.01"), 100), ErrBadFill},
		{"zero qty", c.OnFill(b1, px("10"), 0), ErrBadFill},
		{"zero price", c.OnFill(b1, 0, 100), ErrBadFill},
		{"sell whose value overflows", c.OnFill(s1, px("922337204"), 100), ErrBadFill}, // × the board maximum
		{"nil reservation", c.OnFill(nil, px("10"), 100), ErrUnknownReservation},
		{"hand-made reservation", c.OnFill(&Reservation{Account: "C1", ClOrdID: "b1"}, px("10"), 100), ErrUnknownReservation},
		{"copy without its link", c.OnFill(&made, px("10"), 100), ErrUnknownReservation},
		{"other checker's reservation", c.OnFill(ob1, px("10"), 100), ErrUnknownReservation},
		{"done nil", c.OnDone(nil, 0), ErrUnknownReservation},
		{"done other checker's", c.OnDone(ob1, 500), ErrUnknownReservation},
		{"replaced nil", c.OnReplaced(nil), ErrUnknownReservation},
		{"replaced other checker's", c.OnReplaced(ob1), ErrUnknownReservation},
		{"replace rejected nil", c.OnReplaceRejected(nil), ErrUnknownReservation},
		{"replaced not pending", c.OnReplaced(b1), ErrNotPending},
		{"replace rejected not pending", c.OnReplaceRejected(b1), ErrNotPending},
	} {
		t.Run(tc.name, func(t *testing.T) { wantErr(t, tc.err, tc.want) })
	}
	if after := snap(t, c, "C1"); after.Cash != before.Cash || after.Reserved != before.Reserved || after.OpenOrders != 1 {
		t.Fatalf("state changed: %+v -> %+v", before, after)
	}
	if after := snap(t, other, "C1"); after.Cash != otherBefore.Cash || after.Reserved != otherBefore.Reserved || after.OpenOrders != 1 {
		t.Fatalf("other checker's state changed: %+v -> %+v", otherBefore, after)
	}
	checkInvariants(t, c)
	checkInvariants(t, other)
}

func TestOnDoneLeavesMismatch(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 500))
	wantErr(t, c.OnDone(r, 300), ErrLeavesMismatch)
	st := snap(t, c, "C1")
	if st.Reserved != 0 || st.Cash != cny(10_000) || st.OpenOrders != 0 {
		t.Fatalf("not released: %+v", st)
	}
	checkInvariants(t, c)
}

func TestCancel(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10", 100))
	for _, tc := range []struct {
		name   string
		cancel Cancel
		code   string
	}{
		{"unknown account", Cancel{Account: "ZZ", OrigClOrdID: "b1"}, CodeUnknownAccount},
		{"unknown order", Cancel{Account: "A1", OrigClOrdID: "zz"}, CodeUnknownOrder},
		{"other account's order", Cancel{Account: "C1", OrigClOrdID: "b1"}, CodeUnknownOrder},
		{"wrong symbol", Cancel{Account: "A1", OrigClOrdID: "b1", Symbol: "600519.SH"}, CodeUnknownOrder},
		{"own id reused", Cancel{Account: "A1", OrigClOrdID: "b1", ClOrdID: "b1"}, CodeDuplicateClOrd},
		{"without own id", Cancel{Account: "A1", OrigClOrdID: "b1", Symbol: "000001.SZ"}, ""},
		{"with own id", Cancel{Account: "A1", OrigClOrdID: "b1", ClOrdID: "x1"}, ""},
		{"own id used twice", Cancel{Account: "A1", OrigClOrdID: "b1", ClOrdID: "x1"}, CodeDuplicateClOrd},
		{"through the cancel's id", Cancel{Account: "A1", OrigClOrdID: "x1", ClOrdID: "x2"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) { wantCode(t, c.CheckCancel(tc.cancel), tc.code) })
	}
	rej := c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: "zz"})
	if rej.FIXReason != FIXUnknownOrder || rej.CxlRejReason() != 1 {
		t.Fatalf("reject %+v", rej)
	}
	// The cancel's id is used for the day and names the order.
	_, rej = c.CheckNew(buy("A1", "x1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeDuplicateClOrd)
	// The order is done through its Reservation, whichever ids named it.
	wantErr(t, c.OnDone(r, 100), nil)
	if st := snap(t, c, "A1"); st.OpenOrders != 0 || st.Reserved != 0 {
		t.Fatalf("state %+v", st)
	}
	checkInvariants(t, c)
}

func TestReplaceBuy(t *testing.T) {
	c, _ := newChecker(t, nil)
	start := snap(t, c, "A1").Cash
	spent := cny(0)
	held := func(want int64) {
		t.Helper()
		st := snap(t, c, "A1")
		if st.Reserved != cny(want) || st.Cash+st.Reserved != start-spent {
			t.Fatalf("reserved %s, want %d (cash %s)", st.Reserved, want, st.Cash)
		}
	}
	b1 := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10.00", 1000))
	held(10_000)

	// Price up: holds the new terms at once.
	b2, rej := c.CheckReplace("b1", buy("A1", "b2", "000001.SZ", "10.50", 1000))
	wantCode(t, rej, "")
	if b2.Cash != cny(500) || b2.Qty != 1000 || b2.ClOrdID != "b2" {
		t.Fatalf("reservation %+v", b2)
	}
	held(10_500)
	_, rej = c.CheckReplace("b1", buy("A1", "b3", "000001.SZ", "10.60", 1000))
	wantCode(t, rej, CodeReplacePending)
	if rej.CxlRejReason() != 3 {
		t.Fatal(rej.CxlRejReason())
	}
	wantErr(t, c.OnReplaced(b2), nil)
	held(10_500)

	// Price down, quantity up: while pending it holds the larger price
	// times the larger quantity.
	b4, rej := c.CheckReplace("b2", buy("A1", "b4", "000001.SZ", "9.50", 1200))
	wantCode(t, rej, "")
	if b4.Cash != cny(12_600-10_500) {
		t.Fatalf("reservation %+v", b4)
	}
	held(12_600)
	// An earlier replace's Reservation does not answer this one.
	wantErr(t, c.OnReplaced(b2), ErrNotPending)
	wantErr(t, c.OnReplaceRejected(b2), ErrNotPending)
	held(12_600)
	// A fill at the old terms while pending, through the order's
	// Reservation.
	wantErr(t, c.OnFill(b1, px("10.50"), 200), nil)
	spent += cny(2100)
	held(10_500)
	wantErr(t, c.OnReplaced(b4), nil)
	held(9_500) // 1000 left at 9.50
	if oo := c.OpenOrders("A1"); len(oo) != 1 || oo[0].ClOrdID != "b4" || oo[0].LeavesQty != 1000 || oo[0].Price != px("9.50") {
		t.Fatalf("open orders %+v", oo)
	}

	// Rejected upstream: back to the old terms.
	b5, rej := c.CheckReplace("b4", buy("A1", "b5", "000001.SZ", "10.00", 1200))
	wantCode(t, rej, "")
	held(10_000)
	wantErr(t, c.OnReplaceRejected(b5), nil)
	held(9_500)
	wantErr(t, c.OnReplaced(b5), ErrNotPending)

	// Quantity not above the filled 200.
	_, rej = c.CheckReplace("b4", buy("A1", "b6", "000001.SZ", "9.50", 200))
	wantCode(t, rej, CodeBadQty)
	_, rej = c.CheckReplace("b4", sell("A1", "b6", "000001.SZ", "9.50", 1200))
	wantCode(t, rej, CodeUnsupportedType)
	_, rej = c.CheckReplace("b4", buy("A1", "b6", "600519.SH", "1700", 1200))
	wantCode(t, rej, CodeUnsupportedType)
	_, rej = c.CheckReplace("zz", buy("A1", "b6", "000001.SZ", "9.50", 1200))
	wantCode(t, rej, CodeUnknownOrder)
	_, rej = c.CheckReplace("b4", buy("A1", "b1", "000001.SZ", "9.50", 1200))
	wantCode(t, rej, CodeDuplicateClOrd)
	_, rej = c.CheckReplace("b4", buy("A1", "b6", "000001.SZ", "11.01", 1200))
	wantCode(t, rej, CodePriceBand)
	_, rej = c.CheckReplace("b4", buy("A1", "b6", "000001.SZ", "9.50", 1250))
	wantCode(t, rej, CodeLot)

	// Filled to the new quantity: done. A replace's Reservation names its
	// order too.
	wantErr(t, c.OnFill(b4, px("9.50"), 1000), nil)
	spent += cny(9500)
	held(0)
	_, rej = c.CheckReplace("b4", buy("A1", "b7", "000001.SZ", "9.50", 1300))
	wantCode(t, rej, CodeUnknownOrder)
	checkInvariants(t, c)
}

func TestReplaceCash(t *testing.T) {
	c, _ := newChecker(t, nil)
	mustNew(t, c, buy("C1", "b1", "000001.SZ", "10.00", 1000)) // all of C1's cash
	_, rej := c.CheckReplace("b1", buy("C1", "b2", "000001.SZ", "10.01", 1000))
	wantCode(t, rej, CodeCash)
	// A lower price needs nothing more; the replace id is now used.
	r, rej := c.CheckReplace("b1", buy("C1", "b2", "000001.SZ", "9.99", 1000))
	wantCode(t, rej, "")
	if r.Cash != 0 {
		t.Fatalf("reservation %+v", r)
	}
	wantErr(t, c.OnReplaced(r), nil)
	if st := snap(t, c, "C1"); st.Cash != cny(10) || st.Reserved != cny(9990) {
		t.Fatalf("state %+v", st)
	}
	checkInvariants(t, c)
}

func TestReplaceSell(t *testing.T) {
	c, _ := newChecker(t, nil)
	// 250 held: sell 100, then replace it by the whole 250.
	s1 := mustNew(t, c, sell("A1", "s1", "600519.SH", "1800", 100))
	_, rej := c.CheckReplace("s1", sell("A1", "s2", "600519.SH", "1800", 260))
	wantCode(t, rej, CodePosition)
	_, rej = c.CheckReplace("s1", sell("A1", "s2", "600519.SH", "1800", 130))
	wantCode(t, rej, CodeOddLot)
	r, rej := c.CheckReplace("s1", sell("A1", "s2", "600519.SH", "1800", 250))
	wantCode(t, rej, "")
	if r.Shares != 150 {
		t.Fatalf("reservation %+v", r)
	}
	if p := pos(snap(t, c, "A1"), "600519.SH"); p.Sellable != 0 || p.Reserved != 250 {
		t.Fatalf("position %+v", p)
	}
	wantErr(t, c.OnReplaceRejected(r), nil)
	if p := pos(snap(t, c, "A1"), "600519.SH"); p.Sellable != 150 || p.Reserved != 100 {
		t.Fatalf("position %+v", p)
	}
	// Old quantity filled while a smaller replace was pending, then the
	// replace is refused: the order is done.
	_, rej = c.CheckReplace("s1", sell("A1", "s3", "600519.SH", "1800", 30))
	wantCode(t, rej, CodeOddLot) // not the whole odd 50 of the 150 free + 100 held
	s3, rej := c.CheckReplace("s1", sell("A1", "s3", "600519.SH", "1800", 200))
	wantCode(t, rej, "")
	wantErr(t, c.OnFill(s1, px("1800"), 100), nil)
	wantErr(t, c.OnReplaceRejected(s3), nil)
	st := snap(t, c, "A1")
	if p := pos(st, "600519.SH"); p.Sellable != 150 || p.Reserved != 0 || st.OpenOrders != 0 {
		t.Fatalf("state %+v", st)
	}
	checkInvariants(t, c)
}

// TestOnLateFill: a fill reported after the caller closed the order on
// its own word (an order expired after the close, the venue silent) moves
// cash and shares as a fill does, with no hold left to release, within
// the arithmetic bound (not the order's terms, which a replace may have changed at
// the venue); bought on an earlier day, the shares are sellable at once
// (T+1). An order still working takes it as OnFill.
func TestOnLateFill(t *testing.T) {
	c, clk := newChecker(t, nil)
	b := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10", 300))
	s := mustNew(t, c, sell("A1", "s1", "000001.SZ", "10", 200))
	y := mustNew(t, c, buy("A1", "b2", "000001.SZ", "10", 100))
	before := snap(t, c, "A1")
	for _, r := range []*Reservation{b, s, y} {
		wantErr(t, c.OnDone(r, r.Qty), nil)
	}
	wantErr(t, c.OnFill(b, px("10"), 100), ErrOrderClosed)
	wantErr(t, c.OnLateFill(b, px("10"), 100), nil)
	wantErr(t, c.OnLateFill(s, px("10.5"), 200), nil)
	wantErr(t, c.OnLateFill(b, px("922337204"), 1), ErrBadFill) // × the board maximum overflows
	wantErr(t, c.OnLateFill(s, px("10"), 0), ErrBadFill)
	st := snap(t, c, "A1")
	p := pos(st, "000001.SZ")
	if want := before.Cash + before.Reserved - cny(1000) + cny(2100); st.Cash != want || st.Reserved != 0 || st.OpenOrders != 0 {
		t.Errorf("cash %s reserved %s open %d, want %s, nothing held", st.Cash, st.Reserved, st.OpenOrders, want)
	}
	if p.Sellable != 800 || p.BoughtToday != 100 || p.Reserved != 0 {
		t.Errorf("position %+v, want 800 sellable (1000 less 200 sold), 100 bought today", p)
	}
	checkInvariants(t, c)

	clk.Set(at("2025-06-10 09:30")) // the next day: b2's late fill is yesterday's buy
	c.Rollover(clk.Now())
	wantErr(t, c.OnLateFill(y, px("10"), 100), nil)
	if p := pos(snap(t, c, "A1"), "000001.SZ"); p.Sellable != 1000 || p.BoughtToday != 0 {
		t.Errorf("after a day: %+v, want b1's 100 and b2's 100 sellable", p)
	}

	w := mustNew(t, c, buy("A1", "w1", "000001.SZ", "10", 100))
	wantErr(t, c.OnLateFill(w, px("10"), 100), nil) // working: a fill as any
	if st := snap(t, c, "A1"); st.OpenOrders != 0 || st.Reserved != 0 {
		t.Errorf("a working order's fill through OnLateFill: %+v", st)
	}
	checkInvariants(t, c)
}

// TestSinceClose: the time since the close (15:00 in Shanghai) on a
// trading day; none on a weekend or holiday, nor when always open.
func TestSinceClose(t *testing.T) {
	c, clk := newChecker(t, nil)
	for _, tc := range []struct {
		at    string
		date  int32
		since time.Duration
		ok    bool
	}{
		{monday + " 10:00", 20250609, -5 * time.Hour, true},
		{monday + " 16:00", 20250609, time.Hour, true},
		{"2025-06-09 23:59:59", 20250609, 9*time.Hour - time.Second, true},
		{"2025-06-07 16:00", 20250607, 0, false}, // Saturday
		{"2025-10-01 16:00", 20251001, 0, false}, // a holiday
	} {
		clk.Set(at(tc.at))
		if date, since, ok := c.SinceClose(); date != tc.date || since != tc.since || ok != tc.ok {
			t.Errorf("%s: %d %v %v, want %d %v %v", tc.at, date, since, ok, tc.date, tc.since, tc.ok)
		}
	}
	o, clk := newChecker(t, func(c *Config) { c.Schedule.AlwaysOpen = true })
	clk.Set(at(monday + " 16:00"))
	if _, _, ok := o.SinceClose(); ok {
		t.Error("always open: a close")
	}
}

// TestLateSellShownOversold: a sell the caller closed on its own word
// freed its shares, a newer sell holds them, then the venue reports the
// first one filled: the shares were sold once there, and the account
// shows the newer sell's hold beyond the position (Sellable negative),
// not a position gone from view.
func TestLateSellShownOversold(t *testing.T) {
	c, clk := newChecker(t, nil)
	s1 := mustNew(t, c, sell("A1", "s1", "000001.SZ", "10", 1000))
	wantErr(t, c.OnDone(s1, 1000), nil) // expired without the venue's word
	clk.Set(at("2025-06-10 09:30"))
	c.Rollover(clk.Now())
	mustNew(t, c, sell("A1", "s2", "000001.SZ", "10", 1000))
	wantErr(t, c.OnLateFill(s1, px("10"), 1000), nil)
	if p := pos(snap(t, c, "A1"), "000001.SZ"); p.Reserved != 1000 || p.Sellable != -1000 {
		t.Errorf("position %+v, want s2's 1,000 held with none left", p)
	}
}

// TestReplacedLate: a replace refused for want of an answer
// (OnReplaceRejected) that the upstream took after all becomes the
// order's terms (OnReplacedLate): its id, price and quantity, and its
// session; with a later replace pending the order holds the worst case of
// both, and its fills up to the late terms pass. It refuses an order's
// own Reservation and an order done.
func TestReplacedLate(t *testing.T) {
	c, _ := newChecker(t, nil)
	start := snap(t, c, "A1").Cash
	b1 := mustNew(t, c, buy("A1", "b1", "000001.SZ", "10.00", 1000))
	b2, rej := c.CheckReplace("b1", buy("A1", "b2", "000001.SZ", "10.00", 2000))
	wantCode(t, rej, "")
	wantErr(t, c.OnReplaceRejected(b2), nil)
	o3 := buy("A1", "b3", "000001.SZ", "10.50", 1000)
	o3.Session = "ws:s3"
	b3, rej := c.CheckReplace("b1", o3)
	wantCode(t, rej, "")
	wantErr(t, c.OnReplacedLate(b1, ""), ErrNotPending)

	o2 := b2.ord
	wantErr(t, c.OnReplacedLate(b2, "ws:s2"), nil)
	if o2.clOrdID != "b2" || o2.qty != 2000 || o2.session != "ws:s2" || !o2.pending {
		t.Fatalf("after the late replace: %s qty %d session %s pending %v; want b2's terms, b3 still pending", o2.clOrdID, o2.qty, o2.session, o2.pending)
	}
	if st := snap(t, c, "A1"); st.Reserved != cny(21_000) { // 2,000 at 10.50, b3's price
		t.Fatalf("held %s with b2 taken late and b3 pending; want 21000.00", st.Reserved)
	}
	checkInvariants(t, c)
	wantErr(t, c.OnReplaceRejected(b3), nil)
	if st := snap(t, c, "A1"); st.Reserved != cny(20_000) {
		t.Fatalf("held %s on b2's terms; want 20000.00", st.Reserved)
	}
	wantErr(t, c.OnFill(b1, px("10.00"), 1500), nil) // beyond b1's 1,000
	wantErr(t, c.OnFill(b1, px("10.00"), 500), nil)
	if st := snap(t, c, "A1"); st.Reserved != 0 || st.OpenOrders != 0 || st.Cash != start-cny(20_000) {
		t.Fatalf("after 2,000 filled: %+v", st)
	}
	wantErr(t, c.OnReplacedLate(b2, ""), ErrOrderClosed)
	checkInvariants(t, c)
}

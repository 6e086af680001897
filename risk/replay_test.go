package risk

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"sgw/refdata"
)

// journalEntry is one accepted request or callback, as the journal would
// record it. A callback's order names the Reservation it was given: the
// order's (its account and client order id) or a replace's (the
// replace's id).
type journalEntry struct {
	kind   string // new, cancel, replace, fill, done, replaced, replace_rejected
	order  Order
	cancel Cancel
	orig   string
	price  refdata.Price
	qty    int64
}

// TestReplayReproducesState runs a day through the Check methods and the
// callbacks, journals what was accepted, replays the journal through the
// Restore methods on a fresh Checker whose clock is somewhere else
// entirely (a Sunday night), and compares the states. Each side keeps the
// Reservations its checker returned, as the order path does, and passes
// them to the callbacks.
func TestReplayReproducesState(t *testing.T) {
	live, clk := newChecker(t, nil)
	var journal []journalEntry
	liveResv := map[[2]string]*Reservation{}
	newOrder := func(o Order) {
		if r, rej := live.CheckNew(o); rej == nil {
			liveResv[[2]string{o.Account, o.ClOrdID}] = r
			journal = append(journal, journalEntry{kind: "new", order: o})
		}
	}
	cancel := func(x Cancel) {
		if live.CheckCancel(x) == nil {
			journal = append(journal, journalEntry{kind: "cancel", cancel: x})
		}
	}
	replace := func(orig string, o Order) {
		if r, rej := live.CheckReplace(orig, o); rej == nil {
			liveResv[[2]string{o.Account, o.ClOrdID}] = r
			journal = append(journal, journalEntry{kind: "replace", orig: orig, order: o})
		}
	}
	callback := func(kind, acct, id string, price refdata.Price, qty int64) {
		var err error
		r := liveResv[[2]string{acct, id}]
		switch kind {
		case "fill":
			err = live.OnFill(r, price, qty)
		case "done":
			err = live.OnDone(r, qty)
		case "replaced":
			err = live.OnReplaced(r)
		case "replace_rejected":
			err = live.OnReplaceRejected(r)
		}
		if err != nil {
			t.Fatalf("%s %s: %v", kind, id, err)
		}
		journal = append(journal, journalEntry{kind: kind, order: Order{Account: acct, ClOrdID: id}, price: price, qty: qty})
	}

	newOrder(buy("A1", "b1", "000001.SZ", "10.50", 1000))
	newOrder(buy("A1", "b2", "000001.SZ", "12.00", 1000)) // rejected: band
	newOrder(sell("A1", "s1", "600519.SH", "1800", 250))
	newOrder(buy("C1", "c1", "688981.SH", "50", 200))
	clk.Advance(time.Minute)
	callback("fill", "A1", "b1", px("10.00"), 300)
	replace("b1", buy("A1", "b3", "000001.SZ", "10.20", 900))
	callback("fill", "A1", "b1", px("10.40"), 100)
	callback("replaced", "A1", "b3", 0, 0)
	callback("fill", "A1", "s1", px("1801"), 150)
	cancel(Cancel{Account: "A1", OrigClOrdID: "s1", ClOrdID: "x1"})
	callback("done", "A1", "s1", 0, 100)
	callback("fill", "C1", "c1", px("49.99"), 200)
	newOrder(sell("S1", "s9", "688981.SH", "50", 150))
	replace("s9", sell("S1", "s10", "688981.SH", "51", 150))
	callback("replace_rejected", "S1", "s10", 0, 0)
	newOrder(buy("M1", "m1", "300750.SZ", "200", 100)) // rejected: not credit
	m := buy("M1", "m1", "300750.SZ", "200", 100)
	m.Credit = true
	newOrder(m)

	replayed, err := New(testConfig(), NewManualClock(at("2025-06-08 23:00")))
	if err != nil {
		t.Fatal(err)
	}
	// The journal starts on Monday.
	replayed.Rollover(at(monday + " 09:00"))
	replayedResv := map[[2]string]*Reservation{}
	for _, e := range journal {
		var err error
		k := [2]string{e.order.Account, e.order.ClOrdID}
		switch e.kind {
		case "new":
			r, rej := replayed.RestoreNew(e.order)
			if rej != nil {
				err = rej
			}
			replayedResv[k] = r
		case "cancel":
			if rej := replayed.RestoreCancel(e.cancel); rej != nil {
				err = rej
			}
		case "replace":
			r, rej := replayed.RestoreReplace(e.orig, e.order)
			if rej != nil {
				err = rej
			}
			replayedResv[k] = r
		case "fill":
			err = replayed.OnFill(replayedResv[k], e.price, e.qty)
		case "done":
			err = replayed.OnDone(replayedResv[k], e.qty)
		case "replaced":
			err = replayed.OnReplaced(replayedResv[k])
		case "replace_rejected":
			err = replayed.OnReplaceRejected(replayedResv[k])
		}
		if err != nil {
			t.Fatalf("replay %s %s: %v", e.kind, e.order.ClOrdID, err)
		}
	}
	for _, acct := range []string{"A1", "C1", "M1", "S1"} {
		a, b := snap(t, live, acct), snap(t, replayed, acct)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: live %+v\nreplayed %+v", acct, a, b)
		}
	}
	if a, b := fmt.Sprint(live.OpenOrders("")), fmt.Sprint(replayed.OpenOrders("")); a != b {
		t.Errorf("open orders: live %s, replayed %s", a, b)
	}
	if live.Day() != replayed.Day() {
		t.Errorf("day %s vs %s", live.Day(), replayed.Day())
	}
	checkInvariants(t, replayed)
	// Restore still refuses what would corrupt the books.
	for _, tc := range []struct {
		o    Order
		code string
	}{
		{buy("A1", "b1", "000001.SZ", "10", 100), CodeDuplicateClOrd},
		{buy("ZZ", "z1", "000001.SZ", "10", 100), CodeUnknownAccount},
		{buy("A1", "z1", "999999.SH", "10", 100), CodeUnknownSymbol},
		{buy("A1", "z1", "000001.SZ", "922337204", 100), CodePriceBand}, // × the board maximum overflows
		{buy("A1", "z1", "000001.SZ", "10", 2_000_000), CodeMaxQty},
		{buy("A1", "z1", "000001.SZ", "10", 0), CodeBadQty},
	} {
		_, rej := replayed.RestoreNew(tc.o)
		wantCode(t, rej, tc.code)
	}
	// Restore skips policy: C1 has no cash left, yet a journaled buy is
	// restored and its cash goes negative, blocking new buys.
	if _, rej := replayed.RestoreNew(buy("C1", "c2", "000001.SZ", "10", 100)); rej != nil {
		t.Fatal(rej)
	}
	if st := snap(t, replayed, "C1"); st.Cash >= 0 {
		t.Fatalf("cash %s", st.Cash)
	}
}

// TestRestoreUnderAnotherPrevClose: a journal's requests were within the
// band of their own day; the Checker that replays them may have another
// previous close (the next morning's reference data, or a corrected one).
// Before, Restore checked them against the configured band and the
// replay stopped at the first one outside it: a gateway restarted the day
// after a stock moved, over a journal holding the last day's orders, did
// not start. A replayed price is bounded by the arithmetic only; live
// orders still by the band.
func TestRestoreUnderAnotherPrevClose(t *testing.T) {
	day1, day2 := at(monday+" 10:00"), at("2025-06-10 10:00")
	for _, tc := range []struct {
		name      string
		prevClose string // the replaying Checker's for 000001.SZ (day 1's: 10.00)
		order     Order  // accepted on day 1
		replace   string // day 1's replace of it to this price, if set
		code      string // "" = restored
	}{
		{name: "the stock rose: a buy at day 1's limit-down", prevClose: "11.00",
			order: buy("A1", "b1", "000001.SZ", "9.00", 100), replace: "9.05"},
		{name: "the stock fell: a sell at day 1's limit-up", prevClose: "9.00",
			order: sell("A1", "s1", "000001.SZ", "11.00", 100), replace: "10.95"},
		{name: "ex-rights halved the previous close", prevClose: "5.00",
			order: buy("A1", "b1", "000001.SZ", "10.50", 200), replace: "10.60"},
		{name: "a price whose product with the board maximum overflows", prevClose: "10.00",
			order: buy("A1", "b1", "000001.SZ", "922337204", 100), code: CodePriceBand},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next := func(c *Config) { c.Instruments[1].PrevClose = px(tc.prevClose) }
			c, clk := newChecker(t, next)
			clk.Set(day2)
			c.ReplayFrom(day1)
			r, rej := c.RestoreNew(tc.order)
			wantCode(t, rej, tc.code)
			if rej != nil {
				return
			}
			held := refdata.Price(tc.order.Qty) * tc.order.Price
			if tc.order.Side == Sell {
				held = refdata.Price(tc.order.Qty)
			}
			if got := r.Cash + refdata.Price(r.Shares); got != held {
				t.Errorf("restored order holds %s, want %s", got, held)
			}
			if tc.replace != "" {
				o := tc.order
				o.ClOrdID, o.Price = o.ClOrdID+"r", px(tc.replace)
				rr, rej := c.RestoreReplace(tc.order.ClOrdID, o)
				wantCode(t, rej, "")
				wantErr(t, c.OnReplaced(rr), nil)
			}
			checkInvariants(t, c)
			// Day 2: the live checks keep to the configured band.
			c.Rollover(day2)
			o := tc.order
			o.ClOrdID = "live"
			_, rej = c.CheckNew(o)
			wantCode(t, rej, CodePriceBand)
			if st := snap(t, c, "A1"); st.Reserved != 0 || st.OpenOrders != 0 {
				t.Errorf("day 1's order still holds on day 2: %+v", st)
			}
		})
	}
}

// TestReplayedFillsUnderAnotherPrevClose: a journal's fills were within
// the band of their own day; replayed under the next day's reference
// data, after the stock fell (or went ex-rights), they lie above the
// configured limit-up. Before, OnFill, OnLateFill and OnTradeAmended
// refused them (ErrBadFill, counted by the order path as a risk ledger
// refusal): the restarted gateway's account missed the shares bought and
// kept the cash spent (a buy it cannot pay for then passed), or missed a
// sell's proceeds. A fill is bounded by the arithmetic (and a buy by its
// limit), not the band, so a replay ends as the live day did.
func TestReplayedFillsUnderAnotherPrevClose(t *testing.T) {
	day1, day2 := at(monday+" 10:00"), at("2025-06-10 10:00")
	day := func(t *testing.T, c *Checker, r1, r2 *Reservation) {
		t.Helper()
		wantErr(t, c.OnFill(r1, px("10.80"), 100), nil)
		wantErr(t, c.OnFill(r2, px("10.95"), 200), nil)
		wantErr(t, c.OnTradeAmended(r1, TradeAmend{Price: px("10.80"), Qty: 100, Day: mondayDate, NewPrice: px("10.70"), NewQty: 100, Working: true}), nil)
		wantErr(t, c.OnDone(r1, 200), nil)
		wantErr(t, c.OnLateFill(r1, px("10.85"), 100), nil)
	}
	b1, s1 := buy("A1", "b1", "000001.SZ", "10.90", 300), sell("A1", "s1", "000001.SZ", "10.50", 200)
	live, _ := newChecker(t, nil) // prev_close 10.00: band 9.00-11.00
	day(t, live, mustNew(t, live, b1), mustNew(t, live, s1))
	for _, prevClose := range []string{"9.00", "5.00", "11.00"} {
		t.Run("prev_close "+prevClose, func(t *testing.T) {
			c, clk := newChecker(t, func(c *Config) { c.Instruments[1].PrevClose = px(prevClose) })
			clk.Set(day2)
			c.ReplayFrom(day1)
			r1, rej := c.RestoreNew(b1)
			wantCode(t, rej, "")
			r2, rej := c.RestoreNew(s1)
			wantCode(t, rej, "")
			day(t, c, r1, r2)
			if got, want := snap(t, c, "A1"), snap(t, live, "A1"); !sameState(got, want) {
				t.Errorf("replayed under prev_close %s: %+v, live %+v", prevClose, got, want)
			}
			checkInvariants(t, c)
		})
	}
}

package risk

import (
	"errors"
	"testing"
	"time"

	"sgw/refdata"
)

// cst is China Standard Time; the tests build instants in it.
var cst = time.FixedZone("CST", 8*3600)

// at parses "2006-01-02 15:04:05.000" (seconds and milliseconds optional)
// in China Standard Time.
func at(s string) time.Time {
	for _, layout := range []string{"2006-01-02 15:04:05.000", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, cst); err == nil {
			return t
		}
	}
	panic("bad test time " + s)
}

// monday is 2025-06-09, a Monday and a trading day.
const monday = "2025-06-09"

// px parses a price.
func px(s string) refdata.Price {
	p, err := refdata.ParsePrice(s)
	if err != nil {
		panic(err)
	}
	return p
}

// cny returns an amount of whole yuan in Price units.
func cny(v int64) refdata.Price { return refdata.Price(v * refdata.PriceScale) }

// testConfig is the fixture:
//
//	600519.SH main    prev 1700.00  band 1530.00-1870.00
//	000001.SZ main    prev   10.00  band    9.00-11.00
//	300750.SZ chinext prev  200.00  band  160.00-240.00
//	688981.SH star    prev   50.00  band   40.00-60.00
//	600200.SH st      prev    5.00  band    4.75-5.25
//	601398.SH main    prev    5.00  band    4.50-5.50
//
// Accounts: A1 cash 100,000,000 with 600519.SH 250, 688981.SH 350,
// 000001.SZ 1000; C1 cash 10,000; M1 credit, cash 1,000,000; S1 no cash,
// 688981.SH 150.
func testConfig() Config {
	return Config{
		Instruments: []refdata.Instrument{
			{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: px("1700")},
			{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: px("10")},
			{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: px("200")},
			{Symbol: "688981.SH", Board: refdata.BoardSTAR, PrevClose: px("50")},
			{Symbol: "600200.SH", Board: refdata.BoardST, PrevClose: px("5")},
			{Symbol: "601398.SH", Board: refdata.BoardMain, PrevClose: px("5")},
		},
		Accounts: []AccountConfig{
			{ID: "A1", Cash: cny(100_000_000), Positions: map[string]int64{"600519.SH": 250, "688981.SH": 350, "000001.SZ": 1000}},
			{ID: "C1", Cash: cny(10_000)},
			{ID: "M1", Credit: true, Cash: cny(1_000_000)},
			{ID: "S1", Positions: map[string]int64{"688981.SH": 150}},
		},
		Schedule:    ScheduleConfig{Holidays: []string{"2025-10-01"}},
		AccountRate: 1000,
		SessionRate: 1000,
	}
}

// newChecker builds a Checker of testConfig, changed by mutate if not nil,
// with a manual clock at Monday 10:00.
func newChecker(t testing.TB, mutate func(*Config)) (*Checker, *ManualClock) {
	t.Helper()
	cfg := testConfig()
	if mutate != nil {
		mutate(&cfg)
	}
	clk := NewManualClock(at(monday + " 10:00"))
	c, err := New(cfg, clk)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c, clk
}

// buy and sell build limit orders on session "s1".
func buy(acct, id, sym, price string, qty int64) Order {
	return Order{Account: acct, Session: "s1", ClOrdID: id, Symbol: sym, Side: Buy, Type: Limit, Price: px(price), Qty: qty}
}

func sell(acct, id, sym, price string, qty int64) Order {
	o := buy(acct, id, sym, price, qty)
	o.Side = Sell
	return o
}

// wantCode fails unless rej has the code ("" means accepted).
func wantCode(t testing.TB, rej *Reject, code string) {
	t.Helper()
	switch {
	case code == "" && rej != nil:
		t.Fatalf("rejected %s: %s, want accepted", rej.Code, rej.Text)
	case code != "" && rej == nil:
		t.Fatalf("accepted, want %s", code)
	case code != "" && rej.Code != code:
		t.Fatalf("rejected %s (%s), want %s", rej.Code, rej.Text, code)
	}
}

// mustNew places an order that must be accepted.
func mustNew(t testing.TB, c *Checker, o Order) *Reservation {
	t.Helper()
	r, rej := c.CheckNew(o)
	wantCode(t, rej, "")
	return r
}

// snap returns an account's state or fails.
func snap(t testing.TB, c *Checker, acct string) AccountState {
	t.Helper()
	st, err := c.Snapshot(acct)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// pos returns one position of a snapshot (zero if absent).
func pos(st AccountState, sym string) PositionState {
	for _, p := range st.Positions {
		if p.Symbol == sym {
			return p
		}
	}
	return PositionState{Symbol: sym}
}

// wantErr fails unless errors.Is(err, target) (nil target: no error).
func wantErr(t testing.TB, err, target error) {
	t.Helper()
	if target == nil && err != nil || target != nil && !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

// checkInvariants verifies the books of every account: nothing negative,
// each account's reserved cash and each position's reserved shares equal
// the sum of what its working orders hold, and every order holds exactly
// what it requires.
func checkInvariants(t testing.TB, c *Checker) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	cash := map[*account]int64{}
	shares := map[*position]int64{}
	open := map[*account]int{}
	c.eachOrder(func(o *order) {
		if o.held != o.required() {
			t.Fatalf("order %s holds %d, requires %d", o.clOrdID, o.held, o.required())
		}
		if o.done {
			return
		}
		open[o.acct]++
		if q, _ := o.bounds(); o.cum < 0 || o.cum >= q {
			t.Fatalf("working order %s: cum %d of %d", o.clOrdID, o.cum, o.qty)
		}
		if o.side == Buy {
			cash[o.acct] += o.held
		} else {
			shares[o.pos] += o.held
		}
	})
	for _, a := range c.accounts {
		if a.avail < 0 || a.reserved < 0 {
			t.Fatalf("account %s: avail %d reserved %d", a.id, a.avail, a.reserved)
		}
		if int64(a.reserved) != cash[a] {
			t.Fatalf("account %s: reserved %d, orders hold %d", a.id, a.reserved, cash[a])
		}
		if a.open != open[a] {
			t.Fatalf("account %s: open %d, counted %d", a.id, a.open, open[a])
		}
		for i, p := range a.pos {
			if p.sellable < 0 || p.reserved < 0 || p.today < 0 || p.reserved > p.sellable {
				t.Fatalf("account %s %s: %+v", a.id, c.instr[i].Symbol, *p)
			}
			if p.reserved != shares[p] {
				t.Fatalf("account %s %s: reserved %d, orders hold %d", a.id, c.instr[i].Symbol, p.reserved, shares[p])
			}
		}
	}
}

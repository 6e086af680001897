package risk

import (
	"errors"
	"strings"
	"testing"

	"sgw/refdata"
)

// newOrderCase is one CheckNew on a fresh fixture checker.
type newOrderCase struct {
	name   string
	mutate func(*Config)
	order  Order
	code   string // "" = accepted
	text   string // substring of the reject text, if set
}

func runNewOrderCases(t *testing.T, cases []newOrderCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newChecker(t, tc.mutate)
			r, rej := c.CheckNew(tc.order)
			wantCode(t, rej, tc.code)
			if rej != nil {
				if r != nil {
					t.Fatal("reject with a reservation")
				}
				if tc.text != "" && !strings.Contains(rej.Text, tc.text) {
					t.Fatalf("text %q, want it to contain %q", rej.Text, tc.text)
				}
				if rej.FIXReason != fixReason(tc.code) {
					t.Fatalf("FIXReason %d", rej.FIXReason)
				}
				// A rejected order changes no account.
				if st, err := c.Snapshot(tc.order.Account); err == nil && (st.Reserved != 0 || st.OpenOrders != 0) {
					t.Fatalf("rejected order left state %+v", st)
				}
			} else if r == nil || r.ClOrdID != tc.order.ClOrdID {
				t.Fatalf("reservation %+v", r)
			}
			checkInvariants(t, c)
		})
	}
}

func TestCheckNewPriceBandAndTick(t *testing.T) {
	runNewOrderCases(t, []newOrderCase{
		{name: "main at limit-up", order: buy("A1", "c1", "600519.SH", "1870.00", 100)},
		{name: "main one tick above limit-up", order: buy("A1", "c1", "600519.SH", "1870.01", 100), code: CodePriceBand},
		{name: "main far above", order: buy("A1", "c1", "600519.SH", "1900.00", 100), code: CodePriceBand,
			text: "price 1900.00 outside limit band 1530.00-1870.00"},
		{name: "main at limit-down", order: buy("A1", "c1", "600519.SH", "1530.00", 100)},
		{name: "main one tick below limit-down", order: buy("A1", "c1", "600519.SH", "1529.99", 100), code: CodePriceBand},
		{name: "sell above limit-up", order: sell("A1", "c1", "600519.SH", "1870.01", 100), code: CodePriceBand},
		{name: "chinext at +20%", order: buy("A1", "c1", "300750.SZ", "240.00", 100)},
		{name: "chinext one tick above +20%", order: buy("A1", "c1", "300750.SZ", "240.01", 100), code: CodePriceBand},
		{name: "chinext at -20%", order: buy("A1", "c1", "300750.SZ", "160.00", 100)},
		{name: "chinext one tick below -20%", order: buy("A1", "c1", "300750.SZ", "159.99", 100), code: CodePriceBand},
		{name: "star at +20%", order: buy("A1", "c1", "688981.SH", "60.00", 200)},
		{name: "star one tick above +20%", order: buy("A1", "c1", "688981.SH", "60.01", 200), code: CodePriceBand},
		{name: "st at +10%", order: buy("A1", "c1", "600200.SH", "5.50", 100)},
		{name: "st one tick above +10%", order: buy("A1", "c1", "600200.SH", "5.51", 100), code: CodePriceBand},
		{name: "st at -10%", order: buy("A1", "c1", "600200.SH", "4.50", 100)},
		{name: "st one tick below -10%", order: buy("A1", "c1", "600200.SH", "4.49", 100), code: CodePriceBand},
		{name: "on the tick", order: buy("A1", "c1", "000001.SZ", "10.01", 100)},
		{name: "half a tick", order: buy("A1", "c1", "000001.SZ", "10.005", 100), code: CodeTick,
			text: "price 10.005 is not a multiple of the tick 0.01"},
		{name: "one unit off the tick", order: buy("A1", "c1", "000001.SZ", "10.0001", 100), code: CodeTick},
		{name: "band before tick", order: buy("A1", "c1", "000001.SZ", "11.005", 100), code: CodePriceBand},
	})
}

func TestCheckNewLots(t *testing.T) {
	runNewOrderCases(t, []newOrderCase{
		{name: "main buy one lot", order: buy("A1", "c1", "000001.SZ", "10", 100)},
		{name: "main buy two lots", order: buy("A1", "c1", "000001.SZ", "10", 200)},
		{name: "main buy 99", order: buy("A1", "c1", "000001.SZ", "10", 99), code: CodeLot},
		{name: "main buy 150", order: buy("A1", "c1", "000001.SZ", "10", 150), code: CodeLot,
			text: "buy quantity 150 is not a multiple of the lot 100"},
		{name: "chinext buy 101", order: buy("A1", "c1", "300750.SZ", "200", 101), code: CodeLot},
		{name: "st buy 50", order: buy("A1", "c1", "600200.SH", "5", 50), code: CodeLot},
		{name: "star buy 199", order: buy("A1", "c1", "688981.SH", "50", 199), code: CodeLot,
			text: "STAR buy quantity 199 is below the minimum 200"},
		{name: "star buy 200", order: buy("A1", "c1", "688981.SH", "50", 200)},
		{name: "star buy 201", order: buy("A1", "c1", "688981.SH", "50", 201)},
		{name: "star buy 100 even with lot 100", order: buy("A1", "c1", "688981.SH", "50", 100), code: CodeLot},
		{name: "custom lot", mutate: func(c *Config) { c.Instruments[1].Lot = 500 },
			order: buy("A1", "c1", "000001.SZ", "10", 400), code: CodeLot},

		// A1 holds 250 600519.SH: two lots and an odd 50.
		{name: "sell one lot of 250", order: sell("A1", "c1", "600519.SH", "1700", 100)},
		{name: "sell two lots of 250", order: sell("A1", "c1", "600519.SH", "1700", 200)},
		{name: "sell whole 250", order: sell("A1", "c1", "600519.SH", "1700", 250)},
		{name: "sell the odd 50", order: sell("A1", "c1", "600519.SH", "1700", 50)},
		{name: "sell a lot and the odd 50", order: sell("A1", "c1", "600519.SH", "1700", 150)},
		{name: "sell part of the odd lot", order: sell("A1", "c1", "600519.SH", "1700", 30), code: CodeOddLot,
			text: "the odd lot of 50 must be sold whole"},
		{name: "sell a lot and part of the odd lot", order: sell("A1", "c1", "600519.SH", "1700", 120), code: CodeOddLot},
		{name: "sell more than held", order: sell("A1", "c1", "600519.SH", "1700", 260), code: CodePosition,
			text: "sell of 260 exceeds the sellable position 250"},
		// A1 holds 1000 000001.SZ: no odd lot to sell.
		{name: "odd sell without an odd position", order: sell("A1", "c1", "000001.SZ", "10", 50), code: CodeOddLot,
			text: "sell quantity 50 is not a multiple of the lot 100"},
		{name: "sell all 1000", order: sell("A1", "c1", "000001.SZ", "10", 1000)},
		// STAR: A1 holds 350, S1 holds 150.
		{name: "star sell 199 of 350", order: sell("A1", "c1", "688981.SH", "50", 199), code: CodeOddLot},
		{name: "star sell 200 of 350", order: sell("A1", "c1", "688981.SH", "50", 200)},
		{name: "star sell 201 of 350", order: sell("A1", "c1", "688981.SH", "50", 201)},
		{name: "star sell whole 350", order: sell("A1", "c1", "688981.SH", "50", 350)},
		{name: "star sell 150 of 350", order: sell("A1", "c1", "688981.SH", "50", 150), code: CodeOddLot},
		{name: "star sell whole 150", order: sell("S1", "c1", "688981.SH", "50", 150)},
		{name: "star sell 100 of 150", order: sell("S1", "c1", "688981.SH", "50", 100), code: CodeOddLot,
			text: "STAR sell quantity 100 is below 200 and not the whole sellable position 150"},
		{name: "star sell 151 of 150", order: sell("S1", "c1", "688981.SH", "50", 151), code: CodePosition},
		{name: "sell with no position", order: sell("C1", "c1", "000001.SZ", "10", 100), code: CodePosition},
	})
}

func TestOddLotRemainderAfterWorkingSell(t *testing.T) {
	c, _ := newChecker(t, nil)
	// 250 held; a working sell of 200 leaves 50 free: the odd remainder.
	mustNew(t, c, sell("A1", "s1", "600519.SH", "1700", 200))
	_, rej := c.CheckNew(sell("A1", "s2", "600519.SH", "1700", 30))
	wantCode(t, rej, CodeOddLot)
	_, rej = c.CheckNew(sell("A1", "s3", "600519.SH", "1700", 100))
	wantCode(t, rej, CodePosition)
	mustNew(t, c, sell("A1", "s4", "600519.SH", "1700", 50))
	_, rej = c.CheckNew(sell("A1", "s5", "600519.SH", "1700", 100))
	wantCode(t, rej, CodePosition)
	checkInvariants(t, c)
}

func TestCheckNewMaxQty(t *testing.T) {
	runNewOrderCases(t, []newOrderCase{
		{name: "main at max", order: buy("A1", "c1", "000001.SZ", "9", 1_000_000)},
		{name: "main one lot over", order: buy("A1", "c1", "000001.SZ", "9", 1_000_100), code: CodeMaxQty,
			text: "quantity 1000100 exceeds the main board maximum 1000000"},
		{name: "chinext at max", order: buy("A1", "c1", "300750.SZ", "160", 300_000)},
		{name: "chinext one lot over", order: buy("A1", "c1", "300750.SZ", "160", 300_100), code: CodeMaxQty},
		{name: "star at max", order: buy("A1", "c1", "688981.SH", "40", 100_000)},
		{name: "star one share over", order: buy("A1", "c1", "688981.SH", "40", 100_001), code: CodeMaxQty},
		{name: "st at max", mutate: stDaily(2_000_000), order: buy("A1", "c1", "600200.SH", "4.75", 1_000_000)},
		{name: "st one lot over", mutate: stDaily(2_000_000), order: buy("A1", "c1", "600200.SH", "4.75", 1_000_100), code: CodeMaxQty,
			text: "quantity 1000100 exceeds the st board maximum 1000000"},
		{name: "configured at max", mutate: func(c *Config) { c.MaxQty = map[refdata.Board]int64{refdata.BoardMain: 1000} },
			order: buy("A1", "c1", "000001.SZ", "10", 1000)},
		{name: "configured over", mutate: func(c *Config) { c.MaxQty = map[refdata.Board]int64{refdata.BoardMain: 1000} },
			order: buy("A1", "c1", "000001.SZ", "10", 1100), code: CodeMaxQty},
		{name: "sell over max", mutate: func(c *Config) { c.MaxQty = map[refdata.Board]int64{refdata.BoardMain: 500} },
			order: sell("A1", "c1", "000001.SZ", "10", 600), code: CodeMaxQty},
		{name: "huge quantity", order: buy("A1", "c1", "000001.SZ", "10", 1e18), code: CodeMaxQty},
	})
}

func TestCheckNewMaxNotional(t *testing.T) {
	small := func(c *Config) { c.MaxNotional = cny(170_000) }
	runNewOrderCases(t, []newOrderCase{
		{name: "configured exactly", mutate: small, order: buy("A1", "c1", "600519.SH", "1700.00", 100)},
		{name: "configured one tick over", mutate: small, order: buy("A1", "c1", "600519.SH", "1700.01", 100), code: CodeMaxNotional,
			text: "order value 170001.00 exceeds the maximum 170000.00"},
		{name: "configured sell over", mutate: small, order: sell("A1", "c1", "600519.SH", "1700.01", 100), code: CodeMaxNotional},
		{name: "default 50M exactly", order: buy("A1", "c1", "300750.SZ", "200.00", 250_000)},
		{name: "default 50M one tick over", order: buy("A1", "c1", "300750.SZ", "200.01", 250_000), code: CodeMaxNotional},
	})
}

func TestCheckNewCash(t *testing.T) {
	runNewOrderCases(t, []newOrderCase{
		// C1 has 10,000.00.
		{name: "cash exactly enough", order: buy("C1", "c1", "000001.SZ", "10.00", 1000)},
		{name: "one tick more", order: buy("C1", "c1", "000001.SZ", "10.01", 1000), code: CodeCash,
			text: "buy needs 10010.00 but available cash is 10000.00"},
		{name: "star exactly enough", order: buy("C1", "c1", "688981.SH", "50.00", 200)},
		{name: "star one share more", order: buy("C1", "c1", "688981.SH", "50.00", 201), code: CodeCash},
		{name: "no cash", order: buy("S1", "c1", "000001.SZ", "10.00", 100), code: CodeCash},
		{name: "sell needs no cash", order: sell("S1", "c1", "688981.SH", "50.00", 150)},
	})
}

func TestCashIsReservedByWorkingBuys(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10.00", 500))
	if r.Cash != cny(5000) || r.Shares != 0 || r.Side != Buy || r.Qty != 500 || r.Symbol != "000001.SZ" {
		t.Fatalf("reservation %+v", r)
	}
	mustNew(t, c, buy("C1", "b2", "000001.SZ", "10.00", 500))
	_, rej := c.CheckNew(buy("C1", "b3", "000001.SZ", "9.00", 100))
	wantCode(t, rej, CodeCash)
	st := snap(t, c, "C1")
	if st.Cash != 0 || st.Reserved != cny(10_000) || st.OpenOrders != 2 {
		t.Fatalf("state %+v", st)
	}
	if err := c.OnDone(r, 500); err != nil {
		t.Fatal(err)
	}
	mustNew(t, c, buy("C1", "b3", "000001.SZ", "10.00", 500))
	checkInvariants(t, c)
}

func TestCheckNewShape(t *testing.T) {
	market := buy("A1", "c1", "000001.SZ", "10", 100)
	market.Type = Market
	noType := market
	noType.Type = 0
	noSide := buy("A1", "c1", "000001.SZ", "10", 100)
	noSide.Side = 0
	credit := buy("A1", "c1", "000001.SZ", "10", 100)
	credit.Credit = true
	creditOK := buy("M1", "c1", "000001.SZ", "10", 100)
	creditOK.Credit = true
	runNewOrderCases(t, []newOrderCase{
		{name: "market", order: market, code: CodeUnsupportedType, text: "market orders are not supported"},
		{name: "no type", order: noType, code: CodeUnsupportedType},
		{name: "no side", order: noSide, code: CodeUnsupportedType},
		{name: "empty clordid", order: buy("A1", "", "000001.SZ", "10", 100), code: CodeBadClOrdID},
		{name: "zero qty", order: buy("A1", "c1", "000001.SZ", "10", 0), code: CodeBadQty},
		{name: "negative qty", order: buy("A1", "c1", "000001.SZ", "10", -100), code: CodeBadQty},
		{name: "zero price", order: buy("A1", "c1", "000001.SZ", "0", 100), code: CodeBadPrice},
		{name: "negative price", order: Order{Account: "A1", ClOrdID: "c1", Symbol: "000001.SZ", Side: Buy, Type: Limit, Price: -1, Qty: 100}, code: CodeBadPrice},
		{name: "unknown account", order: buy("X9", "c1", "000001.SZ", "10", 100), code: CodeUnknownAccount, text: `unknown account "X9"`},
		{name: "credit order on cash account", order: credit, code: CodeUnknownAccount},
		{name: "cash order on credit account", order: buy("M1", "c1", "000001.SZ", "10", 100), code: CodeUnknownAccount},
		{name: "credit order on credit account", order: creditOK},
		{name: "unknown symbol", order: buy("A1", "c1", "600000.SH", "10", 100), code: CodeUnknownSymbol},
		{name: "empty symbol", order: buy("A1", "c1", "", "10", 100), code: CodeUnknownSymbol},
		{name: "restricted buy", mutate: func(c *Config) { c.Restricted = []string{"601398.SH"} },
			order: buy("A1", "c1", "601398.SH", "5", 100), code: CodeRestricted, text: "601398.SH is on the restricted list"},
		{name: "restricted sell", mutate: func(c *Config) { c.Restricted = []string{"000001.SZ"} },
			order: sell("A1", "c1", "000001.SZ", "10", 100), code: CodeRestricted},
		{name: "not restricted", mutate: func(c *Config) { c.Restricted = []string{"601398.SH"} },
			order: buy("A1", "c1", "000001.SZ", "10", 100)},
	})
}

func TestRestrictedAndHaltedAtRuntime(t *testing.T) {
	c, _ := newChecker(t, nil)
	mustNew(t, c, buy("A1", "b1", "000001.SZ", "10", 100))
	wantErr(t, c.SetRestricted("000001.SZ", true), nil)
	_, rej := c.CheckNew(buy("A1", "b2", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeRestricted)
	wantErr(t, c.SetRestricted("000001.SZ", false), nil)
	mustNew(t, c, buy("A1", "b3", "000001.SZ", "10", 100))

	wantErr(t, c.SetHalted("000001.SZ", true), nil)
	_, rej = c.CheckNew(buy("A1", "b4", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeNotTrading)
	if rej.FIXReason != FIXExchangeClosed || rej.Text != "000001.SZ is halted" {
		t.Fatalf("reject %+v", rej)
	}
	// Cancels pass a halt.
	wantCode(t, c.CheckCancel(Cancel{Account: "A1", OrigClOrdID: "b1"}), "")
	// Other symbols trade.
	mustNew(t, c, buy("A1", "b5", "600519.SH", "1700", 100))
	wantErr(t, c.SetHalted("000001.SZ", false), nil)
	mustNew(t, c, buy("A1", "b6", "000001.SZ", "10", 100))

	wantErr(t, c.SetHalted("999999.SH", true), ErrUnknownSymbol)
	wantErr(t, c.SetRestricted("999999.SH", true), ErrUnknownSymbol)
}

func TestDuplicateClOrdID(t *testing.T) {
	c, clk := newChecker(t, nil)
	d1 := mustNew(t, c, buy("A1", "d1", "000001.SZ", "10", 100))
	_, rej := c.CheckNew(buy("A1", "d1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeDuplicateClOrd)
	if rej.FIXReason != FIXDuplicateOrder || rej.Text != "clOrdId d1 was already used today" {
		t.Fatalf("reject %+v", rej)
	}
	// Per account: another account may use it.
	mustNew(t, c, buy("C1", "d1", "000001.SZ", "10", 100))
	// Still a duplicate once the order is done.
	wantErr(t, c.OnDone(d1, 100), nil)
	_, rej = c.CheckNew(buy("A1", "d1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeDuplicateClOrd)
	// A rejected order does not use up its id.
	_, rej = c.CheckNew(buy("A1", "d2", "000001.SZ", "12", 100))
	wantCode(t, rej, CodePriceBand)
	mustNew(t, c, buy("A1", "d2", "000001.SZ", "10", 100))
	// The next trading day starts afresh.
	clk.Set(at("2025-06-10 10:00"))
	mustNew(t, c, buy("A1", "d1", "000001.SZ", "10", 100))
	checkInvariants(t, c)
}

func TestRejectError(t *testing.T) {
	_, rej := func() (*Reservation, *Reject) {
		c, _ := newChecker(t, nil)
		return c.CheckNew(buy("A1", "c1", "600519.SH", "1900", 100))
	}()
	if got := rej.Error(); got != "risk: risk.price_band: price 1900.00 outside limit band 1530.00-1870.00" {
		t.Fatalf("Error() = %q", got)
	}
	var err error = rej
	if !strings.HasPrefix(err.Error(), "risk: ") {
		t.Fatal(err)
	}
	if !isReject(err, CodePriceBand) || isReject(err, CodeCash) {
		t.Fatal("errors.Is by code")
	}
	for code, want := range map[string][2]int{
		CodeUnknownSymbol:   {1, 2},
		CodeSessionClosed:   {2, 2},
		CodeNoCancelPeriod:  {2, 2},
		CodeCash:            {3, 2},
		CodeUnknownOrder:    {5, 1},
		CodeDuplicateClOrd:  {6, 2},
		CodeKillSwitch:      {0, 2},
		CodeTick:            {99, 2},
		CodeReplacePending:  {99, 3},
		CodeUnknownAccount:  {99, 2},
		CodeThrottleSession: {0, 2},
	} {
		r := reject(code, "x")
		if r.FIXReason != want[0] || r.CxlRejReason() != want[1] {
			t.Errorf("%s: FIXReason %d CxlRejReason %d, want %v", code, r.FIXReason, r.CxlRejReason(), want)
		}
	}
}

// isReject reports whether err is a Reject with code, through errors.Is.
func isReject(err error, code string) bool { return errors.Is(err, &Reject{Code: code}) }

// TestReplaceMaxQty: a replace raising an order's quantity is checked
// against the board maximum as a new order is (the new total, fills
// included), and holds only the cash its increase needs, once.
func TestReplaceMaxQty(t *testing.T) {
	for _, tc := range []struct {
		name, sym, price string
		max              int64
		step             int64 // the smallest quantity over the maximum: a lot, or a share on STAR
	}{
		{name: "main", sym: "000001.SZ", price: "9", max: 1_000_000, step: 100},
		{name: "chinext", sym: "300750.SZ", price: "160", max: 300_000, step: 100},
		{name: "star", sym: "688981.SH", price: "40", max: 100_000, step: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newChecker(t, nil)
			mustNew(t, c, buy("A1", "o1", tc.sym, tc.price, 1000))
			before := snap(t, c, "A1")
			_, rej := c.CheckReplace("o1", buy("A1", "o2", tc.sym, tc.price, tc.max+tc.step))
			wantCode(t, rej, CodeMaxQty)
			if st := snap(t, c, "A1"); st.Cash != before.Cash || st.Reserved != before.Reserved {
				t.Fatalf("a refused replace changed the account: %+v, was %+v", st, before)
			}
			r, rej := c.CheckReplace("o1", buy("A1", "o3", tc.sym, tc.price, tc.max))
			wantCode(t, rej, "")
			if want := px(tc.price) * refdata.Price(tc.max-1000); r.Cash != want {
				t.Fatalf("replace to the maximum holds %s more, want %s (its increase only)", r.Cash, want)
			}
			if st := snap(t, c, "A1"); st.Reserved != px(tc.price)*refdata.Price(tc.max) {
				t.Fatalf("reserved %s, want the new terms' %s", st.Reserved, px(tc.price)*refdata.Price(tc.max))
			}
			checkInvariants(t, c)
		})
	}
}

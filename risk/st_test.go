package risk

import (
	"testing"
)

// stDaily sets Config.STDailyBuy.
func stDaily(n int64) func(*Config) { return func(c *Config) { c.STDailyBuy = n } }

// TestSTDailyBuyLimit: SSE and SZSE forbid an investor to buy more than
// 500,000 shares of one risk-warned (ST, *ST) share in a trading day,
// counting what it bought today and its buys still working
// (委托买入数量与当日已买入数量及已申报买入但尚未成交、未撤销的数量之和不得超过50万股).
// Before, the checker let one ST order of up to 1,000,000 shares through
// and counted nothing across orders: orders the exchange refuses.
func TestSTDailyBuyLimit(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*Config)
		before []int64 // ST buys accepted earlier today, working
		filled int64   // of before[0], filled
		ended  bool    // before[0] ended (its leaves canceled)
		qty    int64
		ok     bool
	}{
		{name: "500,000 at once", qty: 500_000, ok: true},
		{name: "one order of 600,000", qty: 600_000},
		{name: "one order of 1,000,000 (the board maximum)", qty: 1_000_000},
		{name: "300,000 working, then 200,000", before: []int64{300_000}, qty: 200_000, ok: true},
		{name: "300,000 working, then 300,000", before: []int64{300_000}, qty: 300_000},
		{name: "500,000 working, then 100", before: []int64{500_000}, qty: 100},
		{name: "300,000 filled, then 300,000", before: []int64{300_000}, filled: 300_000, qty: 300_000},
		{name: "300,000, 100,000 filled and the rest canceled, then 400,000", before: []int64{300_000}, filled: 100_000, ended: true,
			qty: 400_000, ok: true},
		{name: "300,000, 100,000 filled and the rest canceled, then 400,100", before: []int64{300_000}, filled: 100_000, ended: true,
			qty: 400_100},
		{name: "configured 1,000,000", mutate: stDaily(1_000_000), before: []int64{500_000}, qty: 500_000, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newChecker(t, tc.mutate)
			for i, q := range tc.before {
				r := mustNew(t, c, buy("A1", "p"+string(rune('0'+i)), "600200.SH", "5", q))
				if i == 0 && tc.filled > 0 {
					wantErr(t, c.OnFill(r, px("5"), tc.filled), nil)
				}
				if i == 0 && tc.ended {
					wantErr(t, c.OnDone(r, q-tc.filled), nil)
				}
			}
			_, rej := c.CheckNew(buy("A1", "x", "600200.SH", "5", tc.qty))
			switch {
			case tc.ok && rej != nil:
				t.Fatalf("refused: %s %s", rej.Code, rej.Text)
			case !tc.ok && rej == nil:
				t.Fatalf("ST buy of %d accepted beyond the day's limit", tc.qty)
			case !tc.ok:
				wantCode(t, rej, CodeMaxQty)
			}
			checkInvariants(t, c)
		})
	}
}

// TestSTDailyBuyLimitReplace: a replace that raises an ST buy counts its
// new quantity, the order's own old terms aside; one that lowers it
// passes; other symbols, sells and other boards are not counted.
func TestSTDailyBuyLimitReplace(t *testing.T) {
	c, _ := newChecker(t, nil)
	mustNew(t, c, buy("A1", "a", "600200.SH", "5", 200_000))
	mustNew(t, c, buy("A1", "b", "600200.SH", "5", 200_000))
	mustNew(t, c, buy("A1", "m", "000001.SZ", "10", 600_000)) // main board: no daily limit
	if _, rej := c.CheckReplace("b", buy("A1", "b2", "600200.SH", "5", 300_000)); rej != nil {
		t.Fatalf("replace to 300,000 (500,000 in all) refused: %s %s", rej.Code, rej.Text)
	}
	if _, rej := c.CheckReplace("a", buy("A1", "a2", "600200.SH", "5", 200_100)); rej == nil {
		t.Fatal("replace to 200,100 (500,100 in all, b's new terms counted) accepted")
	}
	if _, rej := c.CheckReplace("a", buy("A1", "a3", "600200.SH", "5", 100_000)); rej != nil {
		t.Fatalf("replace lowering the order refused: %s %s", rej.Code, rej.Text)
	}
	checkInvariants(t, c)
}

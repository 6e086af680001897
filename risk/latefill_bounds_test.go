package risk

import (
	"errors"
	"math"
	"slices"
	"testing"

	"sgw/refdata"
)

// What a review of risk found, each test failing without its fix.

// TestLateFillOverflow: OnLateFill bounded a fill's price by limit-up
// but not its quantity, and multiplied them unchecked. A report
// with a huge LastQty (or a status answer's CumQty: orders passes them
// through) wraps price*qty negative, and the "payment" for a buy adds
// cash: here 100 billion CNY appear, and a 10,000 CNY account then gets
// a 10 million CNY buy accepted. OnFill refuses the same fill.
func TestLateFillOverflow(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 100))
	wantErr(t, c.OnDone(r, 100), nil) // ended on the gateway's own word
	before := snap(t, c, "C1").Cash
	// 10.00 × q wraps to about -1e15 units (-100 billion CNY).
	q := int64((math.MaxUint64 - uint64(1e15) + 1) / 100000)
	err := c.OnLateFill(r, px("10"), q)
	after := snap(t, c, "C1").Cash
	if after > before {
		t.Errorf("late buy fill of %d shares at 10.00: cash went from %s to %s (err %v)", q, before, after, err)
	}
	if !errors.Is(err, ErrBadFill) {
		t.Errorf("OnLateFill(%d shares) = %v, want ErrBadFill: above any order's size", q, err)
	}
	if _, rej := c.CheckNew(buy("C1", "b2", "000001.SZ", "10", 1_000_000)); rej == nil {
		t.Errorf("a 10,000 CNY account's 10,000,000 CNY buy accepted after the late fill")
	}
}

// TestBandOverflowGuard: New refuses reference data whose limit-up
// times the board maximum overflows, but Band multiplied PrevClose by
// (100 ± band%) before the check: a prev_close ParsePrice
// accepts wraps, limit-up comes out 0.01 and limit-down negative, and the
// instrument is accepted with a nonsense band.
func TestBandOverflowGuard(t *testing.T) {
	prev := px("33539534679471.92") // × 110 wraps int64
	in := refdata.Instrument{Symbol: "600000.SH", Board: refdata.BoardMain, PrevClose: prev}
	cfg := testConfig()
	cfg.Instruments = append(cfg.Instruments, in)
	if _, err := New(cfg, nil); !errors.Is(err, ErrConfig) {
		lo, hi := in.Band()
		t.Errorf("New accepted prev_close %s: band %s-%s (err %v)", prev, lo, hi, err)
	}
	if in.Validate() == nil {
		if lo, hi := in.Band(); lo > prev || hi < prev {
			t.Errorf("Validate accepts prev_close %s, whose Band %s-%s does not contain it", prev, lo, hi)
		}
	}
}

// TestBeijingSymbols: no board carries the Beijing Stock Exchange's rules
// (band ±30%, buys of at least 100 shares in steps of 1): configured on
// any board, a .BJ instrument got another exchange's band and lots, and
// valid orders were refused. A .BJ instrument is refused now.
func TestBeijingSymbols(t *testing.T) {
	for _, board := range []refdata.Board{refdata.BoardMain, refdata.BoardChiNext, refdata.BoardSTAR, refdata.BoardST} {
		t.Run(board.String(), func(t *testing.T) {
			cfg := testConfig()
			cfg.Instruments = append(cfg.Instruments, refdata.Instrument{Symbol: "830799.BJ", Board: board, PrevClose: px("10")})
			c, err := New(cfg, NewManualClock(at(monday+" 10:00")))
			if err != nil {
				return // refused: fine
			}
			for _, o := range []Order{
				buy("A1", "b1", "830799.BJ", "12.50", 100), // +25%: within the BSE's ±30%
				buy("A1", "b2", "830799.BJ", "10", 150),    // 100 and more, in steps of 1
			} {
				if _, rej := c.CheckNew(o); rej != nil {
					t.Errorf("BSE order %d at %s refused: %s %s", o.Qty, o.Price, rej.Code, rej.Text)
				}
			}
		})
	}
}

// TestCarriedLateFillTPlusOne: with always_open, an order accepted
// on Monday carries into Tuesday; ended on Tuesday (its cancel answered
// with a fill the gateway missed), the fill a status answer then reveals
// reaches OnLateFill (orders calls it as the order's day is before
// risk's). It happened on Tuesday, before the order ended, yet OnLateFill
// judged T+1 by the day the order was accepted and made the shares
// sellable at once: a sell of shares bought today was accepted. T+1 now
// goes by the day the order ended.
func TestCarriedLateFillTPlusOne(t *testing.T) {
	c, _ := newChecker(t, func(c *Config) { c.Schedule.AlwaysOpen = true })
	c.Rollover(at(monday + " 00:00"))
	r := mustNew(t, c, buy("C1", "b1", "601398.SH", "5", 100))
	c.Rollover(at("2025-06-10 10:00"))            // Tuesday: b1 carries on
	wantErr(t, c.OnDone(r, 0), ErrLeavesMismatch) // venue: canceled, CumQty 100; the fill report was missed
	if r.Day() >= c.DayDate() {
		t.Fatalf("day %d, risk's %d: orders would not call OnLateFill", r.Day(), c.DayDate())
	}
	wantErr(t, c.OnFill(r, px("5"), 100), ErrOrderClosed)
	wantErr(t, c.OnLateFill(r, px("5"), 100), nil)
	if p := pos(snap(t, c, "C1"), "601398.SH"); p.Sellable != 0 || p.BoughtToday != 100 {
		t.Errorf("position %+v, want the 100 bought on Tuesday not sellable before Wednesday", p)
	}
	if _, rej := c.CheckNew(sell("C1", "s1", "601398.SH", "5", 100)); rej == nil {
		t.Errorf("sell of shares bought today accepted")
	}
}

// TestLateFillsBeyondBoardMaximum: OnLateFill bounded each late fill by
// the board maximum, not the order's fills in all: an ended order of 100
// shares took any number of late fills of up to 1,000,000 shares each,
// more than any order can fill under any terms, and the account's cash
// fell without bound (TestLateFillCostSaturates: until it wrapped). The
// order's fills, late ones included, are bounded by the board maximum
// now.
func TestLateFillsBeyondBoardMaximum(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 100))
	wantErr(t, c.OnFill(r, px("10"), 40), nil)
	wantErr(t, c.OnDone(r, 60), nil) // ended on the gateway's own word
	// A replace refused at the expiry may have raised the order to the
	// board maximum at the venue.
	wantErr(t, c.OnLateFill(r, px("10"), 600_000), nil)
	before := snap(t, c, "C1")
	wantErr(t, c.OnLateFill(r, px("10"), 399_961), ErrBadFill) // 1,000,001 in all
	if after := snap(t, c, "C1"); after.Cash != before.Cash || !slices.Equal(after.Positions, before.Positions) {
		t.Errorf("refused late fill changed the account: %+v, was %+v", after, before)
	}
	wantErr(t, c.OnLateFill(r, px("10"), 399_960), nil) // 1,000,000 in all
	wantErr(t, c.OnLateFill(r, px("10"), 1), ErrBadFill)
}

// TestLateFillCostSaturates: a late buy's cost was taken from the
// available cash unchecked. Reference data New accepts (limit-up times
// the board maximum within int64) lets two ended orders' late fills cost
// more than the int64 range: the cash wrapped from about -1.6e19 to
// +2e18 Price units, and 200 trillion CNY appeared. It saturates now, as
// a sell's proceeds do.
func TestLateFillCostSaturates(t *testing.T) {
	c, _ := newChecker(t, func(cfg *Config) {
		cfg.Instruments = append(cfg.Instruments, refdata.Instrument{Symbol: "600999.SH", Board: refdata.BoardMain, PrevClose: px("800000000")})
		cfg.Accounts = append(cfg.Accounts, AccountConfig{ID: "W1", Cash: math.MaxInt64 / 8})
		cfg.MaxNotional = math.MaxInt64
	})
	b1 := mustNew(t, c, buy("W1", "b1", "600999.SH", "720000000", 100))
	b2 := mustNew(t, c, buy("W1", "b2", "600999.SH", "720000000", 100))
	wantErr(t, c.OnDone(b1, 100), nil)
	wantErr(t, c.OnDone(b2, 100), nil)
	wantErr(t, c.OnLateFill(b1, px("880000000"), 1_000_000), nil) // 8.8e18 Price units
	before := snap(t, c, "W1").Cash
	wantErr(t, c.OnLateFill(b2, px("880000000"), 1_000_000), nil)
	if after := snap(t, c, "W1").Cash; after > before || after >= 0 {
		t.Errorf("after two late fills of 8.8e18 each, cash went from %d to %d", before, after)
	}
	if _, rej := c.CheckNew(buy("W1", "b3", "601398.SH", "5", 100)); rej == nil {
		t.Errorf("a buy accepted with the cash %s", snap(t, c, "W1").Cash)
	}
}

// TestSaturatedCashReleased: a sell's proceeds saturate the available
// cash at the int64 maximum rather than wrap it, but a buy's hold
// released afterwards (its fill below the limit, its end, a replace down)
// was added to it unchecked and wrapped it: an account holding nearly
// the whole range (configured so) showed about -922 trillion CNY. Released
// holds saturate now too.
func TestSaturatedCashReleased(t *testing.T) {
	c, _ := newChecker(t, func(cfg *Config) {
		cfg.Accounts = append(cfg.Accounts, AccountConfig{ID: "R1", Cash: math.MaxInt64 - cny(1000), Positions: map[string]int64{"000001.SZ": 1000}})
	})
	b := mustNew(t, c, buy("R1", "b1", "000001.SZ", "10", 100)) // holds 1,000
	s := mustNew(t, c, sell("R1", "s1", "000001.SZ", "10", 1000))
	wantErr(t, c.OnFill(s, px("10"), 1000), nil) // 10,000 of proceeds: saturated
	wantErr(t, c.OnFill(b, px("9"), 50), nil)    // releases 500, pays 450
	wantErr(t, c.OnDone(b, 50), nil)             // releases 500
	if st := snap(t, c, "R1"); st.Cash <= 0 || st.Reserved != 0 {
		t.Errorf("cash %d reserved %d after holds released from saturated cash", st.Cash, st.Reserved)
	}
}

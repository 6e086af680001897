package risk

import "testing"

const (
	mondayDate  = 20250609
	tuesdayDate = 20250610
)

// TestOnTradeAmended: a venue's trade cancel (bust) or correction moves
// the account back as if the fill had been the corrected one, or none:
// cash, held cash, the sellable position and the shares bought today
// (T+1), for a working order and for one already done (reopened only when
// the venue works it again, on its day). Before, risk was never told: the
// account kept a busted buy's shares and a busted sell's proceeds for the
// day.
func TestOnTradeAmended(t *testing.T) {
	const sym = "600519.SH" // A1 holds 250 from earlier days
	type want struct {
		cash, reserved        string
		open                  int
		sellable, resv, today int64
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, c *Checker) *Reservation
		amend TradeAmend
		want  want
	}{
		{
			name: "working buy busted",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 200))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate, Working: true},
			want:  want{cash: "99640000", reserved: "360000", open: 1, sellable: 250},
		},
		{
			name: "filled buy busted, the venue ends it",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 100))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate},
			want:  want{cash: "100000000", reserved: "0", sellable: 250},
		},
		{
			name: "filled buy busted, the venue works it again",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 100))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate, Working: true},
			want:  want{cash: "99820000", reserved: "180000", open: 1, sellable: 250},
		},
		{
			name: "canceled buy busted: not reopened",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 200))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				wantErr(t, c.OnDone(r, 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate},
			want:  want{cash: "100000000", reserved: "0", sellable: 250},
		},
		{
			name: "working buy's price corrected",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 200))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate, NewPrice: px("1780"), NewQty: 100, Working: true},
			want:  want{cash: "99642000", reserved: "180000", open: 1, sellable: 250, today: 100},
		},
		{
			name: "working buy's quantity corrected down",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 200))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate, NewPrice: px("1790"), NewQty: 50, Working: true},
			want:  want{cash: "99640500", reserved: "270000", open: 1, sellable: 250, today: 50},
		},
		{
			name: "working buy corrected up to its quantity: done",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 200))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate, NewPrice: px("1790"), NewQty: 200, Working: true},
			want:  want{cash: "99642000", reserved: "0", sellable: 250, today: 200},
		},
		{
			name: "working sell busted: the shares come back, held again",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, sell("A1", "s1", sym, "1700", 200))
				wantErr(t, c.OnFill(r, px("1710"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1710"), Qty: 100, Day: mondayDate, Working: true},
			want:  want{cash: "100000000", reserved: "0", open: 1, sellable: 50, resv: 200},
		},
		{
			name: "filled sell busted: the shares are sellable again",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, sell("A1", "s1", sym, "1700", 100))
				wantErr(t, c.OnFill(r, px("1710"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1710"), Qty: 100, Day: mondayDate},
			want:  want{cash: "100000000", reserved: "0", sellable: 250},
		},
		{
			name: "sell's price corrected",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, sell("A1", "s1", sym, "1700", 100))
				wantErr(t, c.OnFill(r, px("1710"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1710"), Qty: 100, Day: mondayDate, NewPrice: px("1705"), NewQty: 100},
			want:  want{cash: "100170500", reserved: "0", sellable: 150},
		},
		{
			name: "yesterday's buy busted today: sellable shares go, today's stay",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 100))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				c.RolloverTo(tuesdayDate)
				b2 := mustNew(t, c, buy("A1", "b2", sym, "1800", 100))
				wantErr(t, c.OnFill(b2, px("1800"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate},
			want:  want{cash: "99820000", reserved: "0", sellable: 250, today: 100},
		},
		{
			name: "late fill of yesterday's expired buy busted: sellable shares go",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 100))
				c.RolloverTo(tuesdayDate) // expires it
				wantErr(t, c.OnLateFill(r, px("1790"), 100), nil)
				b2 := mustNew(t, c, buy("A1", "b2", sym, "1800", 100))
				wantErr(t, c.OnFill(b2, px("1800"), 100), nil)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: tuesdayDate},
			want:  want{cash: "99820000", reserved: "0", sellable: 250, today: 100},
		},
		{
			name: "yesterday's expired buy busted: not reopened",
			setup: func(t *testing.T, c *Checker) *Reservation {
				r := mustNew(t, c, buy("A1", "b1", sym, "1800", 200))
				wantErr(t, c.OnFill(r, px("1790"), 100), nil)
				c.RolloverTo(tuesdayDate)
				return r
			},
			amend: TradeAmend{Price: px("1790"), Qty: 100, Day: mondayDate, Working: true},
			want:  want{cash: "100000000", reserved: "0", sellable: 250},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := newChecker(t, nil)
			r := tc.setup(t, c)
			wantErr(t, c.OnTradeAmended(r, tc.amend), nil)
			st := snap(t, c, "A1")
			p := pos(st, sym)
			got := want{cash: st.Cash.String(), reserved: st.Reserved.String(), open: st.OpenOrders,
				sellable: p.Sellable, resv: p.Reserved, today: p.BoughtToday}
			w := tc.want
			w.cash, w.reserved = px(w.cash).String(), px(w.reserved).String()
			if got != w {
				t.Errorf("after the amend: %+v, want %+v", got, w)
			}
			checkInvariants(t, c)
		})
	}
}

// TestTradeAmendedRefillsAndSells: after a bust, the order fills again up
// to its quantity (a working order, or a done one the venue works again),
// and a busted buy leaves no shares to sell, nor a busted sell's shares
// unsellable.
func TestTradeAmendedRefillsAndSells(t *testing.T) {
	c, _ := newChecker(t, nil)
	// C1 holds no 000001.SZ: a busted buy leaves nothing to sell tomorrow.
	b := mustNew(t, c, buy("C1", "b1", "000001.SZ", "10", 500))
	wantErr(t, c.OnFill(b, px("10"), 500), nil)
	wantErr(t, c.OnTradeAmended(b, TradeAmend{Price: px("10"), Qty: 500, Day: mondayDate, Working: true}), nil)
	wantErr(t, c.OnFill(b, px("10"), 500), nil) // the venue filled it again
	wantErr(t, c.OnTradeAmended(b, TradeAmend{Price: px("10"), Qty: 500, Day: mondayDate}), nil)
	c.RolloverTo(tuesdayDate)
	_, rej := c.CheckNew(sell("C1", "s1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodePosition)
	if st := snap(t, c, "C1"); st.Cash != cny(10_000) || st.Reserved != 0 || len(st.Positions) != 0 {
		t.Errorf("C1 after two busted buys: %+v", st)
	}
	// A1's busted sell of all its 000001.SZ: sellable again, at once.
	s := mustNew(t, c, sell("A1", "s1", "000001.SZ", "10", 1000))
	wantErr(t, c.OnFill(s, px("10"), 1000), nil)
	wantErr(t, c.OnTradeAmended(s, TradeAmend{Price: px("10"), Qty: 1000, Day: tuesdayDate}), nil)
	mustNew(t, c, sell("A1", "s2", "000001.SZ", "10", 1000))
	checkInvariants(t, c)
}

// TestTradeAmendedSTDailyBuy: a busted ST buy no longer counts towards
// the day's limit on buys of the share.
func TestTradeAmendedSTDailyBuy(t *testing.T) {
	c, _ := newChecker(t, func(cfg *Config) { cfg.STDailyBuy = 1000 })
	b := mustNew(t, c, buy("A1", "b1", "600200.SH", "5", 1000))
	wantErr(t, c.OnFill(b, px("5"), 1000), nil)
	_, rej := c.CheckNew(buy("A1", "b2", "600200.SH", "5", 100))
	wantCode(t, rej, CodeMaxQty)
	wantErr(t, c.OnTradeAmended(b, TradeAmend{Price: px("5"), Qty: 1000, Day: mondayDate}), nil)
	mustNew(t, c, buy("A1", "b2", "600200.SH", "5", 1000))
	checkInvariants(t, c)
}

// TestTradeAmendedRefused: an amend risk cannot apply changes nothing.
func TestTradeAmendedRefused(t *testing.T) {
	c, _ := newChecker(t, nil)
	r := mustNew(t, c, buy("A1", "b1", "600519.SH", "1800", 200))
	wantErr(t, c.OnFill(r, px("1790"), 100), nil)
	before := snap(t, c, "A1")
	for _, tc := range []struct {
		name string
		r    *Reservation
		a    TradeAmend
		err  error
	}{
		{"more than filled", r, TradeAmend{Price: px("1790"), Qty: 150, Day: mondayDate}, ErrBadFill},
		{"negative", r, TradeAmend{Price: px("1790"), Qty: -1, Day: mondayDate}, ErrBadFill},
		{"no price", r, TradeAmend{Qty: 100, Day: mondayDate}, ErrBadFill},
		{"price × the board maximum overflows", r, TradeAmend{Price: px("1790"), Qty: 100, NewPrice: px("922337204"), NewQty: 100}, ErrBadFill},
		{"beyond the board maximum", r, TradeAmend{Price: px("1790"), Qty: 100, NewPrice: px("1790"), NewQty: 1_000_001}, ErrBadFill},
		{"nil", nil, TradeAmend{Price: px("1790"), Qty: 100}, ErrUnknownReservation},
		{"hand-made", &Reservation{Account: "A1", ClOrdID: "b1"}, TradeAmend{Price: px("1790"), Qty: 100}, ErrUnknownReservation},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantErr(t, c.OnTradeAmended(tc.r, tc.a), tc.err)
			if after := snap(t, c, "A1"); !sameState(after, before) {
				t.Errorf("refused amend changed %+v to %+v", before, after)
			}
		})
	}
	checkInvariants(t, c)
}

// sameState compares two snapshots.
func sameState(a, b AccountState) bool {
	if a.Cash != b.Cash || a.Reserved != b.Reserved || a.OpenOrders != b.OpenOrders || len(a.Positions) != len(b.Positions) {
		return false
	}
	for i := range a.Positions {
		if a.Positions[i] != b.Positions[i] {
			return false
		}
	}
	return true
}

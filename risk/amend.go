package risk

import (
	"fmt"

	"sgw/refdata"
)

// TradeAmend is a venue's cancel (a bust) or correction of one earlier
// fill of an order, as OnTradeAmended takes it.
type TradeAmend struct {
	// Price and Qty are the fill as risk took it (OnFill, OnLateFill):
	// what the amend takes back. Qty 0 takes back nothing (a fill canceled
	// before; Price is then ignored).
	Price refdata.Price
	Qty   int64
	// Day is the trading day (yyyymmdd, DayDate) risk took the fill on:
	// a buy's shares are bought today (T+1) only if it is today's.
	Day int32
	// NewPrice and NewQty are the fill as corrected; NewQty 0 for a
	// cancel (NewPrice is then ignored).
	NewPrice refdata.Price
	NewQty   int64
	// Working reports that the venue still works the order after the
	// amend (its OrdStatus is not terminal): an order risk closed today
	// when its fills reached its quantity works again, and holds for the
	// quantity the amend left unfilled.
	Working bool
}

// OnTradeAmended applies a venue's cancel or correction of a fill of the
// order whose Reservation r is (as for OnFill): the fill of a.Qty at
// a.Price is taken back and one of a.NewQty at a.NewPrice applied in its
// place, so the account ends as if the fill had been the corrected one
// (or none). A buy's cash moves back by the difference in value, its
// shares out of (or into) those bought on a.Day: bought today, not
// sellable before the next trading day, if that is today, sellable
// otherwise (and if the order filled after it ended on an earlier day, as
// OnLateFill put them); the shares bought today also count no more
// towards Config.STDailyBuy. A sell's shares come back to the sellable
// position and its proceeds leave the available cash. The available cash
// saturates rather than wraps; it, and the sellable shares, may go
// negative (the account spent the proceeds, or sold the shares a busted
// buy brought): new orders are then refused until it is made good.
//
// A working order's filled quantity moves by the difference, and it
// holds again for what it may still fill (done if the correction fills
// it). An order already done stays done and holds nothing, unless
// a.Working and it ended on the current trading day: the venue works it
// again, and it holds for its leaves as any working order. An order of an
// earlier day, expired at the change of day, is never reopened.
//
// OnTradeAmended refuses, changing nothing, an amend whose quantities are
// negative, whose prices are not positive or beyond the largest whose
// product with the board maximum fits (not the configured band, as for
// OnFill) where their quantity is not zero, that takes back more than the order filled, or
// after which the order's fills exceed the board maximum: ErrBadFill; and
// a nil, hand-made or other Checker's r: ErrUnknownReservation. It does
// not read the clock, so replaying the same calls reproduces the same
// state.
func (c *Checker) OnTradeAmended(r *Reservation, a TradeAmend) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.record(r)
	if err != nil {
		return err
	}
	in := &c.instr[o.sym]
	badPx := func(p refdata.Price) bool { return p <= 0 || p > in.maxPx }
	switch {
	case a.Qty < 0 || a.NewQty < 0:
		return fmt.Errorf("%w: amend of %d to %d", ErrBadFill, a.Qty, a.NewQty)
	case a.Qty > 0 && badPx(a.Price), a.NewQty > 0 && badPx(a.NewPrice):
		return fmt.Errorf("%w: amend from %s to %s, beyond the largest price %s the board maximum allows", ErrBadFill, a.Price, a.NewPrice, in.maxPx)
	case a.Qty > o.cum:
		return fmt.Errorf("%w: amend takes back %d of the %d filled of %s", ErrBadFill, a.Qty, o.cum, o.clOrdID)
	case a.NewQty-a.Qty > in.maxQty-o.cum:
		return fmt.Errorf("%w: amend to %d more than the %d filled exceeds the %s board maximum %d", ErrBadFill, a.NewQty-a.Qty, o.cum, in.Board, in.maxQty)
	}
	if a.Qty == 0 {
		a.Price = 0
	}
	if a.NewQty == 0 {
		a.NewPrice = 0
	}
	acct, p := o.acct, o.pos
	// Where a buy's shares went: bought today, unless taken on an earlier
	// day (a change of day made them sellable since) or as a late fill of
	// an order that ended on a day before the fill's (OnLateFill).
	boughtToday := a.Day == c.day && (!o.done || o.endDay >= a.Day)
	dq := a.NewQty - a.Qty
	o.cum += dq
	switch maxQty, _ := o.bounds(); {
	case o.done && a.Working && o.endDay == c.day && o.cum < o.qty:
		o.done, o.endDay = false, 0
		acct.open++
	case !o.done && o.cum >= maxQty:
		o.done, o.endDay, o.pending = true, c.day, false
		acct.open--
	}
	acct.rehold(o)
	// Both values are at most maxPx times the board maximum.
	dv := a.NewPrice*refdata.Price(a.NewQty) - a.Price*refdata.Price(a.Qty)
	if o.side == Sell {
		dv, dq = -dv, -dq // proceeds and shares go the other way
	}
	if dv > 0 {
		acct.avail = subCash(acct.avail, dv)
	} else {
		acct.avail = addCash(acct.avail, -dv)
	}
	switch {
	case o.side == Sell || !boughtToday:
		p.sellable += dq
	case dq >= 0:
		p.today += dq
	default:
		// Take them from today's; any beyond (a fill risk did not count
		// as today's) from the sellable ones, never leaving a negative.
		k := min(-dq, p.today)
		p.today -= k
		p.sellable -= -dq - k
	}
	return nil
}

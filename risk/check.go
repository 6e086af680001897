package risk

import (
	"fmt"
	"time"

	"sgw/refdata"
)

// CheckNew runs the pre-trade checks on a new order and, if it passes,
// holds its cash (buy: Price*Qty) or sellable shares (sell) and records
// its client order id for the day. It returns the order's Reservation, the
// handle the order path passes to OnFill and OnDone, or the first failing
// check's Reject (and changes nothing but the throttles).
// The checks run in this order:
//
//  1. session throttle (risk.throttle_session)
//  2. account known, credit flag matches (risk.unknown_account)
//  3. kill switch, global then account (risk.kill_switch)
//  4. account throttle (risk.throttle_account)
//  5. limit order, buy or sell, client order id, quantity and price
//     positive (risk.unsupported_type, risk.bad_clordid, risk.bad_qty,
//     risk.bad_price)
//  6. client order id unused today (risk.duplicate_clordid)
//  7. symbol known, not restricted, not halted (risk.unknown_symbol,
//     risk.restricted, risk.not_trading)
//  8. trading phase accepts orders (risk.session_closed); the reference
//     data is the current trading day's (Config.RefDay; risk.not_trading)
//  9. price within the daily band, on the tick (risk.price_band, risk.tick)
//  10. lot rules (risk.lot, risk.odd_lot), board maximum (risk.max_qty)
//  11. order value (risk.max_notional)
//  12. available cash or sellable position (risk.cash, risk.position)
//
// Throttled, killed and otherwise rejected orders all spend a token of
// the throttles they reached (steps 1 and 4).
func (c *Checker) CheckNew(o Order) (*Reservation, *Reject) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newOrder(&o, now, true)
}

// RestoreNew records an order that was accepted before, for journal
// replay: the effects of an accepted CheckNew without the checks that
// depend on the clock or on operator switches (session, throttles, kill
// switch, halts, restricted list) or on policy that may have changed
// (credit flag, tick, lots, order value, cash and position). It still
// requires a known account and symbol, a well-formed order, an unused
// client order id, and a price and quantity whose product fits (a
// quantity within the board maximum; not the configured band: the order
// was in its own day's, whose previous close may have differed). Cash or sellable shares may go
// negative if the configuration changed; new orders are then rejected until
// fills or OnDone free them. RestoreNew does not read the clock.
func (c *Checker) RestoreNew(o Order) (*Reservation, *Reject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.newOrder(&o, time.Time{}, false)
}

// admit runs the checks a new order and a replace share, in order: phase
// and session throttle (live), account, kill switch and account throttle
// (live), shape, unused client order id, known instrument. c.mu must be
// held.
func (c *Checker) admit(o *Order, now time.Time, live bool) (Phase, *account, int32, *Reject) {
	var ph Phase
	if live {
		ph = c.advance(now)
		if rej := c.throttleSession(o.Session, now); rej != nil {
			return ph, nil, 0, rej
		}
	}
	a, rej := c.account(o.Account, o.Credit, live)
	if rej != nil {
		return ph, nil, 0, rej
	}
	if live {
		if rej := c.gate(a, now); rej != nil {
			return ph, nil, 0, rej
		}
	}
	if rej := shape(o); rej != nil {
		return ph, nil, 0, rej
	}
	if a.orders[o.ClOrdID] != nil {
		return ph, nil, 0, duplicate(o.ClOrdID)
	}
	idx, rej := c.instrument(o.Symbol, live)
	if rej != nil {
		return ph, nil, 0, rej
	}
	return ph, a, idx, nil
}

// newOrder implements CheckNew (live) and RestoreNew. c.mu must be held.
func (c *Checker) newOrder(o *Order, now time.Time, live bool) (*Reservation, *Reject) {
	ph, a, idx, rej := c.admit(o, now, live)
	if rej != nil {
		return nil, rej
	}
	in := &c.instr[idx]
	if live && !ph.AcceptsNew() {
		return nil, reject(CodeSessionClosed, c.sched.closedText(now))
	}
	if rej := c.refDayCheck(live); rej != nil {
		return nil, rej
	}
	if rej := priceCheck(in, o.Price, live); rej != nil {
		return nil, rej
	}
	p := a.pos[idx]
	var free int64
	if p != nil {
		free = p.sellable - p.reserved
	}
	if live {
		if rej := lotCheck(in, o.Side, o.Qty, free); rej != nil {
			return nil, rej
		}
	}
	if o.Qty > in.maxQty {
		return nil, reject(CodeMaxQty, fmt.Sprintf("quantity %d exceeds the %s board maximum %d", o.Qty, in.Board, in.maxQty))
	}
	if live && o.Side == Buy && in.Board == refdata.BoardST {
		if rej := c.stDailyBuyCheck(a, p, idx, o.Qty, nil); rej != nil {
			return nil, rej
		}
	}
	// Price <= maxPx (limit-up, live) and Qty <= the board maximum: the
	// product fits.
	value := o.Price * refdata.Price(o.Qty)
	if live {
		if value > c.maxNotional {
			return nil, reject(CodeMaxNotional, fmt.Sprintf("order value %s exceeds the maximum %s", value, c.maxNotional))
		}
		if o.Side == Buy && value > a.avail {
			return nil, reject(CodeCash, fmt.Sprintf("buy needs %s but available cash is %s", value, a.avail))
		}
		if o.Side == Sell && o.Qty > free {
			return nil, positionReject(o.Qty, free, p)
		}
	}

	if p == nil {
		p = &position{}
		a.pos[idx] = p
	}
	// The record is fresh from the slab (zeroed): set fields one by one
	// rather than copy whole structs, which costs bulk write barriers.
	r := c.orders.alloc()
	r.acct, r.pos, r.session, r.clOrdID, r.sym = a, p, o.Session, o.ClOrdID, idx
	r.side, r.price, r.qty, r.day = o.Side, o.Price, o.Qty, c.day
	a.orders[o.ClOrdID] = r
	a.open++
	a.rehold(r)
	res := &r.resv
	res.ord = r
	res.Account, res.ClOrdID, res.Symbol = a.id, o.ClOrdID, in.Symbol
	res.Side, res.Price, res.Qty = o.Side, o.Price, o.Qty
	if o.Side == Buy {
		res.Cash = refdata.Price(r.held)
	} else {
		res.Shares = r.held
	}
	return res, nil
}

// CheckCancel checks a cancel request. Cancels are not throttled and not
// blocked by the kill switch or a halt: they only reduce risk. The checks:
// account known (risk.unknown_account); the order is one of the account's
// today, still working and, if the cancel names a symbol, for that symbol
// (risk.unknown_order); the cancel's own client order id, if set, unused
// (risk.duplicate_clordid); the phase accepts cancels (risk.session_closed,
// risk.no_cancel_period). On accept the cancel's client order id is
// recorded and refers to the order. The order holds its reservation until
// OnDone.
func (c *Checker) CheckCancel(x Cancel) *Reject {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancel(&x, now, true)
}

// RestoreCancel records a cancel request accepted before, for journal
// replay: CheckCancel without the session check. It does not read the
// clock.
func (c *Checker) RestoreCancel(x Cancel) *Reject {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.cancel(&x, time.Time{}, false)
}

// cancel implements CheckCancel and RestoreCancel. c.mu must be held.
func (c *Checker) cancel(x *Cancel, now time.Time, live bool) *Reject {
	var ph Phase
	if live {
		ph = c.advance(now)
	}
	a := c.accounts[x.Account]
	if a == nil {
		return reject(CodeUnknownAccount, fmt.Sprintf("unknown account %q", x.Account))
	}
	o := a.orders[x.OrigClOrdID]
	if rej := working(o, x.OrigClOrdID); rej != nil {
		return rej
	}
	if sym := c.instr[o.sym].Symbol; x.Symbol != "" && x.Symbol != sym {
		return reject(CodeUnknownOrder, fmt.Sprintf("order %s is for %s, not %s", x.OrigClOrdID, sym, x.Symbol))
	}
	if x.ClOrdID != "" && a.orders[x.ClOrdID] != nil {
		return duplicate(x.ClOrdID)
	}
	if live {
		if !ph.AcceptsNew() {
			return reject(CodeSessionClosed, c.sched.closedText(now))
		}
		if !ph.AcceptsCancel() {
			return reject(CodeNoCancelPeriod, noCancelText(ph))
		}
	}
	if x.ClOrdID != "" {
		a.orders[x.ClOrdID] = o
	}
	return nil
}

// CheckReplace checks a cancel/replace of the working order origClOrdID
// with the new terms o (o.Qty is the new total quantity, filled shares
// included). It runs CheckNew's steps 1–7 on o, then: the original is
// working, has no replace pending and has o's symbol and side
// (risk.unknown_order, risk.replace_pending, risk.unsupported_type); the
// phase accepts both orders and cancels (risk.session_closed,
// risk.no_cancel_period); the reference data is the current trading
// day's (risk.not_trading); the price band and tick; the new leaves
// (o.Qty minus the filled quantity) are positive (risk.bad_qty), meet the
// lot rules and o.Qty is within the board maximum; the new leaves' value
// is within the maximum; and whatever the replace needs beyond what the
// order already holds is available (risk.cash, risk.position).
//
// While the upstream has not answered, the order holds the worst case of
// its old and new terms (the larger price times the larger quantity, less
// the fills), since it may fill under either; OnReplaced or
// OnReplaceRejected then releases the excess. The order stays its
// session's (cancel-on-disconnect) until OnReplaced moves it to o's. The
// Reservation reports the
// extra cash or shares held by this call, and is the replace's handle for
// OnReplaced or OnReplaceRejected.
func (c *Checker) CheckReplace(origClOrdID string, o Order) (*Reservation, *Reject) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replace(origClOrdID, &o, now, true)
}

// RestoreReplace records a replace accepted before, for journal replay,
// with the same omissions as RestoreNew. It does not read the clock.
func (c *Checker) RestoreReplace(origClOrdID string, o Order) (*Reservation, *Reject) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.replace(origClOrdID, &o, time.Time{}, false)
}

// replace implements CheckReplace and RestoreReplace. c.mu must be held.
func (c *Checker) replace(orig string, o *Order, now time.Time, live bool) (*Reservation, *Reject) {
	ph, a, idx, rej := c.admit(o, now, live)
	if rej != nil {
		return nil, rej
	}
	in := &c.instr[idx]
	r := a.orders[orig]
	if rej := working(r, orig); rej != nil {
		return nil, rej
	}
	if r.pending {
		return nil, reject(CodeReplacePending, fmt.Sprintf("order %s already has a replace pending", orig))
	}
	if r.sym != idx || r.side != o.Side {
		return nil, reject(CodeUnsupportedType, fmt.Sprintf("a replace cannot change the symbol or side of order %s (%s %s)", orig, r.side, in.Symbol))
	}
	if live {
		if !ph.AcceptsNew() {
			return nil, reject(CodeSessionClosed, c.sched.closedText(now))
		}
		if !ph.AcceptsCancel() {
			return nil, reject(CodeNoCancelPeriod, noCancelText(ph))
		}
	}
	if rej := c.refDayCheck(live); rej != nil {
		return nil, rej
	}
	if rej := priceCheck(in, o.Price, live); rej != nil {
		return nil, rej
	}
	leaves := o.Qty - r.cum
	if leaves <= 0 {
		return nil, reject(CodeBadQty, fmt.Sprintf("quantity %d is not above the %d already filled", o.Qty, r.cum))
	}
	free := r.pos.sellable - r.pos.reserved
	if live {
		// The exchange sees a new order for the leaves, sellable from what
		// is free plus what the original holds.
		oldLeaves := int64(0)
		if o.Side == Sell {
			oldLeaves = r.held
		}
		if rej := lotCheck(in, o.Side, leaves, free+oldLeaves); rej != nil {
			return nil, rej
		}
	}
	if o.Qty > in.maxQty {
		return nil, reject(CodeMaxQty, fmt.Sprintf("quantity %d exceeds the %s board maximum %d", o.Qty, in.Board, in.maxQty))
	}
	if live && o.Side == Buy && in.Board == refdata.BoardST && o.Qty > r.qty {
		if rej := c.stDailyBuyCheck(a, r.pos, r.sym, leaves, r); rej != nil {
			return nil, rej
		}
	}
	if value := o.Price * refdata.Price(leaves); live && value > c.maxNotional {
		return nil, reject(CodeMaxNotional, fmt.Sprintf("order value %s exceeds the maximum %s", value, c.maxNotional))
	}

	r.pending, r.pPrice, r.pQty = true, o.Price, o.Qty
	need := r.required() - r.held
	if live && need > 0 {
		switch {
		case o.Side == Buy && refdata.Price(need) > a.avail:
			r.pending = false
			return nil, reject(CodeCash, fmt.Sprintf("replace needs %s more but available cash is %s", refdata.Price(need), a.avail))
		case o.Side == Sell && need > free:
			r.pending = false
			return nil, positionReject(leaves, free+r.held, r.pos)
		}
	}
	r.replaces++
	r.pClOrdID, r.pSession = o.ClOrdID, o.Session
	a.orders[o.ClOrdID] = r
	a.rehold(r)
	res := &Reservation{
		Account: a.id, ClOrdID: o.ClOrdID, Symbol: in.Symbol,
		Side: o.Side, Price: o.Price, Qty: o.Qty,
		ord: r, replace: r.replaces,
	}
	if need = max(need, 0); o.Side == Buy {
		res.Cash = refdata.Price(need)
	} else {
		res.Shares = need
	}
	return res, nil
}

// advance returns the phase at now, first rolling the day over if now is
// on a later date, unless the caller changes days (DaysByCaller). c.mu
// must be held.
func (c *Checker) advance(now time.Time) Phase {
	ph, date := c.sched.at(now)
	if date > c.day && !c.callerDays {
		c.rollover(date, false)
	}
	return ph
}

// throttleSession spends a token of the session's throttle. c.mu must be
// held.
func (c *Checker) throttleSession(session string, now time.Time) *Reject {
	if session == "" {
		return nil
	}
	b := c.sessions[session]
	if b == nil {
		b = &bucket{}
		c.sessions[session] = b
	}
	if !b.take(now.UnixNano(), c.sessionRate) {
		return reject(CodeThrottleSession, fmt.Sprintf("session %s exceeds %d orders per second", session, c.sessionRate))
	}
	return nil
}

// account finds an order's account and (live) checks its credit flag.
func (c *Checker) account(id string, credit, live bool) (*account, *Reject) {
	a := c.accounts[id]
	switch {
	case a == nil:
		return nil, reject(CodeUnknownAccount, fmt.Sprintf("unknown account %q", id))
	case live && credit && !a.credit:
		return nil, reject(CodeUnknownAccount, fmt.Sprintf("account %s is a cash account; credit orders are not accepted for it", id))
	case live && !credit && a.credit:
		return nil, reject(CodeUnknownAccount, fmt.Sprintf("account %s is a credit account; send its orders as credit orders", id))
	}
	return a, nil
}

// gate applies the kill switches and spends a token of the account's
// throttle. c.mu must be held.
func (c *Checker) gate(a *account, now time.Time) *Reject {
	switch {
	case c.killAll:
		return reject(CodeKillSwitch, "new orders are blocked by the global kill switch")
	case a.killed:
		return reject(CodeKillSwitch, fmt.Sprintf("new orders for account %s are blocked by its kill switch", a.id))
	case !a.bucket.take(now.UnixNano(), c.accountRate):
		return reject(CodeThrottleAccount, fmt.Sprintf("account %s exceeds %d orders per second", a.id, c.accountRate))
	}
	return nil
}

// shape checks the fields of an order that need no state.
func shape(o *Order) *Reject {
	switch {
	case o.Type == Market:
		return reject(CodeUnsupportedType, "market orders are not supported; send a limit order")
	case o.Type != Limit:
		return reject(CodeUnsupportedType, fmt.Sprintf("order type %s is not supported", o.Type))
	case o.Side != Buy && o.Side != Sell:
		return reject(CodeUnsupportedType, fmt.Sprintf("%s is not buy or sell", o.Side))
	case o.ClOrdID == "":
		return reject(CodeBadClOrdID, "clOrdId is required")
	case o.Qty <= 0:
		return reject(CodeBadQty, fmt.Sprintf("quantity %d must be positive", o.Qty))
	case o.Price <= 0:
		return reject(CodeBadPrice, fmt.Sprintf("price %s must be positive", o.Price))
	}
	return nil
}

// duplicate rejects a client order id used before today.
func duplicate(id string) *Reject {
	return reject(CodeDuplicateClOrd, fmt.Sprintf("clOrdId %s was already used today", id))
}

// working rejects a missing or done order.
func working(o *order, id string) *Reject {
	switch {
	case o == nil:
		return reject(CodeUnknownOrder, fmt.Sprintf("no order %s today", id))
	case o.done:
		return reject(CodeUnknownOrder, fmt.Sprintf("order %s is already done", id))
	}
	return nil
}

// instrument finds a symbol and (live) checks its switches. c.mu must be
// held.
func (c *Checker) instrument(symbol string, live bool) (int32, *Reject) {
	idx, ok := c.symbols[symbol]
	if !ok {
		return 0, reject(CodeUnknownSymbol, fmt.Sprintf("unknown symbol %q", symbol))
	}
	in := &c.instr[idx]
	switch {
	case !live:
	case in.restricted:
		return 0, reject(CodeRestricted, fmt.Sprintf("%s is on the restricted list", symbol))
	case in.halted:
		return 0, reject(CodeNotTrading, fmt.Sprintf("%s is halted", symbol))
	}
	return idx, nil
}

// refDayCheck refuses (live) an order or replace on a trading day the
// reference data is not for (Config.RefDay): its band would be another
// day's. c.mu must be held.
func (c *Checker) refDayCheck(live bool) *Reject {
	if !live || c.refDay == 0 || c.refDay == c.day {
		return nil
	}
	return reject(CodeNotTrading, fmt.Sprintf("the reference data (previous closes, price limits) is for trading day %s, not today's %s: "+
		"new orders and replaces are refused until the gateway is restarted with today's (orders.risk.ref_day)", dayText(c.refDay), dayText(c.day)))
}

// dayText formats yyyymmdd as YYYY-MM-DD.
func dayText(d int32) string { return fmt.Sprintf("%04d-%02d-%02d", d/10000, d/100%100, d%100) }

// priceCheck checks (live) the daily band (inclusive) and the tick. A
// replayed request is checked against the arithmetic bound only: it was
// within the band of the day it was accepted on, whose previous close may
// not be the configured one (a journal of several days, reference data
// loaded afresh each morning or corrected).
func priceCheck(in *instrument, p refdata.Price, live bool) *Reject {
	switch {
	case !live && p > in.maxPx:
		return reject(CodePriceBand, fmt.Sprintf("price %s beyond the largest %s the board maximum allows", p, in.maxPx))
	case !live:
	case p < in.lo || p > in.hi:
		return reject(CodePriceBand, fmt.Sprintf("price %s outside limit band %s-%s", p, in.lo, in.hi))
	case !in.OnTick(p):
		return reject(CodeTick, fmt.Sprintf("price %s is not a multiple of the tick %s", p, in.Tick))
	}
	return nil
}

// lotCheck applies the lot rules to an order of qty shares when free
// shares are sellable. Buys: a multiple of the lot; on STAR at least 200
// shares in steps of one. Sells: a multiple of the lot, or with an odd part
// equal to the whole odd part of the sellable position (an odd lot is sold
// whole, in one order); on STAR at least 200 shares, or the whole sellable
// position when it is less. A sell of more than is free passes here and
// fails the position check.
func lotCheck(in *instrument, side Side, qty, free int64) *Reject {
	if side == Buy {
		switch {
		case in.star && qty < starMinQty:
			return reject(CodeLot, fmt.Sprintf("STAR buy quantity %d is below the minimum %d", qty, starMinQty))
		case !in.star && qty%in.Lot != 0:
			return reject(CodeLot, fmt.Sprintf("buy quantity %d is not a multiple of the lot %d", qty, in.Lot))
		}
		return nil
	}
	if qty > free {
		return nil
	}
	if in.star {
		if qty < starMinQty && qty != free {
			return reject(CodeOddLot, fmt.Sprintf("STAR sell quantity %d is below %d and not the whole sellable position %d", qty, starMinQty, free))
		}
		return nil
	}
	odd, oddFree := qty%in.Lot, free%in.Lot
	switch {
	case odd == 0 || odd == oddFree:
		return nil
	case oddFree == 0:
		return reject(CodeOddLot, fmt.Sprintf("sell quantity %d is not a multiple of the lot %d", qty, in.Lot))
	}
	return reject(CodeOddLot, fmt.Sprintf("sell quantity %d has an odd lot of %d; the odd lot of %d must be sold whole in one order", qty, odd, oddFree))
}

// positionReject reports a sell larger than the free shares.
func positionReject(qty, free int64, p *position) *Reject {
	text := fmt.Sprintf("sell of %d exceeds the sellable position %d", qty, free)
	if p != nil && p.today > 0 {
		text += fmt.Sprintf(" (%d bought today are sellable from the next trading day)", p.today)
	}
	return reject(CodePosition, text)
}

// stDailyBuyCheck refuses a buy of qty more shares of the ST share idx
// (a new order's quantity, a replace's new leaves) that would take the
// account's buys of it today beyond Config.STDailyBuy: its fills today
// (p, nil for none) and what its working buys may still fill, except
// order (the one being replaced). It walks the account's orders: only ST
// buys pay for it. c.mu must be held.
func (c *Checker) stDailyBuyCheck(a *account, p *position, idx int32, qty int64, except *order) *Reject {
	total := qty
	if p != nil {
		total += p.today
	}
	for k, o := range a.orders {
		// An order is indexed under each of its ids; it counts once, under
		// its current one.
		if k != o.clOrdID || o == except || o.done || o.side != Buy || o.sym != idx {
			continue
		}
		q, _ := o.bounds()
		total += max(q-o.cum, 0)
	}
	if total > c.stDailyBuy {
		return reject(CodeMaxQty, fmt.Sprintf("buys of %s today would reach %d shares, filled and working; the limit for a risk-warned share is %d a day",
			c.instr[idx].Symbol, total, c.stDailyBuy))
	}
	return nil
}

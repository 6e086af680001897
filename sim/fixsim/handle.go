package fixsim

import (
	"errors"
	"fmt"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/sim"
	"sgw/sim/match"
)

// OrdRejReason (103) and CxlRejReason (102) values the venue uses.
const (
	rejUnknownSymbol  = "1"
	rejExchangeClosed = "2"
	rejDuplicate      = "6"
	rejUnsupported    = "11"
	rejBadQty         = "13"
	rejPriceBand      = "16"
	rejTick           = "18"
	rejOther          = "99"

	cxlTooLate   = "0"
	cxlUnknown   = "1"
	cxlDuplicate = "6"
	cxlPriceBand = "8"
	cxlTick      = "18"
	cxlOther     = "99"
)

// fields returns a reader of m's body fields: absent and empty fields
// read as "", and values are checked by the venue, which answers a bad
// one with a business reject.
func fields(m *quickfix.Message) *fix.FieldReader {
	return fix.NewFieldReader(m, fix.EmptyAllowed)
}

// possDup reports whether m is flagged as a possible duplicate: PossDupFlag
// (43, a session-level resend) or PossResend (97, an application-level
// resend under a new sequence number).
func possDup(m *quickfix.Message) bool {
	d, r := fix.PossDup(m)
	return d || r
}

// handle processes one application message of p's session. It runs on the
// session's goroutine (quickfix's FromApp) and takes mu. A returned error
// makes quickfix answer with a session-level Reject or a
// BusinessMessageReject.
func (v *venue) handle(p *party, m *quickfix.Message) quickfix.MessageRejectError {
	mt, err := m.MsgType()
	if err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	v.drain() // so that state and reports are current before acting
	var rej quickfix.MessageRejectError
	switch mt {
	case "D":
		rej = v.newOrder(p, m)
	case "F":
		rej = v.cancel(p, m)
	case "G":
		rej = v.replace(p, m)
	case "H":
		rej = v.status(p, m)
	default:
		return quickfix.UnsupportedMessageType()
	}
	// Report at once the executions of resting orders (of any party) that
	// this message caused.
	v.drain()
	return rej
}

// newOrder handles a NewOrderSingle. The caller holds mu.
func (v *venue) newOrder(p *party, m *quickfix.Message) quickfix.MessageRejectError {
	d := fields(m)
	id := d.Str(tag.ClOrdID, true)
	if rej := d.Err(); rej != nil {
		return rej
	}
	dup := possDup(m)
	v.count(id, dup)
	o := &order{
		p:       p,
		clOrdID: id,
		account: d.Str(tag.Account, false),
		fixSym:  d.Str(tag.Symbol, false),
		exch:    d.Str(tag.SecurityExchange, false),
	}
	if prev := p.orders[id]; prev != nil {
		if dup {
			// A resend of an order the venue already has: answer with its
			// state, never enter it twice.
			v.report(prev, report{exec: 'I'})
			return nil
		}
		o.id, o.status = "NONE", statusRejected
		o.side, _ = parseSide(d.Str(tag.Side, false))
		v.report(o, report{exec: '8', rejReason: rejDuplicate, text: "duplicate ClOrdID"})
		return nil
	}
	o.id = v.nextOrderID()
	p.orders[id] = o
	if reason, err := v.parseNew(o, d); err != nil {
		o.status = statusRejected
		v.report(o, report{exec: '8', rejReason: reason, text: err.Error()})
		return nil
	}
	r, err := v.sim.Submit(match.Order{
		Symbol: o.symbol, Side: o.side, Price: o.price, Qty: o.qty, TIF: o.tif,
		Owner: p.name, Tag: id,
	})
	if err != nil {
		o.status = statusRejected
		v.report(o, report{exec: '8', rejReason: rejReasonOf(err), text: err.Error()})
		return nil
	}
	o.status, o.leaves = statusNew, o.qty
	v.report(o, report{exec: '0'})
	v.entered(o, r)
	return nil
}

// parseNew fills o from a NewOrderSingle's fields and returns the
// OrdRejReason of the first problem.
func (v *venue) parseNew(o *order, d *fix.FieldReader) (string, error) {
	var err error
	if o.side, err = parseSide(d.Str(tag.Side, false)); err != nil {
		return rejUnsupported, err
	}
	if o.symbol, err = v.syms.resolve(o.fixSym, o.exch); err != nil {
		return rejUnknownSymbol, err
	}
	if t := d.Str(tag.OrdType, false); t != "" && t != "2" {
		return rejUnsupported, fmt.Errorf("%w: %q", errOrdType, t)
	}
	if o.tif, err = parseTIF(d.Str(tag.TimeInForce, false)); err != nil {
		return rejUnsupported, err
	}
	if o.qty, err = parseQty(d.Str(tag.OrderQty, false)); err != nil {
		return rejBadQty, err
	}
	px := d.Str(tag.Price, false)
	if px == "" {
		return rejOther, errNoPrice
	}
	if o.price, err = parsePrice(px); err != nil {
		return rejOther, err
	}
	return "", nil
}

// rejReasonOf maps an engine or simulator error to an OrdRejReason.
func rejReasonOf(err error) string {
	switch {
	case errors.Is(err, match.ErrUnknownSymbol):
		return rejUnknownSymbol
	case errors.Is(err, match.ErrHalted), errors.Is(err, sim.ErrSessionEnded):
		return rejExchangeClosed
	case errors.Is(err, match.ErrOutOfBand):
		return rejPriceBand
	case errors.Is(err, match.ErrOffTick):
		return rejTick
	case errors.Is(err, match.ErrBadQty), errors.Is(err, match.ErrOddLot):
		return rejBadQty
	case errors.Is(err, match.ErrBadSide):
		return rejUnsupported
	}
	return rejOther
}

// cxlReasonOf maps an engine or simulator error to a CxlRejReason.
func cxlReasonOf(err error) string {
	switch {
	case errors.Is(err, match.ErrUnknownOrder):
		return cxlTooLate
	case errors.Is(err, match.ErrOutOfBand):
		return cxlPriceBand
	case errors.Is(err, match.ErrOffTick):
		return cxlTick
	}
	return cxlOther
}

// request is the common part of OrderCancelRequest and
// OrderCancelReplaceRequest.
type request struct {
	clOrdID, origClOrdID string
	replace              bool
}

// lookup resolves a cancel or replace request to a live order. When it
// returns nil it has already answered: a status report for a resend of a
// request already processed, or an OrderCancelReject. The caller holds mu.
func (v *venue) lookup(p *party, m *quickfix.Message, rq request) *order {
	if prev := p.orders[rq.clOrdID]; prev != nil {
		if possDup(m) {
			v.report(prev, report{exec: 'I'})
		} else {
			v.cancelReject(p, rq, prev, cxlDuplicate, "duplicate ClOrdID")
		}
		return nil
	}
	o := p.orders[rq.origClOrdID]
	switch {
	case o == nil:
		v.cancelReject(p, rq, nil, cxlUnknown, "unknown order")
		return nil
	case o.done():
		v.cancelReject(p, rq, o, cxlTooLate, "too late: order is "+statusName(o.status))
		return nil
	}
	return o
}

// cancel handles an OrderCancelRequest. The caller holds mu.
func (v *venue) cancel(p *party, m *quickfix.Message) quickfix.MessageRejectError {
	d := fields(m)
	rq := request{clOrdID: d.Str(tag.ClOrdID, true), origClOrdID: d.Str(tag.OrigClOrdID, true)}
	if rej := d.Err(); rej != nil {
		return rej
	}
	o := v.lookup(p, m, rq)
	if o == nil {
		return nil
	}
	_, at, err := v.sim.CancelAt(o.ref)
	if err != nil {
		v.drain() // an execution may have raced the request
		v.cancelReject(p, rq, o, cxlReasonOf(err), err.Error())
		return nil
	}
	// Executions that raced the request (the engine had them before the
	// cancel) are reported first, under the order's reference.
	v.drainTo(at)
	delete(v.byRef, o.ref)
	prior := o.clOrdID
	o.clOrdID = rq.clOrdID
	p.orders[rq.clOrdID] = o
	o.ref, o.leaves, o.status = 0, 0, statusCanceled
	v.report(o, report{exec: '4', origClOrdID: prior})
	return nil
}

// replace handles an OrderCancelReplaceRequest: OrderQty is the new total
// quantity, so the engine gets OrderQty - CumQty as the new open quantity.
// A missing Price keeps the order's price. The caller holds mu.
func (v *venue) replace(p *party, m *quickfix.Message) quickfix.MessageRejectError {
	d := fields(m)
	rq := request{clOrdID: d.Str(tag.ClOrdID, true), origClOrdID: d.Str(tag.OrigClOrdID, true), replace: true}
	if rej := d.Err(); rej != nil {
		return rej
	}
	o := v.lookup(p, m, rq)
	if o == nil {
		return nil
	}
	qty, err := parseQty(d.Str(tag.OrderQty, false))
	if err != nil {
		v.cancelReject(p, rq, o, cxlOther, err.Error())
		return nil
	}
	price := o.price
	if s := d.Str(tag.Price, false); s != "" {
		if price, err = parsePrice(s); err != nil {
			v.cancelReject(p, rq, o, cxlOther, err.Error())
			return nil
		}
	}
	leaves := qty - o.cum
	if leaves <= 0 {
		v.cancelReject(p, rq, o, cxlOther, fmt.Sprintf("OrderQty %d not above CumQty %d", qty, o.cum))
		return nil
	}
	// Amend takes off leaves what executed since the venue last looked,
	// so the order never rests more than OrderQty less CumQty.
	r, at, err := v.sim.Amend(o.ref, price, o.leaves, leaves)
	if err != nil {
		v.drain()
		v.cancelReject(p, rq, o, cxlReasonOf(err), err.Error())
		return nil
	}
	// Executions that raced the request are booked (and reported, under
	// the old ClOrdID) before the replace, which leaves qty less all of
	// CumQty.
	v.drainTo(at)
	leaves = qty - o.cum
	delete(v.byRef, o.ref)
	prior := o.clOrdID
	o.clOrdID = rq.clOrdID
	p.orders[rq.clOrdID] = o
	o.ref, o.price, o.qty, o.leaves = 0, price, qty, leaves
	if o.cum > 0 {
		o.status = statusPartial
	} else {
		o.status = statusNew
	}
	v.report(o, report{exec: '5', origClOrdID: prior})
	v.entered(o, r)
	return nil
}

// status handles an OrderStatusRequest: a status report of the order with
// that ClOrdID (any ClOrdID the order had), or a report with OrdStatus
// Rejected and Text "unknown order". The caller holds mu.
func (v *venue) status(p *party, m *quickfix.Message) quickfix.MessageRejectError {
	d := fields(m)
	id := d.Str(tag.ClOrdID, true)
	if rej := d.Err(); rej != nil {
		return rej
	}
	reqID := d.Str(tag.OrdStatusReqID, false)
	if o := p.orders[id]; o != nil {
		v.report(o, report{exec: 'I', statusReqID: reqID})
		return nil
	}
	o := &order{p: p, id: "NONE", clOrdID: id, fixSym: d.Str(tag.Symbol, false), exch: d.Str(tag.SecurityExchange, false), status: statusRejected}
	o.side, _ = parseSide(d.Str(tag.Side, false))
	v.report(o, report{exec: 'I', statusReqID: reqID, text: "unknown order"})
	return nil
}

func statusName(s byte) string {
	switch s {
	case statusNew:
		return "new"
	case statusPartial:
		return "partially filled"
	case statusFilled:
		return "filled"
	case statusCanceled:
		return "canceled"
	case statusRejected:
		return "rejected"
	}
	return "status(" + string(rune(s)) + ")"
}

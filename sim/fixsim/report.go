package fixsim

import (
	"strconv"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
	"sgw/sim/match"
)

// report describes one ExecutionReport of an order. exec is the FIX 4.4
// ExecType (150): '0' new, '4' canceled, '5' replaced, '8' rejected, 'F'
// trade, 'I' order status; report maps it for FIX 4.2.
type report struct {
	exec        byte
	origClOrdID string
	lastPx      refdata.Price // trades
	lastQty     int64
	match       uint64
	rejReason   string
	text        string
	statusReqID string
}

// report builds the ExecutionReport r of o and sends it to o's party. The
// caller holds mu.
func (v *venue) report(o *order, r report) {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "8")
	b := &m.Body
	b.SetString(tag.OrderID, o.id)
	b.SetString(tag.ClOrdID, o.clOrdID)
	if r.origClOrdID != "" {
		b.SetString(tag.OrigClOrdID, r.origClOrdID)
	}
	b.SetString(tag.ExecID, v.nextExecID())
	execType := string(r.exec)
	if v.fix42 {
		transType := "0"
		switch r.exec {
		case 'F':
			execType = string(o.status) // 1 partial fill, 2 fill
		case 'I':
			transType, execType = "3", string(o.status)
		}
		b.SetString(tag.ExecTransType, transType)
	}
	b.SetString(tag.ExecType, execType)
	b.SetString(tag.OrdStatus, string(o.status))
	if o.account != "" {
		b.SetString(tag.Account, o.account)
	}
	v.setInstrument(b, o)
	if o.side != 0 {
		b.SetString(tag.Side, fixSide(o.side))
	}
	if o.qty > 0 {
		b.SetString(tag.OrderQty, strconv.FormatInt(o.qty, 10))
		b.SetString(tag.OrdType, "2")
	}
	if o.price > 0 {
		b.SetString(tag.Price, o.price.String())
	}
	if o.tif == match.IOC {
		b.SetString(tag.TimeInForce, "3")
	}
	if r.exec == 'F' {
		b.SetString(tag.LastPx, r.lastPx.String())
		b.SetString(tag.LastQty, strconv.FormatInt(r.lastQty, 10))
		if !v.fix42 {
			b.SetString(tag.TrdMatchID, strconv.FormatUint(r.match, 10))
		}
	}
	b.SetString(tag.LeavesQty, strconv.FormatInt(o.leaves, 10))
	b.SetString(tag.CumQty, strconv.FormatInt(o.cum, 10))
	b.SetString(tag.AvgPx, o.avgPx().String())
	if o.ref != 0 {
		// The engine's order reference: the Order Reference Number of the
		// order's Add Order (or Order Replace) on the simulator's feed.
		b.SetString(tag.SecondaryOrderID, strconv.FormatUint(o.ref, 10))
	}
	if r.rejReason != "" {
		b.SetString(tag.OrdRejReason, r.rejReason)
	}
	if r.text != "" {
		b.SetString(tag.Text, r.text)
	}
	if r.statusReqID != "" {
		b.SetString(tag.OrdStatusReqID, r.statusReqID)
	}
	b.SetField(tag.TransactTime, quickfix.FIXUTCTimestamp{Time: time.Now(), Precision: quickfix.Millis})
	v.out(o.p, m)
}

// setInstrument echoes the order's instrument as the party sent it, or
// the gateway symbol when it sent none that parsed.
func (v *venue) setInstrument(b *quickfix.Body, o *order) {
	switch {
	case o.fixSym != "":
		b.SetString(tag.Symbol, o.fixSym)
		if o.exch != "" {
			b.SetString(tag.SecurityExchange, o.exch)
		}
	case o.symbol != "":
		b.SetString(tag.Symbol, o.symbol)
	}
}

// cancelReject sends an OrderCancelReject for request rq; o is the order
// it refers to, or nil when unknown. The caller holds mu.
func (v *venue) cancelReject(p *party, rq request, o *order, reason, text string) {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "9")
	b := &m.Body
	orderID, status := "NONE", byte(statusRejected)
	if o != nil {
		orderID, status = o.id, o.status
	}
	b.SetString(tag.OrderID, orderID)
	b.SetString(tag.ClOrdID, rq.clOrdID)
	b.SetString(tag.OrigClOrdID, rq.origClOrdID)
	b.SetString(tag.OrdStatus, string(status))
	if rq.replace {
		b.SetString(tag.CxlRejResponseTo, "2")
	} else {
		b.SetString(tag.CxlRejResponseTo, "1")
	}
	b.SetString(tag.CxlRejReason, reason)
	b.SetString(tag.Text, text)
	v.out(p, m)
}

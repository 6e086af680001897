package broker

import (
	"strconv"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// noOrderID is the OrderID (37) of a report on an order the gateway has no
// id for (rejected, unknown, not yet acknowledged upstream).
const noOrderID = "NONE"

// noSymbol is the Symbol (55) of a FIX 4.2 report on an order the gateway
// knows no symbol of (the answer to a status request for an unknown order
// that named none): FIX 4.2 requires Symbol in every ExecutionReport, and a
// broker's engine validating with the FIX 4.2 dictionary refuses a report
// without it (a session-level Reject: its application never sees it).
// "[N/A]" is FIX's value for an instrument without a symbol.
const noSymbol = "[N/A]"

// execReport is one ExecutionReport (8), described with FIX 4.4 values;
// message maps them for FIX 4.2.
type execReport struct {
	orderID, clOrdID, origClOrdID, execID string
	// execRefID is ExecRefID (19), sent when set: on a trade cancel or
	// correction, the ExecID the broker knows the trade by.
	execRefID string
	// execType (150) and ordStatus (39): 'A' pending new, '0' new, 'F'
	// trade, '4' canceled, '5' replaced, '6' pending cancel, 'E' pending
	// replace, '8' rejected, 'C' expired, 'I' order status.
	execType, ordStatus byte
	rejReason           int // OrdRejReason (103); sent when ordStatus is '8'
	account             string
	symbol, exchange    string // 55 and 207
	side, ordType       byte   // 54 and 40; 0 omits
	qty                 int64
	price               refdata.Price
	lastQty             int64 // a trade's; a trade correction's, the trade as corrected
	lastPx              refdata.Price
	leaves, cum         int64
	avgPx               refdata.Price
	text                string
	// statusReqID is OrdStatusReqID (790), the status request's, echoed
	// to a FIX 4.4 session only.
	statusReqID string
	// possResend sets PossResend (97): a report the broker may have had
	// before (a trade resent by the restatement); it tells by ExecID.
	possResend bool
	// transactTime is TransactTime (60); zero means the time of sending.
	transactTime time.Time
}

// message builds the report for a session of the given version; the
// header is left to quickfix.
func (r *execReport) message(fix42 bool, now time.Time) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "8")
	if r.possResend {
		m.Header.SetBool(tag.PossResend, true)
	}
	b := &m.Body
	b.SetString(tag.OrderID, orDefault(r.orderID, noOrderID))
	b.SetString(tag.ClOrdID, r.clOrdID)
	if r.origClOrdID != "" {
		b.SetString(tag.OrigClOrdID, r.origClOrdID)
	}
	b.SetString(tag.ExecID, r.execID)
	if r.execRefID != "" {
		b.SetString(tag.ExecRefID, r.execRefID)
	}
	execType := r.execType
	if fix42 {
		transType := byte('0') // new
		switch r.execType {
		case 'I':
			transType, execType = '3', r.ordStatus // status
		case 'F':
			execType = '1' // partial fill
			if r.ordStatus == '2' {
				execType = '2' // fill
			}
		case 'H', 'G':
			// A FIX 4.4 upstream's trade cancel or correction: FIX 4.2
			// has no such ExecType. A restatement of the order's totals
			// (D), as a FIX 4.2 upstream's reaches the broker.
			execType = 'D'
		}
		b.SetString(tag.ExecTransType, string(transType))
	}
	b.SetString(tag.ExecType, string(execType))
	b.SetString(tag.OrdStatus, string(r.ordStatus))
	if r.ordStatus == '8' {
		reason := r.rejReason
		if fix42 && reason > 8 {
			reason = risk.FIXBrokerOption // FIX 4.2 has no 99 (other)
		}
		b.SetInt(tag.OrdRejReason, reason)
	}
	if r.account != "" {
		b.SetString(tag.Account, r.account)
	}
	if r.symbol != "" {
		b.SetString(tag.Symbol, r.symbol)
	} else if fix42 {
		b.SetString(tag.Symbol, noSymbol)
	}
	if r.exchange != "" {
		b.SetString(tag.SecurityExchange, r.exchange)
	}
	if r.side != 0 {
		b.SetString(tag.Side, string(r.side))
	}
	if r.qty > 0 {
		b.SetString(tag.OrderQty, strconv.FormatInt(r.qty, 10))
	}
	if r.ordType != 0 {
		b.SetString(tag.OrdType, string(r.ordType))
	}
	if r.price > 0 {
		b.SetString(tag.Price, r.price.String())
	}
	if r.execType == 'F' || r.execType == 'G' && r.lastQty > 0 || fix42 {
		// FIX 4.2 requires LastShares and LastPx on every report; a trade
		// correction carries the trade as corrected (when known: one that
		// names no trade of the order has none). For FIX 4.2 that is a
		// restatement (D), no execution: none.
		lastQty, lastPx := r.lastQty, r.lastPx
		if fix42 && (r.execType == 'H' || r.execType == 'G') {
			lastQty, lastPx = 0, 0
		}
		b.SetString(tag.LastQty, strconv.FormatInt(lastQty, 10))
		b.SetString(tag.LastPx, lastPx.String())
	}
	b.SetString(tag.LeavesQty, strconv.FormatInt(r.leaves, 10))
	b.SetString(tag.CumQty, strconv.FormatInt(r.cum, 10))
	b.SetString(tag.AvgPx, r.avgPx.String())
	if r.statusReqID != "" && !fix42 {
		// FIX 4.2 has no OrdStatusReqID (a FIX 4.4 field): a broker's
		// engine validating with the FIX 4.2 dictionary refuses a report
		// carrying it, whoever sent it first.
		b.SetString(tag.OrdStatusReqID, r.statusReqID)
	}
	if r.text != "" {
		b.SetString(tag.Text, r.text)
	}
	if !r.transactTime.IsZero() {
		now = r.transactTime
	}
	b.SetField(tag.TransactTime, quickfix.FIXUTCTimestamp{Time: now.UTC(), Precision: quickfix.Millis})
	return m
}

// cancelReject is one OrderCancelReject (9).
type cancelReject struct {
	orderID, clOrdID, origClOrdID string
	ordStatus                     byte
	replace                       bool // CxlRejResponseTo (434): 2 replace, else 1 cancel
	reason                        int  // CxlRejReason (102)
	account, text                 string
}

func (r *cancelReject) message() *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "9")
	b := &m.Body
	b.SetString(tag.OrderID, orDefault(r.orderID, noOrderID))
	b.SetString(tag.ClOrdID, r.clOrdID)
	b.SetString(tag.OrigClOrdID, r.origClOrdID)
	b.SetString(tag.OrdStatus, string(r.ordStatus))
	if r.account != "" {
		b.SetString(tag.Account, r.account)
	}
	if r.replace {
		b.SetString(tag.CxlRejResponseTo, "2")
	} else {
		b.SetString(tag.CxlRejResponseTo, "1")
	}
	b.SetInt(tag.CxlRejReason, r.reason)
	if r.text != "" {
		b.SetString(tag.Text, r.text)
	}
	return m
}

// orderReport describes an order's current state as a report of the given
// type; the caller sets the ids that depend on the event.
func orderReport(o *orders.Order, execType byte) execReport {
	code, mic, ok := fix.SplitSymbol(o.Symbol)
	if !ok {
		code = o.Symbol // sent whole, without SecurityExchange
	}
	st := ordStatus(o)
	if execType == 'I' && !o.Status.Terminal() {
		// A status answers with the request in flight (FIX's OrdStatus
		// precedence puts both pending states above New and Partially
		// filled).
		switch o.Pending() {
		case 'F':
			st = '6'
		case 'G':
			st = 'E'
		}
	}
	return execReport{
		orderID:   o.OrderID,
		clOrdID:   o.ClOrdID,
		execType:  execType,
		ordStatus: st,
		rejReason: risk.FIXOther,
		account:   o.Account,
		symbol:    code,
		exchange:  mic,
		side:      fixSide(o.Side),
		ordType:   '2',
		qty:       o.Qty,
		price:     o.Price,
		leaves:    o.LeavesQty,
		cum:       o.CumQty,
		avgPx:     o.AvgPx,
		text:      o.Text,
	}
}

// amendReport makes r a report of a trade cancel or correction of t, the
// trade as the cancel or correction left it (orders.Order.Amendment):
// ExecType H if t is canceled, else G with LastQty and LastPx as
// corrected. The caller sets the ids.
func amendReport(r *execReport, t orders.Trade) {
	r.execType, r.lastQty, r.lastPx = 'H', 0, 0
	if !t.Canceled {
		r.execType, r.lastQty, r.lastPx = 'G', t.Qty, t.Px
	}
}

// ordStatus maps an order's status to OrdStatus (39).
func ordStatus(o *orders.Order) byte {
	switch o.Status {
	case orders.StatusPendingNew:
		return 'A'
	case orders.StatusNew:
		return '0'
	case orders.StatusPartiallyFilled:
		return '1'
	case orders.StatusFilled:
		return '2'
	case orders.StatusCanceled:
		return '4'
	case orders.StatusRejected:
		return '8'
	case orders.StatusExpired:
		return 'C'
	}
	// Unknown (being reconciled with the upstream): working as far as the
	// gateway knows.
	if o.CumQty > 0 {
		return '1'
	}
	return '0'
}

// fixSide maps a side to Side (54); 0 omits it.
func fixSide(s risk.Side) byte {
	switch s {
	case risk.Buy:
		return byte(fix.Buy)
	case risk.Sell:
		return byte(fix.Sell)
	}
	return 0
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

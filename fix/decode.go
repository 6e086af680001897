package fix

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// decodeExecReport reads an ExecutionReport. A missing or malformed
// required field is returned as the reject quickfix sends back; optional
// fields that are absent (or, from the firm's own upstream, empty) stay
// zero. Prices beyond four decimals are rounded (AvgPx).
func decodeExecReport(m *quickfix.Message) (ExecReport, quickfix.MessageRejectError) {
	var er ExecReport
	d := NewFieldReader(m, EmptyAllowed)
	er.ClOrdID = d.Str(tag.ClOrdID, true)
	er.OrigClOrdID = d.Str(tag.OrigClOrdID, false)
	er.OrderID = d.Str(tag.OrderID, true)
	er.ExecID = d.Str(tag.ExecID, true)
	er.ExecRefID = d.Str(tag.ExecRefID, false)
	er.ExecType = d.Char(tag.ExecType, true)
	er.OrdStatus = d.Char(tag.OrdStatus, true)
	er.Symbol, _ = JoinSymbol(d.Str(tag.Symbol, false), d.Str(tag.SecurityExchange, false), MICsOnly)
	er.Side = Side(d.Char(tag.Side, true))
	er.Price = d.Price(tag.Price, false, PriceRound)
	er.LastPx = d.Price(tag.LastPx, false, PriceRound)
	er.AvgPx = d.Price(tag.AvgPx, false, PriceRound)
	er.OrderQty = d.Qty(tag.OrderQty, false)
	er.LastQty = d.Qty(tag.LastQty, false) // LastShares in FIX 4.2, same tag 32
	er.CumQty = d.Qty(tag.CumQty, false)
	er.LeavesQty = d.Qty(tag.LeavesQty, false)
	er.Text = d.Str(tag.Text, false)
	er.OrdRejReason = d.Int(tag.OrdRejReason, false)
	er.TransactTime = d.LenientTime(tag.TransactTime)
	er.PossDup, er.PossResend = PossDup(m)
	return er, d.Err()
}

// decodeCancelReject reads an OrderCancelReject.
func decodeCancelReject(m *quickfix.Message) (CancelReject, quickfix.MessageRejectError) {
	var r CancelReject
	d := NewFieldReader(m, EmptyAllowed)
	r.ClOrdID = d.Str(tag.ClOrdID, true)
	r.OrigClOrdID = d.Str(tag.OrigClOrdID, false)
	r.OrderID = d.Str(tag.OrderID, false)
	r.Reason = d.Int(tag.CxlRejReason, false)
	r.Text = d.Str(tag.Text, false)
	r.ResponseTo = d.Char(tag.CxlRejResponseTo, false)
	return r, d.Err()
}

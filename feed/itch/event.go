package itch

import (
	"math"

	"sgw/feed/event"
	"sgw/refdata"
)

// Normalize fills ev with the book event m carries and reports whether it
// carries one: Add Order (A, F) is an Add; Order Executed (E) an Execute at
// the order's price, always printed; Order Executed With Price (C) an
// Execute at its price, printed when Printable is 'Y'; Order Cancel (X) a
// Reduce; Order Delete (D) a Delete; Order Replace (U) a Replace; Trade (P)
// and Cross Trade (Q) a Trade (a cross of 0 shares is no cross and carries
// nothing), E, C, P and Q with their Match Number; Stock Trading Action (H) a State; System Event (S) a System.
// Other types (Stock Directory among them, which maps a Stock Locate to
// an instrument and so belongs to the caller) carry none.
//
// Normalize sets every field but Symbol and Recv, which the caller fills
// from the message's Stock Locate and its receive time. A Buy/Sell
// Indicator other than B or S gives an Add with no side, which the books
// refuse. It does not allocate.
func Normalize(m *Message, ev *event.Event) bool {
	*ev = event.Event{Time: m.Timestamp, Ref: m.OrderRef}
	qty := int64(min(m.Shares, math.MaxInt64))
	switch m.Type {
	case TypeAddOrder, TypeAddOrderMPID:
		ev.Kind, ev.Price, ev.Qty = event.Add, refdata.Price(m.Price), qty
		switch m.Side {
		case SideBuy:
			ev.Side = event.Buy
		case SideSell:
			ev.Side = event.Sell
		}
	case TypeOrderExecuted:
		ev.Kind, ev.Qty, ev.Flags, ev.Match = event.Execute, qty, event.FlagPrint, m.MatchNumber
	case TypeOrderExecutedPrice:
		ev.Kind, ev.Qty, ev.Price, ev.Match = event.Execute, qty, refdata.Price(m.Price), m.MatchNumber
		if m.Printable == 'Y' {
			ev.Flags = event.FlagPrint
		}
	case TypeOrderCancel:
		ev.Kind, ev.Qty = event.Reduce, qty
	case TypeOrderDelete:
		ev.Kind = event.Delete
	case TypeOrderReplace:
		ev.Kind, ev.NewRef, ev.Price, ev.Qty = event.Replace, m.NewOrderRef, refdata.Price(m.Price), qty
	case TypeTrade:
		ev.Kind, ev.Ref, ev.Price, ev.Qty, ev.Match = event.Trade, 0, refdata.Price(m.Price), qty, m.MatchNumber
	case TypeCrossTrade:
		if m.Shares == 0 {
			return false
		}
		ev.Kind, ev.Ref, ev.Price, ev.Qty, ev.Match = event.Trade, 0, refdata.Price(m.Price), qty, m.MatchNumber
	case TypeTradingAction:
		ev.Kind, ev.Ref, ev.Code = event.State, 0, m.TradingState
	case TypeSystemEvent:
		ev.Kind, ev.Ref, ev.Code = event.System, 0, m.EventCode
	default:
		return false
	}
	return true
}

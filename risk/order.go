package risk

import (
	"strconv"

	"sgw/refdata"
)

// Side is the side of an order. The zero value is invalid.
type Side uint8

// The order sides.
const (
	Buy Side = iota + 1
	Sell
)

// String returns "buy", "sell" or "side(n)".
func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	}
	return "side(" + strconv.Itoa(int(s)) + ")"
}

// OrdType is the type of an order. The zero value is invalid.
type OrdType uint8

// The order types. Only Limit is accepted; Market is rejected with
// risk.unsupported_type until the gateway supports its protection price.
const (
	Limit OrdType = iota + 1
	Market
)

// String returns "limit", "market" or "type(n)".
func (t OrdType) String() string {
	switch t {
	case Limit:
		return "limit"
	case Market:
		return "market"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Order is a new order (or the new terms of a replace) as the protocol
// layer decoded it.
type Order struct {
	// Account is the trading account the order is for.
	Account string
	// Session identifies the client connection (WebSocket or FIX session)
	// it came in on, for the per-session throttle and cancel-on-disconnect.
	// Empty means no session throttle and no cancel-on-disconnect (a
	// replace's: the order stays its session's). A replace's moves the
	// order to it only once the upstream accepts the replace.
	Session string
	// ClOrdID is the client order id, unique per account for the day.
	ClOrdID string
	// Symbol is the gateway symbol, such as "600519.SH".
	Symbol string
	// Side is Buy or Sell; zero is rejected (risk.unsupported_type).
	Side Side
	// Type is Limit; Market and zero are rejected (risk.unsupported_type).
	Type OrdType
	// Price is the limit price.
	Price refdata.Price
	// Qty is the order quantity in shares. For a replace it is the new
	// total quantity, filled shares included (FIX OrderQty).
	Qty int64
	// Credit marks an order for a margin (credit) account; it must match
	// the account's configuration. Zero means a cash-account order.
	Credit bool
}

// Cancel is a cancel request for an order.
type Cancel struct {
	// Account is the account of the order to cancel.
	Account string
	// Session is the client connection the cancel came in on; cancels
	// are not throttled, so it is informational.
	Session string
	// ClOrdID is the cancel request's own client order id. Empty is
	// allowed (the WebSocket protocol names only the order); when set it
	// must be unused today and afterwards refers to the same order.
	ClOrdID string
	// OrigClOrdID names the order to cancel: any client order id it has
	// had (the original, a replace's or a cancel's).
	OrigClOrdID string
	// Symbol, when set, must be the order's symbol. Empty means not
	// checked.
	Symbol string
}

// Reservation is what an accepted order holds: cash for a buy, sellable
// shares for a sell. It is the caller's copy for journaling and display:
// the checker never changes it after returning it, and it does not change
// as the order fills (Snapshot shows the live state).
//
// A Reservation is also the caller's handle on the order for the order
// path: OnFill and OnDone take the order's Reservation (from CheckNew or
// RestoreNew), OnReplaced and OnReplaceRejected the one of the replace
// they answer (from CheckReplace or RestoreReplace). The handle is an
// unexported link to the checker's record of the order, opaque to the
// caller: only the Checker that made it follows it, under its mutex. A
// copy of a Reservation is the same handle; a Reservation the caller
// builds itself is none.
type Reservation struct {
	Account string
	ClOrdID string
	Symbol  string
	Side    Side
	// replace is, in a replace's Reservation, which of the order's
	// accepted replaces it is (1 for the first); 0 in the order's own. It
	// sits in Side's padding.
	replace uint32
	Price   refdata.Price
	// Qty is the order quantity (for a replace, the new total quantity).
	Qty int64
	// Cash is the cash held by this call for a buy, Price*Qty for a new
	// order; for a replace, the extra cash held while it is pending (zero
	// when the new terms need no more). Zero for a sell.
	Cash refdata.Price
	// Shares is the sellable shares held by this call for a sell (for a
	// replace, the extra shares). Zero for a buy.
	Shares int64

	// ord is the checker's record of the order; nil in a Reservation the
	// checker did not make.
	ord *order
}

// Day returns the trading day (yyyymmdd) the order was accepted on; 0
// for a Reservation the checker did not make. The record's day is written
// once, before the Reservation is handed out, so it takes no lock.
func (r *Reservation) Day() int32 {
	if r == nil || r.ord == nil {
		return 0
	}
	return r.ord.day
}

// OpenOrder describes an order that is still working, as returned to the
// caller that must cancel it (kill switch, cancel-on-disconnect).
type OpenOrder struct {
	Account string
	// Session is the session the order belongs to: the one that entered
	// it, or that sent the latest replace the upstream accepted.
	Session string
	// ClOrdID is the order's current client order id (the latest replace
	// the upstream accepted).
	ClOrdID string
	Symbol  string
	Side    Side
	Price   refdata.Price
	// LeavesQty is the quantity not yet filled.
	LeavesQty int64
	// IfReplacedBy is set on an order listed (Disconnect, Owed) not for
	// its own session but for the session its pending replace came from:
	// the cancel is owed, as that session's, only if the upstream accepts
	// the replace, which makes the order that session's (SessionOf). If
	// it refuses it, the order stays Session's and is not owed a cancel.
	// Empty for an order listed for Session or by the kill switch: its
	// cancel is owed whatever the answer.
	IfReplacedBy string
}

package feedpeer

import (
	"fmt"

	"sgw/refdata"
)

// Side is the side of an order: Buy or Sell. Its values are the ITCH 5.0
// Buy/Sell Indicator bytes.
type Side byte

// The two sides.
const (
	Buy  Side = 'B'
	Sell Side = 'S'
)

// Opposite returns the other side.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// String returns "buy" or "sell".
func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	}
	return fmt.Sprintf("side(%d)", byte(s))
}

// Kind is what an Event does.
type Kind uint8

// Event kinds. The first six come from a Flow and change (or print against)
// the order book; the others are published by a feed around the flow and
// never touch a book.
const (
	// KindAdd rests a new order: Order, Side, Price, Qty (and MPID). An
	// own-best add (OwnBest) is priced by the book instead.
	KindAdd Kind = iota + 1
	// KindExecute executes Qty shares of resting Order at Price. Contra,
	// when not zero, is the aggressing order, itself on the book (the SZSE
	// dialect announces an aggressor before its trades), reduced by the
	// same Qty. WithPrice asks ITCH for Order Executed With Price (C).
	KindExecute
	// KindCancel removes Qty shares of Order, leaving some (ITCH X).
	KindCancel
	// KindDelete removes Order whole; Qty is the quantity it still had.
	KindDelete
	// KindReplace removes Order and rests NewOrder on the same side at
	// Price for Qty shares, behind the orders already there (ITCH U).
	KindReplace
	// KindTrade prints Qty shares at Price against a non-displayed order
	// (ITCH P); no book changes.
	KindTrade
	// KindSystem is an ITCH System Event; Code is its event code.
	KindSystem
	// KindDirectory is an ITCH Stock Directory for Symbol at Locate; Qty is
	// the round lot size.
	KindDirectory
	// KindTradingAction is an ITCH Stock Trading Action for Symbol; Code is
	// the trading state.
	KindTradingAction
	// KindSnapshot is an SZSE 300111 snapshot of Symbol, built from the
	// feed's reference book at that point of the stream.
	KindSnapshot
)

var kindNames = [...]string{
	KindAdd: "add", KindExecute: "execute", KindCancel: "cancel",
	KindDelete: "delete", KindReplace: "replace", KindTrade: "trade",
	KindSystem: "system", KindDirectory: "directory",
	KindTradingAction: "trading_action", KindSnapshot: "snapshot",
}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Event is one order-by-order market event, the seam between the Flow, the
// Book and the wire encoders. It is a plain value, safe to copy and share.
type Event struct {
	Kind   Kind
	Symbol string
	// Time is nanoseconds since midnight (the exchange's local time).
	Time int64
	// Order is the order the event is about (the new order for an add).
	Order uint64
	// NewOrder is the order a replace creates.
	NewOrder uint64
	// Contra is, for an execute, the aggressing order when it rests on the
	// book; zero when the aggressor was never displayed.
	Contra uint64
	Side   Side
	Price  refdata.Price
	Qty    int64
	// Match is the day-unique match number of an execute or trade.
	Match uint64
	// WithPrice marks an execute to be sent as ITCH C (with price,
	// printable).
	WithPrice bool
	// MPID is the attribution of an add; not empty makes it ITCH F.
	MPID string
	// OwnBest marks an add as an SZSE own-best order (OrdType 'U', 本方最优):
	// the venue prices it at the best price on its own side when it
	// arrives, and cancels it when that side is empty. Its Price is 0 (the
	// order names none); the Book prices it by the rule, and the venue's
	// cancel follows it as a Delete.
	OwnBest bool
	// Code is the event code of a system event or the state of a trading
	// action.
	Code byte
	// Locate is the Stock Locate of a directory entry.
	Locate uint16
}

// String returns a compact description for test failures.
func (e Event) String() string {
	switch e.Kind {
	case KindAdd:
		if e.OwnBest {
			return fmt.Sprintf("add %s #%d %s %d@own-best", e.Symbol, e.Order, e.Side, e.Qty)
		}
		return fmt.Sprintf("add %s #%d %s %d@%d", e.Symbol, e.Order, e.Side, e.Qty, e.Price)
	case KindExecute:
		return fmt.Sprintf("execute %s #%d %d@%d contra #%d match %d", e.Symbol, e.Order, e.Qty, e.Price, e.Contra, e.Match)
	case KindCancel:
		return fmt.Sprintf("cancel %s #%d %d", e.Symbol, e.Order, e.Qty)
	case KindDelete:
		return fmt.Sprintf("delete %s #%d (%d)", e.Symbol, e.Order, e.Qty)
	case KindReplace:
		return fmt.Sprintf("replace %s #%d -> #%d %d@%d", e.Symbol, e.Order, e.NewOrder, e.Qty, e.Price)
	case KindTrade:
		return fmt.Sprintf("trade %s %d@%d match %d", e.Symbol, e.Qty, e.Price, e.Match)
	case KindSystem:
		return fmt.Sprintf("system %c", e.Code)
	case KindDirectory:
		return fmt.Sprintf("directory %s locate %d", e.Symbol, e.Locate)
	case KindTradingAction:
		return fmt.Sprintf("trading_action %s %c", e.Symbol, e.Code)
	case KindSnapshot:
		return fmt.Sprintf("snapshot %s", e.Symbol)
	}
	return e.Kind.String()
}

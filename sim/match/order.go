package match

import "sgw/refdata"

// Side is the side of an order. Its values are the ITCH Buy/Sell Indicator
// bytes, so a Side can be put on the wire as it is.
type Side byte

// The two sides of the book.
const (
	Buy  Side = 'B'
	Sell Side = 'S'
)

// String returns "buy" or "sell".
func (s Side) String() string {
	switch s {
	case Buy:
		return "buy"
	case Sell:
		return "sell"
	default:
		return "side(" + string(rune(s)) + ")"
	}
}

// Opposite returns the other side.
func (s Side) Opposite() Side {
	if s == Buy {
		return Sell
	}
	return Buy
}

// TimeInForce says what happens to the part of an order that does not trade
// on arrival.
type TimeInForce uint8

// The supported times in force.
const (
	// Day rests the remainder in the book until it trades or is cancelled.
	Day TimeInForce = iota
	// IOC (immediate or cancel) cancels the remainder; it never rests and so
	// never appears on the feed.
	IOC
)

// Order is a new limit order given to Engine.Submit.
type Order struct {
	// Symbol is the gateway symbol of the instrument, such as "600519.SH".
	Symbol string
	// Side is Buy or Sell.
	Side Side
	// Price is the limit price. It must be on the instrument's tick and
	// inside its daily band.
	Price refdata.Price
	// Qty is the number of shares: positive, at most 2^32-1, and for a buy a
	// whole number of the instrument's lots, or on STAR at least 200 shares
	// in steps of one (sells may be odd lots).
	Qty int64
	// TIF is the time in force; zero is Day.
	TIF TimeInForce
	// Owner names who entered the order, for example a FIX session or "SIM"
	// for synthetic flow. The engine only carries it.
	Owner string
	// Tag is the owner's identifier of the order (a ClOrdID). The engine
	// only carries it.
	Tag string
}

// OrderInfo describes a resting order.
type OrderInfo struct {
	Ref    uint64 // order reference number, unique for the day
	Symbol string
	Side   Side
	Price  refdata.Price
	Qty    int64 // shares still open (leaves)
	Owner  string
	Tag    string
}

// Fill is one trade between the incoming order and one resting order.
type Fill struct {
	// Match is the trade's match number, unique for the day and increasing.
	Match uint64
	// Price is the trade price: the resting order's price.
	Price refdata.Price
	// Qty is the number of shares traded.
	Qty int64
	// Resting is the resting order after the fill; its Qty is its leaves
	// (zero when the fill completed it and it left the book).
	Resting OrderInfo
}

// Result is the outcome of Submit, or of a Replace.
type Result struct {
	// Fills are the trades of the incoming order, in execution order.
	Fills []Fill
	// Filled is the total quantity traded.
	Filled int64
	// Ref is the reference of the resting remainder, or zero when nothing
	// rests (fully filled, or an IOC remainder).
	Ref uint64
	// Leaves is the quantity resting under Ref.
	Leaves int64
	// Expired is the IOC remainder that was cancelled instead of resting.
	Expired int64
}

// CancelResult is the outcome of Cancel.
type CancelResult struct {
	// Canceled is the number of shares taken out of the order.
	Canceled int64
	// Leaves is what is still open; zero means the order left the book.
	Leaves int64
}

// Level is one aggregated price level of a book.
type Level struct {
	Price  refdata.Price
	Qty    int64 // total open shares at the price
	Orders int   // number of resting orders at the price
}

// Package event is the decoder seam between the feeds and the books: every
// feed protocol's decoder (ITCH 5.0 in package feed/itch, SZSE Binary in
// package feed) turns its messages into Events, and package orderbook
// applies Events, knowing no wire format.
//
// An Event is a plain fixed-size value with no pointers, safe to copy and
// share between goroutines; it is copied into the books' queues as it is.
package event

import (
	"strconv"

	"sgw/refdata"
)

// Kind is what an Event does to its instrument's book.
type Kind uint8

// The kinds of Event. The fields each uses are named; the others are zero.
const (
	// Add rests a new order: Ref, Side, Price, Qty (Price not read with
	// FlagOwnBest).
	Add Kind = iota + 1
	// Execute fills Qty shares of resting order Ref. Price is the
	// execution price, 0 for the order's own; FlagPrint says the execution
	// is printed (counted in last price, volume and turnover).
	Execute
	// Reduce cancels Qty shares of order Ref, which keeps the rest.
	Reduce
	// Delete removes order Ref whole.
	Delete
	// Replace removes order Ref and rests order NewRef on the same side at
	// Price for Qty shares, behind the orders already at that price.
	Replace
	// Trade prints Qty shares at Price with no book change (an order not
	// displayed, an auction cross).
	Trade
	// State sets the instrument's trading state: Code is a TradingState
	// code of package orderbook ('H' halted, 'P' paused, 'Q' quotation,
	// 'T' trading).
	State
	// System is a feed-wide event (Code: the ITCH System Event code). It
	// names no instrument.
	System
	// Clear empties the instrument's book and statistics: the feed is about
	// to deliver its day again from the start (a rebuild). The book is
	// stale from then until a Valid event.
	Clear
	// Stale marks the book as possibly wrong (the feed lost messages that
	// may concern it) without changing it.
	Stale
	// Valid clears the stale mark: the book has been rebuilt.
	Valid
	// Rest rests the order an Add flagged FlagAnnounced left waiting for
	// its trades, if it is still waiting: the trades that followed it are
	// over.
	Rest
	// Check compares the book with one level of a snapshot of it taken at
	// this point of the stream: Side, rank Code (0 = best), Price and Qty
	// (Price 0: the snapshot has no level at that rank).
	Check
	// CheckDone ends a snapshot's Checks: a snapshot that differed is
	// counted; two in a row mark the book stale.
	CheckDone
)

var kindNames = [...]string{
	Add: "add", Execute: "execute", Reduce: "reduce", Delete: "delete", Replace: "replace",
	Trade: "trade", State: "state", System: "system", Clear: "clear", Stale: "stale", Valid: "valid",
	Rest: "rest", Check: "check", CheckDone: "check_done",
}

// String returns the kind's name.
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Side is the side of an order. Its values are those of orderbook.Side.
type Side uint8

// The sides; the zero value is no side (an invalid Add).
const (
	Buy  Side = 1
	Sell Side = 2
)

// Flags qualify an Event.
type Flags uint8

// Event flags.
const (
	// FlagPrint marks an Execute that is printed.
	FlagPrint Flags = 1 << iota
	// FlagMayBeAbsent marks an Execute, Reduce or Delete whose order may
	// never have rested on the book (an SZSE market order, executed on
	// arrival): an unknown Ref is then not an error, and a printed
	// Execute still prints.
	FlagMayBeAbsent
	// FlagAnnounced marks an Add that the venue publishes before the
	// trades it makes on arrival (SZSE Binary): if it crosses the book it
	// is the aggressor, and waits off the book while Executes naming it
	// reduce it; it rests once it no longer crosses, or at the next Rest.
	FlagAnnounced
	// FlagOwnBest marks an Add that the book prices: the order takes the
	// best price on its own side as the book stands when it applies the
	// Add (an SZSE own-best order, 本方最优), and Price is not read. With
	// its own side empty the order does not rest: the venue cancels it.
	FlagOwnBest
	// FlagReplayed marks an event of a message that a rebuild delivers
	// again (event Clear) and that was delivered before it: a print it
	// makes counts in the book's statistics (last price, volume,
	// turnover, open, high, low) but is not published as a print again,
	// since it was published the first time.
	FlagReplayed
)

// Event is one normalized order-by-order market event of one instrument.
type Event struct {
	Recv   int64         // gateway receive time of the message, Unix ns
	Time   uint64        // exchange time of the event: ns since midnight, local time
	Ref    uint64        // the order the event is about
	NewRef uint64        // Replace: the new order
	Price  refdata.Price // Add, Replace, Trade; Execute when not the order's price
	Qty    int64         // shares
	// Match is an Execute's or Trade's identity, unique in the day among
	// its instrument's executions of one order (ITCH's Match Number; 0:
	// none): the book drops an execution it has just applied delivered
	// again.
	Match  uint64
	Symbol uint32 // the instrument: an orderbook.SymbolID (unused for System)
	Kind   Kind
	Side   Side  // Add
	Flags  Flags //
	Code   byte  // State, System; Check: the rank
}

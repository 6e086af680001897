package orderbook

import (
	"strconv"

	"sgw/refdata"
)

// SymbolID identifies an instrument inside an Engine: its index in
// Config.Instruments. It is stable for the life of the Engine and safe to
// share between goroutines.
type SymbolID uint32

// Side is the side of the book a level or order rests on. Like every
// small value type of this package it is safe to copy and share between
// goroutines.
type Side uint8

// The two sides of a book.
const (
	Bid Side = 1
	Ask Side = 2
)

// String returns "bid", "ask" or "side(n)".
func (s Side) String() string {
	switch s {
	case Bid:
		return "bid"
	case Ask:
		return "ask"
	}
	return "side(" + strconv.Itoa(int(s)) + ")"
}

// Level is one aggregated price level: the price, the total displayed
// quantity resting there and the number of orders. It is a plain value,
// safe to copy and share.
type Level struct {
	Price  refdata.Price
	Qty    int64
	Orders int32
}

// LevelChange is the new state of one price level after an event.
//
// A LevelChange is a plain value, safe to copy and share.
//
// Rank is the 0-based position of the level from the best price after the
// change; for a removal (Level.Qty == 0) it is the position the level had
// before it was removed. Rank is -1 when the level lies beyond the
// published depth (Config.MaxDepth, or DefaultMaxDepth for a stand-alone
// Book).
type LevelChange struct {
	Side  Side
	Rank  int8
	Level Level
}

// UpdateKind classifies an Update; a plain value, safe to share.
type UpdateKind uint8

// The kinds of Update.
const (
	// KindBook is a change of the price levels with no trade print. It
	// may also carry, in Last, Volume and Turnover, a print that a
	// rebuild delivered again (event.FlagReplayed): published as a
	// print before the rebuild, not again; it may then have no Changes.
	KindBook UpdateKind = iota + 1
	// KindTrade is a trade print (TradePrice, TradeQty); it may also carry
	// level changes when a displayed order was executed.
	KindTrade
	// KindStatus is a change of the trading state (State), stale mark
	// included.
	KindStatus
	// KindReset empties the book (a rebuild of the feed starts): a client
	// discards its levels and statistics. It carries no Changes, State is
	// StateStale and the checksums are those of an empty book.
	KindReset
	// KindReload says the symbol's book was replaced or re-marked outside
	// the update stream (only a Mirror publishes it: a snapshot loaded, or
	// the book marked stale after a gap or an outage). It carries no
	// Changes; Seq is the book's Seq after it, which may repeat an earlier
	// Update's or go back (a new ingest epoch). A consumer keeping a copy
	// reloads it from Engine.View.
	KindReload
)

// String returns "book", "trade", "status", "reset", "reload" or "kind(n)".
func (k UpdateKind) String() string {
	switch k {
	case KindBook:
		return "book"
	case KindTrade:
		return "trade"
	case KindStatus:
		return "status"
	case KindReset:
		return "reset"
	case KindReload:
		return "reload"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// TradingState is the trading state of an instrument as announced by its
// feed (event.State; the values are the ITCH Stock Trading Action codes),
// or, as published, StateStale while the book may be wrong. It is a plain
// value, safe to share.
type TradingState uint8

// Trading states. The zero value means no Trading Action was seen yet.
const (
	StateUnknown   TradingState = 0
	StateHalted    TradingState = 'H'
	StatePaused    TradingState = 'P'
	StateQuotation TradingState = 'Q'
	StateTrading   TradingState = 'T'
	// StateStale is published instead of the trading state while the
	// book may be wrong: its feed lost messages, or it is being rebuilt.
	StateStale TradingState = 's'
)

// String returns the state's name.
func (s TradingState) String() string {
	switch s {
	case StateUnknown:
		return "unknown"
	case StateHalted:
		return "halted"
	case StatePaused:
		return "paused"
	case StateQuotation:
		return "quotation"
	case StateTrading:
		return "trading"
	case StateStale:
		return "stale"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// Update is the delta produced by one book-changing event of one symbol.
// It is a fixed-size value with no pointers, so it is copied into and out
// of the broadcast ring; a copy is safe to keep and share.
//
// A client keeping the top D levels of a side (D = 5, 10 or 20) applies
// Changes in order: a change with Rank < 0 or Rank >= D is skipped; a
// removal (Qty 0) deletes the level at Rank; otherwise the level at Rank is
// replaced if it has the same price, else the new level is inserted at Rank.
// Then the side is truncated to D levels, and if it holds exactly D-1
// levels, Side == EnterSide and the Enter level for D (Enter[0] for 5,
// Enter[1] for 10, Enter[2] for 20) is not zero, that level is appended.
// The result equals the book's top D levels, which Checksum (D >= 10) and
// Checksum5 (D >= 5) let the client verify.
type Update struct {
	Symbol SymbolID
	Seq    uint64 // per symbol, +1 per Update, first Update is 1
	Time   uint64 // exchange time of the event: ns since midnight
	Recv   int64  // gateway receive time of the message, unix ns

	Kind    UpdateKind
	N       uint8 // number of valid entries in Changes
	Changes [2]LevelChange

	// Enter holds, after a removal within the top 20 published levels,
	// the levels of EnterSide now at ranks 4, 9 and 19 (zero Level if
	// the side has fewer levels), so that a depth-5/10/20 client can
	// refill its bottom level. EnterSide is 0 when Enter is unused.
	Enter     [3]Level
	EnterSide Side

	TradePrice refdata.Price // KindTrade: price of this trade
	TradeQty   int64         // KindTrade: shares of this trade

	Last     refdata.Price // last trade price of the day, 0 before the first
	Volume   int64         // shares traded today
	Turnover int64         // sum of price*shares, in Price units

	Checksum  uint32 // CRC-32 of the top 10 levels after the event
	Checksum5 uint32 // CRC-32 of the top 5 levels after the event
	State     TradingState
}

// enterRanks are the ranks reported in Update.Enter.
var enterRanks = [3]int{4, 9, 19}

package match

import "sgw/refdata"

// EventKind is the kind of a book change.
type EventKind uint8

// The kinds of book change, each matching one ITCH order-book message.
const (
	// EventAdd: a new order rests in the book (ITCH 'A').
	EventAdd EventKind = iota + 1
	// EventExecute: a resting order traded Qty shares (ITCH 'E').
	EventExecute
	// EventCancel: Qty shares were cancelled from a resting order that stays
	// in the book (ITCH 'X').
	EventCancel
	// EventDelete: a resting order left the book by cancellation (ITCH 'D').
	EventDelete
	// EventReplace: the order Ref was replaced by NewRef at Price for Qty
	// shares, losing its time priority (ITCH 'U').
	EventReplace
)

// String returns the name of the kind.
func (k EventKind) String() string {
	switch k {
	case EventAdd:
		return "add"
	case EventExecute:
		return "execute"
	case EventCancel:
		return "cancel"
	case EventDelete:
		return "delete"
	case EventReplace:
		return "replace"
	default:
		return "event(?)"
	}
}

// Event is one change of a book, reported to the Sink in the order the
// changes happen.
type Event struct {
	Kind EventKind
	// Locate is the instrument's position in the configuration, from 1: the
	// ITCH Stock Locate of the simulator's feed.
	Locate uint16
	// Ref is the order the event is about (for Replace, the old reference).
	Ref uint64
	// NewRef is the new reference of a Replace; zero otherwise.
	NewRef uint64
	// Side is the side of the order.
	Side Side
	// Qty is the shares added (Add), executed (Execute), cancelled (Cancel),
	// or the new size (Replace); zero for Delete.
	Qty int64
	// Price is the order's price (Add, Replace) or the trade price (Execute).
	Price refdata.Price
	// Match is the match number of an Execute.
	Match uint64
}

// Sink receives the events of an Engine. It runs synchronously inside the
// Engine call that caused the event; the Event is only valid during the call
// and the Sink must not call back into the Engine.
type Sink func(ev *Event)

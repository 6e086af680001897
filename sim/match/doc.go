// Package match is the exchange simulator's matching engine: one price-time
// priority limit order book per instrument, with fixed-point prices.
//
// The engine knows nothing of wire formats. Every change to a book is
// reported, in order, to the Sink given to New as an Event shaped like the
// order-book messages of a Nasdaq-style ITCH feed: a resting order is added
// (Add), a resting order is executed against (Execute; the aggressor's side
// of a trade never appears in the book), partly cancelled (Cancel), removed
// (Delete) or replaced by a new order reference at a new price or size
// (Replace). The simulator turns these into ITCH 5.0 messages; an order
// acceptor (FIX) turns the Results returned by Submit, Cancel and Replace
// into execution reports for both the aggressor and the resting orders.
//
// Concurrency: an Engine is not safe for concurrent use. All methods must be
// called from one goroutine at a time (the simulator holds its mutex around
// every call), and the Sink runs synchronously inside the call that caused
// the event and must not call back into the Engine.
package match

package orderbook

import "errors"

// Errors of the book, the engine and its readers.
var (
	// ErrUnknownOrder reports an execute, cancel, delete or replace of an
	// order reference the book does not hold (unless the event says the
	// order may never have rested): the book missed a message and is
	// marked stale until its rebuild (a Clear, then a Valid).
	ErrUnknownOrder = errors.New("orderbook: unknown order id")
	// ErrDuplicateOrder reports an add or replace with an order reference
	// the book already holds; the book is marked stale as for
	// ErrUnknownOrder.
	ErrDuplicateOrder = errors.New("orderbook: duplicate order id")
	// ErrOverExecution reports an execution or cancel of more shares than
	// the order has left; the order is removed.
	ErrOverExecution = errors.New("orderbook: execution exceeds order size")
	// ErrRepeatedExecution reports an execution or trade with the
	// identity (event.Event.Match) of one among the book's last
	// executions: a message delivered again (a relay repeating it), not
	// applied again.
	ErrRepeatedExecution = errors.New("orderbook: execution repeated")
	// ErrBadMessage reports a message with a field the book cannot use,
	// such as zero shares, a zero price or a side other than B or S.
	ErrBadMessage = errors.New("orderbook: bad message")
	// ErrSnapshotMismatch reports a snapshot level (a Check event) the
	// book does not hold; the book is marked stale. A Valid that finds
	// a book snapshots found different (stale until a Clear) reports it
	// again.
	ErrSnapshotMismatch = errors.New("orderbook: book differs from the feed's snapshot")

	// ErrConfig reports an invalid Config; New wraps it with the reason.
	ErrConfig = errors.New("orderbook: invalid config")
	// ErrRunning reports a second call of Engine.Run.
	ErrRunning = errors.New("orderbook: engine already running")
	// ErrClosed reports use of an Engine whose Run has returned.
	ErrClosed = errors.New("orderbook: engine closed")
	// ErrSymbol reports an event naming no instrument of the Engine.
	ErrSymbol = errors.New("orderbook: no such symbol")

	// ErrLapped reports that the writer overwrote ring entries a Reader
	// had not read yet. The Reader is repositioned at the head; its
	// owner must take fresh snapshots (Engine.View) of its symbols.
	ErrLapped = errors.New("orderbook: reader lapped")

	// ErrGap reports an Update given to a Mirror that does not follow its
	// book's Seq (or is of a kind a mirror cannot apply): the book is now
	// stale and needs a snapshot (Mirror.Load).
	ErrGap = errors.New("orderbook: mirror update out of sequence")
	// ErrStale reports an Update given to a Mirror whose book is stale:
	// it was not applied; keep it for after the snapshot.
	ErrStale = errors.New("orderbook: mirror book is stale")
)

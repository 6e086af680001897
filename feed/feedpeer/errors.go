package feedpeer

import "errors"

// Errors returned by the package. Each is wrapped with detail; test with
// errors.Is.
var (
	// ErrConfig reports an invalid configuration value.
	ErrConfig = errors.New("feedpeer: bad configuration")
	// ErrUnknownOrder reports an event naming an order the book does not hold.
	ErrUnknownOrder = errors.New("feedpeer: unknown order")
	// ErrDuplicateOrder reports an add naming an order already on the book.
	ErrDuplicateOrder = errors.New("feedpeer: duplicate order")
	// ErrBadEvent reports an event that cannot apply: a quantity beyond the
	// order's, a zero quantity or price, an unknown kind.
	ErrBadEvent = errors.New("feedpeer: bad event")
	// ErrEnded reports a publish after the feed's end of day.
	ErrEnded = errors.New("feedpeer: feed ended")
	// ErrProtocol reports a malformed or unexpected packet from a client.
	ErrProtocol = errors.New("feedpeer: protocol error")
)

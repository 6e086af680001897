package fixsim

import "errors"

// Errors returned by the acceptor. Order rejects never surface as Go errors:
// they go back to the counterparty as execution reports or order cancel
// rejects.
var (
	// ErrConfig reports an invalid Config; the message names the field.
	ErrConfig = errors.New("fixsim: bad configuration")
	// ErrClosed reports a call after Close (or after Run returned).
	ErrClosed = errors.New("fixsim: closed")
	// ErrRunning reports a second call of Run.
	ErrRunning = errors.New("fixsim: already running")
	// ErrNotRunning reports a Restart while Run is not running.
	ErrNotRunning = errors.New("fixsim: not running")
	// ErrBadLine reports a line index out of range.
	ErrBadLine = errors.New("fixsim: no such line")
)

// Connection errors, seen by quickfix (and in its logs).
var (
	errSlowPeer = errors.New("fixsim: peer not reading, connection closed")
	errConnGone = errors.New("fixsim: connection closed")
	errStopping = errors.New("fixsim: acceptor stopping")
)

// Order errors; each becomes the Text of a reject.
var (
	errBadQty    = errors.New("bad OrderQty")
	errBadPrice  = errors.New("bad Price: a limit price is a non-negative decimal of at most four significant decimals")
	errBadSide   = errors.New("unsupported Side (want 1 buy or 2 sell)")
	errOrdType   = errors.New("unsupported OrdType (want 2 limit)")
	errTIF       = errors.New("unsupported TimeInForce (want 0 day or 3 IOC)")
	errNoPrice   = errors.New("limit order without Price")
	errNoSymbol  = errors.New("no Symbol")
	errAmbiguous = errors.New("several instruments match Symbol; send SecurityExchange")
)

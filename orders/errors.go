package orders

import "errors"

// Errors of the order manager. A risk rejection is a *risk.Reject.
var (
	ErrConfig       = errors.New("orders: invalid config")
	ErrUnknownOrder = errors.New("orders: unknown order")
	ErrNoUpstream   = errors.New("orders: no upstream for the account")
	// ErrReconciling rejects an operation on an account and symbol whose
	// open orders are being reconciled with the upstream after a restart or
	// a failover; the client may retry in a moment.
	ErrReconciling = errors.New("orders: state unknown, reconciling with the upstream")
	// ErrJournal reports that the journal failed: the gateway accepts no
	// more orders.
	ErrJournal    = errors.New("orders: journal failed")
	ErrBadRequest = errors.New("orders: bad request")
)

// Reject is a rejection of a client request with a stable code and a text
// for people, as it reaches the client (WebSocket error, FIX
// OrdRejReason/CxlRejReason and Text).
type Reject struct {
	Code      string
	Text      string
	FIXReason int
}

func (r *Reject) Error() string { return "orders: " + r.Code + ": " + r.Text }

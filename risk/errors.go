package risk

import "errors"

// Errors of the configuration, of the order-path callbacks (OnFill,
// OnDone, OnReplaced, OnReplaceRejected) and of admin calls. They are
// wrapped with a detail; test with errors.Is. Rejects of client requests
// are not errors of this kind: they are *Reject values with a stable code.
var (
	// ErrConfig reports an invalid Config; New wraps it with the reason.
	ErrConfig = errors.New("risk: invalid config")
	// ErrUnknownAccount reports an admin call or Snapshot for an account
	// that is not configured.
	ErrUnknownAccount = errors.New("risk: unknown account")
	// ErrUnknownSymbol reports an admin call for a symbol that is not
	// configured.
	ErrUnknownSymbol = errors.New("risk: unknown symbol")
	// ErrUnknownReservation reports a callback given a nil Reservation,
	// one the caller made itself rather than a Check or Restore method, or
	// one another Checker returned. Nothing is applied.
	ErrUnknownReservation = errors.New("risk: unknown reservation")
	// ErrOrderClosed reports a fill for an order that is already done.
	// The fill is not applied.
	ErrOrderClosed = errors.New("risk: order already done")
	// ErrBadFill reports a fill with a non-positive quantity or price, more
	// shares than the order has left, a buy above its limit price, or a
	// price whose product with the board maximum overflows (not one above
	// the configured limit-up: the fill may be of another day's). The fill
	// is not applied.
	ErrBadFill = errors.New("risk: bad fill")
	// ErrLeavesMismatch reports an OnDone whose leaves quantity differs
	// from the checker's own count (a fill was not reported). The order is
	// closed and its whole remaining reservation released all the same.
	ErrLeavesMismatch = errors.New("risk: leaves quantity mismatch")
	// ErrNotPending reports OnReplaced or OnReplaceRejected with a
	// Reservation that is not of the order's pending replace: the replace
	// was answered already or its order is done, or it is the order's own
	// Reservation rather than a replace's.
	ErrNotPending = errors.New("risk: no pending replace")
)

// Reject codes. They are stable: clients and operators match on them. The
// table in the package documentation gives the FIX OrdRejReason of each.
const (
	CodeUnknownAccount  = "risk.unknown_account"
	CodeUnknownSymbol   = "risk.unknown_symbol"
	CodeNotTrading      = "risk.not_trading"
	CodeSessionClosed   = "risk.session_closed"
	CodeNoCancelPeriod  = "risk.no_cancel_period"
	CodePriceBand       = "risk.price_band"
	CodeTick            = "risk.tick"
	CodeLot             = "risk.lot"
	CodeOddLot          = "risk.odd_lot"
	CodeMaxQty          = "risk.max_qty"
	CodeMaxNotional     = "risk.max_notional"
	CodeCash            = "risk.cash"
	CodePosition        = "risk.position"
	CodeDuplicateClOrd  = "risk.duplicate_clordid"
	CodeRestricted      = "risk.restricted"
	CodeThrottleAccount = "risk.throttle_account"
	CodeThrottleSession = "risk.throttle_session"
	CodeKillSwitch      = "risk.kill_switch"
	CodeBadQty          = "risk.bad_qty"
	CodeBadPrice        = "risk.bad_price"
	CodeUnsupportedType = "risk.unsupported_type"
	CodeBadClOrdID      = "risk.bad_clordid"
	CodeUnknownOrder    = "risk.unknown_order"
	CodeReplacePending  = "risk.replace_pending"
)

// Codes returns every reject code above, for counters by code that
// start at zero.
func Codes() []string {
	return []string{CodeUnknownAccount, CodeUnknownSymbol, CodeNotTrading, CodeSessionClosed, CodeNoCancelPeriod,
		CodePriceBand, CodeTick, CodeLot, CodeOddLot, CodeMaxQty, CodeMaxNotional, CodeCash, CodePosition,
		CodeDuplicateClOrd, CodeRestricted, CodeThrottleAccount, CodeThrottleSession, CodeKillSwitch, CodeBadQty,
		CodeBadPrice, CodeUnsupportedType, CodeBadClOrdID, CodeUnknownOrder, CodeReplacePending}
}

// FIX OrdRejReason (tag 103) values used by Reject.FIXReason.
const (
	FIXBrokerOption   = 0
	FIXUnknownSymbol  = 1
	FIXExchangeClosed = 2
	FIXExceedsLimit   = 3
	FIXUnknownOrder   = 5
	FIXDuplicateOrder = 6
	FIXOther          = 99
)

// Reject is the refusal of a client request by a risk check. Code is
// stable and machine-readable; Text is a human sentence that reaches the
// client unchanged (WebSocket error "msg", FIX Text(58)). FIXReason is the
// OrdRejReason (103) for an ExecutionReport rejecting a new order; for an
// OrderCancelReject use CxlRejReason.
//
// A *Reject is the caller's own value. The Check methods return a nil
// *Reject on accept: compare it with nil before converting it to error, as
// a nil *Reject in an error variable is not a nil error.
type Reject struct {
	// Code is one of the Code constants, such as "risk.price_band".
	Code string
	// Text says what was wrong with numbers, such as
	// "price 1900.00 outside limit band 1530.00-1870.00".
	Text string
	// FIXReason is the OrdRejReason (tag 103): 0 broker option, 1 unknown
	// symbol, 2 exchange closed, 3 order exceeds limit, 5 unknown order,
	// 6 duplicate order, 99 other.
	FIXReason int
}

var _ error = (*Reject)(nil)

// Error returns "risk: <code>: <text>".
func (r *Reject) Error() string { return "risk: " + r.Code + ": " + r.Text }

// Is reports whether target is a *Reject with the same Code, so that
// errors.Is(err, &Reject{Code: CodeCash}) matches any cash reject.
func (r *Reject) Is(target error) bool {
	t, ok := target.(*Reject)
	return ok && t.Code == r.Code
}

// CxlRejReason returns the FIX CxlRejReason (tag 102) for an
// OrderCancelReject of a cancel or replace refused with r: 1 unknown order,
// 3 already pending replace, otherwise 2 (broker or exchange option). These
// values exist in both FIX 4.2 and 4.4.
func (r *Reject) CxlRejReason() int {
	switch r.Code {
	case CodeUnknownOrder:
		return 1
	case CodeReplacePending:
		return 3
	default:
		return 2
	}
}

// fixReason maps a code to its OrdRejReason.
func fixReason(code string) int {
	switch code {
	case CodeUnknownSymbol:
		return FIXUnknownSymbol
	case CodeNotTrading, CodeSessionClosed, CodeNoCancelPeriod:
		return FIXExchangeClosed
	case CodePriceBand, CodeMaxQty, CodeMaxNotional, CodeCash, CodePosition:
		return FIXExceedsLimit
	case CodeUnknownOrder:
		return FIXUnknownOrder
	case CodeDuplicateClOrd:
		return FIXDuplicateOrder
	case CodeRestricted, CodeThrottleAccount, CodeThrottleSession, CodeKillSwitch:
		return FIXBrokerOption
	default:
		return FIXOther
	}
}

// reject builds a Reject with the code's FIX reason. Only reject paths
// call it, so its allocation is off the accept path.
func reject(code, text string) *Reject {
	return &Reject{Code: code, Text: text, FIXReason: fixReason(code)}
}

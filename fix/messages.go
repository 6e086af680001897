package fix

import (
	"time"

	"sgw/refdata"
)

// Side is an order side, using the FIX Side (54) values.
type Side byte

// Sides.
const (
	Buy  Side = '1'
	Sell Side = '2'
)

// NewOrder is a limit order to relay as NewOrderSingle (D).
type NewOrder struct {
	// ClOrdID is the gateway's order id, unique for the upstream's trading
	// day. The upstream sees it once, or again only as a PossDup resend.
	ClOrdID string
	// Account is the trading account (1).
	Account string
	// Symbol is the gateway symbol, such as 600519.SH: it is sent as
	// Symbol=600519 with SecurityExchange XSHG (.SH) or XSHE (.SZ).
	Symbol string
	Side   Side
	// Price is the limit price, sent as a decimal string.
	Price refdata.Price
	Qty   int64
	// TransactTime is when the order was accepted. Zero means now.
	TransactTime time.Time
}

// CancelRequest asks the upstream to cancel an order
// (OrderCancelRequest, F).
type CancelRequest struct {
	ClOrdID     string // id of this request
	OrigClOrdID string // ClOrdID of the order, or of its last accepted replace
	Account     string
	Symbol      string
	Side        Side
	Qty         int64 // the order's quantity
}

// ReplaceRequest asks the upstream to change an order's price or quantity
// (OrderCancelReplaceRequest, G).
type ReplaceRequest struct {
	ClOrdID     string // id of this request, the order's id once accepted
	OrigClOrdID string
	Account     string
	Symbol      string
	Side        Side
	Price       refdata.Price
	Qty         int64 // new total quantity
}

// StatusRequest asks for an order's current state (OrderStatusRequest, H).
// The answer is an ExecReport with ExecType I (FIX 4.4; a FIX 4.2 upstream
// answers with the order's status) carrying OrdStatus; an upstream that
// does not know the order answers OrdStatus 8 with OrdRejReason 5 (unknown
// order), as its rules of engagement specify.
type StatusRequest struct {
	ClOrdID string
	Symbol  string
	Side    Side
}

// ExecReport is an ExecutionReport (8) received from the upstream.
type ExecReport struct {
	ClOrdID, OrigClOrdID, OrderID, ExecID string
	// ExecType (150) and OrdStatus (39) are the raw FIX values: '0' new,
	// '4' canceled, '5' replaced, '8' rejected, 'F' trade (FIX 4.4; FIX 4.2
	// uses '1'/'2'), 'I' order status, ...
	ExecType, OrdStatus byte
	// Symbol is in gateway form (600519.SH) when SecurityExchange was sent.
	Symbol               string
	Side                 Side
	Price, LastPx, AvgPx refdata.Price // AvgPx is rounded to 4 decimals
	OrderQty, LastQty    int64
	CumQty, LeavesQty    int64
	Text                 string
	OrdRejReason         int
	PossDup, PossResend  bool
	TransactTime         time.Time
}

// CancelReject is an OrderCancelReject (9) received from the upstream.
type CancelReject struct {
	ClOrdID, OrigClOrdID, OrderID string
	Reason                        int // CxlRejReason (102)
	Text                          string
	ResponseTo                    byte // '1' cancel, '2' replace (434)
}

// Handler receives an Upstream's events. Its methods are called from the
// upstream's session goroutine, one at a time per Upstream and in the
// order the messages arrived; they must not block (hand the event to the
// order manager's own queue). A handler shared by several Upstreams is
// called concurrently, once per Upstream.
type Handler interface {
	// OnExecReport delivers an execution report. PossDup reports are
	// resends: the same ExecID may have been delivered before.
	OnExecReport(upstream string, er ExecReport)
	// OnCancelReject delivers a cancel or replace reject.
	OnCancelReject(upstream string, r CancelReject)
	// OnSessionUp reports a logon over the named line. Send is accepted
	// from now on.
	OnSessionUp(upstream string, line string)
	// OnSessionDown reports the end of the session over the named line;
	// err wraps ErrLineBroken, ErrLineSilent, ErrLoggedOut or ErrStopped.
	// Orders sent before it whose outcome has not arrived are in flight:
	// the resend after the next logon delivers them (as PossDup), and the
	// order manager confirms them with StatusRequest.
	OnSessionDown(upstream string, line string, err error)
}

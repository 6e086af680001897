package orders

import (
	"time"

	"sgw/refdata"
	"sgw/risk"
)

// Source is where a request came from: a WebSocket connection or a FIX
// broker session. Execution reports of an order go back to its source.
type Source struct {
	Kind    string // "ws" or "fix"
	Session string // the connection or session id
}

// Status is an order's status as clients see it.
type Status string

// Order statuses.
const (
	StatusPendingNew      Status = "pending_new"
	StatusNew             Status = "new"
	StatusPartiallyFilled Status = "partially_filled"
	StatusFilled          Status = "filled"
	StatusCanceled        Status = "canceled"
	StatusRejected        Status = "rejected"
	StatusExpired         Status = "expired"
	// StatusUnknown is an order whose state is being resolved with the
	// upstream after a restart or a failover.
	StatusUnknown Status = "unknown"
)

// Terminal reports whether no more executions will come.
func (s Status) Terminal() bool {
	return s == StatusFilled || s == StatusCanceled || s == StatusRejected || s == StatusExpired
}

// Order is an order's state. Values returned by the Manager are copies.
type Order struct {
	// ClOrdID is the order's current client order id: the original, or
	// the latest replace the upstream accepted.
	ClOrdID string `json:"clOrdId"`
	// OrigClOrdID is the client order id the order was entered with.
	OrigClOrdID string        `json:"origClOrdId"`
	Account     string        `json:"account"`
	Symbol      string        `json:"symbol"`
	Side        risk.Side     `json:"side"`
	Price       refdata.Price `json:"price"`
	Qty         int64         `json:"qty"`
	CumQty      int64         `json:"cumQty"`
	LeavesQty   int64         `json:"leavesQty"`
	// AvgPx is the average fill price.
	AvgPx    refdata.Price `json:"avgPx"`
	Status   Status        `json:"status"`
	OrderID  string        `json:"orderId,omitempty"`
	Upstream string        `json:"upstream"`
	// UpstreamID is the ClOrdID the upstream knows the order's current
	// terms by: the gateway's own id, unique per gateway and day, since
	// client order ids are unique only per account.
	UpstreamID string    `json:"upstreamId"`
	Source     Source    `json:"source"`
	Text       string    `json:"text,omitempty"`
	Created    time.Time `json:"created"`
	Updated    time.Time `json:"updated"`

	// pending is the client order id of a cancel or replace in flight,
	// pendingUID its upstream id.
	pending      string
	pendingUID   string
	pendingPrice refdata.Price
	pendingQty   int64
	// turnover is the sum of fill price × qty, for AvgPx.
	turnover int64
	// unknown is set after a restart until the upstream reports the order.
	unknown bool
}

// EventKind classifies what happened to an order.
type EventKind string

// Event kinds.
const (
	// EventAccepted: the gateway accepted (and journaled) a request.
	EventAccepted EventKind = "accepted"
	// EventExec: an execution report from the upstream.
	EventExec EventKind = "exec"
	// EventCancelReject: the upstream refused a cancel or replace.
	EventCancelReject EventKind = "cancel_reject"
)

// Event is what a client hears about its order.
type Event struct {
	Kind  EventKind
	Order Order
	// ExecType is the FIX ExecType of an EventExec ('0' new, 'F' trade,
	// '4' canceled, '5' replaced, '8' rejected, 'I' status, 'C' expired).
	ExecType byte
	ExecID   string
	LastPx   refdata.Price
	LastQty  int64
	// Ref is the client order id of the request the event answers.
	Ref  string
	Text string
}

// Sink receives order events. OrderEvent is called from the journal's
// writer goroutine in journal order and must not block.
type Sink interface {
	OrderEvent(ev Event)
}

// ExecReport is an execution report from an upstream, as the FIX layer
// decoded it. ClOrdID and OrigClOrdID are upstream ids (Order.UpstreamID).
type ExecReport struct {
	ClOrdID, OrigClOrdID, OrderID, ExecID string
	ExecType, OrdStatus                   byte
	LastPx, AvgPx                         refdata.Price
	LastQty, CumQty, LeavesQty            int64
	Text                                  string
	PossDup                               bool
}

// CancelReject is an upstream's refusal of a cancel or replace.
type CancelReject struct {
	ClOrdID, OrigClOrdID string
	Text                 string
}

// Upstream sends order messages to one upstream session. The FIX relay
// implements it (through an adapter in the wiring); calls must not block on
// the network. Orders are named by their upstream ids: NewOrder and Status
// use o.UpstreamID; Cancel and Replace pass the request's own id, with
// o.UpstreamID as the order's.
type Upstream interface {
	NewOrder(o Order) error
	Cancel(o Order, uid string) error
	Replace(o Order, uid string, price refdata.Price, qty int64) error
	Status(o Order) error
}

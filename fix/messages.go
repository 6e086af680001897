package fix

import (
	"strconv"
	"strings"
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
	// PossResend sends the order with PossResend (97) = Y: it may have
	// reached the upstream before under another MsgSeqNum, and the
	// upstream must check its ClOrdID for a duplicate (a gateway restart
	// that cannot tell whether the order left, see package orders).
	PossResend bool
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

// RequestID returns the ClOrdID of a request Send takes and its MsgType
// ('D', 'F', 'G' or 'H'; values, pointers or Prepared), or ("", 0) for
// anything else.
func RequestID(req any) (clOrdID string, msgType byte) {
	if p, ok := req.(Prepared); ok {
		req = p.req
	}
	switch r := req.(type) {
	case NewOrder:
		return r.ClOrdID, 'D'
	case *NewOrder:
		return r.ClOrdID, 'D'
	case CancelRequest:
		return r.ClOrdID, 'F'
	case *CancelRequest:
		return r.ClOrdID, 'F'
	case ReplaceRequest:
		return r.ClOrdID, 'G'
	case *ReplaceRequest:
		return r.ClOrdID, 'G'
	case StatusRequest:
		return r.ClOrdID, 'H'
	case *StatusRequest:
		return r.ClOrdID, 'H'
	}
	return "", 0
}

// ExecReport is an ExecutionReport (8) received from the upstream. The
// order manager applies it and journals it as it is.
type ExecReport struct {
	ClOrdID     string `json:",omitempty"`
	OrigClOrdID string `json:",omitempty"`
	OrderID     string `json:",omitempty"`
	ExecID      string `json:",omitempty"`
	// ExecType (150) and OrdStatus (39) are FIX 4.4 values whatever the
	// session's version: '0' new, '4' canceled, '5' replaced, '8'
	// rejected, 'C' expired, 'F' trade, 'I' order status, 'A' pending new,
	// '6' pending cancel, 'E' pending replace, '3' done for day, 'D'
	// restated. A FIX 4.2 report is normalised when decoded: ExecType '1'
	// and '2' (partial fill, fill) become 'F'; ExecTransType (20) '3'
	// (status) makes it 'I', and '1' or '2' (a cancel or correction of an
	// earlier execution) makes it 'D' (restated: the report's totals are
	// the order's state).
	ExecType, OrdStatus byte
	// ExecTransType is the FIX 4.2 ExecTransType (20) as received, 0 when
	// absent (FIX 4.4).
	ExecTransType byte `json:",omitempty"`
	// ExecRefID (19) is the ExecID of the earlier execution a trade cancel
	// or correction names (FIX 4.4 ExecType H or G; FIX 4.2 ExecTransType
	// 1 or 2); "" when absent.
	ExecRefID string `json:",omitempty"`
	// Symbol is in gateway form (600519.SH) when SecurityExchange was sent.
	Symbol    string        `json:",omitempty"`
	Side      Side          `json:",omitempty"`
	Price     refdata.Price `json:",omitempty"`
	LastPx    refdata.Price `json:",omitempty"`
	AvgPx     refdata.Price `json:",omitempty"` // rounded to 4 decimals
	OrderQty  int64         `json:",omitempty"`
	LastQty   int64         `json:",omitempty"`
	CumQty    int64         `json:",omitempty"`
	LeavesQty int64         `json:",omitempty"`
	Text      string        `json:",omitempty"`
	// OrdRejReason is tag 103, when sent.
	OrdRejReason int       `json:",omitempty"`
	PossDup      bool      `json:",omitempty"`
	PossResend   bool      `json:",omitempty"`
	TransactTime time.Time `json:",omitzero"`
	// SeqNum is the report's MsgSeqNum (34).
	SeqNum int `json:",omitempty"`
	// Period is the session period the report arrived in: when the
	// session's store was created or last reset (a new period of the
	// schedule), Unix nanoseconds as every store keeps it (two resets in
	// one second are two periods); 0 unknown. With SeqNum it places the report
	// in the upstream's numbering (Upstream.ResumeInboundAfter). Not part
	// of the report's journal body.
	Period int64 `json:"-"`
}

// UnknownOrder reports whether the report says the upstream does not know
// the order it names: a rejected status (OrdStatus 8) with OrdRejReason 5
// (unknown order), or with the text "unknown order" that some venues send
// instead of the reason.
func (er *ExecReport) UnknownOrder() bool {
	if er.OrdStatus != '8' {
		return false
	}
	return er.OrdRejReason == 5 || strings.EqualFold(strings.TrimSpace(er.Text), "unknown order")
}

// CancelReject is an OrderCancelReject (9) received from the upstream.
type CancelReject struct {
	ClOrdID, OrigClOrdID, OrderID string
	Reason                        int // CxlRejReason (102)
	Text                          string
	ResponseTo                    byte // '1' cancel, '2' replace (434)
	PossDup                       bool
	SeqNum                        int   // MsgSeqNum (34)
	Period                        int64 `json:"-"` // as ExecReport.Period
}

// Reject is the upstream's refusal of one of the gateway's messages as a
// message: a BusinessMessageReject (j), such as "Unsupported Message Type"
// for an OrderStatusRequest a venue does not implement, or a session-level
// Reject (3). ClOrdID names the refused request: BusinessRejectRefID (379)
// when the upstream sent it, else the ClOrdID of the message the gateway
// sent with RefSeqNum (45); empty when neither is known.
type Reject struct {
	ClOrdID string
	// MsgType is RefMsgType (372), or the refused message's own type when
	// the upstream left it out: "D", "F", "G", "H", ...
	MsgType string
	// RefSeqNum is the refused message's MsgSeqNum (45).
	RefSeqNum int
	// Session is true for a session-level Reject (3).
	Session bool
	// Reason is BusinessRejectReason (380) or SessionRejectReason (373).
	Reason int
	Text   string
}

// sessionRejectReasons names the SessionRejectReason (373) values of FIX
// 4.2 to 5.0 SP2, by value.
var sessionRejectReasons = [...]string{
	0: "invalid tag number", 1: "required tag missing", 2: "tag not defined for this message type",
	3: "undefined tag", 4: "tag specified without a value", 5: "value is incorrect (out of range) for this tag",
	6: "incorrect data format for value", 7: "decryption problem", 8: "signature problem", 9: "CompID problem",
	10: "SendingTime accuracy problem", 11: "invalid MsgType", 12: "XML validation error",
	13: "tag appears more than once", 14: "tag specified out of required order",
	15: "repeating group fields out of order", 16: "incorrect NumInGroup count for repeating group",
	17: "non-data value includes field delimiter", 18: "invalid or unsupported application version",
}

// businessRejectReasons names the BusinessRejectReason (380) values of FIX
// 4.2 to 5.0 SP2, by value.
var businessRejectReasons = [...]string{
	0: "other", 1: "unknown ID", 2: "unknown security", 3: "unsupported message type",
	4: "application not available", 5: "conditionally required field missing", 6: "not authorized",
	7: "DeliverTo firm not available at this time", 18: "invalid price increment",
}

// ReasonName names r.Reason for logs: the FIX name of its
// SessionRejectReason (373, r.Session) or BusinessRejectReason (380)
// value, "other" for 99 (session), or "reason(N)" for a value FIX does
// not define.
func (r Reject) ReasonName() string {
	names := businessRejectReasons[:]
	if r.Session {
		if r.Reason == 99 {
			return "other"
		}
		names = sessionRejectReasons[:]
	}
	if r.Reason >= 0 && r.Reason < len(names) && names[r.Reason] != "" {
		return names[r.Reason]
	}
	return "reason(" + strconv.Itoa(r.Reason) + ")"
}

// Handed says whether a request was handed to the FIX session before the
// process started (see Upstream.Handed).
type Handed int

// The answers of Upstream.Handed.
const (
	// HandedUnknown: the store lost messages in an unclean stop (the
	// sender sequence number was moved up to its reservation), so a
	// request absent from it may still have left.
	HandedUnknown Handed = iota
	// HandedNo: the session never had the request; it never left.
	HandedNo
	// HandedYes: the session had the request; it left or FIX resend
	// recovery delivers it (PossDupFlag=Y) after the next logon.
	HandedYes
)

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
	// OnReject delivers the upstream's refusal of a message the gateway
	// sent (BusinessMessageReject or session-level Reject).
	OnReject(upstream string, r Reject)
	// OnSessionUp reports a logon over the named line. Send is accepted
	// from now on.
	OnSessionUp(upstream string, line string)
	// OnSessionDown reports the end of the session over the named line;
	// err wraps ErrLineBroken, ErrLineSilent, ErrLoggedOut,
	// ErrPeriodEnded, ErrSubmitFailed or ErrStopped. Requests that had
	// not yet been handed to the session (queued, or refused by
	// quickfix) are returned to their senders in reclaimed, in the order
	// they were sent (see Upstream.Send); those handed before are
	// delivered by FIX resend recovery after the next logon.
	OnSessionDown(upstream string, line string, err error, reclaimed []any)
}

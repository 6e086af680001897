package orders

import (
	"slices"
	"strings"
	"time"

	"sgw/refdata"
	"sgw/risk"
)

// Source is where a request came from: a WebSocket connection or a FIX
// broker session. Execution reports of an order go back to its source.
type Source struct {
	Kind    string // "ws", "fix" or "admin"
	Session string // the connection or session id
}

// key is s as risk knows a session: "kind:session".
func (s Source) key() string { return s.Kind + ":" + s.Session }

// sourceOf is the Source whose key is k.
func sourceOf(k string) Source {
	kind, session, _ := strings.Cut(k, ":")
	return Source{Kind: kind, Session: session}
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
	// Updated is the time of the order's last change: later than the
	// change before, whatever the clock stamping it (touch).
	Updated time.Time `json:"updated"`

	// acked is set once the upstream has answered the order (any report
	// naming it): until then its NewOrderSingle is outstanding.
	acked bool
	// pending is the cancel or replace in flight, if any.
	pending *change
	// refused are the replaces of the order that ended refused without
	// the venue's answer to them (endChange: not answered in time, most
	// of all; ended: overtaken by the report that ended the order),
	// oldest first, since its terms last changed: the venue may
	// still take one, and a report under its upstream id then makes it
	// the order's terms (Manager.replacedLate). Live and in replay alike.
	// At most maxRefused, the latest.
	refused []*change
	// owed is the cancel the gateway owes the order (cancel-on-disconnect,
	// the kill switch) that found pending set: sent once it ends
	// (Manager.payOwed). Live only.
	owed *owedCancel
	// turnover is the sum of fill price × qty, for AvgPx.
	turnover int64
	// seq is the order's index in its account's list (List cursors).
	seq int
	// probe is set while recovery asks the venue whether it has the
	// order (see Manager.recoverRoute).
	probe bool
	// dayEnd is set while a status request asks the venue about the
	// order after its trading day's close (Manager.dayEnd); ownEnd once
	// the gateway expired it without the venue's word (expireOwn).
	dayEnd, ownEnd bool
	// newSent counts the order's NewOrderSingles (the first, or a
	// PossResend) handed to its session in this run; statusAfter holds,
	// for each of its status requests handed over and not yet answered,
	// oldest first, the newSent it followed. The session delivers in
	// order and the venue answers in order, so an answer taken against
	// the oldest (statusAnswer) tells whether the question went after the
	// order's last NewOrderSingle: only then can "unknown order" be final.
	newSent     int
	statusAfter []int
	// resv is the order's risk Reservation (CheckNew or RestoreNew): the
	// handle its fills and its end go to risk with.
	resv *risk.Reservation
	// trades are the order's trades in the order applied (Trades).
	// Appended to under mu; an element is never written again: a copy of
	// the Order shares the elements it sees. A trade cancel or correction
	// (amendTrade) replaces the slice with an amended copy, so indexes
	// stay.
	trades []Trade
	// endDay is risk's trading day (Manager.TradingDay) when the order
	// last changed state (entered, or a report, a reject or an expiry
	// applied): for a terminal order, the day it ended, which for an
	// order a venue that never closes carried over is later than Day.
	// Set live and in replay alike.
	endDay int32
}

// Trade is one of an order's trades (an upstream's execution with
// ExecType F) as the gateway applied it, and the order's totals after it.
//
// A trade the upstream later canceled or corrected (FIX 4.4 ExecType H or
// G; FIX 4.2 ExecTransType 1 or 2, each naming the trade by ExecRefID)
// stays where it was, amended: a canceled one is marked Canceled, a
// corrected one takes the correction's quantity and price; the CumQty,
// AvgPx and LeavesQty of it and of the trades after it move by the
// difference (Status stays as applied). The order's own totals are the
// upstream's, from the cancel's or correction's report.
type Trade struct {
	// ExecID is the upstream's execution id.
	ExecID string
	Qty    int64
	Px     refdata.Price
	// CumQty, LeavesQty, AvgPx and Status are the order's after the trade.
	CumQty, LeavesQty int64
	AvgPx             refdata.Price
	Status            Status
	// Canceled is set once the upstream canceled the trade (a trade
	// bust): it is not in the order's totals any more. Qty and Px are the
	// trade's as it was.
	Canceled bool
	// Amended is the upstream's ExecID of the last cancel or correction
	// of the trade; "" if none. A later one may name the trade by it.
	Amended string
	// AmendDay is risk's trading day (Manager.TradingDay) when that last
	// cancel or correction was applied, or the date it was applied on if
	// later (before the day's first request: Manager.reportDay), live or
	// in replay: later than Day for one of a trade an order a venue that
	// never closes carried over made on an earlier day. 0 if none.
	AmendDay int32
	// turnover is the order's (Order.turnover) after the trade, which
	// AvgPx is of: amendTrade moves it exactly.
	turnover int64
	// Time is the upstream's TransactTime; zero when it sent none.
	Time time.Time
	// Day is risk's trading day (Manager.TradingDay) when the trade was
	// applied, live or in replay.
	Day int32
	// ReportDay is Day, or the date the trade was applied on if later
	// (before the day's first request: Manager.reportDay), live or in
	// replay: the day of its report, as a broker acceptor's restatement
	// counts days.
	ReportDay int32
	// riskQty and riskPx are the trade as risk has it: as the upstream
	// reported it (or its last cancel or correction) if risk took that,
	// none if risk refused the fill (above the order's limit, an
	// overfill); a later cancel or correction moves risk from them.
	riskQty int64
	riskPx  refdata.Price
}

// Turnover returns the order's turnover after the trade (its fills'
// price × quantity summed, which AvgPx is of), as the cancels and
// corrections of it and of earlier trades since moved it, like CumQty.
func (t Trade) Turnover() int64 {
	return t.turnover
}

// TradeID is the id a gateway client knows an upstream's execution by:
// "<upstream>:<ExecID>" (FIX brokers' ExecID, WebSocket execId), so that
// two upstreams' ExecIDs never collide; "" when the upstream gave none.
func TradeID(upstream, execID string) string {
	if execID == "" {
		return ""
	}
	return upstream + ":" + execID
}

// Day returns the trading day (yyyymmdd) the order was accepted on, as
// risk counts days (Manager.TradingDay); 0 when unknown.
func (o *Order) Day() int32 {
	return o.resv.Day()
}

// EndDay returns the trading day (yyyymmdd, as Manager.TradingDay counts
// days) of the order's last change of state: for a terminal order, the day
// it ended, which may be later than Day (an order carried over by a venue
// that never closes); 0 when unknown.
func (o *Order) EndDay() int32 {
	return o.endDay
}

// minStep is the least touch moves an order's Updated: more than a JS
// number's resolution of Unix ns (256 ns until 2043, 512 ns after), so
// that a web client still sees the later change as later.
const minStep = time.Microsecond

// touch sets o.Updated to now, the time of a change, or to just after the
// change before if now is not later: a clock behind the one that stamped
// that change (a cluster node that took over from a leader whose clock
// was ahead: the order keeps the time of the leader's journal record; a
// wall clock stepped back). Clients take the view of an order with the
// later time (docs/PROTOCOL.md); before, they dropped the views of such
// changes as older (TestUpdatedNeverGoesBack). Manager mu held.
func (o *Order) touch(now time.Time) {
	if !now.After(o.Updated) {
		now = o.Updated.Add(minStep)
	}
	o.Updated = now
}

// Trades returns the order's trades, in the order they were applied (from
// the journal too, after a restart or a takeover). The caller must not
// modify them. A status answer that shows fills the gateway never got a
// trade of (reconciled) adds none: the trades may sum to less than CumQty.
func (o *Order) Trades() []Trade {
	return o.trades[:len(o.trades):len(o.trades)]
}

// Amendment returns the trade whose latest cancel or correction is the
// upstream's execution execID (Trade.Amended), as amended, and its index
// in Trades, or -1 if o has none (the latest match, as amendTrade finds
// a trade): the trade a trade cancel or correction event (Event.ExecID,
// on the event's Order) canceled (Canceled) or corrected (Qty and Px). A
// report that named no trade of the order amended none.
func (o *Order) Amendment(execID string) (Trade, int) {
	if execID == "" {
		return Trade{}, -1
	}
	k := lastIndex(o.trades, func(t Trade) bool { return t.Amended == execID })
	if k < 0 {
		return Trade{}, -1
	}
	return o.trades[k], k
}

// handedOver records a request for o (kind and upstream id as reqID
// gives them) handed to its session. mu held.
func (o *Order) handedOver(kind byte, uid string) {
	switch {
	case kind == 'H':
		o.statusAfter = append(o.statusAfter, o.newSent)
	case kind == recNew && uid == o.UpstreamID:
		o.newSent++
	}
}

// reclaimedStatus forgets o's latest status request: the session gave it
// back unsent (the requests it gives back are its latest). mu held.
func (o *Order) reclaimedStatus() {
	if n := len(o.statusAfter); n > 0 {
		o.statusAfter = o.statusAfter[:n-1]
	}
}

// statusAnswer takes a status answer for o against its oldest status
// request awaiting one and reports whether that request went after the
// order's last NewOrderSingle of this run (fresh). A resent answer
// (PossDup or PossResend) takes none and is never fresh: it answers a
// question asked before, perhaps by another process on the same session,
// perhaps before the order was sent again. An answer to a request that
// was never answered (gap filled) is taken against an older request, so
// a mismatch only ever makes an answer look older than it is. mu held.
func (o *Order) statusAnswer(resent bool) (fresh bool) {
	if resent || len(o.statusAfter) == 0 {
		return false
	}
	after := o.statusAfter[0]
	o.statusAfter = o.statusAfter[1:]
	return after == o.newSent
}

// change is a cancel or replace the gateway accepted and the upstream has
// not answered yet.
type change struct {
	kind    byte   // recCancel or recReplace
	clOrdID string // the client's id of the request
	uid     string // its upstream id
	price   refdata.Price
	qty     int64
	// resv is a replace's risk Reservation (CheckReplace or
	// RestoreReplace), which its answer goes to risk with; nil for a
	// cancel.
	resv *risk.Reservation
	// from is the source that sent the request; zero for a cancel the
	// gateway made itself (ownClOrdID).
	from Source
	// fromEnded is set on a replace once from's session has ended, with
	// cancel_on_disconnect, while the replace was in flight or kept
	// refused (Order.refused; Manager.replacerEnded): taken late
	// (replacedLate), it makes the order that session's, owed its
	// cancel. Live only, like Order.owed; a restart sets it again for
	// the sessions not connected (cancelOwed).
	fromEnded bool
	// live is set for a request this manager took (not replayed from the
	// journal): its journal callback hands it to the route (submit), so
	// the first logon's recovery must not send it too.
	live bool
}

// owedCancel is the cancel the gateway owes an order whose request in
// flight its causes found (Order.owed). Under Manager.mu, as the Order.
type owedCancel struct {
	// always is the source of a cancel owed whatever the answer: the
	// kill switch's, or that of the end of the session the order belonged
	// to. Nil if none.
	always *Source
	// ifOwner are the sessions that ended while the order's pending
	// replace came from them (risk.OpenOrder.IfReplacedBy): the cancel is
	// owed, as one's, only if the order is that session's once the
	// request has ended (the venue took the replace).
	ifOwner []Source
}

// owe adds a cause to what o is owed: src's cancel, whatever the answer
// or, with ifOwner, only if the order is then src's session's. mu held.
func (o *Order) owe(src Source, ifOwner bool) {
	if o.owed == nil {
		o.owed = &owedCancel{}
	}
	switch {
	case !ifOwner:
		o.owed.always = &src
	case !slices.Contains(o.owed.ifOwner, src):
		o.owed.ifOwner = append(o.owed.ifOwner, src)
	}
}

// msgType is the FIX MsgType of the client's request c.
func (c *change) msgType() byte {
	if c.kind == recReplace {
		return 'G'
	}
	return 'F'
}

// Pending returns the MsgType of the order's cancel ('F') or replace ('G')
// accepted and not yet answered, or 0: FIX reports the order's status as
// Pending Cancel or Pending Replace meanwhile. A copy of an Order (Get, an
// Event's) answers as of the copy.
func (o *Order) Pending() byte {
	if o.pending == nil {
		return 0
	}
	return o.pending.msgType()
}

// EventKind classifies what happened to an order.
type EventKind string

// Event kinds.
const (
	// EventAccepted: the gateway accepted (and journaled) a request.
	EventAccepted EventKind = "accepted"
	// EventExec: an execution report from the upstream, or the gateway's
	// rejection of an order it had accepted but could not deliver
	// (ExecType '8' with a Code).
	EventExec EventKind = "exec"
	// EventCancelReject: the upstream (or the gateway, with a Code)
	// refused a cancel or replace.
	EventCancelReject EventKind = "cancel_reject"
)

// Event is what a client hears about its order.
type Event struct {
	Kind  EventKind
	Order Order
	// ExecType is the FIX 4.4 ExecType of an EventExec ('0' new, 'F'
	// trade, '4' canceled, '5' replaced, '8' rejected, 'I' status, 'C'
	// expired, 'D' restated).
	ExecType byte
	// ExecID is the upstream's execution id; empty for the gateway's own
	// events.
	ExecID string
	// ExecRefID is, on a trade cancel or correction (ExecType 'H' or 'G';
	// 'D' for a FIX 4.2 upstream's, ExecTransType 1 or 2), the upstream's
	// ExecID of the execution it names: the trade, or an earlier cancel
	// or correction of it. Empty otherwise, and when the upstream sent
	// none.
	ExecRefID string
	LastPx    refdata.Price
	LastQty   int64
	// Ref is the client order id of the request the event answers.
	Ref string
	// Request is the FIX MsgType of the client's request Ref names when
	// it is a cancel ('F') or a replace ('G'): set on an EventCancelReject
	// and on an EventExec reported under that request's id; zero
	// otherwise. With Replaced it tells a client's session what the
	// request was from the order's state alone, as a restarted gateway
	// or a new leader must (it kept no record of its own).
	Request byte
	// Requester is the source that sent the request Ref names, set with
	// Request. It is zero for a cancel the gateway made itself (the kill
	// switch's, cancel-on-disconnect's), which no client sent: a client's
	// session then tells it the order's executions only, under the order's
	// own id, never a refusal of a request it did not make (an
	// OrderCancelReject, a cancel_reject). Known from the journal too, as
	// Request is.
	Requester Source
	// Replaced is the client order id a replace replaced, on its
	// EventExec with ExecType '5', or on the first report under the id of
	// a replace the gateway gave up and the venue took late (of any
	// ExecType: a fill may be the first to say so; Manager.replacedLate).
	Replaced string
	Text     string
	// Code is set when the gateway itself ended the request: one of the
	// Code constants (orders.upstream_unavailable, orders.upstream_reject,
	// orders.journal_failed).
	Code string
}

// Sink receives order events. OrderEvent is called from the Manager's
// dispatcher goroutine, which runs the journal's completions in journal
// order (or, when the journal has failed, from the goroutine whose call
// produced the event), never under the Manager's lock, in the order the
// events happened for each order; it must not block.
type Sink interface {
	OrderEvent(ev Event)
}

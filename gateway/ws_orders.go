package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// OrderEntry is what the WebSocket endpoint needs of the order manager.
// *orders.Manager implements it; its methods are safe for concurrent use.
type OrderEntry interface {
	New(orders.NewRequest) (orders.Order, error)
	Cancel(orders.CancelRequest) (orders.Order, error)
	Replace(orders.ReplaceRequest) (orders.Order, error)
	// Status returns an order by any of its client order ids; an order it
	// does not know is an *orders.Reject with orders.CodeUnknownOrder.
	Status(account, clOrdID string) (orders.Order, error)
	List(account, cursor string, limit int) (orders.ListPage, error)
	Register(src orders.Source, sink orders.Sink)
	Watch(account string, sink orders.Sink)
	Unwatch(account string, sink orders.Sink)
	Disconnected(src orders.Source) int
	// Account returns the account's cash and positions as risk holds
	// them (risk.ErrUnknownAccount for an account risk does not know).
	Account(account string) (risk.AccountState, error)
}

var _ OrderEntry = (*orders.Manager)(nil)

// orderSink delivers a client's order events: it is the client as an
// orders.Sink. OrderEvent runs on the order manager's dispatcher goroutine and only queues.
type orderSink struct{ c *client }

// OrderEvent implements orders.Sink.
// Events of an account the client's current token does not grant are
// dropped: a client that authenticated again with a narrower token no
// longer hears of that account, not even of the orders it placed there
// under its earlier token. So is the refusal of a cancel no client sent
// (the gateway's own: the kill switch's, cancel-on-disconnect's; no
// ev.Requester): nobody awaits its answer, and a trading app takes a
// cancel_reject for its own cancel refused; the order's exec events tell
// its fate. The first answer to one of the client's own requests echoes
// the request's id (awaiting), even when it is then dropped.
func (s orderSink) OrderEvent(ev orders.Event) {
	id, answered := s.c.awaiting.answer(ev)
	if answered {
		defer s.c.awaiting.delivered()
	}
	if a := s.c.accounts.Load(); a == nil || !slices.Contains(*a, ev.Order.Account) {
		return
	}
	if ev.Kind == orders.EventCancelReject && ev.Request != 0 && ev.Requester == (orders.Source{}) {
		return
	}
	s.c.enqueueOrderEvent(encodeOrderEvent(ev, id))
}

// orderAnswerTries is how many times answerOrders reads the manager's
// state without holding back the client's order events before it does.
const orderAnswerTries = 4

// answerOrders queues the answer read builds from the order manager's
// state (an orders.list page, an order.status) so that it never comes
// after an order event newer than the state it shows: a client applies
// the answer and then the events that follow it, and a page read before a
// fill but queued after the fill's event would undo the fill on the
// client, with nothing to correct it (TestWSOrderAnswerNotBehindNewerEvent).
// An answer is queued only if no order event was queued for the client
// since its state was read; else it is read again. After orderAnswerTries
// reads that each lost the race (a busy account), it is read and queued
// holding orderMu, which holds back the client's order events for that
// long (one read of at most a page). An event of a change read into the
// answer may still come after it: it shows that state again, and the
// events after it lead to the current one. Reader goroutine.
func (c *client) answerOrders(read func() ([]byte, error)) error {
	for range orderAnswerTries {
		c.mu.Lock()
		seen := c.orderEvents
		c.mu.Unlock()
		msg, err := read()
		if err != nil {
			return err
		}
		c.mu.Lock()
		if c.orderEvents == seen {
			c.push(msg, 0)
			c.mu.Unlock()
			return nil
		}
		c.mu.Unlock()
	}
	c.orderMu.Lock()
	defer c.orderMu.Unlock()
	msg, err := read()
	if err != nil {
		return err
	}
	c.enqueue(msg)
	return nil
}

// enqueueOrderEvent queues an order event (enqueue), counted for
// answerOrders. Any goroutine but one holding the order manager's lock.
func (c *client) enqueueOrderEvent(msg []byte) {
	c.orderMu.Lock()
	defer c.orderMu.Unlock()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.orderEvents++
	c.push(msg, 0)
}

// maxAwaiting bounds the requests of one client awaiting their first
// answer. A request is answered when the journal has its record, within
// milliseconds, and the rate limit bounds how many a client sends
// meanwhile; past the bound, an answer names its request by ref alone.
const maxAwaiting = 256

// awaitKey names an order request: client order ids are unique per
// account and day (risk.duplicate_clordid), across new orders, cancels
// and replaces.
type awaitKey struct{ account, clOrdID string }

// awaitEntry is the id of a request awaiting its answer, and the source
// that sent it.
type awaitEntry struct {
	id   json.RawMessage
	from orders.Source
}

// awaiting holds the ids of a client's order requests (order.new,
// order.cancel, order.replace) that the order manager took and whose
// first answer has not been queued yet: accepted, once the request is
// journaled, or, when the gateway ends the request instead (the journal
// failed, the cluster's lead was lost), the exec rejected or cancel_reject
// that ends it. That answer echoes the id, as an error does. It comes on
// the manager's dispatcher goroutine, possibly before the call that made
// the request has returned, so the reader goroutine records the id before
// the call (expect) and forgets it when the call refuses the request
// (forget). Requests without an id are held too (with none), so that a
// close for flooding can wait for the answers of every request taken
// before it (wait). Safe for concurrent use; mu guards every field and is
// taken by nothing else.
type awaiting struct {
	mu         sync.Mutex
	m          map[awaitKey]awaitEntry
	delivering int           // answers taken from m and not yet queued (answer, delivered)
	drained    chan struct{} // closed once m is empty and nothing is delivering; made by wait
}

// expect records id for the request k that from is about to make, and
// reports whether it did: not when a request of the same k awaits its
// answer (the manager refuses the second one as a duplicate), nor past
// maxAwaiting.
func (a *awaiting) expect(k awaitKey, id json.RawMessage, from orders.Source) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, dup := a.m[k]; dup || len(a.m) >= maxAwaiting {
		return false
	}
	if a.m == nil {
		a.m = map[awaitKey]awaitEntry{}
	}
	a.m[k] = awaitEntry{id: id, from: from}
	return true
}

// forget drops the id of a request the manager refused.
func (a *awaiting) forget(k awaitKey) {
	a.mu.Lock()
	defer a.mu.Unlock()
	delete(a.m, k)
	a.settleLocked()
}

// delivered records that an answer answer returned has been queued (or
// dropped for good).
func (a *awaiting) delivered() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.delivering--
	a.settleLocked()
}

// settleLocked wakes wait once every request has been answered. mu held.
func (a *awaiting) settleLocked() {
	if len(a.m) == 0 && a.delivering == 0 && a.drained != nil {
		close(a.drained)
		a.drained = nil
	}
}

// wait returns once every request held has had its first answer queued,
// or after d. A request is answered once the journal has its record,
// within milliseconds. Reader goroutine, which makes no more requests
// meanwhile.
func (a *awaiting) wait(d time.Duration) {
	a.mu.Lock()
	if len(a.m) == 0 && a.delivering == 0 {
		a.mu.Unlock()
		return
	}
	if a.drained == nil {
		a.drained = make(chan struct{})
	}
	drained := a.drained
	a.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-drained:
	case <-t.C:
	}
}

// answer returns the id of the request ev answers first (nil if it had
// none), and forgets it, reporting whether ev was such an answer; the
// caller calls delivered once it has queued ev. Such an answer is: an accepted; or a new order's
// exec rejected, or a cancel_reject, by which the gateway ended a request
// before its accepted (its record not journaled: endedUnjournaled).
// Events of the same client order id sent for another connection's
// request (a watched account's) are told apart by the source that sent
// the request: the order's for a new order, Requester for a cancel's or
// replace's accepted and for a cancel_reject. A venue's reject or
// cancel_reject follows the accepted, which took the id: it answers no
// request awaiting here, not even one of the same key sent again and
// being refused as a duplicate meanwhile (before, it took that request's
// id, and the request was answered twice).
func (a *awaiting) answer(ev orders.Event) (json.RawMessage, bool) {
	newOrder := ev.Ref == ev.Order.ClOrdID
	var from orders.Source
	switch {
	case ev.Kind == orders.EventAccepted && newOrder:
		from = ev.Order.Source
	case ev.Kind == orders.EventAccepted: // a cancel's or replace's
		from = ev.Requester
	case ev.Kind == orders.EventExec && ev.ExecType == '8' && newOrder && endedUnjournaled(ev.Code):
		from = ev.Order.Source
	case ev.Kind == orders.EventCancelReject && ev.Requester != (orders.Source{}) && endedUnjournaled(ev.Code):
		from = ev.Requester
	default:
		return nil, false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	k := awaitKey{ev.Order.Account, ev.Ref}
	e, ok := a.m[k]
	if !ok || from != (orders.Source{}) && from != e.from {
		return nil, false
	}
	delete(a.m, k)
	a.delivering++
	return e.id, true
}

// endedUnjournaled reports whether code is one by which the gateway ends
// a request whose record the journal did not take (docs/PROTOCOL.md: the
// exec rejected or cancel_reject that answers a request in place of
// accepted).
func endedUnjournaled(code string) bool {
	return code == orders.CodeJournal || code == orders.CodeNotLeader || code == orders.CodeInDoubt
}

// orderJSON is an order on the wire.
type orderJSON struct {
	Ch          string        `json:"ch"`
	Type        string        `json:"type"`
	ExecType    string        `json:"execType,omitempty"`
	Ref         string        `json:"ref,omitempty"`
	ClOrdID     string        `json:"clOrdId"`
	OrigClOrdID string        `json:"origClOrdId"`
	Account     string        `json:"account"`
	Symbol      string        `json:"symbol"`
	Side        string        `json:"side"`
	Price       refdata.Price `json:"price"`
	Qty         int64         `json:"qty"`
	CumQty      int64         `json:"cumQty"`
	LeavesQty   int64         `json:"leavesQty"`
	AvgPx       refdata.Price `json:"avgPx"`
	Status      string        `json:"status"`
	OrderID     string        `json:"orderId,omitempty"`
	LastPx      refdata.Price `json:"lastPx,omitempty"`
	LastQty     int64         `json:"lastQty,omitempty"`
	Text        string        `json:"text,omitempty"`
	Code        string        `json:"code,omitempty"`
	Time        int64         `json:"time"`
	// ExecID names a trade: "<upstream>:<the upstream's ExecID>", as FIX
	// brokers get it and order.trades lists it; only on an exec of
	// execType trade whose upstream gave one.
	ExecID string `json:"execId,omitempty"`
	// ExecRefID names the trade a trade cancel or correction (execType
	// trade_canceled or trade_corrected) takes back or corrects, as its
	// trade event's execId did; "<upstream>:<the upstream's ExecRefID>"
	// when the order has no trade it names; absent when the upstream gave
	// none.
	ExecRefID string `json:"execRefId,omitempty"`
	// ID echoes the request a direct answer answers: order.status's, and
	// the first answer to order.new, order.cancel and order.replace on the
	// connection that sent it (awaiting).
	ID json.RawMessage `json:"id,omitempty"`
}

// execTypes names FIX ExecType values on the wire. A FIX 4.2 upstream's
// trade cancel or correction is a restatement (D) naming the trade
// (orders.Event.ExecRefID): encodeOrderEvent names it by what it did to
// the trade.
var execTypes = map[byte]string{'0': "new", '1': "trade", '2': "trade", 'F': "trade", '4': "canceled", '5': "replaced",
	'8': "rejected", 'I': "status", 'C': "expired", 'D': "restated", 'H': "trade_canceled", 'G': "trade_corrected"}

func orderView(typ string, o orders.Order) orderJSON {
	return orderJSON{Ch: chOrders, Type: typ, ClOrdID: o.ClOrdID, OrigClOrdID: o.OrigClOrdID, Account: o.Account,
		Symbol: o.Symbol, Side: o.Side.String(), Price: o.Price, Qty: o.Qty, CumQty: o.CumQty, LeavesQty: o.LeavesQty,
		AvgPx: o.AvgPx, Status: string(o.Status), OrderID: o.OrderID, Text: o.Text, Time: o.Updated.UnixNano()}
}

// encodeOrderEvent encodes an order event for the orders channel; id,
// when not nil, is the id of the request it answers.
func encodeOrderEvent(ev orders.Event, id json.RawMessage) []byte {
	v := orderView(string(ev.Kind), ev.Order)
	v.Ref, v.Text, v.Code, v.ID = ev.Ref, ev.Text, ev.Code, id
	if ev.Kind == orders.EventExec {
		v.ExecType = execTypes[ev.ExecType]
		v.LastPx, v.LastQty = ev.LastPx, ev.LastQty
		if v.ExecType == "trade" {
			v.ExecID = orders.TradeID(ev.Order.Upstream, ev.ExecID)
		}
		if ev.ExecRefID != "" {
			// A trade cancel or correction: canceled or corrected as the
			// trade it names is now (a correction to no quantity
			// cancels), whatever the upstream's FIX version.
			v.ExecRefID = orders.TradeID(ev.Order.Upstream, ev.ExecRefID)
			if t, k := ev.Order.Amendment(ev.ExecID); k >= 0 {
				// Named by the trade's execId, as its trade event had
				// it: the upstream may name an earlier cancel or
				// correction, whose event carried no execId.
				v.ExecRefID = orders.TradeID(ev.Order.Upstream, t.ExecID)
				v.ExecType = execTypes['G']
				if t.Canceled {
					v.ExecType = execTypes['H']
				}
			}
		}
	}
	return encodeReply(v)
}

// source is the client's identity for the order manager, unique across
// processes (wsServer.runID): it is journaled with the client's orders.
func (c *client) source() orders.Source {
	return orders.Source{Kind: "ws", Session: c.srv.runID + "." + strconv.FormatUint(c.id, 10)}
}

// mayTrade reports whether the client's token names account and is still
// valid at now, the request's arrival, or rejects. A token past its exp
// (and the verifier's leeway) trades nothing, although the janitor closes
// its connection only at its next inspection.
func (c *client) mayTrade(req request, account string, now time.Time) bool {
	if c.srv.orders == nil {
		c.rejectRef(req, codeUnavailable, "this gateway takes no orders")
		return false
	}
	if c.claims == nil {
		c.rejectRef(req, codeAuthRequired, "orders need a token: send auth first")
		return false
	}
	if exp := c.expires.Load(); exp != 0 && now.Unix() > exp && !c.srv.stillValid(c, now) {
		c.rejectRef(req, codeBadToken, "the token has expired: send auth with a new one")
		return false
	}
	if !c.claims.CanTrade(account) {
		c.rejectRef(req, codeForbidden, fmt.Sprintf("the token may not trade account %q", account))
		return false
	}
	if !c.registered {
		c.registered = true
		c.markPrivate()
		c.srv.orders.Register(c.source(), orderSink{c})
	}
	return true
}

// handleOrder carries out an order request. Reader goroutine.
func (c *client) handleOrder(req request, now time.Time) {
	var err error
	if !c.mayTrade(req, req.Account, now) {
		return
	}
	switch req.Op {
	case opOrderNew, opOrderCancel, opOrderReplace:
		if !c.srv.gate.enter() {
			c.rejectRef(req, codeStopping, "the gateway is shutting down and takes no more order requests")
			return
		}
		defer c.srv.gate.leave()
		k := awaitKey{req.Account, req.ClOrdID}
		if c.awaiting.expect(k, req.ID, c.source()) {
			defer func() {
				if err != nil {
					c.awaiting.forget(k)
				}
			}()
		}
	}
	src := c.source()
	switch req.Op {
	case opOrderNew:
		side := risk.Buy
		if req.Side == "sell" {
			side = risk.Sell
		}
		_, err = c.srv.orders.New(orders.NewRequest{ClOrdID: req.ClOrdID, Account: req.Account, Symbol: req.Symbol,
			Side: side, Type: risk.Limit, Price: req.price, Qty: req.Qty, Source: src})
	case opOrderCancel:
		_, err = c.srv.orders.Cancel(orders.CancelRequest{ClOrdID: req.ClOrdID, OrigClOrdID: req.OrigClOrdID, Account: req.Account, Source: src})
	case opOrderReplace:
		_, err = c.srv.orders.Replace(orders.ReplaceRequest{ClOrdID: req.ClOrdID, OrigClOrdID: req.OrigClOrdID,
			Account: req.Account, Price: req.price, Qty: req.Qty, Source: src})
	case opOrderStatus:
		err = c.answerOrders(func() ([]byte, error) {
			o, err := c.srv.orders.Status(req.Account, req.ClOrdID)
			if err != nil {
				return nil, err
			}
			v := orderView("status", o)
			v.Ref, v.ID = req.ClOrdID, req.ID
			return encodeReply(v), nil
		})
	case opOrdersList:
		err = c.listOrders(req)
	case opOrderTrades:
		err = c.listTrades(req)
	}
	if err != nil {
		var rr *risk.Reject
		var or *orders.Reject
		switch {
		case errors.As(err, &rr):
			c.rejectRef(req, rr.Code, rr.Text)
		case errors.As(err, &or):
			c.rejectRef(req, or.Code, or.Text)
		default:
			c.rejectRef(req, codeUnavailable, err.Error())
		}
	}
}

// rejectRef answers an order request with an error naming its client
// order id, if it has a valid one (decodeRequest checked it; orders.list
// has none).
func (c *client) rejectRef(req request, code, msg string) {
	e := &protoError{code: code, msg: msg}
	if refdata.ValidID(req.ClOrdID, refdata.MaxClOrdIDLen) {
		e.ref = req.ClOrdID
	}
	c.reject(req.ID, e)
}

// watchOrders subscribes the client to the orders channel of accounts,
// which its token must grant, or unsubscribes it, which it always may.
func (c *client) watchOrders(req request, on bool, now time.Time) {
	if !on && c.srv.orders == nil {
		c.reject(req.ID, perr(codeUnavailable, "this gateway takes no orders"))
		return
	}
	for _, a := range req.Accounts {
		if on && !c.mayTrade(req, a, now) {
			return
		}
	}
	for _, a := range req.Accounts {
		if on {
			c.srv.orders.Watch(a, orderSink{c})
			c.watching[a] = true
		} else {
			c.srv.orders.Unwatch(a, orderSink{c})
			delete(c.watching, a)
		}
	}
	typ := "subscribed"
	if !on {
		typ = "unsubscribed"
	}
	c.enqueue(encodeReply(struct {
		Type     string          `json:"type"`
		Channel  string          `json:"channel"`
		Accounts []string        `json:"accounts"`
		ID       json.RawMessage `json:"id,omitempty"`
	}{typ, chOrders, req.Accounts, req.ID}))
}

// leaveOrders undoes the client's order registrations when it goes.
func (c *client) leaveOrders() {
	if c.srv.orders == nil {
		return
	}
	for a := range c.watching {
		c.srv.orders.Unwatch(a, orderSink{c})
	}
	if c.registered {
		c.srv.orders.Disconnected(c.source())
	}
}

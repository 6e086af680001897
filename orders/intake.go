package orders

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"sgw/refdata"
	"sgw/risk"
)

// NewRequest is a new order from a client.
type NewRequest struct {
	ClOrdID, Account, Symbol string
	Side                     risk.Side
	Type                     risk.OrdType
	Price                    refdata.Price
	Qty                      int64
	Source                   Source
}

// CancelRequest asks to cancel an order.
type CancelRequest struct {
	// ClOrdID is the cancel's own client order id; empty means the gateway
	// gives it one.
	ClOrdID, OrigClOrdID, Account string
	Source                        Source
}

// ReplaceRequest asks to change an order's price and quantity.
type ReplaceRequest struct {
	ClOrdID, OrigClOrdID, Account string
	Price                         refdata.Price
	// Qty is the new total quantity, filled shares included.
	Qty    int64
	Source Source
}

// checkIDs validates the identifiers of a request: the same rules for
// every entry path (see refdata.ValidID). clOrdID may be empty only for a cancel
// (the gateway names it); symbol is checked when set.
func checkIDs(clOrdID, account, symbol string, clOrdIDOptional bool) error {
	if clOrdID != "" || !clOrdIDOptional {
		if err := CheckID("clOrdId", clOrdID, refdata.MaxClOrdIDLen); err != nil {
			return err
		}
	}
	if err := CheckID("account", account, refdata.MaxAccountLen); err != nil {
		return err
	}
	if symbol != "" {
		return CheckID("symbol", symbol, refdata.MaxSymbolLen)
	}
	return nil
}

// checkOrig validates the client order id a cancel or replace names.
func checkOrig(orig string) error { return CheckID("origClOrdId", orig, refdata.MaxClOrdIDLen) }

// admit refuses a request the manager cannot take now: the journal
// failed or stalled, or the gateway is stopping. mu held.
func (m *Manager) admit() error {
	if m.failed != nil {
		return m.failed
	}
	if m.stopping {
		return &Reject{Code: CodeStopping, Text: "the gateway is shutting down; send the request to another instance", FIXReason: fixOther}
	}
	if m.journalStalled() {
		return &Reject{Code: CodeJournalStalled, FIXReason: fixOther,
			Text: fmt.Sprintf("the order journal has recorded nothing for %s (its disk is not answering); the request was not taken: send it again later", m.cfg.JournalStall)}
	}
	return nil
}

// New checks and accepts a new order. On acceptance it is journaled; once
// the record is durable the client gets an EventAccepted and the order
// goes to its upstream, at once or, while the session is down, after the
// next logon (held for at most HoldTimeout, then rejected). A rejection is
// returned as a *risk.Reject or *Reject; nothing is journaled for it.
func (m *Manager) New(req NewRequest) (_ Order, err error) {
	m.mu.Lock()
	defer m.unlock()
	defer func() { m.count(req.Source, true, err) }()
	m.newDay()
	if err := checkIDs(req.ClOrdID, req.Account, req.Symbol, false); err != nil {
		return Order{}, err
	}
	if err := m.admit(); err != nil {
		return Order{}, err
	}
	name := m.upstreamOf(req.Account)
	rt := m.routes[name]
	if rt == nil {
		return Order{}, &Reject{Code: CodeNoUpstream, Text: "no upstream serves account " + req.Account, FIXReason: fixOther}
	}
	now := m.cfg.Clock()
	if err := rt.admit(now, m.cfg.HoldQueue, m.cfg.HoldTimeout); err != nil {
		return Order{}, err
	}
	rec := newRec{Account: req.Account, ClOrdID: req.ClOrdID, Symbol: req.Symbol, Side: req.Side, Type: req.Type,
		Price: req.Price, Qty: req.Qty, Upstream: name, Source: req.Source, Time: now, UID: m.newUID()}
	o, err := m.applyNew(rec, true)
	if err != nil {
		return Order{}, err
	}
	start := time.Now()
	err = m.journalSend(recNew, &rec, o, Event{Kind: EventAccepted, Order: *o, Ref: o.ClOrdID}, newOrderReq(o, false),
		func(prepared any, err error) {
			if err != nil {
				m.endRequest(rt, newOrderReq(o, false), CodeUpstreamReject, "the order could not be encoded for upstream "+rt.name+": "+err.Error())
				return
			}
			m.submit(rt, prepared, m.cfg.Clock())
			if m.cfg.OnSent != nil {
				m.cfg.OnSent(time.Since(start))
			}
		},
		func(err error) (Event, bool) {
			code, text := journalEnd(err, "order")
			return m.endNew(o, code, text), true
		})
	if err != nil {
		return Order{}, m.failed
	}
	return *o, nil
}

// applyNew runs risk and creates the order. mu held. live is false for
// journal replay.
func (m *Manager) applyNew(rec newRec, live bool) (*Order, error) {
	ro := risk.Order{Account: rec.Account, Session: rec.Source.key(), ClOrdID: rec.ClOrdID,
		Symbol: rec.Symbol, Side: rec.Side, Type: rec.Type, Price: rec.Price, Qty: rec.Qty, Credit: m.credit[rec.Account]}
	var resv *risk.Reservation
	var rej *risk.Reject
	if live {
		resv, rej = m.risk.CheckNew(ro)
	} else {
		resv, rej = m.risk.RestoreNew(ro)
	}
	if rej != nil {
		return nil, rej
	}
	o := &Order{ClOrdID: rec.ClOrdID, OrigClOrdID: rec.ClOrdID, Account: rec.Account, Symbol: rec.Symbol, Side: rec.Side,
		Price: rec.Price, Qty: rec.Qty, LeavesQty: rec.Qty, Status: StatusPendingNew, Upstream: rec.Upstream,
		UpstreamID: rec.UID, Source: rec.Source, Created: rec.Time, Updated: rec.Time, seq: len(m.byAccount[rec.Account]),
		resv: resv, endDay: resv.Day()}
	m.orders[key(rec.Account, rec.ClOrdID)] = o
	m.byUID[rec.UID] = o
	m.list = append(m.list, o)
	m.byAccount[o.Account] = append(m.byAccount[o.Account], o)
	m.bySource[o.Source] = append(m.bySource[o.Source], o)
	return o, nil
}

// endNew ends a new order that never reached the venue: rejected, its
// reservation released. It returns the event telling the client. mu held.
func (m *Manager) endNew(o *Order, code, text string) Event {
	m.riskErr("done", o, m.risk.OnDone(o.resv, o.Qty-o.CumQty))
	o.Status, o.LeavesQty, o.Text = StatusRejected, 0, text
	o.touch(m.cfg.Clock())
	o.endDay = m.risk.DayDate()
	o.pending = nil
	m.signal()
	return Event{Kind: EventExec, ExecType: '8', Order: *o, Ref: o.ClOrdID, Text: text, Code: code}
}

// target returns the order a cancel or replace names, or why it cannot be
// acted on. The request is checked, journaled and replayed under the
// order's current client order id (changeRec.Orig), so an order whose
// current id a later day's order took (risk frees a day's ids at its
// end; the order ended in risk then) is unknown: the request would
// otherwise go to that later order. mu held.
func (m *Manager) target(account, orig string) (*Order, error) {
	o := m.orders[key(account, orig)]
	if o == nil {
		return nil, &Reject{Code: CodeUnknownOrder, Text: "no order " + orig + " of account " + account, FIXReason: risk.FIXUnknownOrder}
	}
	if m.orders[key(account, o.ClOrdID)] != o {
		return nil, &Reject{Code: CodeUnknownOrder, FIXReason: risk.FIXUnknownOrder,
			Text: "order " + orig + " of account " + account + " is of an earlier day, and its client order id " + o.ClOrdID + " names a later order"}
	}
	return o, nil
}

// Cancel checks a cancel request and, once journaled, sends it upstream.
func (m *Manager) Cancel(req CancelRequest) (_ Order, err error) {
	m.mu.Lock()
	defer m.unlock()
	defer func() { m.count(req.Source, false, err) }()
	return m.cancel(req)
}

// cancel implements Cancel. mu held.
func (m *Manager) cancel(req CancelRequest) (Order, error) {
	m.newDay()
	if err := checkIDs(req.ClOrdID, req.Account, "", true); err != nil {
		return Order{}, err
	}
	if err := checkOrig(req.OrigClOrdID); err != nil {
		return Order{}, err
	}
	if m.failed != nil {
		return Order{}, m.failed
	}
	o, err := m.target(req.Account, req.OrigClOrdID)
	if err != nil {
		return Order{}, err
	}
	uid := m.newUID()
	if req.ClOrdID == "" {
		req.ClOrdID = ownClOrdID(uid)
	}
	rec := changeRec{Account: req.Account, ClOrdID: req.ClOrdID, Orig: o.ClOrdID, Source: req.Source, UID: uid}
	if err := m.applyChange(recCancel, rec, true); err != nil {
		return Order{}, err
	}
	return m.journalChange(recCancel, o, rec)
}

// Replace checks a replace request and, once journaled, sends it upstream.
func (m *Manager) Replace(req ReplaceRequest) (_ Order, err error) {
	m.mu.Lock()
	defer m.unlock()
	defer func() { m.count(req.Source, false, err) }()
	m.newDay()
	if err := checkIDs(req.ClOrdID, req.Account, "", false); err != nil {
		return Order{}, err
	}
	if err := checkOrig(req.OrigClOrdID); err != nil {
		return Order{}, err
	}
	if err := m.admit(); err != nil {
		return Order{}, err
	}
	o, err := m.target(req.Account, req.OrigClOrdID)
	if err != nil {
		return Order{}, err
	}
	if o.Source.Kind == "fix" && req.Source != o.Source {
		return Order{}, &Reject{Code: CodeNotOwner, FIXReason: risk.FIXBrokerOption,
			Text: "order " + o.ClOrdID + " was entered by FIX session " + o.Source.Session + ": only that session may replace it (a cancel is taken)"}
	}
	rec := changeRec{Account: req.Account, ClOrdID: req.ClOrdID, Orig: o.ClOrdID, Price: req.Price, Qty: req.Qty,
		Source: req.Source, UID: m.newUID()}
	if err := m.applyChange(recReplace, rec, true); err != nil {
		return Order{}, err
	}
	return m.journalChange(recReplace, o, rec)
}

// journalChange journals an accepted cancel or replace; once durable it
// goes upstream. mu held.
func (m *Manager) journalChange(typ byte, o *Order, rec changeRec) (Order, error) {
	rt := m.routes[o.Upstream]
	c := o.pending
	err := m.journalSend(typ, &rec, o, Event{Kind: EventAccepted, Order: *o, Ref: rec.ClOrdID, Request: c.msgType(), Requester: c.from}, changeReq(o, c),
		func(prepared any, err error) {
			switch {
			case o.pending != c || rt == nil: // already answered or ended
			case err != nil:
				m.endRequest(rt, changeReq(o, c), CodeUpstreamReject, "the request could not be encoded for upstream "+rt.name+": "+err.Error())
			default:
				m.submit(rt, prepared, m.cfg.Clock())
			}
		},
		func(err error) (Event, bool) {
			if o.pending != c {
				return Event{}, false
			}
			code, text := journalEnd(err, "request")
			return m.endChange(o, code, text), true
		})
	if err != nil {
		return Order{}, m.failed
	}
	return *o, nil
}

// applyChange runs risk for a cancel or replace and records it on the
// order. mu held. live is false for journal replay.
func (m *Manager) applyChange(typ byte, rec changeRec, live bool) error {
	o := m.orders[key(rec.Account, rec.Orig)]
	if o.pending != nil && live {
		// Risk would allow a cancel while a replace is pending; the
		// gateway keeps one request in flight per order.
		return &Reject{Code: CodeRequestPending, Text: "order " + o.ClOrdID + " has a cancel or replace in flight; wait for its answer", FIXReason: fixOther}
	}
	session := rec.Source.key()
	var resv *risk.Reservation
	var rej *risk.Reject
	if typ == recCancel {
		x := risk.Cancel{Account: rec.Account, Session: session, ClOrdID: rec.ClOrdID, OrigClOrdID: rec.Orig, Symbol: o.Symbol}
		if live {
			rej = m.risk.CheckCancel(x)
		} else {
			rej = m.risk.RestoreCancel(x)
		}
	} else {
		ro := risk.Order{Account: rec.Account, Session: session, ClOrdID: rec.ClOrdID, Symbol: o.Symbol, Side: o.Side,
			Type: risk.Limit, Price: rec.Price, Qty: rec.Qty, Credit: m.credit[rec.Account]}
		if live {
			resv, rej = m.risk.CheckReplace(rec.Orig, ro)
		} else {
			resv, rej = m.risk.RestoreReplace(rec.Orig, ro)
		}
	}
	if rej != nil && rej.Code == risk.CodeUnknownOrder {
		// One code for "unknown order" on every path: risk's (an order
		// already done, or of another symbol) is reported as the
		// manager's own, with the same FIX reason.
		return &Reject{Code: CodeUnknownOrder, Text: rej.Text, FIXReason: risk.FIXUnknownOrder}
	}
	if rej != nil {
		return rej
	}
	o.pending = &change{kind: typ, clOrdID: rec.ClOrdID, uid: rec.UID, price: rec.Price, qty: rec.Qty, resv: resv, live: live}
	if rec.ClOrdID != ownClOrdID(rec.UID) {
		o.pending.from = rec.Source
	}
	m.orders[key(rec.Account, rec.ClOrdID)] = o
	m.requesters[requestKey{rec.Account, rec.ClOrdID}] = rec.Source
	m.byUID[rec.UID] = o
	return nil
}

// endChange ends a cancel or replace that the venue did not answer (never
// sent, refused as a message, or not answered in time): the order keeps
// its terms. A replace is kept (Order.refused): one the venue had, and
// takes after all, is the order's terms from its first report under the
// replace's id (replacedLate). It returns the event telling the client.
// mu held.
func (m *Manager) endChange(o *Order, code, text string) Event {
	c := o.pending
	if c.kind == recReplace {
		m.riskErr("replace_rejected", o, m.risk.OnReplaceRejected(c.resv))
		m.keepRefused(o, c)
	}
	o.pending = nil
	o.Text = text
	o.touch(m.cfg.Clock())
	m.signal()
	return Event{Kind: EventCancelReject, Order: *o, Ref: c.clOrdID, Request: c.msgType(), Requester: c.from, Text: text, Code: code}
}

// keepRefused keeps the replace c, ended without the venue's answer to
// it, in o.refused: should the venue take it after all, its first report
// under c's upstream id makes c the order's terms (replacedLate). Live
// and in replay alike. mu held.
func (m *Manager) keepRefused(o *Order, c *change) {
	if len(o.refused) == maxRefused {
		o.refused = slices.Delete(o.refused, 0, 1)
	}
	o.refused = append(o.refused, c)
	if c.from != (Source{}) {
		kept := m.keptFrom[c.from]
		if kept == nil {
			kept = map[*Order]struct{}{}
			m.keptFrom[c.from] = kept
		}
		kept[o] = struct{}{}
	}
}

// maxRefused bounds the replaces an order keeps (Order.refused) in case
// the venue takes one late: the latest, the oldest dropped (taken after
// all, it is a report under another id, and the order keeps its terms).
// A venue refusing every replace as a message, and a client replacing
// again and again, made them grow without bound, and with them the scan
// of each report under an id not the order's.
const maxRefused = 8

// ownClOrdID is the client order id of a cancel the gateway makes itself
// (a CancelRequest without one: the kill switch's, cancel-on-disconnect's),
// uid its upstream id: unique, and within refdata.MaxClOrdIDLen. A
// request whose id it is, live or replayed, has no requester
// (Event.Requester).
func ownClOrdID(uid string) string { return "X-" + uid }

// Kill turns an account's kill switch (or the global one, account "") on
// or off, and when the risk configuration says so cancels the orders
// concerned (one with a cancel or replace in flight once the venue has
// answered it). It returns the cancels sent. The switch is journaled
// (killRec) and takes effect for the next request; Kill returns once
// the record is durable, so a switch it reports set survives a restart
// and a new leader's takeover (before, it lived in memory only: the
// gateway came back trading). A record the journal does not make
// durable is an error, the switch then set in this process only (the
// journal's failure refuses every order anyway). Any goroutine; not
// under mu.
func (m *Manager) Kill(account string, on bool) (int, error) {
	durable := make(chan error, 1)
	m.mu.Lock()
	open, err := m.risk.SetKill(account, on)
	if err == nil {
		err = m.journalSend(recKill, &killRec{Account: account, On: on}, nil, Event{}, nil,
			func(any, error) { durable <- nil },
			func(err error) (Event, bool) { durable <- err; return Event{}, false })
	}
	m.mu.Unlock()
	if err != nil {
		return 0, err
	}
	if err := <-durable; err != nil {
		return 0, fmt.Errorf("orders: the kill switch was not journaled: %w", err)
	}
	return m.cancelAll(open, Source{Kind: "admin", Session: "kill"}), nil
}

// Disconnected handles the end of a client session: with
// cancel-on-disconnect configured, its working orders are cancelled.
func (m *Manager) Disconnected(src Source) int {
	m.Unregister(src)
	return m.SessionEnded(src)
}

// SessionEnded is Disconnected for a source whose sink stays registered
// (a FIX broker session, whose reports queue for its next logon): with
// cancel-on-disconnect configured its working orders are cancelled, and
// its events keep going to its sink. An order with a cancel or replace in
// flight is cancelled once the venue has answered it (not counted in the
// result); one whose pending replace came from src and not its own
// session only if the venue took the replace, making it src's (refused,
// the order is still its own session's). A replace from src that the
// gateway gave up for want of an answer (Order.refused), before or after
// src's end, owes the order src's cancel if the venue takes it late
// (replacerEnded). Disconnected unregisters the sink
// first: an event of the source's orders in between (a fill) would find
// no sink and be lost to the client, even if it registers again at once.
func (m *Manager) SessionEnded(src Source) int {
	n := m.cancelAll(m.risk.Disconnect(src.key()), src)
	// After cancelAll: a replace of src's in flight when risk listed
	// the orders and given up since is kept by then.
	m.mu.Lock()
	m.replacerEnded(src)
	m.unlock()
	return n
}

// replacerEnded marks, when src's session has ended, the replaces from
// src that orders keep refused (Order.refused, change.fromEnded): with
// cancel_on_disconnect, the venue's late taking of one (replacedLate)
// makes the order src's, a session gone, and owes it src's cancel. It
// forgets src's entry in keptFrom either way. mu held.
func (m *Manager) replacerEnded(src Source) {
	kept := m.keptFrom[src]
	delete(m.keptFrom, src)
	if !m.risk.CancelOnDisconnect() {
		return
	}
	for o := range kept {
		for _, c := range o.refused {
			if c.from == src {
				c.fromEnded = true
			}
		}
	}
}

// cancelAll cancels open orders, reporting how many cancels went out. An
// order with a cancel or replace in flight (the gateway keeps one per
// order) is owed its cancel instead, sent once that request ends
// (payOwed). Any goroutine; not under mu.
func (m *Manager) cancelAll(open []risk.OpenOrder, src Source) int {
	n := 0
	for _, oo := range open {
		if m.cancelOrOwe(oo, src) {
			n++
		}
	}
	return n
}

// cancelOrOwe cancels one open order for cancelAll, or owes it the cancel
// while a request of it is in flight, under one hold of mu: the request's
// answer, which pays what is owed, cannot come in between. An order
// listed for the session its pending replace came from
// (risk.OpenOrder.IfReplacedBy) is cancelled only once it is that
// session's (the venue took the replace: then owed as to src's own
// order, whatever a later request's answer), and not at all if the venue
// refused it: it is still its own session's. It reports whether a cancel
// went out.
func (m *Manager) cancelOrOwe(oo risk.OpenOrder, src Source) bool {
	m.mu.Lock()
	defer m.unlock()
	ifOwner := oo.IfReplacedBy != ""
	o := m.orders[key(oo.Account, oo.ClOrdID)]
	if ifOwner && o != nil && m.ownedBy(o, src) {
		// The venue took the replace since risk listed the order: it is
		// src's, owed the cancel whatever a later request's answer.
		ifOwner = false
	}
	if o != nil && o.pending != nil && o.pending.kind == recReplace && o.pending.from == src {
		// Given up for want of an answer, and taken late, it makes the
		// order src's (replacerEnded).
		o.pending.fromEnded = true
	}
	if o != nil && o.pending != nil && !o.Status.Terminal() {
		o.owe(src, ifOwner)
		m.log.Info("orders: a cancel is owed once the request in flight is answered", "account", o.Account, "clOrdID", o.ClOrdID,
			"request", o.pending.clOrdID, "source", src, "ifReplaced", ifOwner)
		return false
	}
	if ifOwner && o != nil {
		return false // not src's (above), and no request in flight: the replace was refused
	}
	_, err := m.cancel(CancelRequest{OrigClOrdID: oo.ClOrdID, Account: oo.Account, Source: src})
	m.count(src, false, err)
	if err != nil {
		var rej *risk.Reject
		if !errors.As(err, &rej) {
			m.log.Warn("orders: cancel failed", "clOrdID", oo.ClOrdID, "err", err)
		}
		return false
	}
	return true
}

// ownedBy reports whether o belongs (cancel-on-disconnect) to src's
// session, as risk has it. mu held.
func (m *Manager) ownedBy(o *Order, src Source) bool {
	session, err := m.risk.SessionOf(o.resv)
	return err == nil && session == src.key()
}

// payOwed sends the cancel o is owed (cancelOrOwe) once its request in
// flight has ended and its record is journaled: the cancel's record comes
// after it, as a replay needs. An order that ended owes nothing, nor one
// owed only if the replace in flight was taken (owedCancel.ifOwner) that
// is not the session's. Live only: a restart owes the cancel again
// (cancelOwed). mu held.
func (m *Manager) payOwed(o *Order) {
	if o == nil || o.owed == nil || o.pending != nil {
		return
	}
	w := o.owed
	o.owed = nil
	if o.Status.Terminal() {
		return
	}
	src := w.always
	for i := 0; src == nil && i < len(w.ifOwner); i++ {
		if m.ownedBy(o, w.ifOwner[i]) {
			src = &w.ifOwner[i]
		}
	}
	if src == nil {
		m.log.Info("orders: no cancel owed: the replace of the session that ended was not taken", "account", o.Account, "clOrdID", o.ClOrdID)
		return
	}
	_, err := m.cancel(CancelRequest{OrigClOrdID: o.ClOrdID, Account: o.Account, Source: *src})
	m.count(*src, false, err)
	if err != nil {
		m.log.Warn("orders: the cancel owed after a request in flight failed", "account", o.Account, "clOrdID", o.ClOrdID, "err", err)
	}
}

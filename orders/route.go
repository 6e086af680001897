package orders

import (
	"errors"
	"fmt"
	"time"

	"sgw/fix"
)

// route is the manager's side of one upstream session: the one queue of
// requests held while the session is down, and the requests handed to
// the session whose answer is awaited. The Manager's mu guards it.
//
// A request enters the route once its journal record is durable (submit).
// While the session is logged on and nothing is held, it is handed to the
// Upstream at once; otherwise it joins held, in journal order. held is
// bounded in count (Config.HoldQueue, checked when a new order arrives)
// and in time: Run ends a request held longer than Config.HoldTimeout
// (expire), so every request reaches the session or a definite end. On
// logon the held requests go out in order; on logout the Upstream gives
// back what it had queued but not yet handed to quickfix (reclaimed), and
// those go back to the front of held. A request handed to quickfix is
// never taken back: FIX resend recovery delivers it. Held times do not
// grow along held (a request given back at a drop, held from then, goes
// before one held earlier while the session's queue was full), so
// expire looks through all of it, once the oldest (heldOldest) is due.
type route struct {
	name      string
	up        Upstream
	loggedOn  bool
	downSince time.Time // when the session went down; zero while logged on
	held      []held
	// heldOldest is no later than the since of every held request
	// (hold): expire looks through held only once it is past the hold
	// time, and sets it anew.
	heldOldest time.Time
	// awaiting holds the requests handed to the session whose answer has
	// not come. Run asks for the order's status after Config.AckTimeout
	// without one, and gives up a status request after
	// Config.StatusTimeout, once the venue has had the request to answer
	// (see awaits).
	awaiting awaits
	// noStatus is set once the upstream refused an OrderStatusRequest:
	// no more are sent to it.
	noStatus bool
	// recovery lists the orders still open after Recover, resolved at the
	// session's first logon (recoverRoute).
	recovery  []*Order
	recovered bool
	// checks lists the open orders the venue has whose status the
	// recovery, or a trading day's end (Manager.dayEnd), asks for as a
	// second check, not yet asked: they go behind the live requests
	// (sendChecks). checking is set while sendChecks runs.
	checks   []*Order
	checking bool
	// dayChecked is the trading day (yyyymmdd) whose end the route's
	// orders were last checked for (Manager.dayEnd).
	dayChecked int32
}

// held is a request waiting for the session.
type held struct {
	req any // fix.NewOrder, CancelRequest, ReplaceRequest or StatusRequest
	// since is when the request was first held: one the session gives
	// back at a drop (reclaimed) keeps it, so its hold stays bounded by
	// Config.HoldTimeout however often the session flaps.
	since time.Time
}

func newRoute(name string, up Upstream, now time.Time) *route {
	return &route{name: name, up: up, downSince: now, awaiting: newAwaits()}
}

// hold records that a request held since since joined held (keeps
// heldOldest). Call it with every request added to held.
func (rt *route) hold(since time.Time) {
	if rt.heldOldest.IsZero() || since.Before(rt.heldOldest) {
		rt.heldOldest = since
	}
}

// admit refuses a new order for a session that has been down longer than
// the hold time, or whose hold queue is full.
func (rt *route) admit(now time.Time, maxHeld int, holdTimeout time.Duration) error {
	if rt.loggedOn {
		return nil
	}
	if down := now.Sub(rt.downSince); down > holdTimeout {
		return &Reject{Code: CodeUpstreamDown, FIXReason: fixOther,
			Text: fmt.Sprintf("upstream %s has been unavailable for %s; try again later", rt.name, down.Round(time.Second))}
	}
	if len(rt.held) >= maxHeld {
		return &Reject{Code: CodeUpstreamDown, FIXReason: fixOther,
			Text: fmt.Sprintf("upstream %s is reconnecting and %d requests are already waiting; try again later", rt.name, len(rt.held))}
	}
	return nil
}

// reqID returns a request's upstream id (its ClOrdID) and kind: recNew,
// recCancel, recReplace, or 'H' for a status request.
func reqID(req any) (uid string, kind byte) {
	uid, mt := fix.RequestID(req)
	switch mt {
	case 'D':
		return uid, recNew
	case 'F':
		return uid, recCancel
	case 'G':
		return uid, recReplace
	}
	return uid, mt
}

// newOrderReq is the NewOrderSingle of an order.
func newOrderReq(o *Order, possResend bool) fix.NewOrder {
	return fix.NewOrder{ClOrdID: o.UpstreamID, Account: o.Account, Symbol: o.Symbol, Side: fixSide(o), Price: o.Price,
		Qty: o.Qty, TransactTime: o.Created, PossResend: possResend}
}

// changeReq is the OrderCancelRequest or OrderCancelReplaceRequest of an
// order's pending change.
func changeReq(o *Order, c *change) any {
	if c.kind == recCancel {
		return fix.CancelRequest{ClOrdID: c.uid, OrigClOrdID: o.UpstreamID, Account: o.Account, Symbol: o.Symbol,
			Side: fixSide(o), Qty: o.Qty}
	}
	return fix.ReplaceRequest{ClOrdID: c.uid, OrigClOrdID: o.UpstreamID, Account: o.Account, Symbol: o.Symbol,
		Side: fixSide(o), Price: c.price, Qty: c.qty}
}

// statusReq is the OrderStatusRequest of an order.
func statusReq(o *Order) fix.StatusRequest {
	return fix.StatusRequest{ClOrdID: o.UpstreamID, Symbol: o.Symbol, Side: fixSide(o)}
}

func fixSide(o *Order) fix.Side {
	if o.Side == 2 { // risk.Sell
		return fix.Sell
	}
	return fix.Buy
}

// submit hands req to the route's session, or holds it. mu held.
func (m *Manager) submit(rt *route, req any, now time.Time) {
	if rt.loggedOn && len(rt.held) == 0 && m.send(rt, req, now, time.Time{}) {
		return
	}
	rt.held = append(rt.held, held{req: req, since: now})
	rt.hold(now)
	m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
}

// send hands req to the session and reports whether it was taken
// (heldSince is when it was first held, zero if never); a
// request the session refuses as invalid is ended, and a cancel or
// replace whose order no longer has it pending (overtaken while it was
// held) is dropped. mu held.
func (m *Manager) send(rt *route, req any, now, heldSince time.Time) bool {
	uid, kind := reqID(req)
	o := m.byUID[uid]
	if (kind == recCancel || kind == recReplace) && (o == nil || o.pending == nil || o.pending.uid != uid) {
		return true
	}
	if kind == recNew && (o == nil || o.UpstreamID != uid || o.Status.Terminal()) {
		return true // the order ended while its request was held (expired, rejected): never sent
	}
	err := rt.up.Send(req)
	switch {
	case err == nil:
		if o != nil {
			rt.awaiting.add(&await{o: o, kind: kind, uid: uid, since: now, heldSince: heldSince, sent: true, ticket: rt.up.Queued()})
			o.handedOver(kind, uid)
		}
		return true
	case errors.Is(err, fix.ErrNotLoggedOn), errors.Is(err, fix.ErrQueueFull):
		return false
	}
	// Invalid: the encoder refused it (a configuration or programming
	// fault). It can never be sent.
	m.log.Error("orders: the upstream refused a request as invalid", "upstream", rt.name, "err", err)
	m.endRequest(rt, req, CodeUpstreamReject, "the request could not be encoded for upstream "+rt.name+": "+err.Error())
	return true
}

// releaseHeld sends the held requests, in order, until the session
// refuses one. A new order whose trading day closed meanwhile is not sent
// (dayOver): it ends as never sent, or, sent again after a probe (it may
// have reached the venue), expires on the gateway's word. mu held.
func (m *Manager) releaseHeld(rt *route, now time.Time) {
	for len(rt.held) > 0 && rt.loggedOn {
		h := rt.held[0]
		rt.held = rt.held[1:] // taken before send, which may end requests (and so change held)
		if uid, kind := reqID(h.req); kind == recNew {
			if o := m.byUID[uid]; o != nil && o.UpstreamID == uid && !o.acked && !o.Status.Terminal() && m.dayOver(o) {
				if nr, ok := h.req.(fix.NewOrder); ok && nr.PossResend {
					m.expireOwn(rt, o, "its trading day closed before it could be sent again")
				} else {
					m.endDayOver(rt, o)
				}
				continue
			}
		}
		if !m.send(rt, h.req, now, h.since) {
			rt.held = append([]held{h}, rt.held...)
			rt.hold(h.since)
			break
		}
	}
	m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
}

// sendChecks sends the recovery's status checks (route.checks) while the
// session is logged on, no request is held and fewer than
// Config.StatusCheckWindow messages wait in the session's queue (not yet
// handed to quickfix). The checks of a large day thus
// flow at the venue's pace, each batch as the last is answered (statusDone
// calls it, and so does Run's tick), and a new order never waits behind
// all of them. mu held; a call from within one does nothing.
func (m *Manager) sendChecks(rt *route, now time.Time) {
	if rt.checking || len(rt.checks) == 0 {
		return
	}
	rt.checking = true
	defer func() { rt.checking = false }()
	before := len(rt.checks)
	for len(rt.checks) > 0 && rt.loggedOn && !rt.noStatus && len(rt.held) == 0 {
		if q, l := rt.up.Queued(), rt.up.Left(); q > l && q-l >= uint64(m.cfg.StatusCheckWindow) {
			break
		}
		o := rt.checks[0] // send cannot change checks: a call from within it does nothing
		if !o.Status.Terminal() && !m.send(rt, statusReq(o), now, time.Time{}) {
			break
		}
		rt.checks[0] = nil
		rt.checks = rt.checks[1:]
	}
	switch {
	case rt.noStatus && len(rt.checks) > 0:
		m.log.Warn("orders: the upstream refuses status requests; the other status checks are dropped",
			"upstream", rt.name, "dropped", len(rt.checks))
		dropped := rt.checks
		rt.checks = nil
		for _, o := range dropped {
			// A day's end check: its order expires unasked, as the
			// orders of an upstream known to refuse them do (dayEnd).
			if o.dayEnd && !o.Status.Terminal() {
				m.expireOwn(rt, o, "the upstream refuses status requests")
			}
		}
	case len(rt.checks) == 0 && before > 0:
		rt.checks = nil
		m.log.Info("orders: the recovery's status checks are all sent", "upstream", rt.name)
	}
	if len(rt.checks) != before {
		m.met.checks.WithLabelValues(rt.name).Set(float64(len(rt.checks)))
	}
}

// expire ends the held requests older than the hold time, wherever they
// are in held (see route), once the oldest (heldOldest) is: the others
// keep their order. A cancel the gateway made itself (the kill switch's,
// cancel-on-disconnect's, ownCancel) never expires: no client awaits
// its answer, and ending it would leave its order working at the venue
// after the session's return with nobody watching it (before, an upstream
// down longer than the hold time, at a restart or live, undid the kill
// switch and cancel_on_disconnect). mu held.
func (m *Manager) expire(rt *route, now time.Time) {
	if len(rt.held) == 0 || rt.heldOldest.IsZero() || now.Sub(rt.heldOldest) <= m.cfg.HoldTimeout {
		return
	}
	var out []held
	kept := rt.held[:0]
	rt.heldOldest = time.Time{}
	for _, h := range rt.held {
		own := m.ownCancel(h.req)
		if !own && now.Sub(h.since) > m.cfg.HoldTimeout {
			out = append(out, h)
			continue
		}
		kept = append(kept, h)
		if !own {
			rt.hold(h.since)
		}
	}
	clear(rt.held[len(kept):])
	rt.held = kept // taken before endRequest, which may drop others and hold more
	for _, h := range out {
		// A cancel or replace whose order ended before it in this pass
		// ended with the order, counted once.
		if m.endRequest(rt, h.req, CodeUpstreamDown,
			fmt.Sprintf("upstream %s was unavailable for %s; the request was not sent", rt.name, m.cfg.HoldTimeout)) {
			m.met.expired.WithLabelValues(rt.name).Inc()
		}
	}
	if len(out) > 0 {
		m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
	}
}

// ownCancel reports whether req is a cancel the gateway made itself
// (ownClOrdID) that its order still has pending. mu held.
func (m *Manager) ownCancel(req any) bool {
	uid, kind := reqID(req)
	if kind != recCancel {
		return false
	}
	o := m.byUID[uid]
	return o != nil && o.pending != nil && o.pending.uid == uid && o.pending.clOrdID == ownClOrdID(uid)
}

// endRequest ends a request the venue does not have: a new order is
// rejected, a cancel or replace refused, each journaled (recRefused) so a
// restart knows; a status request is dropped (a recovery probe then sends
// its order again, flagged PossResend). It reports false for a request
// that had already ended (with its order, or answered). mu held.
func (m *Manager) endRequest(rt *route, req any, code, text string) bool {
	uid, kind := reqID(req)
	o := m.byUID[uid]
	if o == nil {
		return false
	}
	var ev Event
	var c *change // a cancel or replace ending with its order
	switch {
	case kind == 'H' && o.dayEnd:
		// Never sent: not the venue's silence. The day's end check of
		// the order, queued or asked, decides.
		return true
	case kind == 'H':
		m.statusDone(rt, o, false)
		return true
	case kind == recNew && o.UpstreamID == uid && !o.acked && !o.Status.Terminal():
		rt.awaiting.answered(uid)
		if c = o.pending; c != nil {
			m.dropHeld(rt, c.uid)
		}
		ev = m.endNew(o, code, text)
	case (kind == recCancel || kind == recReplace) && o.pending != nil && o.pending.uid == uid:
		rt.awaiting.answered(uid)
		ev = m.endChange(o, code, text)
	default:
		return false
	}
	m.log.Warn("orders: request ended without reaching the venue", "upstream", rt.name, "account", o.Account,
		"ref", ev.Ref, "code", code, "text", text)
	if err := m.journal(recRefused, &refusedRec{Account: o.Account, UID: uid, Code: code, Text: text}, o, ev, nil); err != nil {
		m.emit(o, ev)
	}
	if c != nil {
		// A cancel or replace of it never leaves either: it ends with the
		// order, told after it (journaled behind it, the client hears
		// both in that order; a replay finds nothing left pending).
		text = "the order it names never reached the venue: " + text
		ev := Event{Kind: EventCancelReject, Order: *o, Ref: c.clOrdID, Request: c.msgType(), Requester: c.from, Code: code, Text: text}
		if err := m.journal(recRefused, &refusedRec{Account: o.Account, UID: c.uid, Code: code, Text: text}, o, ev, nil); err != nil {
			m.emit(o, ev)
		}
	}
	m.payOwed(o)
	return true
}

// dropHeld removes the held request with upstream id uid, if any. mu
// held.
func (m *Manager) dropHeld(rt *route, uid string) {
	for i, h := range rt.held {
		if id, _ := reqID(h.req); id == uid {
			rt.held = append(rt.held[:i], rt.held[i+1:]...)
			m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
			return
		}
	}
}

// answered records that the upstream answered the request uid names. mu
// held.
func (m *Manager) answered(rt *route, uid string) {
	a := rt.awaiting.answered(uid)
	if a == nil {
		return
	}
	now := m.cfg.Clock()
	rt.awaiting.heardFrom(a, now)
	if a.sent && !a.asked && a.kind == recNew {
		m.met.ackLatency.WithLabelValues(rt.name).Observe(now.Sub(a.since).Seconds())
	}
	m.signal()
}

// OnSessionUp implements fix.Handler: after a restart, the orders left
// open are resolved first (recoverRoute); then the held requests go out
// in order.
func (m *Manager) OnSessionUp(upstream, line string) {
	m.mu.Lock()
	defer m.unlock()
	rt := m.routes[upstream]
	if rt == nil {
		return
	}
	now := m.cfg.Clock()
	rt.loggedOn, rt.downSince = true, time.Time{}
	rt.awaiting.logon(now) // the answers could not come while the session was down
	if !rt.recovered {
		m.recoverRoute(rt, now)
	}
	n := len(rt.held)
	m.releaseHeld(rt, now)
	m.sendChecks(rt, now)
	m.signal()
	m.log.Info("orders: upstream logged on", "upstream", upstream, "line", line, "released", n-len(rt.held))
}

// OnSessionDown implements fix.Handler: what the session had not yet
// handed to quickfix comes back and is held again, first, from when it
// was first held (held.since).
func (m *Manager) OnSessionDown(upstream, line string, err error, reclaimed []any) {
	m.mu.Lock()
	defer m.unlock()
	rt := m.routes[upstream]
	if rt == nil {
		return
	}
	now := m.cfg.Clock()
	rt.loggedOn, rt.downSince = false, now
	rt.awaiting.logoff(now)
	if len(reclaimed) > 0 {
		back := make([]held, 0, len(reclaimed)+len(rt.held))
		var dayChecks []*Order
		for _, req := range reclaimed {
			uid, kind := reqID(req)
			var a *await
			if kind == 'H' {
				if o := m.byUID[uid]; o != nil {
					a = rt.awaiting.statusAnswered(o)
					o.reclaimedStatus()
					if o.dayEnd {
						// A day's end check goes back to the checks, asked
						// at the next logon: held, it would expire with the
						// hold time, and its order with it, unasked.
						dayChecks = append(dayChecks, o)
						continue
					}
				}
			} else {
				a = rt.awaiting.answered(uid)
			}
			// Held again from when it was first held: a session that
			// logs on and drops before handing it over must not hold it
			// afresh at every drop.
			since := now
			if a != nil && !a.heldSince.IsZero() {
				since = a.heldSince
			}
			back = append(back, held{req: req, since: since})
		}
		rt.held = append(back, rt.held...)
		for _, h := range back {
			rt.hold(h.since)
		}
		m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
		if len(dayChecks) > 0 {
			rt.checks = append(dayChecks, rt.checks...)
			m.met.checks.WithLabelValues(rt.name).Set(float64(len(rt.checks)))
		}
	}
	m.signal()
	m.log.Warn("orders: upstream session down", "upstream", upstream, "line", line, "err", err,
		"held", len(rt.held), "awaiting", rt.awaiting.len())
}

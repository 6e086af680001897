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
// never taken back: FIX resend recovery delivers it.
type route struct {
	name      string
	up        Upstream
	loggedOn  bool
	downSince time.Time // when the session went down; zero while logged on
	held      []held
	// awaiting holds the requests handed to the session whose answer has
	// not come, by upstream id. Run asks for the order's status after
	// Config.AckTimeout without one.
	awaiting map[string]*await
	// status holds the orders whose status was requested and not yet
	// answered, with when the request was handed over.
	status map[*Order]time.Time
	// noStatus is set once the upstream refused an OrderStatusRequest:
	// no more are sent to it.
	noStatus bool
	// recovery lists the orders still open after Recover, resolved at the
	// session's first logon (recoverRoute).
	recovery  []*Order
	recovered bool
}

// held is a request waiting for the session.
type held struct {
	req   any // fix.NewOrder, CancelRequest, ReplaceRequest or StatusRequest
	since time.Time
}

// await is a request handed to the session, waiting for its answer.
type await struct {
	o     *Order
	kind  byte // recNew, recCancel or recReplace
	since time.Time
	// asked is set once the order's status was requested for it.
	asked bool
}

func newRoute(name string, up Upstream, now time.Time) *route {
	return &route{name: name, up: up, downSince: now, awaiting: map[string]*await{}, status: map[*Order]time.Time{}}
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

// reqID returns a request's upstream id (its ClOrdID) and kind.
func reqID(req any) (uid string, kind byte) {
	switch r := req.(type) {
	case fix.NewOrder:
		return r.ClOrdID, recNew
	case fix.CancelRequest:
		return r.ClOrdID, recCancel
	case fix.ReplaceRequest:
		return r.ClOrdID, recReplace
	case fix.StatusRequest:
		return r.ClOrdID, 'H'
	}
	return "", 0
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
	if rt.loggedOn && len(rt.held) == 0 && m.send(rt, req, now) {
		return
	}
	rt.held = append(rt.held, held{req: req, since: now})
	m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
}

// send hands req to the session and reports whether it was taken; a
// request the session refuses as invalid is ended. mu held.
func (m *Manager) send(rt *route, req any, now time.Time) bool {
	err := rt.up.Send(req)
	switch {
	case err == nil:
		uid, kind := reqID(req)
		if o := m.byUID[uid]; o != nil {
			if kind == 'H' {
				rt.status[o] = now
			} else {
				rt.awaiting[uid] = &await{o: o, kind: kind, since: now}
			}
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

// releaseHeld sends the held requests, in order, until the session refuses
// one. mu held.
func (m *Manager) releaseHeld(rt *route, now time.Time) {
	i := 0
	for ; i < len(rt.held) && rt.loggedOn; i++ {
		if !m.send(rt, rt.held[i].req, now) {
			break
		}
	}
	rt.held = append(rt.held[:0], rt.held[i:]...)
	m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
}

// expire ends the held requests older than the hold time. mu held.
func (m *Manager) expire(rt *route, now time.Time) {
	i := 0
	for ; i < len(rt.held) && now.Sub(rt.held[i].since) > m.cfg.HoldTimeout; i++ {
		m.met.expired.WithLabelValues(rt.name).Inc()
		m.endRequest(rt, rt.held[i].req, CodeUpstreamDown,
			fmt.Sprintf("upstream %s was unavailable for %s; the request was not sent", rt.name, m.cfg.HoldTimeout))
	}
	if i > 0 {
		rt.held = append(rt.held[:0], rt.held[i:]...)
		m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
	}
}

// endRequest ends a request the venue does not have: a new order is
// rejected, a cancel or replace refused, each journaled (recRefused) so a
// restart knows; a status request is dropped (a recovery probe then sends
// its order again, flagged PossResend). mu held.
func (m *Manager) endRequest(rt *route, req any, code, text string) {
	uid, kind := reqID(req)
	o := m.byUID[uid]
	if o == nil {
		return
	}
	var ev Event
	switch {
	case kind == 'H':
		m.statusDone(rt, o, false)
		return
	case kind == recNew && o.UpstreamID == uid && !o.acked && !o.Status.Terminal():
		delete(rt.awaiting, uid)
		ev = m.endNew(o, code, text)
	case (kind == recCancel || kind == recReplace) && o.pending != nil && o.pending.uid == uid:
		delete(rt.awaiting, uid)
		ev = m.endChange(o, code, text)
	default:
		return
	}
	m.log.Warn("orders: request ended without reaching the venue", "upstream", rt.name, "account", o.Account,
		"ref", ev.Ref, "code", code, "text", text)
	if err := m.journal(recRefused, refusedRec{Account: o.Account, UID: uid, Code: code, Text: text}, o, ev, nil, nil); err != nil {
		m.emit(o, ev)
	}
}

// answered records that the upstream answered the request uid names. mu
// held.
func (m *Manager) answered(rt *route, uid string) {
	if _, ok := rt.awaiting[uid]; ok {
		delete(rt.awaiting, uid)
		m.signal()
	}
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
	if !rt.recovered {
		m.recoverRoute(rt, now)
	}
	for _, a := range rt.awaiting {
		a.since = now // the answers could not come while the session was down
	}
	for o := range rt.status {
		rt.status[o] = now
	}
	n := len(rt.held)
	m.releaseHeld(rt, now)
	m.signal()
	m.log.Info("orders: upstream logged on", "upstream", upstream, "line", line, "released", n-len(rt.held))
}

// OnSessionDown implements fix.Handler: what the session had not yet
// handed to quickfix comes back and is held again, first.
func (m *Manager) OnSessionDown(upstream, line string, err error, reclaimed []any) {
	m.mu.Lock()
	defer m.unlock()
	rt := m.routes[upstream]
	if rt == nil {
		return
	}
	now := m.cfg.Clock()
	rt.loggedOn, rt.downSince = false, now
	if len(reclaimed) > 0 {
		back := make([]held, 0, len(reclaimed)+len(rt.held))
		for _, req := range reclaimed {
			uid, kind := reqID(req)
			if kind == 'H' {
				delete(rt.status, m.byUID[uid])
			} else {
				delete(rt.awaiting, uid)
			}
			back = append(back, held{req: req, since: now})
		}
		rt.held = append(back, rt.held...)
		m.met.held.WithLabelValues(rt.name).Set(float64(len(rt.held)))
	}
	m.signal()
	m.log.Warn("orders: upstream session down", "upstream", upstream, "line", line, "err", err,
		"held", len(rt.held), "awaiting", len(rt.awaiting))
}

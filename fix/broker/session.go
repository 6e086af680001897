package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/orders"
)

// session is one configured broker session. Its fields are immutable
// after New except loggedOn, restated, dropped, queued, resent,
// withheld, holding and held.
type session struct {
	a     *Acceptor
	spec  *sessionSpec
	id    quickfix.SessionID
	src   orders.Source
	fix42 bool
	sink  sink

	loggedOn atomic.Bool
	// restated is set by the first logon's restatement (restate.go); only
	// the session's goroutine reads or writes it.
	restated bool
	// dropped is set when the pacer refused a message for the session
	// (its queue full): the next logon restates again (Config.Restate).
	dropped atomic.Bool
	// queued holds the ExecIDs ("<upstream>:<ExecID>") of the trades
	// (and trade cancels and corrections) queued for the broker and not
	// yet handed to quickfix (which stores each message it sends), which
	// a restatement does not resend: at most
	// the queue's size. resent holds those a restatement resent whose
	// sink report may still come: the manager applies a trade (and a
	// restatement reads it) before its journal record is durable, and
	// hands the sink its event only then; that report goes flagged
	// PossResend too, and leaves the set (at most the trades resent in
	// the run). Both nil without Config.Restate. Queueing a trade's report
	// and recording it are one step under qmu (sinkTrade, resendTrade);
	// ToApp removes from queued.
	qmu    sync.Mutex
	queued map[string]struct{}
	resent map[string]struct{}
	// withheld holds the trades ("<upstream>:<ExecID>") a restatement
	// did not resend because the upstream had canceled them and the
	// cancel could not follow the resend (its report stored or queued
	// already, or without ExecID), whose report the broker may never
	// have had (neither stored nor queued): a later correction brings
	// such a trade back, and goes after the trade itself
	// (sink.OrderEvent). A trade leaves the set once its
	// report is queued; at most the trades canceled in the run. Nil
	// without Config.Restate; under qmu.
	withheld map[string]struct{}

	// emu makes each order event the sink reports, and the start of a
	// restatement's hold, one step: an event is reported whole before the
	// restatement reads the orders, or held. holding is set while a
	// restatement reads the orders and queues its messages (hold,
	// release); the sink's events meanwhile wait in held, in the order
	// they came, and are reported after the restatement's messages. A
	// restatement works from a copy of the orders: an event reported
	// meanwhile would reach the broker ahead of messages that show the
	// order as it was before it (a correction of a trade the restatement
	// then withholds, a status older than the correction). held is at
	// most the events of one restatement's run. Lock order: emu, then qmu,
	// then the order manager's lock.
	emu     sync.Mutex
	holding bool
	held    []orders.Event
}

func newSession(a *Acceptor, sp *sessionSpec) *session {
	s := &session{a: a, spec: sp, id: sp.id,
		src:   orders.Source{Kind: "fix", Session: sp.id.TargetCompID},
		fix42: sp.id.BeginString == quickfix.BeginStringFIX42}
	s.sink = sink{s}
	if a.cfg.Restate {
		s.restating()
	}
	return s
}

// restating makes the session record the trades queued for the broker,
// for the restatements (Config.Restate). Called by newSession, or by a
// test before the sink gets events.
func (s *session) restating() {
	s.qmu.Lock()
	s.queued, s.resent, s.withheld = map[string]struct{}{}, map[string]struct{}{}, map[string]struct{}{}
	s.qmu.Unlock()
}

// sinkTrade queues the sink's report of a trade of the upstream's, or of
// a trade cancel or correction (ExecID r.execID), and records it queued,
// flagged PossResend if a restatement resent it already. Any goroutine;
// it never blocks (qmu is held around a queueing that does not).
func (s *session) sinkTrade(r *execReport) {
	if s.queued == nil {
		s.sendReport(r)
		return
	}
	m := r.message(s.fix42, time.Now())
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if _, ok := s.resent[r.execID]; ok {
		delete(s.resent, r.execID)
		m.Header.SetBool(tag.PossResend, true)
	}
	if s.send(m) {
		s.queued[r.execID] = struct{}{}
		if r.execType == 'F' {
			delete(s.withheld, r.execID)
		}
	}
}

// resendTrade queues r, a restatement's resend of a trade (flagged
// PossResend), unless the trade's report is queued already, and records
// it queued and resent; it reports whether it resent it (a resend the
// full queue dropped counts: the next logon restates again). Only with
// Config.Restate. Any goroutine; it never blocks.
func (s *session) resendTrade(r *execReport) bool {
	r.possResend = true
	m := r.message(s.fix42, time.Now())
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if _, ok := s.queued[r.execID]; ok {
		return false
	}
	s.resent[r.execID] = struct{}{}
	if s.send(m) {
		s.queued[r.execID] = struct{}{}
		if r.execType == 'F' {
			delete(s.withheld, r.execID)
		}
	}
	return true
}

// withhold records that a restatement did not resend the canceled trade
// id, whose report the broker may never have had and whose cancel could
// not follow a resend, unless that report is queued (see withheld). Only with Config.Restate. Any goroutine.
func (s *session) withhold(id string) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if _, ok := s.queued[id]; !ok {
		s.withheld[id] = struct{}{}
	}
}

// untold reports whether the trade id is one a restatement withheld and
// whose report has not been queued since (see withheld). Any goroutine.
func (s *session) untold(id string) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	_, ok := s.withheld[id]
	return ok
}

// superseded reports whether a restatement resent a later cancel or
// correction of the trade that the upstream's execution execID canceled
// or corrected (o as that left it) than execID, whose live report has
// not come yet: the broker has the trade as that later one left it, and
// the report of execID, older (applied before the restatement, its event
// dispatched after), would undo it; it is not sent. The manager delivers
// events in the order it applied them, so a later amendment still noted
// resent (its own report to come, flagged) was applied after execID.
// Only with Config.Restate. Dispatcher goroutine (OrderEvent).
func (s *session) superseded(o *orders.Order, execID string) bool {
	if s.queued == nil {
		return false
	}
	_, k := o.Amendment(execID)
	cur, ok := s.a.entry.Get(o.Account, o.ClOrdID)
	ts := cur.Trades()
	if k < 0 || !ok || cur.OrigClOrdID != o.OrigClOrdID || !cur.Created.Equal(o.Created) || k >= len(ts) {
		return false
	}
	later := ts[k].Amended
	if later == execID {
		return false
	}
	s.qmu.Lock()
	defer s.qmu.Unlock()
	_, ok = s.resent[orders.TradeID(o.Upstream, later)]
	return ok
}

// isQueued reports whether the report execID is queued for the broker
// and not yet handed to quickfix (see queued). Any goroutine.
func (s *session) isQueued(execID string) bool {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	_, ok := s.queued[execID]
	return ok
}

// noteSending records that the report execID is being handed to quickfix,
// which stores it (see queued). Any goroutine.
func (s *session) noteSending(execID []byte) {
	s.qmu.Lock()
	if s.queued != nil {
		delete(s.queued, string(execID))
	}
	s.qmu.Unlock()
}

// send queues m for the session through the pacer and reports whether it
// did. Any goroutine; it never blocks. A report that cannot be queued (the
// queue is full: the broker has been away for a long time) is dropped and
// logged; the broker learns the order's state with OrderStatusRequest.
func (s *session) send(m *quickfix.Message) bool {
	var err error
	if s.a.sendHook != nil {
		err = s.a.sendHook(s, m)
	} else {
		err = s.a.pacer.Send(s.id, m)
	}
	if err != nil {
		s.dropped.Store(true)
		s.a.log.Warn("broker: report dropped", "broker", s.id.TargetCompID, "err", err)
		return false
	}
	return true
}

// sendReport queues an ExecutionReport and reports whether it did.
func (s *session) sendReport(r *execReport) bool {
	return s.send(r.message(s.fix42, time.Now()))
}

// account returns the account a request is for: the one it names, which
// the session must be allowed to trade, or, when it names none, the
// session's account that has an order clOrdID (or its only account). ok
// is false when the account is not allowed or cannot be told.
//
// Several accounts may have an order clOrdID: the session's own order
// that still holds it (holds) is the one (the session's ClOrdIDs are
// unique across its accounts: session.reused), else the first found.
// Before, the first found, in the order the accounts are configured,
// answered: an order of an earlier day with the ClOrdID (a broker
// numbering its orders anew each day), or a WebSocket client's, whose
// status went to the broker as its order's, or which its cancel canceled
// (TestAccountOfARequestNamingNone).
func (s *session) account(named, clOrdID string) (string, bool) {
	if named != "" {
		return named, s.spec.accounts[named]
	}
	if len(s.spec.cfg.Accounts) == 1 {
		return s.spec.cfg.Accounts[0], true
	}
	if clOrdID == "" {
		return "", false
	}
	found, today := "", s.a.entry.RequestDay()
	for _, acct := range s.spec.cfg.Accounts {
		if o, ok := s.a.entry.Get(acct, clOrdID); ok {
			if s.holds(&o, today) {
				return acct, true
			}
			if found == "" {
				found = acct
			}
		}
	}
	return found, found != ""
}

// hold makes the sink hold the session's events until release: a
// restatement begins. Session's goroutine (restate).
func (s *session) hold() {
	s.emu.Lock()
	s.holding = true
	s.emu.Unlock()
}

// release reports the events the sink held since hold, in the order they
// came, behind the restatement's messages, and ends the hold. Session's
// goroutine (restate).
func (s *session) release() {
	s.emu.Lock()
	defer s.emu.Unlock()
	for i := range s.held {
		s.sink.report(s.held[i])
	}
	s.held, s.holding = nil, false
}

// sink delivers the order events of a session's orders to the broker.
// OrderEvent runs on the order manager's dispatcher goroutine and only
// queues, or, while a restatement runs, holds the event for it (see
// session.holding).
type sink struct{ s *session }

var _ orders.Sink = sink{}

// OrderEvent implements orders.Sink:
//   - the gateway's acceptance of a new order is a Pending New (A), of a
//     broker's cancel a Pending Cancel (6), of its replace a Pending
//     Replace (E); the acceptor's own ExecIDs;
//   - the upstream's executions (0 new, F trade, 4 canceled, 5 replaced,
//     8 rejected, C expired, I status) are forwarded with ExecID
//     "<upstream>:<upstream's ExecID>"; a trade cancel or correction
//     also with ExecRefID (19) naming the trade so (by the trade's own
//     ExecID, when the order has the trade), as ExecType H (the
//     trade canceled) or G (corrected, with LastQty and LastPx as
//     corrected) by what it did to the trade (orders.Order.Amendment),
//     whichever the upstream's FIX version (a FIX 4.2 upstream's is a
//     restatement, D, with ExecTransType 1 or 2); a FIX 4.2 broker gets a
//     restatement (report.go);
//   - an upstream's refusal of a cancel or replace is an OrderCancelReject.
//
// Cancels the broker did not send (ev.Requester another source or none:
// the kill switch, cancel-on-disconnect, a WebSocket client trading the
// same account) get no pending report and no OrderCancelReject: the
// broker never heard of their ClOrdIDs. Their executions (the Canceled,
// a fill under the cancel's id) are reported unsolicited, under the
// order's own ClOrdID without OrigClOrdID, as FIX reports a cancel the
// broker did not request; a refused one changes nothing the broker knows.
func (k sink) OrderEvent(ev orders.Event) {
	s := k.s
	s.emu.Lock()
	defer s.emu.Unlock()
	if s.holding {
		s.held = append(s.held, ev)
		return
	}
	k.report(ev)
}

// report queues the report of ev (OrderEvent). emu held.
func (k sink) report(ev orders.Event) {
	s, a := k.s, k.s.a
	o := &ev.Order
	// theirs: the event answers a cancel or replace the broker did not send.
	theirs := ev.Request != 0 && ev.Requester != s.src
	switch ev.Kind {
	case orders.EventAccepted:
		req, recorded := a.lookup(o.Account, ev.Ref, false)
		r := orderReport(o, 'A')
		r.clOrdID, r.execID = ev.Ref, a.nextExecID()
		switch {
		case recorded:
			r.execType, r.ordStatus, r.origClOrdID = '6', '6', o.ClOrdID
			if req.kind == 'G' {
				r.execType, r.ordStatus = 'E', 'E'
			}
		case ev.Ref != o.ClOrdID || o.Status != orders.StatusPendingNew:
			return // a cancel the broker did not send
		}
		s.sendReport(&r)
	case orders.EventExec:
		if theirs && ev.ExecType != '5' {
			// Unsolicited. (Another source's replace is reported as
			// one: the order's id is that replace's from now on.)
			ev.Ref = o.ClOrdID
		}
		r := orderReport(o, ev.ExecType)
		r.clOrdID, r.text = ev.Ref, ev.Text
		r.execID = a.nextExecID()
		if ev.ExecID != "" {
			r.execID = orders.TradeID(o.Upstream, ev.ExecID)
		}
		r.execRefID = orders.TradeID(o.Upstream, ev.ExecRefID)
		// The first report under a replace the venue took after the
		// gateway gave it up names the id it replaced, a fill too.
		r.origClOrdID = ev.Replaced
		switch ev.ExecType {
		case '1', '2':
			r.execType = 'F' // a FIX 4.2 upstream's fills
		case '4':
			if theirs {
				break
			}
			if ev.Ref != o.ClOrdID {
				r.origClOrdID = o.ClOrdID
			}
			a.lookup(o.Account, ev.Ref, true)
		case '5':
			// The order's id before the replace comes from the manager
			// (above): a restarted gateway or a new leader has no record
			// of the broker's request.
			if req, ok := a.lookup(o.Account, ev.Ref, true); ok && r.origClOrdID == "" {
				r.origClOrdID = req.orig
			}
		case 'H', 'G', 'D':
			if ev.ExecRefID == "" {
				break // no trade cancel or correction
			}
			if t, k := o.Amendment(ev.ExecID); k >= 0 {
				// Named by the trade's ExecID, which the broker got the
				// trade under: the upstream may name an earlier cancel or
				// correction of it, whose report the broker may lack (a
				// restatement resends a trade's latest only).
				amendReport(&r, t)
				r.execRefID = orders.TradeID(o.Upstream, t.ExecID)
				if s.superseded(o, ev.ExecID) {
					return
				}
				if !t.Canceled && s.untold(r.execRefID) {
					// A correction brings back a canceled trade the
					// broker may never have been told of (a restatement
					// withheld it): the trade goes first, as corrected,
					// flagged PossResend; the correction names a trade
					// the broker has then.
					tr := tradeReport(o, t, r.execRefID)
					s.resendTrade(&tr)
				}
			}
			if ev.ExecID != "" {
				s.sinkTrade(&r) // a restatement may resend it
				return
			}
		}
		if r.execType == 'F' {
			r.lastQty, r.lastPx = ev.LastQty, ev.LastPx
			if ev.ExecID != "" {
				s.sinkTrade(&r)
				return
			}
		}
		s.sendReport(&r)
	case orders.EventCancelReject:
		if theirs {
			return // the order's executions tell the broker its state
		}
		req, _ := a.lookup(o.Account, ev.Ref, true)
		cr := cancelReject{orderID: o.OrderID, clOrdID: ev.Ref, origClOrdID: o.ClOrdID, ordStatus: ordStatus(o),
			replace: ev.Request == 'G' || req.kind == 'G', reason: 2, account: o.Account, text: ev.Text}
		if o.Status.Terminal() {
			cr.reason = 0 // too late to cancel
		}
		s.send(cr.message())
	}
}

package orders

import (
	"context"
	"fmt"
	"time"

	"sgw/fix"
)

// Run drives the manager's timers until ctx ends: held requests older
// than Config.HoldTimeout are ended, requests whose answer is later than
// Config.AckTimeout get a status request, and status requests unanswered
// after Config.StatusTimeout are given up. It returns nil when ctx ends.
// Call it once.
func (m *Manager) Run(ctx context.Context) error {
	tick := min(m.cfg.HoldTimeout, m.cfg.AckTimeout, m.cfg.StatusTimeout) / 4
	tick = max(10*time.Millisecond, min(tick, 250*time.Millisecond))
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			m.tick(m.cfg.Clock())
		}
	}
}

// tick runs the timers once. Tests call it with a clock of their own.
func (m *Manager) tick(now time.Time) {
	m.mu.Lock()
	defer m.unlock()
	m.noteStall()
	day, sinceClose, closes := m.risk.SinceClose()
	for _, rt := range m.routes {
		if closes && sinceClose >= m.cfg.DayEndCheck && rt.recovered && rt.dayChecked != day {
			rt.dayChecked = day
			m.dayEnd(rt, day)
		}
		m.expire(rt, now)
		if rt.loggedOn && len(rt.held) > 0 {
			m.releaseHeld(rt, now)
		}
		if !rt.loggedOn {
			continue
		}
		m.sendChecks(rt, now)
		asked, gaveUp := 0, 0
		left := rt.up.Left()
		for a := rt.awaiting.expired(now, m.cfg.AckTimeout, m.cfg.StatusTimeout, left); a != nil; a = rt.awaiting.expired(now, m.cfg.AckTimeout, m.cfg.StatusTimeout, left) {
			switch {
			case a.kind == 'H':
				// A status request unanswered: given up (a recovery probe
				// then sends its order again, flagged PossResend; a day's
				// end check expires its order).
				gaveUp++
				m.statusDone(rt, a.o, false)
			case !a.asked && !rt.noStatus:
				a.asked = true
				rt.awaiting.again(a, now)
				asked++
				m.submit(rt, statusReq(a.o), now)
				// From now on it is overdue with its status request.
				a.ticket = rt.up.Queued()
			case a.kind == recNew:
				// The venue answers neither the order nor its status: it
				// stays pending (it may be working there) and the
				// operator is alerted.
				rt.awaiting.answered(a.uid)
				gaveUp++
				m.met.unanswered.WithLabelValues(rt.name).Inc()
				m.log.Error("orders: the upstream never answered a new order; it stays pending_new",
					"upstream", rt.name, "account", a.o.Account, "clOrdID", a.o.ClOrdID, "upstreamID", a.uid)
			default:
				// A cancel or replace with no answer ends refused: the
				// order keeps the terms the venue last confirmed.
				gaveUp++
				m.met.unanswered.WithLabelValues(rt.name).Inc()
				m.endRequest(rt, changeReq(a.o, &change{kind: a.kind, uid: a.uid}), CodeUpstreamReject,
					fmt.Sprintf("upstream %s did not answer the request within %s", rt.name, 2*m.cfg.AckTimeout))
			}
		}
		if asked > 0 || gaveUp > 0 {
			m.log.Warn("orders: answers overdue from the upstream", "upstream", rt.name,
				"status_requests_sent", asked, "given_up", gaveUp, "awaiting", rt.awaiting.len())
		}
	}
}

// Drain prepares a stop: new orders and replaces are refused from now on
// (orders.stopping; cancels still pass), and Drain waits until every
// request accepted so far has been handed to its session and answered, or
// ctx ends. Requests still held for a session that stayed down stay in
// the journal and go out after the next start (see Recover). It returns
// ctx's error when it gave up, naming what was still outstanding.
func (m *Manager) Drain(ctx context.Context) error {
	m.mu.Lock()
	m.stopping = true
	m.draining.Store(true)
	m.mu.Unlock()
	for {
		m.mu.Lock()
		held, awaiting := int(m.inJournal.Load()), 0
		for _, rt := range m.routes {
			held += len(rt.held) // a session that is down may come back within ctx's time
			awaiting += rt.awaiting.len()
		}
		changed := m.changed
		m.mu.Unlock()
		if held == 0 && awaiting == 0 {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("orders: drain: %d requests not yet sent and %d unanswered: %w", held, awaiting, ctx.Err())
		}
	}
}

// newDay changes risk's trading day when its clock has passed into a
// later date, at the first request after midnight as risk's checks did
// (so that reports of the last day that come before it, such as the
// recovery's status answers at the morning's logon, still find that
// day's orders): it journals the new day (dayRec), then changes risk's,
// before the request's record, so a replay changes day at that record,
// where the live checker did. Before, a replay changed day at the first record after midnight,
// and a report applied between the two landed on the old day live and on
// the new one in replay: a restarted gateway or a standby held other
// positions than the leader. The requests (New, Cancel, Replace) call it;
// risk's checks never change the day themselves
// (risk.Checker.DaysByCaller). mu held.
func (m *Manager) newDay() {
	date, later := m.risk.DayDue()
	if !later {
		return
	}
	// Recorded first: a day record the journal refuses leaves live risk
	// on the old day too, as a replay would find it.
	if err := m.journalDay(date); err != nil {
		return
	}
	m.risk.RolloverTo(date)
	m.log.Info("orders: a new trading day", "day", date)
	if ref, stale := m.risk.RefDay(); stale {
		m.log.Error("orders: the reference data is not today's: new orders and replaces are refused (risk.not_trading) until a restart with today's (orders.risk.ref_day)",
			"ref_day", ref, "day", date)
	}
}

// journalDay journals risk's day, date (dayRec), and makes the journal's
// day records the ones a replay changes day at (dayRecs). Recover calls
// it for the day a run starts on, so that the whole run is replayed by
// its records even before its first change of day. A record the journal
// refuses at once is returned (newDay leaves the day as it is, and the
// next request tries again); a commit that fails later is made sticky as
// for any record: every later request is refused. mu held.
func (m *Manager) journalDay(date int32) error {
	if err := m.journal(recDay, &dayRec{Date: int64(date)}, nil, Event{}, nil); err != nil {
		return err
	}
	m.dayRecs = true
	return nil
}

// dayEnd asks rt's venue, once the close of trading day date is
// Config.DayEndCheck past, for the status of every order still working
// here that the venue has: acknowledged, or sent and never answered (not
// held). A-share orders are day orders: the venue
// ended each at its close, and one whose end it never reported (expired,
// done for day) would stay working here day after day, while risk expires
// it at the next day's first request (its client's cancel refused, the
// fills a later answer reveals refused by risk). The answer ends it while
// risk still holds the day: the venue's word, with the fills it reveals,
// or expired if the venue no longer knows it (applyExec). With no answer
// (the request given up, or an upstream that refuses status requests:
// sendChecks) the gateway expires it itself (expireOwn). The checks go
// behind the live requests (sendChecks); an order with a status request
// already asked and not yet answered waits for that one's answer. A
// route is checked once its first logon has resolved the recovery (a
// term that takes over in the evening is checked at its first tick after
// that), and once a day. mu held.
func (m *Manager) dayEnd(rt *route, date int32) {
	queued := make(map[*Order]bool, len(rt.checks))
	for _, o := range rt.checks {
		queued[o] = true
	}
	held := map[string]bool{} // new orders never sent: they end as such (expire, releaseHeld)
	for _, h := range rt.held {
		if uid, kind := reqID(h.req); kind == recNew {
			held[uid] = true
		}
	}
	n := 0
	for _, o := range m.list {
		if o.Upstream != rt.name || o.Status.Terminal() || !o.acked && held[o.UpstreamID] {
			continue
		}
		// A status request of it handed over and not yet answered (an
		// ack timeout's, the recovery's) is the check: its answer, or its
		// giving up, decides.
		asked := rt.awaiting.byStatus[o] != nil
		n++
		o.dayEnd = true
		if !queued[o] && !asked {
			rt.checks = append(rt.checks, o)
		}
	}
	if n == 0 {
		return
	}
	m.met.checks.WithLabelValues(rt.name).Set(float64(len(rt.checks)))
	m.log.Info("orders: the market closed with orders still working; the upstream is asked for their status",
		"upstream", rt.name, "day", date, "orders", n)
}

// expireOwn expires o, acknowledged by the venue and still working after
// its day's close, whose status the venue did not give (why): a day
// order, it no longer works there. It is journaled (recExpired) and
// counted (gateway_orders_expired_unreported_total, alerted: the
// operator reconciles it with the venue); fills the venue reports later
// still count (applyExec, risk.Checker.OnLateFill). A cancel or replace
// of it still unanswered is refused as too late. mu held.
func (m *Manager) expireOwn(rt *route, o *Order, why string) {
	m.met.expiredOwn.WithLabelValues(rt.name).Inc()
	m.log.Error("orders: an order still working after the close expires without the venue's word",
		"upstream", rt.name, "account", o.Account, "clOrdID", o.ClOrdID, "upstreamID", o.UpstreamID, "cumQty", o.CumQty, "why", why)
	text := "expired after the close without the venue's report: " + why
	c := o.pending
	ev := m.applyOwnExpiry(o, text)
	if err := m.journal(recExpired, &refusedRec{Account: o.Account, UID: o.UpstreamID, Code: CodeExpiredUnreported, Text: text}, o, ev, nil); err != nil {
		m.emit(o, ev)
	}
	if c != nil {
		m.overtaken(rt, o, c)
	}
}

// applyOwnExpiry ends o as expired on the gateway's own word, in risk too
// (a replace pending refused), and returns the event telling its
// clients. Live (expireOwn) and in replay. mu held.
func (m *Manager) applyOwnExpiry(o *Order, text string) Event {
	o.dayEnd, o.ownEnd = false, true
	o.Status, o.LeavesQty, o.Text = StatusExpired, 0, text
	o.touch(m.cfg.Clock())
	o.endDay = m.risk.DayDate()
	m.ended(o, fix.ExecReport{})
	m.signal()
	return Event{Kind: EventExec, ExecType: 'C', Order: *o, Ref: o.ClOrdID, Text: text, Code: CodeExpiredUnreported}
}

// noteStall raises or lowers gateway_orders_journal_stalled and logs the
// change when the journal's stall (journalStalled) began or ended since
// the last tick. mu held.
func (m *Manager) noteStall() {
	st := m.journalStalled()
	if st == m.stalled {
		return
	}
	m.stalled = st
	if st {
		m.met.journalStalled.Set(1)
		m.log.Error("orders: the journal has completed no record for the journal stall time (its disk is not answering); "+
			"refusing new orders and replaces until it does", "stall", m.cfg.JournalStall, "records_waiting", m.inJournal.Load())
		return
	}
	m.met.journalStalled.Set(0)
	m.log.Info("orders: the journal completes records again; taking new orders")
}

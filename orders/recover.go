package orders

import (
	"context"
	"fmt"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/risk"
)

// Recover rebuilds the orders and the risk state from the journal. Call
// it once, after AddUpstream and before any request. It returns the
// number of records replayed.
//
// The recovery rule. The journal holds every request the gateway accepted
// (journal first, then the wire), and quickfix stores every message
// before it writes it. So at the first logon of each upstream session
// after a restart (recoverRoute), each open order's outstanding request —
// its NewOrderSingle if the upstream never answered it, its cancel or
// replace in flight — is looked up in the session's store
// (Upstream.Handed):
//
//   - handed: it left, or FIX resend recovery delivers it now (the
//     upstream sees the sequence gap and asks); its answer is awaited
//     like any other;
//   - not handed: it never left (it was held, or queued in memory, when
//     the process stopped): it is sent now, for the first time;
//   - unknown (an unclean stop lost the store's tail): a new order's
//     status is asked first (a probe); if the venue does not know it, or
//     refuses or ignores the question, it is sent again flagged
//     PossResend; a cancel or replace is sent again (a duplicate is
//     refused by the venue as such, harmlessly).
//
// A new order is good for its trading day only. One the venue may not
// have whose day is over at that logon (a restart on a later day) is not
// sent, nor sent again after a probe: it ends rejected as never sent
// (orders.upstream_unavailable), journaled, with any cancel or replace of
// it (dayOver).
//
// Reports the session received but the journal lacks when the process
// stopped are asked for again: Recover tells each Upstream the last
// message from it the journal holds (ResumeInboundAfter), and the session
// asks the upstream to resend the rest (applied once: executions by
// upstream and ExecID, the rest by state). Then the status of every order
// the venue has is asked for (OrderStatusRequest, unless the upstream
// refuses them), as a second check. Nothing is refused or blocked meanwhile: the
// session processes messages in order, so every answer reflects every
// request sent before it. Those checks go behind the live requests, a
// few at a time as the venue answers them (sendChecks): after a large
// day there are as many as the orders working, and a new order must not
// wait for them all.
//
// A manager CatchUp kept warm replays only the records after those it
// applied. It returns the number of records it replayed.
func (m *Manager) Recover() (int, error) {
	n, err := m.recoverJournal()
	if err != nil {
		return n, err
	}
	m.cancelOwed()
	return n, nil
}

// recoverJournal is Recover but for the cancels owed.
func (m *Manager) recoverJournal() (int, error) {
	m.mu.Lock()
	defer m.unlock()
	n, err := m.replayJournal(context.Background())
	if err != nil {
		return n, err
	}
	// The upstream ids start afresh here, not when New ran: a warm
	// manager was made long before its term (newEpoch also starts after
	// every id the journal holds).
	m.newEpoch()
	for _, o := range m.list {
		if o.Status.Terminal() {
			continue
		}
		rt := m.routes[o.Upstream]
		if rt == nil {
			return n, fmt.Errorf("%w: order %s of account %s is open on upstream %q, which is not configured",
				ErrNoUpstream, o.ClOrdID, o.Account, o.Upstream)
		}
		rt.recovery = append(rt.recovery, o)
	}
	// The day this run starts on (the journal's last, until the first
	// request after midnight): every change of day from here on is a
	// record. Journaled once Recover can no longer fail: a term whose
	// Recover fails closes its journal and manager at once.
	_ = m.journalDay(m.risk.DayDate()) // a failure is sticky: every request is refused
	for _, rt := range m.routes {
		rt.up.ResumeInboundAfter(m.lastIn[rt.name], m.period[rt.name])
		if len(rt.recovery) > 0 {
			m.log.Info("orders: open orders to resolve at the upstream's first logon", "upstream", rt.name, "orders", len(rt.recovery))
		}
	}
	return n, nil
}

// cancelOwed cancels, once the journal is replayed, the working orders
// an earlier run owed cancels for and may have died (or, in a cluster,
// lost its term) before sending:
//   - with kill_cancels_resting, those of a killed account: the switch is
//     journaled first, and its cancels go out after;
//   - with cancel_on_disconnect, those of every client session not
//     connected: no connection outlives a restart or a change of leader,
//     so each of those sessions ended, perhaps in a run that never
//     cancelled (one that crashed, or a term that had ended, with no
//     manager to hear the disconnection); and those whose pending
//     replace came from such a session, cancelled only if the venue takes
//     the replace (risk.OpenOrder.IfReplacedBy), or that keep refused a
//     replace from one, cancelled if the venue takes it late
//     (replacerEnded).
//
// Each cancel goes as its cause would have sent it (the kill switch's, or
// the session's own cancel-on-disconnect) and is held until its session
// logs on; one of an order with a request in flight is owed until its
// answer (cancelOrOwe). It returns how many went out.
func (m *Manager) cancelOwed() int {
	m.mu.Lock()
	connected := make(map[string]bool, len(m.sinks))
	for src := range m.sinks {
		connected[src.key()] = true
	}
	for src := range m.keptFrom {
		if !connected[src.key()] {
			m.replacerEnded(src) // as its session's end would
		}
	}
	m.unlock()
	owed := m.risk.Owed(func(session string) bool { return connected[session] })
	n := 0
	for _, oo := range owed {
		src := Source{Kind: "admin", Session: "kill"}
		switch {
		case oo.IfReplacedBy != "":
			// Owed only if the replace is taken, as the disconnection
			// of the session it came from would.
			src = sourceOf(oo.IfReplacedBy)
		case !m.risk.Killed(oo.Account):
			src = sourceOf(oo.Session) // as its session's disconnection would
		}
		n += m.cancelAll([]risk.OpenOrder{oo}, src)
	}
	if n > 0 {
		m.log.Warn("orders: sent the cancels an earlier run owed (kill_cancels_resting, cancel_on_disconnect)", "cancels", n)
	}
	return n
}

// decodeRecord decodes the body of journal record r into the record it
// holds (newRec, changeRec, execRec, cancelRejectRec, refusedRec,
// periodRec, dayRec or killRec). It
// reads nothing of the Manager: replayJournal runs it on several
// goroutines at once.
func decodeRecord(r journal.Record) (any, error) {
	var v bodyRecord
	switch r.Type {
	case recNew:
		v = new(newRec)
	case recCancel, recReplace:
		v = new(changeRec)
	case recExec:
		v = new(execRec)
	case recCancelReject:
		v = new(cancelRejectRec)
	case recRefused, recExpired:
		v = new(refusedRec)
	case recPeriod:
		v = new(periodRec)
	case recDay:
		v = new(dayRec)
	case recKill:
		v = new(killRec)
	default:
		return nil, fmt.Errorf("unknown record type %q", r.Type)
	}
	if err := decodeBody(r.Body, v); err != nil {
		return nil, err
	}
	return v, nil
}

// replay applies one journal record of type typ, decoded by decodeRecord.
// mu held.
func (m *Manager) replay(typ byte, v any) error {
	switch rec := v.(type) {
	case *newRec:
		m.sawUID(rec.UID)
		_, err := m.applyNew(*rec, false)
		return err
	case *changeRec:
		m.sawUID(rec.UID)
		if m.orders[key(rec.Account, rec.Orig)] == nil {
			return fmt.Errorf("%w: %s", ErrUnknownOrder, rec.Orig)
		}
		return m.applyChange(typ, *rec, false)
	case *execRec:
		if o := m.find(rec.ER.ClOrdID, rec.ER.OrigClOrdID); o != nil {
			up := rec.Upstream
			if up == "" {
				up = o.Upstream
			}
			m.applyExec(o, up, rec.ER)
			m.sawInbound(up, rec.ER.SeqNum)
		}
		return nil
	case *cancelRejectRec:
		o := m.find(rec.R.ClOrdID, rec.R.OrigClOrdID)
		if o != nil && o.pending != nil && o.pending.uid == rec.R.ClOrdID {
			m.applyCancelReject(o, rec.R)
		}
		if o != nil {
			m.sawInbound(o.Upstream, rec.R.SeqNum)
		}
		return nil
	case *periodRec:
		// The upstream's numbers start again: none of the new period's
		// messages is journaled before this record.
		m.period[rec.Upstream], m.lastIn[rec.Upstream] = rec.Period, 0
		return nil
	case *dayRec:
		// From here on the day changes only where it changed live.
		m.dayRecs = true
		m.risk.RolloverTo(int32(rec.Date))
		return nil
	case *killRec:
		// The cancels it made follow as records of their own.
		if _, err := m.risk.SetKill(rec.Account, rec.On); err != nil {
			// An account no longer configured trades nothing anyway.
			m.log.Warn("orders: replay: a kill switch of an account not configured", "account", rec.Account, "on", rec.On)
		}
		return nil
	case *refusedRec:
		o := m.byUID[rec.UID]
		switch {
		case o == nil:
		case typ == recExpired:
			if !o.Status.Terminal() {
				m.applyOwnExpiry(o, rec.Text)
			}
		case o.UpstreamID == rec.UID && !o.acked && !o.Status.Terminal():
			m.endNew(o, rec.Code, rec.Text)
		case o.pending != nil && o.pending.uid == rec.UID:
			m.endChange(o, rec.Code, rec.Text)
		}
		return nil
	}
	return fmt.Errorf("orders: replay: a record of type %T", v)
}

// sawInbound records the MsgSeqNum of a message from the upstream that
// the journal holds. The last one in journal order is the high-water mark
// (a sequence reset starts the numbers again). mu held.
func (m *Manager) sawInbound(upstream string, seq int) {
	if seq > 0 {
		m.lastIn[upstream] = seq
	}
}

// CatchUp applies the journal's records that this manager has not
// applied yet, and resolves nothing: it keeps a standby manager warm. A
// cluster follower calls it as records commit, so that when its node
// leads, Recover replays only the tail and the takeover does not grow
// with the day's journal. The manager must serve nothing meanwhile (no
// request, no Run, no upstream session). Call it before Recover only; it
// returns the number of records it read.
//
// When ctx ends, CatchUp stops at the next batch of records (replayBatch)
// and returns ctx's error: what it read is applied, and a later CatchUp
// or Recover goes on from there. After any other error the manager is
// unusable: build another.
func (m *Manager) CatchUp(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.unlock()
	return m.replayJournal(ctx)
}

// Replayed returns the journal seq of the last record the manager applied
// by CatchUp or Recover.
func (m *Manager) Replayed() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.replayed
}

// recoverRoute resolves the orders Recover left open on rt, at the
// session's first logon (see Recover). The requests it sends go before
// the ones held since the start, which the journal has after them. mu
// held.
func (m *Manager) recoverRoute(rt *route, now time.Time) {
	rt.recovered = true
	var first []held
	add := func(req any) { first = append(first, held{req: req, since: now}) }
	counts := map[string]int{}
	for _, o := range rt.recovery {
		if o.Status.Terminal() {
			continue
		}
		venueHasIt := o.acked
		if !o.acked {
			switch rt.up.Handed(o.UpstreamID) {
			case fix.HandedYes:
				rt.awaiting.add(&await{o: o, kind: recNew, uid: o.UpstreamID, since: now})
				counts["handed"]++
				venueHasIt = true
			case fix.HandedNo:
				if m.dayOver(o) {
					m.endDayOver(rt, o)
					counts["ended"]++
					continue
				}
				add(newOrderReq(o, false))
				counts["sent"]++
			case fix.HandedUnknown:
				if rt.noStatus {
					add(newOrderReq(o, true))
					counts["possresend"]++
				} else {
					o.probe = true
					add(statusReq(o))
					counts["probed"]++
				}
			}
		}
		if c := o.pending; c != nil {
			switch {
			case c.live:
				// Taken by this run after Recover (an owed cancel, a
				// client's request before this logon): its journal
				// callback submits it, held or sent. Sending it here too
				// sent it twice under one ClOrdID.
			case rt.up.Handed(c.uid) == fix.HandedYes:
				rt.awaiting.add(&await{o: o, kind: c.kind, uid: c.uid, since: now})
				counts["handed"]++
			default:
				add(changeReq(o, c))
				counts["sent"]++
			}
		}
		if venueHasIt && !rt.noStatus {
			rt.checks = append(rt.checks, o) // behind the live requests: sendChecks
			counts["status"]++
			// Its day's end check is due (missed: the gateway was down
			// then, or its session): this check is that one, and the
			// venue's silence expires it (dayEnd).
			o.dayEnd = m.dayPast(o, m.cfg.DayEndCheck)
		}
	}
	rt.recovery = nil
	m.met.checks.WithLabelValues(rt.name).Set(float64(len(rt.checks)))
	for action, n := range counts {
		m.met.recovered.WithLabelValues(rt.name, action).Add(float64(n))
	}
	if len(counts) > 0 {
		m.log.Info("orders: recovered open orders at the first logon", "upstream", rt.name, "handed_before", counts["handed"],
			"sent_now", counts["sent"], "probed", counts["probed"], "status_requests", counts["status"], "day_over", counts["ended"])
	}
	rt.held = append(first, rt.held...)
	for _, h := range first {
		rt.hold(h.since)
	}
}

// dayOver reports whether o's trading day has closed: the clock is past
// its close (15:00), or on a later date. An A-share order is good for its
// day only; one never sent by then is not sent (a restart in the evening
// or the next morning, a session back after the close), where the venue
// would take it as the next day's. Never with risk's AlwaysOpen
// schedule: that venue never closes, and its orders carry on from day to
// day. mu held.
func (m *Manager) dayOver(o *Order) bool { return m.dayPast(o, 0) }

// dayPast reports whether the clock is d past the close of o's trading
// day, or on a later date (see dayOver). mu held.
func (m *Manager) dayPast(o *Order, d time.Duration) bool {
	if m.risk.AlwaysOpen() {
		return false
	}
	date, since, closes := m.risk.SinceClose()
	day := o.resv.Day() // the day risk accepted it on
	return day < date || day == date && closes && since >= d
}

// endDayOver ends recovered order o, which never reached the venue and
// whose day is over (dayOver), as never sent; a cancel or replace of it
// ends with it. mu held.
func (m *Manager) endDayOver(rt *route, o *Order) {
	m.endRequest(rt, newOrderReq(o, false), CodeUpstreamDown,
		fmt.Sprintf("the order was not sent before its trading day, %04d-%02d-%02d, ended", o.resv.Day()/10000, o.resv.Day()/100%100, o.resv.Day()%100))
}

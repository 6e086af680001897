package orders

import (
	"errors"
	"fmt"
	"slices"
	"time"
	"unicode/utf8"

	"sgw/fix"
	"sgw/refdata"
	"sgw/risk"
)

var _ fix.Handler = (*Manager)(nil)

// OnExecReport implements fix.Handler: it applies an upstream's execution
// report and passes it on to the order's clients once journaled.
//
// Executions are applied once per upstream: an ExecID the upstream used
// before is skipped when the report is flagged PossDupFlag or PossResend
// (a resend after a line failover or a restart). ExecIDs are unique per
// upstream session only, so the key is the upstream's name and the
// ExecID; a report reusing an ExecID without the flags (a venue that
// restarted its numbering) is applied and logged. Reports for orders the
// gateway does not know are logged, counted and dropped.
func (m *Manager) OnExecReport(upstream string, er fix.ExecReport) {
	boundReport(&er)
	if tradeAmend(&er) == 0 {
		// FIX allows ExecRefID on any report; only a trade cancel's or
		// correction's is used, and one kept would make the record a
		// version 2 body, which a build before it cannot read.
		er.ExecRefID = ""
	}
	m.mu.Lock()
	defer m.unlock()
	o := m.find(er.ClOrdID, er.OrigClOrdID)
	if o == nil || o.Upstream != upstream {
		m.met.unknownReports.WithLabelValues(upstream).Inc()
		m.log.Warn("orders: execution report for an unknown order", "upstream", upstream, "clOrdID", er.ClOrdID,
			"execID", er.ExecID, "execType", string(er.ExecType))
		return
	}
	rt := m.routes[upstream]
	fresh := false
	if er.ExecType == 'I' {
		fresh = o.statusAnswer(er.PossDup || er.PossResend)
		if er.UnknownOrder() {
			if !fresh {
				// An answer to an earlier question: the order may be on
				// its way since (a PossResend after a probe, or another
				// leader's request resent). Nothing is concluded; the
				// order's own timers ask again.
				m.met.staleUnknown.WithLabelValues(upstream).Inc()
				m.log.Warn("orders: a status answer says the venue does not know the order, but it answers an earlier question; not taken as final",
					"upstream", upstream, "clOrdID", o.ClOrdID, "upstreamID", er.ClOrdID, "possDup", er.PossDup)
				return
			}
			if m.unknownToVenue(rt, o) {
				return
			}
		}
	}
	if k := execKey(upstream, er); k != "" && m.execs[execRef{k, o}] {
		if er.PossDup || er.PossResend {
			m.met.duplicates.WithLabelValues(upstream).Inc()
			return
		}
		m.log.Warn("orders: an ExecID came again without PossDupFlag; applied", "upstream", upstream, "execID", er.ExecID)
	}
	// An answer resent from before (PossDup) does not answer the day's
	// end check: the order's state may have changed since.
	stale := o.dayEnd && er.ExecType == 'I' && !fresh
	if rt != nil {
		m.answered(rt, er.ClOrdID)
		if (er.ExecType == 'I' || er.ExecType == 'D') && !stale {
			m.statusDone(rt, o, true)
		}
	}
	c := o.pending
	wasAcked, wasStatus, wasOrderID := o.acked, o.Status, o.OrderID
	ev, ok := m.applyExec(o, upstream, er)
	if o.dayEnd && er.ExecType == 'I' && !stale {
		o.dayEnd = false // answered
		if !o.Status.Terminal() {
			m.log.Warn("orders: the upstream says an order still works after the close", "upstream", upstream,
				"account", o.Account, "clOrdID", o.ClOrdID, "status", o.Status)
		}
	}
	if !ok {
		if o.acked != wasAcked || o.Status != wasStatus || o.OrderID != wasOrderID {
			// A report no client needs to hear that changed the order
			// all the same: the venue's first word on it (a pending
			// new), a pending cancel or replace acknowledging a pending
			// new (it is working there), the venue's OrderID first
			// given. Journaled, so that a replay rebuilds the order as
			// it is live. Before, only the first word was: a pending new
			// then acknowledged by a pending cancel was new live and
			// pending_new after a restart.
			m.notePeriod(upstream, er.Period)
			_ = m.journal(recExec, &execRec{Account: o.Account, Upstream: upstream, ER: er}, nil, Event{}, nil) // a failure is sticky
		}
		return
	}
	m.signal()
	m.notePeriod(upstream, er.Period)
	if err := m.journal(recExec, &execRec{Account: o.Account, Upstream: upstream, ER: er}, o, ev, nil); err != nil {
		m.emit(o, ev)
	}
	if c != nil && o.pending == nil && er.ClOrdID != c.uid {
		m.overtaken(rt, o, c)
	}
	m.payOwed(o)
}

// overtaken ends a cancel or replace whose order ended before the venue
// answered it (filled, expired, or ended by the venue): it can no longer
// take effect. The client hears a cancel reject (CodeTooLate) after the
// report that ended the order (a recRefused record, journaled after that
// report's, which replay finds nothing left to apply to), and the request
// is no longer awaited; if it is still held, send drops it when its turn
// comes (searching the held requests here, under mu, would scan up to
// HoldQueue of them for each). The venue's own reject, when it comes,
// finds nothing pending (OnCancelReject). Before, the request stayed
// awaited: the client never heard of it, Run asked the venue for the
// order's status after the ack timeout, and Drain waited for it. mu held.
func (m *Manager) overtaken(rt *route, o *Order, c *change) {
	if rt != nil {
		rt.awaiting.answered(c.uid)
	}
	what := "cancel"
	if c.kind == recReplace {
		what = "replace"
	}
	text := fmt.Sprintf("too late to %s: the order is %s", what, o.Status)
	ev := Event{Kind: EventCancelReject, Order: *o, Ref: c.clOrdID, Request: c.msgType(), Requester: c.from, Text: text, Code: CodeTooLate}
	if err := m.journal(recRefused, &refusedRec{Account: o.Account, UID: c.uid, Code: CodeTooLate, Text: text}, o, ev, nil); err != nil {
		m.emit(o, ev)
	}
}

// execKey is the deduplication key of a report's execution, or "" for a
// report that carries none (status answers): the upstream and the ExecID.
// A report flagged PossDup or PossResend is a duplicate only when that key
// was applied to the same order: FIX makes an ExecID unique within a
// trading day only, and a venue may number them from 1 each day. Before,
// a day's report resent with PossDupFlag (after a line failover or a
// restart) whose ExecID an earlier day had used, for another order, was
// dropped as a duplicate: its fill lost from the second day on. Orders
// are day orders, so the same order does not meet a reused ExecID; and a
// resend whose TransactTime differs from the original's (a venue
// rebuilding a PossResend) is still the same order's.
func execKey(upstream string, er fix.ExecReport) string {
	if er.ExecID == "" || er.ExecType == 'I' {
		return ""
	}
	return upstream + "\x00" + er.ExecID
}

// execRef is an execution applied to an order: its execKey and the order.
type execRef struct {
	key string
	o   *Order
}

// find returns the order an upstream id names. mu held.
func (m *Manager) find(uids ...string) *Order {
	for _, id := range uids {
		if o := m.byUID[id]; id != "" && o != nil {
			return o
		}
	}
	return nil
}

// applyExec applies a report to the order and to risk, and returns the
// event for the order's clients; false for a report that changes nothing
// a client needs to hear. It is also journal replay's, so it reads only
// the report and the order. mu held.
func (m *Manager) applyExec(o *Order, upstream string, er fix.ExecReport) (Event, bool) {
	if k := execKey(upstream, er); k != "" {
		m.execs[execRef{k, o}] = true
	}
	text := refdata.CleanText(er.Text)
	if o.ownEnd && er.ExecType == 'F' && text == "" {
		text = "a fill the venue reported after the gateway expired the order"
	}
	ev := Event{Kind: EventExec, ExecType: er.ExecType, ExecID: er.ExecID, Ref: o.ClOrdID, Text: text}
	if g := m.replacedLate(o, &er); g != nil {
		// Whatever the report (a fill too): it is the first to say the
		// venue took the replace.
		ev.Ref, ev.Request, ev.Requester, ev.Replaced = g.clOrdID, g.msgType(), g.from, g.replacedFrom
	}
	c := o.pending
	if c != nil && er.ClOrdID == c.uid {
		ev.Ref, ev.Request, ev.Requester = c.clOrdID, c.msgType(), c.from
		if er.ExecType == '5' {
			ev.Replaced = o.ClOrdID
		}
	}
	if o.OrderID == "" && er.OrderID != "" && er.OrderID != "NONE" {
		o.OrderID = er.OrderID
	}
	if er.ExecType == 'I' && er.UnknownOrder() && o.Status.Terminal() {
		return ev, false // it ended before: the venue has forgotten it
	}
	if er.ExecType == 'I' && er.UnknownOrder() {
		// The venue does not know the order (see unknownToVenue): it is
		// not working there. One it acknowledged ended there unreported
		// (purged after its day's close, at the latest): expired.
		status := StatusRejected
		switch {
		case o.acked:
			status = StatusExpired
		case o.CumQty > 0:
			status = StatusCanceled
		}
		m.riskErr("done", o, m.risk.OnDone(o.resv, o.Qty-o.CumQty))
		o.Status, o.LeavesQty, o.pending = status, 0, nil
		o.Text = "the upstream does not know the order: " + text
		o.touch(m.cfg.Clock())
		o.endDay = m.risk.DayDate()
		ev.Text, ev.Order = o.Text, *o
		return ev, true
	}
	o.acked = true
	var riskQty int64 // a trade's, as risk took it (Trade.riskQty)
	var riskPx refdata.Price
	switch er.ExecType {
	case 'A', '6', 'E': // pending new, cancel, replace: acknowledgements only
		if o.Status == StatusPendingNew && er.ExecType != 'A' {
			o.Status = StatusNew
		}
		return ev, false
	case '0': // new
		if o.Status == StatusPendingNew {
			o.Status = StatusNew
		}
	case 'F': // trade
		if er.LastQty <= 0 {
			return ev, false
		}
		if err := m.fill(o, er.LastPx, er.LastQty); err != nil {
			m.riskErr("fill", o, err)
		} else {
			riskQty, riskPx = er.LastQty, er.LastPx
		}
		o.CumQty += er.LastQty
		o.turnover += int64(er.LastPx) * er.LastQty
		o.AvgPx = refdata.Price(o.turnover / o.CumQty)
		ev.LastPx, ev.LastQty = er.LastPx, er.LastQty
	case '4', 'C', '3': // canceled, expired, done for day
		// FIX LeavesQty is 0 once an order is done; what is left unfilled
		// is its quantity less the venue's CumQty, which risk compares
		// with its own count of fills.
		m.riskErr("done", o, m.risk.OnDone(o.resv, o.Qty-er.CumQty))
	case '8': // rejected
		m.riskErr("done", o, m.risk.OnDone(o.resv, o.Qty-o.CumQty))
	case '5': // replaced
		if c != nil && er.ClOrdID == c.uid {
			m.replaced(o, c)
		}
	case 'I', 'D', 'H', 'G': // status, restated, trade canceled or corrected
		if kind := tradeAmend(&er); kind != 0 {
			m.tradeAmended(o, upstream, kind, &er)
			ev.ExecRefID = er.ExecRefID
		}
		m.reconcile(o, er)
	default:
		m.log.Warn("orders: execution report of a type the gateway does not use; state taken from it",
			"clOrdID", o.ClOrdID, "execType", string(er.ExecType))
		m.reconcile(o, er)
	}
	if er.ExecType != 'I' && er.ExecType != 'D' {
		o.LeavesQty = er.LeavesQty
		o.Status = statusOf(er.OrdStatus, o.Status)
	}
	if o.ownEnd && !o.Status.Terminal() {
		// The venue's word after the gateway ended the order itself:
		// its fills count, but the order worked no longer than its day.
		o.Status, o.LeavesQty = StatusExpired, 0
		if o.CumQty >= o.Qty {
			o.Status = StatusFilled
		}
	}
	o.endDay = m.risk.DayDate()
	if er.ExecType == 'F' {
		o.trades = append(o.trades, Trade{ExecID: er.ExecID, Qty: er.LastQty, Px: er.LastPx,
			CumQty: o.CumQty, LeavesQty: o.LeavesQty, AvgPx: o.AvgPx, Status: o.Status, Time: er.TransactTime,
			Day: o.endDay, ReportDay: m.reportDay(), turnover: o.turnover, riskQty: riskQty, riskPx: riskPx})
	}
	if o.Status.Terminal() {
		m.ended(o, er)
	}
	o.Text = text
	o.touch(m.cfg.Clock())
	ev.Order = *o
	return ev, true
}

// tradeAmend returns 'H' for a report canceling an earlier trade of its
// order (FIX 4.4 ExecType H; FIX 4.2 ExecTransType 1, which fix makes a
// restatement, D, and journals so), 'G' for one correcting it (ExecType
// G; ExecTransType 2), 0 for any other.
func tradeAmend(er *fix.ExecReport) byte {
	switch {
	case er.ExecType == 'H', er.ExecType == 'D' && er.ExecTransType == '1':
		return 'H'
	case er.ExecType == 'G', er.ExecType == 'D' && er.ExecTransType == '2':
		return 'G'
	}
	return 0
}

// tradeAmended applies a trade cancel or correction (kind, as tradeAmend
// gives it) to the trade it names (amendTrade), to risk (the account's
// cash, position and shares bought today move back by the difference
// between the trade as it was and as corrected, or by all of it) and to
// the order's filled quantity and turnover, which reconcile then compares
// with the report's totals. For a report that names no trade of the order
// it does nothing but log: reconcile moves the order and risk by the
// totals. Live and in replay alike. mu held.
func (m *Manager) tradeAmended(o *Order, upstream string, kind byte, er *fix.ExecReport) {
	ta, k := amendTrade(o, kind, er, m.reportDay())
	if k < 0 {
		if !m.replaying { // logged once, live
			m.log.Warn("orders: a trade cancel or correction names no trade of the order; the order's totals taken from it",
				"upstream", upstream, "clOrdID", o.ClOrdID, "execID", er.ExecID, "execRefID", er.ExecRefID)
		}
		return
	}
	if ta.Qty == ta.NewQty && ta.Price == ta.NewPrice {
		return // a canceled trade canceled again: nothing moves
	}
	// Risk moves from the trade as it took it: not at all for a fill it
	// refused, which it never had (it may take the correction, and a
	// done order the venue works again reopens all the same).
	t := &o.trades[k] // amendTrade's copy: no reader has it yet
	ra := ta
	ra.Price, ra.Qty = t.riskPx, t.riskQty
	ra.Working = worksAfter(o, er)
	if err := m.risk.OnTradeAmended(o.resv, ra); err != nil {
		m.riskErr("trade_amend", o, err)
	} else {
		t.riskQty, t.riskPx = ra.NewQty, ra.NewPrice
	}
	o.CumQty = max(o.CumQty+ta.NewQty-ta.Qty, 0)
	o.turnover += int64(ta.NewPrice)*ta.NewQty - int64(ta.Price)*ta.Qty
}

// reportDay returns the day of a report applied now (Trade.ReportDay,
// Trade.AmendDay) as a broker acceptor's restatement counts the days of
// reports: risk's trading day, or the date it is applied on (risk's
// clock's; in replay, its journal record's time's) if later. Risk changes
// day at the first request after midnight only: a venue that never
// closes may fill, or cancel a fill of, an order it carried over before
// that (and a manager restarted or taken over in the night keeps the
// journal's last day). Of risk's day, such a report was of the day
// before, and a restatement on a store whose session period began that
// day left it out, lost, as told on that day: the broker kept a trade
// the venue canceled, or never got a trade the order's status showed
// (TestRestateCancelBeforeTheDaysFirstRequest,
// TestRestateFillBeforeTheDaysFirstRequest in fix/broker). The order's
// end keeps risk's day (Order.EndDay): its ClOrdID is free on the new
// day, and a restatement under it could name the broker's new order.
// mu held.
func (m *Manager) reportDay() int32 {
	date, _ := m.risk.DayDue()
	if m.replaying {
		date = m.risk.DayOf(m.replayAt)
	}
	return max(m.risk.DayDate(), date)
}

// worksAfter reports whether the order works at the venue after the
// report er (its OrdStatus is not terminal) and the gateway has not ended
// it on its own word. mu held.
func worksAfter(o *Order, er *fix.ExecReport) bool {
	return !o.ownEnd && !statusOf(er.OrdStatus, o.Status).Terminal()
}

// amendTrade applies a trade cancel or correction (kind, as tradeAmend
// gives it) to the latest trade of o that the report names by ExecRefID
// (or by the ExecID of an earlier cancel or correction of it), as Trade
// describes, and returns that trade's index in o.trades, -1 if o has
// none: it has none the gateway learned of from a status answer only, nor
// one a report without ExecRefID (a journal record of a build before it
// kept ExecRefID) names. A correction to no quantity cancels. It returns
// the amend as the upstream has it: the trade as it was (none if canceled
// before), on its Day, and as it is now (none if canceled); its riskQty
// and riskPx are left as they were; its AmendDay becomes day. The
// amended trades are a copy (see Order.trades). Live and in replay alike.
// mu held.
func amendTrade(o *Order, kind byte, er *fix.ExecReport, day int32) (risk.TradeAmend, int) {
	ref := er.ExecRefID
	k := -1
	if ref != "" {
		// The latest match: ExecIDs are unique within a trading day
		// only, and an order a venue carried over to a day it numbered
		// anew may hold an earlier day's trade (or cancel) of the id.
		k = lastIndex(o.trades, func(t Trade) bool { return t.ExecID == ref || t.Amended == ref })
	}
	if k < 0 {
		return risk.TradeAmend{}, -1
	}
	ts := slices.Clone(o.trades)
	t := &ts[k]
	ta := risk.TradeAmend{Price: t.Px, Qty: t.Qty, Day: t.Day}
	oldQty, oldTurn := t.Qty, t.Qty*int64(t.Px)
	if t.Canceled {
		oldQty, oldTurn = 0, 0
		ta.Price, ta.Qty = 0, 0
	}
	newQty, newTurn := int64(0), int64(0)
	if kind == 'G' && er.LastQty > 0 {
		newQty, newTurn = er.LastQty, er.LastQty*int64(er.LastPx)
		t.Qty, t.Px, t.Canceled = er.LastQty, er.LastPx, false
		ta.NewPrice, ta.NewQty = er.LastPx, er.LastQty
	} else {
		t.Canceled = true
	}
	t.Amended, t.AmendDay = er.ExecID, day
	dq, dt := newQty-oldQty, newTurn-oldTurn
	for i := k; i < len(ts); i++ {
		u := &ts[i]
		u.CumQty, u.turnover, u.AvgPx = max(u.CumQty+dq, 0), u.turnover+dt, 0
		if u.CumQty > 0 {
			u.AvgPx = refdata.Price(u.turnover / u.CumQty)
		}
		if !u.Status.Terminal() {
			u.LeavesQty = max(u.LeavesQty-dq, 0)
		}
	}
	o.trades = ts
	return ta, k
}

// lastIndex returns the index of the last element of s that f holds
// for, or -1.
func lastIndex[T any](s []T, f func(T) bool) int {
	for i := len(s) - 1; i >= 0; i-- {
		if f(s[i]) {
			return i
		}
	}
	return -1
}

// ended closes an order a report ended, in risk too, whatever the report's
// type: a trade that fills it (risk closes an order when its fills reach
// its quantity, which under a pending replace is the larger of the two,
// and which a fill risk refused never reaches) leaves risk's order open
// otherwise, with its reservation held for the day. A replace still
// pending ends with it: taken if the report is under the replace's id
// (the venue applied it), refused otherwise, and then kept
// (Order.refused) unless the gateway ended the order itself (ownEnd: no
// word of the venue's works it again): the venue never answered it, and
// one that works the order again (a trade cancel reopens a filled order)
// may still take it,
// whose report under the replace's id then makes it the order's terms
// (replacedLate). Before, such a report found nothing pending: the
// gateway kept the old terms, and the venue's order worked under the
// replace's. Risk calls on an order it closed already, by this report,
// change nothing. mu held.
func (m *Manager) ended(o *Order, er fix.ExecReport) {
	if c := o.pending; c != nil && c.kind == recReplace {
		var err error
		if er.ClOrdID == c.uid {
			err = m.risk.OnReplaced(c.resv)
			takeTerms(o, c)
		} else {
			err = m.risk.OnReplaceRejected(c.resv)
			if !o.ownEnd {
				m.keepRefused(o, c)
			}
		}
		if !errors.Is(err, risk.ErrNotPending) {
			m.riskErr("replace_ended", o, err)
		}
	}
	o.pending = nil
	m.riskErr("done", o, m.risk.OnDone(o.resv, o.Qty-o.CumQty))
}

// fill applies a fill of o to risk. One risk finds closed, after the
// gateway ended o itself (ownEnd) or after risk's day changed since o's
// (risk expired it then, unless its venue never closes), is a late fill,
// which finds nothing held; the day is read only then, off the usual
// path. mu held.
func (m *Manager) fill(o *Order, price refdata.Price, qty int64) error {
	err := m.risk.OnFill(o.resv, price, qty)
	if errors.Is(err, risk.ErrOrderClosed) && (o.ownEnd || o.resv.Day() < m.risk.DayDate()) {
		err = m.risk.OnLateFill(o.resv, price, qty)
	}
	return err
}

// replaced makes an order's pending replace its terms. mu held.
func (m *Manager) replaced(o *Order, c *change) {
	m.riskErr("replaced", o, m.risk.OnReplaced(c.resv))
	takeTerms(o, c)
}

// takeTerms makes the replace c the order's terms. The replaces refused
// before it (Order.refused) the venue no longer takes: it took this one.
// mu held.
func takeTerms(o *Order, c *change) {
	setTerms(o, c)
	o.pending, o.refused = nil, nil
}

// setTerms gives o the ids, price and quantity of the replace c. mu held.
func setTerms(o *Order, c *change) {
	o.ClOrdID, o.UpstreamID, o.Price, o.Qty = c.clOrdID, c.uid, c.price, c.qty
}

// replacedLate makes a replace of o that ended refused without the
// venue's answer (Order.refused) the order's terms, in risk too, when the
// venue reports the order under its upstream id: the venue took it after
// the gateway gave up on it (a venue slower than twice AckTimeout, or its
// answer lost). It returns the replace and the client order id it
// replaced, or nil for a report under any other id, one saying the venue
// does not know the order, one of an ended order, or one that does not
// say the venue took the replace: an acknowledgement (a Pending Replace
// may still be refused) or a trade of no shares, for which applyExec
// changes nothing else, so that the journal may not keep them and a
// replay would not see them. The replace's
// client hears the report as the replace's (its Ref). Live and in
// replay alike. mu held.
func (m *Manager) replacedLate(o *Order, er *fix.ExecReport) *lateReplace {
	if len(o.refused) == 0 || er.ClOrdID == o.UpstreamID || o.Status.Terminal() ||
		er.ExecType == 'I' && er.UnknownOrder() {
		return nil
	}
	switch er.ExecType {
	case 'A', '6', 'E':
		return nil
	case 'F':
		if er.LastQty <= 0 {
			return nil
		}
	}
	k := slices.IndexFunc(o.refused, func(c *change) bool { return c.uid == er.ClOrdID })
	if k < 0 {
		return nil
	}
	c := o.refused[k]
	// The venue takes requests in order: those refused before it it did
	// not take; those after it it may take still.
	o.refused = slices.Clone(o.refused[k+1:])
	if !m.replaying {
		m.log.Warn("orders: the upstream took a replace the gateway had ended unanswered; its terms are the order's",
			"account", o.Account, "clOrdID", c.clOrdID, "was", o.ClOrdID, "upstreamID", c.uid, "price", c.price, "qty", c.qty)
	}
	session := ""
	if c.from != (Source{}) {
		session = c.from.key()
	}
	m.riskErr("replaced_late", o, m.risk.OnReplacedLate(c.resv, session))
	if c.fromEnded && !m.replaying {
		// The order is now the session's that sent the replace, which
		// has ended (replacerEnded): its cancel is owed, sent once the
		// report is journaled (OnExecReport's payOwed). A replay does
		// not: the journal holds the cancel sent live, and a restart
		// owes those of the sessions not connected (cancelOwed).
		o.owe(c.from, false)
	}
	g := &lateReplace{change: c, replacedFrom: o.ClOrdID}
	setTerms(o, c)
	return g
}

// lateReplace is a replace replacedLate made the order's terms, and the
// client order id of the terms it replaced.
type lateReplace struct {
	*change
	replacedFrom string
}

// reconcile takes the upstream's word on an order (a status answer or a
// restatement): fills the gateway missed are applied to risk at the
// average price the totals imply, as are the shares a trade cancel or
// correction takes off beyond the trade it names (tradeAmended: all of
// them when it names none), a replace the answer names takes effect, and
// a terminal order is closed. mu held.
func (m *Manager) reconcile(o *Order, er fix.ExecReport) {
	if c := o.pending; c != nil && c.kind == recReplace && er.ClOrdID == c.uid {
		m.replaced(o, c)
	}
	amend := tradeAmend(&er)
	switch missed := er.CumQty - o.CumQty; {
	case missed != 0 && (er.PossDup || er.PossResend) && amend == 0:
		// A status answer or restatement resent from before: its totals,
		// leaves and status are those of when it was first sent, and the
		// reports since (fills, a trade cancel) moved them on. Taken, the
		// totals would count again the fills the next report's totals
		// bring back, or the fills a trade cancel took off; the status
		// and leaves would put a partly filled order back to new. The
		// order keeps all of them.
		m.log.Warn("orders: a resent status answer or restatement gives other totals than counted; kept (it is of before)",
			"clOrdID", o.ClOrdID, "cumQty", er.CumQty, "counted", o.CumQty, "possDup", er.PossDup)
		return
	case missed > 0:
		px := refdata.Price((int64(er.AvgPx)*er.CumQty - o.turnover) / missed)
		err := m.atImpliedPrice(o, px, func(px refdata.Price) error { return m.fill(o, px, missed) })
		m.riskErr("fill", o, err)
		o.CumQty, o.turnover, o.AvgPx = er.CumQty, int64(er.AvgPx)*er.CumQty, er.AvgPx
	case missed < 0 && amend != 0:
		// A trade cancel or correction naming no trade of the order, or
		// whose totals take more off than the trade it names: the venue's
		// totals stand, and risk moves by the shares they take off, at
		// the price their turnover implies (the order's limit if risk
		// refuses it), bought on the day of the order's last report.
		ta := risk.TradeAmend{Qty: -missed, Day: o.endDay, Working: worksAfter(o, &er)}
		px := refdata.Price((o.turnover - int64(er.AvgPx)*er.CumQty) / -missed)
		err := m.atImpliedPrice(o, px, func(px refdata.Price) error {
			ta.Price = px
			return m.risk.OnTradeAmended(o.resv, ta)
		})
		m.riskErr("trade_amend", o, err)
		o.CumQty, o.turnover, o.AvgPx = er.CumQty, int64(er.AvgPx)*er.CumQty, er.AvgPx
	case missed < 0:
		m.riskErr("fill", o, fmt.Errorf("the upstream reports %d shares filled, the gateway counted %d (a bust or correction)", er.CumQty, o.CumQty))
		o.CumQty, o.turnover, o.AvgPx = er.CumQty, int64(er.AvgPx)*er.CumQty, er.AvgPx
	case amend != 0 && (er.AvgPx > 0 || er.CumQty == 0):
		// The trade's amend moved the order's totals (tradeAmended): its
		// average price is the venue's, as with any change of them.
		o.turnover, o.AvgPx = int64(er.AvgPx)*er.CumQty, er.AvgPx
	case amend != 0 && o.CumQty > 0:
		o.AvgPx = refdata.Price(o.turnover / o.CumQty) // the venue gave none
	}
	o.LeavesQty = er.LeavesQty
	o.Status = statusOf(er.OrdStatus, o.Status)
	if o.Status.Terminal() {
		m.riskErr("done", o, m.risk.OnDone(o.resv, o.Qty-o.CumQty))
	}
}

// atImpliedPrice moves risk by try at px, the price the venue's totals
// imply for shares the gateway did not see one by one, and, if risk
// refuses it as a bad fill, at the order's limit. The implied price
// carries the venue's rounding of AvgPx, magnified by the totals over the
// shares: it may lie beyond a buy's limit (risk takes a sell's above
// limit-up, bounding fills by the arithmetic only). The shares moved
// (filled, or taken back) whatever risk thinks of the price; taken at
// the limit, which risk accepts, rather than not at all, cash and shares
// stay right for the day. mu held.
func (m *Manager) atImpliedPrice(o *Order, px refdata.Price, try func(refdata.Price) error) error {
	err := try(px)
	if errors.Is(err, risk.ErrBadFill) && px != o.Price {
		m.log.Warn("orders: risk refused the price the upstream's totals imply; trying the order's limit",
			"clOrdID", o.ClOrdID, "price", px, "limit", o.Price, "err", err)
		err = try(o.Price)
	}
	return err
}

// statusOf maps a FIX OrdStatus.
func statusOf(s byte, cur Status) Status {
	switch s {
	case '0':
		return StatusNew
	case '1':
		return StatusPartiallyFilled
	case '2':
		return StatusFilled
	case '4':
		return StatusCanceled
	case '8':
		return StatusRejected
	case 'C', '3':
		return StatusExpired
	case 'A':
		return StatusPendingNew
	}
	return cur
}

// unknownToVenue handles a fresh status answer (Order.statusAnswer)
// saying the venue does not know the order. For a recovery probe it sends
// the order again, flagged PossResend, and reports true (nothing else to
// apply). Otherwise the answer ends the order (applyExec): the status
// request went out after every earlier message of the session, the
// order's last NewOrderSingle included, so the venue would know the order
// if it had ever received it. mu held.
func (m *Manager) unknownToVenue(rt *route, o *Order) bool {
	if rt == nil || !o.probe {
		return false
	}
	if o.acked || o.Status.Terminal() {
		// The venue spoke of the order since the probe went (a report
		// resent to fill a gap): its word stands, applyExec decides.
		o.probe = false
		return false
	}
	if a := rt.awaiting.statusAnswered(o); a != nil {
		rt.awaiting.heardFrom(a, m.cfg.Clock())
	}
	m.signal()
	m.resendProbed(rt, o)
	return true
}

// statusDone records the end of a status request for o: answered, or
// refused or timed out (answered false). A recovery probe that got no
// usable answer sends the order again flagged PossResend (the venue
// checks its ClOrdID for a duplicate). mu held.
func (m *Manager) statusDone(rt *route, o *Order, answered bool) {
	if a := rt.awaiting.statusAnswered(o); a != nil {
		if answered {
			rt.awaiting.heardFrom(a, m.cfg.Clock())
		}
		m.signal()
	}
	if o.probe && !answered && !o.acked && !o.Status.Terminal() {
		m.resendProbed(rt, o)
	}
	o.probe = false
	if o.dayEnd && !answered && !o.Status.Terminal() {
		m.expireOwn(rt, o, "the upstream gave no status answer")
	}
	if len(rt.checks) > 0 {
		m.sendChecks(rt, m.cfg.Clock()) // room for the next check
	}
}

// resendProbed sends a recovered order again after a probe, flagged
// PossResend; but once its trading day has closed (dayOver) it expires
// on the gateway's word instead: it may have reached the venue and
// traded on its day (the venue forgets its orders after the close), so
// it is not ended as never sent, and fills reported later count. mu
// held.
func (m *Manager) resendProbed(rt *route, o *Order) {
	o.probe = false
	if m.dayOver(o) {
		m.met.recovered.WithLabelValues(rt.name, "ended").Inc()
		m.expireOwn(rt, o, "its trading day closed, and the venue does not say it has it")
		return
	}
	m.met.recovered.WithLabelValues(rt.name, "possresend").Inc()
	m.log.Warn("orders: recovery sends an order that may have reached the venue again, flagged PossResend",
		"upstream", rt.name, "clOrdID", o.ClOrdID, "upstreamID", o.UpstreamID)
	m.submit(rt, newOrderReq(o, true), m.cfg.Clock())
}

// maxJournalText and maxVenueID bound what of an upstream's report or
// cancel reject the journal keeps: its free text (Text, 58) and its
// identifiers (OrderID, ExecID, ExecRefID, Symbol, ClOrdID, OrigClOrdID). FIX sets
// no limit on them, and a record whose body passes the journal's
// MaxRecord (64 KiB by default) is refused at once (journal.ErrTooLarge),
// which the manager must take for a journal failure: one long text from
// the venue stopped order entry, its fill applied but never journaled,
// and the same report came back after every restart. Cut before anything
// reads them, live and in replay alike. Clients see at most
// refdata.MaxTextLen of the text anyway; the identifiers a venue sends
// are far shorter (an ExecID cut there stays unique in practice).
const (
	maxJournalText = 4 << 10
	maxVenueID     = 256
)

// boundReport cuts er's strings to the bounds above.
func boundReport(er *fix.ExecReport) {
	er.Text = cut(er.Text, maxJournalText)
	er.ClOrdID, er.OrigClOrdID = cut(er.ClOrdID, maxVenueID), cut(er.OrigClOrdID, maxVenueID)
	er.OrderID, er.ExecID, er.Symbol = cut(er.OrderID, maxVenueID), cut(er.ExecID, maxVenueID), cut(er.Symbol, maxVenueID)
	er.ExecRefID = cut(er.ExecRefID, maxVenueID)
}

// cut returns s cut to at most n bytes, at a character boundary.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// OnCancelReject implements fix.Handler: the upstream refused a cancel or
// replace; the order keeps its terms.
func (m *Manager) OnCancelReject(upstream string, r fix.CancelReject) {
	r.Text = cut(r.Text, maxJournalText)
	r.ClOrdID, r.OrigClOrdID, r.OrderID = cut(r.ClOrdID, maxVenueID), cut(r.OrigClOrdID, maxVenueID), cut(r.OrderID, maxVenueID)
	m.mu.Lock()
	defer m.unlock()
	o := m.find(r.ClOrdID, r.OrigClOrdID)
	if o == nil || o.pending == nil || o.pending.uid != r.ClOrdID {
		return // a resend of one already applied, or of no request of ours
	}
	if rt := m.routes[upstream]; rt != nil {
		m.answered(rt, r.ClOrdID)
	}
	ref, kind, from := o.pending.clOrdID, o.pending.msgType(), o.pending.from
	m.applyCancelReject(o, r)
	ev := Event{Kind: EventCancelReject, Order: *o, Ref: ref, Request: kind, Requester: from, Text: o.Text}
	m.notePeriod(upstream, r.Period)
	if err := m.journal(recCancelReject, &cancelRejectRec{Account: o.Account, R: r}, o, ev, nil); err != nil {
		m.emit(o, ev)
	}
	m.payOwed(o)
}

// notePeriod journals a periodRec before the first record of a message
// from the upstream in a session period (p, the message's Period) other
// than the last one journaled: records become durable in the order they
// are appended, so a journal that holds a message of the period holds
// this record before it. A failure is the journal's, made sticky as for
// any record; the message's own record fails with it. mu held.
func (m *Manager) notePeriod(upstream string, p int64) {
	if p == 0 || p == m.period[upstream] {
		return
	}
	if m.period[upstream] != 0 {
		m.log.Info("orders: the upstream's session began a new period; its messages are numbered from 1 again",
			"upstream", upstream, "period", time.Unix(0, p).UTC())
	}
	m.period[upstream] = p
	_ = m.journal(recPeriod, &periodRec{Upstream: upstream, Period: p}, nil, Event{}, nil)
}

// applyCancelReject drops the pending request. mu held.
func (m *Manager) applyCancelReject(o *Order, r fix.CancelReject) {
	if c := o.pending; c.kind == recReplace {
		m.riskErr("replace_rejected", o, m.risk.OnReplaceRejected(c.resv))
	}
	o.pending = nil
	o.Text = refdata.CleanText(r.Text)
	o.touch(m.cfg.Clock())
	m.signal()
}

// OnReject implements fix.Handler: the upstream refused one of the
// gateway's messages as a message (BusinessMessageReject, such as
// "Unsupported Message Type", or a session-level Reject). The request
// ends with the upstream's reason: a new order is rejected, a cancel or
// replace refused (the order keeps its terms). A refused
// OrderStatusRequest makes the gateway stop asking this upstream for
// status (logged once).
func (m *Manager) OnReject(upstream string, r fix.Reject) {
	m.mu.Lock()
	defer m.unlock()
	rt := m.routes[upstream]
	o := m.byUID[r.ClOrdID]
	if rt == nil || o == nil {
		return
	}
	m.met.upstreamRejects.WithLabelValues(upstream, msgTypeLabel(r.MsgType)).Inc()
	kind := "BusinessMessageReject"
	if r.Session {
		kind = "Reject"
	}
	text := refdata.CleanText(fmt.Sprintf("upstream %s refused the %s: %s (%s, reason %d)", upstream, msgName(r.MsgType), r.Text, kind, r.Reason))
	switch r.MsgType {
	case "H":
		if !rt.noStatus {
			rt.noStatus = true
			m.met.noStatus.WithLabelValues(upstream).Set(1)
			m.log.Warn("orders: the upstream refuses OrderStatusRequest; the gateway stops asking it for status", "upstream", upstream, "text", text)
		}
		m.statusDone(rt, o, false)
	case "D":
		m.endRequest(rt, fix.NewOrder{ClOrdID: r.ClOrdID}, CodeUpstreamReject, text)
	case "F":
		m.endRequest(rt, fix.CancelRequest{ClOrdID: r.ClOrdID}, CodeUpstreamReject, text)
	case "G":
		m.endRequest(rt, fix.ReplaceRequest{ClOrdID: r.ClOrdID}, CodeUpstreamReject, text)
	}
}

// msgTypeLabel returns the msg_type label of a refused message: the
// MsgType of a request the gateway sends (D, F, G, H), else "other".
// RefMsgType (372) is the upstream's text, any length and value: used as
// it came, each value would be a new series, without bound.
func msgTypeLabel(t string) string {
	switch t {
	case "D", "F", "G", "H":
		return t
	}
	return "other"
}

// msgName names a FIX MsgType for texts.
func msgName(t string) string {
	switch t {
	case "D":
		return "NewOrderSingle"
	case "F":
		return "OrderCancelRequest"
	case "G":
		return "OrderCancelReplaceRequest"
	case "H":
		return "OrderStatusRequest"
	}
	return "message " + t
}

package broker

import (
	"errors"
	"strconv"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// handle carries out one application message of s. It runs on the
// session's goroutine (FromApp). A returned error makes quickfix answer
// with a session-level Reject (3), or a BusinessMessageReject (j) for an
// unsupported MsgType; every other answer is queued on the session's
// pacer, behind the reports already queued.
func (s *session) handle(m *quickfix.Message) quickfix.MessageRejectError {
	mt, err := m.MsgType()
	if err != nil {
		return err
	}
	switch mt {
	case "D":
		return s.newOrder(m)
	case "F":
		return s.cancel(m)
	case "G":
		return s.replace(m)
	case "H":
		return s.status(m)
	}
	return quickfix.UnsupportedMessageType()
}

// newOrder handles a NewOrderSingle: the manager's acceptance is reported
// by the session's sink (Pending New); a refusal here, by the acceptor,
// risk or the manager, with an ExecutionReport rejecting the order.
// Nothing is journaled for a refused order.
func (s *session) newOrder(m *quickfix.Message) quickfix.MessageRejectError {
	o, ref, rej := decodeNew(m)
	if rej == nil {
		rej = s.echoable(o.echoSide, o.echoOrdType)
	}
	if rej != nil {
		s.a.refusedNew(s, codeMalformed)
		return rej
	}
	if ref == nil {
		acct, ok := s.account(o.account, "")
		switch {
		case !ok && o.account == "":
			s.a.refusedNew(s, codeMalformed)
			return quickfix.RequiredTagMissing(tag.Account)
		case !ok:
			ref = &refusal{code: codeAccount, reason: risk.FIXBrokerOption, text: "account not allowed: session " + s.id.TargetCompID + " may not trade account " + o.account}
		}
		o.account = acct
	}
	if ref == nil && possResend(m) {
		// A resend of an order already entered: answer with its state,
		// never enter it twice.
		if cur, ok := s.a.entry.Get(o.account, o.clOrdID); ok && cur.Source == s.src {
			day, known := s.sentDay(m)
			switch {
			case s.holds(&cur, day):
				r := orderReport(&cur, 'I')
				r.clOrdID, r.execID = o.clOrdID, s.a.nextExecID()
				s.sendReport(&r)
				return nil
			case !known:
				ref = &refusal{code: risk.CodeDuplicateClOrd, reason: risk.FIXDuplicateOrder,
					text: "clOrdId " + o.clOrdID + " was used by an order of an earlier day, ended; a resend (PossDupFlag or PossResend) " +
						"without OrigSendingTime (122) cannot be told from it: not entered (resend it with OrigSendingTime, or as a new order with a new ClOrdID)"}
			}
		}
	}
	if ref == nil {
		// Risk finds a duplicate among the account's own ClOrdIDs;
		// those of the session's other accounts are found here.
		ref = s.reused(o.clOrdID, o.account, nil)
		if ref == nil {
			_, err := s.a.entry.New(orders.NewRequest{ClOrdID: o.clOrdID, Account: o.account, Symbol: o.symbol,
				Side: o.side, Type: o.ordType, Price: o.price, Qty: o.qty, Source: s.src})
			if err == nil {
				return nil
			}
			ref = s.reused(o.clOrdID, "", refusalOf(err)) // counted by the manager
		} else {
			s.a.refusedNew(s, ref.code)
		}
	} else {
		ref = s.reused(o.clOrdID, "", ref)
		s.a.refusedNew(s, ref.code)
	}
	// The identifiers are echoed through echo: one may be invalid (the
	// refusal may be for it), and is then replaced by fix.EchoID's
	// placeholder.
	clOrdID := echo(o.clOrdID, refdata.MaxClOrdIDLen)
	s.a.log.Info("broker: order rejected", "broker", s.id.TargetCompID, "clOrdID", clOrdID, "code", ref.code, "text", ref.text)
	r := execReport{clOrdID: clOrdID, execID: s.a.nextExecID(), execType: '8', ordStatus: '8', rejReason: ref.reason,
		account: echo(o.account, refdata.MaxAccountLen), symbol: echo(o.echoSymbol, refdata.MaxSymbolLen),
		exchange: echo(o.echoExchange, refdata.MaxSymbolLen), side: o.echoSide, ordType: o.echoOrdType,
		qty: o.qty, price: o.price, text: ref.text}
	s.sendReport(&r)
	return nil
}

// reused returns the refusal of a request whose ClOrdID names an order
// the session entered that still holds it (working, or ended this trading
// day, as risk keeps client order ids), of any of the session's accounts
// but except (none when except is ""): a duplicate
// (risk.duplicate_clordid, OrdRejReason 6), whatever check refused it
// first (ref: an unknown exchange, an account the session may not trade,
// the kill switch, a throttle, a market order...; nil: none). Else it
// returns ref. The refusal goes under that ClOrdID, and a broker's engine
// keeps its orders by ClOrdID: one that told such a refusal from the
// order's own rejection only by OrdRejReason 6 took it for its order's,
// which showed rejected while it worked at the venue (until a status or a
// restatement). FIX's OrdRejReason 6 is "duplicate order (e.g. dupe
// ClOrdID)"; QuickFIX leaves the check to the application.
//
// FIX has a ClOrdID unique per session, risk per account: a NewOrderSingle,
// cancel or replace (its new ClOrdID) of one account reusing the ClOrdID
// of an order of another account of the session is refused by this
// before it reaches the manager (except is the request's account, whose
// own ClOrdIDs risk checks). Risk took it, and the two orders shared the
// ClOrdID by which the broker's engine keeps them, the restatement matches
// the broker's stored reports (reports.Last) and a cancel, replace or
// status naming no account finds its order (session.account): the first
// account's order answered for both.
//
// An order of another source (a WebSocket client's) is no order of the
// broker's: risk still refuses its ClOrdID as a duplicate on its account,
// but after its earlier checks. The day is the one the request is counted
// in (RequestDay): the clock's, also before the first request after
// midnight has started it in risk. Before, it was the manager's trading
// day, still the last until that request: the first order of a day on
// one account, reusing the ClOrdID of an order another account ended the
// day before (a broker numbering its orders from 1 each day), was refused
// as a duplicate (TestDuplicateClOrdIDFirstRequestOfTheDay).
func (s *session) reused(clOrdID, except string, ref *refusal) *refusal {
	if ref != nil && ref.reason == risk.FIXDuplicateOrder || !refdata.ValidID(clOrdID, refdata.MaxClOrdIDLen) {
		return ref
	}
	today := s.a.entry.RequestDay()
	for _, acct := range s.spec.cfg.Accounts {
		if acct == except {
			continue
		}
		o, ok := s.a.entry.Get(acct, clOrdID)
		if ok && s.holds(&o, today) {
			text := "clOrdId " + clOrdID + " was already used today"
			if ref != nil {
				text += " (and: " + ref.text + ")"
			} else {
				text += ", by an order of account " + acct + ": a ClOrdID is unique per session"
			}
			return &refusal{code: risk.CodeDuplicateClOrd, reason: risk.FIXDuplicateOrder, text: text}
		}
	}
	return ref
}

// holds reports whether o, found under one of its ClOrdIDs, is an order
// the session entered that still held that ClOrdID on trading day day:
// working, or ended that day or later (risk frees an ended order's client
// order ids when the next day starts; an order of a venue that never
// closes, carried over, holds them while it works).
func (s *session) holds(o *orders.Order, day int32) bool {
	return o.Source == s.src && (!o.Status.Terminal() || o.EndDay() >= day)
}

// sentDay is the trading day a NewOrderSingle flagged PossDupFlag or
// PossResend was first sent on, not later than the day a request is
// counted in now (a broker's clock ahead of the gateway's): that of its
// OrigSendingTime (122), known; without one (FIX requires it of a
// session-level resend only, and quickfix checks it only on a resend
// below the expected MsgSeqNum), that of its SendingTime (52), not known:
// the message was first sent that day or earlier, the day it is resent.
// A resend is of an order that held its ClOrdID that day (holds): an
// order of an earlier day with the ClOrdID, ended before, is another
// order, whose ClOrdID a broker numbering its orders anew each day used
// again. Before, such a NewOrderSingle, flagged as the session resends
// what it missed (a frame lost, or sent before the day's logon), was
// answered with that earlier order's status and never entered; so was one
// whose ClOrdID an order of another source (a WebSocket client's) on the
// account held, which risk now refuses as a duplicate
// (TestDuplicateClOrdIDResendOfAnEarlierDay).
//
// When the day is not known and the order ended before the day of
// SendingTime, the message may be the order's own, resent after midnight
// (a broker's engine resending with PossResend what it has no
// acknowledgement of), or a new order of that day reusing its ClOrdID:
// newOrder refuses it as a duplicate (103 = 6), naming 122. Before, the
// SendingTime's day was taken for the first sending's, and the order the
// gateway took and finished the day before was entered again and reached
// the venue twice (TestResendWithoutOrigSendingTimeAfterMidnight).
func (s *session) sentDay(m *quickfix.Message) (day int32, known bool) {
	today := s.a.entry.RequestDay()
	t, err := m.Header.GetTime(tag.OrigSendingTime)
	if err == nil {
		return min(s.a.entry.DayOf(t), today), true
	}
	if t, err = m.Header.GetTime(tag.SendingTime); err != nil {
		return today, false
	}
	return min(s.a.entry.DayOf(t), today), false
}

// cancel handles an OrderCancelRequest: accepted, it is reported by the
// sink (Pending Cancel, then the upstream's Canceled); refused, with an
// OrderCancelReject.
func (s *session) cancel(m *quickfix.Message) quickfix.MessageRejectError {
	c, rej := decodeCancel(m)
	if rej != nil {
		return rej
	}
	if c.badID != nil {
		s.cancelReject("", echo(c.clOrdID, refdata.MaxClOrdIDLen), echo(c.origClOrdID, refdata.MaxClOrdIDLen), false, badID(c.badID))
		return nil
	}
	acct, ok := s.account(c.account, c.origClOrdID)
	if !ok {
		s.cancelReject("", c.clOrdID, c.origClOrdID, false, s.notAllowed(c.account, c.origClOrdID))
		return nil
	}
	if ref := s.reused(c.clOrdID, acct, nil); ref != nil {
		s.cancelReject(acct, c.clOrdID, c.origClOrdID, false, ref) // another account's ClOrdID
		return nil
	}
	req := request{kind: 'F', orig: c.origClOrdID}
	fresh, live := s.a.record(acct, c.clOrdID, req)
	if !fresh && live == req && possResend(m) {
		s.resentLive(acct, c.clOrdID)
		return nil
	}
	_, err := s.a.entry.Cancel(orders.CancelRequest{ClOrdID: c.clOrdID, OrigClOrdID: c.origClOrdID, Account: acct, Source: s.src})
	if err != nil {
		if fresh {
			s.a.lookup(acct, c.clOrdID, true)
		}
		s.cancelReject(acct, c.clOrdID, c.origClOrdID, false, err)
	}
	return nil
}

// replace handles an OrderCancelReplaceRequest like cancel: Pending
// Replace, then the upstream's Replaced; or an OrderCancelReject.
func (s *session) replace(m *quickfix.Message) quickfix.MessageRejectError {
	r, rej := decodeReplace(m)
	if rej != nil {
		return rej
	}
	if r.badID != nil {
		s.cancelReject("", echo(r.clOrdID, refdata.MaxClOrdIDLen), echo(r.origClOrdID, refdata.MaxClOrdIDLen), true, badID(r.badID))
		return nil
	}
	acct, ok := s.account(r.account, r.origClOrdID)
	switch {
	case !ok:
		s.cancelReject("", r.clOrdID, r.origClOrdID, true, s.notAllowed(r.account, r.origClOrdID))
		return nil
	case r.ordType != 0 && r.ordType != '2':
		s.cancelReject(acct, r.clOrdID, r.origClOrdID, true,
			&refusal{code: codeOrdType, text: "OrdType " + printable(r.ordType) + " is not supported: orders are limit orders (2)"})
		return nil
	}
	if ref := s.reused(r.clOrdID, acct, nil); ref != nil {
		s.cancelReject(acct, r.clOrdID, r.origClOrdID, true, ref) // another account's ClOrdID
		return nil
	}
	req := request{kind: 'G', orig: r.origClOrdID}
	fresh, live := s.a.record(acct, r.clOrdID, req)
	if !fresh && live == req && possResend(m) {
		s.resentLive(acct, r.clOrdID)
		return nil
	}
	_, err := s.a.entry.Replace(orders.ReplaceRequest{ClOrdID: r.clOrdID, OrigClOrdID: r.origClOrdID, Account: acct,
		Price: r.price, Qty: r.qty, Source: s.src})
	if err != nil {
		if fresh {
			s.a.lookup(acct, r.clOrdID, true)
		}
		s.cancelReject(acct, r.clOrdID, r.origClOrdID, true, err)
	}
	return nil
}

// resentLive handles a cancel or replace flagged PossDupFlag or
// PossResend that repeats a request still in flight: it is not sent to the
// manager again (which would refuse it, and the refusal would read as the
// outcome of the live request); the live request's reports follow.
func (s *session) resentLive(acct, clOrdID string) {
	s.a.log.Info("broker: a resent cancel or replace is already in flight; its outcome will be reported",
		"broker", s.id.TargetCompID, "account", acct, "clOrdID", clOrdID)
}

// status answers an OrderStatusRequest with the order's state (ExecType I
// in FIX 4.4; ExecTransType 3 in FIX 4.2), or, for an order the session
// may not see or the gateway does not know, OrdStatus 8 with OrdRejReason
// 5 (unknown order). A request with a valid ClOrdID and an invalid Account
// gets a BusinessMessageReject (j, BusinessRejectReason 0, RefMsgType H,
// BusinessRejectRefID its OrdStatusReqID, else its ClOrdID) whose Text
// names the Account, and no report: one under that ClOrdID would read
// as the order's. That answer echoes the request's Side (54), which
// every ExecutionReport carries: a request for such an order without a
// Side, or with one that is no Side of the session's FIX version, is
// refused with a session-level Reject naming 54 (an answer without it, or
// with it as sent, a broker's engine validating with the FIX dictionary
// would refuse: its application would never hear back). The order's own
// Side answers for an order the gateway shows.
func (s *session) status(m *quickfix.Message) quickfix.MessageRejectError {
	q, rej := decodeStatus(m, s.fix42)
	if rej != nil {
		return rej
	}
	text := "unknown order"
	if q.badID != nil && refdata.ValidID(q.clOrdID, refdata.MaxClOrdIDLen) {
		// An invalid Account: refused by a BusinessMessageReject naming
		// it, which touches no order's state. Before, the unknown-order
		// report went under the request's ClOrdID, valid, which a
		// broker's engine keeping its orders by ClOrdID took for its
		// working order's rejection (TestHandle, "status naming an
		// invalid Account").
		ref := badID(q.badID)
		refID := q.reqID
		if refID == "" {
			refID = q.clOrdID
		}
		s.a.log.Info("broker: status request refused", "broker", s.id.TargetCompID, "clOrdID", q.clOrdID, "text", ref.text)
		return quickfix.NewBusinessMessageRejectErrorWithRefID(ref.text, businessRejectOther, refID, nil)
	}
	if q.badID != nil {
		text = badID(q.badID).text
	} else if acct, ok := s.account(q.account, q.clOrdID); ok {
		if o, ok := s.a.entry.Get(acct, q.clOrdID); ok {
			r := orderReport(&o, 'I')
			r.execID, r.statusReqID = s.a.nextExecID(), q.reqID
			if o.ClOrdID != q.clOrdID {
				r.origClOrdID = q.clOrdID
			}
			s.sendReport(&r)
			return nil
		}
	}
	if q.side == 0 {
		return quickfix.RequiredTagMissing(tag.Side)
	}
	if rej := s.echoable(q.side, 0); rej != nil {
		return rej
	}
	r := execReport{clOrdID: echo(q.clOrdID, refdata.MaxClOrdIDLen), execID: s.a.nextExecID(), execType: 'I', ordStatus: '8',
		rejReason: risk.FIXUnknownOrder, account: echo(q.account, refdata.MaxAccountLen), side: q.side,
		symbol: echo(q.symbol, refdata.MaxSymbolLen), exchange: echo(q.exchange, refdata.MaxSymbolLen),
		statusReqID: echo(q.reqID, refdata.MaxClOrdIDLen), text: text}
	s.sendReport(&r)
	return nil
}

// businessRejectOther is BusinessRejectReason (380) 0, other: FIX 4.2 and
// 4.4 have no value for an invalid field.
const businessRejectOther = 0

// echoable returns the session-level Reject of a request whose Side (54)
// or OrdType (40), which the report answering it echoes, is not a value
// of the field in the session's FIX version (ValueIsIncorrect), or nil; a
// zero byte is not checked. A value of the version the acceptor does not
// support (sell short, a stop order) is refused by the report instead.
func (s *session) echoable(side, ordType byte) quickfix.MessageRejectError {
	switch {
	case side != 0 && !validSide(side, s.fix42):
		return quickfix.ValueIsIncorrect(tag.Side)
	case ordType != 0 && !validOrdType(ordType, s.fix42):
		return quickfix.ValueIsIncorrect(tag.OrdType)
	}
	return nil
}

// cancelReject answers a refused cancel or replace. why is a *refusal, a
// *risk.Reject, an *orders.Reject or another error of the manager.
func (s *session) cancelReject(acct, clOrdID, orig string, replace bool, why error) {
	ref, ok := why.(*refusal)
	if !ok {
		ref = refusalOf(why)
	}
	cr := cancelReject{clOrdID: clOrdID, origClOrdID: orig, ordStatus: '8', replace: replace,
		reason: cxlRejReason(why), account: acct, text: ref.text}
	if acct != "" {
		if o, ok := s.a.entry.Get(acct, orig); ok {
			cr.orderID, cr.ordStatus = o.OrderID, ordStatus(&o)
		}
	}
	s.a.log.Info("broker: cancel or replace rejected", "broker", s.id.TargetCompID, "clOrdID", clOrdID, "code", ref.code, "text", ref.text)
	s.send(cr.message())
}

// notAllowed is the refusal of a cancel or replace whose account the
// session may not trade or, when it named none, whose order none of the
// session's accounts has.
func (s *session) notAllowed(acct, orig string) error {
	if acct == "" {
		return &orders.Reject{Code: "orders.unknown_order", Text: "no order " + orig + " of the session's accounts", FIXReason: risk.FIXUnknownOrder}
	}
	return &refusal{code: codeAccount, reason: risk.FIXBrokerOption, text: "account not allowed: session " + s.id.TargetCompID + " may not trade account " + acct}
}

// refusalOf maps a refusal of the order manager.
func refusalOf(err error) *refusal {
	var rr *risk.Reject
	var or *orders.Reject
	switch {
	case errors.As(err, &rr):
		return &refusal{code: rr.Code, text: rr.Text, reason: rr.FIXReason}
	case errors.As(err, &or):
		return &refusal{code: or.Code, text: or.Text, reason: or.FIXReason}
	}
	return &refusal{code: codeUnavailable, text: err.Error(), reason: risk.FIXBrokerOption}
}

// cxlRejReason is the CxlRejReason (102) of a refused cancel or replace:
// 1 unknown order, 3 already pending, otherwise 2 (broker option). These
// values exist in FIX 4.2 and 4.4.
func cxlRejReason(err error) int {
	var rr *risk.Reject
	var or *orders.Reject
	switch {
	case errors.As(err, &rr):
		return rr.CxlRejReason()
	case errors.As(err, &or) && or.Code == orders.CodeUnknownOrder:
		return 1
	case errors.As(err, &or) && or.Code == orders.CodeRequestPending:
		return 3 // already pending: the manager checks this before risk does
	}
	return 2
}

// Error makes a refusal usable where the manager's errors are.
func (r *refusal) Error() string { return r.code + ": " + r.text }

// possResend reports whether m is flagged as a possible duplicate:
// PossDupFlag (43) or PossResend (97).
func possResend(m *quickfix.Message) bool {
	d, r := fix.PossDup(m)
	return d || r
}

// echo returns an identifier to echo in a report: "" stays "" (omitted),
// an invalid one becomes fix.EchoID's placeholder.
func echo(id string, max int) string {
	if id == "" {
		return ""
	}
	return fix.EchoID(id, max)
}

// printable renders a one-character field for a Text: as it is when it is
// a printable ASCII character, else quoted.
func printable(c byte) string {
	if c > ' ' && c <= '~' {
		return string(c)
	}
	return strconv.QuoteRune(rune(c))
}

package fix

import (
	"strings"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// app is the quickfix.Application of an Upstream. quickfix calls it from
// the session goroutine, except ToApp and ToAdmin for messages submitted
// by the pacer, which run on the pacer goroutine.
type app struct{ u *Upstream }

var _ quickfix.Application = app{}

func (a app) OnCreate(quickfix.SessionID) {}
func (a app) OnLogon(quickfix.SessionID)  { a.u.onLogon() }
func (a app) OnLogout(quickfix.SessionID) { a.u.onLogout() }

// ToAdmin follows every ResendRequest the session sends with a probe
// (ProbeAfter), and reports a Logout quickfix sends because the
// upstream's sequence numbers went back (onSeqTooLow).
func (a app) ToAdmin(m *quickfix.Message, _ quickfix.SessionID) {
	a.u.pacer.sending(m)
	if ProbeAfter(m) {
		_ = a.u.pacer.enqueue(newProbe()) // a full queue skips it; the periodic probe follows
	}
	if text, ok := SeqTooLow(m); ok {
		a.u.onSeqTooLow(text)
	}
}

// SeqTooLow reports whether m is the Logout quickfix sends when the
// counterparty's MsgSeqNum is below the expected one (the counterparty
// started again from 1, or lost messages), and returns its Text. FIX has
// no way back from that but an agreement on the numbers.
func SeqTooLow(m *quickfix.Message) (string, bool) {
	if !m.IsMsgTypeOf("5") {
		return "", false
	}
	text, _ := m.Body.GetString(tag.Text)
	return text, strings.HasPrefix(text, "MsgSeqNum too low")
}

// ToApp lets every application message go, including resends (which
// quickfix marks PossDupFlag=Y; the upstream deduplicates on ClOrdID),
// except the resend of an OrderStatusRequest (35=H), which quickfix then
// gap-fills: a status request is a question of its moment, and its late
// copy's answer ("unknown order", given before a later PossResend of the
// order arrives) would end an order that is still on its way. Whoever
// needs a status asks again: one this run sent is queued afresh, behind
// the resend (askAgain). It records the MsgSeqNum of a request being
// submitted (see recordSent).
func (a app) ToApp(m *quickfix.Message, _ quickfix.SessionID) error {
	a.u.pacer.sending(m)
	if dup, _ := PossDup(m); dup && m.IsMsgTypeOf("H") {
		a.u.askAgain(m)
		return quickfix.ErrDoNotSend
	}
	a.u.recordSent(m)
	return nil
}

// FromAdmin and FromApp tell the pacer of every message (a ResendRequest
// holds its submissions while quickfix serves it: see pacer). A
// ResendRequest that follows lost messages queues a probe
// (gapBeforeResendRequest).
func (a app) FromAdmin(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	t, err := m.Header.GetBytes(tag.MsgType)
	a.u.pacer.received(err == nil && string(t) == "2")
	if err != nil || len(t) != 1 {
		return nil
	}
	switch t[0] {
	case '2': // ResendRequest
		a.u.gapBeforeResendRequest(m)
	case '0': // Heartbeat: the answer to one of our probes?
		if id, err := m.Body.GetBytes(tag.TestReqID); err == nil {
			if d, ok := probeRTT(id, time.Now()); ok {
				a.u.observeRTT(d)
			}
		}
	case '5': // Logout
		text, _ := m.Body.GetString(tag.Text)
		a.u.onUpstreamLogout(text)
	case '3': // session-level Reject of something we sent
		r, ok := decodeReject(m, true, &a.u.sent)
		a.u.log.Warn("fix: upstream rejected a message", "ref_seq_num", r.RefSeqNum, "ref_msg_type", r.MsgType,
			"clOrdID", r.ClOrdID, "reason", r.ReasonName(), "reason_code", r.Reason, "text", r.Text)
		if ok {
			a.u.handler.OnReject(a.u.cfg.Name, r)
		}
	}
	return nil
}

func (a app) FromApp(m *quickfix.Message, _ quickfix.SessionID) quickfix.MessageRejectError {
	a.u.pacer.received(false)
	t, err := m.Header.GetBytes(tag.MsgType)
	if err != nil {
		return err
	}
	switch string(t) {
	case "8":
		er, rej := decodeExecReport(m)
		if rej != nil {
			a.u.log.Error("fix: bad execution report", "err", rej, "msg", m.String())
			return rej
		}
		normalize(&er, m)
		er.SeqNum, er.Period = seqNum(m), a.u.period.Load()
		a.u.handler.OnExecReport(a.u.cfg.Name, er)
	case "9":
		r, rej := decodeCancelReject(m)
		if rej != nil {
			a.u.log.Error("fix: bad cancel reject", "err", rej, "msg", m.String())
			return rej
		}
		r.SeqNum, r.Period = seqNum(m), a.u.period.Load()
		r.PossDup, _ = PossDup(m)
		a.u.handler.OnCancelReject(a.u.cfg.Name, r)
	case "j":
		r, ok := decodeReject(m, false, &a.u.sent)
		a.u.log.Warn("fix: upstream business reject", "ref_seq_num", r.RefSeqNum, "ref_msg_type", r.MsgType,
			"clOrdID", r.ClOrdID, "reason", r.ReasonName(), "reason_code", r.Reason, "text", r.Text)
		if ok {
			a.u.handler.OnReject(a.u.cfg.Name, r)
		}
	default:
		return quickfix.UnsupportedMessageType()
	}
	return nil
}

package broker

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/refdata"
)

// app is the acceptor's quickfix.Application. quickfix calls it on each
// session's goroutine, except ToApp and ToAdmin for the messages the pacer
// submits, which run on the pacer's goroutine.
type app struct{ a *Acceptor }

var _ quickfix.Application = app{}

// OnCreate implements quickfix.Application.
func (app) OnCreate(quickfix.SessionID) {}

// OnLogon implements quickfix.Application: queued reports start to flow.
func (x app) OnLogon(sid quickfix.SessionID) {
	s := x.a.session(sid)
	if s == nil {
		return
	}
	s.loggedOn.Store(true)
	s.restate() // queued behind what the pacer holds for the session
	x.a.pacer.OnLogon(sid)
	x.a.m.sessionUp.WithLabelValues(s.id.TargetCompID).Set(1)
	x.a.log.Info("broker: logged on", "broker", s.id.TargetCompID, "begin_string", s.id.BeginString)
}

// OnLogout implements quickfix.Application. quickfix also calls it when a
// connection that never logged on ends; only the end of a logged-on
// session is reported to the order manager, which unregisters the
// session's sink there: it is registered again at once, so later reports
// queue for the next logon.
func (x app) OnLogout(sid quickfix.SessionID) {
	s := x.a.session(sid)
	if s == nil {
		return
	}
	x.a.pacer.OnLogout(sid)
	if !s.loggedOn.Swap(false) {
		return
	}
	x.a.m.sessionUp.WithLabelValues(s.id.TargetCompID).Set(0)
	n := x.a.entry.SessionEnded(s.src) // the sink stays registered
	x.a.log.Info("broker: logged out", "broker", s.id.TargetCompID, "cancels_on_disconnect", n)
}

// ToAdmin implements quickfix.Application: a ResendRequest is followed by
// a TestRequest (see resend.go), and a Logout for a MsgSeqNum below the
// expected one is a refused logon (reason sequence), logged as an error:
// FIX cannot recover from it by itself.
func (x app) ToAdmin(m *quickfix.Message, sid quickfix.SessionID) {
	s := x.a.session(sid)
	if s == nil {
		return
	}
	x.a.pacer.Sending(sid, m)
	s.afterAdmin(m)
	if text, ok := fix.SeqTooLow(m); ok {
		x.a.refusals.Refuse(reasonSequence, nil, s.id.TargetCompID, text)
		x.a.log.Error("broker: the broker's sequence numbers went back; it cannot log on until they are reconciled: "+
			"if its engine starts each period from 1, configure the session's schedule (brokers.sessions[].schedule), else agree the numbers with the broker",
			"broker", s.id.TargetCompID, "text", text)
	}
}

// ToApp implements quickfix.Application. Returning nil also lets quickfix
// resend stored reports (PossDupFlag=Y) on a ResendRequest; the first of
// them releases the session's reports held meanwhile (fix.AcceptorPacer).
// A report handed over is stored by quickfix: it leaves session.queued.
func (x app) ToApp(m *quickfix.Message, sid quickfix.SessionID) error {
	x.a.pacer.Sending(sid, m)
	if s := x.a.session(sid); s != nil && s.queued != nil {
		if mt, err := m.Header.GetBytes(tag.MsgType); err == nil && string(mt) == "8" {
			if id, err := m.Body.GetBytes(tag.ExecID); err == nil {
				s.noteSending(id)
			}
		}
	}
	return nil
}

// FromAdmin implements quickfix.Application: a Logon must carry the
// session's Password (554).
func (x app) FromAdmin(m *quickfix.Message, sid quickfix.SessionID) quickfix.MessageRejectError {
	s := x.a.session(sid)
	if s == nil {
		return quickfix.RejectLogon{Text: textUnknownSession}
	}
	mt, err := m.Header.GetBytes(tag.MsgType)
	x.a.pacer.Received(sid, err == nil && string(mt) == "2") // a ResendRequest holds the reports until quickfix serves it
	if err != nil || len(mt) != 1 {
		return nil
	}
	switch mt[0] {
	case 'A':
		return s.checkLogon(m)
	case '2':
		s.gapBeforeResendRequest(m)
	case '5', '3':
		// The broker's Text is logged cut and cleaned (refdata.CleanText).
		d := fix.NewFieldReader(m, fix.EmptyAllowed)
		text := refdata.CleanText(d.Str(tag.Text, false))
		if mt[0] == '5' {
			x.a.log.Info("broker: logout received", "broker", s.id.TargetCompID, "text", text)
			break
		}
		x.a.log.Warn("broker: the broker rejected a message", "broker", s.id.TargetCompID,
			"ref_seq_num", d.Int(tag.RefSeqNum, false), "text", text)
	}
	return nil
}

// FromApp implements quickfix.Application: order messages go to the order
// manager.
func (x app) FromApp(m *quickfix.Message, sid quickfix.SessionID) quickfix.MessageRejectError {
	s := x.a.session(sid)
	if s == nil {
		return quickfix.UnsupportedMessageType()
	}
	x.a.pacer.Received(sid, false)
	return s.handle(m)
}

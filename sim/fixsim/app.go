package fixsim

import (
	"github.com/quickfixgo/quickfix"
)

// app is the quickfix Application of every generation. quickfix calls it
// on each session's goroutine; FromApp takes the venue's mutex, the other
// callbacks take no lock.
type app struct{ a *Acceptor }

var _ quickfix.Application = app{}

// OnCreate implements quickfix.Application.
func (app) OnCreate(quickfix.SessionID) {}

// OnLogon implements quickfix.Application.
func (x app) OnLogon(sid quickfix.SessionID) {
	if p := x.a.v.party(sid); p != nil {
		p.loggedOn.Store(true)
	}
	x.a.log.Info("fixsim: logon", "session", sid.TargetCompID, "line", x.a.activeLine(sid))
}

// OnLogout implements quickfix.Application.
func (x app) OnLogout(sid quickfix.SessionID) {
	if p := x.a.v.party(sid); p != nil {
		p.loggedOn.Store(false)
	}
	x.a.log.Info("fixsim: logout", "session", sid.TargetCompID)
}

// ToAdmin implements quickfix.Application.
func (app) ToAdmin(*quickfix.Message, quickfix.SessionID) {}

// ToApp implements quickfix.Application. Returning nil also lets quickfix
// resend stored reports (PossDup) on a ResendRequest.
func (app) ToApp(*quickfix.Message, quickfix.SessionID) error { return nil }

// FromAdmin implements quickfix.Application.
func (app) FromAdmin(*quickfix.Message, quickfix.SessionID) quickfix.MessageRejectError {
	return nil
}

// FromApp implements quickfix.Application: order messages go to the venue.
func (x app) FromApp(m *quickfix.Message, sid quickfix.SessionID) quickfix.MessageRejectError {
	p := x.a.v.party(sid)
	if p == nil {
		return quickfix.UnsupportedMessageType()
	}
	return x.a.v.handle(p, m)
}

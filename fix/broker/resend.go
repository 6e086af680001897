package broker

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// resendProbeID is the TestReqID of the TestRequest that follows each
// ResendRequest.
const resendProbeID = "resend"

// The acceptor follows every ResendRequest a session sends with a
// TestRequest (resendProbe), against quickfix's loss of a message that
// arrives ahead of a logon resend's gap fill: see fix.ProbeAfter. A broker
// that sends an order as soon as it is logged on, before its answer to the
// ResendRequest (QuickFIX/Go's initiator does), would otherwise lose it
// until its next Heartbeat.

// resendProbe returns the TestRequest sent after a ResendRequest.
func resendProbe() *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "1")
	m.Body.SetString(tag.TestReqID, resendProbeID)
	return m
}

// afterAdmin is told of each session-level message quickfix is about to
// send for s (Application.ToAdmin). quickfix calls it for a ResendRequest
// on the session goroutine while it holds its send lock, having numbered
// the message; afterAdmin only queues on the pacer, whose goroutine submits
// to quickfix once the lock is released, so the TestRequest is numbered and
// sent after the ResendRequest.
func (s *session) afterAdmin(m *quickfix.Message) {
	if fix.ProbeAfter(m) {
		s.send(resendProbe())
	}
}

// gapBeforeResendRequest is told of each ResendRequest the broker sends,
// before quickfix serves it (FromAdmin, on the session goroutine), and
// follows one that comes after lost messages (fix.ResendAfterGap: a
// garbled frame discarded, see doc.go) with a TestRequest, so the lost
// order is asked for at once instead of waiting for the broker's next
// message, up to HeartBtInt. The TestRequest is queued on the pacer, which
// the ResendRequest holds until quickfix has served it
// (fix.AcceptorPacer).
func (s *session) gapBeforeResendRequest(m *quickfix.Message) {
	if fix.ResendAfterGap(m, s.id) {
		s.send(resendProbe())
	}
}

package broker

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// resendProbeID is the TestReqID of the TestRequest that follows each
// ResendRequest.
const resendProbeID = "resend"

// A broker's Logon whose MsgSeqNum is above the one the session expects
// (its engine sent messages the gateway never processed: refused Logons,
// messages lost in a crash) puts the quickfix session in a resend state: it
// answers the Logon, sends a ResendRequest and waits for the gap to be
// filled. quickfix v0.9.11 (and its master as of this writing) builds that
// state without a stash, and the state stashes each message that arrives
// ahead of the gap fill in a copy of itself that it then discards: the
// message is dropped, its MsgSeqNum is never processed. A broker that sends
// an order as soon as it is logged on, before its answer to the
// ResendRequest, and whose answer does not cover the order (QuickFIX/Go's
// initiator, when the order is queued while it handles the ResendRequest),
// thus lost the order until its next message, a Heartbeat up to HeartBtInt
// later, showed the gap and a second ResendRequest brought the order back
// (PossDupFlag).
//
// The acceptor follows every ResendRequest a session sends with a
// TestRequest (resendProbe): FIX engines answer in order, so the Heartbeat
// answering it arrives after the broker's whole answer to the
// ResendRequest, when the session has left that resend state, and a message
// it dropped shows as a gap at once and is recovered the usual way, within
// a round trip. Where nothing was dropped the Heartbeat is simply in
// sequence. A ResendRequest sent on a gap later in a session (quickfix's
// stash works there) gets one too; it costs a Heartbeat.

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
	if m.IsMsgTypeOf("2") {
		s.send(resendProbe())
	}
}

package fix

import (
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// ProbeAfter reports whether m, a session-level message quickfix is about
// to send (Application.ToAdmin), must be followed by a TestRequest: a
// ResendRequest. Both of the gateway's engines (the upstream sessions and
// the broker acceptor) queue one on their pacer when it says so.
//
// Why: a peer's Logon whose MsgSeqNum is above the one the session expects
// (a refused Logon, messages lost in a crash, a takeover whose replicated
// target sequence number lagged) puts the quickfix session in a resend
// state: it answers the Logon, sends a ResendRequest and waits for the gap
// to be filled. quickfix v0.9.11 (and its master as of this writing) builds
// that state without a stash, and the state stashes each message that
// arrives ahead of the gap fill in a copy of itself that it then discards:
// the message is dropped, its MsgSeqNum never processed, until the peer's
// next message (a Heartbeat, up to HeartBtInt later) shows the gap and a
// second ResendRequest brings it back (PossDupFlag). FIX engines answer in
// order, so the Heartbeat answering a TestRequest sent right after the
// ResendRequest arrives after the peer's whole answer to it, when the
// session has left that state: a message it dropped shows as a gap at once
// and is recovered within a round trip. Where nothing was dropped the
// Heartbeat is simply in sequence; it costs one Heartbeat.
func ProbeAfter(m *quickfix.Message) bool { return m.IsMsgTypeOf("2") }

// ResendAfterGap reports whether m, a ResendRequest the counterparty of
// session sid sent, is numbered above the next MsgSeqNum the session
// expects: it follows messages that never arrived (a garbled frame
// discarded, see InboundConn). quickfix v0.9.11 serves such a
// ResendRequest and keeps expecting the lost messages, but asks for
// nothing, so they would wait for the counterparty's next message, up to
// HeartBtInt later; the caller follows it with a TestRequest, whose
// Heartbeat shows the gap, and quickfix asks for the resend. Call it from
// Application.FromAdmin (the session goroutine).
func ResendAfterGap(m *quickfix.Message, sid quickfix.SessionID) bool {
	seq, rerr := m.Header.GetInt(tag.MsgSeqNum)
	if rerr != nil {
		return false
	}
	next, err := quickfix.GetExpectedTargetNum(sid)
	return err == nil && seq > next
}

// gapBeforeResendRequest is told of each ResendRequest the upstream sends,
// before quickfix serves it (FromAdmin, on the session goroutine), and
// queues a probe (TestRequest) after one that follows lost messages
// (ResendAfterGap): an ExecutionReport lost on the way is asked for at
// once. The pacer never blocks; the ResendRequest holds it until quickfix
// serves it (received), so the probe goes out after the resend. A full
// queue skips it; the periodic probe follows.
func (u *Upstream) gapBeforeResendRequest(m *quickfix.Message) {
	if ResendAfterGap(m, u.sid) {
		_ = u.pacer.enqueue(newProbe())
	}
}

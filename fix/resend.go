package fix

import "github.com/quickfixgo/quickfix"

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

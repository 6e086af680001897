package broker

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// A broker is authenticated in three layers, each answering at the
// earliest point that knows enough:
//
//  1. filterListener: a connection from an address no session allows is
//     closed before quickfix reads a byte; the others must send their
//     first message within firstMessageTimeout.
//  2. validator (quickfix's ConnectionValidator, called with the session
//     id of the connection's first message): CompIDs and BeginString that
//     name no session get a Logout saying so; a session's connection from
//     an address that session does not allow is closed without a word.
//  3. checkLogon (FromAdmin of the Logon): a wrong or missing Password
//     (554) is refused with a Logout "bad password" (quickfix's
//     RejectLogon). The Password is checked before ResetSeqNumFlag is
//     honoured, so a refused Logon cannot reset the session.
//
// Every refusal is logged and counted (gateway_broker_logon_rejects_total).

// acceptRetry is the pause after an Accept error other than a closed
// listener (out of file descriptors): quickfix stops accepting for good on
// any error, so the filter retries instead.
const acceptRetry = 50 * time.Millisecond

// logoutWriteTimeout bounds writing the Logout to an unknown session.
const logoutWriteTimeout = time.Second

// firstMessageTimeout bounds the wait for a connection's first FIX message
// (quickfix reads it with no deadline: a connection sending nothing, or
// bytes that never make a message, would hold its goroutine forever). The
// validator lifts the deadline once the message names an allowed session.
const firstMessageTimeout = 10 * time.Second

// filterListener closes connections from addresses no session allows.
// Accept is called by quickfix's accept goroutine only.
type filterListener struct {
	net.Listener
	a *Acceptor
}

func (l filterListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil, err
			}
			l.a.log.Warn("broker: accept failed; retrying", "err", err)
			time.Sleep(acceptRetry)
			continue
		}
		if allowedAddr(c.RemoteAddr(), l.a.anyAllowed) {
			_ = c.SetReadDeadline(time.Now().Add(firstMessageTimeout))
			return c, nil
		}
		l.a.refused(reasonAddress, c.RemoteAddr(), "", "no session allows the address")
		c.Close()
	}
}

// validator checks a connection's session and source address; quickfix
// calls Validate on the connection's goroutine before the session sees the
// Logon. sid is the session as the acceptor names it (SenderCompID is
// ours).
type validator struct{ a *Acceptor }

var _ quickfix.ConnectionValidator = validator{}

func (v validator) Validate(c net.Conn, sid quickfix.SessionID) error {
	s := v.a.session(sid)
	if s == nil || sid != s.id {
		// Unknown CompIDs or BeginString, or Sub/Location IDs, which no
		// configured session has.
		v.a.refused(reasonSession, c.RemoteAddr(), sid.TargetCompID, "unknown session "+sid.String())
		writeLogout(c, sid, textUnknownSession)
		return errUnknownSession
	}
	if !allowedAddr(c.RemoteAddr(), s.spec.allowed) {
		v.a.refused(reasonAddress, c.RemoteAddr(), sid.TargetCompID, "address not allowed for the session")
		return errAddress
	}
	_ = c.SetReadDeadline(time.Time{})
	return nil
}

var (
	errUnknownSession = errors.New("broker: unknown session")
	errAddress        = errors.New("broker: source address not allowed")
)

// writeLogout answers a connection whose first message names no session
// with a Logout carrying the reason, as that session would have; quickfix
// then closes the connection. The Logout is the connection's only message,
// so its MsgSeqNum is 1.
func writeLogout(c net.Conn, sid quickfix.SessionID, text string) {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.BeginString, sid.BeginString)
	m.Header.SetString(tag.MsgType, "5")
	m.Header.SetString(tag.SenderCompID, sid.SenderCompID)
	m.Header.SetString(tag.TargetCompID, sid.TargetCompID)
	m.Header.SetInt(tag.MsgSeqNum, 1)
	m.Header.SetField(tag.SendingTime, quickfix.FIXUTCTimestamp{Time: time.Now().UTC(), Precision: quickfix.Millis})
	m.Body.SetString(tag.Text, text)
	_ = c.SetWriteDeadline(time.Now().Add(logoutWriteTimeout))
	_, _ = c.Write(m.Bytes())
}

// checkLogon verifies the Password of a Logon. It runs on the session
// goroutine (FromAdmin).
func (s *session) checkLogon(m *quickfix.Message) quickfix.MessageRejectError {
	var got []byte
	if m.Body.Has(tag.Password) {
		got, _ = m.Body.GetBytes(tag.Password)
	}
	sum := sha256.Sum256(got)
	if got == nil || subtle.ConstantTimeCompare(sum[:], s.spec.password[:]) != 1 {
		s.a.refused(reasonPassword, nil, s.spec.id.TargetCompID, textBadPassword)
		return quickfix.RejectLogon{Text: textBadPassword}
	}
	return nil
}

// refused logs and counts a refused connection or logon. addr may be nil.
func (a *Acceptor) refused(reason string, addr net.Addr, broker, detail string) {
	a.m.logonRejects.WithLabelValues(reason).Inc()
	args := []any{"reason", reason, "detail", detail}
	if addr != nil {
		args = append(args, "remote", addr.String())
	}
	if broker != "" {
		args = append(args, "broker", broker)
	}
	a.log.Warn("broker: connection refused", args...)
}

package broker

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/refdata"
)

// A broker is authenticated before quickfix sees a byte of its
// connection, so that a refused logon leaves the session's sequence
// numbers exactly as they were (quickfix's own refusal, RejectLogon,
// stores a Logout and counts the refused Logon's MsgSeqNum as received:
// the real broker would then be refused "MsgSeqNum too low"):
//
//  1. filterListener: a connection from an address no session allows is
//     closed before anything is read (behind load balancers, the address
//     is the broker's, from the PROXY protocol header; see
//     netsec.ProxyListener). The others are wrapped in TLS, when
//     configured, then in a fix.InboundConn: every frame is verified
//     (BodyLength, CheckSum) and bounded (MaxMessageBytes), and the first
//     must be a Logon, within LogonTimeout of the accept (the TLS
//     handshake included). A failed handshake (an old version; no client
//     certificate, or one no configured CA signs, under mutual TLS)
//     closes the connection.
//  2. logonGate.check, given that first frame: CompIDs and BeginString
//     that name no session get a Logout "unknown session"; a session's
//     connection from an address the session does not allow is closed
//     without a word; under mutual TLS, a client certificate that is not
//     the session's (client_cert_cn, client_cert_spki_sha256: another
//     broker's) gets a Logout "client certificate is not this session's";
//     a wrong or missing Password (554) gets a Logout "bad password". Only
//     a Logon that passes reaches quickfix.
//  3. validator (quickfix's ConnectionValidator) and checkLogon (FromAdmin)
//     check the session, address and password again: they refuse nothing
//     the gate let through, and stay as a second line.
//
// The Logout of a refusal is written by the gate, outside the session:
// MsgSeqNum 1, not stored, not counted. What the refused engine does with
// it: QuickFIX/Go ignores any message but a Logon while it waits for the
// answer to its own; QuickFIX/J (since QFJ-750) counts a Logout only when
// its MsgSeqNum is the one it expects, which 1 is not once a session has
// begun; QuickFIX C++ counts any Logout, so a broker on that engine that
// itself sent the wrong password expects one more than the gateway sends
// at its next logon, and must log on with ResetSeqNumFlag (or have its
// number set) once its password is fixed. The alternative, a Logout
// stored and counted on the session, would let any party that can reach
// the port move the session's numbers; silence would tell a broker
// nothing. MsgSeqNum 1 also tells an unauthenticated party nothing of the
// session's traffic. A connection refused for its address gets no reply.
//
// Every refusal is logged and counted (gateway_broker_logon_rejects_total).

// acceptRetry is the pause after an Accept error other than a closed
// listener (out of file descriptors): quickfix stops accepting for good on
// any error, so the filter retries instead.
const acceptRetry = 50 * time.Millisecond

// logoutWriteTimeout bounds writing the Logout of a refusal.
const logoutWriteTimeout = time.Second

// filterListener closes connections from addresses no session allows and
// wraps the others in a verifying fix.InboundConn with a logon gate.
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
		if !l.a.anyAllowed.Allows(c.RemoteAddr()) {
			l.a.refused(ReasonAddress, c.RemoteAddr(), "", "no session allows the address")
			c.Close()
			continue
		}
		g := &logonGate{a: l.a, raw: c}
		if l.a.tls != nil {
			g.tls = tls.Server(c, l.a.tls.Config())
			g.raw = &handshakeConn{Conn: g.tls, a: l.a}
		}
		ic := fix.NewInboundConn(g.raw, fix.InboundConfig{
			MaxFrameBytes: l.a.cfg.MaxMessageBytes,
			LogonTimeout:  l.a.cfg.LogonTimeout,
			CheckLogon:    g.check,
			OnEvent:       g.event,
		})
		if l.a.connHook != nil {
			l.a.connHook(ic)
		}
		return ic, nil
	}
}

// logonGate checks a connection's Logon and reports what its InboundConn
// discards. Its methods run on the goroutine reading the connection
// (quickfix's), one at a time; broker is set by check and read by event
// on that goroutine only.
type logonGate struct {
	a      *Acceptor
	raw    net.Conn  // the accepted connection (TLS over it), for refusals' Logouts
	tls    *tls.Conn // the TLS connection, or nil
	broker string    // TargetCompID of the session, once logged on
}

// handshakeConn is a broker's TLS connection: its first Read completes
// the handshake and reports a failure. Read is called by the reading
// goroutine only.
type handshakeConn struct {
	*tls.Conn
	a    *Acceptor
	done bool
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if !c.done {
		c.done = true
		if err := c.Conn.Handshake(); err != nil {
			// A handshake cut by the logon timeout is counted as such by
			// the InboundConn.
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				c.a.refused(reasonTLS, c.RemoteAddr(), "", "TLS handshake: "+err.Error())
			}
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

// logonFields are the fields of a Logon the gate reads: the first
// occurrence of each, but HeartBtInt's last.
type logonFields struct {
	begin, sender, target, password []byte
	hasPassword, subOrLocation      bool
	// repeated: a field that names or authenticates the session (8, 49,
	// 56, 554, Sub and Location IDs) occurs more than once. quickfix's
	// parser keeps the last occurrence, the gate reads the first: such a
	// Logon could be checked as one session and served as another.
	repeated bool
	// heartBtInt is HeartBtInt (108), if present: its last occurrence,
	// the one quickfix's parser keeps and echoes.
	heartBtInt    []byte
	hasHeartBtInt bool
}

func readLogon(frame []byte) logonFields {
	var f logonFields
	seen := map[int]bool{}
	fix.ScanFields(frame, func(t int, v []byte) bool {
		if seen[t] {
			switch t {
			case 8, 49, 56, 554, 50, 57, 142, 143:
				f.repeated = true
			case 108:
				f.heartBtInt = v
			}
			return true
		}
		seen[t] = true
		switch t {
		case 8:
			f.begin = v
		case 49:
			f.sender = v
		case 56:
			f.target = v
		case 554:
			f.password, f.hasPassword = v, true
		case 108:
			f.heartBtInt, f.hasHeartBtInt = v, true
		case 50, 57, 142, 143: // SenderSubID, TargetSubID, SenderLocationID, TargetLocationID
			f.subOrLocation = true
		}
		return true
	})
	return f
}

// check is the InboundConn's CheckLogon: the connection's first frame, a
// verified Logon. It refuses (writing a Logout where one is due) or lets
// the Logon through to quickfix.
func (g *logonGate) check(frame []byte) error {
	f := readLogon(frame)
	// The session as the acceptor names it: SenderCompID is ours.
	sid := quickfix.SessionID{BeginString: string(f.begin), SenderCompID: string(f.target), TargetCompID: string(f.sender)}
	remote := g.raw.RemoteAddr()
	s := g.a.session(sid)
	if s == nil || sid != s.id || f.subOrLocation || f.repeated {
		// Unknown CompIDs or BeginString, or Sub/Location IDs, which no
		// configured session has, or a field naming or authenticating the
		// session given twice (checked here as one session, it would be
		// served as another). CompIDs that could not be any session's
		// are not echoed: the connection just closes.
		sender := fix.EchoID(sid.SenderCompID, refdata.MaxCompIDLen)
		target := fix.EchoID(sid.TargetCompID, refdata.MaxCompIDLen)
		g.a.refused(reasonSession, remote, target, "unknown session "+sid.BeginString+":"+sender+"->"+target)
		if sender == sid.SenderCompID && target == sid.TargetCompID {
			writeLogout(g.raw, sid, textUnknownSession)
		}
		return errUnknownSession
	}
	if !allowedAddr(remote, s.spec.allowed) {
		g.a.refused(ReasonAddress, remote, s.id.TargetCompID, "address not allowed for the session")
		return errAddress
	}
	if g.tls != nil && g.a.tls.MutualTLS() {
		var cert *x509.Certificate
		if pc := g.tls.ConnectionState().PeerCertificates; len(pc) > 0 {
			cert = pc[0]
		}
		if !s.spec.certOK(cert) {
			detail := "no client certificate"
			if cert != nil {
				detail = "client certificate " + cert.Subject.String() + " is not the session's"
			}
			g.a.refused(reasonCertificate, remote, s.id.TargetCompID, detail)
			writeLogout(g.raw, s.id, textCertificate)
			return errCertificate
		}
	}
	if !s.passwordOK(f.password, f.hasPassword) {
		g.a.refused(reasonPassword, remote, s.id.TargetCompID, textBadPassword)
		writeLogout(g.raw, s.id, textBadPassword)
		return errPassword
	}
	if g.a.cfg.HeartBtInt == 0 && (!f.hasHeartBtInt || !heartBtIntOK(f.heartBtInt)) {
		// quickfix would echo 0 or a negative value (0 for a Logon
		// without one) and drop the session at once ("Session
		// Timeout"), or keep a hung broker's session logged on for days,
		// refusing its reconnections.
		detail := "no HeartBtInt (108)"
		if f.hasHeartBtInt {
			detail = fmt.Sprintf("HeartBtInt (108) %q", fix.EchoID(string(f.heartBtInt), 16))
		}
		g.a.refused(reasonHeartBtInt, remote, s.id.TargetCompID, detail)
		writeLogout(g.raw, s.id, textHeartBtInt)
		return errHeartBtInt
	}
	g.broker = s.id.TargetCompID
	return nil
}

// heartBtIntOK reports whether v, a Logon's HeartBtInt (108), is a whole
// number of seconds from 1 to MaxHeartBtInt.
func heartBtIntOK(v []byte) bool {
	n, err := strconv.Atoi(string(v))
	return err == nil && n >= 1 && time.Duration(n)*time.Second <= MaxHeartBtInt
}

// event is the InboundConn's OnEvent: a frame discarded (garbled, counted
// in gateway_broker_garbled_total) or a connection closed before its
// Logon (counted as a logon reject). Message contents are logged only
// below Info, with passwords masked.
func (g *logonGate) event(ev fix.InboundEvent) {
	a := g.a
	switch ev.Reason {
	case fix.ReasonNotLogon:
		a.m.logonRejects.WithLabelValues(reasonNotLogon).Inc()
	case fix.ReasonLogonTimeout:
		a.m.logonRejects.WithLabelValues(reasonTimeout).Inc()
	default:
		a.m.garbled.WithLabelValues(ev.Reason).Inc()
	}
	args := []any{"reason", ev.Reason, "bytes", ev.Bytes, "closed", ev.Closed, "remote", g.raw.RemoteAddr().String()}
	if g.broker != "" {
		args = append(args, "broker", g.broker)
	}
	msg := "broker: garbled message discarded"
	if ev.Closed {
		msg = "broker: connection closed"
	}
	a.log.Warn(msg, args...)
	if len(ev.Data) > 0 && a.log.Enabled(context.Background(), slog.LevelDebug) {
		a.log.Debug(msg, append(args, "data", fix.RenderMessage(ev.Data))...)
	}
}

// validator checks a connection's session and source address; quickfix
// calls Validate on the connection's goroutine before the session sees the
// Logon. sid is the session as the acceptor names it (SenderCompID is
// ours). The logon gate has made the same checks on the same Logon: this
// refuses nothing the gate let through.
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
		v.a.refused(ReasonAddress, c.RemoteAddr(), sid.TargetCompID, "address not allowed for the session")
		return errAddress
	}
	return nil
}

var (
	errUnknownSession = errors.New("broker: unknown session")
	errAddress        = errors.New("broker: source address not allowed")
	errPassword       = errors.New("broker: bad password")
	errCertificate    = errors.New("broker: client certificate not the session's")
	errHeartBtInt     = errors.New("broker: HeartBtInt out of range")
)

// writeLogout answers a refused Logon with a Logout carrying the reason,
// outside the session: MsgSeqNum 1, not stored (see above). The caller
// then closes the connection.
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

// passwordOK compares a Logon's Password with the session's in constant
// time. Safe from any goroutine.
func (s *session) passwordOK(pw []byte, present bool) bool {
	sum := sha256.Sum256(pw)
	return present && subtle.ConstantTimeCompare(sum[:], s.spec.password[:]) == 1
}

// checkLogon verifies the Password of a Logon. It runs on the session
// goroutine (FromAdmin). The logon gate has verified the same Logon, so it
// refuses nothing in practice; a refusal here would be quickfix's
// RejectLogon, which moves the session's sequence numbers.
func (s *session) checkLogon(m *quickfix.Message) quickfix.MessageRejectError {
	var got []byte
	if m.Body.Has(tag.Password) {
		got, _ = m.Body.GetBytes(tag.Password)
	}
	if !s.passwordOK(got, got != nil) {
		s.a.refused(reasonPassword, nil, s.spec.id.TargetCompID, textBadPassword)
		return quickfix.RejectLogon{Text: textBadPassword}
	}
	return nil
}

// refused logs and counts a refused connection or logon. addr may be nil.
func (a *Acceptor) refused(reason string, addr net.Addr, broker, detail string) {
	a.refusals.Refuse(reason, addr, broker, detail)
}

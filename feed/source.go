package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"sgw/feed/itch"
	"sgw/feed/soupbin"
	"sgw/netsec"
)

// sourceState is where a source is in its connection life cycle.
type sourceState int32

const (
	stateDown    sourceState = iota // not connected; reconnects at retryAt
	stateDialing                    // TCP connect or TLS (TLCP) handshake under way
	stateLogin                      // Login Request sent, awaiting the answer
	stateLive                       // Login Accepted; streaming
	stateEnded                      // stopped; no reconnect
)

var stateNames = [...]string{"down", "dialing", "login", "live", "ended"}

// String names the state: "down", "dialing", "login", "live" or "ended".
func (s sourceState) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return fmt.Sprintf("state(%d)", int32(s))
	}
	return stateNames[s]
}

// LogValue logs the state by its name: slog's JSON handler would print
// the number otherwise.
func (s sourceState) LogValue() slog.Value { return slog.StringValue(s.String()) }

var _ slog.LogValuer = sourceState(0)

// maxPacket bounds the SoupBinTCP packets a source may send. The largest
// packet of the feed profile is a Debug packet; 4 KiB is generous.
const maxPacket = 4096

// itchHeader is the common header of every ITCH 5.0 message: type, stock
// locate, tracking number and timestamp.
const itchHeader = 11

// link is one connection to a source, whichever transport carries it.
type link interface {
	// send queues b for writing. It is safe from any goroutine and takes
	// ownership of b.
	send(b []byte)
	// close closes the connection; the transport then reports it closed.
	close()
}

// source is one SoupBinTCP session of a feed. Its fields after the mutex are
// guarded by mu; the transport calls onOpen, onData and onClosed, and the
// supervisor calls tick and resync, all from their own goroutines.
type source struct {
	f    *Feed
	idx  int
	name string
	cfg  SourceConfig
	sec  *netsec.ClientSecurity // TLS or TLCP; nil: plain text on gnet
	log  *slog.Logger

	messages atomic.Uint64 // sequenced messages received
	bytes    atomic.Uint64
	errs     errorCounts

	mu       sync.Mutex
	state    sourceState
	gen      uint64 // connection generation; callbacks of older ones are ignored
	link     link
	pos      uint64 // sequence number of the next message on the stream
	asked    uint64 // sequence number the current login requested
	lastRecv time.Time
	lastSend time.Time
	deadline time.Time // login deadline
	retryAt  time.Time
	backoff  time.Duration
	pending  []byte // TLS or TLCP transport: bytes of an unfinished packet
	// carry is how many bytes at the start of the transport's next onData
	// were already seen (an unfinished packet handed back), so that only
	// new bytes are counted and captured.
	carry int
	// heard: since its Login Accepted the source has sent a Server
	// Heartbeat or a message numbered above the one its login asked for
	// (the copy of the last message delivered, LoginFrom): it streams.
	// A login accepted proves nothing more: a hung distributor whose
	// login handler still answers sends nothing after it, and counted as
	// up until its heartbeat timeout it would put an outage off for ever
	// (streaming, Feed.watchOutage).
	heard bool
}

// errorCounts counts a source's errors by reason for metrics.
type errorCounts struct {
	mu sync.Mutex
	m  map[string]uint64
}

func (e *errorCounts) add(reason string) {
	e.mu.Lock()
	if e.m == nil {
		e.m = make(map[string]uint64)
	}
	e.m[reason]++
	e.mu.Unlock()
}

func (e *errorCounts) snapshot() map[string]uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]uint64, len(e.m))
	for k, v := range e.m {
		out[k] = v
	}
	return out
}

// sourceError is a reason to reset a source, with its metrics label.
type sourceError struct {
	reason string // metric label: "protocol", "malformed", "backwards", ...
	err    error
}

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

func protoErr(reason, format string, args ...any) *sourceError {
	return &sourceError{reason: reason, err: fmt.Errorf("%w: %s", ErrProtocol, fmt.Sprintf(format, args...))}
}

// tick runs the source's timers: reconnect after backoff, login timeout,
// heartbeat timeout and the client heartbeat. Called by the supervisor.
func (s *source) tick(ctx context.Context, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch s.state {
	case stateDown:
		if !now.Before(s.retryAt) {
			s.dial(ctx)
		}
	case stateLogin:
		if now.After(s.deadline) {
			s.fail(now, &sourceError{reason: "login_timeout", err: fmt.Errorf("%w: no answer to login", ErrTimeout)})
		}
	case stateLive:
		if now.Sub(s.lastRecv) > s.f.cfg.HeartbeatTimeout {
			s.fail(now, &sourceError{reason: "heartbeat_timeout", err: fmt.Errorf("%w: silent for %v", ErrTimeout, now.Sub(s.lastRecv).Round(time.Millisecond))})
			return
		}
		if now.Sub(s.lastSend) >= s.f.cfg.HeartbeatInterval {
			s.link.send(soupbin.AppendClientHeartbeat(nil))
			s.lastSend = now
		}
	}
}

// isUp reports whether the source is logged in and caught up. Lock held.
func (s *source) isUp() bool {
	return s.state == stateLive && s.f.arb.Lag(s.idx) <= uint64(s.f.cfg.CatchUpLag)
}

// streaming reports whether the source is up (isUp) and heard since
// its login (heard): what Feed.watchOutage counts as a source up. Lock
// held.
func (s *source) streaming() bool {
	return s.heard && s.isUp()
}

// dial starts a connection attempt on its own goroutine. Lock held.
func (s *source) dial(ctx context.Context) {
	s.gen++
	gen := s.gen
	s.state = stateDialing
	go func() {
		dctx, cancel := context.WithTimeout(ctx, s.f.cfg.DialTimeout)
		defer cancel()
		var d net.Dialer
		conn, err := d.DialContext(dctx, "tcp", s.cfg.Addr)
		var sc secureConn
		if err == nil && s.sec != nil {
			sc, err = s.sec.Handshake(dctx, conn)
		}
		if err != nil {
			s.mu.Lock()
			if s.gen == gen && s.state == stateDialing {
				s.fail(time.Now(), &sourceError{reason: "dial", err: fmt.Errorf("feed: dial %s: %w", s.cfg.Addr, err)})
			}
			s.mu.Unlock()
			return
		}
		if sc != nil {
			runSecureLink(s, gen, sc)
			return
		}
		if err := s.f.enroll(conn, s, gen); err != nil {
			s.mu.Lock()
			if s.gen == gen && s.state == stateDialing {
				s.fail(time.Now(), &sourceError{reason: "dial", err: fmt.Errorf("feed: enroll %s: %w", s.cfg.Addr, err)})
			}
			s.mu.Unlock()
		}
	}()
}

// onOpen is called by the transport when connection gen is up. It returns
// the Login Request to send, or nil if the connection is stale.
func (s *source) onOpen(gen uint64, l link) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || s.state != stateDialing {
		return nil
	}
	now := time.Now()
	s.link = l
	s.state = stateLogin
	s.pending = s.pending[:0]
	s.carry = 0
	s.lastRecv, s.lastSend = now, now
	s.deadline = now.Add(s.f.cfg.HeartbeatTimeout)
	req := soupbin.LoginRequest{Username: s.cfg.Username, Password: s.cfg.Password, Session: s.cfg.Session, Sequence: s.f.arb.LoginFrom()}
	s.asked = req.Sequence
	s.f.rec.Open(uint8(s.idx), now.UnixNano(), req.Sequence)
	b, err := soupbin.AppendLoginRequest(nil, req)
	if err != nil { // config validation makes this unreachable
		s.fail(now, &sourceError{reason: "login", err: err})
		return nil
	}
	s.log.Info("feed source connected; logging in", "addr", s.cfg.Addr, "seq", req.Sequence)
	return b
}

// onClosed is called by the transport when connection gen has closed.
func (s *source) onClosed(gen uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || s.state == stateDown || s.state == stateEnded {
		return
	}
	if err == nil {
		err = errors.New("connection closed by peer")
	}
	s.fail(time.Now(), &sourceError{reason: "disconnect", err: fmt.Errorf("feed: %s: %w", s.cfg.Addr, err)})
}

// onData handles bytes from connection gen. It returns how many bytes it
// consumed (whole packets) and whether the connection must be closed.
func (s *source) onData(gen uint64, b []byte, now time.Time) (int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if gen != s.gen || (s.state != stateLogin && s.state != stateLive) {
		return len(b), true
	}
	recv := now.UnixNano()
	if fresh := b[min(s.carry, len(b)):]; len(fresh) > 0 {
		s.bytes.Add(uint64(len(fresh)))
		s.f.rec.Raw(uint8(s.idx), recv, fresh)
	}
	s.lastRecv = now
	used := 0
	for used < len(b) {
		p, n, err := soupbin.Parse(b[used:], maxPacket)
		if err != nil {
			s.fail(now, &sourceError{reason: "framing", err: fmt.Errorf("%w: %w", ErrProtocol, err)})
			return len(b), true
		}
		if n == 0 {
			break
		}
		used += n
		if serr := s.handle(p, recv); serr != nil {
			s.fail(now, serr)
			return len(b), true
		}
		if gen != s.gen { // End of Session: the connection is done
			return len(b), true
		}
	}
	s.carry = len(b) - used
	return used, false
}

// handle processes one packet. Lock held.
func (s *source) handle(p soupbin.Packet, recv int64) *sourceError {
	switch p.Type {
	case soupbin.TypeSequenced:
		if s.state != stateLive {
			return protoErr("protocol", "sequenced data before login accepted")
		}
		return s.sequenced(p.Payload, recv)
	case soupbin.TypeServerHeartbeat:
		s.heard = s.heard || s.state == stateLive
		return nil
	case soupbin.TypeLoginAccepted:
		if s.state != stateLogin {
			return protoErr("protocol", "login accepted while %s", s.state)
		}
		session, seq, err := soupbin.ParseLoginAccepted(p.Payload)
		if err != nil {
			return &sourceError{reason: "framing", err: fmt.Errorf("%w: %w", ErrProtocol, err)}
		}
		if seq == 0 {
			// SoupBinTCP numbers from 1: taken as given, every message
			// would be numbered one below its own and taken for the one
			// before it.
			return protoErr("protocol", "login accepted at sequence number 0")
		}
		want := s.asked
		if seq < want {
			// The server would replay what was already delivered: harmless
			// for the arbiter, but it is not what was asked for.
			s.log.Warn("feed source accepted login below the requested sequence", "requested", want, "accepted", seq)
		}
		if seq > want {
			s.log.Warn("feed source cannot replay from the requested sequence", "requested", want, "accepted", seq)
		}
		switch ok, switched := s.f.arb.Session(s.idx, session); {
		case !ok:
			return &sourceError{reason: "session_mismatch", err: fmt.Errorf("%w: session %q, while the other source streams %q",
				ErrProtocol, session, s.f.arb.StreamSession())}
		case switched:
			s.log.Warn("feed source logged into a new session; the books are rebuilt from its sequence 1", "session", session, "seq", seq)
			if seq != 1 {
				return &sourceError{reason: "session_changed", err: fmt.Errorf("%w: new session %q at %d; logging in again from 1",
					ErrProtocol, session, seq)}
			}
		}
		s.state = stateLive
		s.pos = seq
		s.heard = false
		s.backoff = 0
		s.f.arb.SourceLive(s.idx, seq)
		s.log.Info("feed source live", "session", session, "seq", seq)
		return nil
	case soupbin.TypeLoginRejected:
		reason, _ := soupbin.ParseLoginRejected(p.Payload)
		return &sourceError{reason: "login_rejected", err: fmt.Errorf("%w: reason %q", ErrLoginRejected, reason)}
	case soupbin.TypeEndOfSession:
		// The session is over: nothing more comes of it. The server's
		// next session (the next day, say) opens later: log in again
		// after the longest backoff; its Login Accepted switches the
		// stream (Arbiter.Session). Before, the source was ended for the
		// life of the process.
		s.log.Info("feed source ended the session; logging in again later for the next one", "retry", s.f.cfg.ReconnectMax)
		s.reset()
		s.backoff = s.f.cfg.ReconnectMax
		s.retryAt = time.Unix(0, recv).Add(s.backoff)
		return nil
	case soupbin.TypeDebug:
		s.log.Debug("feed source debug packet", "text", string(p.Payload))
		return nil
	case soupbin.TypeUnsequenced:
		return nil
	default:
		return protoErr("framing", "unexpected packet type %s", soupbin.TypeName(p.Type))
	}
}

// sequenced checks one ITCH message against the feed profile and offers it
// to the arbiter. Lock held.
func (s *source) sequenced(msg []byte, recv int64) *sourceError {
	if len(msg) < itchHeader || len(msg) > MaxMessage {
		return protoErr("malformed", "sequenced message of %d bytes (want %d..%d)", len(msg), itchHeader, MaxMessage)
	}
	if want := itch.Length(msg[0]); want != 0 && want != len(msg) {
		return protoErr("malformed", "ITCH %q message of %d bytes, want %d", msg[0], len(msg), want)
	} else if want == 0 {
		s.errs.add("unknown_type") // consumed: it holds a sequence number
	}
	// With the tracking profile, the tracking number carries the low 16
	// bits of the sequence number; standard ITCH gives it no meaning.
	tracking := uint16(msg[3])<<8 | uint16(msg[4])
	if d := tracking - uint16(s.pos); s.f.cfg.TrackingProfile && d != 0 {
		if d >= 0x8000 {
			return protoErr("backwards", "sequence went backwards: tracking %d at expected sequence %d", tracking, s.pos)
		}
		s.errs.add("skipped")
		s.log.Warn("feed source skipped messages", "from", s.pos, "count", d)
		s.pos += uint64(d)
	}
	seq := s.pos
	s.pos++
	s.heard = s.heard || seq > s.asked
	s.messages.Add(1)
	s.f.arb.Offer(s.idx, seq, msg, recv)
	return nil
}

// fail resets the source after err: closes the link, tells the arbiter and
// schedules a reconnect with backoff. Lock held.
func (s *source) fail(now time.Time, err *sourceError) {
	s.errs.add(err.reason)
	s.log.Warn("feed source reset", "state", s.state, "reason", err.reason, "err", err.err)
	s.reset()
	if s.backoff == 0 {
		s.backoff = s.f.cfg.ReconnectMin
	} else if s.backoff *= 2; s.backoff > s.f.cfg.ReconnectMax {
		s.backoff = s.f.cfg.ReconnectMax
	}
	s.retryAt = now.Add(s.backoff)
}

// reset closes the current connection and marks the source down. Lock held.
func (s *source) reset() {
	if s.link != nil {
		s.link.close()
		s.link = nil
	}
	s.gen++ // ignore whatever the old connection still reports
	s.state = stateDown
	s.f.arb.SourceDown(s.idx)
}

// resync makes the source log in again at once from the arbiter's next
// sequence number, to recover a gap. Called by the supervisor.
func (s *source) resync(next uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == stateEnded {
		return
	}
	s.log.Info("feed source re-requesting a gap", "from", next)
	s.reset()
	s.retryAt = time.Time{}
}

// stop closes the source for good. Called when the feed stops.
func (s *source) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reset()
	s.state = stateEnded
}

// snapshot returns the source's state for status and metrics.
func (s *source) snapshot() SourceStatus {
	s.mu.Lock()
	st := SourceStatus{Name: s.name, Addr: s.cfg.Addr, State: s.state.String(), Pos: s.pos, Up: s.isUp()}
	s.mu.Unlock()
	st.Messages = s.messages.Load()
	st.Bytes = s.bytes.Load()
	st.Errors = s.errs.snapshot()
	return st
}

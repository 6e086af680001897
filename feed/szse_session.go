package feed

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"sgw/feed/szse"
)

// szseMaxBody bounds the BodyLength a source may send. The messages the
// gateway reads are far smaller (a snapshot of ten levels a side is under
// 2 KiB); a longer length is taken for a lie that would make the reader
// buffer without end, and resets the source.
const szseMaxBody = 64 << 10

// szseSession is one connection's SZSE Binary session: it frames and
// decodes what the source sends and hands it to the arbiter. It belongs to
// the connection's reader goroutine, which alone calls consume.
type szseSession struct {
	s *szseSource
	m szse.Message
	// loggedOn is set by the Logon answer; onLogon, when set, runs first
	// (it starts the connection's writer, so ReTransmits can be sent as
	// soon as the arbiter knows the source is live).
	loggedOn bool
	onLogon  func()
	// skipped holds the unknown types seen, each logged once, at most
	// szseMaxSkippedTypes of them.
	skipped map[szse.MsgType]bool
}

// szseMaxSkippedTypes bounds the unknown message types a session notes.
const szseMaxSkippedTypes = 64

// consume decodes the whole frames at the front of b, received at now,
// and returns how many bytes they took. It stops at an unfinished frame;
// the caller keeps the rest and calls again with more. A *sourceError
// means the source must be reset: bytes that cannot be framed (a bad
// checksum, a BodyLength over the limit or wrong for its type) or a
// message that breaks the session (out of place, malformed, a sequence
// going backwards, a Logout). A well-formed frame of a type the gateway
// does not read is counted ("unknown_type") and skipped, as the spec
// allows.
func (ss *szseSession) consume(b []byte, now time.Time) (int, *sourceError) {
	recv := now.UnixNano()
	used := 0
	for used < len(b) {
		rest := b[used:]
		if len(rest) >= szse.HeaderLen {
			if n := binary.BigEndian.Uint32(rest[4:]); n > szseMaxBody {
				return used, protoErr("length", "%s: BodyLength %d over the limit of %d",
					szse.MsgType(binary.BigEndian.Uint32(rest)), n, szseMaxBody)
			}
		}
		n, err := szse.Decode(rest, &ss.m)
		switch {
		case err == nil:
		case errors.Is(err, szse.ErrTruncated):
			return used, nil
		case n > 0 && errors.Is(err, szse.ErrUnknownType):
			ss.s.errs.add("unknown_type")
			ss.skip(ss.m.Type)
			used += n
			continue
		case errors.Is(err, szse.ErrChecksum):
			return used, &sourceError{reason: "checksum", err: fmt.Errorf("%w: %w", ErrProtocol, err)}
		case n == 0 && errors.Is(err, szse.ErrBodyLength):
			return used, &sourceError{reason: "length", err: fmt.Errorf("%w: %w", ErrProtocol, err)}
		default:
			return used, &sourceError{reason: "malformed", err: fmt.Errorf("%w: %w", ErrProtocol, err)}
		}
		if serr := ss.handle(rest[:n], recv); serr != nil {
			return used + n, serr
		}
		used += n
	}
	return used, nil
}

// handle processes the message just decoded into ss.m from frame.
func (ss *szseSession) handle(frame []byte, recv int64) *sourceError {
	m, s := &ss.m, ss.s
	if !ss.loggedOn {
		switch m.Type {
		case szse.TypeLogon:
			return ss.logon()
		case szse.TypeLogout:
			return ss.logout()
		case szse.TypeHeartbeat:
			return nil
		}
		return protoErr("protocol", "%s before the Logon answer", m.Type)
	}
	if m.Type != szse.TypeLogout && !s.heard.Load() {
		s.heard.Store(true)
	}
	switch m.Type {
	case szse.TypeOrder, szse.TypeTrade:
		s.messages.Add(1)
		return s.f.arb.Offer(s.idx, m, frame, recv)
	case szse.TypeSnapshot:
		s.messages.Add(1)
		s.f.arb.Snapshot(s.idx, m, frame, recv)
		return nil
	case szse.TypeChannelHeartbeat:
		return s.f.arb.Heartbeat(s.idx, &m.ChannelHeartbeat, recv)
	case szse.TypeReTransmit:
		return s.f.arb.Answer(s.idx, &m.ReTransmit, recv)
	case szse.TypeHeartbeat:
		return nil
	case szse.TypeLogout:
		return ss.logout()
	}
	return protoErr("protocol", "%s after the Logon answer", m.Type)
}

// skip logs the first frame of each unknown type the session skips.
func (ss *szseSession) skip(t szse.MsgType) {
	if ss.skipped[t] || len(ss.skipped) >= szseMaxSkippedTypes {
		return
	}
	if ss.skipped == nil {
		ss.skipped = make(map[szse.MsgType]bool)
	}
	ss.skipped[t] = true
	ss.s.log.Info("feed source sends a message type the gateway skips", "type", t.String())
}

// logon checks the MDGW's Logon answer, which swaps the CompIDs, and
// makes the source live.
func (ss *szseSession) logon() *sourceError {
	s, l := ss.s, &ss.m.Logon
	sender, target := string(szse.TrimString(l.SenderCompID[:])), string(szse.TrimString(l.TargetCompID[:]))
	if (s.cfg.TargetCompID != "" && sender != s.cfg.TargetCompID) || (s.cfg.SenderCompID != "" && target != s.cfg.SenderCompID) {
		return &sourceError{reason: "login", err: fmt.Errorf("%w: Logon answered by %q for %q, want %q for %q",
			ErrProtocol, sender, target, s.cfg.TargetCompID, s.cfg.SenderCompID)}
	}
	ss.loggedOn = true
	s.heard.Store(false)
	if ss.onLogon != nil {
		ss.onLogon()
	}
	s.f.arb.SourceLive(s.idx)
	s.log.Info("feed source live", "sender", sender, "heartbeat_interval_s", l.HeartBtInt,
		"version", string(szse.TrimString(l.DefaultApplVerID[:])))
	return nil
}

// logout turns the source's Logout into the error that resets it.
func (ss *szseSession) logout() *sourceError {
	l := &ss.m.Logout
	return &sourceError{reason: "logout", err: fmt.Errorf("%w: SessionStatus %d, text %q",
		ErrLogout, l.SessionStatus, szse.TrimString(l.Text[:]))}
}

package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"sgw/feed/szse"
	"sgw/netsec"
)

// szseApplVerID is the protocol version the gateway's Logon names.
const szseApplVerID = "1.02"

// szseReadBuf is a connection's read buffer: room for a whole frame of the
// longest body accepted, with space to read more behind it.
const szseReadBuf = 2 * (szse.HeaderLen + szseMaxBody + szse.TrailerLen)

// szseSource is one SZSE Binary source of a feed. Its run goroutine owns
// the connection life cycle: dial (TCP, then TLS or TLCP), Logon, read until the
// session fails, back off, again. While logged in, a writer goroutine of
// the connection sends heartbeats and the ReTransmits the supervisor hands
// it (send). mu guards state and the writer; it is never held while
// calling the arbiter, so it nests under nothing.
type szseSource struct {
	f    *SZSEFeed
	idx  int
	name string
	cfg  SourceConfig
	sec  *netsec.ClientSecurity // TLS or TLCP; nil: plain text
	log  *slog.Logger

	messages atomic.Uint64 // orders, trades and snapshots received
	bytes    atomic.Uint64
	errs     errorCounts
	// heard: since the Logon answer the source has sent something else
	// (a record, a snapshot, a heartbeat): it streams. A Logon answered
	// proves nothing more: a hung MDGW whose Logon handler still answers
	// sends nothing after it, and counted as up until its heartbeat
	// timeout it would put an outage off for ever (streaming,
	// SZSEFeed.watchOutage). Written by the reader goroutine.
	heard atomic.Bool

	mu    sync.Mutex
	state sourceState
	w     *szseWriter // nil unless logged in
}

// setState records the source's state and its writer (nil when none).
func (s *szseSource) setState(st sourceState, w *szseWriter) {
	s.mu.Lock()
	s.state, s.w = st, w
	s.mu.Unlock()
}

// send queues frame on the live connection. It reports false when the
// source is not logged in or its writer is not keeping up.
func (s *szseSource) send(frame []byte) bool {
	s.mu.Lock()
	w := s.w
	s.mu.Unlock()
	return w != nil && w.send(frame)
}

// run keeps the source connected until ctx ends. Each session ends in a
// reset, counted by reason and logged; reconnects back off from
// ReconnectMin to ReconnectMax, starting again from ReconnectMin after a
// session that logged in.
func (s *szseSource) run(ctx context.Context) {
	defer s.setState(stateEnded, nil)
	var backoff time.Duration
	for {
		loggedOn, serr := s.session(ctx)
		s.setState(stateDown, nil)
		s.f.arb.SourceDown(s.idx)
		if ctx.Err() != nil {
			return
		}
		s.errs.add(serr.reason)
		s.log.Warn("feed source reset", "reason", serr.reason, "err", serr.err)
		switch {
		case loggedOn || backoff == 0:
			backoff = s.f.cfg.ReconnectMin
		default:
			backoff = min(2*backoff, s.f.cfg.ReconnectMax)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// session runs one connection: dial, Logon, then read until it fails or
// ctx ends (then it logs out). It reports whether the source logged in
// and, unless ctx ended, why the session ended.
func (s *szseSource) session(ctx context.Context) (bool, *sourceError) {
	cfg := &s.f.cfg
	s.setState(stateDialing, nil)
	conn, err := s.dial(ctx)
	if err != nil {
		return false, &sourceError{reason: "dial", err: err}
	}
	defer conn.Close()
	// The capture's source stream starts afresh: what follows is this
	// connection's bytes, from the Logon answer on (an SZSE Logon names
	// no sequence number: 0).
	s.f.rec.Open(uint8(s.idx), time.Now().UnixNano(), 0)
	// A read returns at once when ctx ends: the loop sets each read's
	// deadline, then checks ctx, so this cannot be overtaken.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Now()) })
	defer stop()

	var logon szse.Logon
	_ = szse.PutString(logon.SenderCompID[:], s.cfg.SenderCompID)
	_ = szse.PutString(logon.TargetCompID[:], s.cfg.TargetCompID)
	_ = szse.PutString(logon.Password[:], s.cfg.Password)
	_ = szse.PutString(logon.DefaultApplVerID[:], szseApplVerID)
	logon.HeartBtInt = int32(max(1, cfg.HeartbeatInterval.Round(time.Second)/time.Second))
	_ = conn.SetWriteDeadline(time.Now().Add(cfg.HeartbeatTimeout))
	if _, err := conn.Write(szse.AppendLogon(nil, &logon)); err != nil {
		return false, &sourceError{reason: "disconnect", err: fmt.Errorf("feed: %s: logon: %w", s.cfg.Addr, err)}
	}
	s.setState(stateLogin, nil)
	s.log.Info("feed source connected; logging on", "addr", s.cfg.Addr, "sender_comp_id", s.cfg.SenderCompID)

	var w *szseWriter
	defer func() {
		if w != nil {
			conn.Close() // a write in progress fails at once
			w.stop()
		}
	}()
	ss := &szseSession{s: s, onLogon: func() {
		w = newSZSEWriter(conn, cfg.HeartbeatInterval, cfg.HeartbeatTimeout)
		s.setState(stateLive, w)
	}}
	buf := make([]byte, szseReadBuf)
	have := 0
	for {
		_ = conn.SetReadDeadline(time.Now().Add(cfg.HeartbeatTimeout))
		var n int
		var rerr error
		if ctx.Err() != nil {
			rerr = ctx.Err()
		} else {
			n, rerr = conn.Read(buf[have:])
		}
		if n > 0 {
			now := time.Now()
			s.bytes.Add(uint64(n))
			s.f.rec.Raw(uint8(s.idx), now.UnixNano(), buf[have:have+n])
			have += n
			used, serr := ss.consume(buf[:have], now)
			if serr != nil {
				return ss.loggedOn, serr
			}
			have = copy(buf, buf[used:have])
		}
		if rerr == nil {
			continue
		}
		switch {
		case ctx.Err() != nil:
			if ss.loggedOn {
				w.stop()
				s.logout(conn)
			}
			return ss.loggedOn, nil
		case errors.Is(rerr, os.ErrDeadlineExceeded) && !ss.loggedOn:
			return false, &sourceError{reason: "login_timeout", err: fmt.Errorf("%w: no Logon answer in %v", ErrTimeout, cfg.HeartbeatTimeout)}
		case errors.Is(rerr, os.ErrDeadlineExceeded):
			return true, &sourceError{reason: "heartbeat_timeout", err: fmt.Errorf("%w: silent for %v", ErrTimeout, cfg.HeartbeatTimeout)}
		}
		return ss.loggedOn, &sourceError{reason: "disconnect", err: fmt.Errorf("feed: %s: %w", s.cfg.Addr, rerr)}
	}
}

// dial connects to the source, with TLS or TLCP when configured, within
// the dial timeout.
func (s *szseSource) dial(ctx context.Context) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, s.f.cfg.DialTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", s.cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("feed: dial %s: %w", s.cfg.Addr, err)
	}
	if s.sec == nil {
		return conn, nil
	}
	sc, err := s.sec.Handshake(dctx, conn)
	if err != nil {
		return nil, fmt.Errorf("feed: dial %s: %w", s.cfg.Addr, err)
	}
	return sc, nil
}

// logout says goodbye when the feed stops; the answer is not awaited.
func (s *szseSource) logout(conn net.Conn) {
	l := szse.Logout{SessionStatus: 0}
	_ = szse.PutString(l.Text[:], "gateway stopping")
	_ = conn.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	_, _ = conn.Write(szse.AppendLogout(nil, &l))
}

// up reports whether the source is logged in and caught up. Safe from
// any goroutine; takes s.mu.
func (s *szseSource) up() bool {
	s.mu.Lock()
	live := s.state == stateLive
	s.mu.Unlock()
	return live && s.caughtUp()
}

// streaming reports whether the source is up and heard since its Logon
// answer (heard): what SZSEFeed.watchOutage counts as a source up. Safe
// from any goroutine.
func (s *szseSource) streaming() bool {
	return s.heard.Load() && s.up()
}

// caughtUp reports whether the source is at most CatchUpLag records behind
// the arbiter on every channel. Safe from any goroutine.
func (s *szseSource) caughtUp() bool {
	return s.f.arb.lag(s.idx) <= uint64(s.f.cfg.CatchUpLag)
}

// snapshot returns the source's state for status and metrics.
func (s *szseSource) snapshot() SourceStatus {
	s.mu.Lock()
	state := s.state
	s.mu.Unlock()
	st := SourceStatus{Name: s.name, Addr: s.cfg.Addr, State: state.String()}
	st.Up = state == stateLive && s.caughtUp()
	st.Messages = s.messages.Load()
	st.Bytes = s.bytes.Load()
	st.First = s.f.arb.first[s.idx].Load()
	st.Errors = s.errs.snapshot()
	return st
}

// szseWriter writes to one logged-in connection on a goroutine of its
// own: the frames queued by send, and a Heartbeat whenever nothing was
// written for the heartbeat interval. A write that fails or takes longer
// than the write timeout closes the connection, which ends the session's
// reads. send and stop are safe from any goroutine.
type szseWriter struct {
	c     net.Conn
	out   chan []byte
	done  chan struct{}
	ended chan struct{}
	once  sync.Once
}

func newSZSEWriter(c net.Conn, every, timeout time.Duration) *szseWriter {
	w := &szseWriter{c: c, out: make(chan []byte, 64), done: make(chan struct{}), ended: make(chan struct{})}
	go w.run(every, timeout)
	return w
}

func (w *szseWriter) run(every, timeout time.Duration) {
	defer close(w.ended)
	hb := szse.AppendHeartbeat(nil)
	t := time.NewTimer(every)
	defer t.Stop()
	for {
		var b []byte
		select {
		case b = <-w.out:
		case <-t.C:
			b = hb
		case <-w.done:
			return
		}
		_ = w.c.SetWriteDeadline(time.Now().Add(timeout))
		if _, err := w.c.Write(b); err != nil {
			_ = w.c.Close()
			return
		}
		t.Reset(every)
	}
}

// send queues b, which the writer then owns. It reports false when the
// writer has stopped or its queue is full.
func (w *szseWriter) send(b []byte) bool {
	select {
	case <-w.done:
		return false
	default:
	}
	select {
	case w.out <- b:
		return true
	default:
		return false
	}
}

// stop ends the writer and waits for it.
func (w *szseWriter) stop() {
	w.once.Do(func() { close(w.done) })
	<-w.ended
}

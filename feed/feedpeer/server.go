package feedpeer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"
)

// ServerConfig is what every peer server takes. Every zero value means the
// documented default.
type ServerConfig struct {
	// Addr is the TCP address to listen on. Empty means 127.0.0.1:0.
	Addr string
	// HeartbeatInterval is how long a server may go without sending before
	// it sends a heartbeat. Zero means 1 s.
	HeartbeatInterval time.Duration
	// ClientTimeout is how long a client may stay silent before the server
	// closes its connection. Zero means 15 s.
	ClientTimeout time.Duration
	// LoginTimeout is how long a new connection has to send its login.
	// Zero means 5 s.
	LoginTimeout time.Duration
	// WriteTimeout bounds each write to a client; a client that does not
	// read is closed. Zero means 5 s.
	WriteTimeout time.Duration
}

func (c *ServerConfig) fill() error {
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	for _, d := range []*time.Duration{&c.HeartbeatInterval, &c.ClientTimeout, &c.LoginTimeout, &c.WriteTimeout} {
		if *d < 0 {
			return fmt.Errorf("%w: negative duration", ErrConfig)
		}
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = time.Second
	}
	if c.ClientTimeout == 0 {
		c.ClientTimeout = 15 * time.Second
	}
	if c.LoginTimeout == 0 {
		c.LoginTimeout = 5 * time.Second
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = 5 * time.Second
	}
	return nil
}

// ServerStats counts what a server has done since it was created. Every
// count only grows, except Active.
type ServerStats struct {
	// Connections is the TCP connections accepted.
	Connections int
	// Logins is the logins accepted; Rejects the logins refused.
	Logins, Rejects int
	// Active is the sessions logged in now.
	Active int
	// ClientHeartbeats is the heartbeats received from clients.
	ClientHeartbeats int
	// Sent is the data messages sent: ITCH Sequenced Data; SZSE orders,
	// trades and snapshots, retransmitted ones included.
	Sent int64
	// Skipped is the messages a session left out because of DropRange.
	Skipped int64
	// Retransmits is the SZSE ReTransmit requests answered.
	Retransmits int
	// Logouts is the logouts received from clients.
	Logouts int
	// LastLogin is, for ITCH, the sequence number the last Login Accepted
	// named.
	LastLogin uint64
	// EndOfSessions is the ITCH End of Session packets sent.
	EndOfSessions int
	// Errors is the client connections closed for a protocol error or a
	// timeout.
	Errors int
	// Kills is the calls of Kill.
	Kills int
}

// dropRange is a range of sequence numbers a server leaves out of its live
// stream.
type dropRange struct {
	channel  uint16
	from, to uint64
	lost     bool // left out of every session that did not start at 1 (LoseRange)
	repeat   bool // sent twice, not left out (RepeatRange)
}

// server is the listener, connection tracking, fault settings and
// statistics shared by both protocols' servers. Its exported methods are
// safe for concurrent use; mu guards every field below it. server.mu and a
// feed's tape.mu are never held together.
type server struct {
	cfg    ServerConfig
	handle func(ctx context.Context, c net.Conn, closed <-chan struct{})

	mu         sync.Mutex
	addr       string
	ln         net.Listener // nil while killed
	conns      map[net.Conn]chan struct{}
	runCtx     context.Context // non-nil while Run is serving
	loginDelay time.Duration
	lag        int
	delay      time.Duration
	drops      []dropRange
	ends       uint64 // calls of EndSession
	stats      ServerStats
	changed    chan struct{} // closed and replaced on every change
	wg         sync.WaitGroup
}

func newServer(cfg ServerConfig) (*server, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("feedpeer: listen %s: %w", cfg.Addr, err)
	}
	return &server{cfg: cfg, addr: ln.Addr().String(), ln: ln, conns: make(map[net.Conn]chan struct{}), changed: make(chan struct{})}, nil
}

// Addr returns the address the server listens on (kept across Kill and
// Restart).
func (s *server) Addr() string { return s.addr }

// Run serves connections until ctx ends, then closes the listener and every
// connection and returns once every connection's goroutines have ended. The
// listener is bound by the constructor, so Addr works before Run. Run may be
// called once at a time.
func (s *server) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.runCtx != nil {
		s.mu.Unlock()
		return errors.New("feedpeer: Run called twice")
	}
	s.runCtx = ctx
	if s.ln != nil {
		s.startAcceptLocked()
	}
	s.mu.Unlock()
	<-ctx.Done()
	s.mu.Lock()
	s.runCtx = nil
	s.closeAllLocked()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

// startAcceptLocked starts the accept loop of the current listener. mu must
// be held and Run under way.
func (s *server) startAcceptLocked() {
	ln, ctx := s.ln, s.runCtx
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			if s.ln != ln || s.runCtx == nil {
				s.mu.Unlock()
				c.Close()
				return
			}
			closed := make(chan struct{})
			s.conns[c] = closed
			s.stats.Connections++
			s.notifyLocked()
			s.wg.Add(1)
			s.mu.Unlock()
			go func() {
				defer s.wg.Done()
				s.handle(ctx, c, closed)
				c.Close()
				s.mu.Lock()
				if ch, ok := s.conns[c]; ok {
					close(ch)
					delete(s.conns, c)
				}
				s.mu.Unlock()
			}()
		}
	}()
}

func (s *server) closeAllLocked() {
	for c, ch := range s.conns {
		c.Close()
		close(ch)
		delete(s.conns, c)
	}
}

// Kill closes the listener and every connection at once, without a
// goodbye: the source is gone. Restart brings it back on the same address.
func (s *server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		s.ln.Close()
		s.ln = nil
	}
	s.closeAllLocked()
	s.stats.Kills++
	s.notifyLocked()
}

// newStreamLocked closes every connection, as Kill does but listening on,
// and forgets the drops, which name the old stream's sequence numbers:
// the server begins serving another stream. mu must be held.
func (s *server) newStreamLocked() {
	s.closeAllLocked()
	s.drops = nil
	s.notifyLocked()
}

// Restart listens again on the server's address after Kill; it does
// nothing if the server is listening.
func (s *server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("feedpeer: restart on %s: %w", s.addr, err)
	}
	s.ln = ln
	if s.runCtx != nil {
		s.startAcceptLocked()
	}
	s.notifyLocked()
	return nil
}

// SetLoginDelay makes the server answer each later login only after d
// (zero answers at once).
func (s *server) SetLoginDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loginDelay = d
}

// SetLag makes the server a source that lags: it holds back the last n
// messages published (n <= 0: none), sending each only once n more have
// followed it, or once the lag is lowered.
func (s *server) SetLag(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lag = max(n, 0)
	s.notifyLocked()
}

// SetDelay makes the server send each message no sooner than d after it was
// published (zero: at once).
func (s *server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = max(d, 0)
	s.notifyLocked()
}

// ClearDrops forgets every DropRange, LoseRange and RepeatRange.
func (s *server) ClearDrops() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops = nil
	s.notifyLocked()
}

func (s *server) addDrop(d dropRange) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.drops = append(s.drops, d)
	s.notifyLocked()
}

// Stats returns the server's counts.
func (s *server) Stats() ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Wait blocks until cond holds for the server's counts or ctx ends. cond
// runs on the caller's goroutine with no lock held.
func (s *server) Wait(ctx context.Context, cond func(ServerStats) bool) error {
	for {
		s.mu.Lock()
		st, ch := s.stats, s.changed
		s.mu.Unlock()
		if cond(st) {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("feedpeer: waiting for the server (now %+v): %w", st, ctx.Err())
		}
	}
}

func (s *server) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// count applies f to the statistics and wakes waiters.
func (s *server) count(f func(*ServerStats)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.stats)
	s.notifyLocked()
}

// settings is what a session reads of the server's faults at each step.
type settings struct {
	loginDelay time.Duration
	lag        int
	delay      time.Duration
	drops      []dropRange
	ends       uint64
	changed    <-chan struct{}
}

func (s *server) settings() settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return settings{loginDelay: s.loginDelay, lag: s.lag, delay: s.delay, drops: slices.Clone(s.drops), ends: s.ends, changed: s.changed}
}

// visible returns how many of the n entries the server may send now
// (holding back the lag), and, when a delay holds back more, when the next
// one becomes visible.
func (st settings) visible(t *tape, from, n int) (int, time.Time) {
	limit := max(n-st.lag, 0)
	if st.delay <= 0 || limit <= from {
		return limit, time.Time{}
	}
	now := time.Now()
	for i, e := range t.slice(from, limit) {
		if e.at.Add(st.delay).After(now) {
			return from + i, e.at.Add(st.delay)
		}
	}
	return limit, time.Time{}
}

// wait sleeps until one of chans is closed, the deadline (if not zero)
// passes, or the connection is closed. It reports false when the
// connection is closed.
func wait(closed <-chan struct{}, deadline time.Time, chans ...<-chan struct{}) bool {
	var timer <-chan time.Time
	if !deadline.IsZero() {
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		timer = t.C
	}
	var a, b, c <-chan struct{}
	switch len(chans) {
	case 3:
		c = chans[2]
		fallthrough
	case 2:
		b = chans[1]
		fallthrough
	case 1:
		a = chans[0]
	}
	select {
	case <-closed:
		return false
	case <-a:
	case <-b:
	case <-c:
	case <-timer:
	}
	return true
}

// sleep waits d or until the connection is closed; it reports false when
// the connection is closed.
func sleep(closed <-chan struct{}, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	return wait(closed, time.Now().Add(d))
}

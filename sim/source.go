package sim

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Source names one of the simulator's two feed listeners.
type Source int

// The two sources. They serve the same record under the same sequence
// numbers.
const (
	Primary Source = iota
	Backup
)

// String returns "primary" or "backup".
func (s Source) String() string {
	switch s {
	case Primary:
		return "primary"
	case Backup:
		return "backup"
	}
	return fmt.Sprintf("source(%d)", int(s))
}

// SourceStats counts what one source did since New. Packets are counted
// just before they are written, so a client has never received more than
// the counters say.
type SourceStats struct {
	Accepted   uint64 // TCP connections accepted
	Refused    uint64 // connections closed at once because the source was stopped
	Logins     uint64 // logins accepted
	Rejected   uint64 // logins rejected (Login Rejected, Debug or timeout)
	Active     int    // connections open now
	Sequenced  uint64 // Sequenced Data packets sent
	Dropped    uint64 // sequenced messages skipped because of DropRange
	Heartbeats uint64 // Server Heartbeats sent
	Ends       uint64 // End of Session packets sent
}

// dropRange is an inclusive range of sequence numbers a source skips.
type dropRange struct{ from, to uint64 }

// source is one listener with its connections and injected faults.
type source struct {
	id  Source
	ln  net.Listener
	tls *tls.Config

	stopped atomic.Bool
	delay   atomic.Int64                // time.Duration before each write batch
	drops   atomic.Pointer[[]dropRange] // copy on write under mu

	mu     sync.Mutex // guards conns and closed; serialises DropRange
	conns  map[*conn]struct{}
	closed bool

	accepted, refused, logins, rejected   atomic.Uint64
	sequenced, dropped, heartbeats, ended atomic.Uint64
}

func listen(id Source, addr string, tc *tls.Config) (*source, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: %s listener: %w", id, err)
	}
	return &source{id: id, ln: ln, tls: tc, conns: make(map[*conn]struct{})}, nil
}

// add registers a connection; it refuses when the source is stopped or
// closed.
func (src *source) add(c *conn) bool {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.closed || src.stopped.Load() {
		return false
	}
	src.conns[c] = struct{}{}
	return true
}

func (src *source) remove(c *conn) {
	src.mu.Lock()
	delete(src.conns, c)
	src.mu.Unlock()
}

// closeConns closes every connection; with final set it also refuses
// further connections for good.
func (src *source) closeConns(final bool) {
	src.mu.Lock()
	if final {
		src.closed = true
	}
	conns := make([]*conn, 0, len(src.conns))
	for c := range src.conns {
		conns = append(conns, c)
	}
	src.mu.Unlock()
	for _, c := range conns {
		c.close()
	}
}

func (src *source) closeAll() { src.closeConns(true) }

// dropping reports whether seq falls in one of the ranges.
func dropping(ranges []dropRange, seq uint64) bool {
	for _, r := range ranges {
		if seq >= r.from && seq <= r.to {
			return true
		}
	}
	return false
}

// serve accepts connections until the Sim is closed. It returns an error
// only if the listener fails for another reason.
func (s *Sim) serve(src *source) error {
	var backoff time.Duration
	for {
		nc, err := src.ln.Accept()
		if err != nil {
			select {
			case <-s.done:
				return nil
			default:
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("sim: %s listener: %w", src.id, err)
			}
			// Transient (out of descriptors, aborted handshake): back off.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("sim: accept failed", "source", src.id, "err", err, "retry_in", backoff)
			select {
			case <-s.done:
				return nil
			case <-time.After(backoff):
			}
			continue
		}
		backoff = 0
		src.accepted.Add(1)
		c := newConn(s, src, nc)
		if !src.add(c) {
			src.refused.Add(1)
			nc.Close()
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

func (s *Sim) source(src Source) (*source, error) {
	if src != Primary && src != Backup {
		return nil, fmt.Errorf("%w: %d", ErrBadSource, int(src))
	}
	return s.srv[src], nil
}

// StopSource takes src down: it closes the source's connections at once
// (no End of Session) and, until StartSource, closes every new connection
// as soon as it is accepted, before any login. The listener stays bound, so
// the address does not change.
func (s *Sim) StopSource(src Source) error {
	so, err := s.source(src)
	if err != nil {
		return err
	}
	so.stopped.Store(true)
	so.closeConns(false)
	s.log.Info("sim: source stopped", "source", src)
	return nil
}

// StartSource brings src back after StopSource: new connections are served
// again. Clients must reconnect and log in.
func (s *Sim) StartSource(src Source) error {
	so, err := s.source(src)
	if err != nil {
		return err
	}
	so.stopped.Store(false)
	s.log.Info("sim: source started", "source", src)
	return nil
}

// DropRange makes src skip the sequence numbers from to to (inclusive) in
// live streaming: a connection of src does not send a message of the range
// if the message was recorded after the connection logged in. Messages of
// the range already in the record when a client logs in are sent to it
// normally, so a client that noticed the gap recovers it by logging in
// again and requesting it. Ranges accumulate; they cannot be removed.
func (s *Sim) DropRange(src Source, from, to uint64) error {
	so, err := s.source(src)
	if err != nil {
		return err
	}
	if from == 0 || to < from {
		return fmt.Errorf("%w: drop range %d-%d", ErrConfig, from, to)
	}
	so.mu.Lock()
	var ranges []dropRange
	if p := so.drops.Load(); p != nil {
		ranges = slices.Clone(*p)
	}
	ranges = append(ranges, dropRange{from: from, to: to})
	so.drops.Store(&ranges)
	so.mu.Unlock()
	s.log.Info("sim: drop range", "source", src, "from", from, "to", to)
	return nil
}

// Delay makes every connection of src wait d before writing each batch of
// sequenced messages, so the source lags by about d (heartbeats are not
// delayed). Zero removes the delay.
func (s *Sim) Delay(src Source, d time.Duration) error {
	so, err := s.source(src)
	if err != nil {
		return err
	}
	if d < 0 {
		return fmt.Errorf("%w: negative delay %s", ErrConfig, d)
	}
	so.delay.Store(int64(d))
	return nil
}

// Stats returns the counters of src (zero for a bad source).
func (s *Sim) Stats(src Source) SourceStats {
	so, err := s.source(src)
	if err != nil {
		return SourceStats{}
	}
	so.mu.Lock()
	active := len(so.conns)
	so.mu.Unlock()
	return SourceStats{
		Accepted:   so.accepted.Load(),
		Refused:    so.refused.Load(),
		Logins:     so.logins.Load(),
		Rejected:   so.rejected.Load(),
		Active:     active,
		Sequenced:  so.sequenced.Load(),
		Dropped:    so.dropped.Load(),
		Heartbeats: so.heartbeats.Load(),
		Ends:       so.ended.Load(),
	}
}

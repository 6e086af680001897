package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Source names one of the simulator's feed listeners.
type Source int

// The sources. Primary and Backup serve the ITCH record under the same
// sequence numbers; SZSEPrimary and SZSEBackup, which exist only in SZSE
// mode (Config.SZSE), serve the SZSE channel under the same ApplSeqNums.
const (
	Primary Source = iota
	Backup
	SZSEPrimary
	SZSEBackup
)

// numSources is the number of Source values.
const numSources = 4

// String returns "primary", "backup", "szse-primary" or "szse-backup".
func (s Source) String() string {
	switch s {
	case Primary:
		return "primary"
	case Backup:
		return "backup"
	case SZSEPrimary:
		return "szse-primary"
	case SZSEBackup:
		return "szse-backup"
	}
	return fmt.Sprintf("source(%d)", int(s))
}

// LogValue logs the source by its name: slog's JSON handler would print
// the number otherwise.
func (s Source) LogValue() slog.Value { return slog.StringValue(s.String()) }

// isSZSE reports whether s is an SZSE Binary source.
func (s Source) isSZSE() bool { return s == SZSEPrimary || s == SZSEBackup }

// GarbageKind is the kind of corrupt data the Garbage fault writes.
type GarbageKind int

// The kinds of garbage.
const (
	// GarbageChecksum is an intact SZSE frame (a ChannelHeartbeat) whose
	// Checksum is wrong. SZSE sources only: SoupBinTCP has no checksum.
	GarbageChecksum GarbageKind = iota + 1
	// GarbageLength is a frame header whose length lies. On SZSE it is an
	// Order (300192) announcing a 40-byte body (the type's is 51), with 40
	// bytes and a checksum after it; on SoupBinTCP it is a Sequenced Data
	// packet announcing 65535 bytes that are not there, so the packets
	// that follow are swallowed into it.
	GarbageLength
)

// String names the kind.
func (k GarbageKind) String() string {
	switch k {
	case GarbageChecksum:
		return "checksum"
	case GarbageLength:
		return "length"
	}
	return fmt.Sprintf("garbage(%d)", int(k))
}

// LogValue logs the kind by its name: slog's JSON handler would print the
// number otherwise.
func (k GarbageKind) LogValue() slog.Value { return slog.StringValue(k.String()) }

var (
	_ slog.LogValuer = Source(0)
	_ slog.LogValuer = GarbageKind(0)
)

// session is one client connection of a source: an ITCH (conn) or an SZSE
// (szseConn) session.
type session interface {
	// serve runs the session until it ends, on a goroutine of its own.
	serve()
	// close ends the session; safe from any goroutine, idempotent.
	close()
	// inject asks the session's writer to write garbage of kind k at the
	// current point of its stream. It never blocks; it returns false when
	// a garbage request is already pending.
	inject(k GarbageKind) bool
}

// sessionConn is the part of a session both protocols share: its source,
// its connection (wrapped by the source's TLS, if any), its close and the
// garbage queue behind inject. conn and szseConn embed it.
type sessionConn struct {
	src    *source
	nc     net.Conn
	remote string
	done   chan struct{} // closed by close
	once   sync.Once
	bad    chan GarbageKind // garbage for the writer to write; buffered 1
}

// init sets c up on nc, accepted by src. Called once, before the session
// is served.
func (c *sessionConn) init(src *source, nc net.Conn) {
	c.src, c.nc, c.remote = src, nc, nc.RemoteAddr().String()
	c.done, c.bad = make(chan struct{}), make(chan GarbageKind, 1)
	if src.secure != nil {
		c.nc = src.secure(nc)
	}
}

// close closes the connection; safe from any goroutine, idempotent.
func (c *sessionConn) close() {
	c.once.Do(func() {
		close(c.done)
		c.nc.Close()
	})
}

// inject queues garbage for the writer; see session.
func (c *sessionConn) inject(k GarbageKind) bool {
	select {
	case c.bad <- k:
		return true
	default:
		return false
	}
}

// SourceStats counts what one source did since New. Packets are counted
// just before they are written, so a client has never received more than
// the counters say. Where the protocols differ, a field's comment names the
// ITCH meaning first and the SZSE one second.
type SourceStats struct {
	Accepted   uint64 // TCP connections accepted
	Refused    uint64 // connections closed at once because the source was stopped
	Logins     uint64 // logins accepted
	Rejected   uint64 // logins refused (Login Rejected, Debug; Logout 5 or 102) or timed out
	Active     int    // connections open now
	Sequenced  uint64 // Sequenced Data packets; records (300192, 300191) sent live
	Dropped    uint64 // sequenced messages; records skipped because of DropRange
	Heartbeats uint64 // Server Heartbeats; Heartbeats (3) sent
	Ends       uint64 // End of Session packets; sessions sent EndOfChannel 1
	Garbage    uint64 // corrupt frames written by the Garbage fault

	// SZSE only.
	ChannelHeartbeats uint64 // ChannelHeartbeats (390095) sent
	Snapshots         uint64 // snapshots (300111) sent
	Retransmits       uint64 // ReTransmit requests answered
	Resent            uint64 // records sent in ReTransmit answers
}

// dropRange is an inclusive range of sequence numbers a source skips.
type dropRange struct{ from, to uint64 }

// source is one listener with its connections and injected faults.
type source struct {
	id Source
	ln net.Listener
	// secure wraps an accepted connection in TLS or TLCP (the
	// handshake runs on the session's first read); nil: plain TCP.
	secure func(net.Conn) net.Conn
	open   func(src *source, nc net.Conn) session // makes the session of an accepted connection

	stopped atomic.Bool
	delay   atomic.Int64                // time.Duration before each write batch
	drops   atomic.Pointer[[]dropRange] // copy on write under mu

	mu     sync.Mutex // guards conns and closed; serialises DropRange
	conns  map[session]struct{}
	closed bool

	accepted, refused, logins, rejected   atomic.Uint64
	sequenced, dropped, heartbeats, ended atomic.Uint64
	garbage, channelHBs, snapshots        atomic.Uint64
	retransmits, resent                   atomic.Uint64
}

func listen(id Source, addr string, secure func(net.Conn) net.Conn, open func(*source, net.Conn) session) (*source, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("sim: %s listener: %w", id, err)
	}
	return &source{id: id, ln: ln, secure: secure, open: open, conns: make(map[session]struct{})}, nil
}

// add registers a connection; it refuses when the source is stopped or
// closed.
func (src *source) add(c session) bool {
	src.mu.Lock()
	defer src.mu.Unlock()
	if src.closed || src.stopped.Load() {
		return false
	}
	src.conns[c] = struct{}{}
	return true
}

func (src *source) remove(c session) {
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
	conns := make([]session, 0, len(src.conns))
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
func (s *feedServer) serve(src *source) error {
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
		c := src.open(src, nc)
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

// source returns the listener of src: an error wrapping ErrBadSource for
// a value that names none, or an SZSE source outside SZSE mode.
func (s *Sim) source(src Source) (*source, error) {
	if src < 0 || src >= numSources {
		return nil, fmt.Errorf("%w: %d", ErrBadSource, int(src))
	}
	if s.srv[src] == nil {
		return nil, fmt.Errorf("%w: %s: SZSE mode is off", ErrBadSource, src)
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
// live streaming. On an ITCH source a connection does not send a message
// of the range if the message was recorded after the connection logged
// in; messages of the range already in the record when a client logs in
// are sent to it normally, so a client that noticed the gap recovers it by
// logging in again and requesting it. On an SZSE source the numbers are
// ApplSeqNums of the channel, left out of every session's live stream; a
// ReTransmit still delivers them. Ranges accumulate; they cannot be
// removed.
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
// sequenced messages (on SZSE: of the live stream, snapshots included), so
// the source lags by about d (heartbeats and ReTransmit answers are not
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

// Garbage makes every connection of src that is open now write one piece
// of corrupt data of kind k at its current point of the stream, then carry
// on as if nothing happened: it is the client that must notice and drop
// the connection. A connection that has a garbage request pending
// ignores another. It returns an error wrapping ErrBadSource for a bad
// source, and ErrConfig for a kind the source's protocol cannot carry
// (GarbageChecksum on ITCH).
func (s *Sim) Garbage(src Source, k GarbageKind) error {
	so, err := s.source(src)
	if err != nil {
		return err
	}
	switch {
	case k != GarbageChecksum && k != GarbageLength:
		return fmt.Errorf("%w: %s", ErrConfig, k)
	case k == GarbageChecksum && !src.isSZSE():
		return fmt.Errorf("%w: %s garbage on %s: SoupBinTCP has no checksum", ErrConfig, k, src)
	}
	so.mu.Lock()
	n := 0
	for c := range so.conns {
		if c.inject(k) {
			n++
		}
	}
	so.mu.Unlock()
	s.log.Info("sim: garbage", "source", src, "kind", k, "connections", n)
	return nil
}

// Stats returns the counters of src (zero for a bad source).
func (s *Sim) Stats(src Source) SourceStats {
	so, err := s.source(src)
	if err != nil {
		return SourceStats{}
	}
	return so.stats()
}

// stats returns the source's counters.
func (so *source) stats() SourceStats {
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
		Garbage:    so.garbage.Load(),

		ChannelHeartbeats: so.channelHBs.Load(),
		Snapshots:         so.snapshots.Load(),
		Retransmits:       so.retransmits.Load(),
		Resent:            so.resent.Load(),
	}
}

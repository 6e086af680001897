package sim

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"sgw/refdata"
	"sgw/sim/match"
)

// Sim is an exchange simulator: a matching engine, synthetic order flow,
// the record of its ITCH feed and the two SoupBinTCP listeners that serve
// that record; in SZSE mode also the record of its SZSE channel and the
// two SZSE Binary listeners that serve it.
//
// Every exported method is safe to call from any goroutine. Calls that
// change the books (Submit, Cancel, Replace, Halt, Step, EndSession and
// the synthetic flow) and the SZSE snapshots are serialised by one mutex,
// so each feed's order is the order in which those calls took it.
type Sim struct {
	feedServer
	srv [numSources]*source // the SZSE ones nil outside SZSE mode

	// mu guards the engine, the flow, the SZSE view and everything down to
	// lastTS. Every append to rec and to the SZSE channel's record happens
	// with mu held, so sequence numbers follow the order of the engine's
	// events.
	mu     sync.Mutex
	eng    *match.Engine
	pub    engine      // eng as the flow uses it: order entry through the Sim
	sz     *szseView   // nil outside SZSE mode
	szs    *szseServer // what the SZSE sessions serve; nil outside SZSE mode
	flow   *flow
	stocks [][8]byte // ITCH Stock field by locate-1
	paused bool
	ended  bool
	encErr error // first error of the engine's sink
	// changes logs every execution and delete of a resting order, in
	// engine order, whichever feed publishes the instrument; the FIX
	// acceptor reads it (Changes) to report fills the flow caused.
	changes []RestingChange
	start   time.Time
	base    uint64 // ns since midnight at start
	lastTS  uint64

	// flowActions and flowSkipped are FlowStats, written by generate.
	flowActions, flowSkipped atomic.Uint64

	// life guards the run/close lifecycle and wg.Add after Close.
	life    sync.Mutex
	closed  bool
	running bool
}

// feedServer is what the SoupBinTCP sessions (conn) and the accept loop
// (Sim.serve) need: the session settings, the record they stream and the
// lifecycle of their goroutines. Sim and Player embed it, so both serve a
// record with the same code.
type feedServer struct {
	cfg    Config
	log    *slog.Logger
	rec    *record
	ca     []byte        // PEM of the self-signed CA, if any
	tlcpCA []byte        // PEM of the self-signed SM2 CA, if any
	done   chan struct{} // closed by Close
	wg     sync.WaitGroup
}

// cst is China Standard Time, the zone of the feed's timestamps.
var cst = time.FixedZone("CST", 8*3600)

const nsPerDay = uint64(24 * time.Hour)

// New validates cfg, builds the books, records the start-of-day messages
// and binds both listeners, so that Addr works at once. Connections are
// served (queued by the kernel until then) and synthetic flow generated
// only while Run runs. Call Close, or cancel Run's context, to release the
// listeners.
func New(cfg Config) (*Sim, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &Sim{
		feedServer: feedServer{cfg: cfg, log: cfg.Logger, rec: newRecord(), done: make(chan struct{})},
		start:      time.Now(),
	}
	s.base = sinceMidnight(s.start)
	s.eng, err = match.New(cfg.Instruments, s.onEvent)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if s.stocks, err = stocksOf(cfg.Instruments); err != nil {
		return nil, err
	}
	s.pub = publishingEngine{Engine: s.eng, s: s}
	if cfg.SZSE.Enabled {
		if s.sz, err = newSZSEView(cfg.SZSE, cfg.Instruments, s.clockNow()); err != nil {
			return nil, err
		}
	}
	s.flow = newFlow(cfg.Seed, cfg.Instruments, cfg.MaxRestingPerSymbol)
	if err := s.startOfDay(); err != nil {
		return nil, err
	}
	itchConn := func(src *source, nc net.Conn) session { return newConn(&s.feedServer, src, nc) }
	if s.sz != nil {
		s.szs = &szseServer{fs: &s.feedServer, zc: &s.sz.cfg, rec: s.sz.rec}
	}
	szseConn := func(src *source, nc net.Conn) session { return newSZSEConn(s.szs, src, nc) }
	listeners := []struct {
		id   Source
		cfg  ListenerConfig
		open func(*source, net.Conn) session
	}{
		{Primary, cfg.Primary, itchConn},
		{Backup, cfg.Backup, itchConn},
	}
	if s.sz != nil {
		listeners = append(listeners, []struct {
			id   Source
			cfg  ListenerConfig
			open func(*source, net.Conn) session
		}{
			{SZSEPrimary, cfg.SZSE.Primary, szseConn},
			{SZSEBackup, cfg.SZSE.Backup, szseConn},
		}...)
	}
	var ss selfSigned
	for _, l := range listeners {
		secure, err := s.secure(l.cfg, &ss)
		if err != nil {
			s.closeListeners()
			return nil, err
		}
		src, err := listen(l.id, l.cfg.Addr, secure, l.open)
		if err != nil {
			s.closeListeners()
			return nil, err
		}
		s.srv[l.id] = src
	}
	return s, nil
}

// clockNow returns the configured clock's time, or the wall clock's.
func (s *Sim) clockNow() time.Time {
	if s.cfg.Clock != nil {
		return s.cfg.Clock()
	}
	return s.start
}

func (s *Sim) closeListeners() {
	for _, src := range s.srv {
		if src != nil {
			src.ln.Close()
		}
	}
}

// Run serves both listeners and, unless Config.Rate is negative, generates
// synthetic order flow until ctx is cancelled or Close is called. It then
// closes the listeners and every connection, waits for the simulator's
// goroutines and returns nil; it returns an error if a listener fails. Run
// may be called once.
func (s *Sim) Run(ctx context.Context) error {
	s.life.Lock()
	switch {
	case s.closed:
		s.life.Unlock()
		return ErrClosed
	case s.running:
		s.life.Unlock()
		return ErrRunning
	}
	s.running = true
	errc := make(chan error, len(s.srv))
	for _, src := range s.srv {
		if src == nil {
			continue
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.serve(src); err != nil {
				errc <- err
			}
		}()
	}
	if s.cfg.Rate > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.generate()
		}()
	}
	if s.sz != nil && s.sz.cfg.SnapshotInterval > 0 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.snapshotLoop()
		}()
	}
	s.life.Unlock()
	var err error
	select {
	case <-ctx.Done():
	case <-s.done:
	case err = <-errc:
	}
	s.Close()
	return err
}

// Close stops the simulator: it closes the listeners and all connections
// (without End of Session), stops the synthetic flow and waits for the
// simulator's goroutines. The record and the books stay readable. Close is
// idempotent and returns nil.
func (s *Sim) Close() error {
	s.life.Lock()
	if s.closed {
		s.life.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	close(s.done)
	s.life.Unlock()
	s.closeListeners()
	for _, src := range s.srv {
		if src != nil {
			src.closeAll()
		}
	}
	s.wg.Wait()
	return nil
}

// Addr returns the address src listens on, or nil for a bad source (an
// SZSE source outside SZSE mode included).
func (s *Sim) Addr(src Source) net.Addr {
	so, err := s.source(src)
	if err != nil {
		return nil
	}
	return so.ln.Addr()
}

// CACertPEM returns the PEM certificate of the in-memory CA that issued the
// self-signed listener certificate, or nil when no listener is
// self-signed. Every self-signed listener, ITCH or SZSE, serves the same
// certificate.
func (s *Sim) CACertPEM() []byte {
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca...)
}

// TLCPCACertPEM returns the PEM certificate of the in-memory SM2 CA that
// issued the self-signed TLCP pair, or nil when no listener serves a
// self-signed TLCP pair. Every such listener serves the same pair.
func (s *Sim) TLCPCACertPEM() []byte {
	if s.tlcpCA == nil {
		return nil
	}
	return append([]byte(nil), s.tlcpCA...)
}

// Session returns the SoupBinTCP session name.
func (s *Sim) Session() string { return s.cfg.Session }

// Instruments returns the validated instruments in locate order: the
// instrument at index i has Stock Locate i+1.
func (s *Sim) Instruments() []refdata.Instrument {
	return append([]refdata.Instrument(nil), s.cfg.Instruments...)
}

// Next returns the sequence number the next feed message will get; the
// record holds messages 1 to Next()-1.
func (s *Sim) Next() uint64 { return s.rec.next() }

// RestingChange is an execution (Executed, Qty shares, match number
// Match) or a delete of a resting order of the matching engine, by its
// engine reference. It is a plain value.
type RestingChange struct {
	Ref      uint64
	Executed bool
	Qty      int64
	Match    uint64
}

// Changes returns copies of the resting-order changes from index from on
// (the first change is index 0) and the index after the last: every
// execution and delete of a resting order, whichever feed (ITCH or SZSE
// Binary) publishes its instrument. Safe for concurrent use.
func (s *Sim) Changes(from uint64) ([]RestingChange, uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := uint64(len(s.changes))
	if from >= n {
		return nil, n
	}
	return append([]RestingChange(nil), s.changes[from:]...), n
}

// ChangesNext returns the index the next resting-order change will have.
// Safe for concurrent use.
func (s *Sim) ChangesNext() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return uint64(len(s.changes))
}

// Messages returns copies of the recorded ITCH messages with sequence
// numbers from to to inclusive, clipped to the record.
func (s *Sim) Messages(from, to uint64) [][]byte { return s.rec.copyRange(from, to) }

// SZSEChannel returns the ChannelNo of the SZSE orders and trades, or 0
// outside SZSE mode.
func (s *Sim) SZSEChannel() uint16 {
	if s.sz == nil {
		return 0
	}
	return s.sz.cfg.Channel
}

// SZSELast returns the ApplSeqNum of the last SZSE record of the channel
// (0 before any, and outside SZSE mode); the channel holds records 1 to
// SZSELast().
func (s *Sim) SZSELast() int64 {
	if s.sz == nil {
		return 0
	}
	return s.sz.rec.last(s.sz.cfg.Channel)
}

// SZSERecords returns copies of the SZSE records (whole frames: header,
// body, checksum) with ApplSeqNums from to to inclusive, clipped to the
// channel; nil outside SZSE mode.
func (s *Sim) SZSERecords(from, to int64) [][]byte {
	if s.sz == nil {
		return nil
	}
	frames := s.sz.rec.records(nil, s.sz.cfg.Channel, from, to)
	for i, f := range frames {
		frames[i] = append([]byte(nil), f...)
	}
	return frames
}

// sinceMidnight returns the nanoseconds since midnight CST of t.
func sinceMidnight(t time.Time) uint64 {
	t = t.In(cst)
	y, m, d := t.Date()
	return uint64(t.Sub(time.Date(y, m, d, 0, 0, 0, 0, cst)))
}

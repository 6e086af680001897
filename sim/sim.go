package sim

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"sgw/feed/itch"
	"sgw/refdata"
	"sgw/sim/match"
)

// Sim is an exchange simulator: a matching engine, synthetic order flow,
// the record of its ITCH feed and the two SoupBinTCP listeners that serve
// that record.
//
// Every exported method is safe to call from any goroutine. Calls that
// change the books (Submit, Cancel, Replace, Halt, Step, EndSession and
// the synthetic flow) are serialised by one mutex, so the feed's order is
// the order in which those calls took it.
type Sim struct {
	cfg Config
	log *slog.Logger
	rec *record
	srv [2]*source
	ca  []byte // PEM of the self-signed CA, if any

	// mu guards the engine, the flow and everything down to lastTS. Every
	// append to rec happens with mu held, so sequence numbers follow the
	// order of the engine's events.
	mu     sync.Mutex
	eng    *match.Engine
	flow   *flow
	stocks [][8]byte // ITCH Stock field by locate-1
	paused bool
	ended  bool
	encErr error // first error of the engine's sink
	start  time.Time
	base   uint64 // ns since midnight at start
	lastTS uint64

	// life guards the run/close lifecycle and wg.Add after Close.
	life    sync.Mutex
	closed  bool
	running bool
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
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
		cfg:   cfg,
		log:   cfg.Logger,
		rec:   newRecord(),
		done:  make(chan struct{}),
		start: time.Now(),
	}
	s.base = sinceMidnight(s.start)
	s.eng, err = match.New(cfg.Instruments, s.onEvent)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	for _, in := range cfg.Instruments {
		st, err := itch.StockOf(in.FeedSymbol)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: feed_symbol: %w", ErrConfig, in.Symbol, err)
		}
		s.stocks = append(s.stocks, st)
	}
	s.flow = newFlow(cfg.Seed, cfg.Instruments, cfg.MaxRestingPerSymbol)
	if err := s.startOfDay(); err != nil {
		return nil, err
	}
	var selfSigned *tls.Certificate
	for i, lc := range []ListenerConfig{cfg.Primary, cfg.Backup} {
		var tc *tls.Config
		if lc.TLS.Enabled() {
			if tc, selfSigned, err = s.tlsConfig(lc.TLS, selfSigned); err != nil {
				s.closeListeners()
				return nil, err
			}
		}
		src, err := listen(Source(i), lc.Addr, tc)
		if err != nil {
			s.closeListeners()
			return nil, err
		}
		s.srv[i] = src
	}
	return s, nil
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
		src.closeAll()
	}
	s.wg.Wait()
	return nil
}

// Addr returns the address src listens on, or nil for a bad source.
func (s *Sim) Addr(src Source) net.Addr {
	if src != Primary && src != Backup {
		return nil
	}
	return s.srv[src].ln.Addr()
}

// CACertPEM returns the PEM certificate of the in-memory CA that issued the
// self-signed listener certificate, or nil when no listener is self-signed.
func (s *Sim) CACertPEM() []byte {
	if s.ca == nil {
		return nil
	}
	return append([]byte(nil), s.ca...)
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

// Messages returns copies of the recorded ITCH messages with sequence
// numbers from to to inclusive, clipped to the record.
func (s *Sim) Messages(from, to uint64) [][]byte { return s.rec.copyRange(from, to) }

// sinceMidnight returns the nanoseconds since midnight CST of t.
func sinceMidnight(t time.Time) uint64 {
	t = t.In(cst)
	y, m, d := t.Date()
	return uint64(t.Sub(time.Date(y, m, d, 0, 0, 0, 0, cst)))
}

package fixsim

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"

	"sgw/fix"
	"sgw/sim"
)

// pollInterval is how often the acceptor looks at the simulator's feed for
// executions of resting FIX orders that it did not cause (synthetic flow,
// direct Sim calls). Executions between FIX orders are reported at once.
const pollInterval = 2 * time.Millisecond

// Acceptor is the simulator's FIX order acceptor: a quickfix acceptor on an
// internal loopback address, reached over lines (TCP proxies) that faults
// can be injected into, in front of a venue that trades the sessions'
// orders on a sim.Sim.
//
// Every exported method is safe to call from any goroutine.
type Acceptor struct {
	cfg      Config
	log      *slog.Logger
	v        *venue
	settings *quickfix.Settings
	stores   *stores
	inner    net.Listener // the quickfix acceptor's address; lines connect to it
	lines    []*line
	lineOf   sync.Map // local address of a line's connection to inner -> line index

	gen atomic.Pointer[generation] // nil while a Restart is replacing it

	// directWrites makes connections write to the socket from quickfix's
	// writer goroutine, as a plain quickfix acceptor does. Set only by the
	// benchmark, before Run.
	directWrites bool

	// life guards the run/close lifecycle and serialises Restart.
	life    sync.Mutex
	running bool
	closed  bool
	done    chan struct{} // closed by Close
	wg      sync.WaitGroup
}

// New validates cfg, binds the lines and the internal address (LineAddr
// works at once) and creates the FIX sessions, which Run then serves. log
// may be nil (discard). FIX sessions live in quickfix's process-wide
// registry, so two Acceptors in one process need different
// SenderCompID/TargetCompID/BeginString combinations; New fails otherwise.
func New(cfg Config, s *sim.Sim, log *slog.Logger) (*Acceptor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("%w: nil Sim", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &Acceptor{cfg: cfg, log: log, done: make(chan struct{})}
	a.v = newVenue(s, cfg, log)
	a.v.send = func(p *party, m *quickfix.Message) error {
		// quickfix offers no way to queue a message on a session other
		// than its process-wide registry; this is the only place it is
		// used.
		return quickfix.SendToTarget(m, p.id)
	}
	if a.inner, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("fixsim: internal listener: %w", err)
	}
	for _, addr := range cfg.Lines {
		idx := len(a.lines)
		l, err := listenLine(addr, a.inner.Addr().String(),
			func(local string) { a.lineOf.Store(local, idx) },
			func(local string) { a.lineOf.Delete(local) })
		if err != nil {
			a.closeListeners()
			return nil, err
		}
		a.lines = append(a.lines, l)
	}
	if a.settings, err = a.sessionSettings(); err != nil {
		a.closeListeners()
		return nil, err
	}
	a.stores = newStores(a.settings, cfg.StoreDir, true)
	g, err := a.newGeneration()
	if err != nil {
		a.closeListeners()
		return nil, err
	}
	a.gen.Store(g)
	return a, nil
}

// sessionSettings builds the quickfix settings: one session per
// counterparty, all on the internal address.
func (a *Acceptor) sessionSettings() (*quickfix.Settings, error) {
	st := quickfix.NewSettings()
	gs := st.GlobalSettings()
	host, port, err := net.SplitHostPort(a.inner.Addr().String())
	if err != nil {
		return nil, err
	}
	gs.Set(config.SocketAcceptHost, host)
	gs.Set(config.SocketAcceptPort, port)
	gs.Set(config.ResetOnLogon, "N")
	gs.Set(config.TimeStampPrecision, "MILLIS")
	if a.cfg.HeartBtInt > 0 {
		gs.Set(config.HeartBtIntOverride, "Y")
		gs.Set(config.HeartBtInt, strconv.Itoa(int(a.cfg.HeartBtInt/time.Second)))
	}
	if a.cfg.StoreDir != "" {
		gs.Set(config.FileStorePath, a.cfg.StoreDir)
		gs.Set(config.FileStoreSync, map[bool]string{true: "Y", false: "N"}[a.cfg.StoreSync])
	}
	for _, t := range a.cfg.TargetCompIDs {
		ss := quickfix.NewSessionSettings()
		ss.Set(config.BeginString, a.cfg.BeginString)
		ss.Set(config.SenderCompID, a.cfg.SenderCompID)
		ss.Set(config.TargetCompID, t)
		if _, err := st.AddSession(ss); err != nil {
			return nil, fmt.Errorf("%w: session %s: %w", ErrConfig, t, err)
		}
	}
	return st, nil
}

// newGeneration creates a quickfix acceptor with its sessions (registering
// them in quickfix's registry), not yet started.
func (a *Acceptor) newGeneration() (*generation, error) {
	for _, p := range a.v.parties {
		// Checked first so that a failure below only ever unregisters
		// sessions this call registered.
		if _, err := quickfix.GetExpectedSenderNum(p.id); err == nil {
			return nil, fmt.Errorf("%w: session %s already exists in this process", ErrConfig, p.id)
		}
	}
	g := newGeneration(a)
	qfa, err := quickfix.NewAcceptor(app{a}, a.stores, a.settings, fix.LogFactory(a.log, "fixsim"))
	if err != nil {
		a.unregister() // NewAcceptor may have registered some sessions
		a.stores.closeOpen()
		return nil, fmt.Errorf("fixsim: sessions: %w", err)
	}
	qfa.SetNewListenerCallback(func(string, *tls.Config) (net.Listener, error) { return g, nil })
	qfa.SetConnectionValidator(g)
	g.qfa = qfa
	return g, nil
}

// unregister removes the sessions from quickfix's registry.
func (a *Acceptor) unregister() {
	for _, p := range a.v.parties {
		_ = quickfix.UnregisterSession(p.id)
	}
}

func (a *Acceptor) closeListeners() {
	a.inner.Close()
	for _, l := range a.lines {
		l.close()
	}
}

// Run serves the lines and the FIX sessions until ctx is cancelled or
// Close is called, then closes everything (logging the sessions out) and
// returns nil. It returns an error if the acceptor cannot start. Run may
// be called once.
func (a *Acceptor) Run(ctx context.Context) error {
	a.life.Lock()
	switch {
	case a.closed:
		a.life.Unlock()
		return ErrClosed
	case a.running:
		a.life.Unlock()
		return ErrRunning
	}
	a.running = true
	if err := a.gen.Load().start(); err != nil {
		a.life.Unlock()
		a.Close()
		return fmt.Errorf("fixsim: start: %w", err)
	}
	a.wg.Add(2)
	go a.accept()
	go a.pollFeed()
	for _, l := range a.lines {
		l.start()
	}
	a.life.Unlock()
	a.log.Info("fixsim: acceptor running", "sender", a.cfg.SenderCompID, "lines", a.lineAddrs())
	select {
	case <-ctx.Done():
	case <-a.done:
	}
	return a.Close()
}

// accept hands the connections the lines make to the current generation
// (none during a Restart: they are closed).
func (a *Acceptor) accept() {
	defer a.wg.Done()
	for {
		c, err := a.inner.Accept()
		if err != nil {
			return
		}
		if g := a.gen.Load(); g == nil || !g.offer(c) {
			c.Close()
		}
	}
}

// pollFeed reports, every pollInterval, executions of resting FIX orders
// caused outside the acceptor.
func (a *Acceptor) pollFeed() {
	defer a.wg.Done()
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-a.done:
			return
		case <-t.C:
			a.v.poll()
		}
	}
}

// Close stops the acceptor: the sessions are logged out, the lines and
// their connections closed and the stores closed. It is idempotent and
// returns the first error closing the stores.
func (a *Acceptor) Close() error {
	a.life.Lock()
	defer a.life.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	close(a.done)
	if g := a.gen.Swap(nil); g != nil {
		g.stop(false)
	}
	a.closeListeners()
	a.wg.Wait()
	return a.stores.closeOpen()
}

// Restart stops the acceptor abruptly, as a crash would (every connection
// is closed without a Logout), and starts it again on the same addresses
// with the same stores: with Config.StoreDir the new sessions reopen the
// files, otherwise they reuse the memory stores, so sequence numbers and
// sent messages persist either way. Orders and their state persist too
// (they live in the Sim). Reports produced meanwhile (fills by synthetic
// flow) are held and queued on the new sessions. Counterparties must log
// on again. If starting fails the acceptor stays down and Restart may be
// called again.
func (a *Acceptor) Restart() error {
	a.life.Lock()
	defer a.life.Unlock()
	if !a.running || a.closed {
		return ErrNotRunning
	}
	a.v.holdSends()
	if g := a.gen.Swap(nil); g != nil {
		g.stop(true)
		if err := a.stores.closeOpen(); err != nil {
			a.log.Error("fixsim: closing stores", "err", err)
		}
	}
	g, err := a.newGeneration()
	if err != nil {
		return err
	}
	// The new sessions exist (registered) but do not run yet: queue what
	// was held so it keeps its order ahead of anything new.
	a.v.releaseSends()
	if err := g.start(); err != nil {
		g.stop(false)
		a.stores.closeOpen()
		a.v.holdSends()
		return fmt.Errorf("fixsim: restart: %w", err)
	}
	a.gen.Store(g)
	a.log.Info("fixsim: acceptor restarted")
	return nil
}

// line returns line i or ErrBadLine.
func (a *Acceptor) line(i int) (*line, error) {
	if i < 0 || i >= len(a.lines) {
		return nil, fmt.Errorf("%w: %d (have %d)", ErrBadLine, i, len(a.lines))
	}
	return a.lines[i], nil
}

// Lines returns the number of lines.
func (a *Acceptor) Lines() int { return len(a.lines) }

// LineAddr returns the listen address of line i, or "" if there is no such
// line.
func (a *Acceptor) LineAddr(i int) string {
	l, err := a.line(i)
	if err != nil {
		return ""
	}
	return l.addr()
}

func (a *Acceptor) lineAddrs() []string {
	addrs := make([]string, len(a.lines))
	for i, l := range a.lines {
		addrs[i] = l.addr()
	}
	return addrs
}

// CutLine closes every connection over line i and refuses new ones until
// RestoreLine, as a line that is down. Data the line was holding (stalled)
// is lost.
func (a *Acceptor) CutLine(i int) error {
	return a.lineFault(i, "cut", func(l *line) { l.setCut(true) })
}

// RestoreLine ends a CutLine.
func (a *Acceptor) RestoreLine(i int) error {
	return a.lineFault(i, "restore", func(l *line) { l.setCut(false) })
}

// StallLine stops line i forwarding in both directions while keeping its
// connections open, as a line that silently drops traffic; new
// connections are accepted but stall too.
func (a *Acceptor) StallLine(i int) error {
	return a.lineFault(i, "stall", func(l *line) { l.setStalled(true) })
}

// UnstallLine ends a StallLine: what the line held is forwarded (to
// connections that are still open).
func (a *Acceptor) UnstallLine(i int) error {
	return a.lineFault(i, "unstall", func(l *line) { l.setStalled(false) })
}

func (a *Acceptor) lineFault(i int, what string, fn func(*line)) error {
	l, err := a.line(i)
	if err != nil {
		return err
	}
	fn(l)
	a.log.Info("fixsim: line fault", "line", i, "fault", what)
	return nil
}

// LineStats returns the state of line i (zero for a bad index).
func (a *Acceptor) LineStats(i int) LineStats {
	l, err := a.line(i)
	if err != nil {
		return LineStats{}
	}
	return l.stats()
}

// lineOfConn returns the line a connection to the internal address came
// over, or -1.
func (a *Acceptor) lineOfConn(c net.Conn) int {
	if v, ok := a.lineOf.Load(c.RemoteAddr().String()); ok {
		return v.(int)
	}
	return -1
}

func (a *Acceptor) activeLine(sid quickfix.SessionID) int {
	if g := a.gen.Load(); g != nil {
		return g.activeLine(sid)
	}
	return -1
}

// ActiveLine returns the index of the line over which counterparty target
// is connected, or -1 when it has no connection.
func (a *Acceptor) ActiveLine(target string) int {
	p := a.v.parties[target]
	if p == nil {
		return -1
	}
	return a.activeLine(p.id)
}

// LoggedOn reports whether counterparty target's session is logged on.
func (a *Acceptor) LoggedOn(target string) bool {
	p := a.v.parties[target]
	return p != nil && p.loggedOn.Load()
}

// Seen returns how many NewOrderSingles with clOrdID reached the venue
// from any session: fresh ones, and possible duplicates (PossDupFlag or
// PossResend set, whether or not the venue already had the order).
// Session-level duplicates that quickfix discards (sequence number already
// processed) never reach the venue and are not counted.
func (a *Acceptor) Seen(clOrdID string) (fresh, possDup int) {
	return a.v.seenCounts(clOrdID)
}

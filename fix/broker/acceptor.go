package broker

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"

	"sgw/fix"
	"sgw/netsec"
	"sgw/orders"
)

// OrderEntry is what the acceptor needs of the order manager.
// *orders.Manager implements it; its methods are safe for concurrent use
// and do not block on the network.
type OrderEntry interface {
	New(orders.NewRequest) (orders.Order, error)
	Cancel(orders.CancelRequest) (orders.Order, error)
	Replace(orders.ReplaceRequest) (orders.Order, error)
	Get(account, clOrdID string) (orders.Order, bool)
	OrdersFrom(src orders.Source) []orders.Order
	// TradingDay is the current trading day (yyyymmdd; orders.Order.EndDay).
	TradingDay() int32
	// RequestDay is the trading day a request entered now is counted
	// in: TradingDay, or the clock's date when later.
	RequestDay() int32
	// DayOf is t's date as trading days are counted (yyyymmdd).
	DayOf(t time.Time) int32
	Register(src orders.Source, sink orders.Sink)
	Unregister(src orders.Source)
	// SessionEnded handles a logout (cancel-on-disconnect) and leaves the
	// session's sink registered: reports queue for its next logon.
	SessionEnded(src orders.Source) int
}

var _ OrderEntry = (*orders.Manager)(nil)

// Acceptor is the gateway's FIX acceptor for brokers: a quickfix acceptor
// serving the configured sessions on one listener, in front of the order
// manager.
//
// New binds the listener; Run serves until its context ends; Addr and
// Close may be called from any goroutine. quickfix calls the Application
// methods on each session's goroutine, one message at a time per session.
type Acceptor struct {
	cfg      Config
	entry    OrderEntry
	log      *slog.Logger
	m        *metrics
	refusals *Refusals
	ln       net.Listener
	settings *quickfix.Settings
	pacer    *fix.AcceptorPacer
	tls      *netsec.ServerTLS // nil: plain text

	// sessions is immutable after New; keyed by sessionKey.
	sessions map[quickfix.SessionID]*session
	// anyAllowed is the union of the sessions' allowed source addresses:
	// connections from elsewhere are closed before quickfix reads a byte.
	anyAllowed AllowedAddrs

	epoch   string // starts the acceptor's own ExecIDs: unique per process start
	execSeq atomic.Uint64

	// requests are the cancels and replaces brokers sent, by account and
	// ClOrdID, until their outcome: their reports need to know which
	// request an order event answers.
	reqMu    sync.Mutex
	requests map[string]request

	// kept holds the sessions' stores when Config.Restate is set; set by
	// Run before the sessions start.
	kept *keptStores

	// sendHook, if set before use, receives what would be queued on a
	// session's pacer (tests); an error is the pacer's refusal.
	sendHook func(s *session, m *quickfix.Message) error
	// connHook, if set before Run, receives every connection accepted
	// (tests), on quickfix's accept goroutine.
	connHook func(*fix.InboundConn)

	life    sync.Mutex
	running bool
	closed  bool
}

// request is a cancel ('F') or replace ('G') a broker sent, and the
// OrigClOrdID it named.
type request struct {
	kind byte
	orig string
}

// New validates cfg, binds the listener (Addr works at once) and prepares
// the sessions; nothing is served until Run. entry and reg are required;
// log may be nil. The quickfix sessions are created by Run (quickfix
// registers them process-wide), so an Acceptor that is never run only
// needs Close.
func New(cfg Config, entry OrderEntry, reg *prometheus.Registry, log *slog.Logger) (*Acceptor, error) {
	cfg, specs, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if entry == nil || reg == nil {
		return nil, fmt.Errorf("%w: order entry and registry are required", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	refusals, err := NewRefusals(reg, log)
	if err != nil {
		return nil, err
	}
	a := &Acceptor{
		cfg: cfg, entry: entry, log: log, m: m, refusals: refusals,
		sessions: map[quickfix.SessionID]*session{},
		epoch:    "B" + strconv.FormatInt(time.Now().UnixMilli(), 36) + ".",
		requests: map[string]request{},
		pacer:    fix.NewAcceptorPacer(cfg.QueueSize, log),
	}
	if a.tls, err = cfg.serverTLS(log); err != nil {
		return nil, err
	}
	for _, sp := range specs {
		s := newSession(a, sp)
		a.sessions[sessionKey(sp.id)] = s
		m.sessionUp.WithLabelValues(sp.id.TargetCompID).Set(0)
		m.storeReads.WithLabelValues(sp.id.TargetCompID)
	}
	a.anyAllowed = allowedBy(specs)
	if cfg.Term != 0 {
		a.epoch = "T" + strconv.FormatUint(cfg.Term, 36) + "."
	}
	if a.ln = cfg.Listener; a.ln == nil {
		if a.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("broker: listen %s: %w", cfg.Listen, err)
		}
	}
	if a.settings, err = cfg.settings(a.ln.Addr().(*net.TCPAddr).Port, specs); err != nil {
		a.ln.Close()
		return nil, err
	}
	return a, nil
}

// Addr returns the address brokers connect to, host:port.
func (a *Acceptor) Addr() string { return a.ln.Addr().String() }

// Run serves the broker sessions until ctx ends, then logs them out,
// closes the listener and the stores and returns nil. It returns an error
// if the sessions cannot be set up (a store, or a session id already in
// use in this process). Run may be called once.
//
// While Run runs, every session's order events are routed to it
// (orders.Manager.Register), logged on or not: reports produced while a
// broker is logged out queue (up to QueueSize) and go out after its next
// logon. A logout or disconnect is reported to the manager
// (SessionEnded: cancel-on-disconnect, when risk is so configured).
func (a *Acceptor) Run(ctx context.Context) (err error) {
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
	a.life.Unlock()
	defer a.Close()

	for _, s := range a.sessions {
		a.entry.Register(s.src, s.sink)
	}
	defer func() {
		for _, s := range a.sessions {
			a.entry.Unregister(s.src)
		}
	}()
	var st storeFactory = newStores(a.settings, a.cfg, a.log)
	if a.cfg.Stores != nil {
		st = fix.NewReplicatedStores(a.cfg.Stores, a.log)
	}
	st.OnReadError(func(sid quickfix.SessionID, _ error) { a.m.storeReads.WithLabelValues(sid.TargetCompID).Inc() })
	st = a.keep(st)
	defer func() {
		if cerr := st.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	qfa, err := quickfix.NewAcceptor(app{a}, st, a.settings, fix.LogFactory(a.log, "broker"))
	if err != nil {
		for _, s := range a.sessions {
			_ = quickfix.UnregisterSession(s.id) // NewAcceptor may have registered some
		}
		return fmt.Errorf("broker: sessions: %w", err)
	}
	var ln net.Listener = a.ln
	if pc := a.cfg.ProxyProtocol; pc != nil {
		pl, err := netsec.NewProxyListener(a.ln, *pc, "brokers.proxy_protocol", func(remote net.Addr, err error) {
			a.refused(ReasonProxy, remote, "", err.Error())
		})
		if err != nil {
			return err
		}
		defer pl.Close()
		ln = pl
	}
	if a.cfg.Listener == nil {
		// A listener of our own: its connections are capped here (a
		// clustered gateway's front caps those it hands over).
		ln = netsec.NewLimitListener(ln, a.cfg.MaxConnections, 0, func(remote net.Addr, reason string) {
			a.refused(reason, remote, "", "too many connections")
		})
	}
	qfa.SetNewListenerCallback(a.pacer.Listener(filterListener{Listener: ln, a: a}))
	qfa.SetConnectionValidator(validator{a})
	if err := qfa.Start(); err != nil {
		qfa.Stop()
		return fmt.Errorf("broker: start: %w", err)
	}
	if a.tls != nil {
		wctx, stop := context.WithCancel(ctx)
		watched := make(chan struct{})
		go func() { defer close(watched); a.tls.Watch(wctx) }()
		defer func() { stop(); <-watched }()
	}
	a.log.Info("broker: acceptor listening", "addr", a.Addr(), "sessions", len(a.sessions),
		"tls", a.tls != nil, "mutual_tls", a.tls != nil && a.tls.MutualTLS(), "proxy_protocol", a.cfg.ProxyProtocol != nil)
	<-ctx.Done()
	// The pacers stop first: quickfix unregisters the sessions in Stop,
	// after which they could no longer submit. Reports still queued are
	// dropped; they are in the journal, and a broker reconciles with
	// OrderStatusRequest after the gateway restarts.
	a.pacer.Close()
	qfa.Stop() // logs the sessions out and waits for their goroutines
	return nil
}

// Close releases the listener and the pacer of an Acceptor that will not
// run (Run does it when it returns). It is idempotent.
func (a *Acceptor) Close() {
	a.life.Lock()
	defer a.life.Unlock()
	if !a.closed {
		a.closed = true
		a.ln.Close()
		a.pacer.Close()
	}
}

// session returns the configured session sid names, or nil.
func (a *Acceptor) session(sid quickfix.SessionID) *session {
	return a.sessions[sessionKey(sid)]
}

// sessionKey keeps the fields of a session id the acceptor configures.
func sessionKey(sid quickfix.SessionID) quickfix.SessionID {
	return quickfix.SessionID{BeginString: sid.BeginString, SenderCompID: sid.SenderCompID, TargetCompID: sid.TargetCompID}
}

// nextExecID returns an ExecID of the acceptor's own: the process start
// and a counter, so it is never given twice in a day. Upstream executions
// keep theirs, prefixed with the upstream's name and a colon (see
// session.OrderEvent), so the two never collide.
func (a *Acceptor) nextExecID() string {
	return a.epoch + strconv.FormatUint(a.execSeq.Add(1), 36)
}

// record remembers a cancel or replace a broker sent, before it goes to
// the manager (its first event may arrive before the call returns). A
// request already recorded under the same account and ClOrdID is still in
// flight and is kept: fresh is false and live is that request. The caller
// forgets a fresh record only (lookup with done) if the manager refuses
// the request.
func (a *Acceptor) record(account, clOrdID string, r request) (fresh bool, live request) {
	k := account + "\x00" + clOrdID
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	if cur, ok := a.requests[k]; ok {
		return false, cur
	}
	a.requests[k] = r
	return true, r
}

// lookup returns a recorded request; done forgets it.
func (a *Acceptor) lookup(account, clOrdID string, done bool) (request, bool) {
	k := account + "\x00" + clOrdID
	a.reqMu.Lock()
	defer a.reqMu.Unlock()
	r, ok := a.requests[k]
	if done {
		delete(a.requests, k)
	}
	return r, ok
}

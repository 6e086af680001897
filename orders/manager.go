package orders

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/fix"
	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// Defaults of the Config fields.
const (
	DefaultHoldQueue     = 10000
	DefaultHoldTimeout   = 15 * time.Second
	DefaultAckTimeout    = 10 * time.Second
	DefaultStatusTimeout = 10 * time.Second
	// DefaultStatusCheckWindow is Config.StatusCheckWindow's default.
	DefaultStatusCheckWindow = 64
	// DefaultDayEndCheck is Config.DayEndCheck's default: 16:00 in
	// Shanghai, past the STAR and ChiNext after-hours trading (to 15:30).
	DefaultDayEndCheck = time.Hour
	// DefaultJournalStall is Config.JournalStall's default.
	DefaultJournalStall = 5 * time.Second
)

// Config configures a Manager.
type Config struct {
	// CashUpstream names the upstream of cash accounts. Zero means "core".
	CashUpstream string
	// CreditUpstream names the upstream of credit (margin) accounts. Zero
	// means "margin".
	CreditUpstream string
	// CreditAccounts are the accounts that trade on credit.
	CreditAccounts []string
	// IDPrefix starts the upstream ids (ClOrdID) the gateway gives
	// orders and requests; each gateway instance sharing an upstream
	// session needs its own. Zero means "GW".
	IDPrefix string
	// HoldQueue bounds, per upstream, the requests held while its session
	// is down; a new order beyond it is refused (orders.upstream_unavailable).
	// Zero means 10000.
	HoldQueue int
	// HoldTimeout is how long a request is held for a session that is
	// down. A request held longer is ended by the gateway: a new order is
	// rejected and a cancel or replace refused (orders.upstream_unavailable;
	// nothing was sent). It runs from when the request was first held: a
	// request the session gives back at a drop keeps that time. While the
	// session has been down that long, new orders are refused at once.
	// Zero means 15s.
	HoldTimeout time.Duration
	// AckTimeout is how long a request handed to the upstream may wait
	// for its answer before the gateway asks for the order's status
	// (OrderStatusRequest). Time a request spends in the session's own
	// queue, before the venue can have seen it, does not count towards
	// it or towards StatusTimeout, nor does time the session was down;
	// the time it was logged on counts across drops, so a session that
	// flaps cannot keep a request unanswered forever (see awaits). Zero
	// means 10s.
	AckTimeout time.Duration
	// StatusTimeout is how long a status request waits for its answer
	// before the gateway decides without it: the recovery's (see
	// Recover), the one sent after AckTimeout, and the day's end check.
	// It is timed apart from AckTimeout, so a longer one never delays a
	// shorter one's deadline. Zero means 10s.
	StatusTimeout time.Duration
	// StatusCheckWindow bounds the recovery's status checks of the open
	// orders the venue has (see Recover) waiting in a session's queue: the
	// next is sent only while fewer messages wait there, so a new order
	// waits behind at most about that many. Zero means 64; negative is
	// an error.
	StatusCheckWindow int
	// DayEndCheck is how long after the market's close (15:00 on a
	// trading day of risk's schedule) each order the venue has (sent, not
	// held) and never reported ended is asked about, and expired here if the
	// venue does not answer (see Manager.dayEnd). Zero means 1h; it must
	// be under 9h, so the check runs before midnight, while risk still
	// holds the day.
	DayEndCheck time.Duration
	// JournalStall is how long the journal may go without completing a
	// record (durable or failed) while records wait in it before the
	// journal counts as stalled (a disk that hangs: fsync neither returns
	// nor fails): new orders and replaces are then refused at once,
	// orders.journal_stalled, until it completes one again, rather than
	// taken into memory unanswered for as long as the disk hangs and sent
	// long after. Requests already in the journal wait for its outcome.
	// Cancels still pass (one per order at most). Zero means 5s;
	// negative is an error.
	JournalStall time.Duration
	// Clock stamps orders; nil means the wall clock.
	Clock func() time.Time
	// stallClock times JournalStall (tests set it); nil means the wall
	// clock, whose monotonic reading a step of the system's clock does
	// not move. It is not Clock: a disk hangs in real time, whatever
	// the time orders are stamped with.
	stallClock func() time.Time
	// OnSent, when set, is told how long each new order took from New to
	// being handed to its upstream session (risk, journal fsync, routing):
	// the gateway-internal latency. Called on the dispatcher goroutine.
	OnSent func(time.Duration)
	// Registry, when set, receives the manager's metrics (see metrics.go).
	Registry *prometheus.Registry
}

// Journal is what the manager needs of the order journal.
// *journal.Journal implements it.
type Journal interface {
	// AppendAsync appends a record and calls done on the journal's
	// goroutine once it is durable or failed; a record refused at once is
	// the returned error and done is never called. See journal.Journal.
	AppendAsync(typ byte, body []byte, done func(seq uint64, err error)) error
	// Replay calls fn for every durable record in order.
	Replay(fn func(journal.Record) error) error
}

var _ Journal = (*journal.Journal)(nil)

// Upstream is what the manager needs of one upstream FIX session.
// *fix.Upstream implements it.
type Upstream interface {
	// Send queues a fix.NewOrder, CancelRequest, ReplaceRequest or
	// StatusRequest; it never blocks and never calls back. It fails with
	// fix.ErrNotLoggedOn or fix.ErrQueueFull when nothing was queued.
	Send(req any) error
	// Handed tells whether a request was handed to the session before
	// the process started.
	Handed(clOrdID string) fix.Handed
	// ResumeInboundAfter names the last message from the upstream the
	// journal holds, so that the session asks for any later one again.
	ResumeInboundAfter(seq int, period int64)
	// Queued counts the messages that have entered the session's own
	// queue, Left those that have left it (handed to the FIX engine, or
	// given back at a logout). A request Send queued has left once Left
	// reaches the Queued read after that Send; until then the venue
	// cannot have seen it, and its answer is not timed (see awaits).
	Queued() uint64
	Left() uint64
}

var _ Upstream = (*fix.Upstream)(nil)

// Manager keeps every order of the day and carries requests and
// execution reports between clients, risk, the journal and the upstreams.
//
// Concurrency: every method is safe for concurrent use. One mutex, mu,
// guards all state; it is held for in-memory work and for handing
// requests to an Upstream (Send never blocks or calls back), never across
// I/O. Nothing is called back under it: risk is called with it held (risk
// takes only its own mutex, and never calls out), the journal's callbacks
// run on the manager's dispatcher goroutine (handed over by the journal's
// writer) and take mu themselves, and sinks are
// called only after mu is released (see unlock). The fix.Handler methods
// run on the upstream sessions' goroutines.
type Manager struct {
	cfg    Config
	risk   *risk.Checker
	jrnl   Journal
	credit map[string]bool
	log    *slog.Logger
	met    *metrics

	// inJournal counts the records appended whose callback has not run;
	// draining is set by Drain. Both are read without mu, so that a
	// record with nothing to do once durable (most) costs its callback no
	// lock.
	inJournal atomic.Int64
	draining  atomic.Bool
	// journalSince is when the journal last completed a record, or took
	// one while holding none (Config.stallClock's time since clockBase):
	// with records in it, the journal has stalled once JournalStall has
	// passed since (journalStalled).
	journalSince atomic.Int64
	clockBase    time.Time

	durable    chan durable  // journal completions, to the dispatcher
	dispatched chan struct{} // closed when the dispatcher returns
	closeOnce  sync.Once

	mu        sync.Mutex
	routes    map[string]*route
	orders    map[string]*Order // by account + "\x00" + any client order id it had
	byUID     map[string]*Order // by any upstream id it had
	list      []*Order          // in entry order
	byAccount map[string][]*Order
	bySource  map[Source][]*Order // in entry order: OrdersFrom, without a scan of the day's list
	epoch     string              // IDPrefix and when Recover ran (or New), base 36
	lastEpoch int64               // the latest epoch (Unix ms) of the upstream ids replayed
	replayed  uint64              // the journal seq of the last record replayed (CatchUp, Recover)
	lastIn    map[string]int      // upstream → MsgSeqNum of its last message the journal holds
	period    map[string]int64    // upstream → session period of the messages journaled last (periodRec)
	nextUID   uint64
	execs     map[execRef]bool // the executions applied, each with its order
	sinks     map[Source]Sink
	watchers  map[string]map[Sink]bool // account → sinks watching its orders
	// requesters names, by the account and client order id of a
	// cancel or replace, the source that sent it: its events (Ref that
	// id) go to that source too, which may not be the order's.
	requesters map[requestKey]Source
	failed     error         // sticky journal failure
	stalled    bool          // the journal was stalled at the last tick (the gauge, the log)
	stopping   bool          // Drain was called: no new requests
	changed    chan struct{} // closed and replaced when an answer arrives (Drain)
	stats      Stats
	outbox     []delivery // events to deliver once mu is released
	// dayRecs is set once the journal holds a day record (dayRec), live
	// or replayed: a replay changes day only at those from then on.
	dayRecs bool
	// replaying is set while replayJournal applies records; replayRiskErrs
	// counts the risk ledger's refusals it met (riskErr), each counted and
	// logged when it happened live.
	replaying      bool
	replayRiskErrs int
	// replayAt is the time of the record a replay applies (its journal
	// Time), which a live change took from the clock (reportDay).
	replayAt time.Time

	// keptFrom indexes, by the source a replace came from, the orders
	// that kept it refused (Order.refused; endChange), so that the end of
	// that source's session finds them (replacerEnded). An entry stays
	// until the session ends (or a restart finds it not connected), even
	// once the order no longer keeps the replace: one per order and
	// source at most, as bySource's. Live and in replay alike.
	keptFrom map[Source]map[*Order]struct{}
}

// delivery is an event for some sinks.
type delivery struct {
	ev      Event
	targets []Sink
}

// Stats counts the manager's requests. Copies are returned by Stats.
type Stats struct {
	// Orders counts new orders by source kind ("ws", "fix") and result
	// ("accepted", "rejected").
	Orders map[[2]string]uint64
	// RiskRejects counts rejections by code (risk.* and orders.*); every
	// code of RejectCodes is present from the start.
	RiskRejects map[string]uint64
	// KillSwitches is the state of the risk checks' kill switches: the
	// global one under "", then every account's own.
	KillSwitches map[string]bool
}

// NewStats returns counters at zero for every source kind ("ws", "fix")
// and result, and for every code of RejectCodes, so that a counter exists
// before its first event.
func NewStats() Stats {
	st := Stats{Orders: map[[2]string]uint64{}, RiskRejects: map[string]uint64{}}
	for _, kind := range []string{"ws", "fix"} {
		for _, result := range []string{"accepted", "rejected"} {
			st.Orders[[2]string{kind, result}] = 0
		}
	}
	for _, code := range RejectCodes() {
		st.RiskRejects[code] = 0
	}
	return st
}

// RejectCodes returns every code a new order, cancel or replace may be
// rejected with by the manager or its risk checks.
func RejectCodes() []string {
	return append([]string{CodeBadID, CodeUnknownOrder, CodeRequestPending, CodeNoUpstream, CodeUpstreamDown,
		CodeUpstreamReject, CodeJournal, CodeJournalStalled, CodeStopping, CodeInDoubt, CodeNotLeader, CodeTooLate}, risk.Codes()...)
}

// Check validates cfg as New would: what `gateway check-config` asks of
// order entry.
func (cfg Config) Check() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults validates cfg and returns it with the documented defaults
// filled in.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.CashUpstream == "" {
		cfg.CashUpstream = "core"
	}
	if cfg.CreditUpstream == "" {
		cfg.CreditUpstream = "margin"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.stallClock == nil {
		cfg.stallClock = time.Now
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "GW"
	}
	if cfg.HoldQueue == 0 {
		cfg.HoldQueue = DefaultHoldQueue
	}
	if cfg.HoldTimeout == 0 {
		cfg.HoldTimeout = DefaultHoldTimeout
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	if cfg.StatusTimeout == 0 {
		cfg.StatusTimeout = DefaultStatusTimeout
	}
	if cfg.StatusCheckWindow == 0 {
		cfg.StatusCheckWindow = DefaultStatusCheckWindow
	}
	if cfg.DayEndCheck == 0 {
		cfg.DayEndCheck = DefaultDayEndCheck
	}
	if cfg.JournalStall == 0 {
		cfg.JournalStall = DefaultJournalStall
	}
	switch {
	case cfg.HoldQueue < 0:
		return cfg, fmt.Errorf("%w: hold_queue %d is negative", ErrConfig, cfg.HoldQueue)
	case cfg.StatusCheckWindow < 0:
		return cfg, fmt.Errorf("%w: status check window %d is negative", ErrConfig, cfg.StatusCheckWindow)
	case cfg.HoldTimeout < 0 || cfg.AckTimeout < 0 || cfg.StatusTimeout < 0:
		return cfg, fmt.Errorf("%w: hold_timeout %v, ack_timeout %v, status_timeout %v: none may be negative",
			ErrConfig, cfg.HoldTimeout, cfg.AckTimeout, cfg.StatusTimeout)
	case cfg.JournalStall < 0:
		return cfg, fmt.Errorf("%w: journal stall %v is negative", ErrConfig, cfg.JournalStall)
	case cfg.DayEndCheck < 0 || cfg.DayEndCheck >= 9*time.Hour:
		return cfg, fmt.Errorf("%w: day_end_check %v: from the close (15:00) to before midnight, 0 < d < 9h", ErrConfig, cfg.DayEndCheck)
	case !refdata.ValidID(cfg.IDPrefix, 8):
		return cfg, fmt.Errorf("%w: id_prefix %q: 1 to 8 characters of A-Z a-z 0-9 - _ . : / # @", ErrConfig, cfg.IDPrefix)
	}
	return cfg, nil
}

// New returns a manager. Add the upstreams (AddUpstream), then call
// Recover before accepting requests and Run to drive its timers. The
// manager changes rc's trading day from now on (risk.Checker.DaysByCaller,
// newDay): rc serves this manager only.
func New(cfg Config, rc *risk.Checker, j Journal, log *slog.Logger) (*Manager, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if rc == nil || j == nil {
		return nil, fmt.Errorf("%w: risk and journal are required", ErrConfig)
	}
	rc.DaysByCaller()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	met, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	m := &Manager{cfg: cfg, risk: rc, jrnl: j, credit: map[string]bool{}, log: log, met: met, clockBase: cfg.stallClock(),
		routes: map[string]*route{}, orders: map[string]*Order{}, byUID: map[string]*Order{},
		byAccount: map[string][]*Order{}, bySource: map[Source][]*Order{}, keptFrom: map[Source]map[*Order]struct{}{}, execs: map[execRef]bool{}, sinks: map[Source]Sink{},
		lastIn:   map[string]int{},
		period:   map[string]int64{},
		watchers: map[string]map[Sink]bool{}, requesters: map[requestKey]Source{}, changed: make(chan struct{}),
		stats: NewStats()}
	for _, a := range cfg.CreditAccounts {
		m.credit[a] = true
	}
	m.durable, m.dispatched = make(chan durable, durableQueue), make(chan struct{})
	go m.dispatch()
	m.newEpoch()
	return m, nil
}

// newEpoch starts the upstream ids afresh (newUID) from now, or from
// just after the latest epoch of the ids the journal holds if that is
// later: a node whose clock is behind the previous leader's never gives
// an id that leader gave. mu held, or m not yet shared.
func (m *Manager) newEpoch() {
	ms := max(time.Now().UnixMilli(), m.lastEpoch+1)
	m.epoch = m.cfg.IDPrefix + strconv.FormatInt(ms, 36) + "."
	m.nextUID = 0
}

// sawUID notes an upstream id the journal holds (replay), for newEpoch.
// mu held.
func (m *Manager) sawUID(uid string) {
	rest, ok := strings.CutPrefix(uid, m.cfg.IDPrefix)
	if !ok {
		return
	}
	if ep, _, ok := strings.Cut(rest, "."); ok {
		if v, err := strconv.ParseInt(ep, 36, 64); err == nil && v > m.lastEpoch {
			m.lastEpoch = v
		}
	}
}

// AddUpstream makes up the session of the upstream called name. Call it
// for every upstream before Recover.
func (m *Manager) AddUpstream(name string, up Upstream) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.routes[name] = newRoute(name, up, m.cfg.Clock())
	m.met.held.WithLabelValues(name).Set(0)
	m.met.checks.WithLabelValues(name).Set(0)
	m.met.noStatus.WithLabelValues(name).Set(0)
	for _, c := range []*prometheus.CounterVec{m.met.expired, m.met.unknownReports, m.met.duplicates, m.met.unanswered, m.met.expiredOwn, m.met.staleUnknown} {
		c.WithLabelValues(name)
	}
	for _, t := range []string{"D", "F", "G", "H", "other"} {
		m.met.upstreamRejects.WithLabelValues(name, msgTypeLabel(t))
	}
	m.met.ackLatency.WithLabelValues(name)
	for _, action := range []string{"handed", "sent", "probed", "possresend", "status", "ended"} {
		m.met.recovered.WithLabelValues(name, action)
	}
}

// unlock releases mu and then delivers the events queued meanwhile. Every
// exported method that changes state ends with it instead of
// mu.Unlock, so that no sink is ever called under mu.
func (m *Manager) unlock() {
	deliver(m.release())
}

// release releases mu and returns the events queued meanwhile, for the
// caller to deliver.
func (m *Manager) release() []delivery {
	out := m.outbox
	m.outbox = nil
	m.mu.Unlock()
	return out
}

// deliver hands events to their sinks. mu must not be held.
func deliver(out []delivery) {
	for _, d := range out {
		for _, s := range d.targets {
			s.OrderEvent(d.ev)
		}
	}
}

// Stats returns a copy of the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := Stats{Orders: map[[2]string]uint64{}, RiskRejects: map[string]uint64{}, KillSwitches: m.risk.KillSwitches()}
	for k, v := range m.stats.Orders {
		out.Orders[k] = v
	}
	for k, v := range m.stats.RiskRejects {
		out.RiskRejects[k] = v
	}
	return out
}

// CountRejected counts a request a protocol layer refused before it reached
// the manager (an account the session may not trade, a malformed order),
// under the request's source and code.
func (m *Manager) CountRejected(src Source, code string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count(src, true, &Reject{Code: code})
}

// count records the result of a request. mu held.
func (m *Manager) count(src Source, isNew bool, err error) {
	var rr *risk.Reject
	var or *Reject
	switch {
	case errors.As(err, &rr):
		m.stats.RiskRejects[rr.Code]++
	case errors.As(err, &or):
		m.stats.RiskRejects[or.Code]++
	}
	if !isNew {
		return
	}
	result := "accepted"
	if err != nil {
		result = "rejected"
	}
	m.stats.Orders[[2]string{src.Kind, result}]++
}

func key(account, clOrdID string) string { return account + "\x00" + clOrdID }

// requestKey names a cancel or replace by its account and client order
// id: a map key that costs no allocation, looked up for every event
// (targets).
type requestKey struct{ account, clOrdID string }

// newUID returns the next upstream id: the prefix, when this manager
// recovered (so that an id sent upstream just before a crash, whose
// journal record was lost, is never given again) and a counter. mu held.
func (m *Manager) newUID() string {
	m.nextUID++
	return m.epoch + strconv.FormatUint(m.nextUID, 36)
}

// upstreamOf names the upstream serving an account.
func (m *Manager) upstreamOf(account string) string {
	if m.credit[account] {
		return m.cfg.CreditUpstream
	}
	return m.cfg.CashUpstream
}

// Register routes the events of orders entered from src to sink, until
// Unregister.
func (m *Manager) Register(src Source, sink Sink) {
	m.mu.Lock()
	m.sinks[src] = sink
	m.mu.Unlock()
}

// Unregister stops routing src's events.
func (m *Manager) Unregister(src Source) {
	m.mu.Lock()
	delete(m.sinks, src)
	m.mu.Unlock()
}

// Watch sends sink the events of every order of account (the WebSocket
// private orders channel), until Unwatch.
func (m *Manager) Watch(account string, sink Sink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watchers[account] == nil {
		m.watchers[account] = map[Sink]bool{}
	}
	m.watchers[account][sink] = true
}

// Unwatch stops sending sink the events of account.
func (m *Manager) Unwatch(account string, sink Sink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.watchers[account], sink)
	if len(m.watchers[account]) == 0 {
		delete(m.watchers, account) // an account no longer watched leaves nothing behind
	}
}

// targets returns the sinks an event of an order goes to: the sink of the
// source that entered the order, every watcher of its account and, for an
// event answering a cancel or replace (ref its client order id), the sink
// of the source that sent that request, which is not always the order's
// (a client that reconnected, another of the account's sessions). mu held.
func (m *Manager) targets(o *Order, ref string) []Sink {
	if o == nil {
		return nil
	}
	var out []Sink
	src := m.sinks[o.Source]
	if src != nil {
		out = append(out, src)
	}
	watchers := m.watchers[o.Account]
	for s := range watchers {
		if s != src {
			out = append(out, s)
		}
	}
	if rs, ok := m.requesters[requestKey{o.Account, ref}]; ok && rs != o.Source {
		if s := m.sinks[rs]; s != nil && s != src && !watchers[s] {
			out = append(out, s)
		}
	}
	return out
}

// emit queues ev for o's sinks, delivered when mu is released. mu held.
func (m *Manager) emit(o *Order, ev Event) {
	if t := m.targets(o, ev.Ref); len(t) > 0 {
		m.outbox = append(m.outbox, delivery{ev: ev, targets: t})
	}
}

// durableQueue bounds the journal records made durable whose completion
// the dispatcher has not run yet; beyond it the journal's writer waits.
const durableQueue = 1 << 16

// durable is a journal record's completion: handed from the journal's
// writer goroutine to the dispatcher, which runs it.
type durable struct {
	fn  func(err error)
	err error
}

// dispatch runs the completions of journal records, in journal order,
// until Close. The journal's writer goroutine only hands them over, so
// that the manager's lock, the encoding of requests and the sinks never
// hold up the next group commit. Dispatcher goroutine.
func (m *Manager) dispatch() {
	defer close(m.dispatched)
	for d := range m.durable {
		d.fn(d.err)
	}
}

// Close stops the dispatcher once the completions already handed over
// have run, and lowers gateway_orders_journal_stalled if this manager
// raised it: the gauge outlives the manager on its registry (the next
// leadership term's manager starts unstalled and would never lower it).
// Call it after the journal is closed (no more completions can come) and
// Run has returned. Idempotent.
func (m *Manager) Close() {
	m.closeOnce.Do(func() { close(m.durable) })
	<-m.dispatched
	m.mu.Lock()
	if m.stalled {
		m.stalled = false
		m.met.journalStalled.Set(0)
	}
	m.mu.Unlock()
}

// journal appends a record for a state change made under mu, with no
// request to send once durable; see journalSend.
func (m *Manager) journal(typ byte, rec bodyRecord, o *Order, ev Event, failed func(err error) (Event, bool)) error {
	return m.journalSend(typ, rec, o, ev, nil, nil, failed)
}

// journalSend appends a record for a state change made under mu. Once
// the record is durable, on the dispatcher goroutine: req (when not nil)
// is encoded for the upstream (fix.Prepare, before mu is taken, to keep
// the lock short), then, under mu, then runs with the prepared request
// (or the encoding error), and ev goes to the order's sinks. Records
// become durable, and their callbacks run, in the order they were
// appended, so requests leave in the order they were accepted and never
// before they are journaled. If the commit fails, the failure is made
// sticky and failed runs instead of then (when not nil); the event it
// returns, if any, is delivered in ev's place.
//
// A record the journal refuses at once (it failed before, or is closed)
// is returned as an error: failed has run (with mu held) and no event is
// delivered; the caller tells its client. mu held.
func (m *Manager) journalSend(typ byte, rec bodyRecord, o *Order, ev Event, req any, then func(prepared any, err error),
	failed func(err error) (Event, bool)) error {
	body := encodeRecord(rec)
	targets := m.targets(o, ev.Ref)
	if m.inJournal.Add(1) == 1 {
		m.journalSince.Store(int64(m.cfg.stallClock().Sub(m.clockBase)))
	}
	err := m.jrnl.AppendAsync(typ, body, func(_ uint64, err error) {
		m.journalSince.Store(int64(m.cfg.stallClock().Sub(m.clockBase)))
		m.durable <- durable{err: err, fn: func(err error) {
			m.inJournal.Add(-1)
			if err == nil && then == nil {
				// Nothing to change: deliver without the lock.
				if m.draining.Load() {
					m.mu.Lock()
					m.signal()
					m.mu.Unlock()
				}
				for _, s := range targets {
					s.OrderEvent(ev)
				}
				return
			}
			var prepared any
			var perr error
			if err == nil && req != nil {
				prepared, perr = fix.Prepare(req)
			}
			m.mu.Lock()
			m.signal()
			if err != nil {
				m.fail(err)
				if failed != nil {
					if fev, ok := failed(err); ok {
						ev, targets = fev, m.targets(o, fev.Ref)
					}
				}
			} else if then != nil {
				then(prepared, perr)
			}
			later := m.release()
			for _, s := range targets {
				s.OrderEvent(ev)
			}
			deliver(later)
		}}
	})
	if err != nil {
		m.inJournal.Add(-1)
		m.fail(err)
		if failed != nil {
			failed(err)
		}
		return err
	}
	return nil
}

// journalStalled reports whether records wait in the journal and it has
// completed none for Config.JournalStall. Any goroutine.
func (m *Manager) journalStalled() bool {
	return m.inJournal.Load() > 0 && int64(m.cfg.stallClock().Sub(m.clockBase))-m.journalSince.Load() >= int64(m.cfg.JournalStall)
}

// fail makes a journal failure sticky: no more requests are accepted, and
// the gateway_orders_journal_failed alert is raised, unless the journal is
// a replicated one whose leadership term is ending (ErrNotLeader, or
// ErrInDoubt: leadership or quorum lost, or a timeout, with records in
// flight). A term's end is not the node's failure: the next term, on this
// node or another, accepts orders again (the cluster's own alerts report a
// cluster that cannot commit), and the gauge, shared by every term's
// manager on the node, would otherwise stay raised for the life of the
// process. Later requests are refused as not recorded (CodeNotLeader).
// mu held.
func (m *Manager) fail(err error) {
	if m.failed != nil {
		return
	}
	if errors.Is(err, ErrNotLeader) || errors.Is(err, ErrInDoubt) {
		code, text := journalEnd(ErrNotLeader, "order") // later requests were never in flight
		m.failed = &Reject{Code: code, Text: text, FIXReason: fixOther}
		m.log.Warn("orders: this node's leadership term is ending; accepting no more orders in this term", "err", err)
		return
	}
	m.failed = &Reject{Code: CodeJournal, Text: "the order journal failed; this gateway accepts no orders until it is restarted", FIXReason: fixOther}
	m.met.journalFailed.Set(1)
	m.log.Error("orders: journal failed; accepting no more orders", "err", err)
}

// signal wakes Drain: an answer arrived or a request ended. Before
// Drain, nobody waits and it costs nothing. mu held.
func (m *Manager) signal() {
	if !m.stopping {
		return
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// riskErr logs and counts an error of the risk ledger: the upstream's
// word is applied to the order all the same, but the account's cash or
// position may be off until an operator looks. mu held.
//
// A refusal met again in a replay (a restart, a follower's standby, each
// time it is rebuilt) was counted and logged when it happened: it is only
// summed, and replayJournal logs the sum once, so that no alert fires
// again for it.
func (m *Manager) riskErr(op string, o *Order, err error) {
	if err == nil {
		return
	}
	if m.replaying {
		m.replayRiskErrs++
		return
	}
	m.met.riskErrors.WithLabelValues(op).Inc()
	m.log.Error("orders: the risk ledger refused an update", "op", op, "account", o.Account, "clOrdID", o.ClOrdID,
		"upstreamID", o.UpstreamID, "err", err)
}

// Status returns an order by any of its client order ids, or a *Reject
// with CodeUnknownOrder: a client's order.status.
func (m *Manager) Status(account, clOrdID string) (Order, error) {
	if o, ok := m.Get(account, clOrdID); ok {
		return o, nil
	}
	return Order{}, &Reject{Code: CodeUnknownOrder, Text: "no order " + clOrdID + " of account " + account, FIXReason: risk.FIXUnknownOrder}
}

// Get returns an order by any of its client order ids.
func (m *Manager) Get(account, clOrdID string) (Order, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.orders[key(account, clOrdID)]; o != nil {
		return *o, true
	}
	return Order{}, false
}

// TradingDay returns risk's current trading day (yyyymmdd), which changes at
// the first request after midnight (newDay). Safe for concurrent use.
func (m *Manager) TradingDay() int32 {
	return m.risk.DayDate()
}

// RequestDay returns the trading day (yyyymmdd) a request entered now is
// counted in: the current one (TradingDay), or the clock's date when it
// is later, which that request starts (newDay). Until the first request
// after midnight TradingDay is still the last day, whose ended orders
// still hold their client order ids there; a check made before the
// request reaches the manager (the broker acceptor's, of a ClOrdID
// reused across accounts) reads this instead. Safe for concurrent use.
func (m *Manager) RequestDay() int32 {
	date, _ := m.risk.DayDue()
	return max(date, m.risk.DayDate())
}

// DayOf returns the date of t (yyyymmdd) as risk counts trading days (in
// the exchange's time zone). Safe for concurrent use.
func (m *Manager) DayOf(t time.Time) int32 {
	return m.risk.DayOf(t)
}

// OrdersFrom returns a copy of every order entered from src, in entry
// order (a broker session's orders, restated by an acceptor that took the
// session over): those entered before the call, and perhaps some entered
// during it. A session may have entered a day's orders, so they are
// copied ordersFromChunk at a time, the manager's lock released between
// chunks, and the copy is allocated without it: the order path waits for
// one chunk at most, not for the whole list. Each order is copied as it
// is at one instant, not all at the same one.
func (m *Manager) OrdersFrom(src Source) []Order {
	m.mu.Lock()
	n := len(m.bySource[src]) // the list is only appended to
	m.mu.Unlock()
	if n == 0 {
		return nil
	}
	out := make([]Order, n)
	for i := 0; i < n; i += ordersFromChunk {
		m.mu.Lock()
		list := m.bySource[src]
		for j := i; j < min(i+ordersFromChunk, n); j++ {
			out[j] = *list[j]
		}
		m.mu.Unlock()
	}
	return out
}

// ordersFromChunk is how many orders OrdersFrom copies under one hold of
// the manager's lock: about 100 µs of copying.
const ordersFromChunk = 512

// List limits: a page holds DefaultListLimit orders unless the caller asks
// for another number, and never more than MaxListLimit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 500
)

// ListPage is one page of an account's orders, in entry order.
type ListPage struct {
	Orders []Order
	// Next is the cursor of the next page, or "" when this page is the
	// last.
	Next string
	// Total is how many orders the account has; Remaining how many come
	// after this page.
	Total, Remaining int
}

// List returns a page of the orders of an account, in entry order,
// starting at cursor ("" for the first page, else a ListPage.Next) and
// holding at most limit orders (zero or less means DefaultListLimit; more
// than MaxListLimit means MaxListLimit). A cursor List did not hand out
// is a *Reject with CodeBadCursor.
func (m *Manager) List(account, cursor string, limit int) (ListPage, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return ListPage{}, &Reject{Code: CodeBadCursor, Text: "cursor is not one this gateway handed out", FIXReason: fixOther}
		}
		start = n
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.byAccount[account]
	if start > len(all) {
		return ListPage{}, &Reject{Code: CodeBadCursor, Text: "cursor is past the end of the account's orders", FIXReason: fixOther}
	}
	end := min(start+limit, len(all))
	page := ListPage{Orders: make([]Order, 0, end-start), Total: len(all), Remaining: len(all) - end}
	for _, o := range all[start:end] {
		page.Orders = append(page.Orders, *o)
	}
	if end < len(all) {
		page.Next = strconv.Itoa(end)
	}
	return page, nil
}

package fix

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// Upstream is the FIX initiator session to one upstream over its lines.
//
// Send and LoggedOn may be called from any goroutine. Handler methods are
// called from the session goroutine. Run is called once.
type Upstream struct {
	cfg     UpstreamConfig
	sid     quickfix.SessionID
	handler Handler
	log     *slog.Logger
	lines   []*line
	pacer   *pacer

	// wireHook is passed to the relay (benchmarks).
	wireHook func(seq int)

	running  atomic.Bool
	loggedOn atomic.Bool

	// sent names the requests behind recent MsgSeqNums, to resolve the
	// request an upstream's Reject refers to.
	sent sentIndex
	// resets, tooLow and storeReads are the session's series of the
	// metrics of those names (see metrics).
	resets, tooLow, storeReads prometheus.Counter

	// scan is what the store held when Run opened it; nil before.
	scan atomic.Pointer[storeScan]
	// resumeAfter and resumePeriod are set by ResumeInboundAfter before
	// Run.
	resumeAfter, resumePeriod atomic.Int64
	// period is the session's period (its store's creation or last
	// reset, Unix nanoseconds) that ExecReport.Period reports; written on the
	// session goroutine (or before it starts), read there.
	period atomic.Int64
	// inSubmit is the request the pacer is handing to quickfix.
	inSubmit atomic.Pointer[submission]
	// relay is Run's relay while it runs.
	relay atomic.Pointer[relay]

	mu sync.Mutex
	// Line choice (see pickLine).
	active       int       // line for the next connection
	rejectedFrom time.Time // start of a run of connections refused before logon on active
	// The current connection.
	current      int       // its line, -1 before the first
	connLoggedOn bool      // it logged on
	loggedOnAt   time.Time // when the session last logged on
	lineErr      error     // its carrier failure, if any
	cutErr       error     // why the Upstream ended it (submitFailed), if it did
	gotLogout    bool      // the upstream sent Logout on it
	decided      bool      // the line choice has taken its end into account (connEnded or onLogout)
	logoutText   string
	connTooLow   bool // quickfix refused the upstream's Logon on it for its MsgSeqNum (onSeqTooLow)
	stopping     bool

	// A run of Logons refused because the upstream's sequence numbers
	// went back (onSeqTooLow), until the next logon or store reset.
	tooLowSince  time.Time     // its first refusal; zero: no run
	tooLowCount  int           // its refusals
	tooLowLogged time.Time     // when it was last logged as an error
	retryDelay   time.Duration // the pause after its last refusal
	retryAt      time.Time     // no line is dialed before (mayDial)

	// now is the clock of the backoff after refused Logons (tests); set
	// before Run.
	now func() time.Time
}

// The backoff after Logons refused because the upstream's sequence numbers
// went back (onSeqTooLow), which FIX cannot undo by itself: the pause
// before the next dial starts at ReconnectInterval and doubles at each
// refusal up to tooLowMaxBackoff (or ReconnectInterval, if longer); the
// run is logged as an error at its first refusal and again at the first
// refusal after each tooLowReminder. tooLowMaxBackoff stays well below
// the 5 minutes over which the FIXSequenceTooLow alert looks for a
// refusal, so the alert holds while the run lasts.
const (
	tooLowMaxBackoff = 30 * time.Second
	tooLowReminder   = 5 * time.Minute
)

var _ relayOwner = (*Upstream)(nil)

// NewUpstream validates cfg, fills its defaults and registers the line
// metrics on reg. Nothing connects until Run. log may be nil.
func NewUpstream(cfg UpstreamConfig, handler Handler, reg *prometheus.Registry, log *slog.Logger) (*Upstream, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if handler == nil || reg == nil {
		return nil, fmt.Errorf("%w: upstream %q: handler and registry are required", ErrConfig, cfg.Name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("upstream", cfg.Name)
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	u := &Upstream{
		cfg:        cfg,
		sid:        cfg.sessionID(),
		handler:    handler,
		log:        log,
		current:    -1,
		resets:     m.resets.WithLabelValues(cfg.Name),
		tooLow:     m.tooLow.WithLabelValues(cfg.Name),
		storeReads: m.storeReads.WithLabelValues(cfg.Name),
		now:        time.Now,
	}
	secs, err := cfg.lineSecurity()
	if err != nil {
		return nil, err
	}
	for i, lc := range cfg.Lines {
		l := &line{cfg: lc, index: i, m: m.line(cfg.Name, lc.Name), sec: secs[i]}
		if lc.TLS == nil && lc.Tunnel != "" {
			log.Info("fix: plain-text line in a tunnel", "line", lc.Name, "addr", lc.Addr, "tunnel", lc.Tunnel)
		}
		l.m.up.Set(0)
		u.lines = append(u.lines, l)
	}
	u.pacer = newPacer(u.sid, cfg.QueueSize, cfg.SendWindow, log)
	u.pacer.beforeSubmit = u.submitting
	u.pacer.failed = u.submitFailed
	u.sent.init(sentIndexSize)
	return u, nil
}

// Name returns the upstream's configured name.
func (u *Upstream) Name() string { return u.cfg.Name }

// Send queues a NewOrder, CancelRequest, ReplaceRequest or StatusRequest
// (value or pointer) for the upstream. It encodes on the caller's
// goroutine and never blocks.
//
// It returns ErrNotLoggedOn while the session is down, ErrQueueFull when
// the queue is full and an ErrBadRequest or ErrUnsupported error for an
// invalid request; in each case nothing will be sent. A nil return means
// the request is queued for the session. If the session drops before the
// request was handed to quickfix, it is returned to the caller by
// Handler.OnSessionDown (reclaimed) and never sent by this package; so
// is a request quickfix refused (ErrSubmitFailed ends the session),
// unless its store could not undo the failed save: that one counts as
// handed, in doubt, and the next start's Handed tells (see the package
// documentation). A
// Send racing the session's end is either refused or reclaimed. Once
// handed (given a MsgSeqNum and stored), it is sent exactly once: a copy
// the upstream missed is resent by FIX resend recovery with
// PossDupFlag=Y. A request queued when the process stops is lost, which
// the order manager covers by journaling first and, after a restart,
// asking Handed (see the package documentation).
//
// req may be a Prepared (see Prepare): its message was encoded beforehand
// and is sent as it is, once.
func (u *Upstream) Send(req any) error {
	var m *quickfix.Message
	if p, ok := req.(Prepared); ok {
		req, m = p.req, p.msg
		if m != nil && m.Header.Has(tag.MsgSeqNum) {
			m = nil // sent before: quickfix stamped it
		}
	}
	if m == nil {
		var err error
		if m, err = encode(req, time.Now()); err != nil {
			return err
		}
	}
	return u.pacer.enqueueReq(m, req) // ErrNotLoggedOn while down
}

// Queued counts the messages that have entered the session's own queue
// since the Upstream was made; Left counts those that have left it, handed
// to quickfix or given back by OnSessionDown (a request quickfix refused
// leaves only when given back, or, in doubt, as handed: see
// ErrSubmitFailed). The queue is first in, first
// out, so a request Send queued has left once Left reaches the Queued read
// after that Send returned. While it has not, the upstream cannot have
// seen it: the order manager does not time its answer (the queue may hold
// seconds of requests when the line is slower than the flow of orders,
// and a status request would only queue behind it). Any goroutine.
func (u *Upstream) Queued() uint64 { return u.pacer.queued.Load() }

// Left counts the messages that have left the session's queue; see
// Queued. Any goroutine.
func (u *Upstream) Left() uint64 { return u.pacer.left.Load() }

// Handed tells whether a request with ClOrdID id was handed to the session
// before this process started: its store held it then. It answers
// HandedUnknown before Run has opened the store (call it from
// Handler.OnSessionUp on); for requests the store held once it has been
// reset since (a Logon with ResetSeqNumFlag=Y: resend recovery can no
// longer deliver them); and, for requests the store does not hold, after
// an unclean stop that may have lost messages or a reset earlier in the
// session's period that discarded requests (see reservedStore.Reset).
// Any goroutine.
func (u *Upstream) Handed(id string) Handed {
	sc := u.scan.Load()
	switch {
	case sc == nil:
		return HandedUnknown
	case sc.handed[id] && sc.reset:
		// Reset since: FIX resend recovery cannot deliver it.
		return HandedUnknown
	case sc.handed[id]:
		return HandedYes
	case sc.lost:
		return HandedUnknown
	}
	return HandedNo
}

// ResumeInboundAfter tells the Upstream the MsgSeqNum of the last message
// from the upstream that the caller has made durable (the order journal),
// and its period (the message's ExecReport.Period or CancelReject.Period;
// with seq 0, the last period the caller holds, none of whose messages it
// holds). When Run opens the store and finds it counted later messages
// as received, it moves the expected sequence number back, so that the
// upstream resends them (PossDupFlag=Y) after the logon: a report the
// process received but had not journaled when it stopped is not lost. A
// store of a later period (reset by the schedule since) is moved back to
// 1: before, a process that stopped early in a new period compared the
// old period's last number with the new period's and asked for nothing.
// The caller must treat the resent messages idempotently. Call it before
// Run; zeros (or a number the store has not passed in its period) change
// nothing.
func (u *Upstream) ResumeInboundAfter(seq int, period int64) {
	u.resumeAfter.Store(int64(seq))
	u.resumePeriod.Store(period)
}

// LoggedOn reports whether the session is logged on.
func (u *Upstream) LoggedOn() bool { return u.loggedOn.Load() }

// Run connects and keeps the session up until ctx ends, then logs out,
// closes the relay and the store and returns nil. It returns an error if
// the session cannot be set up (store, listener, settings, or the session
// id already in use in this process: quickfix keeps a process-wide
// registry of sessions).
func (u *Upstream) Run(ctx context.Context) (err error) {
	if !u.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	rl, err := newRelay(u.lines, u.pacer, u.cfg.DialTimeout, u, u.log)
	if err != nil {
		return err
	}
	defer rl.close()
	u.relay.Store(rl)
	defer u.relay.Store(nil)
	rl.wireHook = u.wireHook
	rl.fence = u.cfg.Fence
	rl.logonTO = max(u.cfg.DialTimeout, u.cfg.LogonTimeout)
	settings, err := u.cfg.settings(rl.addr())
	if err != nil {
		return err
	}
	stores := u.newStores(settings)
	defer func() {
		if cerr := stores.close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	ini, err := quickfix.NewInitiator(app{u}, stores, settings, LogFactory(u.log, "fix"))
	if err != nil {
		return fmt.Errorf("fix: upstream %q: %w", u.cfg.Name, err)
	}
	rl.serve()
	if err := ini.Start(); err != nil {
		ini.Stop()
		return fmt.Errorf("fix: upstream %q: start: %w", u.cfg.Name, err)
	}

	pctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		u.pacer.run(pctx)
	}()
	go func() {
		defer wg.Done()
		u.probe(pctx)
	}()

	<-ctx.Done()
	u.mu.Lock()
	u.stopping = true
	u.mu.Unlock()
	cancel()
	wg.Wait()
	ini.Stop() // logs out and waits for the session goroutine
	return nil
}

// newStores returns the factory of Run's store, told what the Upstream
// needs of it: the scan, resets and the period. Run's goroutine.
func (u *Upstream) newStores(settings *quickfix.Settings) *storeFactory {
	f := &storeFactory{settings: settings, dir: u.cfg.StoreDir, syncEach: u.cfg.StoreSync, keys: u.cfg.Keys, log: u.log,
		sessions: u.cfg.Sessions, resumeAfter: int(u.resumeAfter.Load()), resumePeriod: u.resumePeriod.Load(),
		onPeriod: u.period.Store,
		onScan: func(sc storeScan) {
			for _, m := range sc.sent {
				u.sent.add(m)
			}
			sc.sent = nil
			u.scan.Store(&sc)
		},
		onReset:     u.onReset,
		onReadError: func(quickfix.SessionID, error) { u.storeReads.Inc() }}
	if sc := u.cfg.Schedule; sc != nil {
		f.samePeriod = sc.samePeriod
	}
	return f
}

// probe sends a TestRequest every HeartBtInt while logged on; the
// Heartbeat answering it gives the line's round-trip time.
func (u *Upstream) probe(ctx context.Context) {
	t := time.NewTicker(u.cfg.HeartBtInt)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if u.loggedOn.Load() {
				_ = u.pacer.enqueue(newProbe()) // a full queue skips a probe
			}
		case <-ctx.Done():
			return
		}
	}
}

// pickLine implements relayOwner. The session stays on a line until it
// fails there, then moves to the next line:
//   - a session lost after logon (carrier failure, heartbeat timeout,
//     logout), a line that cannot be dialed and a logon that timed out all
//     move on at once;
//   - a connection the far end closes before logon stays on the line for
//     up to LogonTimeout, because right after a silent line the upstream
//     may still hold the old session and refuse a second logon until its
//     own heartbeat timeout; retrying the working line beats falling back
//     to the silent one;
//   - a Logon the session refuses because the upstream's sequence numbers
//     went back stays on the line (the line is not at fault; see
//     onSeqTooLow), as does a connection not dialed (errNotDialed).
func (u *Upstream) pickLine() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.active
}

// connStarted implements relayOwner.
func (u *Upstream) connStarted(i int) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.current = i
	u.connLoggedOn = false
	u.decided = false
	u.lineErr = nil
	u.cutErr = nil
	u.gotLogout = false
	u.logoutText = ""
	u.connTooLow = false
}

// connEnded implements relayOwner.
func (u *Upstream) connEnded(i int, err error, dialFailed bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if i != u.current {
		return
	}
	if err != nil && u.lineErr == nil {
		u.lineErr = err
	}
	if u.decided {
		return // onLogout moved on already
	}
	u.decided = true
	now := time.Now()
	switch {
	case errors.Is(err, errNotDialed):
		// The line was not tried.
	case u.connLoggedOn && u.periodEndedLocked(now):
		// Ended with its period: the line is fine, the next period's
		// session logs on over it again.
		u.rejectedFrom = time.Time{}
	case u.connLoggedOn, dialFailed, err == nil && !u.gotLogout:
		u.moveOnLocked(i)
	default: // refused before logon
		if u.rejectedFrom.IsZero() {
			u.rejectedFrom = now
		}
		if now.Sub(u.rejectedFrom) >= u.cfg.LogonTimeout {
			u.moveOnLocked(i)
		}
	}
}

// mayDial implements relayOwner; the relay asks once quickfix's Logon is
// whole. A session with a schedule is dialed only once its store belongs
// to the period now, as quickfix decides it (see
// SessionSchedule.samePeriod). quickfix checks the period once a second
// (and as messages come and go) and resets a store of a past period,
// shutting down whatever connection is up; but it counts End's whole
// second in the period while it ends the period at End's first instant,
// and connects meanwhile. A Logon sent then is lost to the next check's
// reset, and that reset cuts the session just logged on (with End one
// second before Start: at every check in End's second and once more in
// Start's). Before, the session then went to the other line and the new
// period's first order went out at 4, not 2
// (system.TestInteropVenueDailyReset, on a loaded machine). A connection
// not dialed costs a reconnect interval. The period is the store's own
// (reservedStore tells it after every reset, even one that failed late).
//
// After a Logon refused because the upstream's sequence numbers went back
// no line is dialed until the backoff's pause has passed (errBackingOff;
// see onSeqTooLow).
func (u *Upstream) mayDial() error {
	u.mu.Lock()
	at := u.retryAt
	u.mu.Unlock()
	if !at.IsZero() && u.now().Before(at) {
		return errBackingOff
	}
	sc := u.cfg.Schedule
	if sc == nil {
		return nil
	}
	p := u.period.Load()
	if p == 0 || sc.samePeriod(time.Unix(0, p), time.Now()) {
		return nil
	}
	return errPastPeriod
}

// periodEndedLocked reports whether the session that last logged on has
// ended with its period (UpstreamConfig.Schedule) by now. u.mu held.
func (u *Upstream) periodEndedLocked(now time.Time) bool {
	return u.cfg.Schedule != nil && !u.loggedOnAt.IsZero() && !u.cfg.Schedule.samePeriod(u.loggedOnAt, now)
}

func (u *Upstream) moveOnLocked(from int) {
	u.active = (from + 1) % len(u.lines)
	u.rejectedFrom = time.Time{}
}

func (u *Upstream) lineName(i int) string {
	if i < 0 || i >= len(u.lines) {
		return ""
	}
	return u.lines[i].cfg.Name
}

// onLogon runs on the session goroutine.
func (u *Upstream) onLogon() {
	u.mu.Lock()
	i := u.current
	u.connLoggedOn = true
	u.loggedOnAt = time.Now()
	u.rejectedFrom = time.Time{}
	refused, since := u.tooLowCount, u.tooLowSince
	u.endTooLowLocked()
	u.mu.Unlock()
	if i >= 0 {
		u.lines[i].m.up.Set(1)
	}
	u.loggedOn.Store(true)
	u.pacer.setUp(true)
	if refused > 0 {
		u.log.Info("fix: the upstream's sequence numbers are reconciled: its Logon is accepted again",
			"refused", refused, "since", since)
	}
	u.log.Info("fix: session up", "line", u.lineName(i))
	u.handler.OnSessionUp(u.cfg.Name, u.lineName(i))
}

// onLogout runs on the session goroutine, also after a connection that
// never logged on; only the end of a logged-on session is reported.
func (u *Upstream) onLogout() {
	wasUp := u.loggedOn.Swap(false)
	u.pacer.setUp(false)
	if rl := u.relay.Load(); rl != nil {
		rl.sessionEnded() // quickfix closes the connection next
	}
	u.mu.Lock()
	i := u.current
	var reason error
	switch {
	case u.stopping:
		reason = ErrStopped
	case wasUp && u.periodEndedLocked(time.Now()):
		reason = fmt.Errorf("%w (schedule)", ErrPeriodEnded)
	case u.cutErr != nil:
		reason = u.cutErr
	case u.connTooLow && !wasUp: // (a session logged on reports one of the documented reasons)
		reason = errSeqTooLow
	case u.gotLogout:
		reason = fmt.Errorf("%w: %s", ErrLoggedOut, u.logoutText)
	case u.lineErr != nil:
		reason = u.lineErr
	default:
		reason = fmt.Errorf("%w: %s: no heartbeat or logon response in time", ErrLineSilent, u.lineName(i))
	}
	if wasUp && !u.stopping && !u.decided && i >= 0 {
		// A session lost after logon moves on at once (see pickLine), and
		// before quickfix reconnects: the relay may report this
		// connection's end only later (its write to a silent carrier
		// ends after endGrace), and quickfix reconnects after
		// ReconnectInterval.
		u.decided = true
		if errors.Is(reason, ErrPeriodEnded) {
			u.rejectedFrom = time.Time{}
		} else {
			u.moveOnLocked(i)
		}
	}
	u.mu.Unlock()
	if i >= 0 {
		u.lines[i].m.up.Set(0)
	}
	if !wasUp {
		lvl := slog.LevelInfo
		if errors.Is(reason, errBackingOff) {
			lvl = slog.LevelDebug // one every ReconnectInterval while backing off
		}
		u.log.Log(context.Background(), lvl, "fix: connection attempt failed", "line", u.lineName(i), "err", reason)
		return
	}
	reclaimed := u.pacer.reclaim()
	if errors.Is(reason, ErrPeriodEnded) {
		u.log.Info("fix: session down: its period ended; it logs on again once the next has begun", "line", u.lineName(i),
			"reclaimed", len(reclaimed))
	} else {
		u.log.Warn("fix: session down", "line", u.lineName(i), "err", reason, "reclaimed", len(reclaimed))
	}
	u.handler.OnSessionDown(u.cfg.Name, u.lineName(i), reason, reclaimed)
}

// submitFailed ends the session after quickfix refused a message the
// pacer submitted while it was logged on (its store could not save it),
// by closing the connection as a broken line would: the refused request
// and those queued behind it come back by OnSessionDown (reclaimed), and
// the session logs on again over the same line (the line is not at
// fault) once quickfix reconnects. quickfix ends a session itself when
// its store refuses one of its own messages (a Heartbeat). Pacer
// goroutine, no lock held.
func (u *Upstream) submitFailed(err error) {
	u.mu.Lock()
	if !u.loggedOn.Load() || u.stopping {
		u.mu.Unlock()
		return // ending already: its reclaim gives the request back
	}
	if u.cutErr == nil {
		u.cutErr = fmt.Errorf("%w: %w", ErrSubmitFailed, err)
	}
	u.decided = true // stays on the line
	u.mu.Unlock()
	if rl := u.relay.Load(); rl != nil {
		rl.cut()
	}
}

// submitting tells the Upstream which request the pacer is about to hand
// to quickfix; ToApp, which quickfix calls with the message's MsgSeqNum
// set and before the message can be written, records it (sent). Pacer
// goroutine.
func (u *Upstream) submitting(m *quickfix.Message, req any) {
	if req == nil {
		u.inSubmit.Store(nil)
		return
	}
	u.inSubmit.Store(&submission{m: m, req: req})
}

// submission is the request the pacer is handing to quickfix.
type submission struct {
	m   *quickfix.Message
	req any
}

// recordSent records the MsgSeqNum quickfix gave the message being
// submitted, before it can be written, so that an upstream's Reject naming
// it (RefSeqNum) always finds it. quickfix calls it through ToApp: on the
// pacer goroutine for a submission, on the session goroutine for a resend
// (whose mapping exists already).
func (u *Upstream) recordSent(m *quickfix.Message) {
	s := u.inSubmit.Load()
	if s == nil || s.m != m {
		return
	}
	seq, err := m.Header.GetInt(tag.MsgSeqNum)
	if id, mt := RequestID(s.req); err == nil && mt != 0 && id != "" {
		sm := sentMsg{seq: seq, msgType: mt, clOrdID: id}
		if mt == 'H' {
			sm.status = s.req
		}
		u.sent.add(sm)
	}
}

// askAgain queues afresh the status request this run sent as m, whose
// resend ToApp is turning into a gap fill. The upstream asked for it again,
// so it never read it: a QuickFIX counterparty that stashed it while it
// waited for an earlier gap to be filled (every logon after an unclean stop
// skips to the reservation, and the recovery asks about the open orders at
// once) drops it when the gap fill jumps past it. Its asker waits for an
// answer until its time limit and then gives the order up (a day's end
// check expires it) unless the question goes out again, after the resend.
// A status request of an earlier run is not asked again: nobody awaits it.
// Session goroutine (ToApp of a resend); never blocks.
func (u *Upstream) askAgain(m *quickfix.Message) {
	seq, err := m.Header.GetInt(tag.MsgSeqNum)
	if err != nil {
		return
	}
	s, ok := u.sent.lookup(seq)
	if !ok || s.status == nil {
		return
	}
	if err := u.Send(s.status); err != nil { // encoded afresh: Send drops a stamped message
		u.log.Warn("fix: a status request the upstream asked for again is not resent, nor asked again",
			"clOrdID", s.clOrdID, "seq", seq, "err", err)
		return
	}
	u.log.Info("fix: a status request the upstream asked for again is asked afresh", "clOrdID", s.clOrdID, "seq", seq)
}

// onReset runs when quickfix resets the session's store: a new period of
// the schedule, a Logon with ResetSeqNumFlag=Y (the venue's, or ours with
// reset_on_logon). The MsgSeqNums of the requests sent before are numbers
// of the past period, and a Reject of the new one must not find them. The
// requests the store held at start can no longer be resent: Handed
// answers HandedUnknown for them from now on (a reset at the first logon
// comes before the order manager asks). Session goroutine.
func (u *Upstream) onReset() {
	u.sent.reset()
	if sc := u.scan.Load(); sc != nil && len(sc.handed) > 0 && !sc.reset {
		c := *sc
		c.reset = true
		u.scan.Store(&c)
	}
	u.mu.Lock()
	u.endTooLowLocked() // both sides at 1: nothing to wait for
	u.mu.Unlock()
	u.resets.Inc()
	u.log.Info("fix: session reset: sequence numbers start again from 1")
}

// onSeqTooLow runs when quickfix logs out because the upstream's MsgSeqNum
// is below the one expected (text is the Logout's). FIX has no automatic
// recovery from this: the upstream either started a new period the
// gateway does not know of (its schedule) or lost messages, and only an
// operator (the store reset by hand) or the upstream (its numbers fixed)
// ends it. So the refusals of a run are counted each
// (gateway_fix_sequence_too_low_total) but logged as an error only at the
// first and then once every tooLowReminder, and the session backs off: no
// line is dialed for ReconnectInterval after the first refusal, doubling
// at each up to tooLowMaxBackoff (mayDial). Before, quickfix logged on
// again every ReconnectInterval and each refusal logged the error. The
// line is not at fault: the session stays on it. The run ends at the next
// logon (onLogon) or store reset (onReset). Session goroutine.
func (u *Upstream) onSeqTooLow(text string) {
	now := u.now()
	u.mu.Lock()
	u.connTooLow = true
	u.decided = true // stays on the line
	first := u.tooLowSince.IsZero()
	if first {
		u.tooLowSince = now
	}
	u.tooLowCount++
	u.retryDelay = min(max(2*u.retryDelay, u.cfg.ReconnectInterval), max(tooLowMaxBackoff, u.cfg.ReconnectInterval))
	u.retryAt = now.Add(u.retryDelay)
	remind := !first && now.Sub(u.tooLowLogged) >= tooLowReminder
	if first || remind {
		u.tooLowLogged = now
	}
	since, refused, delay := u.tooLowSince, u.tooLowCount, u.retryDelay
	u.mu.Unlock()
	u.tooLow.Inc()
	switch {
	case first:
		u.log.Error("fix: the upstream's sequence numbers went back; the session cannot log on until they are reconciled: "+
			"if the upstream starts each period from 1, configure its schedule (upstreams[].schedule), else ask it and reset the store by hand; "+
			"the Logon is tried again at growing intervals",
			"text", text, "retry_in", delay, "max_retry_interval", max(tooLowMaxBackoff, u.cfg.ReconnectInterval))
	case remind:
		u.log.Error("fix: the upstream's sequence numbers went back and are still not reconciled: the session is still down",
			"since", since, "refused", refused, "text", text, "retry_in", delay)
	default:
		u.log.Debug("fix: Logon refused again: the upstream's sequence numbers went back",
			"refused", refused, "text", text, "retry_in", delay)
	}
}

// endTooLowLocked ends a run of refused Logons (see onSeqTooLow). u.mu
// held.
func (u *Upstream) endTooLowLocked() {
	u.tooLowSince, u.tooLowCount, u.tooLowLogged = time.Time{}, 0, time.Time{}
	u.retryDelay, u.retryAt = 0, time.Time{}
}

// onUpstreamLogout records a Logout received from the upstream.
func (u *Upstream) onUpstreamLogout(text string) {
	u.mu.Lock()
	u.gotLogout = true
	u.logoutText = text
	u.mu.Unlock()
}

func (u *Upstream) observeRTT(d time.Duration) {
	u.mu.Lock()
	i := u.current
	u.mu.Unlock()
	if i >= 0 {
		u.lines[i].m.heartbeatRTTSeconds.Observe(d.Seconds())
	}
}

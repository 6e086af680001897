package fix

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
)

// TestUpstreamSequenceTooLowBacksOff runs a venue whose sequence numbers
// went back (its store reset, as a venue restarting from 1 each day does
// when the gateway's session has no schedule): quickfix refuses its Logon
// ("MsgSeqNum too low"). FIX cannot undo that by itself. Before, the
// session logged on again every ReconnectInterval (alternating lines, each
// refusal counted as the line's failure) and logged the error at each
// refusal: four error lines a second with two upstreams, for as long as it
// lasted. Now the run of refusals is logged as an error once, and again
// after tooLowReminder; the session stays on its line and dials it only
// after a pause that doubles from ReconnectInterval up to
// tooLowMaxBackoff; and a logon ends the run, so that the next run starts
// again from the first error and ReconnectInterval. Every refusal is still
// counted. The backoff runs on a fake clock; the session's dials are
// counted at the lines (faultproxy), between connections quickfix makes
// and the relay does not dial (logged at Debug).
func TestUpstreamSequenceTooLowBacksOff(t *testing.T) {
	const interval = 50 * time.Millisecond
	var venueMu sync.Mutex
	var venueStore quickfix.MessageStore
	venue := func() quickfix.MessageStore {
		venueMu.Lock()
		defer venueMu.Unlock()
		return venueStore
	}
	r := newRigWith(t, acceptorOpts{paced: true, onStore: func(st quickfix.MessageStore) {
		venueMu.Lock()
		venueStore = st
		venueMu.Unlock()
	}}, func(c *UpstreamConfig) { c.ReconnectInterval = interval })
	r.rec.waitUp(t, 15*time.Second)
	r.stop()

	// A long way to go: the venue's refused Logons, each a number more,
	// do not catch up with what the gateway expects while the test runs.
	if err := venue().SetNextSenderMsgSeqNum(1000); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	r.rec.waitUp(t, 15*time.Second)
	r.stop()
	expected := venue().NextSenderMsgSeqNum() // what the gateway expects next, or one more
	if err := venue().Reset(); err != nil {   // the venue starts again from 1
		t.Fatal(err)
	}

	clk := &fakeClock{}
	clk.ns.Store(time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC).UnixNano())
	logs := &logCapture{}
	r.prepare = func(u *Upstream) {
		u.now = clk.now
		u.log = slog.New(logs).With("upstream", u.cfg.Name)
	}
	r.start(t)
	u := r.upstream()

	refusals := func() int {
		return int(metricValue(t, r.reg, "gateway_fix_sequence_too_low_total", map[string]string{"session": "core"}))
	}
	waitRefusals := func(n int) {
		t.Helper()
		eventually(t, 15*time.Second, "refusal "+strconv.Itoa(n), func() bool { return refusals() >= n })
		if got := refusals(); got != n {
			t.Fatalf("%d refusals, want %d", got, n)
		}
	}
	errorsLogged := func() int {
		return logs.count(func(c capturedLog) bool {
			return c.level >= slog.LevelError && strings.Contains(c.msg, "sequence numbers went back")
		})
	}
	backedOff := func() int {
		return logs.count(func(c capturedLog) bool {
			return c.msg == "fix: not dialing the upstream" && strings.Contains(c.err, "backing off")
		})
	}
	dials := func() uint64 { return r.a.Accepted() + r.b.Accepted() }
	// noDial waits for three connections quickfix makes that the relay
	// does not dial, backing off, and checks that no line was dialed.
	noDial := func(what string) {
		t.Helper()
		d, b := dials(), backedOff()
		eventually(t, 15*time.Second, "connections backed off ("+what+")", func() bool { return backedOff() >= b+3 })
		if got := dials(); got != d {
			t.Fatalf("%s: the lines were dialed %d times while backing off", what, got-d)
		}
	}
	wantErrors := func(n int, what string) {
		t.Helper()
		if got := errorsLogged(); got != n {
			t.Fatalf("%s: %d errors logged for the sequence numbers, want %d", what, got, n)
		}
	}

	a0, b0 := r.a.Accepted(), r.b.Accepted()
	waitRefusals(1)
	noDial("after the first refusal")
	wantErrors(1, "the first refusal")

	clk.advance(interval) // the first pause: ReconnectInterval
	waitRefusals(2)
	noDial("after the second refusal")
	clk.advance(interval) // half the second pause
	noDial("within the second pause")
	clk.advance(interval)
	waitRefusals(3)
	wantErrors(1, "three refusals")

	// Up to the cap, and past the reminder's interval once.
	elapsed, n := 2*interval, 3
	for range 11 {
		clk.advance(tooLowMaxBackoff)
		elapsed += tooLowMaxBackoff
		n++
		waitRefusals(n)
		want := 1
		if elapsed >= tooLowReminder {
			want = 2 // the reminder
		}
		wantErrors(want, "refusal "+strconv.Itoa(n))
	}
	u.mu.Lock()
	delay := u.retryDelay
	u.mu.Unlock()
	if delay != tooLowMaxBackoff {
		t.Fatalf("the pause after %d refusals is %v, want the cap %v", n, delay, tooLowMaxBackoff)
	}
	clk.advance(tooLowMaxBackoff - time.Millisecond)
	noDial("within the capped pause")
	// Every refusal over the line of the first: the line is not at fault.
	if da, db := r.a.Accepted()-a0, r.b.Accepted()-b0; da != 0 && db != 0 {
		t.Errorf("the refused Logons alternated lines: %d dials over carrierA, %d over carrierB", da, db)
	}

	// The venue fixes its numbers: the next Logon is accepted.
	if err := venue().SetNextSenderMsgSeqNum(expected); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Millisecond)
	r.rec.waitUp(t, 15*time.Second)
	if got := logs.count(func(c capturedLog) bool { return strings.Contains(c.msg, "sequence numbers are reconciled") }); got != 1 {
		t.Errorf("the end of the run logged %d times, want once", got)
	}

	// A second run, later: its first refusal is logged, and its first
	// pause is ReconnectInterval again.
	logouts := r.acc.logouts.Load()
	r.a.Cut()
	r.b.Cut()
	r.rec.waitDown(t, 15*time.Second)
	eventually(t, 15*time.Second, "the venue's session down", func() bool { return r.acc.logouts.Load() > logouts })
	if err := venue().Reset(); err != nil {
		t.Fatal(err)
	}
	r.a.Restore()
	r.b.Restore()
	waitRefusals(n + 1)
	wantErrors(3, "the second run's first refusal")
	noDial("after the second run's first refusal")
	clk.advance(interval)
	waitRefusals(n + 2)
	wantErrors(3, "the second run's second refusal")
}

// fakeClock is a clock the test moves. Any goroutine.
type fakeClock struct{ ns atomic.Int64 }

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// logCapture is a slog.Handler that keeps every record from Debug up
// (quickfix's wire logs, below, are left out). Any goroutine.
type logCapture struct {
	mu   sync.Mutex
	recs []capturedLog
}

type capturedLog struct {
	level slog.Level
	msg   string
	err   string // the err attribute, if any
}

func (l *logCapture) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelDebug }

func (l *logCapture) Handle(_ context.Context, r slog.Record) error {
	c := capturedLog{level: r.Level, msg: r.Message}
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "err" {
			c.err = a.Value.String()
		}
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, c)
	l.mu.Unlock()
	return nil
}

func (l *logCapture) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCapture) WithGroup(string) slog.Handler      { return l }

func (l *logCapture) count(match func(capturedLog) bool) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, c := range l.recs {
		if match(c) {
			n++
		}
	}
	return n
}

// TestUpstreamSequenceTooLowResetEndsBackoff: a store reset ends a run of
// Logons refused for the upstream's sequence numbers at once, through the
// store the Upstream opened (quickfix's reset at a new period of the
// schedule, or the venue's Logon with ResetSeqNumFlag=Y): the new period's
// first connection is dialed, not held off by the old period's backoff,
// and a later refusal is a new run (its first error, a pause of
// ReconnectInterval). The clock of the backoff is fake and never moves.
func TestUpstreamSequenceTooLowResetEndsBackoff(t *testing.T) {
	const interval = 50 * time.Millisecond
	now := time.Now()
	start := now.Add(time.Hour).Truncate(time.Second) // a period that began 23 hours ago
	u := newTestUpstream(t, UpstreamConfig{Name: "core", SenderCompID: "G", TargetCompID: "V",
		Lines: []LineConfig{{Name: "a", Addr: "127.0.0.1:1"}}, StoreDir: t.TempDir(), ReconnectInterval: interval,
		Schedule: &SessionSchedule{Start: start.UTC().Format(time.TimeOnly), End: start.Add(-time.Second).UTC().Format(time.TimeOnly)}},
		newRecorder())
	clk := &fakeClock{}
	clk.ns.Store(now.UnixNano())
	u.now = clk.now
	settings, err := u.cfg.settings("127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	f := u.newStores(settings)
	defer f.close()
	st, err := f.Create(u.sid)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetNextTargetMsgSeqNum(1000); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		u.onSeqTooLow("MsgSeqNum too low, expecting 1000 but received 1")
	}
	if err := u.mayDial(); !errors.Is(err, errBackingOff) {
		t.Fatalf("mayDial() after the refusals = %v, want %v", err, errBackingOff)
	}
	if err := st.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := u.mayDial(); err != nil {
		t.Fatalf("mayDial() after the store's reset = %v, want nil: the reset ends the run", err)
	}
	u.onSeqTooLow("MsgSeqNum too low, expecting 5 but received 1")
	u.mu.Lock()
	count, delay := u.tooLowCount, u.retryDelay
	u.mu.Unlock()
	if count != 1 || delay != interval {
		t.Errorf("a refusal after the reset: refusal %d of its run, pause %v; want 1, %v", count, delay, interval)
	}
}

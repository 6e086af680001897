package fix

import (
	"context"
	"testing"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"

	"sgw/internal/leakcheck"
)

// TestUpstreamRunsLeaveOnlyQuickfixTimers runs an Upstream on the same
// session and store several times in one process, as a cluster node
// does with each leadership term, each time until logged on, and checks
// what the runs leave: no goroutine but quickfix's own (up to two a run,
// its logon and logout timers, see leakcheck.QuickfixTimers: they cannot
// be stopped from outside; logged), the session gone from quickfix's
// registry after each run, and, once those timers have fired, nothing of
// a run (its Upstream, its Handler, which a cluster's term makes its
// order manager) still reachable.
func TestUpstreamRunsLeaveOnlyQuickfixTimers(t *testing.T) {
	gw, up := newCompIDs()
	acc := newTestAcceptor(t, gw, up, acceptorOpts{paced: true})
	// logon_timeout as short as it goes: the timers fire soon after the runs.
	cfg := UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: up, LogonTimeout: time.Second,
		Lines: []LineConfig{{Name: "carrierA", Addr: acc.addr()}}, StoreDir: t.TempDir()}
	reg := prometheus.NewRegistry()
	_, timersBefore := leakcheck.Count(leakcheck.QuickfixTimers...)
	before := -1

	const runs = 4
	var ups []weak.Pointer[Upstream]
	var handlers []weak.Pointer[recorder]
	for i := range runs {
		if i == 1 {
			// After a first run: the test acceptor keeps a pacer from
			// the first logon on.
			before, _ = leakcheck.Count(leakcheck.QuickfixTimers...)
		}
		rec := newRecorder()
		u, err := NewUpstream(cfg, rec, reg, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- u.Run(ctx) }()
		rec.waitUp(t, 15*time.Second)
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, err := quickfix.GetExpectedSenderNum(u.sid); err == nil {
			t.Fatal("the session is still in quickfix's registry after Run returned")
		}
		ups = append(ups, weak.Make(u))
		handlers = append(handlers, weak.Make(rec))
	}

	leakcheck.WaitExcept(t, before, 30*time.Second, leakcheck.QuickfixTimers...)
	// An unfired timer keeps its session, and through it the run, until it
	// fires (LogonTimeout after the logon, quickfix's 2 s LogoutTimeout
	// after the stop).
	leakcheck.WaitCollected(t, 30*time.Second, "Upstreams", ups...)
	leakcheck.WaitCollected(t, 30*time.Second, "Handlers", handlers...)
	_, timers := leakcheck.Count(leakcheck.QuickfixTimers...)
	// Logged, not checked: the timers of an earlier test's sessions may
	// fire meanwhile.
	t.Logf("%d runs left %d of quickfix's timer goroutines", runs, timers-timersBefore)
}

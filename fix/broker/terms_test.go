package broker

import (
	"context"
	"fmt"
	"testing"
	"time"
	"weak"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/quickfixgo/quickfix"

	"sgw/internal/leakcheck"
)

// TestAcceptorRunsLeaveOnlyQuickfixTimers runs an Acceptor on the same
// session, store and address several times in one process, as a cluster
// node does with each leadership term, each time until a broker (which
// stays, and reconnects) has logged on, and checks what the runs leave:
// no goroutine but quickfix's own (the timer of the Logout it sends when
// stopped, see leakcheck.QuickfixTimers; logged; mostly none, as quickfix
// gives acceptor sessions a zero LogoutTimeout, whose timer fires while
// the session still runs), the session gone from quickfix's registry
// after each run, and, once those timers have fired, nothing of a run
// (its Acceptor, its order entry) still reachable.
func TestAcceptorRunsLeaveOnlyQuickfixTimers(t *testing.T) {
	n := compSeq.Add(1)
	r := &running{reg: prometheus.NewRegistry(), gateway: fmt.Sprintf("SGW%d", n), broker: fmt.Sprintf("BROKER%d", n)}
	cfg := Config{StoreDir: t.TempDir(), Sessions: []SessionConfig{
		{SenderCompID: r.gateway, TargetCompID: r.broker, Password: "right", Accounts: []string{"A1"}}}}
	_, timersBefore := leakcheck.Count(leakcheck.QuickfixTimers...)
	before := -1
	var b *testBroker

	const runs = 4
	var accs []weak.Pointer[Acceptor]
	var entries []weak.Pointer[fakeEntry]
	for i := range runs {
		entry := newFakeEntry()
		a, err := New(cfg, entry, r.reg, testLog())
		if err != nil {
			t.Fatal(err)
		}
		cfg.Listen = a.Addr() // the next run binds the address the broker dials
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- a.Run(ctx) }()
		if b == nil {
			b = dialTestBroker(t, r, a.Addr(), "right")
		}
		b.waitLogon()
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run: %v", err)
		}
		if _, err := quickfix.GetExpectedSenderNum(r.sid()); err == nil {
			t.Fatal("the session is still in quickfix's registry after Run returned")
		}
		b.waitLogout()
		if i == 0 {
			// After a first run: the broker, which stays, now reconnects.
			before, _ = leakcheck.Count(leakcheck.QuickfixTimers...)
		}
		accs = append(accs, weak.Make(a))
		entries = append(entries, weak.Make(entry))
	}

	leakcheck.WaitExcept(t, before, 30*time.Second, leakcheck.QuickfixTimers...)
	leakcheck.WaitCollected(t, 30*time.Second, "Acceptors", accs...)
	leakcheck.WaitCollected(t, 30*time.Second, "order entries", entries...)
	_, timers := leakcheck.Count(leakcheck.QuickfixTimers...)
	// Logged, not checked: the timers of an earlier test's sessions may
	// fire meanwhile.
	t.Logf("%d runs left %d of quickfix's timer goroutines", runs, timers-timersBefore)
}

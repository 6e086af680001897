package fixsim

import (
	"context"
	"fmt"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/quickfixgo/tag"

	"sgw/sim/match"
)

// BenchmarkRoundTrip measures orders per second from an in-process
// quickfix initiator through line 0 to the acceptor and back: each order
// counts when its New report arrives (and, crossing, when all its trade
// reports have). window bounds the orders in flight (1: one at a time).
// Each side is either plain quickfix or mitigated against quickfix's
// busy-waiting event loop: the acceptor as built (buffered connection
// writes, see fixConn; a store that yields in the spin, see
// fix.YieldOnSpin), and an initiator whose stores yield the same
// way. acceptor=plain writes from quickfix's writer goroutine and never
// yields.
//
// Reported: orders/s, process CPU per order (both sides: the initiator and
// the acceptor share the process), allocations. Goroutines carry the pprof
// label side=acceptor or side=initiator, so
//
//	go test -run X -bench RoundTrip -cpuprofile cpu.out ./sim/fixsim/
//	go tool pprof -tagfocus side=acceptor -top cpu.out
//
// shows where each side spends its time.
func BenchmarkRoundTrip(b *testing.B) {
	for _, cross := range []bool{false, true} {
		for _, window := range []int{1, 256} {
			for _, m := range []struct{ acceptor, initiator bool }{{false, false}, {true, false}, {true, true}} {
				name := fmt.Sprintf("cross=%v/window=%d/acceptor=%s/initiator=%s", cross, window, mode(m.acceptor), mode(m.initiator))
				b.Run(name, func(b *testing.B) { benchRoundTrip(b, window, cross, m.acceptor, m.initiator) })
			}
		}
	}
}

func mode(mitigated bool) string {
	if mitigated {
		return "mitigated"
	}
	return "plain"
}

func benchRoundTrip(b *testing.B, window int, cross, acceptorMitigated, initiatorMitigated bool) {
	s := newSim(b)
	const me = "SGW-CORE"
	a, err := New(testConfig(me), s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if !acceptorMitigated {
		a.directWrites = true
		a.stores.yield = false
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "acceptor"), func(ctx context.Context) { errc <- a.Run(ctx) })
	b.Cleanup(func() {
		cancel()
		<-errc
	})
	var c *client
	pprof.Do(ctx, pprof.Labels("side", "initiator"), func(context.Context) {
		c = newClient(b, a, []string{me}, clientOpts{lines: []int{0}, plain: !initiatorMitigated})
	})
	c.waitLogon(me)

	// Each order gets a New report; crossing, every second order trades
	// with the one before, which adds a trade report for each of them.
	want := b.N
	if cross {
		want += b.N / 2 * 2
	}
	sem := make(chan struct{}, window)
	done := make(chan error, 1)
	go func() {
		for got := 0; got < want; got++ {
			select {
			case m := <-c.in[me]:
				if field(m, tag.ExecType) == "0" {
					<-sem
				}
			case <-time.After(waitTimeout):
				done <- fmt.Errorf("received %d of %d reports", got, want)
				return
			}
		}
		done <- nil
	}()
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	spinsA, spinsI := a.stores.spins.Load(), c.store.(*stores).spins.Load()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		sem <- struct{}{}
		side, px := "1", fmt.Sprintf("%d.%02d", 1600+i/100%100, i%100)
		if cross {
			px = "1700.00"
			if i%2 == 1 {
				side = "2"
			}
		}
		c.send(me, nos(fmt.Sprintf("o%d", i), side, 100, px))
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
	b.ReportMetric(float64(a.stores.spins.Load()-spinsA)/float64(b.N), "acceptor-spins/order")
	b.ReportMetric(float64(c.store.(*stores).spins.Load()-spinsI)/float64(b.N), "initiator-spins/order")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/order")
}

// BenchmarkSweep measures a burst of reports on one session: each
// operation rests 20 synthetic sell orders and sends one FIX buy that
// trades with all of them, so the acceptor queues 21 reports at once
// (New and 20 trades) on the session. The initiator is mitigated in both
// cases, so the difference is the acceptor's: with acceptor=plain its
// session's event loop busy-waits for its connection writer between
// queued reports (see fix.YieldOnSpin).
func BenchmarkSweep(b *testing.B) {
	for _, mitigated := range []bool{false, true} {
		b.Run("acceptor="+mode(mitigated), func(b *testing.B) { benchSweep(b, mitigated) })
	}
}

func benchSweep(b *testing.B, mitigated bool) {
	const me, resting = "SGW-CORE", 20
	s := newSim(b)
	a, err := New(testConfig(me), s, nil)
	if err != nil {
		b.Fatal(err)
	}
	if !mitigated {
		a.directWrites = true
		a.stores.yield = false
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go pprof.Do(ctx, pprof.Labels("side", "acceptor"), func(ctx context.Context) { errc <- a.Run(ctx) })
	b.Cleanup(func() {
		cancel()
		<-errc
	})
	var c *client
	pprof.Do(ctx, pprof.Labels("side", "initiator"), func(context.Context) {
		c = newClient(b, a, []string{me}, clientOpts{lines: []int{0}})
	})
	c.waitLogon(me)
	var ru0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	spins0 := a.stores.spins.Load()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		b.StopTimer()
		for range resting {
			if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Sell, Price: 17000000, Qty: 100, Owner: "SIM"}); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		c.send(me, nos(fmt.Sprintf("w%d", i), "1", resting*100, "1700.00"))
		for range resting + 1 {
			c.next(me)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	var ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
	b.ReportMetric(float64(b.N*(resting+1))/elapsed.Seconds(), "reports/s")
	b.ReportMetric(float64(a.stores.spins.Load()-spins0)/float64(b.N*(resting+1)), "spins/report")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*(resting+1)), "cpu-µs/report")
}

package loadtest

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/refdata"
)

// stallSession is an orderSession whose first sendNew blocks until
// release is closed, as a write to a stalled gateway does; it keeps every
// order it was given.
type stallSession struct {
	first   chan *trackedOrder
	release chan struct{}

	mu   sync.Mutex
	sent []*trackedOrder
}

func (s *stallSession) sendNew(_ context.Context, o *trackedOrder) error {
	s.mu.Lock()
	s.sent = append(s.sent, o)
	n := len(s.sent)
	s.mu.Unlock()
	if n == 1 {
		s.first <- o
		<-s.release
	}
	return nil
}

func (s *stallSession) sendCancel(context.Context, *trackedOrder, string) error { return nil }
func (s *stallSession) read(context.Context)                                    {}
func (s *stallSession) close()                                                  {}

// TestSenderBehindAtWindowEnd: a sender stalled through the end of the
// measurement window still sends, and measures, every order the window
// scheduled, once the stall ends. Before, the orders the stall delayed
// past the window's end were never sent (stopping dropped them) or sent
// unmeasured, so the stall that delayed them the most vanished from
// order_ack.
func TestSenderBehindAtWindowEnd(t *testing.T) {
	w := newOrdersWorkload(Config{Sessions: 1, OrderRate: 1000}, &target{})
	w.instr = []instrumentInfo{{Symbol: "600000", Tick: refdata.PriceScale / 100, Lot: 100,
		PrevClose: 10 * refdata.PriceScale, LimitDown: 9 * refdata.PriceScale, LimitUp: 11 * refdata.PriceScale}}
	sess := &stallSession{first: make(chan *trackedOrder, 1), release: make(chan struct{})}
	tr := &trader{w: w, account: "A1", prefix: "T-", sess: sess, track: newOrderTracker(0, w.stats, w.ack, w.firstExec)}
	w.traders = []*trader{tr}

	w.setRecording(true, time.Now())
	interval := time.Millisecond
	sched := &schedule{start: time.Now(), interval: interval}
	w.senders.Add(1)
	go func() { defer w.senders.Done(); tr.sendLoop(context.Background(), sched) }()
	<-sess.first // the sender is stalled on its first order
	for time.Since(sched.start) < 20*interval {
		time.Sleep(interval) // let the stall outlast a few slots of the schedule
	}
	w.setRecording(false, time.Now())
	w.sendOnce.Do(func() { close(w.stopSend) }) // as finish does
	close(sess.release)
	w.senders.Wait()

	want := int(w.end.Sub(sched.start)/interval) + 1 // the slots in [start, end]
	if w.end.Sub(sched.start)%interval == 0 {
		want-- // a slot at end itself is not the window's
	}
	sess.mu.Lock()
	defer sess.mu.Unlock()
	if len(sess.sent) != want {
		t.Fatalf("sent %d orders, want the %d the window scheduled (the last ones were delayed by the stall)", len(sess.sent), want)
	}
	now := time.Now()
	for _, o := range sess.sent {
		if !o.measured {
			t.Fatalf("order %s scheduled at +%v in the window is not measured", o.id, o.intended.Sub(sched.start))
		}
		tr.track.accepted(o.id, o.id, now)
	}
	if n := w.ack.Snapshot().TotalCount(); n != int64(want) {
		t.Fatalf("order_ack counts %d orders, want %d", n, want)
	}
	if w.inWindow(w.began.Add(-time.Nanosecond)) || w.inWindow(w.end) {
		t.Fatalf("an order scheduled outside the window counts as in it")
	}
}

// TestDeliveredOverWindow: delivered/s counts the messages received in
// the measurement window only, not those the clients go on receiving
// until finish stops them (in a mixed run, while the orders drain).
func TestDeliveredOverWindow(t *testing.T) {
	w := newMDWorkload(Config{Clients: 1}, &target{})
	w.counts.messages.Add(500) // warmup
	w.setRecording(true, time.Now())
	w.counts.messages.Add(1000)
	w.counts.updates.Add(1000)
	w.setRecording(false, time.Now())
	w.counts.messages.Add(5000) // after the window
	w.counts.updates.Add(5000)
	var sum Summary
	w.finish(&sum)
	if want := 1000 / w.elapsed.Seconds(); sum.Delivered != want || sum.Updates != 1000 {
		t.Fatalf("delivered %.0f/s, %d updates; want %.0f/s, 1000 (the window's)", sum.Delivered, sum.Updates, want)
	}
}

// lostSession is an orderSession that sends nothing and answers every
// cancel as the gateway answers one of an order it never heard of, so
// that an order it was never answered for settles as lost at once.
type lostSession struct{ track *orderTracker }

func (s *lostSession) sendNew(context.Context, *trackedOrder) error { return nil }
func (s *lostSession) sendCancel(_ context.Context, _ *trackedOrder, id string) error {
	s.track.reject(id, "orders.unknown_order")
	return nil
}
func (s *lostSession) read(context.Context) {}
func (s *lostSession) close()               {}

// TestUnansweredOrdersInTheTail: a measured order still unanswered when
// the tester stops waiting counts in order_ack and order_first_exec at
// its age then, and the report says the percentiles are lower bounds.
// Before, it was in neither: a run whose gateway answered only the fast
// orders reported the latency of those alone.
func TestUnansweredOrdersInTheTail(t *testing.T) {
	w := newOrdersWorkload(Config{Scenario: ScenarioOrders, Sessions: 1, OrderRate: 1000}, &target{})
	tr := &trader{w: w, account: "A1", prefix: "T-", track: newOrderTracker(0, w.stats, w.ack, w.firstExec)}
	tr.sess = &lostSession{track: tr.track}
	w.traders = []*trader{tr}
	// The run's times lie in the past: finish takes the clock as the
	// moment the tester stops waiting, which must come after the window
	// ends (start+3ms), however fast the test runs.
	start := time.Now().Add(-time.Second)
	w.setRecording(true, start)
	order := func(id string, intended time.Time) *trackedOrder {
		o := &trackedOrder{id: id, account: "A1", symbol: "600000.SH", qty: 100, intended: intended,
			measured: w.inWindow(intended), sent: intended}
		tr.track.add(o)
		return o
	}
	order("fast", start)
	order("slow", start.Add(time.Millisecond))      // never answered
	order("refused", start.Add(2*time.Millisecond)) // an error reply: no ack, no exec to wait for
	order("warmup", start.Add(-time.Second))        // unmeasured, never answered
	tr.track.accepted("fast", "fast", start.Add(time.Millisecond))
	tr.track.exec("fast", "trade", "filled", "E1", false, 100, start.Add(2*time.Millisecond))
	tr.track.reject("refused", "risk.cash")
	w.setRecording(false, start.Add(3*time.Millisecond))

	var sum Summary
	sum.Config = w.c
	w.finish(&sum)
	sum.judge(w.violations())
	ack, exec := sum.measure("order_ack"), sum.measure("order_first_exec")
	if ack == nil || exec == nil {
		t.Fatalf("measures %+v", sum.Latency)
	}
	for _, m := range []*Measure{ack, exec} {
		if m.Count != 2 || m.Outstanding != 1 {
			t.Errorf("%s: count %d, outstanding %d; want 2 samples, 1 of them the unanswered order", m.Name, m.Count, m.Outstanding)
		}
		// The unanswered order's sample is its age when the tester stopped
		// waiting, at least the time finish took to be called.
		if age := time.Since(start.Add(time.Millisecond)); m.Max*1e3 < float64(w.end.Sub(start)-time.Millisecond) || time.Duration(m.Max*1e3) > age+age/100 {
			t.Errorf("%s: max %.0fµs, want the unanswered order's age (%v at most)", m.Name, m.Max, age)
		}
	}
	if !strings.Contains(sum.Text(), "WARNING: 1 of the 2 order_ack samples are requests still unanswered") {
		t.Errorf("the report does not say the percentiles are lower bounds:\n%s", sum.Text())
	}
}

// TestRecordOutstanding: which orders still wait for an answer when the
// tester stops, by what they were last told.
func TestRecordOutstanding(t *testing.T) {
	tests := []struct {
		name       string
		measured   bool
		events     []string
		acks, exec int64
	}{
		{"unanswered", true, nil, 1, 1},
		{"accepted, no execution report", true, []string{"accepted"}, 0, 1},
		{"accepted, new", true, []string{"accepted", "new"}, 0, 0},
		{"filled", true, []string{"accepted", "filled"}, 0, 0},
		{"refused by the gateway", true, []string{"error"}, 0, 0},
		{"rejected upstream", true, []string{"accepted", "rejected"}, 0, 0},
		{"outside the window", false, nil, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tr := newOrderTracker(0, newOrderStats(), NewRecorder("a"), NewRecorder("e"))
			now := time.Now()
			tr.add(&trackedOrder{id: "o", qty: 100, intended: now, sent: now, measured: tc.measured})
			for _, e := range tc.events {
				switch e {
				case "accepted":
					tr.accepted("o", "o", now)
				case "error":
					tr.reject("o", "risk.cash")
				case "new":
					tr.exec("o", "new", "new", "", false, 0, now)
				case "filled":
					tr.exec("o", "trade", "filled", "E1", false, 100, now)
				case "rejected":
					tr.exec("o", "rejected", "rejected", "", false, 0, now)
				}
			}
			a0, e0 := tr.ack.Snapshot().TotalCount(), tr.firstExec.Snapshot().TotalCount()
			acks, execs := tr.recordOutstanding(now.Add(time.Second))
			if acks != tc.acks || execs != tc.exec {
				t.Fatalf("outstanding %d acks, %d execs; want %d, %d", acks, execs, tc.acks, tc.exec)
			}
			if a, e := tr.ack.Snapshot(), tr.firstExec.Snapshot(); a.TotalCount()-a0 != acks || e.TotalCount()-e0 != execs ||
				(acks > 0 && time.Duration(a.Max()) < time.Second) || (execs > 0 && time.Duration(e.Max()) < time.Second) {
				t.Fatalf("recorded %d acks (max %v), %d execs (max %v)", a.TotalCount()-a0, time.Duration(a.Max()), e.TotalCount()-e0, time.Duration(e.Max()))
			}
		})
	}
}

// TestOfferedRateNotKept: a run whose senders sent fewer orders in the
// window than the schedule offered says so; one that kept it does not.
func TestOfferedRateNotKept(t *testing.T) {
	for _, tc := range []struct {
		sent int64
		warn bool
	}{{1000, false}, {997, false}, {900, true}} {
		w := newOrdersWorkload(Config{Scenario: ScenarioOrders, Sessions: 4, OrderRate: 1000}, &target{})
		start := time.Now()
		w.setRecording(true, start)
		w.stats.sent.Add(tc.sent)
		w.setRecording(false, start.Add(time.Second))
		var sum Summary
		w.finish(&sum)
		warned := strings.Contains(strings.Join(sum.Warnings, "\n"), "the tester sent")
		if warned != tc.warn {
			t.Errorf("%d sent in 1 s at 1000/s offered: warned %v, want %v (%q)", tc.sent, warned, tc.warn, sum.Warnings)
		}
	}
}

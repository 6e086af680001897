package loadtest

import (
	"context"
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

package broker

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
)

// TestRestateUntoldCorrectedDuringRestatement: the correction comes
// while the restatement runs, after it read the orders (the trade then
// canceled) but before it got to the order. Before, the sink sent the
// correction before the restatement got to the trade: the broker got a
// correction naming a trade it never had, and then the order's status as
// the restatement read it (CumQty 0, after the correction's 30). Now the
// sink holds the correction until the restatement's messages are queued
// (session.holding): the trade as it stood and its cancel, flagged
// PossResend, and the status, as read, then the correction.
func TestRestateUntoldCorrectedDuringRestatement(t *testing.T) {
	r := newDayRigOf(t, "BROKER1")
	r.newOrder("a")
	nos := r.newOrder("lost")
	r.fill("lost", nos, 40)
	r.bust("lost", nos)
	r.h.waitFor(t, "the cancel", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-lost" })
	first := len(r.h.all())
	st := periodStore(t, r.s, r.clk.Now())
	r.h.restarting(t, r.s, st)
	// The watcher gets each event after the session's sink: when it has
	// the correction, so has the sink.
	seen := &seenSink{execID: "Y-lost", seen: make(chan struct{})}
	r.m.Watch("A1", seen)
	orig := r.h.a.sendHook
	injected := false
	r.h.a.sendHook = func(s *session, m *quickfix.Message) error {
		if !injected && field(m, tag.ClOrdID) == "a" && field(m, tag.ExecType) == "I" {
			// The restatement read the orders and queues a's status.
			injected = true
			r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-lost", ExecID: "Y-lost", ExecRefID: "F-lost",
				ExecType: 'G', OrdStatus: '1', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100,
				LastQty: 30, LastPx: 17000000, CumQty: 30, LeavesQty: 70, AvgPx: 17000000})
			select {
			case <-seen.seen:
			case <-time.After(rigWait):
				t.Error("the correction never reached the sink")
			}
		}
		return orig(s, m)
	}
	r.s.restate()
	r.h.waitFor(t, "the correction", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:Y-lost" })
	out := r.h.all()[first:]
	got := reportLines(out, tag.ClOrdID, tag.ExecType, tag.ExecID, tag.LastQty, tag.CumQty)
	want := []string{"a/I///0", "lost/F/core:F-lost/40/40", "lost/H/core:X-lost//0", "lost/I///0", "lost/G/core:Y-lost/30/30"}
	if !slices.Equal(got, want) {
		t.Errorf("after the restart the broker got %v; want %v", got, want)
	}
	booked, err := bookTrades(out)
	if err != nil {
		t.Fatal(err)
	}
	if booked["core:F-lost"] != 30 {
		t.Errorf("the broker booked the trade as %d; want 30", booked["core:F-lost"])
	}
}

// seenSink is an orders.Sink that closes seen on the event of execID.
type seenSink struct {
	execID string
	once   sync.Once
	seen   chan struct{}
}

func (w *seenSink) OrderEvent(ev orders.Event) {
	if ev.ExecID == w.execID {
		w.once.Do(func() { close(w.seen) })
	}
}

package broker

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestRestateUntoldCorrectedDuringRestatement: the correction comes
// while the restatement runs, after it read the orders (the trade then
// canceled) but before it got to the order. The dispatcher sends the
// correction before the restatement withholds the trade: the broker gets
// a correction naming a trade it never had, and then the order's status
// as the restatement read it (CumQty 0, after the correction's 30).
// Known, not fixed (review of 80f136f): the restatement works from a
// snapshot of the orders while the sink runs.
func TestRestateUntoldCorrectedDuringRestatement(t *testing.T) {
	t.Skip("known race (review of 80f136f): a correction dispatched between the restatement's read of the orders and its withholding of the trade")
	r := newDayRigOf(t, "BROKER1")
	r.newOrder("a")
	nos := r.newOrder("lost")
	r.fill("lost", nos, 40)
	r.bust("lost", nos)
	r.h.waitFor(t, "the cancel", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-lost" })
	first := len(r.h.all())
	st := periodStore(t, r.s, r.clk.Now())
	r.h.restarting(t, r.s, st)
	orig := r.h.a.sendHook
	done := make(chan struct{})
	injected := false
	r.h.a.sendHook = func(s *session, m *quickfix.Message) error {
		if field(m, tag.ExecID) == "core:Y-lost" {
			defer close(done)
		}
		if !injected && field(m, tag.ClOrdID) == "a" && field(m, tag.ExecType) == "I" {
			injected = true
			r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-lost", ExecID: "Y-lost", ExecRefID: "F-lost",
				ExecType: 'G', OrdStatus: '1', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100,
				LastQty: 30, LastPx: 17000000, CumQty: 30, LeavesQty: 70, AvgPx: 17000000})
			select {
			case <-done:
			case <-time.After(rigWait):
				t.Error("the correction never came")
			}
		}
		return orig(s, m)
	}
	r.s.restate()
	var got []string
	for _, m := range r.h.all()[first:] {
		got = append(got, field(m, tag.ClOrdID)+"/"+field(m, tag.ExecType)+"/"+field(m, tag.ExecID)+"/"+field(m, tag.LastQty)+"/"+field(m, tag.CumQty))
	}
	out := r.h.all()[first:]
	booked, err := bookTrades(out)
	t.Logf("got %v booked %v err %v", got, booked, err)
	if booked["core:F-lost"] != 30 {
		t.Errorf("the broker booked the trade as %d; want 30", booked["core:F-lost"])
	}
}

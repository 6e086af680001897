package broker

import (
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestRestateSentTradeCorrectionLost: the broker got a trade (30), whose
// report the store lacks (a new leader's store, not yet replicated), and
// never got its correction (to 20: the full queue dropped it). The
// restatement resends the trade as corrected, flagged PossResend, which a
// broker that has the trade ignores by its ExecID. Before, no correction
// followed: the broker kept the trade at 30 while the status said 20.
// Now the correction follows the trade, flagged PossResend too: a broker
// that had the trade corrects it, one that had not books it as corrected
// and the correction changes nothing.
func TestRestateSentTradeCorrectionLost(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	uid := h.workingOrder(t, s)
	report := func(er fix.ExecReport) {
		t.Helper()
		er.ClOrdID, er.OrderID, er.OrdStatus, er.Symbol, er.Side, er.Price, er.OrderQty = uid, "V1", '1', "600519.SH", fix.Buy, 17000000, 100
		er.LastPx, er.CumQty, er.LeavesQty, er.AvgPx = 17000000, er.LastQty, 100-er.LastQty, 17000000
		h.m.OnExecReport("core", er)
		h.waitFor(t, "the report of "+er.ExecID, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:"+er.ExecID })
	}
	report(fix.ExecReport{ExecID: "E1", ExecType: 'F', LastQty: 30})
	h.mu.Lock()
	h.full = true
	h.mu.Unlock()
	report(fix.ExecReport{ExecID: "X1", ExecRefID: "E1", ExecType: 'G', LastQty: 20})
	h.mu.Lock()
	h.full = false
	h.mu.Unlock()
	h.restarting(t, s, nil) // the store lacks every report
	if _, resent := s.restate(); resent != 2 {
		t.Errorf("resent %d reports; want the trade E1, as corrected, and its correction X1", resent)
	}
	h.mu.Lock()
	var got []*quickfix.Message
	for _, o := range h.out {
		if !o.dropped {
			got = append(got, o.m)
		}
	}
	h.mu.Unlock()
	booked, err := bookTrades(got)
	if err != nil {
		t.Fatal(err)
	}
	if booked["core:E1"] != 20 {
		t.Errorf("the broker books E1 %d; want 20", booked["core:E1"])
	}
	last := got[len(got)-1]
	if field(last, tag.ExecType) != "I" || field(last, tag.CumQty) != "20" {
		t.Errorf("the last report: %s; want the order's status, CumQty 20", last)
	}
}

package broker

import (
	"fmt"
	"slices"
	"strings"
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
	h.setFull(true)
	report(fix.ExecReport{ExecID: "X1", ExecRefID: "E1", ExecType: 'G', LastQty: 20})
	h.setFull(false)
	h.restarting(t, s, nil) // the store lacks every report
	if _, resent := s.restate(); resent != 2 {
		t.Errorf("resent %d reports; want the trade E1, as corrected, and its correction X1", resent)
	}
	got := h.delivered()
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

// TestRestateSentTradeCancelLost: the broker got two trades (E1 30 at
// 1699.00, E2 10 at 1700.00), whose reports the store lacks (a new
// leader's store, not yet replicated), and never got the cancel of the
// first (the full queue dropped it). Before, the restatement withheld the
// canceled trade, as one the broker never had, and sent no cancel: the
// broker kept E1 for good while the status said 10. Now E1 is resent as
// it stood, then E2, both with the totals as they were with E1 standing
// (CumQty 30, then 40 at an average of 1699.25), then the cancel, all
// flagged PossResend: a broker that had the trades takes E1 back, one
// that had not books both and takes E1 back.
func TestRestateSentTradeCancelLost(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	uid := h.workingOrder(t, s)
	report := func(er fix.ExecReport) {
		t.Helper()
		er.ClOrdID, er.OrderID, er.OrdStatus, er.Symbol, er.Side, er.Price, er.OrderQty = uid, "V1", '1', "600519.SH", fix.Buy, 17000000, 100
		er.LeavesQty = 100 - er.CumQty
		h.m.OnExecReport("core", er)
		h.waitFor(t, "the report of "+er.ExecID, func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:"+er.ExecID })
	}
	report(fix.ExecReport{ExecID: "E1", ExecType: 'F', LastQty: 30, LastPx: 16990000, CumQty: 30, AvgPx: 16990000})
	report(fix.ExecReport{ExecID: "E2", ExecType: 'F', LastQty: 10, LastPx: 17000000, CumQty: 40, AvgPx: 16992500})
	h.setFull(true)
	report(fix.ExecReport{ExecID: "X1", ExecRefID: "E1", ExecType: 'H', CumQty: 10, AvgPx: 17000000})
	h.setFull(false)
	h.restarting(t, s, nil) // the store lacks every report
	before := len(h.all())
	if _, resent := s.restate(); resent != 3 {
		t.Errorf("resent %d reports; want the trades E1 and E2, and the cancel X1", resent)
	}
	all := h.all()
	var got []string
	for _, m := range all[before:] {
		got = append(got, fmt.Sprintf("%s/%s/%s/%s/%s/%s/%s", field(m, tag.ExecType), field(m, tag.ExecID), field(m, tag.PossResend),
			field(m, tag.LastQty), field(m, tag.CumQty), field(m, tag.LeavesQty), field(m, tag.AvgPx)))
	}
	if want := []string{"F/core:E1/Y/30/30/70/1699.00", "F/core:E2/Y/10/40/60/1699.25", "H/core:X1/Y//10/90/1700.00"}; len(got) != 4 ||
		!slices.Equal(got[:3], want) || !strings.HasPrefix(got[3], "I/") || !strings.HasSuffix(got[3], "/10/90/1700.00") {
		t.Fatalf("the restatement sent %v; want %v, then the order's status (CumQty 10)", got, want)
	}
	// A broker that had the trades (not the cancel: dropped), and one
	// that had none, book them alike.
	for what, ms := range map[string][]*quickfix.Message{"had the trades": h.delivered(), "had none": all[before:]} {
		booked, err := bookTrades(ms)
		if err != nil {
			t.Fatalf("a broker that %s: %v", what, err)
		}
		if booked["core:E1"] != 0 || booked["core:E2"] != 10 {
			t.Errorf("a broker that %s books %v; want E1 0, E2 10", what, booked)
		}
	}
}

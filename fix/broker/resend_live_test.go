package broker

import (
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestResentReplaceKeepsLiveRequest: a broker that did not hear back
// about its replace (r1) resends it with PossResend=Y (or, after a
// takeover, the session resends it PossDupFlag=Y). The resend of a request
// still in flight is not entered again: the manager would refuse it (a
// request is pending on the order), and before, that refusal made the
// acceptor forget the live replace r1: the venue's Replaced reached the
// broker without OrigClOrdID (41), a venue's refusal of the replace as a
// refused cancel (434=1), and the broker got an OrderCancelReject for r1
// it would take as the live request's outcome.
func TestResentReplaceKeepsLiveRequest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		header string // how the resend is flagged
		venue  string // "replaced" or "rejected"
	}{
		{"PossResend, venue replaces", "97=Y", "replaced"},
		{"PossDupFlag, venue replaces", "43=Y", "replaced"},
		{"PossResend, venue refuses", "97=Y", "rejected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newRealHarness(t, nil)
			s := h.session(t, "BROKER1")
			orderUID := h.workingOrder(t, s)

			const g = "11=r1|41=o1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1701|38=100"
			if rej := s.handle(inbound(t, "FIX.4.4", "G", g)); rej != nil {
				t.Fatal(rej)
			}
			rpl := h.up.Wait(t, 2)[1].(fix.ReplaceRequest)
			h.waitFor(t, "Pending Replace for r1", isReport("E", "r1"))

			// The resend: the same request, flagged.
			if rej := s.handle(inbound(t, "FIX.4.4", "G", g, tc.header)); rej != nil {
				t.Fatal(rej)
			}

			venueAnswersReplace(t, h, tc.venue, rpl.ClOrdID, orderUID)
			for _, m := range h.all() {
				if field(m, tag.MsgType) == "9" && field(m, tag.ClOrdID) == "r1" && field(m, tag.Text) != "venue says no" {
					t.Errorf("the resend was answered with an OrderCancelReject for the live request r1: %s", m)
				}
			}
		})
	}
}

// TestReplaceAnsweredAfterRestart: a broker's replace r1 is pending when
// the gateway restarts, or a new leader takes over: the acceptor of the
// new process has no record of the broker's requests, only the order
// manager's state (replayed). Before, the venue's Replaced then reached
// the broker without OrigClOrdID (41), and a venue's refusal of the
// replace as a refused cancel (434=1): the manager's events now say what
// the request was (orders.Event.Request, Replaced).
func TestReplaceAnsweredAfterRestart(t *testing.T) {
	for _, venue := range []string{"replaced", "rejected"} {
		t.Run(venue, func(t *testing.T) {
			h := newRealHarness(t, nil)
			s := h.session(t, "BROKER1")
			orderUID := h.workingOrder(t, s)
			if rej := s.handle(inbound(t, "FIX.4.4", "G", "11=r1|41=o1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1701|38=100")); rej != nil {
				t.Fatal(rej)
			}
			rpl := h.up.Wait(t, 2)[1].(fix.ReplaceRequest)
			h.waitFor(t, "Pending Replace for r1", isReport("E", "r1"))
			// The new process's acceptor: no record of r1.
			h.a.reqMu.Lock()
			h.a.requests = map[string]request{}
			h.a.reqMu.Unlock()

			venueAnswersReplace(t, h, venue, rpl.ClOrdID, orderUID)
		})
	}
}

// venueAnswersReplace has the venue answer the broker's replace r1 of o1
// (upstream ids rplUID of orderUID): "replaced" or "rejected", and checks
// what the broker is told: the Replaced with OrigClOrdID o1, or the
// refusal as a replace's (434=2).
func venueAnswersReplace(t *testing.T, h *realHarness, venue, rplUID, orderUID string) {
	t.Helper()
	switch venue {
	case "replaced":
		h.m.OnExecReport("core", fix.ExecReport{ClOrdID: rplUID, OrigClOrdID: orderUID, OrderID: "V1", ExecID: "E1",
			ExecType: '5', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Buy, Price: 17010000, OrderQty: 100, LeavesQty: 100})
		m := h.waitFor(t, "Replaced for r1", isReport("5", "r1"))
		if got := field(m, tag.OrigClOrdID); got != "o1" {
			t.Errorf("Replaced r1: OrigClOrdID (41) = %q, want o1: %s", got, m)
		}
	case "rejected":
		h.m.OnCancelReject("core", fix.CancelReject{ClOrdID: rplUID, OrigClOrdID: orderUID, OrderID: "V1",
			ResponseTo: '2', Text: "venue says no"})
		m := h.waitFor(t, "venue's OrderCancelReject for r1", func(m *quickfix.Message) bool {
			return field(m, tag.MsgType) == "9" && field(m, tag.Text) == "venue says no"
		})
		if got := field(m, tag.CxlRejResponseTo); got != "2" {
			t.Errorf("venue's refusal of replace r1: CxlRejResponseTo (434) = %q, want 2 (replace): %s", got, m)
		}
	}
}

// TestLateReplaceFirstFillNamesOrig: the venue refuses the broker's
// replace r1 of o1 as a message, so the gateway gives it up (the broker
// hears an OrderCancelReject), but takes it after all, and its first
// report under r1's id is a fill, not a Replaced. The fill is reported
// under r1 with OrigClOrdID (41) o1: the broker's only word that o1 is
// now r1. Before, it carried no OrigClOrdID, and the broker had a fill
// of a ClOrdID it last heard refused.
func TestLateReplaceFirstFillNamesOrig(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	h.workingOrder(t, s)
	if rej := s.handle(inbound(t, "FIX.4.4", "G", "11=r1|41=o1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1701|38=200")); rej != nil {
		t.Fatal(rej)
	}
	rpl := h.up.Wait(t, 2)[1].(fix.ReplaceRequest)
	h.m.OnReject("core", fix.Reject{ClOrdID: rpl.ClOrdID, MsgType: "G", Text: "not now"})
	h.waitFor(t, "OrderCancelReject for r1", func(m *quickfix.Message) bool {
		return field(m, tag.MsgType) == "9" && field(m, tag.ClOrdID) == "r1"
	})
	h.m.OnExecReport("core", fix.ExecReport{ClOrdID: rpl.ClOrdID, OrderID: "V1", ExecID: "E2", ExecType: 'F', OrdStatus: '1',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17010000, OrderQty: 200, LastPx: 17010000, LastQty: 50, CumQty: 50,
		LeavesQty: 150, AvgPx: 17010000})
	m := h.waitFor(t, "the fill under r1", isReport("F", "r1"))
	if got := field(m, tag.OrigClOrdID); got != "o1" {
		t.Errorf("the first fill under r1: OrigClOrdID (41) = %q, want o1: %s", got, m)
	}
}

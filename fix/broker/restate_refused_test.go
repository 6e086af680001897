package broker

import (
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestRestateRejectedBehindARefusedReuse: the broker sends a new order,
// then a NewOrderSingle reusing its ClOrdID, which the acceptor refuses
// (OrdRejReason 6) under that ClOrdID; the venue then rejects the order,
// and the acceptor stops before that report reached the store (queued,
// or not replicated). At the next run's first logon the order is
// restated as rejected. Before, the refusal, the store's last report of
// the ClOrdID, said rejected with nothing filled, as the order is: the
// order was not restated, and the broker, which takes a duplicate's
// refusal for no word on its order, kept it pending new for good (found
// by TestBrokerAgainstModel, seed 732084861959205361). An order whose
// stored last report is the venue's reject is not restated. FIX 4.4 and
// 4.2.
func TestRestateRejectedBehindARefusedReuse(t *testing.T) {
	// FIX 4.2 has no ExecType I: a status is ExecTransType 3 with the
	// OrdStatus as ExecType.
	for broker, status := range map[string]string{"BROKER1": "o1/I", "BROKER2": "o1/8"} {
		t.Run(broker, func(t *testing.T) {
			r := newDayRigOf(t, broker)
			d := "11=o1|1=" + r.acct + "|55=600519|207=XSHG|54=1|40=2|44=1700|38=100|21=1"
			if rej := r.s.handle(inbound(t, r.begin, "D", d)); rej != nil {
				t.Fatalf("new order: %v", rej)
			}
			nos := r.up.Wait(t, 1)[0].(fix.NewOrder)
			r.h.waitFor(t, "the order's Pending New", func(m *quickfix.Message) bool {
				return field(m, tag.ClOrdID) == "o1" && field(m, tag.OrdStatus) == "A"
			})
			if rej := r.s.handle(inbound(t, r.begin, "D", d)); rej != nil {
				t.Fatalf("the reused ClOrdID: %v", rej)
			}
			r.h.waitFor(t, "the reuse's refusal", func(m *quickfix.Message) bool {
				return field(m, tag.ClOrdID) == "o1" && field(m, tag.OrdStatus) == "8" && field(m, tag.OrdRejReason) == "6"
			})
			r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos.ClOrdID, OrderID: "V-o1", ExecID: "R-o1", ExecType: '8', OrdStatus: '8',
				Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, Text: "venue rejects"})
			r.h.waitFor(t, "the venue's reject", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:R-o1" })
			// Another order the venue rejected, its report stored: not
			// restated.
			if rej := r.s.handle(inbound(t, r.begin, "D", "11=o2|1="+r.acct+"|55=600519|207=XSHG|54=1|40=2|44=1700|38=100|21=1")); rej != nil {
				t.Fatalf("new order o2: %v", rej)
			}
			nos2 := r.up.Wait(t, 2)[1].(fix.NewOrder)
			r.m.OnExecReport("core", fix.ExecReport{ClOrdID: nos2.ClOrdID, OrderID: "V-o2", ExecID: "R-o2", ExecType: '8', OrdStatus: '8',
				Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, Text: "venue rejects"})
			r.h.waitFor(t, "the venue's reject of o2", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:R-o2" })
			r.restartHolding(func(m *quickfix.Message) bool { return field(m, tag.ExecID) != "core:R-o1" }, status)
			if m := r.h.all()[len(r.h.all())-1]; field(m, tag.OrdStatus) != "8" || r.begin == "FIX.4.2" && field(m, tag.ExecTransType) != "3" {
				t.Fatalf("restated as %s; want a status, rejected", m)
			}
		})
	}
}

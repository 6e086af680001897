package orders

import (
	"testing"

	"sgw/fix"
	"sgw/refdata"
)

// settledAt checks risk once every order of A1 is done: nothing reserved,
// nothing open, and the cash the fills of filled shares at 1700.00 left.
func settledAt(t *testing.T, e *env, filled int64) {
	t.Helper()
	st, _ := e.rc.Snapshot("A1")
	want := refdata.Price((10_000_000 - filled*1700) * refdata.PriceScale)
	if st.Reserved != 0 || st.OpenOrders != 0 || st.Cash != want {
		t.Fatalf("risk after every order is done: reserved %s, open %d, cash %s (want 0, 0, %s); open orders %+v",
			st.Reserved, st.OpenOrders, st.Cash, want, e.rc.OpenOrders("A1"))
	}
}

// TestFilledWhileReplacePending: a buy is filled whole under its old id
// while a replace raising its quantity is pending, then the venue refuses
// the replace. The order ends in risk too: its reservation (held for the
// larger quantity) is released. Before, risk's order stayed open, holding
// the cash for the day. Found by a helper's hunt.
func TestFilledWhileReplacePending(t *testing.T) {
	e := newEnv(t, t.TempDir())
	if _, err := e.m.New(buy("c1", 300)); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 300, "e1"))
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Price: 17000000, Qty: 500, Source: src}); err != nil {
		t.Fatal(err)
	}
	g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
	// The venue filled the order before it saw the replace.
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 300, 300, 0, "e2"))
	e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, Text: "too late to replace", ResponseTo: '2'})
	if o, _ := e.m.Get("A1", "c1"); o.Status != StatusFilled {
		t.Fatalf("order %+v, want filled", o)
	}
	settledAt(t, e, 300)
}

// TestReplaceFilledBeforeAck: a replace lowering a buy's quantity is
// filled whole, under the replace's id, before the venue's 150=5 comes:
// the replace took effect, and the order ends in risk under its terms.
func TestReplaceFilledBeforeAck(t *testing.T) {
	e := newEnv(t, t.TempDir())
	if _, err := e.m.New(buy("c1", 500)); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 500, "e1"))
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "c1", Account: "A1", Price: 17000000, Qty: 300, Source: src}); err != nil {
		t.Fatal(err)
	}
	g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xc1", ExecID: "e2",
		ExecType: 'F', OrdStatus: '2', LastPx: 17000000, AvgPx: 17000000, LastQty: 300, CumQty: 300})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xc1", ExecID: "e3",
		ExecType: '5', OrdStatus: '2', AvgPx: 17000000, CumQty: 300})
	if o, _ := e.m.Get("A1", "c1"); o.Status != StatusFilled {
		t.Fatalf("order %+v, want filled", o)
	}
	settledAt(t, e, 300)
}

// TestReconciledFillAboveLimit: a status answer reveals a missed fill
// whose price, derived from the venue's rounded AvgPx, lies above the
// buy's limit. Risk must still take the fill (at the limit), not refuse
// it and release the order's hold: cash created, shares missing.
func TestReconciledFillAboveLimit(t *testing.T) {
	e := newEnv(t, t.TempDir())
	req := buy("c1", 600)
	req.Price = 17000100 // 1700.01
	if _, err := e.m.New(req); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	uid := e.uid("c1")
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "X1", ExecID: "e1", ExecType: '0', OrdStatus: '0', LeavesQty: 600})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "X1", ExecID: "e2", ExecType: 'F', OrdStatus: '1',
		LastPx: 17000000, LastQty: 500, CumQty: 500, AvgPx: 17000000, LeavesQty: 100})
	// The last 100 filled at 1700.01, its report missed; the venue's
	// status answer: CumQty 600, AvgPx (500×1700.00+100×1700.01)/600 =
	// 1700.001666… rounded to 1700.0017.
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "X1", ExecType: 'I', OrdStatus: '2',
		CumQty: 600, AvgPx: 17000017})
	st, _ := e.rc.Snapshot("A1")
	want := refdata.Price(10_000_000*refdata.PriceScale - 500*17000000 - 100*17000100)
	var pos int64
	for _, p := range st.Positions {
		if p.Symbol == "600519.SH" {
			pos = p.BoughtToday
		}
	}
	if st.Reserved != 0 || st.Cash > want+600 || pos != 600 { // a rounding of a few units is fine
		t.Fatalf("after a reconciled fill: cash %s (want about %s), reserved %s, bought today %d (want 600)", st.Cash, want, st.Reserved, pos)
	}
}

// TestOverFillClosesRiskOrder: a venue reports more shares filled than
// the order had. Risk refuses the fill (an anomaly it logs), but the
// order is done and is closed in risk, its reservation released.
func TestOverFillClosesRiskOrder(t *testing.T) {
	e := newEnv(t, t.TempDir())
	if _, err := e.m.New(buy("c1", 300)); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", '0', '0', 0, 0, 300, "e1"))
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 400, 400, 0, "e2"))
	if o, _ := e.m.Get("A1", "c1"); o.Status != StatusFilled {
		t.Fatalf("order %+v, want filled", o)
	}
	st, _ := e.rc.Snapshot("A1")
	if st.Reserved != 0 || st.OpenOrders != 0 {
		t.Fatalf("risk after the order filled: reserved %s, open %d; open orders %+v", st.Reserved, st.OpenOrders, e.rc.OpenOrders("A1"))
	}
}

package orders

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"sgw/fix"
	"sgw/refdata"
)

// TestReplaceTakenAfterGivingUp: a replace the venue answers neither
// within the ack timeout nor its status request within the status
// timeout ends refused, but the venue had it and takes it late (a slow
// venue, its answer lost): its report under the replace's id makes the
// replace the order's terms, in risk too, so that the fills beyond the
// old quantity count, and the replace's client hears the report as the
// replace's. Before, the order kept its old terms: risk refused the
// fills beyond them, and the account lacked the shares bought and still
// had their cost (found by TestReplayEqualsLive, seeds 675 and 839 of
// 1,000). A replay ends the same.
func TestReplaceTakenAfterGivingUp(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir, func(_ *env, c *Config) { c.AckTimeout, c.StatusTimeout = time.Second, time.Second })
	e.working("w1", 200)
	before, _ := a1(t, e.m)
	const px = 17000000
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: px, Qty: 400, Source: src}); err != nil {
		t.Fatal(err)
	}
	r1, ok := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
	if !ok {
		t.Fatalf("sent %v; want the replace second", describe(e.core.list()))
	}
	for i := 0; ; i++ { // the venue is silent: asked about, then given up
		e.m.tick(e.advance(1100 * time.Millisecond))
		if o, _ := e.m.Get("A1", "w1"); o.pending == nil {
			break
		}
		if i == 10 {
			t.Fatal("the unanswered replace was never given up")
		}
	}
	evs := e.ev.wait(t, 4) // w1 accepted and new, r1 accepted, r1 refused
	if ev := evs[len(evs)-1]; ev.Kind != EventCancelReject || ev.Ref != "r1" {
		t.Fatalf("after the timeouts the client heard %+v; want r1's cancel reject", ev)
	}

	n := len(evs)
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: r1.ClOrdID, OrigClOrdID: r1.OrigClOrdID, OrderID: "Xw1", ExecID: "e5",
		ExecType: '5', OrdStatus: '0', Price: px, OrderQty: 400, LeavesQty: 400})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: r1.ClOrdID, OrderID: "Xw1", ExecID: "e6", ExecType: 'F', OrdStatus: '2',
		Price: px, OrderQty: 400, LastPx: px, LastQty: 400, CumQty: 400, AvgPx: px})
	evs = e.ev.wait(t, n+2)[n:]
	if ev := evs[0]; ev.Kind != EventExec || ev.ExecType != '5' || ev.Ref != "r1" || ev.Replaced != "w1" || ev.Order.Qty != 400 {
		t.Errorf("the venue's late replace told as %+v; want r1's, replacing w1, of 400", ev)
	}
	if ev := evs[1]; ev.Order.ClOrdID != "r1" || ev.Order.Status != StatusFilled || ev.Order.CumQty != 400 {
		t.Errorf("the fill told as %+v; want r1 filled 400", ev.Order)
	}
	check := func(name string, m *Manager) {
		t.Helper()
		a, pos := a1(t, m)
		cost := refdata.Price(400 * px)
		if pos.BoughtToday != 400 || a.Cash != before.Cash+before.Reserved-cost || a.Reserved != 0 || a.OpenOrders != 0 {
			t.Errorf("%s: A1 %+v, position %+v; want 400 bought today for %v, nothing held, nothing working (before: %+v)",
				name, a, pos, cost, before)
		}
		if o, ok := m.Get("A1", "r1"); !ok || o.Qty != 400 || o.UpstreamID != r1.ClOrdID || o.Status != StatusFilled {
			t.Errorf("%s: r1 = %+v (found %v); want the order, 400 filled under the replace's id", name, o, ok)
		}
	}
	check("live", e.m)
	live, _ := e.m.Account("A1")
	e.j.Close()
	r := newEnv(t, dir, func(r *env, _ *Config) { r.noLogon = true })
	check("replayed", r.m)
	if got, _ := r.m.Account("A1"); got.Cash != live.Cash || !slices.Equal(got.Positions, live.Positions) {
		t.Errorf("replayed %+v, live %+v", got, live)
	}
}

// refuseUnanswered has the client replace working order orig with id
// (px, qty), the venue silent until the gateway gives the replace up
// (ack and status timeouts), and returns the replace as sent upstream.
func refuseUnanswered(t *testing.T, e *env, orig, id string, px refdata.Price, qty int64) fix.ReplaceRequest {
	t.Helper()
	n := len(e.core.list())
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: id, OrigClOrdID: orig, Account: "A1", Price: px, Qty: qty, Source: src}); err != nil {
		t.Fatal(err)
	}
	r, ok := e.core.wait(t, n+1)[n].(fix.ReplaceRequest)
	if !ok {
		t.Fatalf("sent %v; want the replace last", describe(e.core.list()))
	}
	for i := 0; ; i++ {
		e.m.tick(e.advance(1100 * time.Millisecond))
		if o, _ := e.m.Get("A1", orig); o.pending == nil {
			return r
		}
		if i == 10 {
			t.Fatal("the unanswered replace was never given up")
		}
	}
}

// TestLateReplaceAckNotTaken: the venue's late Pending Replace (E) for a
// replace the gateway gave up on only says the venue has the request,
// not that it took it (it may still refuse it), and the gateway journals
// no such acknowledgement (nor a trade of no shares): it must not make
// the replace the order's terms. Before, it did, live only: the order then took r1's 400 while
// the venue (which refused r1) worked 200 and filled them, leaving the
// order partially filled with 200 held for nothing; and a replay, which
// never saw the E, rebuilt another order than the live one.
func TestLateReplaceAckNotTaken(t *testing.T) {
	for _, execType := range []byte{'E', 'F'} { // F: of no shares
		t.Run(string(execType), func(t *testing.T) { testLateReplaceAckNotTaken(t, execType) })
	}
}

func testLateReplaceAckNotTaken(t *testing.T, execType byte) {
	dir := t.TempDir()
	e := newEnv(t, dir, func(_ *env, c *Config) { c.AckTimeout, c.StatusTimeout = time.Second, time.Second })
	e.working("w1", 200)
	before, _ := a1(t, e.m)
	const px = 17000000
	r1 := refuseUnanswered(t, e, "w1", "r1", px, 400)
	w1 := r1.OrigClOrdID
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: r1.ClOrdID, OrigClOrdID: w1, OrderID: "Xw1", ExecID: "e5",
		ExecType: execType, OrdStatus: 'E', Price: px, OrderQty: 200, LeavesQty: 200})
	e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: r1.ClOrdID, OrigClOrdID: w1, OrderID: "Xw1", Text: "too late"})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: w1, OrderID: "Xw1", ExecID: "e6", ExecType: 'F', OrdStatus: '2',
		Price: px, OrderQty: 200, LastPx: px, LastQty: 200, CumQty: 200, AvgPx: px})
	check := func(name string, m *Manager) {
		t.Helper()
		o, _ := m.Get("A1", "w1")
		if o.ClOrdID != "w1" || o.Qty != 200 || o.Status != StatusFilled || o.CumQty != 200 {
			t.Errorf("%s: %s %d, %s %d filled; want w1 of 200 filled", name, o.ClOrdID, o.Qty, o.Status, o.CumQty)
		}
		a, pos := a1(t, m)
		if cost := refdata.Price(200 * px); pos.BoughtToday != 200 || a.Cash != before.Cash+before.Reserved-cost || a.Reserved != 0 || a.OpenOrders != 0 {
			t.Errorf("%s: A1 %+v, position %+v; want 200 bought, nothing held or working", name, a, pos)
		}
	}
	check("live", e.m)
	e.j.Close()
	check("replayed", newEnv(t, dir, func(r *env, _ *Config) { r.noLogon = true }).m)
}

// TestRefusedReplacesBounded: the replaces an order keeps in case the
// venue takes one late (Order.refused) are bounded, the latest kept: a
// venue that refuses every replace as a message (BusinessMessageReject)
// and a client replacing again and again kept each, for the order's
// life, each report under another id scanning them all. The latest still
// becomes the order's terms when the venue reports under it, live and in
// replay.
func TestRefusedReplacesBounded(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.working("w1", 200)
	const n = 3 * maxRefused
	var last fix.ReplaceRequest
	for i := range n {
		id := fmt.Sprintf("r%d", i)
		k := len(e.core.list())
		if _, err := e.m.Replace(ReplaceRequest{ClOrdID: id, OrigClOrdID: "w1", Account: "A1", Price: 17000000, Qty: int64(300 + 100*(i%10)), Source: src}); err != nil {
			t.Fatal(err)
		}
		last = e.core.wait(t, k+1)[k].(fix.ReplaceRequest)
		e.m.OnReject("core", fix.Reject{ClOrdID: last.ClOrdID, MsgType: "G", Text: "no"})
	}
	e.m.mu.Lock()
	kept := len(e.m.orders[key("A1", "w1")].refused)
	e.m.mu.Unlock()
	if kept > maxRefused {
		t.Errorf("the order keeps %d refused replaces of %d; want at most %d", kept, n, maxRefused)
	}
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: last.ClOrdID, OrigClOrdID: last.OrigClOrdID, OrderID: "Xw1", ExecID: "e5",
		ExecType: '5', OrdStatus: '0', Price: 17000000, OrderQty: last.Qty, LeavesQty: last.Qty})
	check := func(name string, m *Manager) {
		t.Helper()
		if o, _ := m.Get("A1", "w1"); o.UpstreamID != last.ClOrdID || o.Qty != last.Qty {
			t.Errorf("%s: the order is %s of %d; want the last replace's %s of %d", name, o.UpstreamID, o.Qty, last.ClOrdID, last.Qty)
		}
	}
	check("live", e.m)
	e.j.Close()
	check("replayed", newEnv(t, dir, func(r *env, _ *Config) { r.noLogon = true }).m)
}

// TestOvertakenReplaceTakenAfterReopen: a replace in flight when the
// venue fills the order whole ends refused (too late: the order is
// filled); the venue then cancels the fill (ExecType H), which works the
// order again, and takes the replace it had: its Replaced, under the
// replace's id, makes the replace the order's terms, in risk too, and the
// replace's client hears it as the replace's; the fill that follows is
// the replace's. Before, the overtaken replace was forgotten: the
// Replaced found nothing pending, the order kept its old terms (200) and
// took the replace's fill under them, while the venue worked the
// replace's (100); a cancel would have named terms the venue no longer
// had (found by TestBrokerAgainstModel, seed 10683983639994925946). A
// replay ends the same.
func TestOvertakenReplaceTakenAfterReopen(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	e.working("w1", 200)
	before, _ := a1(t, e.m)
	const px = 17000000
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: px, Qty: 100, Source: src}); err != nil {
		t.Fatal(err)
	}
	r1, ok := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
	if !ok {
		t.Fatalf("sent %v; want the replace second", describe(e.core.list()))
	}
	w1 := r1.OrigClOrdID
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: w1, OrderID: "Xw1", ExecID: "f1", ExecType: 'F', OrdStatus: '2',
		Price: px, OrderQty: 200, LastPx: px, LastQty: 200, CumQty: 200, AvgPx: px})
	evs := e.ev.wait(t, 5) // w1 accepted and new, r1 accepted, the fill, r1 refused
	if ev := evs[len(evs)-1]; ev.Kind != EventCancelReject || ev.Ref != "r1" || ev.Code != CodeTooLate {
		t.Fatalf("after the fill the client heard %+v; want r1's cancel reject, too late", ev)
	}
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: w1, OrderID: "Xw1", ExecID: "b1", ExecRefID: "f1", ExecType: 'H', OrdStatus: '0',
		Price: px, OrderQty: 200, LastPx: px, LastQty: 200, LeavesQty: 200})
	if o, _ := e.m.Get("A1", "w1"); o.Status != StatusNew || o.CumQty != 0 {
		t.Fatalf("after the fill's cancel: %s cum %d; want the order working again, nothing filled", o.Status, o.CumQty)
	}
	n := len(e.ev.wait(t, 6))
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: r1.ClOrdID, OrigClOrdID: w1, OrderID: "Xw1", ExecID: "e5",
		ExecType: '5', OrdStatus: '0', Price: px, OrderQty: 100, LeavesQty: 100})
	e.m.OnExecReport("core", fix.ExecReport{ClOrdID: r1.ClOrdID, OrderID: "Xw1", ExecID: "f2", ExecType: 'F', OrdStatus: '2',
		Price: px, OrderQty: 100, LastPx: px, LastQty: 100, CumQty: 100, AvgPx: px})
	evs = e.ev.wait(t, n+2)[n:]
	if ev := evs[0]; ev.Kind != EventExec || ev.ExecType != '5' || ev.Ref != "r1" || ev.Replaced != "w1" || ev.Order.Qty != 100 {
		t.Errorf("the venue's Replaced told as %+v; want r1's, replacing w1, of 100", ev)
	}
	check := func(name string, m *Manager) {
		t.Helper()
		o, ok := m.Get("A1", "r1")
		if !ok || o.ClOrdID != "r1" || o.UpstreamID != r1.ClOrdID || o.Qty != 100 || o.Status != StatusFilled || o.CumQty != 100 {
			t.Errorf("%s: r1 = %s (upstream id %s) of %d, %s %d (found %v); want the replace's terms, 100 of 100 filled",
				name, o.ClOrdID, o.UpstreamID, o.Qty, o.Status, o.CumQty, ok)
		}
		a, pos := a1(t, m)
		if cost := refdata.Price(100 * px); pos.BoughtToday != 100 || a.Cash != before.Cash+before.Reserved-cost || a.Reserved != 0 || a.OpenOrders != 0 {
			t.Errorf("%s: A1 %+v, position %+v; want 100 bought today for %v, nothing held, nothing working (before: %+v)",
				name, a, pos, cost, before)
		}
	}
	check("live", e.m)
	e.j.Close()
	check("replayed", newEnv(t, dir, func(r *env, _ *Config) { r.noLogon = true }).m)
}

package broker

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
)

// windowEntry is the real manager; its SessionEnded lets the venue's fill
// land while OnLogout runs, as the upstream's goroutine may
// (cancel-on-disconnect makes that window as long as the session's
// cancels take).
type windowEntry struct {
	*orders.Manager
	during func()
}

func (e windowEntry) SessionEnded(src orders.Source) int {
	n := e.Manager.SessionEnded(src)
	if e.during != nil {
		e.during()
	}
	return n
}

// TestFillDuringLogoutReachesBroker: a broker logs out (or its
// connection drops) while the venue fills its order. Before, OnLogout
// reported the disconnect to the manager, which unregistered the session's
// sink, and registered the sink again only afterwards: a fill applied in
// between was journaled with no sink to tell, so the broker never got its
// ExecutionReport, not at its next logon either (restatement is only for
// a takeover, and once). The session's end now leaves its sink registered
// (orders.Manager.SessionEnded).
func TestFillDuringLogoutReachesBroker(t *testing.T) {
	var orderUID string
	var h *realHarness
	fill := func() {
		h.m.OnExecReport("core", fix.ExecReport{ClOrdID: orderUID, OrderID: "V1", ExecID: "F1", ExecType: 'F', OrdStatus: '2',
			Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: 100, LastPx: 17000000,
			CumQty: 100, AvgPx: 17000000})
	}
	var ent windowEntry
	h = newRealHarness(t, func(m *orders.Manager) OrderEntry {
		ent = windowEntry{Manager: m}
		return &ent
	})
	s := h.session(t, "BROKER1")
	x := app{h.a}
	x.OnLogon(s.id)
	orderUID = h.workingOrder(t, s)

	// A watcher of the account is handed each event after the order's own
	// sink (orders.Manager.targets), on the same goroutine: once it has
	// the fill, the session's sink has had it too, if it was registered.
	w := watcher(make(chan orders.Event, 16))
	h.m.Watch("A1", w)

	ent.during = fill
	x.OnLogout(s.id)
	ent.during = nil
	x.OnLogon(s.id)

	select {
	case ev := <-w:
		if ev.Kind != orders.EventExec || ev.ExecType != 'F' {
			t.Fatalf("watcher got %+v, want the fill", ev)
		}
	case <-time.After(rigWait):
		t.Fatal("the manager never delivered the fill")
	}
	for _, m := range h.all() {
		if field(m, tag.MsgType) == "8" && field(m, tag.ExecType) == "F" {
			return
		}
	}
	t.Errorf("the order is filled at the venue, but the broker was never sent the fill (ExecType F); it got: %v", h.all())
}

type watcher chan orders.Event

func (w watcher) OrderEvent(ev orders.Event) { w <- ev }

// TestCancelWhilePendingReason: a cancel of an order whose replace is
// still pending is refused by the manager (orders.request_pending) with
// CxlRejReason 3 (already pending), as doc.go and PROTOCOL.md say, so that
// the broker knows to wait for the pending request (it was 2).
func TestCancelWhilePendingReason(t *testing.T) {
	h := newRealHarness(t, nil)
	s := h.session(t, "BROKER1")
	h.workingOrder(t, s)
	if rej := s.handle(inbound(t, "FIX.4.4", "G", "11=r1|41=o1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1701|38=100")); rej != nil {
		t.Fatal(rej)
	}
	h.up.Wait(t, 2)
	if rej := s.handle(inbound(t, "FIX.4.4", "F", "11=x1|41=o1|1=A1|55=600519|54=1|38=100")); rej != nil {
		t.Fatal(rej)
	}
	m := h.waitFor(t, "OrderCancelReject for x1", func(m *quickfix.Message) bool {
		return field(m, tag.MsgType) == "9" && field(m, tag.ClOrdID) == "x1"
	})
	if got := field(m, tag.CxlRejReason); got != "3" {
		t.Errorf("cancel x1 while replace r1 pending: CxlRejReason (102) = %s, want 3 (already pending): %s", got, m)
	}
}

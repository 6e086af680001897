package orders

import (
	"testing"
)

// TestReplaceOfBrokerOrderOnlyByItsSession: an order a FIX broker session
// entered is replaced only by that session; a replace from another
// session or a WebSocket client is refused (orders.not_owner), since the
// broker's engine would hear its order replaced under a ClOrdID it never
// sent. Anyone who may trade the account may still cancel it, and a
// WebSocket client's order may be replaced from another connection (a
// client that reconnected).
func TestReplaceOfBrokerOrderOnlyByItsSession(t *testing.T) {
	e := newEnv(t, t.TempDir())
	broker := Source{Kind: "fix", Session: "BROKER1"}
	req := buy("b1", 100)
	req.Source = broker
	if _, err := e.m.New(req); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 1)
	e.m.OnExecReport("core", e.er("b1", '0', '0', 0, 0, 100, "e1"))
	for _, from := range []Source{{Kind: "fix", Session: "BROKER2"}, {Kind: "ws", Session: "run.7"}} {
		_, err := e.m.Replace(ReplaceRequest{ClOrdID: "r-" + from.Kind, OrigClOrdID: "b1", Account: "A1", Price: 16990000, Qty: 100, Source: from})
		if !errorsCode(err, CodeNotOwner) {
			t.Fatalf("a replace of BROKER1's order from %v: %v, want %s", from, err, CodeNotOwner)
		}
	}
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "b1", Account: "A1", Price: 16990000, Qty: 100, Source: broker}); err != nil {
		t.Fatalf("a replace from the order's own session: %v", err)
	}
	e.core.wait(t, 2)

	// A cancel is taken from anyone who may trade the account.
	req2 := buy("b2", 100)
	req2.Source = broker
	if _, err := e.m.New(req2); err != nil {
		t.Fatal(err)
	}
	e.core.wait(t, 3)
	if _, err := e.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "b2", Account: "A1", Source: Source{Kind: "ws", Session: "run.7"}}); err != nil {
		t.Fatalf("a WebSocket client's cancel of a broker's order: %v", err)
	}
	e.core.wait(t, 4)

	// A WebSocket client's order: another connection may replace it.
	e.working("w1", 100)
	if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r2", OrigClOrdID: "w1", Account: "A1", Price: 16990000, Qty: 100, Source: Source{Kind: "ws", Session: "run.9"}}); err != nil {
		t.Fatalf("a replace of a WebSocket order from another connection: %v", err)
	}
}

// TestUnwatchLeavesNothing: an account's watchers gone, the manager keeps
// nothing of it (before, an empty set per account ever watched).
func TestUnwatchLeavesNothing(t *testing.T) {
	e := newEnv(t, t.TempDir())
	w := newEvents()
	for _, a := range []string{"A1", "M1"} {
		e.m.Watch(a, w)
		e.m.Unwatch(a, w)
	}
	e.m.mu.Lock()
	n := len(e.m.watchers)
	e.m.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d accounts kept after their watchers left", n)
	}
}

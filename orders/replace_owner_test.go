package orders

import (
	"slices"
	"testing"

	"sgw/fix"
	"sgw/risk"
)

// TestReplaceOwnerMovesOnlyWhenTaken: a WebSocket client's order replaced
// from another connection belongs, for cancel-on-disconnect, to the
// connection whose terms it works under: the replacing one once the venue
// took the replace, its own while the venue refused it (an
// OrderCancelReject, an upstream's reject of the message) or has not
// answered. A restarted manager (a replay of the journal) owes the cancel
// to the same session. Before, the order moved to the replacing
// connection when the replace was accepted by the gateway, and stayed
// there when the venue refused it: its own connection's end left it
// working, and the other's end cancelled it.
func TestReplaceOwnerMovesOnlyWhenTaken(t *testing.T) {
	other := Source{Kind: "ws", Session: "c2"}
	tests := []struct {
		name   string
		answer func(e *env, g fix.ReplaceRequest)
		owner  Source // the session whose end cancels the order
	}{
		{name: "refused by the venue", owner: src, answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, Text: "no replace now"})
		}},
		{name: "refused as a message", owner: src, answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnReject("core", fix.Reject{ClOrdID: g.ClOrdID, MsgType: "G", Text: "unsupported"})
		}},
		{name: "unanswered", owner: src, answer: func(*env, fix.ReplaceRequest) {}},
		{name: "taken by the venue", owner: other, answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xw1", ExecID: "e2",
				ExecType: '5', OrdStatus: '0', LeavesQty: 200})
		}},
	}
	withRisk := func(t *testing.T) envOpt {
		return func(e *env, _ *Config) {
			rcfg := riskConfig()
			rcfg.CancelOnDisconnect = true
			rc, err := risk.New(rcfg, nil)
			if err != nil {
				t.Fatal(err)
			}
			e.rc = rc
		}
	}
	for _, tt := range tests {
		for _, replayed := range []bool{false, true} {
			name := tt.name
			if replayed {
				name += "/replayed"
			}
			t.Run(name, func(t *testing.T) {
				dir := t.TempDir()
				e := newEnv(t, dir, withRisk(t))
				e.working("w1", 100)
				if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 16990000, Qty: 200, Source: other}); err != nil {
					t.Fatal(err)
				}
				tt.answer(e, e.core.wait(t, 2)[1].(fix.ReplaceRequest))
				notOwner := other
				if tt.owner == other {
					notOwner = src
				}
				if !replayed {
					if n := e.m.SessionEnded(notOwner); n != 0 {
						t.Fatalf("the end of %v, not the order's owner, sent %d cancels; want none", notOwner, n)
					}
					if tt.name == "unanswered" {
						// A cancel would be refused as pending: ask risk.
						got := e.rc.Disconnect(tt.owner.key())
						if len(got) != 1 || got[0].Session != tt.owner.key() {
							t.Fatalf("risk's cancels for the end of %v: %+v; want w1", tt.owner, got)
						}
						return
					}
					if n := e.m.SessionEnded(tt.owner); n != 1 {
						t.Fatalf("the end of %v, the order's owner, sent %d cancels; want 1", tt.owner, n)
					}
					return
				}
				e.j.Close() // the crash; the restart owes the cancel
				r := newEnv(t, dir, withRisk(t))
				owed := func(connected Source) []string {
					var ids []string
					for _, oo := range r.rc.Owed(func(s string) bool { return s == connected.key() }) {
						ids = append(ids, oo.ClOrdID+"@"+oo.Session)
					}
					return ids
				}
				if got := owed(tt.owner); len(got) != 0 {
					t.Errorf("after the restart, with %v (the owner) connected, cancels owed: %v; want none", tt.owner, got)
				}
				if got := owed(notOwner); !slices.Equal(got, []string{r.m.risk.OpenOrders("A1")[0].ClOrdID + "@" + tt.owner.key()}) {
					t.Errorf("after the restart, with %v connected, cancels owed: %v; want w1's, of %v", notOwner, got, tt.owner)
				}
			})
		}
	}
}

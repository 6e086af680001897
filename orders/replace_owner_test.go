package orders

import (
	"fmt"
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
						id := oo.ClOrdID + "@" + oo.Session
						if oo.IfReplacedBy != "" {
							id += " if replaced by " + oo.IfReplacedBy
						}
						ids = append(ids, id)
					}
					return ids
				}
				// With the replace unanswered, the end of the session it
				// came from owes the cancel if the venue takes it.
				var want []string
				if tt.name == "unanswered" {
					want = []string{"w1@" + src.key() + " if replaced by " + other.key()}
				}
				if got := owed(tt.owner); !slices.Equal(got, want) {
					t.Errorf("after the restart, with %v (the owner) connected, cancels owed: %v; want %v", tt.owner, got, want)
				}
				if got := owed(notOwner); !slices.Equal(got, []string{r.m.risk.OpenOrders("A1")[0].ClOrdID + "@" + tt.owner.key()}) {
					t.Errorf("after the restart, with %v connected, cancels owed: %v; want w1's, of %v", notOwner, got, tt.owner)
				}
			})
		}
	}
}

// TestCancelOwedBehindRequestInFlight: cancel-on-disconnect and the kill
// switch (kill_cancels_resting) find an order with a replace in flight:
// the gateway keeps one request in flight per order, so the cancel is
// sent once the venue has answered the replace (taken or refused), and
// not at all if the order ended meanwhile. Before, the cancel was refused
// as pending (orders.request_pending), logged, and never sent: the order
// stayed working at the venue after its session's end or the kill.
func TestCancelOwedBehindRequestInFlight(t *testing.T) {
	tests := []struct {
		name   string
		answer func(e *env, g fix.ReplaceRequest)
		ended  bool // the answer ends the order: no cancel owed then
	}{
		{name: "replace refused", answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, Text: "no replace now"})
		}},
		{name: "replace taken", answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xw1", ExecID: "e2",
				ExecType: '5', OrdStatus: '0', LeavesQty: 200})
		}},
		{name: "replace refused as a message", answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnReject("core", fix.Reject{ClOrdID: g.ClOrdID, MsgType: "G", Text: "unsupported"})
		}},
		{name: "order filled", ended: true, answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.OrigClOrdID, OrderID: "Xw1", ExecID: "e2", ExecType: 'F', OrdStatus: '2',
				LastPx: 17000000, LastQty: 100, CumQty: 100, AvgPx: 17000000})
		}},
	}
	causes := []struct {
		name string
		cfg  func(*risk.Config)
		end  func(e *env) int
	}{
		{name: "disconnect", cfg: func(c *risk.Config) { c.CancelOnDisconnect = true }, end: func(e *env) int { return e.m.SessionEnded(src) }},
		{name: "kill", cfg: func(c *risk.Config) { c.KillCancelsResting = true }, end: func(e *env) int {
			n, err := e.m.Kill("A1", true)
			if err != nil {
				e.t.Fatal(err)
			}
			return n
		}},
	}
	for _, cause := range causes {
		for _, tt := range tests {
			t.Run(cause.name+"/"+tt.name, func(t *testing.T) {
				e := newEnv(t, t.TempDir(), func(e *env, _ *Config) {
					rcfg := riskConfig()
					cause.cfg(&rcfg)
					rc, err := risk.New(rcfg, nil)
					if err != nil {
						t.Fatal(err)
					}
					e.rc = rc
				})
				e.working("w1", 100)
				if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 16990000, Qty: 200, Source: src}); err != nil {
					t.Fatal(err)
				}
				g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
				cause.end(e)
				tt.answer(e, g)
				// A request after the answer: whatever the gateway sent
				// in between is before it.
				if _, err := e.m.New(NewRequest{ClOrdID: "m1", Account: "M1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
					Price: 17000000, Qty: 100, Source: src}); err != nil && !errorsCode(err, risk.CodeKillSwitch) {
					t.Fatal(err)
				}
				e.mgn.wait(t, 1)
				var cancels []string
				for _, req := range e.core.list()[2:] {
					if x, ok := req.(fix.CancelRequest); ok {
						cancels = append(cancels, x.OrigClOrdID)
					}
				}
				o, _ := e.m.Get("A1", "w1")
				switch {
				case tt.ended && len(cancels) != 0:
					t.Fatalf("cancels sent for an order that ended: %v", cancels)
				case !tt.ended && (len(cancels) != 1 || cancels[0] != o.UpstreamID):
					t.Fatalf("cancels sent after the answer: %v; want one of %s (w1 as it is now)", cancels, o.UpstreamID)
				}
			})
		}
	}
}

// TestReplacerEndOwesCancelIfTaken: a WebSocket client's order (c1's)
// has a replace in flight from another connection (c2) when a session
// ends, with cancel_on_disconnect. The end of c2, whose replace it is,
// owes the order a cancel only if the venue takes the replace (the
// order is then c2's): refused, the order is still c1's, working on,
// and c1's end cancels it. Likewise when the venue answers between
// risk's listing of c2's orders and their cancels. The end of c1, whose
// order it is, and the kill switch owe the cancel whatever the answer.
// Before, c2's end did not list the order (not c2's until the venue
// took the replace), and once taken it worked on for c2, gone, until
// a restart. A restart's owed cancels (cancelOwed) with c1 connected
// and c2 not owe the same as c2's end.
func TestReplacerEndOwesCancelIfTaken(t *testing.T) {
	other := Source{Kind: "ws", Session: "c2"}
	answers := []struct {
		name   string
		taken  bool
		answer func(e *env, g fix.ReplaceRequest)
	}{
		{name: "taken", taken: true, answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xw1", ExecID: "e2",
				ExecType: '5', OrdStatus: '0', LeavesQty: 200})
		}},
		{name: "refused", answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, Text: "no replace now"})
		}},
		{name: "refused as a message", answer: func(e *env, g fix.ReplaceRequest) {
			e.m.OnReject("core", fix.Reject{ClOrdID: g.ClOrdID, MsgType: "G", Text: "unsupported"})
		}},
	}
	ends := []struct {
		name   string
		always bool // the cancel is owed whatever the answer
		// end ends the session (or sets the kill switch) around answer.
		end func(e *env, answer func())
	}{
		{name: "the replacer ends", end: func(e *env, answer func()) {
			if n := e.m.SessionEnded(other); n != 0 {
				e.t.Fatalf("c2's end sent %d cancels with its replace in flight; want none yet", n)
			}
			answer()
		}},
		{name: "the replacer ends, answered in between", end: func(e *env, answer func()) {
			open := e.rc.Disconnect(other.key())
			answer()
			e.m.cancelAll(open, other)
		}},
		{name: "a restart's owed cancels, with the owner connected", end: func(e *env, answer func()) {
			// Recover's, for a run whose client sessions connect first:
			// c2 is not connected, c1 (registered by newEnv) is.
			if n := e.m.cancelOwed(); n != 0 {
				e.t.Fatalf("the cancels owed sent %d cancels with c2's replace in flight; want none yet", n)
			}
			answer()
		}},
		{name: "the owner ends", always: true, end: func(e *env, answer func()) {
			e.m.SessionEnded(src)
			answer()
		}},
		{name: "the kill switch", always: true, end: func(e *env, answer func()) {
			if _, err := e.m.Kill("A1", true); err != nil {
				e.t.Fatal(err)
			}
			answer()
		}},
	}
	for _, end := range ends {
		for _, a := range answers {
			t.Run(end.name+"/"+a.name, func(t *testing.T) {
				e := newEnv(t, t.TempDir(), func(e *env, _ *Config) {
					rcfg := riskConfig()
					rcfg.CancelOnDisconnect, rcfg.KillCancelsResting = true, true
					rc, err := risk.New(rcfg, nil)
					if err != nil {
						t.Fatal(err)
					}
					e.rc = rc
				})
				e.working("w1", 100)
				if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 16990000, Qty: 200, Source: other}); err != nil {
					t.Fatal(err)
				}
				g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
				end.end(e, func() { a.answer(e, g) })
				// A request after the answer (margin): whatever the
				// gateway sent before it is on the core upstream.
				sent := 0
				later := func() {
					t.Helper()
					sent++
					if _, err := e.m.New(NewRequest{ClOrdID: fmt.Sprint("m", sent), Account: "M1", Symbol: "600519.SH", Side: risk.Buy,
						Type: risk.Limit, Price: 17000000, Qty: 100, Source: Source{Kind: "ws", Session: "c3"}}); err != nil {
						t.Fatal(err)
					}
					e.mgn.wait(t, sent)
				}
				cancels := func() []string {
					var ids []string
					for _, req := range e.core.list()[2:] {
						if x, ok := req.(fix.CancelRequest); ok {
							ids = append(ids, x.OrigClOrdID)
						}
					}
					return ids
				}
				later()
				o, _ := e.m.Get("A1", "w1")
				owner := e.rc.OpenOrders("A1")[0].Session
				if want := map[bool]string{true: other.key(), false: src.key()}[a.taken]; owner != want {
					t.Fatalf("w1 belongs to %s; want %s", owner, want)
				}
				if end.always || a.taken {
					if got := cancels(); len(got) != 1 || got[0] != o.UpstreamID {
						t.Fatalf("cancels sent after the answer: %v; want one of %s (w1 as it is now)", got, o.UpstreamID)
					}
					return
				}
				if got := cancels(); len(got) != 0 {
					t.Fatalf("cancels sent after c2's end and its replace refused: %v; want none (w1 is c1's, still connected)", got)
				}
				// c1's end cancels it.
				if n := e.m.SessionEnded(src); n != 1 {
					t.Fatalf("c1's end sent %d cancels; want 1", n)
				}
				later()
				if got := cancels(); len(got) != 1 || got[0] != o.UpstreamID {
					t.Fatalf("cancels sent after c1's end: %v; want one of %s", got, o.UpstreamID)
				}
			})
		}
	}
}

// TestReplacerEndOwedWhenTakenBeforeItsCancels: c2's replace of c1's order
// is in flight when c2's session ends (risk lists the order for c2, owed
// only if the venue takes the replace); before the manager acts on that
// list, the venue takes the replace (the order is c2's) and c3 sends
// another replace of it. The cancel is owed as c2's own order's:
// whatever the venue answers c3, as when c2's order has a replace of
// another in flight at its end. Before, the later replace's answer
// decided: taken, the order was c3's, and c2's end never cancelled an
// order that was c2's when it ended.
func TestReplacerEndOwedWhenTakenBeforeItsCancels(t *testing.T) {
	other, third := Source{Kind: "ws", Session: "c2"}, Source{Kind: "ws", Session: "c3"}
	for _, taken := range []bool{true, false} {
		t.Run(fmt.Sprint("second replace taken ", taken), func(t *testing.T) {
			e := newEnv(t, t.TempDir(), func(e *env, _ *Config) {
				rcfg := riskConfig()
				rcfg.CancelOnDisconnect = true
				rc, err := risk.New(rcfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.rc = rc
			})
			e.working("w1", 100)
			if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 16990000, Qty: 200, Source: other}); err != nil {
				t.Fatal(err)
			}
			g := e.core.wait(t, 2)[1].(fix.ReplaceRequest)
			open := e.rc.Disconnect(other.key())
			e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xw1", ExecID: "e2",
				ExecType: '5', OrdStatus: '0', LeavesQty: 200})
			if _, err := e.m.Replace(ReplaceRequest{ClOrdID: "r2", OrigClOrdID: "r1", Account: "A1", Price: 16980000, Qty: 300, Source: third}); err != nil {
				t.Fatal(err)
			}
			g2 := e.core.wait(t, 3)[2].(fix.ReplaceRequest)
			if n := e.m.cancelAll(open, other); n != 0 {
				t.Fatalf("c2's end sent %d cancels with c3's replace in flight; want none yet", n)
			}
			if taken {
				e.m.OnExecReport("core", fix.ExecReport{ClOrdID: g2.ClOrdID, OrigClOrdID: g2.OrigClOrdID, OrderID: "Xw1", ExecID: "e3",
					ExecType: '5', OrdStatus: '0', LeavesQty: 300})
			} else {
				e.m.OnCancelReject("core", fix.CancelReject{ClOrdID: g2.ClOrdID, OrigClOrdID: g2.OrigClOrdID, Text: "no replace now"})
			}
			// A request after the answer (margin): whatever the gateway
			// sent before it is on the core upstream.
			if _, err := e.m.New(NewRequest{ClOrdID: "m1", Account: "M1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
				Price: 17000000, Qty: 100, Source: Source{Kind: "ws", Session: "c4"}}); err != nil {
				t.Fatal(err)
			}
			e.mgn.wait(t, 1)
			var cancels []string
			for _, req := range e.core.list()[3:] {
				if x, ok := req.(fix.CancelRequest); ok {
					cancels = append(cancels, x.OrigClOrdID)
				}
			}
			o, _ := e.m.Get("A1", "w1")
			if len(cancels) != 1 || cancels[0] != o.UpstreamID {
				t.Fatalf("cancels sent after c3's replace was answered: %v; want one of %s (w1 as it is now)", cancels, o.UpstreamID)
			}
		})
	}
}

package orders

import (
	"testing"
	"time"

	"sgw/fix"
	"sgw/journal"
	"sgw/risk"
)

// TestReplacerEndCancelsReplaceTakenLate: with cancel_on_disconnect, c2
// replaces c1's order and its session ends either while the replace is
// in flight or after the gateway gave it up for want of an answer (ack
// and status timeouts), or a restart finds c2 gone and c1 connected;
// then the venue takes the replace late after all (its first report
// under the replace's id: a Replaced or a fill). The order is then c2's,
// whose session has ended: it is cancelled, once. Before, nothing
// cancelled it (c2's end found it c1's, or its cancel owed only if taken
// was dropped when the replace was given up) until a restart. A replay
// journals no second cancel. The client hears the first report under
// the replace's id, a fill too, as the replace of w1 (Event.Replaced).
func TestReplacerEndCancelsReplaceTakenLate(t *testing.T) {
	other := Source{Kind: "ws", Session: "c2"}
	ends := []struct {
		name    string
		pending bool // the session ends before the replace is given up
		end     func(e *env) int
	}{
		{name: "ends while pending", pending: true, end: func(e *env) int { return e.m.SessionEnded(other) }},
		{name: "ends after giving up", end: func(e *env) int { return e.m.SessionEnded(other) }},
		{name: "a restart's owed cancels, with the owner connected", end: func(e *env) int { return e.m.cancelOwed() }},
	}
	for _, end := range ends {
		for _, execType := range []byte{'5', 'F'} {
			t.Run(end.name+"/"+string(execType), func(t *testing.T) {
				dir := t.TempDir()
				e := newEnv(t, dir, func(e *env, c *Config) {
					c.AckTimeout, c.StatusTimeout = time.Second, time.Second
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
				if end.pending {
					if n := end.end(e); n != 0 {
						t.Fatalf("the end sent %d cancels with c2's replace in flight; want none", n)
					}
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
				if !end.pending {
					if n := end.end(e); n != 0 {
						t.Fatalf("the end sent %d cancels with c2's replace given up; want none (w1 is c1's)", n)
					}
				}
				sent := len(e.core.list())
				for _, req := range e.core.list()[2:] {
					if _, ok := req.(fix.CancelRequest); ok {
						t.Fatalf("sent %v before the venue took the replace; want no cancel", describe(e.core.list()))
					}
				}
				evs := 4 // w1 accepted and new, r1 accepted, r1 refused
				if ev := e.ev.wait(t, evs)[evs-1]; ev.Kind != EventCancelReject || ev.Ref != "r1" {
					t.Fatalf("after the timeouts the client heard %+v; want r1's cancel reject", ev)
				}
				er := fix.ExecReport{ClOrdID: g.ClOrdID, OrigClOrdID: g.OrigClOrdID, OrderID: "Xw1", ExecID: "e5",
					ExecType: '5', OrdStatus: '0', Price: 16990000, OrderQty: 200, LeavesQty: 200}
				if execType == 'F' {
					er = fix.ExecReport{ClOrdID: g.ClOrdID, OrderID: "Xw1", ExecID: "e5", ExecType: 'F', OrdStatus: '1',
						Price: 16990000, OrderQty: 200, LastPx: 16990000, LastQty: 50, CumQty: 50, LeavesQty: 150, AvgPx: 16990000}
				}
				e.m.OnExecReport("core", er)
				if ev := e.ev.wait(t, evs+1)[evs]; ev.Ref != "r1" || ev.Replaced != "w1" || ev.ExecType != execType {
					t.Errorf("the venue's first report under r1 told as %+v; want r1's %c, replacing w1", ev, execType)
				}
				x, ok := e.core.wait(t, sent+1)[sent].(fix.CancelRequest)
				if !ok || x.OrigClOrdID != g.ClOrdID {
					t.Fatalf("sent after the late replace %v; want a cancel of %s", describe(e.core.list()[sent:]), g.ClOrdID)
				}
				// A request after (margin): whatever the gateway sent
				// before it is on the core upstream.
				if _, err := e.m.New(NewRequest{ClOrdID: "m1", Account: "M1", Symbol: "600519.SH", Side: risk.Buy,
					Type: risk.Limit, Price: 17000000, Qty: 100, Source: Source{Kind: "ws", Session: "c3"}}); err != nil {
					t.Fatal(err)
				}
				e.mgn.wait(t, 1)
				if got := e.core.list()[sent:]; len(got) != 1 {
					t.Fatalf("sent after the late replace %v; want one cancel", describe(got))
				}
				if owner := e.rc.OpenOrders("A1")[0].Session; owner != other.key() {
					t.Fatalf("w1 belongs to %s; want c2's", owner)
				}

				// A restart owes the cancel in flight, journaled once.
				e.j.Close()
				r := newEnv(t, dir, func(r *env, c *Config) {
					r.noLogon = true
					rcfg := riskConfig()
					rcfg.CancelOnDisconnect = true
					rc, err := risk.New(rcfg, nil)
					if err != nil {
						t.Fatal(err)
					}
					r.rc = rc
				})
				o, _ := r.m.Get("A1", "r1")
				if o.pending == nil || o.pending.clOrdID != ownClOrdID(x.ClOrdID) {
					t.Errorf("replayed r1 with request %+v; want the cancel %s in flight", o.pending, x.ClOrdID)
				}
				var cancels []string
				err := journal.ReadFile(r.path(), func(rec journal.Record) error {
					if rec.Type != recCancel {
						return nil
					}
					v, err := decodeRecord(rec)
					if c, ok := v.(*changeRec); ok && c.Account == "A1" {
						cancels = append(cancels, c.ClOrdID)
					}
					return err
				})
				if err != nil {
					t.Fatal(err)
				}
				if len(cancels) != 1 {
					t.Errorf("the journal holds A1's cancels %v after a restart; want 1", cancels)
				}
			})
		}
	}
}

package orders

import (
	"testing"
	"time"

	"sgw/fix"
	"sgw/risk"
)

// TestCancelsOwedAfterRestart: a run that died (or, in a cluster, a term
// that ended) before sending the cancels it owed leaves them to the next
// run's Recover. A kill switch with kill_cancels_resting is journaled
// before its cancels go out; with cancel_on_disconnect every client
// session of an earlier run has ended, since no connection outlives a
// restart or a change of leader. Here the journal holds the switch, or
// the working order, and no cancel; the restarted manager sends the
// cancel at once (a client's own cancel then finds it pending), and
// without either setting sends none.
func TestCancelsOwedAfterRestart(t *testing.T) {
	for _, tc := range []struct {
		name     string
		kill     bool // the account was killed before the crash
		cfg      func(*risk.Config)
		wantOwed bool
	}{
		{name: "kill_cancels_resting", kill: true, cfg: func(c *risk.Config) { c.KillCancelsResting = true }, wantOwed: true},
		{name: "cancel_on_disconnect", cfg: func(c *risk.Config) { c.CancelOnDisconnect = true }, wantOwed: true},
		{name: "killed without kill_cancels_resting", kill: true, cfg: func(*risk.Config) {}},
		{name: "neither", cfg: func(*risk.Config) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, dir)
			e.working("w1", 100)
			if tc.kill {
				// Journaled; its cancels (none here: the setting was off)
				// are what a crash would have lost.
				if _, err := e.m.Kill("A1", true); err != nil {
					t.Fatal(err)
				}
			}
			uid := e.uid("w1")
			e.j.Close() // the crash: no disconnection was handled

			r := newEnv(t, dir, func(e *env, _ *Config) {
				rcfg := riskConfig()
				tc.cfg(&rcfg)
				rc, err := risk.New(rcfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.rc = rc
			})
			_, err := r.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "w1", Account: "A1", Source: src})
			if !tc.wantOwed {
				if err != nil {
					t.Fatalf("a client's cancel after the restart: %v; want it taken (no cancel was owed)", err)
				}
				return
			}
			if !errorsCode(err, CodeRequestPending) {
				t.Fatalf("a client's cancel after the restart: %v; want %s (the owed cancel in flight)", err, CodeRequestPending)
			}
			for n := 1; ; n++ {
				reqs := r.core.wait(t, n)
				if c, ok := reqs[n-1].(fix.CancelRequest); ok && c.OrigClOrdID == uid {
					break
				}
			}
		})
	}
}

// TestRequestHeldBeforeFirstLogonSentOnce: a cancel or replace made after
// a restart and before the upstream's first logon (an owed cancel of
// Recover, a client's own request) of an order the journal left open is
// held, and sent once when the session logs on. Before, the first logon's
// recovery found the order's pending change not handed over and sent it,
// and the hold queue released it again: the venue got every such request
// twice under one ClOrdID (seen on a gateway restarted with
// cancel_on_disconnect and a few hundred working orders).
func TestRequestHeldBeforeFirstLogonSentOnce(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cfg    func(*risk.Config)
		client func(r *env) error // a client's request before the logon
		kind   byte
	}{
		{name: "owed cancel_on_disconnect", cfg: func(c *risk.Config) { c.CancelOnDisconnect = true }, kind: recCancel},
		{name: "client cancel", cfg: func(*risk.Config) {}, kind: recCancel, client: func(r *env) error {
			_, err := r.m.Cancel(CancelRequest{ClOrdID: "x1", OrigClOrdID: "w1", Account: "A1", Source: src})
			return err
		}},
		{name: "client replace", cfg: func(*risk.Config) {}, kind: recReplace, client: func(r *env) error {
			_, err := r.m.Replace(ReplaceRequest{ClOrdID: "r1", OrigClOrdID: "w1", Account: "A1", Price: 16990000, Qty: 100, Source: src})
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, dir)
			e.working("w1", 100)
			uid := e.uid("w1")
			e.j.Close() // the crash

			r := newEnv(t, dir, func(e *env, _ *Config) {
				e.noLogon = true
				rcfg := riskConfig()
				tc.cfg(&rcfg)
				rc, err := risk.New(rcfg, nil)
				if err != nil {
					t.Fatal(err)
				}
				e.rc = rc
			})
			if tc.client != nil {
				if err := tc.client(r); err != nil {
					t.Fatalf("a client's request before the first logon: %v", err)
				}
			}
			// A journal barrier: records are made durable, and their
			// callbacks run, in order, so once z1 is accepted the request
			// above is held for the logon.
			if _, err := r.m.New(buy("z1", 100)); err != nil {
				t.Fatal(err)
			}
			for n := 1; ; n++ {
				if ev := r.ev.wait(t, n)[n-1]; ev.Kind == EventAccepted && ev.Ref == "z1" {
					break
				}
			}
			if got := r.core.list(); len(got) != 0 {
				t.Fatalf("sent before the logon: %s", describe(got))
			}
			r.m.OnSessionUp("core", "carrierA")
			r.m.OnSessionUp("margin", "carrierA")
			r.core.wait(t, 3) // the recovery's status check, the request, z1
			n := 0
			for _, req := range r.core.list() {
				if _, kind := reqID(req); kind == tc.kind {
					switch c := req.(type) {
					case fix.CancelRequest:
						if c.OrigClOrdID == uid {
							n++
						}
					case fix.ReplaceRequest:
						if c.OrigClOrdID == uid {
							n++
						}
					}
				}
			}
			if n != 1 {
				t.Fatalf("the venue got %d requests of kind %c for %s, want 1: %s", n, tc.kind, uid, describe(r.core.list()))
			}
		})
	}
}

// TestOwnCancelOutlivesHoldTimeout: a cancel the gateway makes itself
// (here the kill switch's, with kill_cancels_resting) while the upstream
// is down is held until the session logs on, however long that takes,
// and then sent once. Before, it ended after the hold time
// (orders.upstream_unavailable) like a client's request, and the order
// stayed working at the venue under a kill switch (or, for
// cancel_on_disconnect, with nobody watching it): seen on a gateway
// restarted while the venue was down for 20 s.
func TestOwnCancelOutlivesHoldTimeout(t *testing.T) {
	e := newEnv(t, t.TempDir(), func(e *env, _ *Config) {
		rcfg := riskConfig()
		rcfg.KillCancelsResting = true
		rc, err := risk.New(rcfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.rc = rc
	})
	e.working("w1", 100)
	uid := e.uid("w1")
	sent := len(e.core.list())
	e.m.OnSessionDown("core", "carrierA", fix.ErrLineBroken, nil)
	if n, err := e.m.Kill("A1", true); err != nil || n != 1 {
		t.Fatalf("Kill: %d cancels, %v; want 1", n, err)
	}
	var ref string
	for n := 1; ref == ""; n++ {
		if ev := e.ev.wait(t, n)[n-1]; ev.Kind == EventAccepted && ev.Request == 'F' {
			ref = ev.Ref // journaled: held for the logon
		}
	}
	e.m.tick(e.advance(DefaultHoldTimeout + time.Second))
	e.m.tick(e.advance(10 * DefaultHoldTimeout))
	e.m.mu.Lock()
	pending := e.m.byUID[uid].pending
	e.m.mu.Unlock()
	if pending == nil {
		t.Fatalf("the kill switch's cancel %s ended while the upstream was down", ref)
	}
	e.m.OnSessionUp("core", "carrierA")
	got := e.core.wait(t, sent+1)[sent:]
	n := 0
	for _, req := range got {
		if c, ok := req.(fix.CancelRequest); ok && c.OrigClOrdID == uid {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("after the logon the venue got %d cancels of %s, want 1: %s", n, uid, describe(got))
	}
}

package orders

import (
	"testing"

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

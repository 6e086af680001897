package orders

import (
	"testing"
)

// TestKillSwitchSurvivesRestart: a kill switch an operator turned on is
// journaled, so the gateway restarted (or a new leader, replaying the same
// journal) still refuses the account's orders, and the global switch
// likewise; one turned off again stays off. Before, the switches lived in
// memory only and a restart came back trading.
func TestKillSwitchSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	e := newEnv(t, dir)
	if _, err := e.m.Kill("A1", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.New(buy("c1", 100)); !errorsCode(err, "risk.kill_switch") {
		t.Fatalf("order of a killed account: %v, want risk.kill_switch", err)
	}
	if _, err := e.m.Kill("", true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Kill("", false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Kill("nobody", true); err == nil {
		t.Fatal("the kill switch of an unknown account was accepted")
	}
	e.j.Close()

	r := newEnv(t, dir)
	if got := r.rc.KillSwitches(); !got["A1"] || got[""] {
		t.Fatalf("after the restart the kill switches are %v; want A1's on, the global one off", got)
	}
	if _, err := r.m.New(buy("c2", 100)); !errorsCode(err, "risk.kill_switch") {
		t.Fatalf("after the restart, an order of the killed account: %v, want risk.kill_switch", err)
	}
	if _, err := r.m.Kill("A1", false); err != nil {
		t.Fatal(err)
	}
	if _, err := r.m.New(buy("c3", 100)); err != nil {
		t.Fatalf("after the switch was turned off: %v", err)
	}
	r.j.Close()

	r2 := newEnv(t, dir)
	if got := r2.rc.KillSwitches(); got["A1"] || got[""] {
		t.Fatalf("after a second restart the kill switches are %v; want both off", got)
	}
}

package orders

import (
	"errors"
	"testing"

	"sgw/refdata"
	"sgw/risk"
)

// TestAccount: Account shows the account's cash and positions as risk
// holds them, changed by an order and its fill.
func TestAccount(t *testing.T) {
	e := newEnv(t, t.TempDir())
	st, err := e.m.Account("A1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Cash != 10_000_000*refdata.PriceScale || len(st.Positions) != 1 || st.Positions[0].Sellable != 1000 {
		t.Fatalf("before trading: %+v", st)
	}
	if _, err := e.m.New(buy("c1", 300)); err != nil {
		t.Fatal(err)
	}
	e.ev.wait(t, 1)
	e.m.OnExecReport("core", e.er("c1", 'F', '2', 300, 300, 0, "e1"))
	e.ev.wait(t, 2)
	st, err = e.m.Account("A1")
	if err != nil {
		t.Fatal(err)
	}
	if st.Cash != (10_000_000-300*1700)*refdata.PriceScale || st.Reserved != 0 || st.Positions[0].BoughtToday != 300 {
		t.Fatalf("after a fill of 300 at 1700.00: %+v", st)
	}
	if _, err := e.m.Account("nobody"); !errors.Is(err, risk.ErrUnknownAccount) {
		t.Fatalf("unknown account: %v, want risk.ErrUnknownAccount", err)
	}
}

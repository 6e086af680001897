package orders

import (
	"strings"
	"testing"

	"sgw/fix"
)

// TestLongVenueFieldsDoNotStopOrders: a venue's execution report whose
// free text (Text, 58) or identifiers (OrderID, ExecID, Symbol: FIX sets
// no length limit) would make the record's body longer than the
// journal's MaxRecord (64 KiB by default). Before, the journal refused the
// record at once (ErrTooLarge) and the manager took that for a journal
// failure: the fill applied in memory but never journaled, no more
// orders accepted (orders.journal_failed) until a restart, after which
// the fill was missing and the session asked the venue for the report
// again, to be refused again. The manager now cuts them first, live and in
// replay alike.
func TestLongVenueFieldsDoNotStopOrders(t *testing.T) {
	long := strings.Repeat("venue remark ", 6000) // 78,000 bytes
	for _, tc := range []struct {
		name string
		edit func(er *fix.ExecReport)
	}{
		{"Text", func(er *fix.ExecReport) { er.Text = long }},
		{"ExecID", func(er *fix.ExecReport) { er.ExecID = long }},
		{"OrderID", func(er *fix.ExecReport) { er.OrderID = long }},
		{"Symbol", func(er *fix.ExecReport) { er.Symbol = long }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			e := newEnv(t, dir)
			e.working("o1", 100)
			er := e.er("o1", 'F', '2', 100, 100, 0, "f1")
			tc.edit(&er)
			e.m.OnExecReport("core", er)
			if o, _ := e.m.Get("A1", "o1"); o.Status != StatusFilled {
				t.Fatalf("o1 after its fill: %s", o.Status)
			}
			if _, err := e.m.New(buy("o2", 100)); err != nil {
				t.Errorf("a new order after a report with a long %s: %v", tc.name, err)
			}
			// The same report again (a resend): one fill, not two.
			er2 := e.er("o1", 'F', '2', 100, 100, 0, "f1")
			tc.edit(&er2)
			er2.PossDup = true
			e.m.OnExecReport("core", er2)
			e.j.Close()

			r := newEnv(t, dir)
			if o, _ := r.m.Get("A1", "o1"); o.Status != StatusFilled || o.CumQty != 100 {
				t.Errorf("o1 after a restart: status %s, cum %d; want filled 100", o.Status, o.CumQty)
			}
			if b, _ := bought(t, r.m); b != 100 {
				t.Errorf("after a restart risk counts %d bought, want 100", b)
			}
		})
	}
}

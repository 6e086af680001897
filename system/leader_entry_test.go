package system

import (
	"errors"
	"testing"

	"sgw/orders"
)

// TestLeaderEntryWithoutTerm: on a node that does not lead, every request
// a client can make is refused orders.not_leader naming the leader, the
// order status included: "no such order" would be a definite answer the
// node cannot give, and a client told its order is unknown may enter it
// again.
func TestLeaderEntryWithoutTerm(t *testing.T) {
	e := newLeaderEntry(func() string { return "n2" })
	calls := map[string]func() error{
		"new": func() error {
			_, err := e.New(orders.NewRequest{ClOrdID: "c1", Account: "A1", Symbol: "600519.SH", Qty: 100})
			return err
		},
		"cancel": func() error {
			_, err := e.Cancel(orders.CancelRequest{ClOrdID: "c2", OrigClOrdID: "c1", Account: "A1"})
			return err
		},
		"replace": func() error {
			_, err := e.Replace(orders.ReplaceRequest{ClOrdID: "c3", OrigClOrdID: "c1", Account: "A1", Qty: 200})
			return err
		},
		"status": func() error { _, err := e.Status("A1", "c1"); return err },
		"list":   func() error { _, err := e.List("A1", "", 10); return err },
		"account": func() error {
			_, err := e.Account("A1")
			return err
		},
	}
	for name, call := range calls {
		var rej *orders.Reject
		if err := call(); !errors.As(err, &rej) || rej.Code != orders.CodeNotLeader {
			t.Errorf("%s: %v; want orders.not_leader", name, err)
		}
	}
}

package broker

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/orders"
)

// TestDuplicateClOrdIDRefusedAsDuplicate: a NewOrderSingle reusing the
// ClOrdID of an order the broker entered, working or ended today, is
// refused as a duplicate (OrdRejReason 6) whatever check refuses it first:
// the acceptor's (an unknown exchange, an account the session may not
// trade) or risk's that run before its duplicate check (a market order,
// the kill switch). The refusal goes under that ClOrdID, and a broker's
// engine, which keeps its orders by ClOrdID, tells it from the order's
// own rejection by OrdRejReason 6 only. Before, it went with the first
// check's reason (1, 0, 99): the broker's engine took it for its order's,
// which showed rejected while it worked at the venue. A ClOrdID an order
// of an earlier trading day held is free again (risk): its refusal keeps
// its own reason.
func TestDuplicateClOrdIDRefusedAsDuplicate(t *testing.T) {
	const rest = "|55=600519|207=XSHG|54=1|40=2|44=1700|38=100"
	for _, tc := range []struct {
		name string
		body string
		// setup, if set, runs after the orders are entered.
		setup func(r *dayRig)
		want  string // OrdRejReason
	}{
		{name: "unknown exchange", body: "11=live|1=A1|55=600519|207=XNYS|54=1|40=2|44=1700|38=100", want: "6"},
		{name: "account not allowed", body: "11=live|1=A9" + rest, want: "6"},
		{name: "market order", body: "11=live|1=A1|55=600519|207=XSHG|54=1|40=1|38=100", want: "6"},
		{name: "kill switch of the other account", body: "11=live|1=A2" + rest, want: "6",
			setup: func(r *dayRig) {
				if _, err := r.m.Kill("A2", true); err != nil {
					r.t.Fatal(err)
				}
			}},
		{name: "filled today", body: "11=done|1=A1|55=600519|207=XNYS|54=1|40=2|44=1700|38=100", want: "6"},
		{name: "plain reuse", body: "11=live|1=A1" + rest, want: "6"},
		{name: "filled an earlier day", body: "11=old|1=A1|55=600519|207=XNYS|54=1|40=2|44=1700|38=100", want: "1",
			setup: func(r *dayRig) {
				r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
				r.newOrder("nextday") // starts 2026-12-02
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDayRig(t)
			r.fill("old", r.newOrder("old"), 100)
			r.newOrder("live")
			r.fill("done", r.newOrder("done"), 100)
			if tc.setup != nil {
				tc.setup(r)
			}
			id := field(inbound(t, r.begin, "D", tc.body), tag.ClOrdID)
			if rej := r.s.handle(inbound(t, r.begin, "D", tc.body)); rej != nil {
				t.Fatalf("the reuse: %v", rej)
			}
			m := r.h.waitFor(t, "the reuse's refusal", func(m *quickfix.Message) bool {
				return field(m, tag.ClOrdID) == id && field(m, tag.ExecType) == "8"
			})
			if got := field(m, tag.OrdRejReason); got != tc.want {
				t.Errorf("refused with OrdRejReason %s; want %s: %s", got, tc.want, m)
			}
			if o, ok := r.m.Get("A1", "live"); ok && o.Status != orders.StatusNew {
				t.Errorf("the live order is %s; want it still working", o.Status)
			}
		})
	}
}

// TestDuplicateClOrdIDAcrossAccounts: FIX has a ClOrdID unique per
// session, risk per account. A NewOrderSingle, or a cancel or replace
// (its new ClOrdID), on one account of the session reusing the ClOrdID of
// an order the session entered on another, working or ended today, is
// refused as a duplicate (OrdRejReason 6; an OrderCancelReject) and never
// reaches the manager. Before, risk took it: two orders of the broker
// shared a ClOrdID, by which its engine keeps them, the restatement
// matches its stored reports and a request naming no account finds its
// order. A ClOrdID an order of an earlier trading day held is free again.
func TestDuplicateClOrdIDAcrossAccounts(t *testing.T) {
	const rest = "|55=600519|207=XSHG|54=1|40=2|44=1700|38=100"
	for _, tc := range []struct {
		name, msgType, body string
		// nextDay, if set, starts the next trading day after the orders
		// are entered.
		nextDay bool
		// refused is the MsgType of the refusal; "" when it is accepted.
		refused string
	}{
		{name: "new order reusing a working order's", msgType: "D", body: "11=live|1=A2" + rest, refused: "8"},
		{name: "new order reusing one filled today", msgType: "D", body: "11=done|1=A2" + rest, refused: "8"},
		{name: "new order reusing one filled an earlier day", msgType: "D", body: "11=old|1=A2" + rest, nextDay: true},
		{name: "replace", msgType: "G", body: "11=live|41=a2|1=A2" + rest, refused: "9"},
		{name: "replace naming no account", msgType: "G", body: "11=done|41=a2" + rest, refused: "9"},
		{name: "cancel", msgType: "F", body: "11=live|41=a2|1=A2|55=600519|54=1|38=100", refused: "9"},
		{name: "cancel naming no account", msgType: "F", body: "11=done|41=a2|55=600519|54=1|38=100", refused: "9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDayRig(t)
			r.fill("old", r.newOrder("old"), 100)
			if tc.nextDay {
				r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
				r.newOrder("nextday") // starts 2026-12-02
			}
			r.newOrder("live")
			r.fill("done", r.newOrder("done"), 100)
			r.acct = "A2"
			r.newOrder("a2")
			id := field(inbound(t, r.begin, tc.msgType, tc.body), tag.ClOrdID)
			if rej := r.s.handle(inbound(t, r.begin, tc.msgType, tc.body)); rej != nil {
				t.Fatalf("the reuse: %v", rej)
			}
			if tc.refused == "" {
				if _, ok := r.m.Get("A2", id); !ok {
					t.Fatalf("the order %s of A2 was not entered", id)
				}
				return
			}
			m := r.h.waitFor(t, "the reuse's refusal", func(m *quickfix.Message) bool {
				mt, _ := m.MsgType()
				return mt == tc.refused && field(m, tag.ClOrdID) == id && (mt == "9" || field(m, tag.ExecType) == "8")
			})
			if want := "6"; tc.refused == "8" && field(m, tag.OrdRejReason) != want {
				t.Errorf("refused with OrdRejReason %s; want %s: %s", field(m, tag.OrdRejReason), want, m)
			}
			if _, ok := r.m.Get("A2", id); ok && tc.msgType != "F" {
				t.Errorf("A2 has an order %s", id)
			}
			for acct, clOrdID := range map[string]string{"A1": "live", "A2": "a2"} {
				if o, _ := r.m.Get(acct, clOrdID); o.Status != orders.StatusNew || o.ClOrdID != clOrdID {
					t.Errorf("order %s of %s is %s under %s; want it working, untouched", clOrdID, acct, o.Status, o.ClOrdID)
				}
			}
		})
	}
}

// TestDuplicateClOrdIDFirstRequestOfTheDay: the day's first order, on one
// account, reusing the ClOrdID of an order another account of the session
// ended the day before (a broker numbering its orders from 1 each day) is
// taken. The acceptor's check runs before the request reaches the
// manager, whose trading day moves only at that request: it counts the
// day the request is counted in (RequestDay). Before, it counted the
// manager's, still the last, and refused it as a duplicate.
func TestDuplicateClOrdIDFirstRequestOfTheDay(t *testing.T) {
	r := newDayRig(t)
	r.fill("1", r.newOrder("1"), 100)
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC)) // 10:00 the next day in Shanghai
	body := "11=1|1=A2|55=600519|207=XSHG|54=1|40=2|44=1700|38=100"
	if rej := r.s.handle(inbound(t, r.begin, "D", body)); rej != nil {
		t.Fatalf("the day's first order: %v", rej)
	}
	if o, ok := r.m.Get("A2", "1"); !ok || o.Status.Terminal() {
		t.Fatalf("the day's first order of A2 is %+v (found %v); want it entered, working", o.Status, ok)
	}
}

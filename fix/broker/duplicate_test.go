package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
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

// after returns a match of the messages queued after the first n.
func (r *dayRig) after(n int, ok func(*quickfix.Message) bool) func(*quickfix.Message) bool {
	before := r.h.all()[:n]
	return func(m *quickfix.Message) bool {
		for _, b := range before {
			if b == m {
				return false
			}
		}
		return ok(m)
	}
}

// wsOrder enters order id on account acct from a WebSocket client.
func (r *dayRig) wsOrder(acct, id string) {
	r.t.Helper()
	if _, err := r.m.New(orders.NewRequest{ClOrdID: id, Account: acct, Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
		Price: 1700 * refdata.PriceScale, Qty: 100, Source: orders.Source{Kind: "ws", Session: "c1"}}); err != nil {
		r.t.Fatal(err)
	}
	r.sent++
	r.up.Wait(r.t, r.sent)
}

// TestDuplicateClOrdIDResendOfAnEarlierDay: a NewOrderSingle flagged
// PossDupFlag or PossResend is answered with the status of the order its
// ClOrdID names only if it is a resend of it: an order the session
// entered that held the ClOrdID the day the message was first sent
// (OrigSendingTime). The day's first order of a broker
// numbering its orders anew each day, resent as the session resends what
// it missed (a frame lost, or sent before the day's logon), is entered,
// though an order of the day before, ended then, had its ClOrdID; one a
// WebSocket client's order on the account holds is refused as a
// duplicate (OrdRejReason 6). Before, each was answered with the other
// order's status (the earlier day's filled, the client's), and never
// entered. A resend across midnight of the earlier day's order is still
// answered with its status.
func TestDuplicateClOrdIDResendOfAnEarlierDay(t *testing.T) {
	const body = "11=1|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100"
	day2 := "20261202-02:00:00.000" // 10:00 in Shanghai
	for _, tc := range []struct {
		name   string
		header []string
		ws     bool   // the ClOrdID is held by a WebSocket client's order too
		want   string // "entered", "status" or "refused"
	}{
		{name: "PossDupFlag", header: []string{"43=Y", "52=" + day2, "122=20261202-01:59:59.000"}, want: "entered"},
		{name: "PossResend", header: []string{"97=Y", "52=" + day2, "122=20261202-01:59:59.000"}, want: "entered"},
		{name: "PossDupFlag of the day before", header: []string{"43=Y", "52=" + day2, "122=20261201-06:00:00.000"}, want: "status"},
		{name: "a WebSocket client's", header: []string{"43=Y", "52=" + day2, "122=20261202-01:59:59.000"}, ws: true, want: "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDayRig(t)
			r.fill("1", r.newOrder("1"), 100)
			r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
			if tc.ws {
				r.wsOrder("A1", "1")
			}
			n := len(r.h.all())
			if rej := r.s.handle(inbound(t, r.begin, "D", body, tc.header...)); rej != nil {
				t.Fatalf("the resent order: %v", rej)
			}
			m := r.h.waitFor(t, "the answer", r.after(n, func(m *quickfix.Message) bool { return field(m, tag.ClOrdID) == "1" }))
			got := map[string]string{"A": "entered", "I": "status", "8": "refused"}[field(m, tag.ExecType)]
			if got != tc.want || got == "refused" && field(m, tag.OrdRejReason) != "6" {
				t.Fatalf("answered %s; want %s: %s", got, tc.want, m)
			}
			o, _ := r.m.Get("A1", "1")
			if entered := o.Source == r.s.src && o.Day() == 20261202; entered != (tc.want == "entered") {
				t.Errorf("order 1 of A1 is of %d, from %v, %s", o.Day(), o.Source, o.Status)
			}
		})
	}
}

// TestAccountOfARequestNamingNone: a status request or cancel naming no
// account, of a session with several, is for the session's order that
// holds the ClOrdID, whichever account's, though another account has an
// order with the ClOrdID too: one that ended the day before (a broker
// numbering its orders anew each day), or a WebSocket client's. Before,
// the first account configured answered: the broker got the other
// order's status as its order's, or its cancel canceled the client's
// order, its own left working.
func TestAccountOfARequestNamingNone(t *testing.T) {
	for _, tc := range []struct {
		name    string
		msgType string
		ws      bool // A1's order 1 is a WebSocket client's, working; else the broker's, filled the day before
	}{
		{name: "status, an earlier day's", msgType: "H"},
		{name: "cancel, an earlier day's", msgType: "F"},
		{name: "status, a WebSocket client's", msgType: "H", ws: true},
		{name: "cancel, a WebSocket client's", msgType: "F", ws: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDayRig(t)
			if tc.ws {
				r.wsOrder("A1", "1")
			} else {
				r.fill("1", r.newOrder("1"), 100)
				r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
			}
			r.acct = "A2"
			r.newOrder("1")
			n := len(r.h.all())
			body := "11=1|790=q1|54=1|55=600519"
			if tc.msgType == "F" {
				body = "11=c1|41=1|54=1|55=600519|38=100"
			}
			if rej := r.s.handle(inbound(t, r.begin, tc.msgType, body)); rej != nil {
				t.Fatalf("the request: %v", rej)
			}
			m := r.h.waitFor(t, "the answer", r.after(n, func(m *quickfix.Message) bool {
				mt, _ := m.MsgType()
				return mt == "9" || field(m, tag.ExecType) == "I" || field(m, tag.ExecType) == "6"
			}))
			if mt, _ := m.MsgType(); mt != "8" || field(m, tag.Account) != "A2" || field(m, tag.OrderID) != "V-1" ||
				tc.msgType == "H" && field(m, tag.OrdStatus) != "0" {
				t.Errorf("answered %s; want A2's order 1 (V-1, working)", m)
			}
			if tc.msgType == "F" {
				reqs := r.up.Wait(t, r.sent+1)
				if c, ok := reqs[r.sent].(fix.CancelRequest); !ok || c.Account != "A2" {
					t.Errorf("the venue was sent %+v; want the cancel of A2's order", reqs[r.sent])
				}
			}
		})
	}
}

// TestResendWithoutOrigSendingTimeAfterMidnight: a NewOrderSingle flagged
// PossResend or PossDupFlag without OrigSendingTime (122), sent after
// midnight, whose ClOrdID names the broker's order that ended the day
// before may be that order resent (a broker's engine resending what it
// has no acknowledgement of) or a new order reusing its ClOrdID: the day
// it was first sent cannot be told, and it is refused as a duplicate
// (103 = 6, Text naming 122), never entered. Before, its SendingTime's day
// was taken for that of its first sending: the order the gateway took
// and finished the day before was entered again, and reached the venue
// twice. Sent before midnight (SendingTime), it is a resend of the order,
// answered with its status; a ClOrdID the gateway does not know is
// entered.
func TestResendWithoutOrigSendingTimeAfterMidnight(t *testing.T) {
	const body = "|1=A1|55=600519|207=XSHG|54=1|40=2|44=1700|38=100"
	day2 := "20261201-16:30:00.000" // 00:30 on 2026-12-02 in Shanghai
	for _, tc := range []struct {
		name    string
		clOrdID string
		header  []string
		// started: another order has started the new day in risk.
		started bool
		want    string // "entered", "status" or "refused"
	}{
		{name: "PossResend", clOrdID: "1", header: []string{"97=Y", "52=" + day2}, want: "refused"},
		{name: "PossResend, the day started", clOrdID: "1", header: []string{"97=Y", "52=" + day2}, started: true, want: "refused"},
		{name: "PossDupFlag", clOrdID: "1", header: []string{"43=Y", "52=" + day2}, want: "refused"},
		{name: "PossResend, an OrigSendingTime not a time", clOrdID: "1", header: []string{"97=Y", "52=" + day2, "122=x"}, want: "refused"},
		{name: "PossResend sent before midnight", clOrdID: "1", header: []string{"97=Y", "52=20261201-15:59:59.000"}, want: "status"},
		{name: "PossResend of an unknown ClOrdID", clOrdID: "2", header: []string{"97=Y", "52=" + day2}, want: "entered"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newDayRig(t)
			r.fill("1", r.newOrder("1"), 100)
			r.clk.Set(time.Date(2026, 12, 1, 16, 30, 0, 0, time.UTC))
			if tc.started {
				r.newOrder("other")
			}
			n, sent := len(r.h.all()), r.sent
			if rej := r.s.handle(inbound(t, r.begin, "D", "11="+tc.clOrdID+body, tc.header...)); rej != nil {
				t.Fatalf("the resent order: %v", rej)
			}
			m := r.h.waitFor(t, "the answer", r.after(n, func(m *quickfix.Message) bool { return field(m, tag.ClOrdID) == tc.clOrdID }))
			got := map[string]string{"A": "entered", "I": "status", "8": "refused"}[field(m, tag.ExecType)]
			if got != tc.want {
				t.Fatalf("answered %s; want %s: %s", got, tc.want, m)
			}
			if got == "refused" && (field(m, tag.OrdRejReason) != "6" || !strings.Contains(field(m, tag.Text), "OrigSendingTime (122)")) {
				t.Errorf("refused with OrdRejReason %s, Text %q; want 6, naming OrigSendingTime (122)", field(m, tag.OrdRejReason), field(m, tag.Text))
			}
			if tc.want == "entered" {
				r.up.Wait(t, sent+1)
			} else if n := r.up.Queued(); n != uint64(sent) {
				t.Errorf("the venue was sent %d requests; want %d", n, sent)
			}
			if o, _ := r.m.Get("A1", "1"); o.Day() != 20261201 || o.Status != orders.StatusFilled {
				t.Errorf("order 1 of A1 is of %d, %s; want the order of 2026-12-01, filled", o.Day(), o.Status)
			}
		})
	}
}

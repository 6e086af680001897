package broker

import (
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/orders"
	"sgw/risk"
)

// TestOrderEvent maps the order manager's events to reports.
func TestOrderEvent(t *testing.T) {
	base := orders.Order{ClOrdID: "c1", OrigClOrdID: "c1", Account: "A1", Symbol: "601318.SH", Side: risk.Buy,
		Price: 456000, Qty: 300, LeavesQty: 300, Status: orders.StatusPendingNew, Upstream: "core"}
	broker1 := orders.Source{Kind: "fix", Session: "BROKER1"}
	ws := orders.Source{Kind: "ws", Session: "run.1"}
	with := func(f func(o *orders.Order)) orders.Order {
		o := base
		f(&o)
		return o
	}
	for _, tc := range []struct {
		name    string
		broker  string             // default BROKER1
		records map[string]request // recorded requests of A1, by ClOrdID
		ev      orders.Event
		want    map[quickfix.Tag]string // nil: nothing sent
		execID  string                  // prefix of the ExecID
	}{
		{
			name: "accepted new order", ev: orders.Event{Kind: orders.EventAccepted, Order: base, Ref: "c1"}, execID: "B",
			want: map[quickfix.Tag]string{tag.MsgType: "8", tag.ExecType: "A", tag.OrdStatus: "A", tag.ClOrdID: "c1",
				tag.OrderID: "NONE", tag.Account: "A1", tag.Symbol: "601318", tag.SecurityExchange: "XSHG", tag.Side: "1",
				tag.OrdType: "2", tag.Price: "45.60", tag.OrderQty: "300", tag.LeavesQty: "300", tag.CumQty: "0", tag.AvgPx: "0.00"},
		},
		{
			name:    "accepted cancel",
			records: map[string]request{"x1": {kind: 'F', orig: "c1"}},
			ev: orders.Event{Kind: orders.EventAccepted, Ref: "x1",
				Order: with(func(o *orders.Order) { o.Status, o.OrderID = orders.StatusNew, "SIM-1" })},
			want: map[quickfix.Tag]string{tag.ExecType: "6", tag.OrdStatus: "6", tag.ClOrdID: "x1", tag.OrigClOrdID: "c1", tag.OrderID: "SIM-1"},
		},
		{
			name:    "accepted replace",
			records: map[string]request{"r1": {kind: 'G', orig: "c1"}},
			ev:      orders.Event{Kind: orders.EventAccepted, Ref: "r1", Order: with(func(o *orders.Order) { o.Status = orders.StatusNew })},
			want:    map[quickfix.Tag]string{tag.ExecType: "E", tag.OrdStatus: "E", tag.ClOrdID: "r1", tag.OrigClOrdID: "c1"},
		},
		{
			name: "a cancel the broker did not send",
			ev:   orders.Event{Kind: orders.EventAccepted, Ref: "X-c1-9", Order: with(func(o *orders.Order) { o.Status = orders.StatusNew })},
		},
		{
			name: "new", execID: "core:E1",
			ev: orders.Event{Kind: orders.EventExec, ExecType: '0', ExecID: "E1", Ref: "c1",
				Order: with(func(o *orders.Order) { o.Status, o.OrderID = orders.StatusNew, "SIM-1" })},
			want: map[quickfix.Tag]string{tag.ExecType: "0", tag.OrdStatus: "0", tag.OrderID: "SIM-1", tag.ClOrdID: "c1"},
		},
		{
			name: "partial fill", execID: "core:E2",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'F', ExecID: "E2", Ref: "c1", LastPx: 456000, LastQty: 100,
				Order: with(func(o *orders.Order) {
					o.Status, o.CumQty, o.LeavesQty, o.AvgPx = orders.StatusPartiallyFilled, 100, 200, 456000
				})},
			want: map[quickfix.Tag]string{tag.ExecType: "F", tag.OrdStatus: "1", tag.LastQty: "100", tag.LastPx: "45.60",
				tag.CumQty: "100", tag.LeavesQty: "200", tag.AvgPx: "45.60", tag.ExecRefID: ""},
		},
		{
			name: "fill in FIX 4.2", broker: "BROKER2", execID: "core:E3",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'F', ExecID: "E3", Ref: "c1", LastPx: 456000, LastQty: 300,
				Order: with(func(o *orders.Order) {
					o.Account, o.Status, o.CumQty, o.LeavesQty, o.AvgPx = "B1", orders.StatusFilled, 300, 0, 456000
				})},
			want: map[quickfix.Tag]string{tag.ExecTransType: "0", tag.ExecType: "2", tag.OrdStatus: "2", tag.LastQty: "300"},
		},
		{
			// FIX 4.2 has no ExecType H: the broker got 150=H, which it
			// cannot parse.
			name: "FIX 4.4 upstream's trade cancel in FIX 4.2", broker: "BROKER2", execID: "core:X3",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'H', ExecID: "X3", ExecRefID: "E3", Ref: "c1",
				Order: with(func(o *orders.Order) { o.Account, o.Status, o.CumQty, o.LeavesQty = "B1", orders.StatusNew, 0, 300 })},
			want: map[quickfix.Tag]string{tag.ExecTransType: "0", tag.ExecType: "D", tag.OrdStatus: "0", tag.CumQty: "0", tag.LeavesQty: "300",
				tag.ExecRefID: "core:E3"},
		},
		{
			// ExecRefID names the trade by the ExecID the broker got it
			// under: before, none, and the broker could not tell which
			// fill to take back.
			name: "trade correction", execID: "core:X4",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'G', ExecID: "X4", ExecRefID: "E2", Ref: "c1",
				Order: with(func(o *orders.Order) {
					o.Status, o.CumQty, o.LeavesQty, o.AvgPx = orders.StatusPartiallyFilled, 50, 250, 455000
				})},
			want: map[quickfix.Tag]string{tag.ExecType: "G", tag.OrdStatus: "1", tag.CumQty: "50", tag.LeavesQty: "250",
				tag.ExecRefID: "core:E2"},
		},
		{
			name: "FIX 4.2 upstream's partial fill", execID: "core:E4",
			ev: orders.Event{Kind: orders.EventExec, ExecType: '1', ExecID: "E4", Ref: "c1", LastPx: 456000, LastQty: 100,
				Order: with(func(o *orders.Order) { o.Status, o.CumQty, o.LeavesQty = orders.StatusPartiallyFilled, 100, 200 })},
			want: map[quickfix.Tag]string{tag.ExecType: "F", tag.OrdStatus: "1", tag.LastQty: "100"},
		},
		{
			name:    "canceled",
			records: map[string]request{"x1": {kind: 'F', orig: "c1"}},
			ev: orders.Event{Kind: orders.EventExec, ExecType: '4', ExecID: "E5", Ref: "x1", Request: 'F', Requester: broker1,
				Order: with(func(o *orders.Order) { o.Status, o.LeavesQty = orders.StatusCanceled, 0 })},
			want: map[quickfix.Tag]string{tag.ExecType: "4", tag.OrdStatus: "4", tag.ClOrdID: "x1", tag.OrigClOrdID: "c1", tag.LeavesQty: "0"},
		},
		{
			name: "canceled by the gateway", execID: "core:E5",
			ev: orders.Event{Kind: orders.EventExec, ExecType: '4', ExecID: "E5", Ref: "X-c1-9", Request: 'F',
				Order: with(func(o *orders.Order) { o.Status, o.LeavesQty = orders.StatusCanceled, 0 })},
			want: map[quickfix.Tag]string{tag.ExecType: "4", tag.OrdStatus: "4", tag.ClOrdID: "c1", tag.OrigClOrdID: ""},
		},
		{
			name: "canceled by a WebSocket client", execID: "core:E5",
			ev: orders.Event{Kind: orders.EventExec, ExecType: '4', ExecID: "E5", Ref: "w1", Request: 'F', Requester: ws,
				Order: with(func(o *orders.Order) { o.Status, o.LeavesQty = orders.StatusCanceled, 0 })},
			want: map[quickfix.Tag]string{tag.ExecType: "4", tag.ClOrdID: "c1", tag.OrigClOrdID: ""},
		},
		{
			name: "a fill under the gateway's cancel's id", execID: "core:E6",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'F', ExecID: "E6", Ref: "X-c1-9", Request: 'F', LastPx: 456000, LastQty: 300,
				Order: with(func(o *orders.Order) { o.Status, o.CumQty, o.LeavesQty = orders.StatusFilled, 300, 0 })},
			want: map[quickfix.Tag]string{tag.ExecType: "F", tag.OrdStatus: "2", tag.ClOrdID: "c1", tag.OrigClOrdID: ""},
		},
		{
			name: "expired",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'C', ExecID: "E6", Ref: "c1",
				Order: with(func(o *orders.Order) { o.Status, o.LeavesQty = orders.StatusExpired, 0 })},
			want: map[quickfix.Tag]string{tag.ExecType: "C", tag.OrdStatus: "C", tag.ClOrdID: "c1", tag.OrigClOrdID: ""},
		},
		{
			name:    "replaced",
			records: map[string]request{"r1": {kind: 'G', orig: "c1"}},
			ev: orders.Event{Kind: orders.EventExec, ExecType: '5', ExecID: "E7", Ref: "r1", Request: 'G', Requester: broker1,
				Order: with(func(o *orders.Order) { o.ClOrdID, o.Status, o.Price = "r1", orders.StatusNew, 455000 })},
			want: map[quickfix.Tag]string{tag.ExecType: "5", tag.OrdStatus: "0", tag.ClOrdID: "r1", tag.OrigClOrdID: "c1", tag.Price: "45.50"},
		},
		{
			name: "rejected upstream",
			ev: orders.Event{Kind: orders.EventExec, ExecType: '8', ExecID: "E8", Ref: "c1", Text: "halted",
				Order: with(func(o *orders.Order) { o.Status, o.LeavesQty = orders.StatusRejected, 0 })},
			want: map[quickfix.Tag]string{tag.ExecType: "8", tag.OrdStatus: "8", tag.OrdRejReason: "99", tag.Text: "halted"},
		},
		{
			name: "status in FIX 4.2", broker: "BROKER2",
			ev: orders.Event{Kind: orders.EventExec, ExecType: 'I', ExecID: "E9", Ref: "c1",
				Order: with(func(o *orders.Order) { o.Status = orders.StatusNew })},
			want: map[quickfix.Tag]string{tag.ExecTransType: "3", tag.ExecType: "0", tag.OrdStatus: "0"},
		},
		{
			name:    "replace rejected",
			records: map[string]request{"r1": {kind: 'G', orig: "c1"}},
			ev: orders.Event{Kind: orders.EventCancelReject, Ref: "r1", Request: 'G', Requester: broker1, Text: "too late",
				Order: with(func(o *orders.Order) { o.Status, o.OrderID = orders.StatusNew, "SIM-1" })},
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.ClOrdID: "r1", tag.OrigClOrdID: "c1", tag.OrderID: "SIM-1",
				tag.OrdStatus: "0", tag.CxlRejResponseTo: "2", tag.CxlRejReason: "2", tag.Text: "too late"},
		},
		{
			name:    "cancel of a filled order rejected",
			records: map[string]request{"x1": {kind: 'F', orig: "c1"}},
			ev: orders.Event{Kind: orders.EventCancelReject, Ref: "x1", Request: 'F', Requester: broker1,
				Order: with(func(o *orders.Order) { o.Status, o.CumQty, o.LeavesQty = orders.StatusFilled, 300, 0 })},
			want: map[quickfix.Tag]string{tag.MsgType: "9", tag.OrdStatus: "2", tag.CxlRejResponseTo: "1", tag.CxlRejReason: "0"},
		},
		{
			name: "the gateway's cancel of a filled order rejected",
			ev: orders.Event{Kind: orders.EventCancelReject, Ref: "X-c1-9", Request: 'F', Code: orders.CodeTooLate,
				Order: with(func(o *orders.Order) { o.Status, o.CumQty, o.LeavesQty = orders.StatusFilled, 300, 0 })},
		},
		{
			name: "a WebSocket client's cancel rejected",
			ev: orders.Event{Kind: orders.EventCancelReject, Ref: "w1", Request: 'F', Requester: ws, Text: "no cancels now",
				Order: with(func(o *orders.Order) { o.Status = orders.StatusNew })},
		},
		{
			name: "another session's cancel rejected",
			ev: orders.Event{Kind: orders.EventCancelReject, Ref: "x9", Request: 'F', Requester: orders.Source{Kind: "fix", Session: "BROKER3"},
				Order: with(func(o *orders.Order) { o.Status = orders.StatusNew })},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			broker := tc.broker
			if broker == "" {
				broker = "BROKER1"
			}
			for id, r := range tc.records {
				h.a.record(tc.ev.Order.Account, id, r)
			}
			s := h.session(t, broker)
			s.sink.OrderEvent(tc.ev)
			out := h.take()
			if tc.want == nil {
				if len(out) > 0 {
					t.Fatalf("sent %v; want nothing", out[0].m)
				}
				return
			}
			if len(out) != 1 {
				t.Fatalf("sent %d messages; want 1", len(out))
			}
			m := out[0].m
			for k, v := range tc.want {
				if got := field(m, k); got != v {
					t.Errorf("tag %d = %q; want %q (%s)", k, got, v, m)
				}
			}
			if m.IsMsgTypeOf("8") && !strings.HasPrefix(field(m, tag.ExecID), tc.execID) {
				t.Errorf("ExecID %q; want prefix %q", field(m, tag.ExecID), tc.execID)
			}
		})
	}
}

// TestExecIDsUnique checks the acceptor's own ExecIDs never repeat and
// never look like an upstream's.
func TestExecIDsUnique(t *testing.T) {
	h := newHarness(t)
	seen := map[string]bool{}
	for range 1000 {
		id := h.a.nextExecID()
		if seen[id] || strings.Contains(id, ":") {
			t.Fatalf("ExecID %q repeated or has a colon", id)
		}
		seen[id] = true
	}
}

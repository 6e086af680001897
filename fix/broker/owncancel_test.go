package broker

import (
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
	"sgw/orders"
	"sgw/orders/orderstest"
	"sgw/risk"
)

// TestGatewayCancelNotRejectedToBroker: the gateway cancels a broker's
// order itself (the kill switch, with kill_cancels_resting), and the
// venue answers that cancel. The broker, a QuickFIX/Go engine over
// loopback, never sent it: it learns the order's fate from execution
// reports under the order's own ClOrdID, never from an OrderCancelReject
// (35=9) naming an id it does not know. Before, a cancel the venue
// refused, or one overtaken by a fill, reached the broker as an
// OrderCancelReject with ClOrdID "X-..." (the gateway's id of its own
// cancel), and a cancel that succeeded as a Canceled (4) under that id.
func TestGatewayCancelNotRejectedToBroker(t *testing.T) {
	for _, tc := range []struct {
		name string
		// venue answers the cancel (upstream id cxl) of the order (uid).
		venue func(m *orders.Manager, uid, cxl string)
		// done: the event after which the broker has been told all.
		done func(ev orders.Event) bool
		want string // the ExecType of the report the broker must get; "" none
	}{
		{
			name: "canceled",
			venue: func(m *orders.Manager, uid, cxl string) {
				m.OnExecReport("core", fix.ExecReport{ClOrdID: cxl, OrigClOrdID: uid, OrderID: "V1", ExecID: "E1", ExecType: '4',
					OrdStatus: '4', Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100})
			},
			done: func(ev orders.Event) bool { return ev.Kind == orders.EventExec && ev.ExecType == '4' },
			want: "4",
		},
		{
			name: "filled, then the cancel refused",
			venue: func(m *orders.Manager, uid, cxl string) {
				m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: "F1", ExecType: 'F', OrdStatus: '2',
					Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LastQty: 100, LastPx: 17000000,
					CumQty: 100, AvgPx: 17000000})
				m.OnCancelReject("core", fix.CancelReject{ClOrdID: cxl, OrigClOrdID: uid, OrderID: "V1", Reason: 0,
					Text: "too late to cancel", ResponseTo: '1'})
			},
			// The manager's "too late" for the cancel, after the fill.
			done: func(ev orders.Event) bool { return ev.Kind == orders.EventCancelReject },
			want: "F",
		},
		{
			name: "refused",
			venue: func(m *orders.Manager, uid, cxl string) {
				m.OnCancelReject("core", fix.CancelReject{ClOrdID: cxl, OrigClOrdID: uid, OrderID: "V1", Reason: 2,
					Text: "no cancels now", ResponseTo: '1'})
			},
			done: func(ev orders.Event) bool { return ev.Kind == orders.EventCancelReject },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, up := newRigManager(t, func(c *risk.Config) { c.KillCancelsResting = true })
			b, uid := workingBrokerOrder(t, m, up)

			// A watcher of the account is handed each event after the
			// order's own sink, on the same goroutine: once it has the
			// last event, the broker's session has queued all it will.
			w := watcher(make(chan orders.Event, 16))
			m.Watch("A1", w)
			if n, err := m.Kill("A1", true); err != nil || n != 1 {
				t.Fatalf("kill switch: %d cancels, %v; want 1", n, err)
			}
			cxl := up.Wait(t, 2)[1].(fix.CancelRequest).ClOrdID
			tc.venue(m, uid, cxl)
			for ev := range w {
				if tc.done(ev) {
					break
				}
			}

			// Everything queued for the broker before the answer to its
			// status request reaches it before that answer.
			b.statusRequest("o1")
			var got []*quickfix.Message
			for {
				msg := b.next()
				if field(msg, tag.MsgType) == "8" && field(msg, tag.ExecType) == "I" {
					break
				}
				got = append(got, msg)
			}
			var reports []string
			for _, msg := range got {
				reports = append(reports, strings.ReplaceAll(msg.String(), "\x01", "|"))
				if field(msg, tag.MsgType) == "9" {
					t.Errorf("the broker got an OrderCancelReject for a cancel it never sent: %s", reports[len(reports)-1])
					continue
				}
				if id := field(msg, tag.ClOrdID); id != "o1" || field(msg, tag.OrigClOrdID) != "" {
					t.Errorf("report under ClOrdID %q, OrigClOrdID %q; want o1 and none (the broker knows no other id): %s",
						id, field(msg, tag.OrigClOrdID), reports[len(reports)-1])
				}
			}
			switch {
			case tc.want == "" && len(got) > 0:
				t.Errorf("the broker got %q; want nothing (the order still works, as it knows)", reports)
			case tc.want != "" && (len(got) != 1 || field(got[0], tag.ExecType) != tc.want):
				t.Errorf("the broker got %q; want one ExecutionReport 150=%s", reports, tc.want)
			}
		})
	}
}

// expect waits for the next application message and checks it is an
// ExecutionReport of execType under clOrdID.
func (b *testBroker) expect(what, execType, clOrdID string) {
	b.t.Helper()
	if m := b.next(); field(m, tag.MsgType) != "8" || field(m, tag.ExecType) != execType || field(m, tag.ClOrdID) != clOrdID {
		b.t.Fatalf("%s: got %s; want %s (150=%s) of %s", b.sid.SenderCompID, m, what, execType, clOrdID)
	}
}

// next waits for the next application message.
func (b *testBroker) next() *quickfix.Message {
	b.t.Helper()
	select {
	case m := <-b.app:
		return m
	case <-time.After(await):
		b.t.Fatalf("%s: no message", b.sid.SenderCompID)
		return nil
	}
}

// statusRequest sends an OrderStatusRequest (H) for clOrdID of A1.
func (b *testBroker) statusRequest(clOrdID string) {
	b.t.Helper()
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, "H")
	m.Body.SetString(tag.ClOrdID, clOrdID)
	m.Body.SetString(tag.Account, "A1")
	m.Body.SetString(tag.Symbol, "600519")
	m.Body.SetString(tag.SecurityExchange, "XSHG")
	m.Body.SetString(tag.Side, "1")
	if err := quickfix.SendToTarget(m, b.sid); err != nil {
		b.t.Fatal(err)
	}
}

// workingBrokerOrder serves m through an acceptor on loopback, logs a
// test broker on, and has it place o1 (a buy of A1), which the venue (up)
// acknowledges; it returns the broker and o1's upstream id.
func workingBrokerOrder(t *testing.T, m *orders.Manager, up *orderstest.Line) (*testBroker, string) {
	t.Helper()
	r := runAcceptorWith(t, m, nil)
	b := dialTestBroker(t, r, r.a.Addr(), "right")
	b.waitLogon()
	b.order("o1", "1700.00")
	uid := up.Wait(t, 1)[0].(fix.NewOrder).ClOrdID
	b.expect("Pending New", "A", "o1")
	m.OnExecReport("core", fix.ExecReport{ClOrdID: uid, OrderID: "V1", ExecID: "E0", ExecType: '0', OrdStatus: '0',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17000000, OrderQty: 100, LeavesQty: 100})
	b.expect("New", "0", "o1")
	return b, uid
}

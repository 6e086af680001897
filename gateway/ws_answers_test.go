package gateway

import (
	"context"
	"testing"

	"sgw/fix"
	"sgw/gateway/mdclient"
	"sgw/orders"
	"sgw/risk"
)

// TestWSCancelFromAnotherConnectionIsAnswered: a client that reconnected
// (or a second device of the same user) cancels an order entered on
// another connection, without subscribing to the orders channel. The
// cancel is taken by the manager and goes to the venue, but the
// requesting connection must hear of it: an accepted (or an error)
// naming its request. Before, every event of the cancel went only to the
// connection that entered the order and to orders-channel watchers, so
// the request had no answer at all.
func TestWSCancelFromAnotherConnectionIsAnswered(t *testing.T) {
	e, tok := newOrderEnv(t)
	first := e.dial(tok)
	second := e.dial(tok)
	send := func(c *mdclient.Client, v any) { t.Helper(); mustSend(t, c, v) }
	send(first, map[string]any{"op": "order.new", "clOrdId": "c1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
	collect(t, first, func(m mdclient.Message) bool { return m.ClOrdID == "c1" && m.Type == "exec" && m.ExecType == "new" })

	send(second, map[string]any{"op": "order.cancel", "clOrdId": "x1", "origClOrdId": "c1", "account": "A1", "id": 5})
	// The order's entering connection sees the cancel accepted and done:
	// the manager took it and the venue answered.
	collect(t, first, func(m mdclient.Message) bool { return m.Type == "exec" && m.ExecType == "canceled" })

	// Every event of the cancel was delivered before the canceled exec
	// reached first; a pong on second after them shows what second got.
	send(second, map[string]any{"op": "ping", "id": 6})
	answered := false
	collect(t, second, func(m mdclient.Message) bool {
		if m.Ref == "x1" || string(m.ID) == "5" {
			answered = true
		}
		return m.Type == "pong"
	})
	if !answered {
		t.Fatal("order.cancel x1 was accepted by the manager and carried out by the venue, but the connection that sent it got no answer")
	}
}

// TestWSRateLimitedOrderNamesItsRequest: an order request refused for the
// rate limit must say which request it refuses (its id, and ref for a
// valid clOrdId), like every other refusal of an order request; a trading
// app with several requests in flight otherwise cannot tell which order
// was not taken. Before, rate_limited carried neither.
func TestWSRateLimitedOrderNamesItsRequest(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{MaxMessagesPerSecond: 1}, f)
	c := e.dial(tok)
	ctx := context.Background()
	// The bucket holds 2 messages; the third, sent at once, is over.
	for i, id := range []string{"c1", "c2", "c3"} {
		raw := `{"op":"order.new","clOrdId":"` + id + `","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100,"id":` + string(rune('1'+i)) + `}`
		if err := c.SendRaw(ctx, []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("code") == codeRateLimited })
	if string(m["id"]) != "3" || m.str("ref") != "c3" {
		t.Fatalf("rate_limited answer %s names no request (want id 3, ref c3); calls %v", line, f.Calls())
	}
}

// TestWSBadOrderFieldsCarryRef: docs/PROTOCOL.md: an error answering an
// order request carries ref, the request's clOrdId, whenever that id is
// valid, for every refusal of order.new and order.replace. A bad side,
// type, price or qty of a request with a valid clOrdId was refused
// bad_order without ref.
func TestWSBadOrderFieldsCarryRef(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	tests := []struct{ name, raw, ref string }{
		{"bad side", `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"short","price":"1700.00","qty":100}`, "c1"},
		{"market type", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","type":"market","price":"1700.00","qty":100}`, "c2"},
		{"five decimals", `{"op":"order.new","clOrdId":"c3","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00001","qty":100}`, "c3"},
		{"zero qty", `{"op":"order.new","clOrdId":"c4","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":0}`, "c4"},
		{"replace with exponent price", `{"op":"order.replace","clOrdId":"r1","origClOrdId":"c0","account":"A1","price":"1.7e3","qty":100}`, "r1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SendRaw(context.Background(), []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "error" || m.str("type") == "accepted" })
			if m.str("code") != codeBadOrder || m.str("ref") != tc.ref {
				t.Fatalf("got %s, want bad_order with ref %q", line, tc.ref)
			}
		})
	}
}

// TestWSOrderStatusEchoesID: the answer to order.status must carry the
// request's id, as the answers to orders.list and account do (and as
// docs/PROTOCOL.md says of every answer); a client matching answers to
// requests by id never saw its status request answered.
func TestWSOrderStatusEchoesID(t *testing.T) {
	f := newFakeEntry()
	f.seed("A1", 1)
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	id := f.accounts["A1"][0].ClOrdID
	if err := c.SendRaw(context.Background(), []byte(`{"op":"order.status","clOrdId":"`+id+`","account":"A1","id":42}`)); err != nil {
		t.Fatal(err)
	}
	m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "status" || m.str("type") == "error" })
	if m.str("type") != "status" || string(m["id"]) != "42" {
		t.Fatalf("order.status with id 42 answered %s", line)
	}
}

// TestWSGatewayCancelNotRejected: the gateway cancels a client's order
// itself (the kill switch, with kill_cancels_resting) and the venue
// refuses the cancel, or fills the order first. The client never asked:
// it hears the order's executions, never a cancel_reject, which a trading
// app (the web app included) shows as its own cancel refused. Before, a
// cancel_reject with the gateway's ref X-... reached the client that
// entered the order. The client's own cancel still gets its
// cancel_reject.
func TestWSGatewayCancelNotRejected(t *testing.T) {
	refuse := func(m *orders.Manager, r fix.CancelRequest) {
		m.OnCancelReject("core", fix.CancelReject{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, Text: "no cancels now"})
	}
	for _, tc := range []struct {
		name   string
		venue  func(m *orders.Manager, r fix.CancelRequest)
		client bool   // the client cancels (x1), not the kill switch
		want   string // the order's status the client last hears
	}{
		{
			name: "filled, then the cancel refused",
			venue: func(m *orders.Manager, r fix.CancelRequest) {
				m.OnExecReport("core", fix.ExecReport{ClOrdID: r.OrigClOrdID, OrderID: "V1", ExecID: "F1", ExecType: 'F',
					OrdStatus: '2', LastQty: 100, LastPx: 17000000, CumQty: 100, AvgPx: 17000000})
				m.OnCancelReject("core", fix.CancelReject{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, Text: "too late to cancel"})
			},
			want: "filled",
		},
		{name: "refused", venue: refuse, want: "new"},
		{name: "the client's own cancel refused", venue: refuse, client: true, want: "new"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e, tok, m := newOrderEnvWith(t, &ackingUpstream{onCancel: tc.venue}, func(c *risk.Config) { c.KillCancelsResting = true })
			c := e.dial(tok)
			mustSend(t, c, map[string]any{"op": "order.new", "clOrdId": "c1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
			collect(t, c, func(m mdclient.Message) bool { return m.ClOrdID == "c1" && m.Type == "exec" && m.ExecType == "new" })

			// A watcher of the account is handed each event after the
			// order's own sink, on the same goroutine: once it has the
			// cancel's refusal, the client's connection has queued all it
			// will; a pong after that shows what it got.
			w := make(eventChan, 16)
			m.Watch("A1", w)
			if tc.client {
				mustSend(t, c, map[string]any{"op": "order.cancel", "clOrdId": "x1", "origClOrdId": "c1", "account": "A1"})
			} else if n, err := m.Kill("A1", true); err != nil || n != 1 {
				t.Fatalf("kill switch: %d cancels, %v; want 1", n, err)
			}
			for ev := range w {
				if ev.Kind == orders.EventCancelReject {
					break
				}
			}
			mustSend(t, c, map[string]any{"op": "ping", "id": 6})
			var got []string
			status, rejected := "", false
			collect(t, c, func(m mdclient.Message) bool {
				if m.Type == "pong" {
					return true
				}
				got = append(got, m.Type+" "+m.ExecType+" ref="+m.Ref+" "+m.Status)
				if m.Type == string(orders.EventCancelReject) {
					rejected = true
					if !tc.client || m.Ref != "x1" {
						t.Errorf("the client got a %s (ref %s, %q) for a cancel it never sent", m.Type, m.Ref, m.Text)
					}
				}
				status = m.Status
				return false
			})
			if tc.client && !rejected {
				t.Errorf("the client's cancel x1 was refused, but it got no cancel_reject (messages %q)", got)
			}
			if status != tc.want {
				t.Errorf("the client last heard the order %q; want %s (messages %q)", status, tc.want, got)
			}
		})
	}
}

// eventChan is an orders.Sink handing each event on.
type eventChan chan orders.Event

func (c eventChan) OrderEvent(ev orders.Event) { c <- ev }

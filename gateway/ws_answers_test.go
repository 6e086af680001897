package gateway

import (
	"context"
	"testing"

	"sgw/gateway/mdclient"
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

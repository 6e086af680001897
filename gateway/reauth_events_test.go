package gateway

import (
	"testing"
	"time"

	"sgw/gateway/mdclient"
)

// TestWSReauthStopsOwnOrderEvents: a client that authenticates again with
// a token that no longer grants an account must stop receiving that
// account's order events (docs/SECURITY.md: "the order events of every
// account the new token does not grant stop"), including those of orders
// it placed itself under the old token.
func TestWSReauthStopsOwnOrderEvents(t *testing.T) {
	e, _ := newOrderEnv(t)
	wide, _ := e.auth.IssueFor("u1", []string{"A1", "B9"}, time.Hour, time.Now())
	narrow, _ := e.auth.IssueFor("u1", []string{"B9"}, time.Hour, time.Now())
	c := e.dial(wide)
	other := e.dial(wide)
	send := func(c *mdclient.Client, v any) { t.Helper(); mustSend(t, c, v) }
	// c places an order on A1 while its token grants A1.
	send(c, map[string]any{"op": "order.new", "clOrdId": "a1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
	collect(t, c, func(m mdclient.Message) bool { return m.ClOrdID == "a1" && m.Type == "exec" && m.ExecType == "new" })

	// c authenticates again: A1 is no longer granted.
	send(c, map[string]any{"op": "auth", "token": narrow, "id": 1})
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "auth" && m.OK })

	// Another holder of A1 cancels the order.
	send(other, map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{"A1"}})
	collect(t, other, func(m mdclient.Message) bool { return m.Type == "subscribed" })
	send(other, map[string]any{"op": "order.cancel", "clOrdId": "x1", "origClOrdId": "a1", "account": "A1"})
	collect(t, other, func(m mdclient.Message) bool { return m.Type == "exec" && m.ExecType == "canceled" })

	// c's events were queued before other's; a pong after them shows
	// whether any A1 event reached c.
	send(c, map[string]any{"op": "ping", "id": 2})
	collect(t, c, func(m mdclient.Message) bool {
		if m.Account == "A1" || m.ClOrdID == "a1" || m.ClOrdID == "x1" {
			t.Fatalf("order event of A1 after an auth whose token does not grant A1: %+v", m)
		}
		return m.Type == "pong"
	})
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"testing"
	"time"

	"sgw/gateway/mdclient"
)

// TestDemoOrders trades through the demo: an order entered over WebSocket
// passes risk, is journaled, leaves over FIX to the simulator's matching
// engine and comes back filled; a resting order is cancelled.
func TestDemoOrders(t *testing.T) {
	base, token, ops := startDemoOps(t)
	var bk struct {
		Asks [][2]any `json:"asks"`
		Bids [][2]any `json:"bids"`
	}
	waitFor(t, "a two-sided book", func() bool {
		_, body := get(t, base+"/api/v1/book/601318.SH?depth=1")
		return json.Unmarshal(body, &bk) == nil && len(bk.Asks) > 0 && len(bk.Bids) > 0
	})
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	c, _, err := mdclient.Dial(rctx, "ws"+base[4:]+"/ws", mdclient.Options{Token: token})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send := func(v any) {
		if err := c.Send(rctx, v); err != nil {
			t.Fatal(err)
		}
	}
	wait := func(what string, cond func(m mdclient.Message) bool) mdclient.Message {
		t.Helper()
		for {
			msgs, err := c.Next(rctx)
			if err != nil {
				t.Fatalf("waiting for %s: %v", what, err)
			}
			for _, m := range msgs {
				if m.Type == "error" {
					t.Fatalf("waiting for %s: error %s: %s", what, m.Code, m.Msg)
				}
				if cond(m) {
					return m
				}
			}
		}
	}
	send(map[string]any{"op": "auth", "token": token})
	wait("auth", func(m mdclient.Message) bool { return m.Type == "auth" && m.OK })
	send(map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{"A1"}})
	wait("orders subscription", func(m mdclient.Message) bool { return m.Type == "subscribed" })

	// A buy 0.50 above the best ask crosses the book: it fills.
	ask := bk.Asks[0][0].(string)
	send(map[string]any{"op": "order.new", "clOrdId": "t-buy", "account": "A1", "symbol": "601318.SH", "side": "buy",
		"type": "limit", "price": addCents(t, ask, 50), "qty": 100})
	wait("accepted", func(m mdclient.Message) bool { return m.Type == "accepted" && m.ClOrdID == "t-buy" })
	filled := wait("filled", func(m mdclient.Message) bool { return m.Type == "exec" && m.ClOrdID == "t-buy" && m.Status == "filled" })
	if filled.CumQty != 100 || filled.LeavesQty != 0 {
		t.Fatalf("fill %+v", filled)
	}

	// A buy far below the market rests; cancel it.
	bid := bk.Bids[0][0].(string)
	send(map[string]any{"op": "order.new", "clOrdId": "t-rest", "account": "A1", "symbol": "601318.SH", "side": "buy",
		"type": "limit", "price": addCents(t, bid, -300), "qty": 200})
	wait("rests", func(m mdclient.Message) bool { return m.Type == "exec" && m.ClOrdID == "t-rest" && m.Status == "new" })
	send(map[string]any{"op": "order.cancel", "clOrdId": "t-x", "origClOrdId": "t-rest", "account": "A1"})
	wait("canceled", func(m mdclient.Message) bool { return m.Type == "exec" && m.Status == "canceled" && m.Ref == "t-x" })

	code, body := getAuth(t, base+"/metrics", ops)
	for _, want := range []string{
		`gateway_fix_line_up\{line="carrierA",session="core"\} 1`,
		`gateway_orders_total\{result="accepted",source="ws"\} 2`,
		`gateway_journal_fsync_seconds_count \d+`,
	} {
		if code != 200 || !regexp.MustCompile(want).Match(body) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// addCents adds n hundredths to a decimal price string.
func addCents(t *testing.T, p string, n int) string {
	t.Helper()
	var whole, frac int
	if _, err := fmt.Sscanf(p, "%d.%d", &whole, &frac); err != nil {
		t.Fatalf("price %q: %v", p, err)
	}
	c := whole*100 + frac + n
	return fmt.Sprintf("%d.%02d", c/100, c%100)
}

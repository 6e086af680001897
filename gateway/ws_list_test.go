package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"sgw/gateway/mdclient"
	"sgw/orders"
	"sgw/refdata"
)

// TestWSOrdersListPages lists an account of 2,000 orders, each as large as
// the protocol lets it be, over a client with the smallest queue: asked
// for the largest pages or for the default ones, the client pages through
// every order exactly once, in entry order, and is never closed.
func TestWSOrdersListPages(t *testing.T) {
	const n = 2000
	for _, tc := range []struct {
		name  string
		limit int // 0: none in the request
		want  int // most orders a page may hold
	}{
		{name: "largest pages", limit: 5000, want: orders.MaxListLimit},
		{name: "default pages", want: orders.DefaultListLimit},
		{name: "small pages", limit: 7, want: 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeEntry()
			f.seed("A1", n)
			const queue = 64 << 10
			e, tok := newFakeEntryEnv(t, WSConfig{QueueBytes: queue, MaxMessagesPerSecond: 1000}, f)
			c := e.dial(tok)
			var got []string
			seen := map[string]bool{}
			cursor, pages := "", 0
			for {
				req := map[string]any{"op": "orders.list", "account": "A1", "id": pages}
				if cursor != "" {
					req["cursor"] = cursor
				}
				if tc.limit != 0 {
					req["limit"] = tc.limit
				}
				if err := c.Send(context.Background(), req); err != nil {
					t.Fatalf("page %d: %v", pages, err)
				}
				raw, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "orders" || m.str("type") == "error" })
				var page mdclient.Message
				if err := json.Unmarshal([]byte(line), &page); err != nil {
					t.Fatal(err)
				}
				if page.Type != "orders" || page.Account != "A1" || string(page.ID) != fmt.Sprint(pages) {
					t.Fatalf("page %d: %.300s", pages, line)
				}
				if len(line) > queue/4 {
					t.Errorf("page %d is %d bytes, more than a quarter of the queue (%d)", pages, len(line), queue)
				}
				if len(page.Orders) == 0 || len(page.Orders) > tc.want {
					t.Fatalf("page %d holds %d orders, want 1 to %d", pages, len(page.Orders), tc.want)
				}
				for _, o := range page.Orders {
					if seen[o.ClOrdID] {
						t.Fatalf("page %d repeats %s", pages, o.ClOrdID)
					}
					seen[o.ClOrdID] = true
					got = append(got, o.ClOrdID)
				}
				if page.Total != n || page.Remaining != n-len(got) {
					t.Fatalf("page %d: total %d, remaining %d; want %d, %d", pages, page.Total, page.Remaining, n, n-len(got))
				}
				_, hasNext := raw["next"]
				if hasNext != (page.Remaining > 0) {
					t.Fatalf("page %d: next %q with %d remaining", pages, page.Next, page.Remaining)
				}
				pages++
				if !hasNext {
					break
				}
				cursor = page.Next
			}
			for i, id := range got {
				if want := fmt.Sprintf("A1-%0*d", refdata.MaxClOrdIDLen-3, i); id != want {
					t.Fatalf("order %d is %s, want %s", i, id, want)
				}
			}
			if len(got) != n {
				t.Fatalf("listed %d orders, want %d", len(got), n)
			}
			t.Logf("%d pages", pages)
			// Still open: a ping is answered.
			if err := c.Send(context.Background(), map[string]string{"op": "ping"}); err != nil {
				t.Fatal(err)
			}
			nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "pong" })
			if d := metricValue(t, e.reg, "gateway_ws_slow_client_disconnects_total", ""); d != 0 {
				t.Fatalf("%v clients closed as slow", d)
			}
		})
	}
}

// TestWSOrdersListErrors checks the paging errors of orders.list.
func TestWSOrdersListErrors(t *testing.T) {
	f := newFakeEntry()
	f.seed("A1", 3)
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	long := fmt.Sprintf("%065d", 1)
	for _, tc := range []struct{ name, raw, code string }{
		{name: "cursor not handed out", raw: `{"op":"orders.list","account":"A1","cursor":"x"}`, code: orders.CodeBadCursor},
		{name: "cursor past the end", raw: `{"op":"orders.list","account":"A1","cursor":"4"}`, code: orders.CodeBadCursor},
		{name: "cursor too long", raw: `{"op":"orders.list","account":"A1","cursor":"` + long + `"}`, code: orders.CodeBadCursor},
		{name: "negative limit", raw: `{"op":"orders.list","account":"A1","limit":-1}`, code: codeBadOrder},
		{name: "limit not a number", raw: `{"op":"orders.list","account":"A1","limit":"10"}`, code: codeBadJSON},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SendRaw(context.Background(), []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "error" || m.str("type") == "orders" })
			if m.str("code") != tc.code {
				t.Fatalf("got %.300s, want error %s", line, tc.code)
			}
			if _, ok := m["ref"]; ok {
				t.Fatalf("an orders.list error carries a ref: %s", line)
			}
		})
	}
	// The last page of an account, asked for exactly: no next.
	if err := c.SendRaw(context.Background(), []byte(`{"op":"orders.list","account":"A1","cursor":"2"}`)); err != nil {
		t.Fatal(err)
	}
	m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "orders" })
	if _, ok := m["next"]; ok || string(m["total"]) != "3" || string(m["remaining"]) != "0" {
		t.Fatalf("last page: %s", line)
	}
	// An account with no orders: an empty list, not null.
	if err := c.SendRaw(context.Background(), []byte(`{"op":"orders.list","account":"A1","cursor":"3"}`)); err != nil {
		t.Fatal(err)
	}
	if m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "orders" }); string(m["orders"]) != "[]" {
		t.Fatalf("empty page: %s", line)
	}
}

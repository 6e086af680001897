package gateway

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// rawConn is a WebSocket client that reads the server's messages as raw
// JSON objects, for replies mdclient does not decode.
type rawConn struct {
	t    *testing.T
	conn *websocket.Conn
}

func dialRaw(t *testing.T, url, token string) *rawConn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	h := http.Header{}
	if token != "" {
		h.Set("Authorization", "Bearer "+token)
	}
	conn, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.CloseNow() })
	return &rawConn{t: t, conn: conn}
}

// ask sends req and returns the first message whose type is one of types.
func (r *rawConn) ask(req string, types ...string) map[string]any {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	if err := r.conn.Write(ctx, websocket.MessageText, []byte(req)); err != nil {
		r.t.Fatal(err)
	}
	for {
		_, b, err := r.conn.Read(ctx)
		if err != nil {
			r.t.Fatalf("%s: waiting for %v: %v", req, types, err)
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				r.t.Fatalf("undecodable %q: %v", line, err)
			}
			for _, typ := range types {
				if m["type"] == typ {
					return m
				}
			}
		}
	}
}

// TestWSAccount: the account request shows the account's cash and
// positions as risk holds them, to a token that names the account only.
func TestWSAccount(t *testing.T) {
	e, tok := newOrderEnv(t)
	c := dialRaw(t, e.url, tok)

	got := c.ask(`{"op":"account","account":"A1","id":1}`, "account", "error")
	if got["type"] != "account" || got["account"] != "A1" || got["cash"] != "10000000.00" || got["reserved"] != "0.00" ||
		got["openOrders"] != 0.0 || got["id"] != 1.0 {
		t.Fatalf("account A1 before trading: %v", got)
	}
	if pos, ok := got["positions"].([]any); !ok || len(pos) != 0 {
		t.Fatalf("positions %v, want []", got["positions"])
	}

	// A working buy holds its cash.
	c.ask(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "accepted")
	got = c.ask(`{"op":"account","account":"A1","id":2}`, "account", "error")
	if got["cash"] != "9830000.00" || got["reserved"] != "170000.00" || got["openOrders"] != 1.0 {
		t.Fatalf("account A1 with a working buy of 100 at 1700.00: %v", got)
	}

	anon := dialRaw(t, e.url, "")
	other, _ := e.auth.IssueFor("u1", []string{"A1", "Z1"}, time.Hour, time.Now())
	withUnknown := dialRaw(t, e.url, other)
	tests := []struct {
		name string
		conn *rawConn
		req  string
		code string
	}{
		{name: "another account's", conn: c, req: `{"op":"account","account":"B9","id":3}`, code: codeForbidden},
		{name: "no token", conn: anon, req: `{"op":"account","account":"A1","id":4}`, code: codeAuthRequired},
		{name: "no account", conn: c, req: `{"op":"account","id":5}`, code: codeBadOrder},
		{name: "bad account id", conn: c, req: `{"op":"account","account":"A 1","id":6}`, code: codeBadID},
		{name: "unknown to risk", conn: withUnknown, req: `{"op":"account","account":"Z1","id":7}`, code: "risk.unknown_account"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.conn.ask(tc.req, "account", "error")
			if got["type"] != "error" || got["code"] != tc.code {
				t.Fatalf("%s: %v, want error %s", tc.req, got, tc.code)
			}
			if _, leaked := got["cash"]; leaked {
				t.Fatalf("the refusal carries account data: %v", got)
			}
		})
	}
}

package gateway

import (
	"context"
	"slices"
	"strings"
	"testing"

	"sgw/orders"
	"sgw/refdata"
)

// TestWSHostileIdentifiers sends order requests whose identifiers hold
// what a FIX rendering or a log treats as structure (SOH, "|58=", line
// breaks), or are too long: each must be refused with orders.bad_id when
// decoded, naming the field without echoing the value, with a ref only
// when the request's clOrdId is itself valid, and must never reach the
// order manager. The connection stays usable.
func TestWSHostileIdentifiers(t *testing.T) {
	f := newFakeEntry()
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	c := e.dial(tok)
	long := strings.Repeat("c", refdata.MaxClOrdIDLen+1)
	tests := []struct {
		name, raw string
		field     string // named in the error text
		bad       string // the hostile value, never in the answer
		ref       string // "" = no ref
	}{
		{name: "SOH in clOrdId", raw: `{"op":"order.new","clOrdId":"c1\u000139=2","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`,
			field: "clOrdId", bad: "\x0139=2"},
		{name: "FIX text in clOrdId", raw: `{"op":"order.cancel","clOrdId":"x1|150=F|39=2|58=","origClOrdId":"c0","account":"A1"}`,
			field: "clOrdId", bad: "|150=F"},
		{name: "line break in clOrdId", raw: `{"op":"order.status","clOrdId":"c1\n8=FIX.4.4","account":"A1"}`,
			field: "clOrdId", bad: "8=FIX"},
		{name: "clOrdId too long", raw: `{"op":"order.new","clOrdId":"` + long + `","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`,
			field: "clOrdId", bad: long},
		{name: "space in clOrdId", raw: `{"op":"order.new","clOrdId":"c 1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`,
			field: "clOrdId", bad: "c 1"},
		{name: "SOH in origClOrdId", raw: `{"op":"order.cancel","clOrdId":"x2","origClOrdId":"c1\u000158=filled","account":"A1"}`,
			field: "origClOrdId", bad: "58=filled", ref: "x2"},
		{name: "quote in origClOrdId of a replace", raw: `{"op":"order.replace","clOrdId":"r1","origClOrdId":"c1\"","account":"A1","price":"1700.00","qty":100}`,
			field: "origClOrdId", bad: `c1"`, ref: "r1"},
		{name: "equals in account", raw: `{"op":"order.new","clOrdId":"c3","account":"A1=B2","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`,
			field: "account", bad: "A1=B2", ref: "c3"},
		{name: "account too long", raw: `{"op":"order.new","clOrdId":"c4","account":"` + strings.Repeat("A", refdata.MaxAccountLen+1) + `","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`,
			field: "account", bad: strings.Repeat("A", refdata.MaxAccountLen+1), ref: "c4"},
		{name: "line break in symbol", raw: `{"op":"order.new","clOrdId":"c5","account":"A1","symbol":"600519.SH\r\n","side":"buy","price":"1700.00","qty":100}`,
			field: "symbol", bad: "\r\n", ref: "c5"},
		{name: "pipe in the account of orders.list", raw: `{"op":"orders.list","account":"A1|1=B2"}`,
			field: "account", bad: "|1=B2"},
		{name: "SOH in a subscribed account", raw: `{"op":"subscribe","channel":"orders","accounts":["A1","B2\u00011=A1"]}`,
			field: "accounts[1]", bad: "1=A1"},
		{name: "empty subscribed account", raw: `{"op":"subscribe","channel":"orders","accounts":[""]}`,
			field: "accounts[0]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := c.SendRaw(context.Background(), []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "error" || m.str("type") == "accepted" })
			if code := m.str("code"); m.str("type") != "error" || code != orders.CodeBadID {
				t.Fatalf("error %s, want %s: %s", code, orders.CodeBadID, line)
			}
			if msg := m.str("msg"); !strings.HasPrefix(msg, tc.field+" ") {
				t.Errorf("msg %q does not name the field %s", msg, tc.field)
			}
			if tc.bad != "" && strings.Contains(m.str("msg"), tc.bad) {
				t.Errorf("the answer echoes the bad value %q: %s", tc.bad, line)
			}
			ref, hasRef := m["ref"]
			switch {
			case tc.ref == "" && hasRef:
				t.Errorf("ref %s, want none: %s", ref, line)
			case tc.ref != "" && m.str("ref") != tc.ref:
				t.Errorf("ref %s, want %q: %s", ref, tc.ref, line)
			}
		})
	}
	if calls := f.Calls(); len(calls) != 0 {
		t.Fatalf("hostile requests reached the order manager: %q", calls)
	}
	if got := metricValue(t, e.reg, "gateway_ws_rejected_total", `reason="orders.bad_id"`); got != float64(len(tests)) {
		t.Errorf("gateway_ws_rejected_total{reason=orders.bad_id} = %v, want %d", got, len(tests))
	}

	// Every character of the alphabet, at the limits, passes.
	const okID = "aZ09-_.:/#@xxxxxxxxxxxxxxxxxxxxx"
	if len(okID) != refdata.MaxClOrdIDLen {
		t.Fatalf("okID is %d long", len(okID))
	}
	if err := c.SendRaw(context.Background(), []byte(`{"op":"order.new","clOrdId":"`+okID+`","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`)); err != nil {
		t.Fatal(err)
	}
	m, line := nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "accepted" || m.str("type") == "error" })
	if m.str("type") != "accepted" || m.str("ref") != okID {
		t.Fatalf("a valid order was not accepted: %s", line)
	}
	if calls := f.Calls(); !slices.Equal(calls, []string{"new " + okID + " A1"}) {
		t.Fatalf("calls %q", calls)
	}
}

// TestDecodeRequestIdentifiers checks the decoder alone: which field each
// order operation checks, and that a missing one is bad_order.
func TestDecodeRequestIdentifiers(t *testing.T) {
	tests := []struct {
		name, raw, code string
	}{
		{name: "new without symbol", raw: `{"op":"order.new","clOrdId":"c1","account":"A1","side":"buy","price":"1","qty":1}`, code: codeBadOrder},
		{name: "cancel without origClOrdId", raw: `{"op":"order.cancel","clOrdId":"x1","account":"A1"}`, code: codeBadOrder},
		{name: "status with a bad clOrdId", raw: `{"op":"order.status","clOrdId":"c\u00001","account":"A1"}`, code: codeBadID},
		{name: "list without account", raw: `{"op":"orders.list"}`, code: codeBadOrder},
		{name: "unsubscribe a bad account", raw: `{"op":"unsubscribe","channel":"orders","accounts":["A 1"]}`, code: codeBadID},
		{name: "valid cancel", raw: `{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c1","account":"A1"}`},
		{name: "valid subscribe", raw: `{"op":"subscribe","channel":"orders","accounts":["A1","M-2"]}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeRequest([]byte(tc.raw))
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code != "" && (err == nil || err.code != tc.code):
				t.Fatalf("got %v, want %s", err, tc.code)
			}
		})
	}
}

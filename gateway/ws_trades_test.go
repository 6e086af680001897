package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/fix"
	"sgw/gateway/mdclient"
	"sgw/orders"
	"sgw/refdata"
)

// TestDecodeOrderTrades checks how order.trades is decoded: its
// identifiers as order.status's, its paging fields as orders.list's, and
// every refusal naming the request's clOrdId when that is valid.
func TestDecodeOrderTrades(t *testing.T) {
	long := strings.Repeat("1", maxCursorLen+1)
	for _, tc := range []struct {
		name, raw string
		code      string // "" = accepted
		ref       string
	}{
		{name: "first page", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","id":5}`},
		{name: "cursor and limit", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","cursor":"2","limit":2}`},
		{name: "limit above the most", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","limit":5000}`},
		{name: "no clOrdId", raw: `{"op":"order.trades","account":"A1"}`, code: codeBadOrder},
		{name: "no account", raw: `{"op":"order.trades","clOrdId":"c1"}`, code: codeBadOrder, ref: "c1"},
		{name: "bad clOrdId", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1\u000158=x"}`, code: codeBadID},
		{name: "clOrdId too long", raw: `{"op":"order.trades","account":"A1","clOrdId":"` + strings.Repeat("c", refdata.MaxClOrdIDLen+1) + `"}`, code: codeBadID},
		{name: "bad account", raw: `{"op":"order.trades","account":"A1|1=B9","clOrdId":"c1"}`, code: codeBadID, ref: "c1"},
		{name: "negative limit", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","limit":-1}`, code: codeBadOrder, ref: "c1"},
		{name: "limit not a number", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","limit":"2"}`, code: codeBadJSON, ref: "c1"},
		{name: "cursor too long", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","cursor":"` + long + `"}`, code: codeBadCursor, ref: "c1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := decodeRequest([]byte(tc.raw))
			switch {
			case tc.code == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.code == "":
				if r.Op != opOrderTrades || r.Account != "A1" || r.ClOrdID != "c1" {
					t.Fatalf("decoded %+v", r)
				}
			case err == nil:
				t.Fatalf("accepted %+v, want %s", r, tc.code)
			case err.code != tc.code || err.ref != tc.ref:
				t.Fatalf("refused %s ref %q (%s), want %s ref %q", err.code, err.ref, err.msg, tc.code, tc.ref)
			}
		})
	}
}

// wsTrade is a trade as a client reads it, from an exec event of
// execType trade or from an order.trades page.
type wsTrade struct {
	ExecID    string `json:"execId"`
	Qty       int64  `json:"qty"`
	Price     string `json:"price"`
	CumQty    int64  `json:"cumQty"`
	LeavesQty int64  `json:"leavesQty"`
	AvgPx     string `json:"avgPx"`
	Status    string `json:"status"`
	Time      *int64 `json:"time"` // nil: absent
}

// wsTradesPage is an order.trades answer.
type wsTradesPage struct {
	Type      string          `json:"type"`
	Account   string          `json:"account"`
	ClOrdID   string          `json:"clOrdId"`
	Trades    []wsTrade       `json:"trades"`
	Next      *string         `json:"next"`
	Total     int             `json:"total"`
	Remaining int             `json:"remaining"`
	ID        json.RawMessage `json:"id"`
}

// readTrades asks for every trade of clOrdID, limit at a time, following
// next, and checks each page's bookkeeping and size (at most maxBytes).
func readTrades(t *testing.T, c *mdclient.Client, clOrdID string, limit, maxBytes int) []wsTrade {
	t.Helper()
	var got []wsTrade
	cursor := ""
	for page := 0; ; page++ {
		req := map[string]any{"op": "order.trades", "account": "A1", "clOrdId": clOrdID, "id": 100 + page}
		if cursor != "" {
			req["cursor"] = cursor
		}
		if limit != 0 {
			req["limit"] = limit
		}
		if err := c.Send(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		_, line := nextRaw(t, c, func(m rawMessage) bool { return string(m["id"]) == fmt.Sprint(100+page) })
		var p wsTradesPage
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			t.Fatal(err)
		}
		if p.Type != "trades" || p.Account != "A1" || p.ClOrdID != clOrdID || p.Trades == nil {
			t.Fatalf("page %d: %.300s", page, line)
		}
		if len(line) > maxBytes {
			t.Fatalf("page %d is %d bytes, more than %d", page, len(line), maxBytes)
		}
		if len(p.Trades) == 0 && p.Total > 0 || limit > 0 && len(p.Trades) > limit {
			t.Fatalf("page %d holds %d trades (limit %d): %.300s", page, len(p.Trades), limit, line)
		}
		got = append(got, p.Trades...)
		if p.Remaining != p.Total-len(got) || (p.Next != nil) != (p.Remaining > 0) {
			t.Fatalf("page %d: total %d, remaining %d, next %v after %d trades: %.300s", page, p.Total, p.Remaining, p.Next, len(got), line)
		}
		if p.Next == nil {
			return got
		}
		cursor = *p.Next
	}
}

// TestWSOrderTrades: an order filled in five parts, through a real
// orders.Manager; its connection's exec events of the trades carry the
// execution ids FIX brokers get ("core:<ExecID>"), and order.trades read
// two at a time gives back the same trades, in order, with the same
// quantities, prices, cumQty, leavesQty, avgPx and status, and the
// venue's TransactTime where it sent one. Then its refusals: a cursor it
// did not hand out, an unknown order, another account's.
func TestWSOrderTrades(t *testing.T) {
	e, tok, m := newOrderEnvWith(t, &ackingUpstream{}, nil)
	c := e.dial(tok)
	send := func(raw string) {
		t.Helper()
		if err := c.SendRaw(context.Background(), []byte(raw)); err != nil {
			t.Fatal(err)
		}
	}
	send(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1701.00","qty":1000,"id":1}`)
	nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "exec" && m.str("status") == "new" })
	o, err := m.Status("A1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	fills := []struct {
		qty  int64
		px   refdata.Price
		time time.Time
	}{
		{100, 1700 * refdata.PriceScale, time.Unix(1700000000, 1)},
		{200, 16995 * refdata.PriceScale / 10, time.Unix(1700000001, 2)},
		{50, 1700 * refdata.PriceScale, time.Time{}}, // no TransactTime
		{150, 1698 * refdata.PriceScale, time.Unix(1700000003, 3)},
		{500, 1701 * refdata.PriceScale, time.Unix(1700000004, 4)},
	}
	var cum, turnover int64
	for i, f := range fills {
		cum += f.qty
		turnover += int64(f.px) * f.qty
		status := byte('1')
		if cum == 1000 {
			status = '2'
		}
		m.OnExecReport("core", fix.ExecReport{ClOrdID: o.UpstreamID, OrderID: o.OrderID, ExecID: fmt.Sprintf("V%d", i+1),
			ExecType: 'F', OrdStatus: status, LastPx: f.px, LastQty: f.qty, CumQty: cum, LeavesQty: 1000 - cum,
			AvgPx: refdata.Price(turnover / cum), TransactTime: f.time})
	}
	// The trades as their exec events told them.
	var events []wsTrade
	nextRaw(t, c, func(m rawMessage) bool {
		if m.str("type") != "exec" || m.str("execType") != "trade" {
			return false
		}
		var ev struct {
			wsTrade
			LastQty int64  `json:"lastQty"`
			LastPx  string `json:"lastPx"`
		}
		if err := json.Unmarshal(mustJSON(t, m), &ev); err != nil {
			t.Fatal(err)
		}
		tr := ev.wsTrade
		tr.Qty, tr.Price, tr.Time = ev.LastQty, ev.LastPx, nil
		events = append(events, tr)
		return len(events) == len(fills)
	})
	for i, ev := range events {
		if want := fmt.Sprintf("core:V%d", i+1); ev.ExecID != want {
			t.Fatalf("trade event %d has execId %q, want %q", i, ev.ExecID, want)
		}
	}
	got := readTrades(t, c, "c1", 2, e.srv.ws.cfg.QueueBytes/4)
	if len(got) != len(fills) {
		t.Fatalf("order.trades gave %d trades, want %d: %+v", len(got), len(fills), got)
	}
	for i, tr := range got {
		tm := tr.Time
		tr.Time = nil
		if tr != events[i] {
			t.Errorf("trade %d: order.trades has %+v, its event %+v", i, tr, events[i])
		}
		switch f := fills[i]; {
		case f.time.IsZero() && tm != nil:
			t.Errorf("trade %d: time %d, want none (the venue sent no TransactTime)", i, *tm)
		case !f.time.IsZero() && (tm == nil || *tm != f.time.UnixNano()):
			t.Errorf("trade %d: time %v, want %d", i, tm, f.time.UnixNano())
		}
	}
	if last := got[len(got)-1]; last.CumQty != 1000 || last.LeavesQty != 0 || last.Status != "filled" || last.Price != "1701.00" {
		t.Errorf("last trade %+v", last)
	}
	// The default limit: one page.
	if all := readTrades(t, c, "c1", 0, e.srv.ws.cfg.QueueBytes/4); len(all) != len(fills) {
		t.Errorf("order.trades without a limit gave %d trades", len(all))
	}

	for _, tc := range []struct{ name, raw, code, ref string }{
		{name: "cursor not handed out", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","cursor":"x","id":7}`, code: codeBadCursor, ref: "c1"},
		{name: "cursor past the end", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","cursor":"6","id":7}`, code: codeBadCursor, ref: "c1"},
		{name: "negative cursor", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","cursor":"-1","id":7}`, code: codeBadCursor, ref: "c1"},
		{name: "unknown order", raw: `{"op":"order.trades","account":"A1","clOrdId":"c9","id":7}`, code: orders.CodeUnknownOrder, ref: "c9"},
		{name: "another account", raw: `{"op":"order.trades","account":"B9","clOrdId":"c1","id":7}`, code: codeForbidden, ref: "c1"},
		{name: "negative limit", raw: `{"op":"order.trades","account":"A1","clOrdId":"c1","limit":-2,"id":7}`, code: codeBadOrder, ref: "c1"},
		{name: "bad clOrdId", raw: `{"op":"order.trades","account":"A1","clOrdId":"c 1","id":7}`, code: codeBadID},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send(tc.raw)
			a, line := nextRaw(t, c, func(m rawMessage) bool { return string(m["id"]) == "7" })
			if a.str("type") != "error" || a.str("code") != tc.code || a.str("ref") != tc.ref {
				t.Fatalf("answered %s, want error %s ref %q", line, tc.code, tc.ref)
			}
		})
	}
	// The cursor of the end: an empty page.
	send(`{"op":"order.trades","account":"A1","clOrdId":"c1","cursor":"5","id":8}`)
	a, line := nextRaw(t, c, func(m rawMessage) bool { return string(m["id"]) == "8" })
	if _, next := a["next"]; a.str("type") != "trades" || string(a["trades"]) != "[]" || string(a["total"]) != "5" || string(a["remaining"]) != "0" || next {
		t.Fatalf("page at the end: %s", line)
	}
}

// mustJSON re-encodes a message read as fields.
func mustJSON(t *testing.T, m rawMessage) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestWSOrderTradesPages: an order of 600 one-share trades, read over a
// client with the smallest queue, asking for the largest pages: each page
// fits in a quarter of the queue (fewer trades than asked for), and the
// client reads every trade once, in order, and is never closed.
func TestWSOrderTradesPages(t *testing.T) {
	const n = 600
	e, tok, m := newOrderEnvWith(t, &ackingUpstream{}, nil)
	e.srv.ws.cfg.QueueBytes = 64 << 10 // before any client connects
	c := e.dial(tok)
	if err := c.SendRaw(context.Background(), []byte(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":600,"id":1}`)); err != nil {
		t.Fatal(err)
	}
	nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "exec" && m.str("status") == "new" })
	o, err := m.Status("A1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		status := byte('1')
		if i == n-1 {
			status = '2'
		}
		m.OnExecReport("core", fix.ExecReport{ClOrdID: o.UpstreamID, OrderID: o.OrderID, ExecID: fmt.Sprintf("%064d", i),
			ExecType: 'F', OrdStatus: status, LastPx: 1700 * refdata.PriceScale, LastQty: 1, CumQty: int64(i + 1),
			LeavesQty: int64(n - i - 1), AvgPx: 1700 * refdata.PriceScale, TransactTime: time.Unix(1700000000, int64(i))})
		// Read as they come: 600 events would overflow the small queue.
		nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "exec" && string(m["cumQty"]) == fmt.Sprint(i+1) })
	}
	got := readTrades(t, c, "c1", orders.MaxListLimit, 16<<10)
	if len(got) != n {
		t.Fatalf("read %d trades, want %d", len(got), n)
	}
	for i, tr := range got {
		if want := fmt.Sprintf("core:%064d", i); tr.ExecID != want || tr.CumQty != int64(i+1) {
			t.Fatalf("trade %d: %+v, want execId %s, cumQty %d", i, tr, want, i+1)
		}
	}
	if d := metricValue(t, e.reg, "gateway_ws_slow_client_disconnects_total", ""); d != 0 {
		t.Fatalf("%v clients closed as slow", d)
	}
}

// TestOrderTradeCanceledOrCorrected: order.trades marks a trade the venue
// canceled since ("canceled": a client that booked it by execId unbooks
// it) and one it corrected ("corrected", with the correction's qty and
// price); a trade as it was carries neither. Before, a canceled trade was
// listed as a live one.
func TestOrderTradeCanceledOrCorrected(t *testing.T) {
	o := orders.Order{Upstream: "core"}
	for _, tc := range []struct {
		name string
		tr   orders.Trade
		want string
	}{
		{"as it was", orders.Trade{ExecID: "V1", Qty: 100}, `{"execId":"core:V1","qty":100,"price":"0.00","cumQty":0,"leavesQty":0,"avgPx":"0.00","status":""}`},
		{"canceled", orders.Trade{ExecID: "V1", Qty: 100, Canceled: true, Amended: "X1"}, `{"execId":"core:V1","qty":100,"price":"0.00","cumQty":0,"leavesQty":0,"avgPx":"0.00","status":"","canceled":true}`},
		{"corrected", orders.Trade{ExecID: "V1", Qty: 80, Amended: "X1"}, `{"execId":"core:V1","qty":80,"price":"0.00","cumQty":0,"leavesQty":0,"avgPx":"0.00","status":"","corrected":true}`},
	} {
		if got := string(encodeOrderTrade(&o, tc.tr)); got != tc.want {
			t.Errorf("%s: %s; want %s", tc.name, got, tc.want)
		}
	}
}

// TestWSTradeCancelAndCorrectionEvents: the exec event of a venue's trade
// cancel or correction names what it did (execType trade_canceled or
// trade_corrected, a FIX 4.2 venue's, a restatement naming the trade, by
// what it did to the trade) and the trade (execRefId, as its trade
// event's execId, also when the venue names it by an earlier correction,
// whose event carried no execId: before, execRefId named that one); a
// restatement of another kind is restated, without execRefId. Before,
// such events carried no execType and nothing named the trade.
func TestWSTradeCancelAndCorrectionEvents(t *testing.T) {
	e, tok, m := newOrderEnvWith(t, &ackingUpstream{}, nil)
	c := e.dial(tok)
	if err := c.SendRaw(context.Background(), []byte(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":1000,"id":1}`)); err != nil {
		t.Fatal(err)
	}
	nextRaw(t, c, func(m rawMessage) bool { return m.str("type") == "exec" && m.str("status") == "new" })
	o, err := m.Status("A1", "c1")
	if err != nil {
		t.Fatal(err)
	}
	px := refdata.Price(1700 * refdata.PriceScale)
	report := func(er fix.ExecReport) {
		er.ClOrdID, er.OrderID = o.UpstreamID, o.OrderID
		m.OnExecReport("core", er)
	}
	report(fix.ExecReport{ExecID: "V1", ExecType: 'F', OrdStatus: '1', LastPx: px, LastQty: 100, CumQty: 100, LeavesQty: 900, AvgPx: px})
	report(fix.ExecReport{ExecID: "V2", ExecType: 'F', OrdStatus: '1', LastPx: px, LastQty: 200, CumQty: 300, LeavesQty: 700, AvgPx: px})
	// A FIX 4.2 venue's cancel of V1 (ExecTransType 1), a FIX 4.4
	// venue's correction of V2, a cancel naming no trade of the order, a
	// FIX 4.2 venue's correction of V2 to nothing (which cancels), a
	// restatement.
	report(fix.ExecReport{ExecID: "X1", ExecRefID: "V1", ExecType: 'D', ExecTransType: '1', OrdStatus: '1', CumQty: 200, LeavesQty: 800, AvgPx: px})
	report(fix.ExecReport{ExecID: "X2", ExecRefID: "V2", ExecType: 'G', OrdStatus: '1', LastPx: px, LastQty: 150, CumQty: 150, LeavesQty: 850, AvgPx: px})
	report(fix.ExecReport{ExecID: "X3", ExecRefID: "V9", ExecType: 'H', OrdStatus: '1', CumQty: 150, LeavesQty: 850, AvgPx: px})
	report(fix.ExecReport{ExecID: "X4", ExecRefID: "X2", ExecType: 'D', ExecTransType: '2', OrdStatus: '0', CumQty: 0, LeavesQty: 1000})
	report(fix.ExecReport{ExecID: "R1", ExecType: 'D', OrdStatus: '0', CumQty: 0, LeavesQty: 1000})
	want := []string{
		"trade_canceled core:V1", "trade_corrected core:V2", "trade_canceled core:V9", "trade_canceled core:V2", "restated ",
	}
	var got []string
	nextRaw(t, c, func(m rawMessage) bool {
		if m.str("type") != "exec" || m.str("execType") == "trade" {
			return false
		}
		got = append(got, m.str("execType")+" "+m.str("execRefId"))
		return len(got) == len(want)
	})
	if !slices.Equal(got, want) {
		t.Fatalf("exec events (execType execRefId) %q; want %q", got, want)
	}
}

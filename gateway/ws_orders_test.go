package gateway

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/fix"
	"sgw/gateway/mdclient"
	"sgw/journal"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// ackingUpstream answers every new order with an acknowledgement and every
// cancel with a cancellation, as an exchange would, or with onCancel when
// it is set (on a goroutine of its own).
type ackingUpstream struct {
	mu       sync.Mutex
	m        *orders.Manager
	n        int
	onCancel func(m *orders.Manager, r fix.CancelRequest)
}

func (u *ackingUpstream) answer(er fix.ExecReport) {
	u.mu.Lock()
	u.n++
	er.ExecID = fmt.Sprintf("e%d", u.n)
	m := u.m
	u.mu.Unlock()
	go m.OnExecReport("core", er)
}

// Send implements orders.Upstream.
func (u *ackingUpstream) Send(req any) error {
	if p, ok := req.(fix.Prepared); ok {
		req = p.Request()
	}
	switch r := req.(type) {
	case fix.NewOrder:
		u.answer(fix.ExecReport{ClOrdID: r.ClOrdID, OrderID: "X" + r.ClOrdID, ExecType: '0', OrdStatus: '0', LeavesQty: r.Qty})
	case fix.CancelRequest:
		if u.onCancel != nil {
			u.mu.Lock()
			m := u.m
			u.mu.Unlock()
			go u.onCancel(m, r)
			break
		}
		u.answer(fix.ExecReport{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, ExecType: '4', OrdStatus: '4'})
	}
	return nil
}

// Handed implements orders.Upstream.
func (u *ackingUpstream) Handed(string) fix.Handed { return fix.HandedNo }

// ResumeInboundAfter implements orders.Upstream.
func (u *ackingUpstream) ResumeInboundAfter(int, int64) {}

// Queued implements orders.Upstream: nothing waits in a queue.
func (u *ackingUpstream) Queued() uint64 { return 0 }

// Left implements orders.Upstream.
func (u *ackingUpstream) Left() uint64 { return 0 }

func newOrderEnv(t *testing.T) (*wsEnv, string) {
	t.Helper()
	e, tok, _ := newOrderEnvWith(t, &ackingUpstream{}, nil)
	return e, tok
}

// newOrderEnvWith is newOrderEnv with the upstream up and, when edit is
// not nil, a risk configuration it changes; it returns the manager too.
func newOrderEnvWith(t *testing.T, up *ackingUpstream, edit func(*risk.Config)) (*wsEnv, string, *orders.Manager) {
	t.Helper()
	books := newTestBooks(t, testSymbols...)
	rcfg := risk.Config{
		Instruments: books.ins,
		Accounts:    []risk.AccountConfig{{ID: "A1", Cash: 10_000_000 * refdata.PriceScale}, {ID: "B9", Cash: refdata.PriceScale}},
		Schedule:    risk.ScheduleConfig{AlwaysOpen: true},
	}
	if edit != nil {
		edit(&rcfg)
	}
	rc, err := risk.New(rcfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	j, err := journal.Open(journal.Config{Path: filepath.Join(t.TempDir(), "j")})
	if err != nil {
		t.Fatal(err)
	}
	m, err := orders.New(orders.Config{}, rc, j, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { j.Close(); m.Close() })
	up.mu.Lock()
	up.m = m
	up.mu.Unlock()
	m.AddUpstream("core", up)
	if _, err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	m.OnSessionUp("core", "test")
	v, _ := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	reg := prometheus.NewRegistry()
	srv, err := New(Config{Admins: []string{"ops"}}, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v, Orders: m, Admin: m})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, srv, books, reg, v)
	tok, _ := v.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	return e, tok, m
}

func TestWSOrders(t *testing.T) {
	e, tok := newOrderEnv(t)
	c := e.dial(tok)
	ctx := context.Background()
	send := func(v any) {
		t.Helper()
		if err := c.Send(ctx, v); err != nil {
			t.Fatal(err)
		}
	}
	send(map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{"A1"}})
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "subscribed" })
	send(map[string]any{"op": "order.new", "clOrdId": "c1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
	var accepted, ack bool
	collect(t, c, func(m mdclient.Message) bool {
		accepted = accepted || m.Type == "accepted"
		ack = ack || (m.Type == "exec" && m.ExecType == "new" && m.Status == "new" && m.ClOrdID == "c1")
		return accepted && ack
	})

	for _, tc := range []struct{ name, raw, code string }{
		{"zero qty", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":0}`, codeBadOrder},
		{"negative qty", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":-100}`, codeBadOrder},
		{"bad price", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","price":"17oo","qty":100}`, codeBadOrder},
		{"unknown side", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"short","price":"1700.00","qty":100}`, codeBadOrder},
		{"market order", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","type":"market","price":"1700.00","qty":100}`, codeBadOrder},
		{"missing account", `{"op":"order.new","clOrdId":"c2","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, codeBadOrder},
		{"account not in token", `{"op":"order.new","clOrdId":"c2","account":"B9","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, codeForbidden},
		{"price band", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","price":"1900.00","qty":100}`, "risk.price_band"},
		{"odd lot", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":150}`, "risk.lot"},
		{"duplicate id", `{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "risk.duplicate_clordid"},
		{"cancel unknown", `{"op":"order.cancel","clOrdId":"x9","origClOrdId":"nope","account":"A1"}`, "orders.unknown_order"},
	} {
		t.Run(tc.name, func(t *testing.T) { expectError(t, c, tc.raw, tc.code) })
	}

	send(map[string]any{"op": "order.cancel", "clOrdId": "x1", "origClOrdId": "c1", "account": "A1"})
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "exec" && m.Status == "canceled" && m.Ref == "x1" })
	send(map[string]any{"op": "orders.list", "account": "A1"})
	collect(t, c, func(m mdclient.Message) bool {
		return m.Type == "orders" && len(m.Orders) == 1 && m.Orders[0].ClOrdID == "c1" && m.Orders[0].Status == "canceled"
	})

	// One code for an unknown order, whether the gateway never had it, it
	// is done (risk's refusal), or a status request names none; and every
	// refusal of an order request names it in ref.
	rc := dialRaw(t, e.url, tok)
	for _, tc := range []struct{ name, raw, code, ref string }{
		{"cancel of a canceled order", `{"op":"order.cancel","clOrdId":"x2","origClOrdId":"c1","account":"A1"}`, orders.CodeUnknownOrder, "x2"},
		{"cancel of no order", `{"op":"order.cancel","clOrdId":"x3","origClOrdId":"nope","account":"A1"}`, orders.CodeUnknownOrder, "x3"},
		{"status of no order", `{"op":"order.status","clOrdId":"nope","account":"A1"}`, orders.CodeUnknownOrder, "nope"},
		{"account not in token", `{"op":"order.new","clOrdId":"c7","account":"B9","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, codeForbidden, "c7"},
		{"price band", `{"op":"order.new","clOrdId":"c8","account":"A1","symbol":"600519.SH","side":"buy","price":"1900.00","qty":100}`, "risk.price_band", "c8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := rc.ask(tc.raw, "error")
			if got["code"] != tc.code || got["ref"] != tc.ref {
				t.Fatalf("%s: %v, want code %s and ref %s", tc.raw, got, tc.code, tc.ref)
			}
		})
	}

	// Without a token, no orders.
	anon := dialRaw(t, e.url, "")
	if got := anon.ask(`{"op":"order.new","clOrdId":"c5","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "error"); got["code"] != codeAuthRequired || got["ref"] != "c5" {
		t.Fatalf("order without a token: %v, want %s with ref c5", got, codeAuthRequired)
	}
}

func TestAdminKill(t *testing.T) {
	e, tok := newOrderEnv(t)
	v := e.auth
	admin := operatorToken(t, v, "ops")
	post := func(token, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.http.URL+"/api/v1/admin/kill", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("", `{"account":"A1","on":true}`); code != http.StatusUnauthorized {
		t.Fatalf("no token: %d", code)
	}
	if code := post(tok, `{"account":"A1","on":true}`); code != http.StatusForbidden {
		t.Fatalf("trader token: %d", code)
	}
	// A body without the account, or with more after it, or giving a
	// field twice, changes no switch: before, {"on":true} turned every
	// account's (the whole firm's trading stopped), a second JSON value
	// was ignored, and of a field given twice the last was taken.
	for _, body := range []string{`{"account":"A1"}`, `{"on":true}`, `{"account":"A1","on":false}{"account":"","on":true}`,
		`{"account":"A1","on":true,"account":""}`, `{"account":"A1","Account":"","on":true}`, `{"account":"A1","on":false,"ON":true}`} {
		if code := post(admin, body); code != http.StatusBadRequest {
			t.Fatalf("bad body %s: %d", body, code)
		}
	}
	c0 := e.dial(tok)
	mustSend(t, c0, map[string]any{"op": "order.new", "clOrdId": "k0", "account": "A1", "symbol": "600519.SH", "side": "buy", "price": "1700.00", "qty": 100})
	collect(t, c0, func(m mdclient.Message) bool {
		if m.Type == "error" {
			t.Fatalf("after refused kill requests, an order was refused: %s %s", m.Code, m.Msg)
		}
		return m.Type == "accepted" && m.ClOrdID == "k0"
	})
	if code := post(admin, `{"account":"A1","on":true}`); code != http.StatusOK {
		t.Fatalf("kill: %d", code)
	}
	c := e.dial(tok)
	expectError(t, c, `{"op":"order.new","clOrdId":"k1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "risk.kill_switch")
	if code := post(admin, `{"account":"A1","on":false}`); code != http.StatusOK {
		t.Fatalf("unkill: %d", code)
	}
	if err := c.Send(context.Background(), map[string]any{"op": "order.new", "clOrdId": "k2", "account": "A1", "symbol": "600519.SH", "side": "buy", "price": "1700.00", "qty": 100}); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "accepted" && m.ClOrdID == "k2" })
}

// TestWSReauthNarrows: a client that authenticates again with a token
// granting fewer accounts stops receiving the others' order events at
// once, is told which, and may still unsubscribe (before, it kept
// receiving them and could not unsubscribe).
func TestWSReauthNarrows(t *testing.T) {
	e, _ := newOrderEnv(t)
	wide, _ := e.auth.IssueFor("u1", []string{"A1", "B9"}, time.Hour, time.Now())
	narrow, _ := e.auth.IssueFor("u1", []string{"A1"}, time.Hour, time.Now())
	c := e.dial(wide)
	other := e.dial(wide)
	send := func(c *mdclient.Client, v any) { t.Helper(); mustSend(t, c, v) }
	send(c, map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{"A1", "B9"}})
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "subscribed" })

	send(c, map[string]any{"op": "auth", "token": narrow})
	var notice bool
	collect(t, c, func(m mdclient.Message) bool {
		notice = notice || m.Type == "unsubscribed" && len(m.Accounts) == 1 && m.Accounts[0] == "B9"
		return notice
	})

	// B9's order, then A1's: the narrowed client sees only A1's.
	send(other, map[string]any{"op": "order.new", "clOrdId": "b1", "account": "B9", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
	collect(t, other, func(m mdclient.Message) bool { return m.ClOrdID == "b1" || m.Ref == "b1" })
	send(other, map[string]any{"op": "order.new", "clOrdId": "a1", "account": "A1", "symbol": "600519.SH", "side": "buy", "type": "limit", "price": "1700.00", "qty": 100})
	collect(t, c, func(m mdclient.Message) bool {
		if m.ClOrdID == "b1" || m.Account == "B9" {
			t.Fatalf("order event of B9 after the narrowed auth: %+v", m)
		}
		return m.ClOrdID == "a1" && m.Type == "exec"
	})

	// Unsubscribing is always allowed, even from an account the token no
	// longer grants.
	send(c, map[string]any{"op": "unsubscribe", "channel": "orders", "accounts": []string{"B9", "A1"}})
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "unsubscribed" && len(m.Accounts) == 2 })
}

// TestWSTokenWithinLeeway: a token past its exp but within the verifier's
// leeway is accepted and the janitor does not close the connection at
// once (before, it was accepted and then closed at the next inspection);
// once the leeway has passed too, the janitor closes it.
func TestWSTokenWithinLeeway(t *testing.T) {
	e, _ := newOrderEnv(t)
	now := time.Now()
	tok, err := e.auth.IssueFor("u1", []string{"A1"}, time.Second, now.Add(-3*time.Second)) // expired 2 s ago; leeway 5 s
	if err != nil {
		t.Fatal(err)
	}
	c := e.dial(tok)
	if err := c.Send(context.Background(), map[string]any{"op": "ping", "id": 1}); err != nil {
		t.Fatal(err)
	}
	collect(t, c, func(m mdclient.Message) bool { return m.Type == "pong" })
	w := e.srv.ws
	w.mu.Lock()
	var cl *client
	for x := range w.clients {
		cl = x
	}
	w.mu.Unlock()
	if cl == nil {
		t.Fatal("no client")
	}
	w.inspect(context.Background(), cl, now)
	if cl.isClosed() {
		t.Fatal("a token within the leeway was closed at once")
	}
	w.inspect(context.Background(), cl, now.Add(10*time.Second))
	if !cl.isClosed() {
		t.Fatal("a token past exp and leeway was not closed")
	}
}

// mustSend sends v to the server on c.
func mustSend(t *testing.T, c *mdclient.Client, v any) {
	t.Helper()
	if err := c.Send(context.Background(), v); err != nil {
		t.Fatal(err)
	}
}

// TestWSExpiredTokenTradesNothing: a token past its exp and the
// verifier's leeway places, cancels and watches nothing, although the
// janitor has not closed its connection yet (before, it traded until the
// janitor's next inspection, up to a second). The request clock is moved
// forward; the janitor keeps the real one.
func TestWSExpiredTokenTradesNothing(t *testing.T) {
	e, _ := newOrderEnv(t)
	var ahead atomic.Int64
	e.srv.ws.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	tok, err := e.auth.IssueFor("u1", []string{"A1"}, time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	rc := dialRaw(t, e.url, tok)
	if got := rc.ask(`{"op":"order.new","clOrdId":"e1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "accepted"); got["ref"] != "e1" {
		t.Fatalf("order with a valid token: %v", got)
	}
	ahead.Store(int64(2 * time.Minute)) // past exp (1 min) and the leeway (5 s)
	for _, tc := range []struct{ raw, ref string }{
		{`{"op":"order.new","clOrdId":"e2","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "e2"},
		{`{"op":"order.cancel","clOrdId":"x1","origClOrdId":"e1","account":"A1"}`, "x1"},
		{`{"op":"subscribe","channel":"orders","accounts":["A1"]}`, ""},
	} {
		if got := rc.ask(tc.raw, "error"); got["code"] != codeBadToken || (tc.ref != "" && got["ref"] != tc.ref) {
			t.Fatalf("%s with an expired token: %v, want %s", tc.raw, got, codeBadToken)
		}
	}
	if _, err := e.srv.ws.orders.Status("A1", "e2"); err == nil {
		t.Error("an expired token's order reached the order manager")
	}
	if o, err := e.srv.ws.orders.Status("A1", "e1"); err != nil || o.Status.Terminal() {
		t.Errorf("an expired token's cancel reached the order manager: %+v, %v", o, err)
	}
}

package gateway

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/gateway/mdclient"
	"sgw/orders"
)

// TestServeShutdown ends Serve's context with three WebSocket clients and
// an HTTP request in flight: a client that reads, one that never reads
// (it cannot answer the close), one that never reads and whose writer is
// blocked on a full socket, and a handler that does not return. Serve
// must close every connection with 1001 and a reason, cut what does not
// cooperate (the deaf clients' TCP connections, the request), return nil
// and refuse new connections. Nothing here waits for a duration: the
// deaf clients and the handler would hold an unbounded shutdown forever.
func TestServeShutdown(t *testing.T) {
	books := newTestBooks(t, testSymbols...)
	reg := prometheus.NewRegistry()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{ShutdownTimeout: 300 * time.Millisecond, WS: WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10,
		CloseTimeout: 2 * time.Second, SlowTimeout: time.Hour, PingInterval: time.Hour, IdleTimeout: 2 * time.Hour}}
	srv, err := New(cfg, Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v, Orders: newFakeEntry()})
	if err != nil {
		t.Fatal(err)
	}
	hung, release := make(chan struct{}), make(chan struct{})
	t.Cleanup(func() { close(release) })
	srv.mux.HandleFunc("GET /test/hang", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		http.NewResponseController(w).Flush()
		close(hung)
		<-release // ignores its context, which ends with Serve's
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx, ln) }()
	<-srv.ws.started
	e := &wsEnv{t: t, books: books, srv: srv, url: "ws://" + ln.Addr().String() + "/ws", rng: rand.New(rand.NewPCG(3, 4)),
		live: map[int][]uint64{}, reg: reg, auth: v}

	// A client that reads until the server closes it.
	reader := e.dial("")
	if err := reader.Subscribe(ctx, "book", 10, nil, testSymbols...); err != nil {
		t.Fatal(err)
	}
	readerDone := make(chan error, 1)
	go func() {
		rctx, rcancel := context.WithTimeout(context.Background(), testBound)
		defer rcancel()
		for {
			if _, err := reader.Next(rctx); err != nil {
				readerDone <- err
				return
			}
		}
	}()
	// A client that never reads, with nothing queued: the close frame
	// reaches its socket, but it never answers.
	dctx, dcancel := context.WithTimeout(context.Background(), testBound)
	defer dcancel()
	deaf, _, err := websocket.Dial(dctx, e.url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer deaf.CloseNow()
	// A client that never reads and is sent so much that the server's
	// writer blocks: its backlog is dropped (a resync) once the writer
	// cannot keep up.
	waitUntil(t, func() bool { return metricValue(t, reg, "gateway_ws_clients", "") == 2 })
	stalled := e.dialStalled()
	for _, ch := range []string{"book", "quote", "trades"} {
		depth := 0
		if ch == "book" {
			depth = 20
		}
		if err := stalled.Subscribe(ctx, ch, depth, nil, testSymbols...); err != nil {
			t.Fatal(err)
		}
	}
	for metricValue(t, reg, "gateway_ws_slow_client_resyncs_total", "") == 0 {
		e.flow(100)
	}
	// An HTTP request whose handler does not return.
	httpDone := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/test/hang")
		if err == nil {
			_, err = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		httpDone <- err
	}()
	<-hung

	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(testBound):
		t.Fatal("Serve did not return")
	}

	err = <-readerDone
	var ce websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.StatusGoingAway || ce.Reason != reasonShutdown {
		t.Errorf("the reading client ended with %v, want close 1001 %q", err, reasonShutdown)
	}
	// The deaf client finds the close in its socket, then the end of the
	// connection.
	if _, _, err := deaf.Read(dctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Errorf("the deaf client read %v, want close 1001", err)
	}
	// The stalled client's connection was closed too (counted below); what
	// its socket still holds trickles in at loopback's pace for a receive
	// buffer this small, so the test does not read it.
	if err := <-httpDone; err == nil {
		t.Error("the hung HTTP request completed; want it cut")
	}
	if n := metricValue(t, reg, "gateway_ws_forced_closes_total", ""); n < 2 {
		t.Errorf("gateway_ws_forced_closes_total = %v, want at least 2 (the deaf and the stalled client)", n)
	}
	if n := metricValue(t, reg, "gateway_ws_clients", ""); n != 0 {
		t.Errorf("gateway_ws_clients = %v after Serve returned", n)
	}
	if c, _, err := websocket.Dial(dctx, e.url, nil); err == nil {
		c.CloseNow()
		t.Error("a connection was accepted after Serve returned")
	}
}

// TestStopOrders stops order requests while one is inside the order
// entry: StopOrders waits for it, later order.new, order.cancel and
// order.replace are refused with orders.stopping and never reach the
// order entry, while order.status and orders.list still answer.
func TestStopOrders(t *testing.T) {
	f := newFakeEntry()
	f.seed("A1", 2)
	hold, entered := make(chan struct{}), make(chan struct{}, 1)
	f.hold, f.entered = hold, entered
	e, tok := newFakeEntryEnv(t, WSConfig{}, f)
	first, second := e.dial(tok), e.dial(tok)
	ctx := context.Background()
	if err := first.SendRaw(ctx, []byte(`{"op":"order.new","clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`)); err != nil {
		t.Fatal(err)
	}
	<-entered // c1 is inside the order entry

	t.Run("a bounded wait ends with the context", func(t *testing.T) {
		sctx, scancel := context.WithCancel(ctx)
		scancel()
		if err := e.srv.StopOrders(sctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("StopOrders with c1 in flight and an ended context: %v", err)
		}
	})
	stopped := make(chan error, 1)
	go func() { stopped <- e.srv.StopOrders(ctx) }()
	waitUntil(t, e.srv.ws.gate.isStopped)

	for _, tc := range []struct{ name, raw, ref string }{
		{"new", `{"op":"order.new","clOrdId":"c2","account":"A1","symbol":"600519.SH","side":"buy","price":"1700.00","qty":100}`, "c2"},
		{"cancel", `{"op":"order.cancel","clOrdId":"x1","origClOrdId":"c1","account":"A1"}`, "x1"},
		{"replace", `{"op":"order.replace","clOrdId":"r1","origClOrdId":"c1","account":"A1","price":"1699.00","qty":100}`, "r1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := second.SendRaw(ctx, []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			m, line := nextRaw(t, second, func(m rawMessage) bool { return m.str("type") == "error" || m.str("type") == "accepted" })
			if m.str("code") != orders.CodeStopping || m.str("ref") != tc.ref {
				t.Fatalf("got %s, want error %s with ref %s", line, orders.CodeStopping, tc.ref)
			}
		})
	}
	if err := second.SendRaw(ctx, []byte(`{"op":"order.status","clOrdId":"A1-00000000000000000000000000001","account":"A1"}`)); err != nil {
		t.Fatal(err)
	}
	if m, line := nextRaw(t, second, func(m rawMessage) bool { return m.str("type") == "status" || m.str("type") == "error" }); m.str("type") != "status" {
		t.Fatalf("order.status after StopOrders: %s", line)
	}
	if err := second.SendRaw(ctx, []byte(`{"op":"orders.list","account":"A1"}`)); err != nil {
		t.Fatal(err)
	}
	if m, line := nextRaw(t, second, func(m rawMessage) bool { return m.str("type") == "orders" || m.str("type") == "error" }); string(m["total"]) != "2" {
		t.Fatalf("orders.list after StopOrders: %s", line)
	}

	select {
	case err := <-stopped:
		t.Fatalf("StopOrders returned (%v) while c1 was inside the order entry", err)
	default:
	}
	close(hold)
	if err := <-stopped; err != nil {
		t.Fatalf("StopOrders: %v", err)
	}
	f.mu.Lock()
	returned := f.returned
	f.mu.Unlock()
	if returned != 1 {
		t.Fatalf("StopOrders returned before c1 left the order entry (%d returned)", returned)
	}
	collect(t, first, func(m mdclient.Message) bool { return m.Type == "accepted" && m.Ref == "c1" })
	if calls := f.Calls(); len(calls) != 1 || calls[0] != "new c1 A1" {
		t.Fatalf("calls after StopOrders: %q", calls)
	}
	if err := e.srv.StopOrders(ctx); err != nil {
		t.Fatalf("StopOrders again: %v", err)
	}
}

// TestWSRefusedWhileStopping checks that an upgrade after shutdown began
// is refused with 503.
func TestWSRefusedWhileStopping(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
	c := e.dial("")
	done := make(chan struct{})
	go func() { defer close(done); e.srv.ws.shutdown() }()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	if _, err := c.Next(ctx); websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("open connection: %v, want close 1001", err)
	}
	<-done
	_, resp, err := mdclient.Dial(ctx, e.url, mdclient.Options{})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("upgrade after shutdown: %v %v, want 503", resp, err)
	}
}

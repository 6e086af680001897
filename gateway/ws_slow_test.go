package gateway

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"testing"
	"time"

	"sgw/feed/event"
	"sgw/gateway/mdclient"
)

// dialStalled connects a client that will never read, with a tiny socket
// receive buffer, and makes the server's send buffer for it as small, so
// the server's writes back up quickly (the kernel would otherwise let
// megabytes wait in the server's socket). No other client may connect
// meanwhile.
func (e *wsEnv) dialStalled() *mdclient.Client {
	e.t.Helper()
	known := e.srv.ws.snapshotClients()
	d := &net.Dialer{}
	hc := &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err == nil {
			_ = c.(*net.TCPConn).SetReadBuffer(4096)
		}
		return c, err
	}}}
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	c, _, err := mdclient.Dial(ctx, e.url, mdclient.Options{HTTPClient: hc})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Conn().CloseNow() })
	var server *client
	waitUntil(e.t, func() bool {
		for _, sc := range e.srv.ws.snapshotClients() {
			if !slices.Contains(known, sc) {
				server = sc
				return true
			}
		}
		return false
	})
	if err := tcpConn(server.raw).SetWriteBuffer(4096); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// TestWSStalledClient stops one client reading: it must be resynced, then
// closed, while the other clients' streams stay complete and in order and
// the books keep moving.
func TestWSStalledClient(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10, SlowTimeout: 300 * time.Millisecond})
	ctx := context.Background()
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
	var fast []*mdclient.Client
	for i := range 4 {
		c := e.dial("")
		if err := c.Subscribe(ctx, "book", bookDepths[i%3], nil, testSymbols...); err != nil {
			t.Fatal(err)
		}
		fast = append(fast, c)
	}
	// Bursts of flow; the reading clients drain after each, the stalled
	// one never reads.
	deadline := time.Now().Add(testBound)
	for metricValue(t, e.reg, "gateway_ws_slow_client_disconnects_total", "") == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("stalled client never disconnected; resyncs %v", metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", ""))
		}
		e.flow(100)
		for _, c := range fast {
			drain(t, c, e.caughtUp(c, testSymbols...))
		}
	}
	e.flow(300) // the others carry on after the disconnect
	if metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", "") == 0 {
		t.Fatal("the stalled client was disconnected without first being resynced")
	}
	for _, c := range fast {
		drain(t, c, e.caughtUp(c, testSymbols...))
		if c.Stats.Violations() != 0 || c.Stats.Resyncs != 0 {
			t.Fatalf("a reading client was affected by the stalled one: %+v", c.Stats)
		}
		for _, s := range testSymbols {
			e.sameAsEngine(c, s)
		}
	}
	waitUntil(t, func() bool { return metricValue(t, e.reg, "gateway_ws_clients", "") == 4 })
}

// leftBehind starts a server holding 64 updates of history per symbol
// and returns it, with a client that took a depth-10 copy of its first
// symbol at seq from and left, after which the book moved on by at least
// 30 updates.
func leftBehind(t *testing.T) (e *wsEnv, sym string, first *mdclient.Client, from uint64) {
	t.Helper()
	e = newWSEnv(t, WSConfig{AnonymousMarketData: true, History: 64})
	sym = testSymbols[0]
	e.flow(100)
	first = e.dial("")
	if err := first.Subscribe(context.Background(), "book", 10, nil, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, first, e.caughtUp(first, sym))
	first.Close()
	from = first.Books[sym].Seq
	for e.books.seq(0) < from+30 {
		e.flow(10)
	}
	return e, sym, first, from
}

func TestWSResume(t *testing.T) {
	e, sym, first, from := leftBehind(t)
	ctx := context.Background()

	// Within the history: exactly the missed updates, no snapshot.
	again := e.dial("")
	again.Books = first.Books
	if err := again.SubscribeResume(ctx, 10, sym); err != nil { // its seq and checksum
		t.Fatal(err)
	}
	drain(t, again, e.caughtUp(again, sym))
	missed := e.books.seq(0) - from
	if again.Stats.Snapshots != 0 || again.Stats.Updates != missed || again.Stats.Violations() != 0 {
		t.Fatalf("resume from %d: %+v, want exactly %d updates", from, again.Stats, missed)
	}
	e.sameAsEngine(again, sym)

	// Within the history without a checksum: a snapshot. Nothing tells
	// the client's copy from another book at that seq (one of before a
	// restart, or of another ingest epoch: mdbus's
	// TestEdgeResumeAcrossEpochWithoutChecksum).
	trust := e.dial("")
	if err := trust.Subscribe(ctx, "book", 10, map[string]uint64{sym: from}, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, trust, e.caughtUp(trust, sym))
	if trust.Stats.Snapshots != 1 || trust.Stats.Updates != 0 || trust.Stats.Violations() != 0 {
		t.Fatalf("resume from %d without a checksum: %+v, want a snapshot", from, trust.Stats)
	}
	e.sameAsEngine(trust, sym)

	// Beyond the history: a snapshot.
	for e.books.seq(0) < from+200 {
		e.flow(20)
	}
	late := e.dial("")
	if err := late.Subscribe(ctx, "book", 10, map[string]uint64{sym: from}, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, late, e.caughtUp(late, sym))
	if late.Stats.Snapshots != 1 || late.Stats.Violations() != 0 {
		t.Fatalf("resume from a seq no longer held: %+v, want a snapshot", late.Stats)
	}
	e.sameAsEngine(late, sym)
}

// tcpConn unwraps the listener's connection types (see netsec) to the TCP
// connection.
func tcpConn(c net.Conn) *net.TCPConn {
	for {
		switch x := c.(type) {
		case *net.TCPConn:
			return x
		case interface{ NetConn() net.Conn }:
			c = x.NetConn()
		default:
			panic(fmt.Sprintf("%T is not a TCP connection", c))
		}
	}
}

// TestWSResumeOfAnotherBook: a client resumes with a copy at a seq the
// history holds, but of another book (the server restarted, or its books
// changed ingest epoch, since the client took it): its checksum there is
// not the book's, so it gets a snapshot, not updates applied to the wrong
// book. The true copy resumes with exactly the missed updates; a stale
// book is never resumed: its snapshot, marked stale, comes instead.
func TestWSResumeOfAnotherBook(t *testing.T) {
	e, sym, first, from := leftBehind(t)
	ctx := context.Background()
	copyOf := func(b *mdclient.Book) *mdclient.Book {
		c := *b
		c.Bids, c.Asks = slices.Clone(b.Bids), slices.Clone(b.Asks)
		return &c
	}

	other := e.dial("")
	forged := copyOf(first.Books[sym])
	forged.Bids[0].Qty++ // the same seq, another book
	other.Books[sym] = forged
	if err := other.SubscribeResume(ctx, 10, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, other, e.caughtUp(other, sym))
	if other.Stats.Snapshots != 1 || other.Stats.Violations() != 0 {
		t.Fatalf("resume of another book at seq %d: %+v, want a snapshot", from, other.Stats)
	}
	e.sameAsEngine(other, sym)
	if n := metricValue(t, e.reg, "gateway_ws_resumes_refused_total", ""); n != 1 {
		t.Fatalf("gateway_ws_resumes_refused_total %v, want 1", n)
	}

	same := e.dial("")
	same.Books[sym] = copyOf(first.Books[sym])
	if err := same.SubscribeResume(ctx, 10, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, same, e.caughtUp(same, sym))
	if missed := e.books.seq(0) - from; same.Stats.Snapshots != 0 || same.Stats.Updates != missed || same.Stats.Violations() != 0 {
		t.Fatalf("resume of the true copy from %d: %+v, want exactly %d updates", from, same.Stats, missed)
	}
	e.sameAsEngine(same, sym)

	// The book goes stale (its feed lost a range): the live subscriber
	// sees the mark on the update; a resume gets a snapshot marked stale.
	id, _ := e.books.Lookup(sym)
	if err := e.books.NewInput("stale").Apply(&event.Event{Kind: event.Stale, Symbol: uint32(id)}); err != nil {
		t.Fatal(err)
	}
	drain(t, same, func() bool { b := same.Books[sym]; return b.Stale && b.Seq == e.books.seq(0) })
	late := e.dial("")
	late.Books[sym] = copyOf(same.Books[sym])
	late.Books[sym].Stale = false // a client that would resume regardless
	if err := late.SubscribeResume(ctx, 10, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, late, func() bool { return late.Stats.Snapshots == 1 })
	if b := late.Books[sym]; !b.Stale || late.Stats.Updates != 0 {
		t.Fatalf("resume onto a stale book: %+v, stale %v; want its snapshot, marked stale", late.Stats, b.Stale)
	}
}

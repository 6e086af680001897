package gateway

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/auth"
	"sgw/feed/event"
	"sgw/gateway/mdclient"
	"sgw/orderbook"
	"sgw/refdata"
)

// serverSide returns the server's record of the only client connected.
func (e *wsEnv) serverSide() *client {
	e.t.Helper()
	cs := e.srv.ws.snapshotClients()
	if len(cs) != 1 {
		e.t.Fatalf("%d clients connected, want 1", len(cs))
	}
	return cs[0]
}

// queuedHas reports whether c's queue holds a message containing s.
func (c *client) queuedHas(s string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range c.queue {
		if bytes.Contains(m, []byte(s)) {
			return true
		}
	}
	return false
}

// queuedBytes returns how many bytes wait in c's queue.
func (c *client) queuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.queued
}

// TestWSRevocationNoticeSurvivesOverflow: a client authenticates again with
// a token that no longer grants the book of 600519.SH. The server ends that
// subscription and queues the "unsubscribed" notice (docs/PROTOCOL.md,
// "forbidden"). If the client is behind at that moment and its backlog
// overflows before it reads the notice, the notice is not lost with the
// market data: before, it was, and the client's copy of the book simply
// stopped changing, never marked stale and never explained, a frozen book
// shown as valid. Only market data goes with a backlog now; answers and
// notices stay queued, in order.
func TestWSRevocationNoticeSurvivesOverflow(t *testing.T) {
	books := newTestBooks(t, testSymbols...)
	reg := prometheus.NewRegistry()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{WS: WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10, SlowTimeout: time.Hour}},
		Deps{Market: books, PublishedDepth: 20, Registry: reg, Tokens: v})
	if err != nil {
		t.Fatal(err)
	}
	e := startEnv(t, srv, books, reg, v)
	issue := func(ent string) string { return viewerToken(t, v, ent) }
	ctx := context.Background()
	c := e.dialStalled()
	sc := e.serverSide()
	if err := c.Send(ctx, map[string]any{"op": "auth", "token": issue("*:L2")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "book", 20, nil, "600519.SH"); err != nil {
		t.Fatal(err)
	}
	if err := c.Subscribe(ctx, "quote", 0, nil, testSymbols...); err != nil {
		t.Fatal(err)
	}
	// The client does not read: its socket fills, then its queue.
	// Half the bound queued: the writer is stuck in a write.
	waitUntil(t, func() bool { e.flow(10); return sc.queuedBytes() > 32<<10 })

	// Authenticated again, level 1 everywhere: the SH book goes, the
	// quotes stay. The notice waits in the queue.
	if err := c.Send(ctx, map[string]any{"op": "auth", "token": issue("*:L1")}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return sc.queuedHas(`"unsubscribed"`) })

	// The quotes overflow the backlog.
	resyncs := metricValue(t, reg, "gateway_ws_slow_client_resyncs_total", "")
	waitUntil(t, func() bool {
		e.flow(20)
		return metricValue(t, reg, "gateway_ws_slow_client_resyncs_total", "") > resyncs
	})

	// The client reads everything, up to the answer of a ping sent last.
	if err := c.Send(ctx, map[string]any{"op": "ping", "id": "end"}); err != nil {
		t.Fatal(err)
	}
	notified := false
	readAll(t, c, func(m mdclient.Message) bool {
		if m.Type == "unsubscribed" && m.Channel == "book" {
			notified = true
		}
		return m.Type == "pong" && string(m.ID) == `"end"`
	})
	if !notified {
		b := c.Books["600519.SH"]
		t.Fatalf("the book subscription of 600519.SH was ended without notice: the client holds seq %d, stale %v, "+
			"while the server's book is at seq %d (stats %+v)", b.Seq, b.Stale, e.books.seq(0), c.Stats)
	}
}

// hubsAt waits until every hub has fanned out the engine's updates.
func (e *wsEnv) hubsAt() {
	e.t.Helper()
	waitUntil(e.t, func() bool {
		for _, h := range e.srv.ws.hubs {
			h.mu.Lock()
			for id, s := range h.syms {
				if s.seq != e.books.seq(int(id)) {
					h.mu.Unlock()
					return false
				}
			}
			h.mu.Unlock()
		}
		return true
	})
}

// TestWSTradesOverflowNotSilent: a trades subscriber falls behind and its
// backlog is dropped. Book subscribers get a snapshot flagged resync,
// quote subscribers a fresh quote; a trades subscriber must learn too that
// prints were lost (trade seqs have gaps by nature, so it cannot tell by
// itself). Before, it got nothing: prints vanished silently. It now gets
// {"ch":"trades","type":"resync","seq":N}: prints up to N may be missing.
func TestWSTradesOverflowNotSilent(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10, SlowTimeout: time.Hour})
	ctx := context.Background()
	var readers []*orderbook.Reader
	for sh := range e.books.Shards() {
		readers = append(readers, e.books.NewReader(sh))
	}
	c := e.dialStalled()
	if err := c.Subscribe(ctx, "trades", 0, nil, testSymbols...); err != nil {
		t.Fatal(err)
	}
	resyncs := metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", "")
	waitUntil(t, func() bool {
		e.flow(50)
		return metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", "") > resyncs
	})
	e.hubsAt()

	printed := map[string]int{}
	buf := make([]orderbook.Update, 1024)
	for _, rd := range readers {
		for {
			n, err := rd.Next(buf)
			if err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			for _, u := range buf[:n] {
				if u.Kind == orderbook.KindTrade {
					printed[e.books.Instrument(u.Symbol).Symbol]++
				}
			}
		}
		rd.Close()
	}

	// Read all, up to the answer of a ping sent once the client reads
	// again (what the writer queued when it got unstuck comes before it).
	got, told := map[string]int{}, map[string]bool{}
	for _, id := range []string{"unstuck", "end"} {
		if err := c.Send(ctx, map[string]any{"op": "ping", "id": id}); err != nil {
			t.Fatal(err)
		}
		readAll(t, c, func(m mdclient.Message) bool {
			if m.Ch == "trades" {
				if m.Type == "" {
					got[m.Sym]++
				} else {
					told[m.Sym] = true // any notice about the channel
				}
			}
			return m.Type == "pong" && string(m.ID) == `"`+id+`"`
		})
	}
	for _, s := range testSymbols {
		if got[s] < printed[s] && !told[s] {
			t.Errorf("%s: %d of %d trade prints delivered, and nothing told the client that the others were lost", s, got[s], printed[s])
		}
	}
}

// readAll reads frames from c, passing every message to f, until f has
// returned true for one of a frame's messages.
func readAll(t *testing.T, c *mdclient.Client, f func(m mdclient.Message) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	for done := false; !done; {
		msgs, err := c.Next(ctx)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		for _, m := range msgs {
			done = f(m) || done
		}
	}
}

// TestWSResyncSnapshotCarriesStale: a client has fallen behind and its
// backlog was dropped; the next update of a book it holds is replaced by a
// fresh snapshot. When that update is the one that marks the book stale
// (its feed lost messages), the snapshot must say so. Before, the hub
// encoded the snapshot before taking the update's state into its own, so
// it went out at the update's seq marked valid, and a book that then went
// quiet (a feed waiting to rebuild) was shown as valid for as long as it
// stayed stale. Found by TestWSFanoutProperty.
func TestWSResyncSnapshotCarriesStale(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true, QueueBytes: 64 << 10, SlowTimeout: time.Hour})
	ctx := context.Background()
	sym := testSymbols[0]
	e.books.add(t, 0, 'B', 17000000, 100)
	c := e.dialStalled()
	if err := c.Subscribe(ctx, "book", 20, nil, sym, testSymbols[1]); err != nil {
		t.Fatal(err)
	}
	// The other book moves until the client's backlog is dropped; the
	// writer stays stuck in a write the client does not read.
	resyncs := metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", "")
	for metricValue(t, e.reg, "gateway_ws_slow_client_resyncs_total", "") == resyncs {
		for range 20 {
			e.books.add(t, 1, 'S', refdata.Price(17000100+100*e.rng.IntN(30)), 100)
		}
		e.books.settle(t)
	}
	// The feed loses messages: the book is stale, and says nothing more.
	if err := e.books.NewInput("stale").Apply(&event.Event{Kind: event.Stale, Symbol: 0}); err != nil {
		t.Fatal(err)
	}
	e.hubsAt()
	if err := c.Send(ctx, map[string]any{"op": "ping", "id": "end"}); err != nil {
		t.Fatal(err)
	}
	readAll(t, c, func(m mdclient.Message) bool {
		b := c.Books[sym]
		return b != nil && b.Seq == e.books.seq(0) && m.Type == "pong"
	})
	if b := c.Books[sym]; !b.Stale {
		t.Fatalf("the client holds %s at seq %d (the books' %d), marked valid; the books are stale (stats %+v)",
			sym, b.Seq, e.books.seq(0), c.Stats)
	}
}

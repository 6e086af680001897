package feed_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/orderbook"
	"sgw/refdata"
	"sgw/sim"
	"sgw/sim/match"
)

var testInstruments = []refdata.Instrument{
	{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000},
	{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: 2000000},
	{Symbol: "600225.SH", Board: refdata.BoardST, PrevClose: 33300},
}

// checkSink sits between the arbiter and the books and checks, from the
// tracking numbers (when the stream follows the simulator's profile), that
// every sequence number arrives once and in order.
type checkSink struct {
	next       uint64 // only the arbiter's delivering goroutine touches it
	byTracking bool   // set before the feed runs
	inner      feed.Sink
	delivered  atomic.Uint64
	violations atomic.Uint64
}

func (c *checkSink) Apply(msg []byte, recv int64) error {
	if tracking := uint16(msg[3])<<8 | uint16(msg[4]); c.byTracking && tracking != uint16(c.next) {
		c.violations.Add(1)
	}
	c.next++
	c.delivered.Add(1)
	return c.inner.Apply(msg, recv)
}

// harness runs a simulator, a feed and the books on loopback.
type harness struct {
	t      *testing.T
	sim    *sim.Sim
	books  *orderbook.Engine
	feed   *feed.Feed
	sink   *checkSink
	cancel context.CancelFunc
	done   chan struct{}
}

type harnessOpts struct {
	backupTLS bool
	// backupTLCP serves the backup over TLCP (self-signed SM2 pair) and
	// has the feed dial it so.
	backupTLCP bool
	// primaryAddr / backupAddr override where the feed's sources connect
	// (a proxy or a fake server); given the simulator's addresses.
	primaryAddr, backupAddr func(primary, backup string) string
	tune                    func(*feed.Config)
}

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	scfg := sim.Config{Instruments: testInstruments, Rate: -1, Seed: 7, Username: "gw", Password: "pw",
		HeartbeatInterval: 100 * time.Millisecond, Logger: testLogger(t).With("c", "sim")}
	scfg.Backup.TLS.SelfSigned = o.backupTLS
	scfg.Backup.TLCP.SelfSigned = o.backupTLCP
	s, err := sim.New(scfg)
	if err != nil {
		t.Fatal(err)
	}
	books, err := orderbook.New(orderbook.Config{Instruments: testInstruments, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, b := s.Addr(sim.Primary).String(), s.Addr(sim.Backup).String()
	fcfg := feed.Config{
		Name:              "test",
		Primary:           feed.SourceConfig{Addr: p, Username: "gw", Password: "pw"},
		Backup:            feed.SourceConfig{Addr: b, Username: "gw", Password: "pw"},
		HeartbeatTimeout:  time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		ReconnectMin:      20 * time.Millisecond,
		ReconnectMax:      200 * time.Millisecond,
		CheckInterval:     10 * time.Millisecond,
		TrackingProfile:   true, // the simulator follows it
	}
	if o.primaryAddr != nil {
		fcfg.Primary.Addr = o.primaryAddr(p, b)
	}
	if o.backupAddr != nil {
		fcfg.Backup.Addr = o.backupAddr(p, b)
	}
	if o.backupTLS {
		fcfg.Backup.TLS = &feed.TLSConfig{CAPEM: string(s.CACertPEM())}
	}
	if o.backupTLCP {
		fcfg.Backup.TLCP = &feed.TLCPConfig{CAPEM: string(s.TLCPCACertPEM())}
	}
	if o.tune != nil {
		o.tune(&fcfg)
	}
	sink := &checkSink{next: 1, byTracking: fcfg.TrackingProfile, inner: feed.NewITCHDecoder(books, books.NewInput("test"))}
	f, err := feed.New(fcfg, sink, testLogger(t).With("c", "feed"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, sim: s, books: books, feed: f, sink: sink, cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(h.done)
		errs := make(chan error, 3)
		go func() { errs <- s.Run(ctx) }()
		go func() { errs <- books.Run(ctx) }()
		go func() { errs <- f.Run(ctx) }()
		for range 3 {
			if err := <-errs; err != nil {
				t.Errorf("component stopped: %v", err)
			}
		}
	}()
	t.Cleanup(h.stop)
	return h
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
}

// step makes the simulator publish n more order-flow events.
func (h *harness) step(n int) {
	h.t.Helper()
	if err := h.sim.Step(n); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor polls cond until it holds; the bound only keeps a broken test
// from hanging.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s; feed status %+v", what, h.feed.Status())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// caughtUp waits until the feed has delivered everything the simulator
// published and the books have applied it, then checks that nothing was lost
// or duplicated and that every book equals the one built from the
// simulator's own record and the simulator's matching engine.
func (h *harness) caughtUp() {
	h.t.Helper()
	want := h.sim.Next()
	h.waitFor(fmt.Sprintf("feed to deliver up to %d", want-1), func() bool { return h.feed.Next() >= want })
	st := h.feed.Status()
	if v := h.sink.violations.Load(); v != 0 || st.Lost != 0 || h.sink.delivered.Load() != want-1 {
		h.t.Fatalf("delivered %d of %d with %d order violations, %d lost", h.sink.delivered.Load(), want-1, v, st.Lost)
	}
	ref := referenceBooks(h.t, h.sim.Messages(1, want-1))
	h.waitFor("books to apply every message", func() bool {
		var v orderbook.View
		for sym, b := range ref {
			id, _ := h.books.Lookup(sym)
			if h.books.View(id, 1, &v); v.Seq != b.Seq() {
				return false
			}
		}
		return true
	})
	for sym, b := range ref {
		id, _ := h.books.Lookup(sym)
		var v orderbook.View
		h.books.View(id, 20, &v)
		bids, asks := b.Depth(orderbook.Bid, 20, nil), b.Depth(orderbook.Ask, 20, nil)
		if !slices.Equal(v.Bids, bids) || !slices.Equal(v.Asks, asks) {
			h.t.Fatalf("%s: gateway book differs from the record:\n bids %v\n want %v\n asks %v\n want %v", sym, v.Bids, bids, v.Asks, asks)
		}
		if ck, _ := b.Checksums(); v.Checksum != ck {
			h.t.Fatalf("%s: checksum %d, want %d", sym, v.Checksum, ck)
		}
		sb, sa := h.sim.Depth(sym, 20)
		if !sameLevels(v.Bids, sb) || !sameLevels(v.Asks, sa) {
			h.t.Fatalf("%s: gateway book differs from the matching engine:\n bids %v\n sim  %v\n asks %v\n sim  %v", sym, v.Bids, sb, v.Asks, sa)
		}
	}
}

// referenceBooks builds books from the simulator's record, one message at a
// time, with no feed in between.
func referenceBooks(t *testing.T, msgs [][]byte) map[string]*orderbook.Book {
	t.Helper()
	byFeed := map[string]refdata.Instrument{}
	for _, in := range testInstruments {
		v := in
		if err := v.Validate(); err != nil {
			t.Fatal(err)
		}
		byFeed[v.FeedSymbol] = v
	}
	books := map[string]*orderbook.Book{}
	locate := map[uint16]*orderbook.Book{}
	var m itch.Message
	var ev event.Event
	var u orderbook.Update
	for i, b := range msgs {
		if err := itch.Decode(b, &m); err != nil {
			t.Fatalf("record message %d: %v", i+1, err)
		}
		if m.Type == itch.TypeStockDirectory {
			in := byFeed[m.Symbol()]
			bk := orderbook.NewBook(in)
			books[in.Symbol], locate[m.StockLocate] = bk, bk
		}
		if bk := locate[m.StockLocate]; bk != nil && itch.Normalize(&m, &ev) {
			bk.Apply(&ev, &u)
		}
	}
	return books
}

func sameLevels(got []orderbook.Level, want []match.Level) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		if got[i].Price != want[i].Price || got[i].Qty != want[i].Qty {
			return false
		}
	}
	return true
}

package mdbus

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"sgw/auth"
	"sgw/gateway"
	"sgw/gateway/mdclient"
	"sgw/orderbook"
)

// servedEdge is an edge's gateway (WebSocket fan-out over the mirror),
// listening on loopback until stop.
type servedEdge struct {
	*runningEdge
	url  string
	reg  *prometheus.Registry
	stop func()
}

func serveEdge(t testing.TB, e *runningEdge) *servedEdge {
	t.Helper()
	reg := prometheus.NewRegistry()
	// A thousand clients dialing at once on a loaded machine may take
	// longer than the 5 s read_header_timeout to send their handshake
	// once connected: the edge then closes the connection, and the dial
	// fails ("server closed idle connection", "connection reset by peer"
	// in two failed runs with the machine at load 10 and more).
	// Likewise a client whose reader is starved that long answers no
	// ping within the 45 s idle_timeout, and is closed (98 of them once).
	srv, err := gateway.New(gateway.Config{ReadHeaderTimeout: testBound, ReadTimeout: testBound,
		WS: gateway.WSConfig{AnonymousMarketData: true, MaxConnectionsPerIP: 5000, IdleTimeout: 4 * testBound}},
		gateway.Deps{Market: e.Engine(), PublishedDepth: orderbook.DefaultMaxDepth, Registry: reg, Tokens: anonymousL2(t)})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ctx, ln); err != nil {
			t.Errorf("serve: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done; e.stop() }) }
	t.Cleanup(stop)
	return &servedEdge{runningEdge: e, url: "ws://" + ln.Addr().String() + "/ws", reg: reg, stop: stop}
}

// latencyCount returns how many observations the edge's ingest-to-write
// histogram holds.
func latencyCount(t testing.TB, reg *prometheus.Registry) uint64 {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "gateway_ws_ingest_to_write_seconds" {
			var m *dto.Metric = mf.GetMetric()[0]
			return m.GetHistogram().GetSampleCount()
		}
	}
	t.Fatal("no gateway_ws_ingest_to_write_seconds")
	return 0
}

// wsCounters lists reg's WebSocket counters that are not zero, for a
// failure's diagnosis.
func wsCounters(t testing.TB, reg *prometheus.Registry) string {
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			if v := m.GetCounter().GetValue(); strings.HasPrefix(mf.GetName(), "gateway_ws_") && v != 0 {
				fmt.Fprintf(&b, "%s%v=%v ", mf.GetName(), m.GetLabel(), v)
			}
		}
	}
	return b.String()
}

// TestEdgeKillClientsResume: 1,000 WebSocket clients on edge A, which is
// killed; updates go on while they are away; they reconnect to edge B and
// resume from the Seq each last saw. mdclient verifies every Seq and
// checksum: no gap, no duplicate, and no snapshot in place of the resume.
func TestEdgeKillClientsResume(t *testing.T) {
	const clients = 1000
	n := startNATS(t)
	g := newIngest(t, 4)
	startPublisher(t, n, g, "")
	a, b := serveEdge(t, startEdge(t, n, g, "")), serveEdge(t, startEdge(t, n, g, ""))
	g.flow(t, 1000)
	synced(t, g, a.Edge)
	synced(t, g, b.Edge)
	syms := make([]string, len(g.ins))
	for i, in := range g.ins {
		syms[i] = in.Symbol
	}

	var (
		ready, cut, done sync.WaitGroup
		reconnect        = make(chan struct{})
		target           atomic.Pointer[[]uint64]  // the Seq to reach on B
		dials            = make(chan struct{}, 50) // bounds concurrent dials
		failures         atomic.Int64
		firstFailure     atomic.Pointer[string]
	)
	fail := func(format string, err error) {
		failures.Add(1)
		s := format + ": " + err.Error()
		firstFailure.CompareAndSwap(nil, &s)
	}
	// Only ctx bounds a dial: http.DefaultTransport's 30 s connect
	// timeout ran out for 64 of the clients once, with this process's
	// thousand readers (under -race) starving the dialing goroutines on a
	// machine at load 10 and more.
	hc := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{}).DialContext}}
	dial := func(ctx context.Context, url string) *mdclient.Client {
		dials <- struct{}{}
		defer func() { <-dials }()
		c, _, err := mdclient.Dial(ctx, url, mdclient.Options{HTTPClient: hc})
		if err != nil {
			fail("dial", err)
			return nil
		}
		return c
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*testBound)
	defer cancel()
	ready.Add(clients)
	cut.Add(clients)
	done.Add(clients)
	for range clients {
		go func() {
			defer done.Done()
			c := dial(ctx, a.url)
			if c == nil {
				ready.Done()
				cut.Done()
				return
			}
			defer c.Conn().CloseNow()
			if err := c.Subscribe(ctx, "book", 20, nil, syms...); err != nil {
				fail("subscribe", err)
			}
			for len(c.Books) < len(syms) {
				if _, err := c.Next(ctx); err != nil {
					fail("read A", err)
					break
				}
			}
			ready.Done()
			for { // until edge A goes away
				if _, err := c.Next(ctx); err != nil {
					break
				}
			}
			cut.Done()
			snaps, resyncs := c.Stats.Snapshots, c.Stats.Resyncs
			<-reconnect
			nc := dial(ctx, b.url)
			if nc == nil {
				return
			}
			defer nc.Conn().CloseNow()
			nc.Books, nc.Stats = c.Books, c.Stats
			if err := nc.SubscribeResume(ctx, 20, syms...); err != nil { // each copy's seq and checksum
				fail("subscribe B", err)
				return
			}
			want := *target.Load()
			for !caughtUp(nc, syms, want) {
				if _, err := nc.Next(ctx); err != nil {
					fail("read B", err)
					return
				}
			}
			if v := nc.Stats.Violations(); v != 0 {
				fail("integrity", errors.New(nc.Stats.FirstViolation))
			}
			if nc.Stats.Snapshots != snaps {
				fail("resume", fmt.Errorf("%d snapshots (%d resyncs) instead of the missed updates",
					nc.Stats.Snapshots-snaps, nc.Stats.Resyncs-resyncs))
			}
		}()
	}
	ready.Wait()
	g.flow(t, 200) // seen on A
	synced(t, g, a.Edge)
	waitFor(t, "edge A to write updates", func() bool { return latencyCount(t, a.reg) > 0 })
	a.stop() // edge A dies: its clients are cut
	cut.Wait()
	g.flow(t, 200) // missed by every client
	synced(t, g, b.Edge)
	want := g.seqs()
	target.Store(&want)
	close(reconnect)
	done.Wait()
	if f := failures.Load(); f != 0 {
		t.Fatalf("%d failures, first: %s; edge B: %+v, %s", f, *firstFailure.Load(), b.Stats(), wsCounters(t, b.reg))
	}

	// Live updates on B are timed too (the resumed ones were replays).
	c, _, err := mdclient.Dial(ctx, b.url, mdclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Conn().CloseNow()
	if err := c.Subscribe(ctx, "book", 20, nil, syms...); err != nil {
		t.Fatal(err)
	}
	for len(c.Books) < len(syms) {
		if _, err := c.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	g.flow(t, 100)
	for c.Stats.Updates == 0 {
		if _, err := c.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "edge B to time a write", func() bool { return latencyCount(t, b.reg) > 0 })
}

// caughtUp reports whether c's books are at the Seqs in want.
func caughtUp(c *mdclient.Client, syms []string, want []uint64) bool {
	for i, s := range syms {
		if bk := c.Books[s]; bk == nil || bk.Seq < want[i] {
			return false
		}
	}
	return true
}

// anonymousL2 is a token verifier whose anonymous viewers may read book
// depth: a gateway without one grants them level 1 only.
func anonymousL2(t testing.TB) *auth.Verifier {
	t.Helper()
	v, err := auth.New(auth.Config{Secret: strings.Repeat("k", 32), Anonymous: auth.FullEntitlements()})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

package gateway

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// histogramCount returns how many observations histogram name in reg
// holds.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no %s", name)
	return 0
}

// TestWSIngestTimeOutOfRange: updates whose ingest time (Update.Recv) is
// after this node's clock (the ingest node's clock runs ahead, an edge's
// behind) or more than an hour before it (a clock set wrong, a publisher's
// bug), the extremes of an int64 included, are not latencies: they are
// counted in gateway_ws_ingest_time_out_of_range_total, not observed in
// gateway_ws_ingest_to_write_seconds, and one in range still is. Before,
// one ahead was observed as 0, in the lowest bucket, so a clock skew
// showed as the best latency, and one from 1970 as 56 years, in +Inf and
// the histogram's sum.
func TestWSIngestTimeOutOfRange(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
	sym := testSymbols[0]
	c := e.dial("")
	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	if err := c.Subscribe(ctx, "book", 10, nil, sym); err != nil {
		t.Fatal(err)
	}
	drain(t, c, func() bool { return c.Books[sym] != nil })
	const hist, out = "gateway_ws_ingest_to_write_seconds", "gateway_ws_ingest_time_out_of_range_total"
	now := time.Now().UnixNano()
	for i, recv := range []int64{now + int64(time.Hour), now - 2*int64(time.Hour), 1, -1, math.MinInt64, math.MaxInt64} {
		e.books.recv = recv
		e.books.add(t, 0, 'B', 17000000, 100)
		e.books.settle(t)
		drain(t, c, e.caughtUp(c, sym))
		// Observed (or counted) once the frame is written: after the
		// client may have read it.
		waitUntil(t, func() bool {
			return histogramCount(t, e.reg, hist)+uint64(metricValue(t, e.reg, out, "")) == uint64(i+1)
		})
	}
	if n, o := histogramCount(t, e.reg, hist), metricValue(t, e.reg, out, ""); n != 0 || o != 6 {
		t.Fatalf("%d observed, %v counted out of range; want 0 and 6", n, o)
	}
	e.books.recv = time.Now().UnixNano()
	e.books.add(t, 0, 'B', 17000000, 100)
	e.books.settle(t)
	drain(t, c, e.caughtUp(c, sym))
	waitUntil(t, func() bool { return histogramCount(t, e.reg, hist) == 1 })
}

package loadtest

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// TestWindowBeyondLargestBucket: a quantile in the +Inf bucket is
// reported as beyond the largest finite bound, and the report still
// encodes as JSON (which has no infinity; a loaded machine once failed a
// run on it).
func TestWindowBeyondLargestBucket(t *testing.T) {
	a := promHist{buckets: map[float64]float64{0.001: 0, 0.002: 0, math.Inf(1): 0}}
	b := promHist{count: 10, sum: 30, buckets: map[float64]float64{0.001: 6, 0.002: 6, math.Inf(1): 10}}
	h := window("x_seconds", a, b)
	if h.P50Us != 1000 || h.P99Us != 2000 || strings.Join(h.Above, ",") != "p99,p99.9" {
		t.Fatalf("window = %+v", h)
	}
	if _, err := json.Marshal(h); err != nil {
		t.Fatal(err)
	}
	if got := h.bound("p99", h.P99Us); got != ">2000" {
		t.Fatalf("bound = %q", got)
	}
}

// TestSameDay: a latency measured against the midnight before a run that
// went past the next midnight (the stamps start again from 0) is folded
// back; others are kept.
func TestSameDay(t *testing.T) {
	const day = 24 * time.Hour
	for _, tc := range []struct{ in, want time.Duration }{
		{3 * time.Millisecond, 3 * time.Millisecond},
		{-2 * time.Millisecond, -2 * time.Millisecond}, // clocks a little apart
		{day + 3*time.Millisecond, 3 * time.Millisecond},
		{day - 2*time.Millisecond, -2 * time.Millisecond},
		{-day + 5*time.Millisecond, 5 * time.Millisecond},
		{2*day + time.Second, time.Second},
	} {
		if got := sameDay(tc.in); got != tc.want {
			t.Errorf("sameDay(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

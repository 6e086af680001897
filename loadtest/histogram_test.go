package loadtest

import (
	"math"
	"testing"
	"time"
)

// stalledServer is a synthetic server that serves requests one at a time,
// instantly, except that it stalls for stall at stallAt: requests arriving
// during the stall complete when it ends. It runs in virtual time.
type stalledServer struct {
	stallAt, stall time.Duration
}

// complete returns when a request that arrives at t (since start) completes.
func (s stalledServer) complete(t time.Duration) time.Duration {
	if t >= s.stallAt && t < s.stallAt+s.stall {
		return s.stallAt + s.stall
	}
	return t
}

// TestOpenLoopMeasuresStalls runs 10 s of requests at 1,000/s against a
// server that stalls for 1 s in the middle. Measured open loop (from each
// request's intended start), the 1,000 requests sent during the stall see
// latencies spread evenly from 1 s down to 0, so p99 ≈ 900 ms. A closed-loop
// tester would have sent one request during the stall and reported a p99 of
// zero; HdrHistogram's correction of that single sample must recover the
// same distribution.
func TestOpenLoopMeasuresStalls(t *testing.T) {
	srv := stalledServer{stallAt: 5 * time.Second, stall: time.Second}
	start := time.Unix(1000, 0)
	open := NewRecorder("open")
	sched := newSchedule(start, 1000)
	for range 10000 {
		intended := sched.next()
		done := start.Add(srv.complete(intended.Sub(start)))
		open.Record(0, latency(intended, done))
	}

	// Closed loop: the next request goes when the previous completed.
	closed := NewRecorder("closed")
	corrected := NewRecorder("corrected")
	for now := time.Duration(0); now < 10*time.Second; {
		done := srv.complete(now)
		took := done - now
		closed.Record(0, took)
		corrected.RecordCorrected(0, took, time.Millisecond)
		now = max(done, now+time.Millisecond)
	}

	o, c, k := open.Snapshot(), closed.Snapshot(), corrected.Snapshot()
	near := func(name string, got int64, want time.Duration) {
		t.Helper()
		if math.Abs(float64(got)-float64(want)) > 0.02*float64(want)+float64(2*time.Millisecond) {
			t.Errorf("%s = %v, want about %v", name, time.Duration(got), want)
		}
	}
	if o.TotalCount() != 10000 {
		t.Fatalf("open loop recorded %d, want 10000", o.TotalCount())
	}
	near("open p99", o.ValueAtQuantile(99), 900*time.Millisecond)
	near("open p95", o.ValueAtQuantile(95), 500*time.Millisecond)
	near("open max", o.Max(), time.Second)
	if p := o.ValueAtQuantile(89); p > int64(2*time.Microsecond) {
		t.Errorf("open p89 = %v, want about 0: only the 10%% sent during the stall wait", time.Duration(p))
	}
	if p := c.ValueAtQuantile(99); p > int64(2*time.Microsecond) {
		t.Errorf("closed-loop p99 = %v: the uncorrected closed loop should hide the stall", time.Duration(p))
	}
	near("corrected p99", k.ValueAtQuantile(99), 900*time.Millisecond)
	near("corrected max", k.Max(), time.Second)
}

func TestRecorderMergesShards(t *testing.T) {
	r := NewRecorder("x")
	for i := range 1000 {
		r.Record(i, time.Duration(i+1)*time.Millisecond)
	}
	h := r.Snapshot()
	if h.TotalCount() != 1000 || h.Tag() != "x" {
		t.Fatalf("count %d tag %q", h.TotalCount(), h.Tag())
	}
	if p50 := time.Duration(h.ValueAtQuantile(50)); p50 < 499*time.Millisecond || p50 > 501*time.Millisecond {
		t.Fatalf("p50 %v", p50)
	}
	// Out-of-range values are clamped, not dropped.
	r.Record(0, 0)
	r.Record(0, time.Hour)
	if h := r.Snapshot(); h.TotalCount() != 1002 || time.Duration(h.Max()) < 99*time.Second {
		t.Fatalf("clamping: count %d max %v", h.TotalCount(), time.Duration(h.Max()))
	}
}

package loadtest

import (
	"sync"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range: 1 µs to 100 s, 3 significant digits, in nanoseconds.
const (
	histLowest  = int64(time.Microsecond)
	histHighest = int64(100 * time.Second)
	histDigits  = 3
)

// recorderShards spreads concurrent recording over independent histograms.
const recorderShards = 16

// Recorder is a latency histogram safe for concurrent use: values recorded
// by different goroutines go to different shards, merged on Snapshot.
type Recorder struct {
	name   string
	shards [recorderShards]struct {
		mu sync.Mutex
		h  *hdrhistogram.Histogram
		_  [40]byte
	}
}

// NewRecorder returns an empty recorder named name.
func NewRecorder(name string) *Recorder {
	r := &Recorder{name: name}
	for i := range r.shards {
		r.shards[i].h = hdrhistogram.New(histLowest, histHighest, histDigits)
	}
	return r
}

// Record records one latency. shard is any small integer that differs
// between goroutines (a client index); values below the histogram's range
// are clamped to it, above it to its top.
func (r *Recorder) Record(shard int, d time.Duration) {
	s := &r.shards[shard%recorderShards]
	s.mu.Lock()
	_ = s.h.RecordValue(clamp(int64(d)))
	s.mu.Unlock()
}

// RecordCorrected records one latency of an operation that was meant to
// start every interval: when the latency exceeds the interval, it also
// records the latencies the operations queued behind it would have seen
// (HdrHistogram's coordinated-omission correction).
func (r *Recorder) RecordCorrected(shard int, d, interval time.Duration) {
	s := &r.shards[shard%recorderShards]
	s.mu.Lock()
	_ = s.h.RecordCorrectedValue(clamp(int64(d)), int64(interval))
	s.mu.Unlock()
}

func clamp(v int64) int64 {
	return min(max(v, histLowest), histHighest)
}

// Snapshot returns the merged histogram.
func (r *Recorder) Snapshot() *hdrhistogram.Histogram {
	out := hdrhistogram.New(histLowest, histHighest, histDigits)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		out.Merge(s.h)
		s.mu.Unlock()
	}
	out.SetTag(r.name)
	return out
}

// Name returns the recorder's name.
func (r *Recorder) Name() string { return r.name }

package journal

import (
	"fmt"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/atrest"
)

// benchBody is the size of a typical JSON order event.
var benchBody = make([]byte, 200)

// BenchmarkAppendParallel measures blocking Appends from many goroutines
// (client sessions) on the local disk: records/s and how many records share
// each fsync. goroutines = parallelism x GOMAXPROCS. The /sm4 cases seal
// the journal with SM4-GCM (Config.Keys), otherwise the same.
func BenchmarkAppendParallel(b *testing.B) {
	for _, bc := range []struct {
		name        string
		noSync      bool
		parallelism int
	}{
		{name: "fsync/p1", parallelism: 1},
		{name: "fsync/p16", parallelism: 16},
		{name: "fsync/p64", parallelism: 64},
		{name: "nosync/p1", noSync: true, parallelism: 1},
		{name: "nosync/p16", noSync: true, parallelism: 16},
	} {
		for _, sealed := range []bool{false, true} {
			name, keys := bc.name, (*atrest.KeyRing)(nil)
			if sealed {
				name, keys = name+"/sm4", keyRing(b, "k1")
			}
			b.Run(name, func(b *testing.B) {
				benchAppendParallel(b, Config{Path: tempPath(b), NoSync: bc.noSync, Keys: keys}, nil, bc.parallelism)
			})
		}
	}
}

// benchAppendParallel runs blocking Appends on cfg (the file wrapped by
// wrap, when set) from parallelism x GOMAXPROCS goroutines.
func benchAppendParallel(b *testing.B, cfg Config, wrap func(*os.File) syncWriter, parallelism int) {
	var syncs atomic.Int64
	cfg.OnSync = func(int, int, time.Duration) { syncs.Add(1) }
	j, err := open(cfg, wrap)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(minFrameSize + len(benchBody)))
	b.SetParallelism(parallelism)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := j.Append(1, benchBody); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/float64(max(syncs.Load(), 1)), "records/fsync")
	if err := j.Close(); err != nil {
		b.Fatal(err)
	}
}

// fixedSync is a journal file whose fsync takes a fixed time and does
// nothing: a disk of constant latency, so that what else a commit costs
// (sealing, for one) is measured apart from a shared disk's noise.
type fixedSync struct {
	*os.File
	d time.Duration
}

func (f fixedSync) Sync() error {
	time.Sleep(f.d)
	return nil
}

// BenchmarkAppendFixedSync is BenchmarkAppendParallel on a disk whose fsync
// always takes 300 µs (this VM's disk, unloaded, takes about that for one
// record), plain and sealed.
func BenchmarkAppendFixedSync(b *testing.B) {
	wrap := func(f *os.File) syncWriter { return fixedSync{File: f, d: 300 * time.Microsecond} }
	for _, p := range []int{1, 16, 64} {
		for _, sealed := range []bool{false, true} {
			name, keys := fmt.Sprintf("p%d", p), (*atrest.KeyRing)(nil)
			if sealed {
				name, keys = name+"/sm4", keyRing(b, "k1")
			}
			b.Run(name, func(b *testing.B) {
				benchAppendParallel(b, Config{Path: tempPath(b), Keys: keys}, wrap, p)
			})
		}
	}
}

// BenchmarkAppendAsync measures one event-loop goroutine issuing
// AppendAsync with up to window records in flight.
func BenchmarkAppendAsync(b *testing.B) {
	for _, bc := range []struct {
		name   string
		noSync bool
		sealed bool
	}{
		{name: "fsync"}, {name: "fsync/sm4", sealed: true},
		{name: "nosync", noSync: true}, {name: "nosync/sm4", noSync: true, sealed: true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			const window = 4096
			var syncs atomic.Int64
			var keys *atrest.KeyRing
			if bc.sealed {
				keys = keyRing(b, "k1")
			}
			j := mustOpen(b, Config{Path: tempPath(b), NoSync: bc.noSync, Keys: keys,
				OnSync: func(int, int, time.Duration) { syncs.Add(1) }})
			slots := make(chan struct{}, window)
			done := func(_ uint64, err error) {
				if err != nil {
					b.Error(err)
				}
				<-slots
			}
			b.SetBytes(int64(minFrameSize + len(benchBody)))
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				slots <- struct{}{}
				if err := j.AppendAsync(1, benchBody, done); err != nil {
					b.Fatal(err)
				}
			}
			for range window {
				slots <- struct{}{}
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(b.N)/float64(max(syncs.Load(), 1)), "records/fsync")
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// BenchmarkAppendLatency paces AppendAsync calls at a fixed rate (on a
// 1 ms ticker, as an event loop handing on orders would; a busy-wait pacer
// starves the writer on a 2-CPU machine) and reports the latency from
// append to durable, the journal's share of order-in to FIX-out, and the
// commit (write + fsync) times. Run with -benchtime=Nx; N records take
// N/rate seconds.
func BenchmarkAppendLatency(b *testing.B) {
	for _, rate := range []int{5000, 12000} {
		b.Run(fmt.Sprintf("fsync/%d_per_s", rate), func(b *testing.B) {
			var syncs atomic.Int64
			var took []time.Duration // written by the writer goroutine only
			j := mustOpen(b, Config{Path: tempPath(b),
				OnSync: func(_, _ int, d time.Duration) { syncs.Add(1); took = append(took, d) }})
			lat := make([]time.Duration, b.N)
			var wg sync.WaitGroup
			wg.Add(b.N)
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; {
				<-tick.C
				due := min(b.N, int(time.Since(start)*time.Duration(rate)/time.Second))
				for ; i < due; i++ {
					k, t0 := i, time.Now()
					if err := j.AppendAsync(1, benchBody, func(_ uint64, err error) {
						if err != nil {
							b.Error(err)
						}
						lat[k] = time.Since(t0)
						wg.Done()
					}); err != nil {
						b.Fatal(err)
					}
				}
			}
			wg.Wait()
			b.StopTimer()
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
			b.ReportMetric(q(0.999), "p99.9-µs")
			b.ReportMetric(float64(b.N)/float64(max(syncs.Load(), 1)), "records/fsync")
			if err := j.Close(); err != nil {
				b.Fatal(err)
			}
			slices.Sort(took)
			b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "fsync-p99-µs")
			b.ReportMetric(float64(took[len(took)-1].Microseconds()), "fsync-max-µs")
		})
	}
}

package cluster

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestApplyAsyncOrder: records appended concurrently complete in log
// order, each with its index, and reach every replica in that order. A
// leader that steps down under the load of a -race run on a busy machine
// fails the rest with errors that say so; the order still holds for what
// succeeded.
func TestApplyAsyncOrder(t *testing.T) {
	c := newTestCluster(t, true)
	leader := c.waitLeader("")
	const writers, per = 8, 200
	type result struct {
		rec   string
		index uint64
		err   error
	}
	var mu sync.Mutex
	var results []result
	all := make(chan struct{})
	accepted := writers * per // lowered by refusals, under mu
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				rec := fmt.Sprintf("w%d-%d", w, i)
				err := leader.node.ApplyAsync([]byte(rec), func(index uint64, err error) {
					mu.Lock()
					defer mu.Unlock()
					results = append(results, result{rec: rec, index: index, err: err})
					if len(results) == accepted {
						close(all)
					}
				})
				if err != nil {
					if !errors.Is(err, ErrNotLeader) {
						t.Errorf("ApplyAsync %s: %v", rec, err)
					}
					mu.Lock()
					accepted -= per - i
					if len(results) == accepted {
						close(all)
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	select {
	case <-all:
	case <-time.After(waitDeadline):
		t.Fatalf("not every completion arrived in %v", waitDeadline)
	}
	mu.Lock()
	defer mu.Unlock()
	var order []string
	var last uint64
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			if !errors.Is(r.err, ErrNoQuorum) && !errors.Is(r.err, ErrNotLeader) && !errors.Is(r.err, ErrTimeout) {
				t.Errorf("%s: %v", r.rec, r.err)
			}
			continue
		}
		if r.index <= last {
			t.Fatalf("%s completed with index %d after %d: not in log order", r.rec, r.index, last)
		}
		last = r.index
		order = append(order, r.rec)
	}
	if failed > 0 {
		t.Logf("leadership lost under load: %d of %d records failed", failed, len(results))
	}
	for _, tn := range c.nodes {
		got := tn.fsm.waitLen(t, len(order))
		// The completed records, in completion order, are a subsequence
		// of what every replica applied (a record that failed may be
		// applied too: its outcome was unknown).
		k := 0
		for _, rec := range got {
			if k < len(order) && rec == order[k] {
				k++
			}
		}
		if k != len(order) {
			t.Errorf("%s applied the records in another order than they completed (%d of %d matched)", tn.id, k, len(order))
		}
	}
}

func TestApplyAsyncRefusals(t *testing.T) {
	c := newTestCluster(t, true)
	leader := c.waitLeader("")
	f := c.followers(leader)[0]
	tests := []struct {
		name string
		node *Node
		want error
	}{
		{name: "follower", node: f.node, want: ErrNotLeader},
		{name: "not started", node: &Node{}, want: ErrNotStarted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.node.ApplyAsync([]byte("x"), func(uint64, error) { t.Error("done called for a refused record") })
			if !errors.Is(err, tt.want) {
				t.Fatalf("ApplyAsync = %v, want %v", err, tt.want)
			}
		})
	}
	c.kill(leader)
	if err := leader.node.ApplyAsync([]byte("x"), func(uint64, error) {}); !errors.Is(err, ErrClosed) {
		t.Errorf("ApplyAsync after Close = %v, want ErrClosed", err)
	}
}

// BenchmarkJournalAppend measures the cluster.Journal on a 3-node cluster
// on loopback TCP: 64 appenders each append a 200-byte record and wait for
// its completion before the next. It reports records/s and the p50 and
// p99 commit latency (AppendAsync to done).
func BenchmarkJournalAppend(b *testing.B) {
	// Each appender waits for its record: the records in flight, hence
	// the batch Raft can commit with one fsync, are at most the number
	// of appenders (a closed loop: throughput = appenders / latency).
	for _, appenders := range []int{64, 256, 1024} {
		b.Run(fmt.Sprintf("appenders=%d", appenders), func(b *testing.B) { benchmarkJournalAppend(b, appenders) })
	}
}

// BenchmarkJournalAppendRate is BenchmarkJournalAppend in an open loop:
// records are offered at a fixed rate, whatever the commits, as orders
// arrive, and each record's latency runs from the moment it was due (not
// from when it was sent, so a stall counts against every record it
// delayed). It reports the achieved rate and the p50, p99 and max commit
// latency at that rate, which the closed loop above cannot show (its
// latency is its queue: appenders / throughput).
func BenchmarkJournalAppendRate(b *testing.B) {
	for _, rate := range []int{6000, 12000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchmarkJournalAppendRate(b, rate) })
	}
}

func benchmarkJournalAppendRate(b *testing.B, rate int) {
	j, body := benchJournal(b)
	lat := make([]time.Duration, b.N) // written by the completer, read after all are done
	var failed sync.Once
	var wg sync.WaitGroup
	wg.Add(b.N)
	interval := time.Second / time.Duration(rate)
	b.ReportAllocs()
	b.ResetTimer()
	index0 := j.cfg.Node.AppliedIndex()
	cpu0 := cpuUsed()
	start := time.Now()
	for i := range b.N {
		from := paceTo(start.Add(time.Duration(i) * interval))
		err := j.AppendAsync('O', body, func(_ uint64, err error) {
			if err != nil {
				failed.Do(func() { b.Error(err) })
			}
			lat[i] = time.Since(from)
			wg.Done()
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	// The CPU the process used while the records were offered and
	// committed: the three nodes, the offering loop and the collector.
	cpu := cpuUsed() - cpu0
	b.StopTimer()
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "records/s")
	reportLatencies(b, lat)
	b.ReportMetric(float64(b.N)/float64(j.cfg.Node.AppliedIndex()-index0), "records/entry")
}

// paceTo waits for due, a record's place in an open-loop schedule, unless
// it is less than 200 µs away (a sleep that short overshoots), and returns
// the time the record's latency runs from: due, or the time it is sent
// if that is earlier. A sender behind its schedule sends at once and is
// charged from due; one a little ahead sends early and is timed from the
// send, not from the later due (before, those records, every other one
// at 6,000/s, were timed up to 200 µs short).
func paceTo(due time.Time) time.Time {
	d := time.Until(due)
	if d > 200*time.Microsecond {
		time.Sleep(d) // pacing the offered load, not synchronisation
		return due
	}
	if d > 0 {
		return time.Now()
	}
	return due
}

// TestPaceTo: a record sent before its due time is timed from its send.
func TestPaceTo(t *testing.T) {
	due := time.Now().Add(190 * time.Microsecond)
	if from := paceTo(due); from.After(time.Now()) {
		t.Fatalf("a record sent up to 190 µs early is timed from its due time, %v after the send", from.Sub(time.Now()))
	}
	late := time.Now().Add(-time.Millisecond)
	if from := paceTo(late); !from.Equal(late) {
		t.Fatalf("a record sent late is timed from %v, not its due time", from)
	}
}

// benchJournal starts a 3-node cluster on loopback TCP and returns the
// leader's Journal and a 200-byte record body.
func benchJournal(b *testing.B) (*Journal, []byte) {
	c := &testCluster{t: b, events: make(chan leaderEvent, 64), useState: true}
	if w, err := strconv.Atoi(os.Getenv("SGW_BENCH_COALESCE_WINDOW")); err == nil {
		// An experiment's knob: the pipeline's coalescing window.
		c.config = func(cfg *Config) { cfg.coalesceWindow = w }
	}
	startCluster(c, false)
	leader := c.waitLeader("")
	j, err := NewJournal(JournalConfig{Node: leader.node, State: leader.state})
	if err != nil {
		b.Fatal(err)
	}
	return j, make([]byte, 200)
}

func benchmarkJournalAppend(b *testing.B, appenders int) {
	j, body := benchJournal(b)
	lat := make([][]time.Duration, appenders)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for a := range appenders {
		n := b.N / appenders
		if a < b.N%appenders {
			n++
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := make(chan error, 1)
			for range n {
				t0 := time.Now()
				if err := j.AppendAsync('O', body, func(_ uint64, err error) { done <- err }); err != nil {
					b.Error(err)
					return
				}
				if err := <-done; err != nil {
					b.Error(err)
					return
				}
				lat[a] = append(lat[a], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	all := slices.Concat(lat...)
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "records/s")
	reportLatencies(b, all)
}

// BenchmarkDiskFlush is the disk's own share of a commit, with no Raft:
// three writers, as the three nodes of the benchmarks above on one
// machine, each appending 4 KiB to its own file under the test's
// temporary directory and calling fdatasync, b.N times each. The
// percentiles are of single flushes. Run it beside
// BenchmarkJournalAppendRate to tell the disk's tail from the code's.
func BenchmarkDiskFlush(b *testing.B) {
	const writers = 3
	dir := b.TempDir()
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f, err := os.Create(fmt.Sprintf("%s/flush%d", dir, w))
			if err != nil {
				b.Error(err)
				return
			}
			defer f.Close()
			buf := make([]byte, 4096)
			for range b.N {
				t0 := time.Now()
				if _, err := f.Write(buf); err != nil {
					b.Error(err)
					return
				}
				if err := syscall.Fdatasync(int(f.Fd())); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	reportLatencies(b, slices.Concat(lat...))
}

// cpuUsed returns the CPU time the process has used so far, user and
// system: all its goroutines, the collector's included.
func cpuUsed() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportLatencies sorts lat and reports its p50, p99, p99.9 and max, in
// µs. It reports nothing for no latencies (a run that failed).
func reportLatencies(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	for _, q := range []struct {
		name string
		at   int
	}{{"p50-µs", len(lat) / 2}, {"p99-µs", len(lat) * 99 / 100}, {"p99.9-µs", len(lat) * 999 / 1000}, {"max-µs", len(lat) - 1}} {
		b.ReportMetric(float64(lat[q.at].Microseconds()), q.name)
	}
}

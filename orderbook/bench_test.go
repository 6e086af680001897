package orderbook

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/refdata"
)

// benchSyms symbols share one core in the benchmarks, as on a shard.
const benchSyms = 16

var benchData struct {
	once sync.Once
	ins  []refdata.Instrument
	enc  [][]byte
	evs  []event.Event // enc normalized, Stock Locate n as SymbolID n-1
}

// benchStream returns a pre-encoded realistic stream of about 1M messages
// over benchSyms instruments that leaves every book empty, so it can be
// replayed any number of times.
func benchStream(b *testing.B) ([]refdata.Instrument, [][]byte) {
	benchData.once.Do(func() {
		benchData.ins = testInstruments(benchSyms)
		msgs := genStream(b, rand.New(rand.NewPCG(11, 12)), benchData.ins, 1<<20, 1)
		benchData.enc = encodeStream(b, msgs)
		for i := range msgs {
			var ev event.Event
			if itch.Normalize(&msgs[i], &ev) {
				ev.Symbol = uint32(msgs[i].StockLocate) - 1
				benchData.evs = append(benchData.evs, ev)
			}
		}
	})
	return benchData.ins, benchData.enc
}

// benchEvents returns benchStream's stream as the feed's decoder delivers
// it.
func benchEvents(b *testing.B) ([]refdata.Instrument, []event.Event) {
	ins, _ := benchStream(b)
	return ins, benchData.evs
}

// BenchmarkBookApply measures ITCH decode + normalize + Book.Apply
// (checksums included) of a mixed stream on one goroutine.
func BenchmarkBookApply(b *testing.B) {
	ins, enc := benchStream(b)
	books := make([]*Book, len(ins))
	for i := range books {
		books[i] = NewBook(ins[i])
	}
	var m itch.Message
	var u Update
	apply := func(msg []byte) {
		if err := itch.Decode(msg, &m); err != nil {
			b.Fatal(err)
		}
		if m.StockLocate != 0 {
			applyITCH(books[m.StockLocate-1], &m, &u)
		}
	}
	for _, msg := range enc { // reach the working size
		apply(msg)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		apply(enc[i%len(enc)])
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkEngineApply measures the books' whole path: Input.Apply of
// decoded events on the benchmark goroutine, the shard writer applying
// and publishing on another, with a single shard.
func BenchmarkEngineApply(b *testing.B) {
	ins, evs := benchEvents(b)
	e, err := New(Config{Instruments: ins, Shards: 1})
	if err != nil {
		b.Fatal(err)
	}
	stop := runBench(e)
	defer stop()
	in := e.NewInput("bench")
	for i := range evs {
		if err := in.Apply(&evs[i]); err != nil {
			b.Fatal(err)
		}
	}
	sent := uint64(len(evs))
	for e.Stats().Messages != sent {
		time.Sleep(time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := in.Apply(&evs[i%len(evs)]); err != nil {
			b.Fatal(err)
		}
	}
	sent += uint64(b.N)
	for e.Stats().Messages != sent {
		time.Sleep(10 * time.Microsecond)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func runBench(e *Engine) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		e.Run(ctx)
		close(done)
	}()
	return func() {
		cancel()
		<-done
	}
}

// BenchmarkPublish measures what publishing one Update costs the writer
// (top-of-book slot if rank 0 changed, view header and changed levels,
// ring entry), for typical shapes of change on a book 30 levels deep.
func BenchmarkPublish(b *testing.B) {
	ins := testInstruments(1)
	e, err := New(Config{Instruments: ins, Shards: 1})
	if err != nil {
		b.Fatal(err)
	}
	bk := e.books[0]
	var u Update
	ref := uint64(1)
	for i := range 30 {
		for _, side := range []byte{'B', 'S'} {
			p := uint32(100000 - 100*(i+1))
			if side == 'S' {
				p = uint32(100000 + 100*(i+1))
			}
			m := mAdd(ref, side, p, 100)
			ref++
			applyITCH(bk, &m, &u)
		}
	}
	s := e.shards[0]
	cases := []struct {
		name   string
		dirty  [3]span
		traded bool
	}{
		{name: "top-qty", dirty: [3]span{Bid: {lo: 0, hi: 1}, Ask: {lo: spanEnd}}},
		{name: "rank5-qty", dirty: [3]span{Bid: {lo: spanEnd}, Ask: {lo: 5, hi: 6}}},
		{name: "insert-rank2", dirty: [3]span{Bid: {lo: 2, hi: spanEnd}, Ask: {lo: spanEnd}}},
		{name: "beyond-depth", dirty: [3]span{Bid: {lo: 25, hi: 26}, Ask: {lo: spanEnd}}},
		{name: "trade-only", dirty: [3]span{Bid: {lo: spanEnd}, Ask: {lo: spanEnd}}, traded: true},
		{name: "execute-top", dirty: [3]span{Bid: {lo: 0, hi: 1}, Ask: {lo: spanEnd}}, traded: true},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			bk.dirty, bk.traded = tc.dirty, tc.traded
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				bk.seq++
				u.Seq = bk.seq
				s.publish(bk, &u)
			}
		})
	}
}

// backgroundWriter runs the engine's single shard writer path (decode,
// apply, publish) over the bench stream as fast as it can until stopped;
// it returns after the first pass, once the books reached their working
// size. The Engine's Run is not running: this goroutine is the only
// writer.
func backgroundWriter(e *Engine, evs []event.Event) (stop func() uint64) {
	var quit atomic.Bool
	var count uint64
	warm := make(chan struct{})
	done := make(chan struct{})
	s := e.shards[0]
	go func() {
		defer close(done)
		var u Update
		for pass := 0; !quit.Load(); pass++ {
			for i := range evs {
				s.process(&evs[i], &u, nil)
				count++
				if count%1024 == 0 && quit.Load() {
					return
				}
			}
			if pass == 0 {
				close(warm)
			}
		}
	}()
	<-warm
	first := count
	return func() uint64 {
		quit.Store(true)
		<-done
		return count - first
	}
}

// readBench measures read on the benchmark goroutine while a writer runs
// at full speed on another: ns/op over b.N reads, then the p50 and p99 of
// individually timed reads. Those include reading the clock, whose own
// median cost is reported as timer-ns.
func readBench(b *testing.B, read func(e *Engine, id SymbolID)) {
	ins, evs := benchEvents(b)
	e, err := New(Config{Instruments: ins, Shards: 1})
	if err != nil {
		b.Fatal(err)
	}
	stop := backgroundWriter(e, evs)
	began := time.Now()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		read(e, SymbolID(i%benchSyms))
	}
	b.StopTimer()

	const samples = 200000
	d := make([]time.Duration, samples)
	timer := make([]time.Duration, samples)
	for i := range d {
		t0 := time.Now()
		read(e, SymbolID(i%benchSyms))
		d[i] = time.Since(t0)
		t0 = time.Now()
		timer[i] = time.Since(t0)
	}
	writes := stop()
	b.ReportMetric(float64(writes)/time.Since(began).Seconds(), "writer-msgs/s")
	slices.Sort(d)
	slices.Sort(timer)
	b.ReportMetric(float64(d[samples*99/100].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(d[samples/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(timer[samples/2].Nanoseconds()), "timer-ns")
	if writes == 0 {
		b.Fatal("writer did not run")
	}
}

var sink int64

// BenchmarkTopOfBook measures Engine.Top while the writer runs.
func BenchmarkTopOfBook(b *testing.B) {
	readBench(b, func(e *Engine, id SymbolID) {
		bid, ask, _ := e.Top(id)
		sink += bid.Qty + ask.Qty
	})
}

// BenchmarkView10 measures a 10-level Engine.View while the writer runs.
func BenchmarkView10(b *testing.B) {
	v := View{Bids: make([]Level, 0, 10), Asks: make([]Level, 0, 10)}
	readBench(b, func(e *Engine, id SymbolID) {
		e.View(id, 10, &v)
		sink += int64(len(v.Bids))
	})
}

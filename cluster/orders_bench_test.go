package cluster

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// BenchmarkOrdersAckRate is BenchmarkJournalAppendRate with the order
// manager in front of the journal: new orders offered open-loop at a
// fixed rate to a real orders.Manager, with its real risk checks,
// journaling on the leader's Journal of a 3-node cluster on loopback TCP
// (data on disk, under the test's temporary directory). Each order's
// latency runs from the moment it was due (paceTo) until the manager
// delivers its EventAccepted to the sink of the order's source, as it does
// to a gateway connection: risk, the journal record's encoding, its
// commit on a quorum, the FIX encoding of the NewOrderSingle and its
// hand-over to the upstream session come before it. It reports the
// achieved rate, the p50, p99 and max ack latency and the CPU the process
// used (cores: the three nodes, the manager and the offering loop).
//
// The upstream is silentVenue: it takes every request and answers none.
// While its session is logged on the manager hands each accepted order
// over at once; nothing is held (Config.HoldQueue bounds only requests
// held while the session is down), and the orders awaiting an answer are
// not bounded. Config.AckTimeout is an hour, so that the manager's timer
// (Run drives it, as in the gateway) sends the silent venue no status
// requests during a run. Any order refused, by risk or otherwise, fails
// the benchmark: the limits are opened for the load, as the load tester's
// are (loadtest's fundOrders).
func BenchmarkOrdersAckRate(b *testing.B) {
	for _, rate := range []int{6000, 12000} {
		b.Run(fmt.Sprintf("rate=%d", rate), func(b *testing.B) { benchmarkOrdersAckRate(b, rate) })
	}
}

// The orders of BenchmarkOrdersAckRate go round these many accounts,
// symbols and client sessions (sources).
const (
	ackBenchAccounts = 16
	ackBenchSymbols  = 8
	ackBenchSources  = 64
)

func benchmarkOrdersAckRate(b *testing.B, rate int) {
	// m is closed after the cluster (cleanups run last first): no
	// journal completion can reach it once closed.
	var m *orders.Manager
	b.Cleanup(func() {
		if m != nil {
			m.Close()
		}
	})
	j, _ := benchJournal(b)
	rc, err := risk.New(ackBenchRisk(), nil)
	if err != nil {
		b.Fatal(err)
	}
	m, err = orders.New(orders.Config{AckTimeout: time.Hour}, rc, j, nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		m.Run(ctx)
	}()
	b.Cleanup(func() { cancel(); <-ran })
	venue := &silentVenue{}
	m.AddUpstream("core", venue)
	if _, err := m.Recover(); err != nil {
		b.Fatal(err)
	}
	sink := &ackSink{from: make([]time.Time, b.N), lat: make([]time.Duration, b.N)}
	sink.done.Add(b.N)
	var srcs [ackBenchSources]orders.Source
	for s := range srcs {
		srcs[s] = orders.Source{Kind: "ws", Session: fmt.Sprintf("s%d", s)}
		m.Register(srcs[s], sink)
	}
	m.OnSessionUp("core", "bench")
	// The client order ids come with the requests, made by the client.
	ids := make([]string, b.N)
	for i := range ids {
		ids[i] = "b" + strconv.Itoa(i)
	}
	reqs := make([]orders.NewRequest, ackBenchAccounts*ackBenchSymbols)
	for k := range reqs {
		reqs[k] = orders.NewRequest{Account: ackBenchAccount(k % ackBenchAccounts), Symbol: ackBenchSymbol(k / ackBenchAccounts),
			Side: risk.Buy, Type: risk.Limit, Price: ackBenchPrice, Qty: 100}
	}
	interval := time.Second / time.Duration(rate)
	var refused int
	var firstErr error
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuUsed()
	start := time.Now()
	for i := range b.N {
		req := reqs[i%len(reqs)]
		req.ClOrdID, req.Source = ids[i], srcs[i%ackBenchSources]
		sink.from[i] = paceTo(start.Add(time.Duration(i) * interval))
		if _, err := m.New(req); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			refused++
			sink.done.Done()
		}
	}
	sink.done.Wait()
	elapsed := time.Since(start)
	cpu := cpuUsed() - cpu0
	b.StopTimer()
	if refused > 0 {
		b.Fatalf("%d of %d orders refused at entry, the first: %v", refused, b.N, firstErr)
	}
	if n := sink.refused.Load(); n > 0 {
		b.Fatalf("%d of %d orders ended without EventAccepted, the first: %v", n, b.N, sink.first.Load())
	}
	if got := venue.sent.Load(); got != uint64(b.N) {
		b.Fatalf("the venue was handed %d requests, want %d", got, b.N)
	}
	b.ReportMetric(cpu.Seconds()/elapsed.Seconds(), "cores")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "orders/s")
	reportLatencies(b, sink.lat)
}

// ackBenchPrice is every order's price: the instruments' previous close,
// inside any price band, on the tick.
const ackBenchPrice = 10 * refdata.PriceScale

func ackBenchAccount(a int) string { return fmt.Sprintf("BA%02d", a) }
func ackBenchSymbol(s int) string  { return fmt.Sprintf("%06d.SH", 601000+s) }

// ackBenchRisk is a risk configuration no order of the benchmark meets a
// limit of: always open, the throttles at their most, every account with
// cash for far more than a run buys (10^12 CNY).
func ackBenchRisk() risk.Config {
	cfg := risk.Config{Schedule: risk.ScheduleConfig{AlwaysOpen: true}, AccountRate: risk.MaxRate, SessionRate: risk.MaxRate}
	for s := range ackBenchSymbols {
		cfg.Instruments = append(cfg.Instruments, refdata.Instrument{Symbol: ackBenchSymbol(s), Board: refdata.BoardMain, PrevClose: ackBenchPrice})
	}
	for a := range ackBenchAccounts {
		cfg.Accounts = append(cfg.Accounts, risk.AccountConfig{ID: ackBenchAccount(a), Cash: 1_000_000_000_000 * refdata.PriceScale})
	}
	return cfg
}

// ackSink times each order of BenchmarkOrdersAckRate, its client order id
// "b" and its index, from from[i] to its EventAccepted. OrderEvent runs on
// the manager's dispatcher goroutine; from[i] is written before the
// order's New, lat[i] read after done.
type ackSink struct {
	from    []time.Time
	lat     []time.Duration
	done    sync.WaitGroup // one per order: accepted, refused at entry or ended otherwise
	refused atomic.Int64   // orders whose one event was not EventAccepted
	first   atomic.Value   // the first such event's text
}

func (s *ackSink) OrderEvent(ev orders.Event) {
	i, err := strconv.Atoi(ev.Order.ClOrdID[1:])
	if err != nil || i >= len(s.lat) {
		panic(fmt.Sprintf("an event for an order the benchmark did not send: %+v", ev))
	}
	if ev.Kind != orders.EventAccepted {
		if s.refused.Add(1) == 1 {
			s.first.Store(fmt.Sprintf("%s %c %s: %s", ev.Kind, ev.ExecType, ev.Code, ev.Text))
		}
	} else {
		s.lat[i] = time.Since(s.from[i])
	}
	s.done.Done()
}

// silentVenue is an orders.Upstream always logged on that takes every
// request and answers none; whatever is queued has left at once.
type silentVenue struct{ sent atomic.Uint64 }

var _ orders.Upstream = (*silentVenue)(nil)

func (v *silentVenue) Send(any) error                { v.sent.Add(1); return nil }
func (v *silentVenue) Handed(string) fix.Handed      { return fix.HandedNo }
func (v *silentVenue) ResumeInboundAfter(int, int64) {}
func (v *silentVenue) Queued() uint64                { return v.sent.Load() }
func (v *silentVenue) Left() uint64                  { return v.sent.Load() }

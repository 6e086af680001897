package loadtest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mdWorkload is the marketdata scenario's load: WebSocket clients that
// subscribe to books and check everything they receive. Run calls its
// methods from one goroutine; the clients' reader goroutines share only
// counts, lat and recording.
type mdWorkload struct {
	c      Config
	t      *target
	counts *mdCounters
	lat    *Recorder
	wg     sync.WaitGroup
	stopFn context.CancelFunc

	recording atomic.Bool
	symbols   int
	syms      []string  // the symbols the clients subscribe to
	m0, u0    int64     // messages and updates at the window's start
	m1, u1    int64     // and at its end
	lastM     int64     // messages at the last progress line
	lastT     time.Time // time of the last progress line
	began     time.Time // the measurement window
	elapsed   time.Duration
}

var _ workload = (*mdWorkload)(nil)

func newMDWorkload(c Config, t *target) *mdWorkload {
	return &mdWorkload{c: c, t: t, counts: &mdCounters{}, lat: NewRecorder("tick_to_client")}
}

// start connects the clients at the connect rate and waits until each has
// its first snapshots (or failed). It records the gateway's memory before
// and after in sum.
func (w *mdWorkload) start(ctx context.Context, sum *Summary) error {
	c := w.c
	syms, err := symbols(ctx, w.t.base)
	if err != nil {
		return err
	}
	if len(syms) < c.SymbolsPerClient {
		return fmt.Errorf("%w: the gateway trades %d symbols, fewer than -symbols-per-client %d", ErrConfig, len(syms), c.SymbolsPerClient)
	}
	w.symbols = len(syms)
	for i := range min(c.Clients*c.SymbolsPerClient, len(syms)) {
		w.syms = append(w.syms, syms[i])
	}
	sum.Symbols = len(syms)
	sum.Memory.Before = rss(w.t.pid)
	wsURL := "ws" + strings.TrimPrefix(w.t.base, "http") + "/ws"
	epoch := midnightCST(time.Now())
	dl := newDialers(c.Clients)
	cctx, stop := context.WithCancel(ctx)
	w.stopFn = stop
	pace := time.NewTicker(time.Second / time.Duration(min(c.ConnectRate, 1000000)))
	defer pace.Stop()
	for i := range c.Clients {
		cl := &mdLoadClient{idx: i, counts: w.counts, lat: w.lat, record: &w.recording, epoch: epoch,
			full: c.Verify == "all" || i%20 == 0}
		for k := range c.SymbolsPerClient {
			cl.syms = append(cl.syms, syms[(i*c.SymbolsPerClient+k)%len(syms)])
		}
		w.wg.Add(1)
		go func() { defer w.wg.Done(); cl.run(cctx, wsURL, w.t.token, dl.forClient(i), c.Depth) }()
		select {
		case <-pace.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// Every client subscribed: its first snapshots arrived, or it failed.
	counts := w.counts
	deadline := time.Now().Add(30*time.Second + time.Duration(c.Clients)*time.Millisecond)
	for counts.ready.Load()+counts.connectErrs.Load()+counts.readErrs.Load() < int64(c.Clients) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	sum.Connected = counts.connected.Load()
	if sum.Connected == 0 {
		return fmt.Errorf("loadtest: no client could connect to %s: %s", wsURL, deref(counts.firstIssue.Load()))
	}
	sum.Memory.Connected = rss(w.t.pid)
	if sum.Memory.Before > 0 && sum.Memory.Connected > sum.Memory.Before {
		sum.Memory.PerConnection = (sum.Memory.Connected - sum.Memory.Before) / sum.Connected
	}
	sum.Memory.SameProcess = w.t.pid == os.Getpid()
	return nil
}

func (w *mdWorkload) setRecording(on bool, now time.Time) {
	if on {
		w.m0, w.u0 = w.counts.messages.Load(), w.counts.updates.Load()
		w.began, w.lastM, w.lastT = now, w.m0, now
	} else {
		w.elapsed = now.Sub(w.began)
		w.m1, w.u1 = w.counts.messages.Load(), w.counts.updates.Load()
	}
	w.recording.Store(on)
}

func (w *mdWorkload) progress(now time.Time) string {
	counts := w.counts
	m := counts.messages.Load()
	snap := w.lat.Snapshot()
	s := fmt.Sprintf("clients=%d delivered=%.0f/s p50=%s p99=%s violations=%d resyncs=%d",
		counts.connected.Load()-counts.readErrs.Load(), float64(m-w.lastM)/now.Sub(w.lastT).Seconds(),
		time.Duration(snap.ValueAtQuantile(50)), time.Duration(snap.ValueAtQuantile(99)), counts.violations(), counts.resyncs.Load())
	w.lastM, w.lastT = m, now
	return s
}

func (w *mdWorkload) violations() int64 { return w.counts.violations() }

// finish stops the clients and fills the market-data part of sum.
func (w *mdWorkload) finish(sum *Summary) {
	counts := w.counts
	sum.Memory.End = rss(w.t.pid)
	sum.Delivered = float64(w.m1-w.m0) / w.elapsed.Seconds()
	sum.Updates = w.u1 - w.u0
	w.stop()
	if v := w.t.sim; v != nil && w.c.Scenario == ScenarioMarketData {
		// Only the simulator's flow moves its books: pausing it settles
		// them. (With orders, the sessions' cancels still arrive.)
		differ := checkVenue(context.Background(), w.t, v, w.syms, w.c.Depth)
		counts.venue.Add(int64(len(differ)))
		if len(differ) > 0 {
			counts.issue("book differs from the simulator's: %s", differ[0])
		}
		sum.VenueChecked = len(w.syms)
	}
	sum.Counts = map[string]int64{
		"connect_errors":         counts.connectErrs.Load(),
		"disconnected_early":     counts.readErrs.Load(),
		"messages":               counts.messages.Load(),
		"snapshots":              counts.snapshots.Load(),
		"resyncs":                counts.resyncs.Load(),
		"seq_gaps":               counts.seqGaps.Load(),
		"checksum_failures":      counts.checksums.Load(),
		"updates_without_state":  counts.orphans.Load(),
		"server_errors":          counts.serverErrs.Load(),
		"full_verifying_clients": int64(fullClients(w.c)),
		"venue_mismatches":       counts.venue.Load(),
	}
	if sum.FirstIssue == "" {
		sum.FirstIssue = deref(counts.firstIssue.Load())
	}
	sum.Latency = append(sum.Latency, measureOf(w.lat))
	sum.hists = append(sum.hists, w.lat.Snapshot())
}

// stop ends the clients and waits for their goroutines. Idempotent.
func (w *mdWorkload) stop() {
	if w.stopFn != nil {
		w.stopFn()
	}
	w.wg.Wait()
}

func fullClients(c Config) int {
	if c.Verify == "all" {
		return c.Clients
	}
	return (c.Clients + 19) / 20
}

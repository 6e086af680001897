package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Run runs one load test, writes its report to c.Out and returns the
// summary. It fails fast on invalid settings or an unreachable target; a run
// that completes but misses a threshold or saw integrity violations returns
// its summary and an error wrapping ErrThresholds.
func Run(ctx context.Context, c Config, progress io.Writer, log *slog.Logger) (*Summary, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	need := c.Clients + 256
	if c.Target == "" && !c.Spawn {
		need += c.Clients // the gateway's side of each connection is in this process too
	}
	if err := ensureFiles(need); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.Out, 0o755); err != nil {
		return nil, fmt.Errorf("loadtest: -out: %w", err)
	}
	t, err := startTarget(ctx, c, log)
	if err != nil {
		return nil, err
	}
	defer t.stop()
	if err := waitReady(ctx, t.base, c.ReadyTimeout); err != nil {
		return nil, err
	}
	sum, err := runMarketData(ctx, c, t, progress)
	if err != nil {
		return nil, err
	}
	if err := writeReport(c.Out, sum); err != nil {
		return sum, err
	}
	if len(sum.Failures) > 0 {
		return sum, fmt.Errorf("%w: %s", ErrThresholds, strings.Join(sum.Failures, "; "))
	}
	return sum, nil
}

// runMarketData runs the marketdata scenario against t.
func runMarketData(ctx context.Context, c Config, t *target, progress io.Writer) (*Summary, error) {
	syms, err := symbols(ctx, t.base)
	if err != nil {
		return nil, err
	}
	if len(syms) < c.SymbolsPerClient {
		return nil, fmt.Errorf("%w: the gateway trades %d symbols, fewer than -symbols-per-client %d", ErrConfig, len(syms), c.SymbolsPerClient)
	}
	sum := &Summary{Scenario: c.Scenario, Config: c, Start: time.Now(), Symbols: len(syms), GatewayPID: t.pid}
	sum.Config.Token = ""
	sum.Memory.Before = rss(t.pid)
	wsURL := "ws" + strings.TrimPrefix(t.base, "http") + "/ws"

	counts := &mdCounters{}
	lat := NewRecorder("tick_to_client")
	var recording atomic.Bool
	epoch := midnightCST(time.Now())
	dl := newDialers(c.Clients)
	cctx, stopClients := context.WithCancel(ctx)
	defer stopClients()
	var wg sync.WaitGroup
	pace := time.NewTicker(time.Second / time.Duration(min(c.ConnectRate, 1000000)))
	for i := range c.Clients {
		cl := &mdLoadClient{idx: i, counts: counts, lat: lat, record: &recording, epoch: epoch,
			full: c.Verify == "all" || i%20 == 0}
		for k := range c.SymbolsPerClient {
			cl.syms = append(cl.syms, syms[(i*c.SymbolsPerClient+k)%len(syms)])
		}
		wg.Add(1)
		go func() { defer wg.Done(); cl.run(cctx, wsURL, t.token, dl.forClient(i), c.Depth) }()
		select {
		case <-pace.C:
		case <-ctx.Done():
			pace.Stop()
			return nil, ctx.Err()
		}
	}
	pace.Stop()
	// Every client subscribed: its first snapshots arrived, or it failed.
	deadline := time.Now().Add(30*time.Second + time.Duration(c.Clients)*time.Millisecond)
	for counts.ready.Load()+counts.connectErrs.Load()+counts.readErrs.Load() < int64(c.Clients) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	sum.Connected = counts.connected.Load()
	if sum.Connected == 0 {
		return nil, fmt.Errorf("loadtest: no client could connect to %s: %s", wsURL, deref(counts.firstIssue.Load()))
	}
	sum.Memory.Connected = rss(t.pid)
	if sum.Memory.Before > 0 && sum.Memory.Connected > sum.Memory.Before {
		sum.Memory.PerConnection = (sum.Memory.Connected - sum.Memory.Before) / sum.Connected
	}
	sum.Memory.SameProcess = t.pid == os.Getpid()

	sleepCtx(ctx, c.Warmup)
	recording.Store(true)
	m0, u0 := counts.messages.Load(), counts.updates.Load()
	gwCPU0, ownCPU0 := cpuTime(t.pid), cpuTime(os.Getpid())
	start := time.Now()
	tick := time.NewTicker(time.Second)
	lastM, lastT := m0, start
	for now := range tick.C {
		if ctx.Err() != nil || now.Sub(start) >= c.Duration {
			break
		}
		m := counts.messages.Load()
		snap := lat.Snapshot()
		fmt.Fprintf(progress, "\r%s  t=%3.0fs clients=%d delivered=%.0f/s p50=%s p99=%s violations=%d resyncs=%d   ",
			c.Scenario, now.Sub(start).Seconds(), counts.connected.Load()-counts.readErrs.Load(), float64(m-lastM)/now.Sub(lastT).Seconds(),
			time.Duration(snap.ValueAtQuantile(50)), time.Duration(snap.ValueAtQuantile(99)), counts.violations(), counts.resyncs.Load())
		lastM, lastT = m, now
	}
	tick.Stop()
	recording.Store(false)
	elapsed := time.Since(start)
	fmt.Fprintln(progress)
	sum.Memory.End = rss(t.pid)
	sum.Elapsed = elapsed
	sum.CPU.Gateway = (cpuTime(t.pid) - gwCPU0).Seconds() / elapsed.Seconds()
	sum.CPU.Tester = (cpuTime(os.Getpid()) - ownCPU0).Seconds() / elapsed.Seconds()
	sum.CPU.SameProcess = t.pid == os.Getpid()
	sum.Delivered = float64(counts.messages.Load()-m0) / elapsed.Seconds()
	sum.Updates = counts.updates.Load() - u0
	stopClients()
	wg.Wait()
	sum.End = time.Now()
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
		"full_verifying_clients": int64(fullClients(c)),
	}
	sum.FirstIssue = deref(counts.firstIssue.Load())
	sum.Latency = []Measure{measureOf(lat)}
	sum.hists = append(sum.hists, lat.Snapshot())
	sum.judge(counts.violations())
	return sum, nil
}

func fullClients(c Config) int {
	if c.Verify == "all" {
		return c.Clients
	}
	return (c.Clients + 19) / 20
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

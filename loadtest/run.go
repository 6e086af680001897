package loadtest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
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
	conns := 0
	if c.hasMarketData() {
		conns += c.Clients
	}
	if c.hasOrders() {
		conns += c.Sessions
	}
	need := conns + 256
	if c.Target == "" && !c.Spawn {
		need += conns // the gateway's side of each connection is in this process too
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
	sum, err := runScenario(ctx, c, t, progress)
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

// workload is one scenario's load against one target: the marketdata
// clients or the trading sessions. Run calls its methods from one
// goroutine, in order: start, setRecording(true, at), progress (any number of
// times), setRecording(false, at), finish.
type workload interface {
	// start connects and subscribes; the load runs when it returns.
	start(ctx context.Context, sum *Summary) error
	// setRecording begins or ends the measurement window at at.
	setRecording(on bool, at time.Time)
	// progress returns the workload's part of the progress line.
	progress(now time.Time) string
	// violations counts the integrity violations seen so far.
	violations() int64
	// finish stops the load and fills the workload's part of sum.
	finish(sum *Summary)
	// stop ends the load and waits for its goroutines. Idempotent; finish
	// calls it, Run calls it for a run that ends early.
	stop()
}

// runScenario runs c's scenario against t: it starts the workloads,
// warms up, measures for c.Duration (injecting the soak scenario's
// faults), stops them and judges the result.
func runScenario(ctx context.Context, c Config, t *target, progress io.Writer) (*Summary, error) {
	sum := &Summary{Scenario: c.Scenario, Config: c, Start: time.Now(), GatewayPID: t.pid}
	sum.Config.Token, sum.Config.OperatorToken = "", ""
	if c.Scenario == ScenarioSoak && t.demo == nil {
		return nil, fmt.Errorf("%w: -scenario soak needs the simulator in this process to inject faults", ErrConfig)
	}
	var loads []workload
	if c.hasMarketData() {
		loads = append(loads, newMDWorkload(c, t))
	}
	if c.hasOrders() {
		loads = append(loads, newOrdersWorkload(c, t))
	}
	defer func() {
		for _, w := range loads {
			w.stop()
		}
	}()
	for _, w := range loads {
		if err := w.start(ctx, sum); err != nil {
			return nil, err
		}
	}

	sleepCtx(ctx, c.Warmup)
	gwCPU0, ownCPU0 := cpuTime(t.pid), cpuTime(os.Getpid())
	flow0, flowOK := t.simFlow(ctx)
	// One window for every workload and the summary: a workload's own
	// reads at its edges (the orders' scrapes of the gateway's metrics)
	// would otherwise widen its window beyond Elapsed.
	start := time.Now()
	for _, w := range loads {
		w.setRecording(true, start)
	}
	var faults *faultInjector
	if c.Scenario == ScenarioSoak {
		faults = injectFaults(ctx, t.demo, start, c.Duration)
	}
	tick := time.NewTicker(time.Second)
	for now := range tick.C {
		if ctx.Err() != nil || now.Sub(start) >= c.Duration {
			break
		}
		parts := []string{fmt.Sprintf("\r%s  t=%3.0fs", c.Scenario, now.Sub(start).Seconds())}
		for _, w := range loads {
			parts = append(parts, w.progress(now))
		}
		if faults != nil {
			parts = append(parts, faults.progress())
		}
		fmt.Fprint(progress, strings.Join(parts, " | ")+"   ")
	}
	tick.Stop()
	end := time.Now()
	for _, w := range loads {
		w.setRecording(false, end)
	}
	elapsed := end.Sub(start)
	if flow1, ok := t.simFlow(ctx); flowOK && ok {
		sum.Simulator = &SimulatorFlow{
			ActionsPerSecond: float64(flow1.Actions-flow0.Actions) / elapsed.Seconds(),
			Skipped:          flow1.Skipped - flow0.Skipped,
		}
		if c.Target == "" {
			sum.Simulator.Rate = c.Rate
		}
	}
	fmt.Fprintln(progress)
	sum.Elapsed = elapsed
	sum.CPU.Gateway = (cpuTime(t.pid) - gwCPU0).Seconds() / elapsed.Seconds()
	sum.CPU.Tester = (cpuTime(os.Getpid()) - ownCPU0).Seconds() / elapsed.Seconds()
	sum.CPU.SameProcess = t.pid == os.Getpid()
	if faults != nil {
		sum.Faults = faults.wait()
	}
	var violations int64
	for _, w := range loads {
		w.finish(sum)
		violations += w.violations()
	}
	sum.End = time.Now()
	sum.judge(violations)
	return sum, nil
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

package loadtest

import (
	"encoding/json"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Summary is a run's result, written as summary.json and summary.txt.
type Summary struct {
	Scenario   string        `json:"scenario"`
	Config     Config        `json:"config"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Elapsed    time.Duration `json:"measuredNs"`
	Symbols    int           `json:"symbols"`
	Connected  int64         `json:"connected"`
	GatewayPID int           `json:"gatewayPid"`
	// Delivered is market-data messages received per second by all
	// clients during the measurement window.
	Delivered float64          `json:"deliveredPerSecond"`
	Updates   int64            `json:"updatesReceived"`
	Counts    map[string]int64 `json:"counts"`
	Latency   []Measure        `json:"latency"`
	// Orders is the orders part of an orders, mixed or soak run.
	Orders *OrdersSummary `json:"orders,omitempty"`
	// VenueChecked is how many symbols' books were compared, at the end
	// of a marketdata run against the simulator in this process, with the
	// simulator's own (checkVenue); 0 when none was.
	VenueChecked int `json:"venueChecked"`
	// Simulator is what the simulator's synthetic flow did during the
	// window, when the tester can read it (nil otherwise).
	Simulator *SimulatorFlow `json:"simulator,omitempty"`
	// Warnings are what makes the figures less than they seem without
	// failing the run (a simulator that fell behind).
	Warnings []string `json:"warnings,omitempty"`
	// Faults are the faults a soak run injected and lifted.
	Faults     []Fault  `json:"faults,omitempty"`
	Memory     Memory   `json:"memory"`
	CPU        CPU      `json:"cpu"`
	FirstIssue string   `json:"firstIssue,omitempty"`
	Failures   []string `json:"failures"`
	Pass       bool     `json:"pass"`

	hists []*hdrhistogram.Histogram
}

// SimulatorFlow is the simulator's synthetic order flow during the
// measurement window. A simulator starved of CPU takes fewer actions, and
// later, than asked, and its events carry the time it took them: the
// tick-to-client latency cannot show that delay, so it is reported here.
type SimulatorFlow struct {
	Rate             int     `json:"rate,omitempty"` // actions per second asked (-rate); 0 when the tester did not start it
	ActionsPerSecond float64 `json:"actionsPerSecond"`
	// Skipped are actions the simulator fell more than a second behind
	// on and never took.
	Skipped uint64 `json:"skipped"`
}

// CPU is the cores each process used during the measurement window
// (user + system time / elapsed).
type CPU struct {
	Gateway     float64 `json:"gatewayCores"`
	Tester      float64 `json:"testerCores"`
	SameProcess bool    `json:"sameProcess"`
}

// Memory is the gateway's resident memory.
type Memory struct {
	Before        int64 `json:"rssBeforeBytes"`
	Connected     int64 `json:"rssConnectedBytes"`
	End           int64 `json:"rssEndBytes"`
	PerConnection int64 `json:"rssPerConnectionBytes"`
	// SameProcess is true when the gateway ran in the tester's process,
	// so its memory includes the clients'.
	SameProcess bool `json:"sameProcess"`
}

// Measure is one latency distribution.
type Measure struct {
	Name  string  `json:"name"`
	Count int64   `json:"count"`
	Mean  float64 `json:"meanUs"`
	P50   float64 `json:"p50Us"`
	P90   float64 `json:"p90Us"`
	P99   float64 `json:"p99Us"`
	P999  float64 `json:"p999Us"`
	P9999 float64 `json:"p9999Us"`
	Max   float64 `json:"maxUs"`
	// Outstanding counts the samples of requests still unanswered when
	// the tester stopped waiting (orders without their accepted or first
	// execution report after the drain), recorded at their age then, a
	// lower bound of their latency: when it is not 0, the percentiles
	// they reach are lower bounds. They are in Count.
	Outstanding int64 `json:"outstanding,omitempty"`
}

func us(ns int64) float64 { return float64(ns) / 1e3 }

func measureOf(r *Recorder) Measure {
	h := r.Snapshot()
	return Measure{Name: r.Name(), Count: h.TotalCount(), Mean: h.Mean() / 1e3,
		P50: us(h.ValueAtQuantile(50)), P90: us(h.ValueAtQuantile(90)), P99: us(h.ValueAtQuantile(99)),
		P999: us(h.ValueAtQuantile(99.9)), P9999: us(h.ValueAtQuantile(99.99)), Max: us(h.Max())}
}

// measure returns the measure named name, or nil.
func (s *Summary) measure(name string) *Measure {
	for i := range s.Latency {
		if s.Latency[i].Name == name {
			return &s.Latency[i]
		}
	}
	return nil
}

// primaryMeasure names the measure -max-p99 applies to.
func (c Config) primaryMeasure() string {
	if c.hasMarketData() {
		return "tick_to_client"
	}
	return "order_ack"
}

// judge applies the thresholds.
func (s *Summary) judge(violations int64) {
	c := s.Config
	if violations > 0 {
		s.Failures = append(s.Failures, fmt.Sprintf("%d integrity violations (first: %s)", violations, s.FirstIssue))
	}
	if n := s.Counts["connect_errors"]; n > 0 {
		s.Failures = append(s.Failures, fmt.Sprintf("%d clients could not connect", n))
	}
	if o := s.Orders; o != nil {
		if o.SendErrors > 0 {
			s.Failures = append(s.Failures, fmt.Sprintf("%d order requests could not be sent", o.SendErrors))
		}
		if n := o.Unattributed["rate_limited"]; n > 0 {
			s.Failures = append(s.Failures, fmt.Sprintf("the gateway dropped %d requests as rate_limited: the offered load did not reach it (raise ws.max_messages_per_second or lower -order-rate)", n))
		}
	}
	p99 := func(name, flag string, max time.Duration) {
		if m := s.measure(name); max > 0 && m != nil && time.Duration(m.P99*1e3) > max {
			s.Failures = append(s.Failures, fmt.Sprintf("%s p99 %.0fµs > %s %v", m.Name, m.P99, flag, max))
		}
	}
	p99(c.primaryMeasure(), "-max-p99", c.MaxP99)
	p99("order_ack", "-max-order-p99", c.MaxOrderP99)
	if c.MinDelivered > 0 && s.Delivered < c.MinDelivered {
		s.Failures = append(s.Failures, fmt.Sprintf("delivered %.0f/s < -min-delivered %.0f/s", s.Delivered, c.MinDelivered))
	}
	for _, m := range s.Latency {
		if m.Count-m.Outstanding == 0 {
			s.Failures = append(s.Failures, fmt.Sprintf("no %s sample was recorded", m.Name))
		}
		if m.Outstanding > 0 {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%d of the %d %s samples are requests still unanswered when the tester stopped waiting, counted at their age then: the %s percentiles are lower bounds",
				m.Outstanding, m.Count, m.Name, m.Name))
		}
	}
	for _, f := range s.Faults {
		if f.Err != "" {
			s.Failures = append(s.Failures, fmt.Sprintf("fault %s could not be injected: %s", f.Kind, f.Err))
		}
	}
	if f := s.Simulator; f != nil && f.Skipped > 0 {
		s.Warnings = append(s.Warnings, fmt.Sprintf("the simulator fell behind and skipped %d of its actions (%.0f/s taken of %d/s asked): the machine starved it, and the market-data latency does not count the delay", f.Skipped, f.ActionsPerSecond, f.Rate))
	}
	s.Pass = len(s.Failures) == 0
}

// Text renders the human summary.
func (s *Summary) Text() string {
	var b strings.Builder
	c := s.Config
	fmt.Fprintf(&b, "scenario %s: %v measured after %v warmup, %d instruments", s.Scenario, s.Elapsed.Round(time.Millisecond), c.Warmup, s.Symbols)
	if c.Target == "" {
		fmt.Fprintf(&b, ", simulator rate %d/s", c.Rate)
	}
	b.WriteString("\n")
	if f := s.Simulator; f != nil {
		fmt.Fprintf(&b, "simulator: %.0f actions/s taken, %d skipped (fell behind)\n", f.ActionsPerSecond, f.Skipped)
	}
	if c.hasMarketData() {
		fmt.Fprintf(&b, "market data: %d clients x %d symbols (depth %d); connected %d; delivered %.0f messages/s (%d book updates received)\n",
			c.Clients, c.SymbolsPerClient, c.Depth, s.Connected, s.Delivered, s.Updates)
	}
	if o := s.Orders; o != nil {
		fmt.Fprintf(&b, "orders: %d %s sessions (accounts %s) at %d/s over %d symbols; in: %.1f orders/s sent; out: %.1f accepted/s, %.1f execution reports/s (%.1f fills/s); max send lag %v\n",
			o.Sessions, o.Transport, strings.Join(o.Accounts, ","), o.Rate, len(o.Symbols), o.SentPerSecond, o.AcceptedPerSecond, o.ExecsPerSecond, o.FillsPerSecond, o.MaxSendLag.Round(time.Microsecond))
		if o.FIXSessions > 0 {
			fmt.Fprintf(&b, "  fix: %d of the sessions trade over the FIX broker acceptor; %d orders sent over FIX (latencies count both transports)\n", o.FIXSessions, o.FIXOrders)
		}
	}
	fmt.Fprintf(&b, "%-16s %10s %9s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "p99.99", "max")
	for _, m := range s.Latency {
		fmt.Fprintf(&b, "%-16s %10d %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", m.Name, m.Count, m.P50/1e3, m.P90/1e3, m.P99/1e3, m.P999/1e3, m.P9999/1e3, m.Max/1e3)
	}
	if c.hasMarketData() {
		for _, k := range []string{"connect_errors", "disconnected_early", "snapshots", "resyncs", "seq_gaps", "checksum_failures", "updates_without_state", "server_errors", "full_verifying_clients"} {
			fmt.Fprintf(&b, "  %-24s %d\n", k, s.Counts[k])
		}
		if s.VenueChecked > 0 {
			fmt.Fprintf(&b, "  %-24s %d of %d symbols' books differ from the simulator's at the end\n", "venue_mismatches", s.Counts["venue_mismatches"], s.VenueChecked)
		}
	}
	if o := s.Orders; o != nil {
		s.ordersText(&b)
	}
	for _, f := range s.Faults {
		status := "ok"
		if f.Err != "" {
			status = "FAILED: " + f.Err
		}
		fmt.Fprintf(&b, "fault at %v: %s %s\n", f.At.Round(time.Millisecond), f.Kind, status)
	}
	if s.Memory.Connected > 0 {
		where := "gateway process"
		if s.Memory.SameProcess {
			where = "tester and gateway in one process"
		}
		fmt.Fprintf(&b, "memory (%s): rss %.1f MiB before clients, %.1f MiB connected, %.1f MiB at end; %.1f KiB per connection\n",
			where, mib(s.Memory.Before), mib(s.Memory.Connected), mib(s.Memory.End), float64(s.Memory.PerConnection)/1024)
	}
	if s.CPU.Gateway > 0 && !s.CPU.SameProcess {
		fmt.Fprintf(&b, "cpu: gateway %.2f cores, tester %.2f cores (machine: %d)\n", s.CPU.Gateway, s.CPU.Tester, runtime.NumCPU())
	} else if s.CPU.Tester > 0 && s.CPU.SameProcess {
		fmt.Fprintf(&b, "cpu: tester and gateway together %.2f cores (machine: %d)\n", s.CPU.Tester, runtime.NumCPU())
	} else if s.CPU.Tester > 0 {
		fmt.Fprintf(&b, "cpu: tester %.2f cores (machine: %d); the gateway's is read with -pid\n", s.CPU.Tester, runtime.NumCPU())
	}
	for _, w := range s.Warnings {
		fmt.Fprintf(&b, "WARNING: %s\n", w)
	}
	if s.Pass {
		b.WriteString("PASS\n")
	} else {
		fmt.Fprintf(&b, "FAIL: %s\n", strings.Join(s.Failures, "; "))
	}
	return b.String()
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// ordersText renders the orders part of the human summary.
func (s *Summary) ordersText(b *strings.Builder) {
	o := s.Orders
	fmt.Fprintf(b, "  %-24s %d (%s)\n", "orders", o.Total, counts(o.Outcomes, "filled", "canceled", "expired", "rejected_upstream", "rejected_gateway", "working", "unanswered"))
	fmt.Fprintf(b, "  %-24s %d sent, rejected: %s\n", "cancels", o.CancelsSent, counts(o.CancelRejects))
	fmt.Fprintf(b, "  %-24s %s\n", "rejects by code", counts(o.Rejects))
	if len(o.Unattributed) > 0 {
		fmt.Fprintf(b, "  %-24s %s\n", "unattributed errors", counts(o.Unattributed))
	}
	fmt.Fprintf(b, "  %-24s %d (%s); status restatements %d; send errors %d\n", "integrity violations", o.Violations, counts(o.ViolationsBy), o.Restatements, o.SendErrors)
	if f := o.JournalFsync; f != nil {
		fmt.Fprintf(b, "  %-24s %d commits, mean %.0fµs, p50 %sµs p99 %sµs (%s, exported by the gateway)\n", "journal fsync", f.Count, f.MeanUs,
			f.bound("p50", f.P50Us), f.bound("p99", f.P99Us), f.Name)
	}
	if f := o.GatewayInternal; f != nil {
		fmt.Fprintf(b, "  %-24s %d orders, mean %.0fµs, p50 %sµs p99 %sµs p99.9 %sµs (arrival to FIX hand-over: %s)\n", "gateway internal", f.Count, f.MeanUs,
			f.bound("p50", f.P50Us), f.bound("p99", f.P99Us), f.bound("p99.9", f.P999Us), f.Name)
	}
	for _, n := range o.Notes {
		fmt.Fprintf(b, "  note: %s\n", n)
	}
}

// counts renders a count map, the keys named first in that order (zeros
// included), then the others sorted.
func counts(m map[string]int64, first ...string) string {
	var parts []string
	for _, k := range first {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	var rest []string
	for k := range m {
		if !slices.Contains(first, k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	for _, k := range rest {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// writeReport writes summary.txt, summary.json, one .hgrm file per measure
// and chart.html to dir.
func writeReport(dir string, s *Summary) error {
	if err := os.WriteFile(filepath.Join(dir, "summary.txt"), []byte(s.Text()), 0o644); err != nil {
		return fmt.Errorf("loadtest: report: %w", err)
	}
	j, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("loadtest: report: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "summary.json"), j, 0o644); err != nil {
		return fmt.Errorf("loadtest: report: %w", err)
	}
	byName := map[string]*hdrhistogram.Histogram{}
	for _, hg := range s.hists {
		byName[hg.Tag()] = hg
		f, err := os.Create(filepath.Join(dir, hg.Tag()+".hgrm"))
		if err != nil {
			return fmt.Errorf("loadtest: report: %w", err)
		}
		// Values in microseconds, as HdrHistogram's plotter expects a scale.
		_, err = hg.PercentilesPrint(f, 5, 1000.0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("loadtest: report: %w", err)
		}
	}
	page := fmt.Sprintf(`<!doctype html><html><head><meta charset="utf-8"><title>load test: %s</title>
<style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}</style></head><body>
<h1>Load test: %s</h1><p>Latency by percentile (log axes). Files: summary.json, summary.txt, *.hgrm.</p>%s<pre>%s</pre></body></html>
`, s.Scenario, s.Scenario, chartSVG(byName), html.EscapeString(s.Text()))
	if err := os.WriteFile(filepath.Join(dir, "chart.html"), []byte(page), 0o644); err != nil {
		return fmt.Errorf("loadtest: report: %w", err)
	}
	return nil
}

// chartSVG draws latency by percentile on a log axis (x: 1/(1-p), the
// usual HdrHistogram plot; y: latency in ms, log scale).
func chartSVG(hists map[string]*hdrhistogram.Histogram) string {
	const w, h, left, bottom = 760, 380, 70, 40
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="11">`, w, h)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`, w, h)
	maxX := math.Log10(1e5) // up to p99.999
	minY, maxY := math.Inf(1), math.Inf(-1)
	type pt struct{ x, y float64 }
	series := map[string][]pt{}
	for name, hg := range hists {
		for _, br := range hg.CumulativeDistributionWithTicks(5) {
			q := br.Quantile / 100
			if q >= 0.99999 || br.Count == 0 {
				continue
			}
			x := math.Log10(1 / (1 - q))
			y := math.Log10(math.Max(float64(br.ValueAt)/1e6, 0.001))
			series[name] = append(series[name], pt{x, y})
			minY, maxY = math.Min(minY, y), math.Max(maxY, y)
		}
	}
	if math.IsInf(minY, 0) {
		minY, maxY = -3, 0
	}
	minY, maxY = math.Floor(minY), math.Ceil(maxY+0.01)
	px := func(x float64) float64 { return left + x/maxX*float64(w-left-20) }
	py := func(y float64) float64 { return float64(h-bottom) - (y-minY)/(maxY-minY)*float64(h-bottom-20) }
	for i, lbl := range []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%"} {
		x := px(float64(i))
		fmt.Fprintf(&b, `<line x1="%.1f" y1="20" x2="%.1f" y2="%d" stroke="#ddd"/><text x="%.1f" y="%d" text-anchor="middle">%s</text>`, x, x, h-bottom, x, h-bottom+15, lbl)
	}
	for y := minY; y <= maxY; y++ {
		fmt.Fprintf(&b, `<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/><text x="%d" y="%.1f" text-anchor="end">%g ms</text>`, left, py(y), w-20, py(y), left-5, py(y)+4, math.Pow(10, y))
	}
	colors := []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd"}
	i := 0
	for name, pts := range series {
		var path strings.Builder
		for j, p := range pts {
			cmd := "L"
			if j == 0 {
				cmd = "M"
			}
			fmt.Fprintf(&path, "%s%.1f,%.1f ", cmd, px(p.x), py(p.y))
		}
		col := colors[i%len(colors)]
		fmt.Fprintf(&b, `<path d="%s" fill="none" stroke="%s" stroke-width="2"/>`, path.String(), col)
		fmt.Fprintf(&b, `<text x="%d" y="%d" fill="%s">%s</text>`, left+10, 35+15*i, col, name)
		i++
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">percentile</text></svg>`, (w+left)/2, h-5)
	return b.String()
}

package loadtest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMarketDataRun runs a short marketdata scenario against an in-process
// simulator and gateway and checks the report files.
func TestMarketDataRun(t *testing.T) {
	out := t.TempDir()
	c := Config{Scenario: ScenarioMarketData, Duration: 2 * time.Second, Warmup: 500 * time.Millisecond, Out: out,
		Clients: 40, SymbolsPerClient: 2, Depth: 5, Rate: 300, Verify: "sample"}
	sum, err := Run(context.Background(), c, io.Discard, nil)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if !sum.Pass || sum.Connected != 40 || sum.Delivered <= 0 || sum.Latency[0].Count == 0 {
		t.Fatalf("summary: %s", sum.Text())
	}
	if f := sum.Simulator; f == nil || f.Rate != 300 || f.ActionsPerSecond <= 0 {
		t.Fatalf("simulator flow %+v: want the in-process simulator's, at -rate 300", f)
	}
	if want := min(80, sum.Symbols); sum.VenueChecked != want || sum.Counts["venue_mismatches"] != 0 {
		t.Fatalf("venue check: %d symbols compared, %d differ; want %d, 0 (%s)", sum.VenueChecked, sum.Counts["venue_mismatches"], want, sum.FirstIssue)
	}
	if sum.Counts["snapshots"] < 80 || sum.Counts["seq_gaps"] != 0 || sum.Counts["checksum_failures"] != 0 {
		t.Fatalf("counts: %v", sum.Counts)
	}
	if sum.Counts["full_verifying_clients"] != 2 {
		t.Fatalf("sample mode: %d clients verified checksums, want 2", sum.Counts["full_verifying_clients"])
	}

	var decoded Summary
	b, err := os.ReadFile(filepath.Join(out, "summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &decoded); err != nil || decoded.Latency[0].Count != sum.Latency[0].Count || !decoded.Pass {
		t.Fatalf("summary.json: %v %+v", err, decoded)
	}
	txt, _ := os.ReadFile(filepath.Join(out, "summary.txt"))
	if !strings.Contains(string(txt), "tick_to_client") || !strings.Contains(string(txt), "PASS") {
		t.Fatalf("summary.txt:\n%s", txt)
	}
	chart, _ := os.ReadFile(filepath.Join(out, "chart.html"))
	if !strings.Contains(string(chart), "<svg") || !strings.Contains(string(chart), "<path") {
		t.Fatal("chart.html has no plotted line")
	}
	// The .hgrm file: percentile lines whose last total count matches.
	f, err := os.Open(filepath.Join(out, "tick_to_client.hgrm"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) == 4 && fields[0] != "Value" {
			lines++
		}
	}
	if lines < 10 {
		t.Fatalf(".hgrm has %d percentile lines", lines)
	}
}

func TestThresholdsFailTheRun(t *testing.T) {
	c := Config{Scenario: ScenarioMarketData, Duration: time.Second, Warmup: 200 * time.Millisecond, Out: t.TempDir(),
		Clients: 5, Rate: 100, MinDelivered: 1e9}
	sum, err := Run(context.Background(), c, io.Discard, nil)
	if !errors.Is(err, ErrThresholds) || sum == nil || sum.Pass {
		t.Fatalf("Run = %v; want ErrThresholds", err)
	}
}

func TestBadConfigFailsFast(t *testing.T) {
	base := Config{Scenario: ScenarioMarketData, Duration: time.Second, Out: t.TempDir()}
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no scenario", func(c *Config) { c.Scenario = "" }, "-scenario is required"},
		{"unknown scenario", func(c *Config) { c.Scenario = "chaos" }, "unknown scenario"},
		{"no duration", func(c *Config) { c.Duration = 0 }, "-duration"},
		{"no out", func(c *Config) { c.Out = "" }, "-out"},
		{"bad depth", func(c *Config) { c.Depth = 7 }, "-depth"},
		{"bad verify", func(c *Config) { c.Verify = "some" }, "-verify"},
		{"remote target", func(c *Config) { c.Target = "http://10.0.0.1:8080" }, "not a loopback address"},
		{"bad target", func(c *Config) { c.Target = "ftp://x" }, "-target"},
		{"too many clients for the file limit", func(c *Config) { c.Clients = 150000 }, "open files"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.edit(&c)
			_, err := Run(context.Background(), c, io.Discard, nil)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v, want ErrConfig containing %q", err, tc.want)
			}
		})
	}
	t.Run("unreachable target", func(t *testing.T) {
		c := base
		c.Target = "http://127.0.0.1:1"
		c.ReadyTimeout = time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := Run(ctx, c, io.Discard, nil); err == nil || !strings.Contains(err.Error(), "not ready") {
			t.Fatalf("Run = %v, want not ready", err)
		}
	})
}

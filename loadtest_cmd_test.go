package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/loadtest"
)

// TestLoadtestSpawnGatewayFigures: `loadtest -spawn` runs `gateway demo`
// as a child process and reads the operator token the demo prints, so its
// report has the gateway-side figures from /metrics (journal fsync, order
// in to FIX out), as a gateway started in the tester's process gives.
// Before, only the trading token was read, and a spawned run reported
// "the target exports no gateway_order_internal_latency_seconds".
func TestLoadtestSpawnGatewayFigures(t *testing.T) {
	out := t.TempDir()
	// The child is this test binary as `gateway demo -config FILE`
	// (TestCommandChildProcess), FILE the configuration the tester
	// writes to its -out directory.
	raw, err := json.Marshal([]string{"demo", "-config", filepath.Join(out, "gateway.yaml")})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(commandEnv, string(raw))
	self, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(t.TempDir(), "gateway")
	script := "#!/bin/sh\nexec '" + strings.ReplaceAll(self, "'", `'\''`) + "' -test.run='^TestCommandChildProcess$' -test.count=1\n"
	if err := os.WriteFile(exe, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c := loadtest.Config{Scenario: loadtest.ScenarioOrders, Spawn: true, Executable: exe, Out: out,
		Duration: time.Second, Warmup: 500 * time.Millisecond, OrderRate: 20, Sessions: 1}
	sum, err := loadtest.Run(context.Background(), c, io.Discard, slog.New(slog.DiscardHandler))
	if err != nil {
		if b, rerr := os.ReadFile(filepath.Join(out, "gateway.log")); rerr == nil {
			t.Logf("gateway.log:\n%s", b)
		}
		t.Fatal(err)
	}
	switch {
	case sum.Orders == nil:
		t.Fatal("no orders summary")
	case sum.Orders.JournalFsync == nil || sum.Orders.GatewayInternal == nil:
		t.Errorf("the spawned gateway's figures are missing: journal fsync %v, internal %v; notes %q",
			sum.Orders.JournalFsync, sum.Orders.GatewayInternal, sum.Orders.Notes)
	}
}

package loadtest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestSimulatorSkipsWarn: a simulator that fell behind is reported as a
// warning, in the text and the JSON, without failing the run (the
// gateway did nothing wrong); one that kept up gives none.
func TestSimulatorSkipsWarn(t *testing.T) {
	for _, skipped := range []uint64{0, 1200} {
		s := &Summary{Scenario: ScenarioMarketData, Config: Config{Scenario: ScenarioMarketData, Rate: 1000},
			Simulator: &SimulatorFlow{Rate: 1000, ActionsPerSecond: 700, Skipped: skipped}}
		s.judge(0)
		warned := len(s.Warnings) == 1 && strings.Contains(s.Text(), "WARNING: the simulator fell behind and skipped 1200")
		if !s.Pass || warned != (skipped > 0) || (skipped == 0 && len(s.Warnings) != 0) {
			t.Errorf("skipped %d: pass %v warnings %q\n%s", skipped, s.Pass, s.Warnings, s.Text())
		}
		if !strings.Contains(s.Text(), "simulator: 700 actions/s taken") {
			t.Errorf("skipped %d: the text does not give the simulator's rate:\n%s", skipped, s.Text())
		}
	}
}

// TestSimFlowFromMetrics: a simulator in another process is read from
// the gateway's metrics (gateway_sim_flow_*), as the one in this process
// is read directly.
func TestSimFlowFromMetrics(t *testing.T) {
	c, err := Config{Scenario: ScenarioMarketData, Out: t.TempDir(), Rate: 300, Duration: time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	tg, err := startTarget(ctx, c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer tg.stop()
	if err := waitReady(ctx, tg.base, c.ReadyTimeout); err != nil {
		t.Fatal(err)
	}
	direct := tg.sim
	if direct == nil || tg.ops == "" {
		t.Fatalf("the in-process demo gave no simulator (%v) or no operator token", direct)
	}
	tg.sim = nil // as for a spawned demo: only its metrics tell
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, ok := tg.simFlow(ctx)
		if !ok {
			t.Fatal("simFlow found no gateway_sim_flow_* metric")
		}
		if after := direct.FlowStats(); st.Actions > 0 {
			if st.Actions > after.Actions || st.Skipped > after.Skipped {
				t.Fatalf("scraped %+v, more than the simulator's own %+v read after", st, after)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the simulator's actions never reached its metrics")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

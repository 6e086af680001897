package loadtest

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"sgw/sim"
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
	_, tg := startDemoTarget(t)
	ctx := context.Background()
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

// TestVenueCheckFindsDifferentBooks: the end-of-run check compares the
// gateway's books with the simulator's own and reports each that differs.
// Against its own simulator the demo's books agree; against another
// simulator, whose flow took other actions, they do not.
func TestVenueCheckFindsDifferentBooks(t *testing.T) {
	c, tg := startDemoTarget(t)
	ctx := context.Background()
	syms, err := symbols(ctx, tg.base)
	if err != nil {
		t.Fatal(err)
	}
	waitUntilFlow(t, tg.sim, 500)
	if differ := checkVenue(ctx, tg, tg.sim, syms, 5); len(differ) != 0 {
		t.Fatalf("the demo's books differ from its own simulator's: %q", differ)
	}

	cfg, err := gatewayConfig(c, "")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := cfg.SimConfig()
	if err != nil {
		t.Fatal(err)
	}
	sc.Rate, sc.Seed = -1, sc.Seed+1
	other, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Step(2000); err != nil {
		t.Fatal(err)
	}
	differ, err := venueDiff(ctx, "ws"+strings.TrimPrefix(tg.base, "http")+"/ws", tg.token, other, syms, 5)
	if err != nil || len(differ) == 0 {
		t.Fatalf("venueDiff against another simulator = %q, %v; want the books that differ", differ, err)
	}
}

// waitUntilFlow waits until s's flow has taken n actions.
func waitUntilFlow(t *testing.T, s *sim.Sim, n uint64) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); s.FlowStats().Actions < n; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the simulator's flow took %d actions, not %d, in 60 s", s.FlowStats().Actions, n)
		}
	}
}

// startDemoTarget starts the demo (simulator at 300 actions/s) in this
// process as a marketdata run would, until the test ends.
func startDemoTarget(t *testing.T) (Config, *target) {
	t.Helper()
	c, err := Config{Scenario: ScenarioMarketData, Out: t.TempDir(), Rate: 300, Duration: time.Second}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	tg, err := startTarget(context.Background(), c, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tg.stop() })
	if err := waitReady(context.Background(), tg.base, c.ReadyTimeout); err != nil {
		t.Fatal(err)
	}
	return c, tg
}

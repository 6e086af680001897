package sim

import (
	"testing"
	"time"
)

// TestPace: the flow catches a backlog up a quarter second at a time and
// forgets, and counts, what is more than a second behind.
func TestPace(t *testing.T) {
	tests := []struct {
		name            string
		due, done, rate uint64
		n, skip         uint64
	}{
		{"on time", 10, 10, 1000, 0, 0},
		{"one tick", 11, 10, 1000, 1, 0},
		{"burst bounded", 900, 0, 1000, 251, 0},
		{"a second behind", 1000, 0, 1000, 251, 0},
		{"past a second", 2500, 0, 1000, 251, 1500},
		{"slow rate", 30, 0, 10, 3, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n, skip := pace(tt.due, tt.done, tt.rate); n != tt.n || skip != tt.skip {
				t.Fatalf("pace(%d, %d, %d) = %d, %d; want %d, %d", tt.due, tt.done, tt.rate, n, skip, tt.n, tt.skip)
			}
		})
	}
}

// TestFlowStatsCountStarvation: a flow kept from running for longer than
// a second (its mutex held, as a starved process would be) counts what it
// forgot as Skipped, and the actions it takes as Actions.
func TestFlowStatsCountStarvation(t *testing.T) {
	cfg := testConfig()
	cfg.Rate = 1000
	s := startSim(t, cfg)
	waitUntil(t, func() bool { return s.FlowStats().Actions > 0 })
	s.mu.Lock()
	held := time.Now()
	for time.Since(held) < 2*time.Second { // the starvation itself, not a wait for an event
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Unlock()
	waitUntil(t, func() bool { return s.FlowStats().Skipped > 0 })
	if st := s.FlowStats(); st.Skipped < 500 {
		t.Fatalf("FlowStats %+v: a flow kept 2 s from running at 1000/s forgot at least ~1000 actions", st)
	}
}

// waitUntil polls cond until it holds, failing the test after a bound
// generous for a loaded machine.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 30 s")
		}
	}
}

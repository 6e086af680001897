package loadtest

import (
	"context"
	"fmt"
	"sync"
	"time"

	"sgw/sim"
	"sgw/system"
)

// Fault is one fault the soak scenario injected or lifted.
type Fault struct {
	// At is the time since the measurement window began.
	At   time.Duration `json:"atNs"`
	Kind string        `json:"kind"` // feed_primary_down, feed_primary_up, fix_line0_cut, fix_line0_restored
	Err  string        `json:"error,omitempty"`
}

// faultInjector runs the soak scenario's fault schedule on its own
// goroutine: at 1/3 of the run the feed's primary source goes down, back
// up at 1/2; at 2/3 FIX line 0 (carrier A) is cut, restored at 5/6. Every
// fault is lifted before the run ends, so the integrity checks see the
// recovery too.
type faultInjector struct {
	done chan struct{}

	mu     sync.Mutex
	faults []Fault
	state  string
}

// faultStep is one step of the schedule: at frac of the run, do.
type faultStep struct {
	frac float64
	kind string
	do   func(*system.Demo) error
}

var soakFaults = []faultStep{
	{1.0 / 3, "feed_primary_down", func(d *system.Demo) error { return d.Sim.StopSource(sim.Primary) }},
	{1.0 / 2, "feed_primary_up", func(d *system.Demo) error { return d.Sim.StartSource(sim.Primary) }},
	{2.0 / 3, "fix_line0_cut", func(d *system.Demo) error { return fixOf(d).CutLine(0) }},
	{5.0 / 6, "fix_line0_restored", func(d *system.Demo) error { return fixOf(d).RestoreLine(0) }},
}

// fixLines is what the fault schedule needs of the FIX simulator.
type fixLines interface {
	CutLine(i int) error
	RestoreLine(i int) error
}

// noFIX stands in for a demo without a FIX simulator.
type noFIX struct{}

func (noFIX) CutLine(int) error     { return fmt.Errorf("loadtest: the demo has no FIX simulator") }
func (noFIX) RestoreLine(int) error { return fmt.Errorf("loadtest: the demo has no FIX simulator") }

func fixOf(d *system.Demo) fixLines {
	if d.FIX == nil {
		return noFIX{}
	}
	return d.FIX
}

// injectFaults starts the schedule over a run of length dur that began at
// start. d is the in-process demo (Config validation ensures there is one).
func injectFaults(ctx context.Context, d *system.Demo, start time.Time, dur time.Duration) *faultInjector {
	f := &faultInjector{done: make(chan struct{}), state: "no fault yet"}
	go func() {
		defer close(f.done)
		for i, st := range soakFaults {
			at := time.Duration(float64(dur) * st.frac)
			// Lift a fault even when the run is stopped early: later
			// steps undo earlier ones.
			if ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case <-time.After(time.Until(start.Add(at))):
				}
			}
			if ctx.Err() != nil && i%2 == 0 {
				continue
			}
			err := st.do(d)
			ft := Fault{At: time.Since(start), Kind: st.kind}
			if err != nil {
				ft.Err = err.Error()
			}
			f.mu.Lock()
			f.faults = append(f.faults, ft)
			f.state = st.kind
			f.mu.Unlock()
		}
	}()
	return f
}

// progress returns the progress line's fault part.
func (f *faultInjector) progress() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return "fault: " + f.state
}

// wait waits until every fault was lifted and returns what happened.
func (f *faultInjector) wait() []Fault {
	<-f.done
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.faults
}

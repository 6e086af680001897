package system

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"sgw/configs"
	"sgw/sim"
	"sgw/sim/fixsim"
)

// venue is the simulator and its FIX acceptor, which outlive gateways.
type venue struct {
	cfg *configs.File
	sim *sim.Sim
	fix *fixsim.Acceptor
}

// testLog is the log of the components a test runs in its own process:
// discarded unless SGW_TEST_LOG is set (see newTestLog).
func testLog() *slog.Logger { return newTestLog(os.Getenv("SGW_TEST_LOG"), os.Stderr) }

// newTestLog returns a text log on w for a test's SGW_TEST_LOG value: ""
// discards, "wire" logs every FIX message in and out as well (the fix
// package's wire level), "debug" logs from Debug, anything else from Info.
func newTestLog(level string, w io.Writer) *slog.Logger {
	var l slog.Level
	switch level {
	case "":
		return slog.New(slog.DiscardHandler)
	case "wire":
		l = slog.LevelDebug - 4
	case "debug":
		l = slog.LevelDebug
	default:
		l = slog.LevelInfo
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}

// gatewayLog is the log of a gateway a test runs in its own process:
// testLog's if SGW_TEST_LOG is set; otherwise Info and above are kept in
// memory and, if the test fails, the last 64 KiB are printed with its
// failure, so that a failure on a CI machine shows what the gateway saw.
func gatewayLog(t *testing.T) *slog.Logger {
	if os.Getenv("SGW_TEST_LOG") != "" {
		return testLog()
	}
	tail := &tailBuffer{keep: 64 << 10}
	t.Cleanup(func() { // after the gateway stopped: cleanups run last first
		if t.Failed() {
			t.Logf("gateway log (its last %d KiB):\n%s", tail.keep>>10, tail.String())
		}
	})
	return newTestLog("info", tail)
}

// tailBuffer keeps the last keep bytes written to it, or a little more.
// Safe for concurrent use.
type tailBuffer struct {
	keep int
	mu   sync.Mutex
	b    []byte
}

func (tb *tailBuffer) Write(p []byte) (int, error) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.b = append(tb.b, p...)
	if len(tb.b) > 2*tb.keep {
		tb.b = append(tb.b[:0], tb.b[len(tb.b)-tb.keep:]...)
	}
	return len(p), nil
}

func (tb *tailBuffer) String() string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return string(tb.b[max(0, len(tb.b)-tb.keep):])
}

// startVenue runs the demo's simulator and FIX acceptor and returns the demo
// configuration wired to them.
func startVenue(t *testing.T) *venue {
	t.Helper()
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	tuneForLoad(cfg)
	sc, err := cfg.SimConfig()
	if err != nil {
		t.Fatal(err)
	}
	sc.Logger = testLog()
	s, err := sim.New(sc)
	if err != nil {
		t.Fatal(err)
	}
	WireSimFeeds(cfg, s)
	fa, err := fixsim.New(*cfg.FIXSim, s, testLog())
	if err != nil {
		t.Fatal(err)
	}
	if err := wireSimFIX(cfg, fa); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Run(ctx) }()
	go func() { defer wg.Done(); fa.Run(ctx) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return &venue{cfg: cfg, sim: s, fix: fa}
}

// runningGateway is one gateway process's worth of components.
type runningGateway struct {
	g      *Gateway
	base   string
	ops    string // an operator's token, for /metrics
	cancel context.CancelFunc
	done   chan error
}

func startGateway(t *testing.T, v *venue) *runningGateway { return startGatewayOn(t, v.cfg) }

// startGatewayOn runs a gateway in-process from cfg.
func startGatewayOn(t *testing.T, cfg *configs.File) *runningGateway {
	t.Helper()
	g, err := New(cfg, gatewayLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rg := &runningGateway{g: g, base: "http://" + ln.Addr().String(), cancel: cancel, done: make(chan error, 1)}
	if cfg.Auth != nil && len(cfg.Gateway.Admins) > 0 {
		rg.ops = operatorToken(t, cfg)
	}
	go func() { rg.done <- g.Run(ctx, ln) }()
	t.Cleanup(rg.stop)
	return rg
}

func (rg *runningGateway) stop() {
	if rg.cancel != nil {
		rg.cancel()
		<-rg.done
		rg.cancel = nil
	}
}

func TestOrdersSurviveLineFailures(t *testing.T) {
	tests := []struct {
		name  string
		fault func(v *venue)
		heal  func(v *venue)
	}{
		{"cut line A", func(v *venue) { v.fix.CutLine(v.fix.ActiveLine("SGW-CORE")) }, nil},
		{"stall line A silently", func(v *venue) { v.fix.StallLine(v.fix.ActiveLine("SGW-CORE")) }, nil},
		{"cut both then restore one", func(v *venue) { v.fix.CutLine(0); v.fix.CutLine(1) }, func(v *venue) { v.fix.RestoreLine(1) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v := startVenue(t)
			rg := startGateway(t, v)
			waitUntil(t, "the core session up", 15*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
			tr := newTrader(t, rg.base, token(t, v.cfg))
			ids := tr.stream("o", 60, 30, func() { tc.fault(v) })
			if tc.heal != nil {
				// Every order sent during the outage is accepted (held),
				// none refused; then one line comes back.
				tr.waitFor("the orders sent during the outage accepted", func() bool {
					for _, id := range ids {
						if tr.accepted[id] == 0 && tr.errors[id] == "" {
							return false
						}
					}
					return true
				})
				tc.heal(v)
			}
			tr.waitFor("every order working", func() bool {
				for _, id := range ids {
					if tr.final[id] != "new" && tr.errors[id] == "" {
						return false
					}
				}
				return true
			})
			checkExactlyOnce(t, v, ids, nil, tr)
		})
	}
}

// TestGatewayRestartMidStream stops the gateway (as SIGTERM does) while
// orders stream in, then starts a new one on the same journal and stores.
func TestGatewayRestartMidStream(t *testing.T) {
	v := startVenue(t)
	first := startGateway(t, v)
	waitUntil(t, "the core session up", 15*time.Second, func() bool { return v.fix.LoggedOn("SGW-CORE") })
	tok := token(t, v.cfg)
	tr := newTrader(t, first.base, tok)
	before := tr.stream("r1", 30, 1000, nil)
	first.stop() // mid-stream: acknowledgements and fills may still be in flight

	second := startGateway(t, v)
	tr2 := newTrader(t, second.base, tok)
	after := tr2.stream("r2", 20, 30, nil)
	tr2.waitFor("the new orders working", func() bool {
		for _, id := range after {
			if tr2.final[id] != "new" {
				return false
			}
		}
		return true
	})
	checkExactlyOnce(t, v, append(before, after...), []string{"orders.stopping"}, tr, tr2)
}

// waitUntil polls cond, which reads state that has no change notification
// (the venue's session flags), until it holds.
func waitUntil(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package orders

import (
	"bytes"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/journal"
	"sgw/risk"
)

// lockedBuffer is a bytes.Buffer safe for the manager's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestStaleRefDayLogged: a manager running on into a trading day its
// reference data is not for (risk.Config.RefDay) logs so at the change of
// day, naming both days, and its orders are refused risk.not_trading;
// before, they were checked against the day before's price limits.
func TestStaleRefDayLogged(t *testing.T) {
	j, err := journal.Open(journal.Config{Path: filepath.Join(t.TempDir(), "orders.jrnl"), NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	cst := time.FixedZone("CST", 8*3600)
	clk := risk.NewManualClock(time.Date(2026, 12, 1, 10, 0, 0, 0, cst))
	rcfg := riskConfig()
	rcfg.Schedule.AlwaysOpen = false
	rcfg.RefDay = "2026-12-01"
	rc, err := risk.New(rcfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	m, err := New(Config{CreditAccounts: []string{"M1"}, Clock: clk.Now}, rc, j, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Close)                  // after the journal's Close
	t.Cleanup(func() { _ = j.Close() }) // first, as newEnv does
	core := newFakeUpstream()
	m.AddUpstream("core", core)
	m.AddUpstream("margin", newFakeUpstream())
	if _, err := m.Recover(); err != nil {
		t.Fatal(err)
	}
	m.OnSessionUp("core", "carrierA")
	m.OnSessionUp("margin", "carrierA")
	if _, err := m.New(buy("b1", 100)); err != nil {
		t.Fatalf("order on the reference data's day: %v", err)
	}

	clk.Set(time.Date(2026, 12, 2, 10, 0, 0, 0, cst))
	_, err = m.New(buy("b2", 100))
	var rej *risk.Reject
	if !errors.As(err, &rej) || rej.Code != risk.CodeNotTrading {
		t.Fatalf("order on the next day: %v, want %s", err, risk.CodeNotTrading)
	}
	if l := logs.String(); !strings.Contains(l, "reference data is not today's") || !strings.Contains(l, "ref_day=20261201") || !strings.Contains(l, "day=20261202") {
		t.Fatalf("the change of day's log does not say the reference data is stale:\n%s", l)
	}
}

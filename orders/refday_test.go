package orders

import (
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sgw/fix"
	"sgw/internal/syncbuf"
	"sgw/journal"
	"sgw/risk"
)

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
	var logs syncbuf.Buffer
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

// TestRecoverUnderAnotherRefDay: a restart the next day, its reference
// data that day's (risk.Config.RefDay), replays the last day's journal
// (its day record, an order, its acknowledgement and an accepted replace)
// without refusing any of it: the refusal of another day's requests is
// for live ones only, or a gateway restarted each morning would not start.
func TestRecoverUnderAnotherRefDay(t *testing.T) {
	day1 := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC) // Tuesday 10:00 in Shanghai
	var j memJournal
	add := func(typ byte, v bodyRecord) {
		j = append(j, journal.Record{Seq: uint64(len(j)) + 1, Type: typ, Time: day1.UnixNano(), Body: encodeRecord(v)})
	}
	const px = 17000000
	add(recDay, &dayRec{Date: 20261201})
	add(recNew, &newRec{Account: "A1", ClOrdID: "c1", Symbol: "600519.SH", Side: risk.Buy, Type: risk.Limit,
		Price: px, Qty: 100, Upstream: "core", Source: src, Time: day1, UID: "u1"})
	add(recExec, &execRec{Account: "A1", Upstream: "core", ER: fix.ExecReport{ClOrdID: "u1", OrderID: "v1", ExecID: "n1",
		ExecType: '0', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Side(risk.Buy), Price: px, OrderQty: 100, LeavesQty: 100, SeqNum: 1}})
	add(recReplace, &changeRec{Account: "A1", ClOrdID: "c2", Orig: "c1", Price: px, Qty: 200, Source: src, UID: "u2"})
	nextDay := func(c *risk.Config) { c.Schedule.AlwaysOpen = false; c.RefDay = "2026-12-02" }
	m, n, err := recoverDay(t, j, 1, nextDay)
	if err != nil || n != len(j) {
		t.Fatalf("Recover = %d, %v; want %d records", n, err, len(j))
	}
	if o, ok := m.Get("A1", "c1"); !ok || o.Status != StatusNew || o.Price != px {
		t.Fatalf("c1 = %+v (found %v), want the last day's buy, new, its replace pending", o, ok)
	}
}

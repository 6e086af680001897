package orders

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/fix"
	"sgw/fix/qfcpp"
	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// These tests run the trading day's end against a venue the gateway did
// not write: QuickFIX C++'s ordermatch (package qfcpp), through the
// gateway's own FIX session (fix.Upstream). ordermatch is the venue the
// day's end check is for: it rests day orders and never reports their
// end, and it refuses OrderStatusRequest with a BusinessMessageReject
// (35=j, reason 3). It keeps its book while the gateway stops, and its
// resting orders trade on the next day: the gateway's own expiry meets a
// real late fill.

// interopWait bounds each wait for the venue: generous, for a loaded
// two-core machine running the race detector (the QuickFIX C++ peers
// share it).
const interopWait = 90 * time.Second

// qfRun is a manager with one upstream, core, a fix.Upstream logged on
// (or logging on) to a QuickFIX C++ venue, on the manual clock clk.
type qfRun struct {
	m    *Manager
	reg  *prometheus.Registry
	ev   *events
	stop func()
}

// startQFRun starts a run on journal j, recovered, its risk on the
// exchange calendar and both its clocks clk's.
func startQFRun(t *testing.T, clk *risk.ManualClock, j Journal, up fix.UpstreamConfig) *qfRun {
	t.Helper()
	return startQFRunLog(t, clk, j, up, slog.New(slog.DiscardHandler))
}

// startQFRunLog is startQFRun with the upstream logging to log.
func startQFRunLog(t *testing.T, clk *risk.ManualClock, j Journal, up fix.UpstreamConfig, log *slog.Logger) *qfRun {
	t.Helper()
	rcfg := riskConfig()
	rcfg.Schedule = risk.ScheduleConfig{}
	rc, err := risk.New(rcfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	r := &qfRun{reg: prometheus.NewRegistry(), ev: newEvents()}
	if r.m, err = New(Config{Clock: clk.Now, Registry: r.reg}, rc, j, nil); err != nil {
		t.Fatal(err)
	}
	u, err := fix.NewUpstream(up, r.m, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	r.m.AddUpstream("core", u)
	if _, err := r.m.Recover(); err != nil {
		t.Fatal(err)
	}
	r.m.Register(src, r.ev)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 2)
	go func() { done <- r.m.Run(ctx) }()
	go func() { done <- u.Run(ctx) }()
	stopped := false
	r.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		for range 2 {
			if err := <-done; err != nil {
				t.Errorf("run: %v", err)
			}
		}
		r.m.Close()
	}
	t.Cleanup(r.stop)
	return r
}

// await waits until cond holds, checking it at each event the run's
// client gets.
func (r *qfRun) await(t *testing.T, what string, cond func(m *Manager) bool) {
	t.Helper()
	deadline := time.After(interopWait)
	for {
		r.ev.mu.Lock()
		ch := r.ev.notify
		r.ev.mu.Unlock()
		if cond(r.m) {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			o := map[string]Order{}
			for _, id := range []string{"w1", "w2", "s1"} {
				o[id], _ = r.m.Get("A1", id)
			}
			t.Fatalf("waiting for %s: orders %+v", what, o)
		}
	}
}

// place enters a limit order of A1 in 600519.SH at px.
func (r *qfRun) place(t *testing.T, id string, side risk.Side, qty int64, px refdata.Price) {
	t.Helper()
	req := NewRequest{ClOrdID: id, Account: "A1", Symbol: "600519.SH", Side: side, Type: risk.Limit, Price: px, Qty: qty, Source: src}
	if _, err := r.m.New(req); err != nil {
		t.Fatalf("order %s: %v", id, err)
	}
}

// venueGot counts the messages of msgType the venue received, or sent
// (out), whose field tag is value; PossDup resends (43=Y: a message again
// under its own MsgSeqNum, as a ResendRequest asks) are not counted.
func venueGot(v *qfcpp.Proc, kind, msgType string, tag int, value string) int {
	n := 0
	for _, e := range v.Entries() {
		if e.Kind == kind && e.Msg.Type() == msgType && e.Msg.Get(tag) == value && e.Msg.Get(43) != "Y" {
			n++
		}
	}
	return n
}

// countRecords counts the records of type typ in j.
func countRecords(t *testing.T, j Journal, typ byte) int {
	t.Helper()
	n := 0
	if err := j.Replay(func(r journal.Record) error {
		if r.Type == typ {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestDayEndAgainstOrderMatch: two orders rest on ordermatch past the
// close (a buy w1 and a sell w2, acknowledged, never reported ended).
// The day's end check asks their status at 16:00; ordermatch refuses
// both requests (35=j, reason 3), so the gateway expires them on its own
// word: journaled, counted, the client told, risk's holds freed. The next
// morning a sell s1 trades against w1, which still rests at the venue:
// its fill (ExecType 1 from a FIX 4.2 venue) counts as a late fill, and
// the order stays expired. A replay of the journal ends the same.
//
// In "missed", the gateway is down from 14:00 to the next morning: the
// check is the recovery's status check at its first logon, and it ends
// the same.
func TestDayEndAgainstOrderMatch(t *testing.T) {
	for _, missed := range []bool{false, true} {
		t.Run(map[bool]string{false: "checked", true: "missed"}[missed], func(t *testing.T) {
			kit := qfcpp.Build(t)
			gw, venue := fmt.Sprintf("GWDE%t", missed), fmt.Sprintf("OMDE%t", missed)
			v := kit.StartOrderMatch(t, qfcpp.Venue{BeginString: qfcpp.FIX42, SenderCompID: venue, TargetCompID: gw})
			up := fix.UpstreamConfig{Name: "core", SenderCompID: gw, TargetCompID: venue, BeginString: qfcpp.FIX42,
				Lines: []fix.LineConfig{{Name: "lineA", Addr: v.Addr()}}, StoreDir: t.TempDir()}
			clk := risk.NewManualClock(time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)) // Tuesday 10:00 in Shanghai
			j := &clockJournal{clk: clk}

			r := startQFRun(t, clk, j, up)
			r.place(t, "w1", risk.Buy, 200, 17_000_000)
			r.place(t, "w2", risk.Sell, 200, 17_100_000) // 1710.00: no cross
			r.await(t, "w1 and w2 resting", func(m *Manager) bool {
				w1, _ := m.Get("A1", "w1")
				w2, _ := m.Get("A1", "w2")
				return w1.Status == StatusNew && w2.Status == StatusNew
			})
			uid := map[string]string{}
			for _, id := range []string{"w1", "w2"} {
				o, _ := r.m.Get("A1", id)
				uid[id] = o.UpstreamID
			}
			if missed {
				atShanghai(clk, 14, 0)
				r.stop()
				clk.Set(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)) // Wednesday 09:00
				r = startQFRun(t, clk, j, up)
			} else {
				atShanghai(clk, 16, 1)
			}
			r.await(t, "w1 and w2 expired by the gateway", func(m *Manager) bool {
				w1, _ := m.Get("A1", "w1")
				w2, _ := m.Get("A1", "w2")
				return w1.Status == StatusExpired && w2.Status == StatusExpired
			})
			// The gateway may read the venue's second refusal before the
			// venue's screen log shows it: wait for it there (its log
			// holds both requests before it).
			refusals := 0
			if _, err := v.Await(r.ctx(t), func(e qfcpp.Entry) bool {
				if e.Kind == qfcpp.Outgoing && e.Msg.Type() == "j" && e.Msg.Get(372) == "H" && e.Msg.Get(43) != "Y" {
					refusals++
				}
				return refusals == 2
			}); err != nil {
				t.Fatalf("the venue's log shows %d refusals of status requests, want 2: %v", refusals, err)
			}
			for _, id := range []string{"w1", "w2"} {
				if n := venueGot(v, qfcpp.Incoming, "H", 11, uid[id]); n != 1 {
					t.Errorf("the venue got %d status requests of %s, want 1", n, id)
				}
				if n := venueGot(v, qfcpp.Incoming, "D", 11, uid[id]); n != 1 {
					t.Errorf("the venue got %s %d times, want once", id, n)
				}
			}
			if n := venueGot(v, qfcpp.Outgoing, "j", 372, "H"); n != 2 {
				t.Errorf("the venue refused %d status requests, want 2", n)
			}
			if n := testCounter(t, r.m.met.expiredOwn.WithLabelValues("core")); n != 2 {
				t.Errorf("gateway_orders_expired_unreported_total %v, want 2", n)
			}
			if n := testValue(t, r.m.met.noStatus.WithLabelValues("core")); n != 1 {
				t.Errorf("gateway_orders_status_unsupported %v, want 1", n)
			}
			if a, p := a1(t, r.m); a.OpenOrders != 0 || a.Reserved != 0 || p.Reserved != 0 {
				t.Errorf("A1 after the expiry: %+v", a)
			}

			// The next morning: s1 sells 100 at 1700.00 into w1, which
			// ordermatch still rests.
			clk.Set(time.Date(2026, 12, 2, 1, 30, 0, 0, time.UTC)) // Wednesday 09:30
			r.place(t, "s1", risk.Sell, 100, 17_000_000)
			r.await(t, "s1 filled against w1", func(m *Manager) bool {
				s1, _ := m.Get("A1", "s1")
				w1, _ := m.Get("A1", "w1")
				return s1.Status == StatusFilled && w1.CumQty == 100
			})
			w1, _ := r.m.Get("A1", "w1")
			if w1.Status != StatusExpired || w1.LeavesQty != 0 || !strings.Contains(w1.Text, "after the gateway expired") {
				t.Errorf("w1 after its late fill: %+v", w1)
			}
			// The late buy of 100 (Tuesday's: sellable) makes up for s1,
			// in shares and in cash.
			if a, p := a1(t, r.m); a.Cash != 10_000_000*refdata.PriceScale || a.OpenOrders != 0 || a.Reserved != 0 ||
				p.Sellable != 1000 || p.BoughtToday != 0 || p.Reserved != 0 {
				t.Errorf("A1 after s1 and w1's late fill: %+v", a)
			}
			if n := countRecords(t, j, recExpired); n != 2 {
				t.Errorf("the journal holds %d own expiries, want 2", n)
			}
			live := map[string]Order{}
			for _, id := range []string{"w1", "w2", "s1"} {
				live[id], _ = r.m.Get("A1", id)
			}
			liveA1, _ := r.m.Account("A1")
			r.stop()

			// A replay of the journal ends the same.
			rp := newEnv(t, t.TempDir(), func(e *env, c *Config) {
				rcfg := riskConfig()
				rcfg.Schedule = risk.ScheduleConfig{}
				rc, err := risk.New(rcfg, clk)
				if err != nil {
					t.Fatal(err)
				}
				e.rc, e.jrnl = rc, j
				c.Clock = clk.Now
			})
			for id, want := range live {
				got, _ := rp.m.Get("A1", id)
				if got.Status != want.Status || got.CumQty != want.CumQty || got.LeavesQty != want.LeavesQty {
					t.Errorf("%s replayed %s cum %d leaves %d, live %s cum %d leaves %d", id,
						got.Status, got.CumQty, got.LeavesQty, want.Status, want.CumQty, want.LeavesQty)
				}
			}
			if a, _ := rp.m.Account("A1"); fmt.Sprint(a) != fmt.Sprint(liveA1) {
				t.Errorf("A1 replayed %+v, live %+v", a, liveA1)
			}
		})
	}
}

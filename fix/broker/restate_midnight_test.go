package broker

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/fix"
)

// TestRestateUnresetStoreAcrossMidnight: a session without a schedule,
// whose store was created the day before and never reset, restarted after
// midnight's first request: the trade of an order filled the day before,
// whose report the store lacks (queued when the gateway stopped before
// midnight), is resent with the order's status; an order of the day
// before the store shows as it is is not restated; one whose ClOrdID the
// broker took again today is left out (the store's last report of the
// ClOrdID is the new order's, for which its status would be taken).
// Before, every order ended the day before was left out, as if the store
// had been reset at the new day, and the broker never got the trade.
func TestRestateUnresetStoreAcrossMidnight(t *testing.T) {
	r := newDayRig(t)
	created := r.clk.Now() // 2026-12-01, 10:00 in Shanghai
	r.fill("lost", r.newOrder("lost"), 100)
	r.fill("told", r.newOrder("told"), 100)
	r.fill("again", r.newOrder("again"), 100)
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
	// The day's first request, under a ClOrdID free again; acknowledged
	// under an ExecID of its own.
	r.newOrderAs("again", "again2")
	r.h.waitFor(t, "the second order again's acknowledgement", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:N-again2" })
	if got, ok := r.m.Get("A1", "again"); !ok || got.Day() != 20261202 || r.m.TradingDay() != 20261202 {
		t.Fatalf("the second order again's day %d, the trading day %d; want 20261202 and 20261202", got.Day(), r.m.TradingDay())
	}
	lost := func(m *quickfix.Message) bool {
		id := field(m, tag.ExecID)
		return id == "core:F-lost" || id == "core:F-again"
	}
	r.restartCreated(created, func(m *quickfix.Message) bool { return !lost(m) }, "lost/F", "lost/I")
}

// TestRestateClOrdIDTakenByAReplaceOfAnEarlierOrder: a session without a
// schedule, its store created the day before and never reset; an order
// carried over (a venue that never closes), entered before another that
// ended that day, is replaced today to that order's ClOrdID, free again,
// and fills; the Replaced and the trade's reports are lost (queued when
// the gateway stopped). At the restart the carried order, the ClOrdID's
// holder, has its trade resent and is restated under it; the ended one
// is left out. Before, the order entered last under a ClOrdID was taken
// for its holder: the ended order stood for it (its stored fill matching,
// nothing was sent) and the working one was left out, its trade never
// resent.
func TestRestateClOrdIDTakenByAReplaceOfAnEarlierOrder(t *testing.T) {
	r := newDayRig(t)
	created := r.clk.Now() // 2026-12-01, 10:00 in Shanghai
	carried := r.newOrder("carried")
	r.fill("z", r.newOrder("z"), 100)
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
	if rej := r.s.handle(inbound(t, r.begin, "G", "11=z|41=carried|1="+r.acct+"|55=600519|207=XSHG|54=1|40=2|44=1701|38=100")); rej != nil {
		t.Fatalf("the replace of the carried order to z: %v", rej)
	}
	r.sent++
	rpl := r.up.Wait(t, r.sent)[r.sent-1].(fix.ReplaceRequest)
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: rpl.ClOrdID, OrigClOrdID: carried.ClOrdID, OrderID: "V-carried", ExecID: "R-carried",
		ExecType: '5', OrdStatus: '0', Symbol: "600519.SH", Side: fix.Buy, Price: 17010000, OrderQty: 100, LeavesQty: 100})
	r.m.OnExecReport("core", fix.ExecReport{ClOrdID: rpl.ClOrdID, OrderID: "V-carried", ExecID: "F-carried", ExecType: 'F', OrdStatus: '1',
		Symbol: "600519.SH", Side: fix.Buy, Price: 17010000, OrderQty: 100, LastQty: 40, LastPx: 17010000, CumQty: 40, LeavesQty: 60})
	r.h.waitFor(t, "the carried order's trade", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:F-carried" })
	if got, ok := r.m.Get("A1", "z"); !ok || got.Day() != 20261201 || got.Status.Terminal() || r.m.TradingDay() != 20261202 {
		t.Fatalf("the order under z: day %d, status %s, the trading day %d; want the carried order (20261201, working), 20261202", got.Day(), got.Status, r.m.TradingDay())
	}
	lost := func(m *quickfix.Message) bool {
		id := field(m, tag.ExecID)
		return id == "core:R-carried" || id == "core:F-carried"
	}
	r.restartCreated(created, func(m *quickfix.Message) bool { return !lost(m) }, "z/F", "z/I")
}

// TestRestateScheduledPeriodFromTheEveningBefore: a session with a
// schedule whose period begins at 17:00, its store reset then, the day
// before; the trade of an order filled that morning (before the reset)
// is in no store, but the session of its own period told the broker of
// it. After the day's first request the restatement leaves that order
// out, as before: the cutoff is the trading day, not the period's first
// day, or the broker would be sent yesterday's trade again.
func TestRestateScheduledPeriodFromTheEveningBefore(t *testing.T) {
	r := newDayRig(t)
	r.s.spec.cfg.Schedule = &fix.SessionSchedule{Start: "17:00:00", End: "16:59:59", TimeZone: "Asia/Shanghai"}
	r.fill("early", r.newOrder("early"), 100)               // 2026-12-01, 10:00 in Shanghai
	created := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) // 17:00 in Shanghai
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
	r.newOrder("today") // the day's first request
	r.h.waitFor(t, "today's acknowledgement", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:N-today" })
	if r.m.TradingDay() != 20261202 {
		t.Fatalf("trading day %d, want 20261202", r.m.TradingDay())
	}
	today := func(m *quickfix.Message) bool { return field(m, tag.ClOrdID) == "today" }
	r.restartCreated(created, today)
}

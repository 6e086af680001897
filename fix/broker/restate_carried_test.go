package broker

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// TestRestateTodaysCancelOfAnEarlierDaysTrade: orders a venue that never
// closes carried over from 2026-12-01, each with a trade of that day
// (told to the broker on that day's session). The venue cancels the
// trade of one on 2026-12-02 and the gateway restarts with the cancel's
// report lost (queued for a broker logged out): the restatement resends
// the cancel, flagged PossResend, naming the trade by its ExecID, before
// the order's status, and a broker that booked the trade the day before
// takes it back. Before, the restatement left the cancel out with the
// trade, an earlier day's: the broker kept the trade while the status
// said nothing was filled. The cancel of the other order's trade, made on
// 2026-12-01 too, is not resent: that day's session told the broker,
// and today's store (reset) tells nothing of it.
func TestRestateTodaysCancelOfAnEarlierDaysTrade(t *testing.T) {
	r := newDayRig(t)
	today := r.newOrder("today") // entered on 2026-12-01
	r.fill("today", today, 40)
	before := r.newOrder("before")
	r.fill("before", before, 40)
	r.bust("before", before) // canceled on 2026-12-01
	r.h.waitFor(t, "the cancel of F-before", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-before" })
	r.clk.Set(time.Date(2026, 12, 2, 2, 0, 0, 0, time.UTC))
	r.newOrder("next") // the day's first request: 2026-12-02 begins
	if r.m.TradingDay() != 20261202 {
		t.Fatalf("the trading day %d; want 20261202", r.m.TradingDay())
	}
	r.bust("today", today)
	r.h.waitFor(t, "the cancel of F-today", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-today" })
	live := len(r.h.all())
	// The restart on 2026-12-02: the store, reset at the session's new
	// day, holds the new order's report, not the cancel's.
	r.restartHolding(func(m *quickfix.Message) bool { return field(m, tag.ClOrdID) == "next" },
		"today/H", "today/I", "before/I")
	out := r.h.all()
	cancel := out[live]
	for tg, want := range map[quickfix.Tag]string{tag.ExecID: "core:X-today", tag.ExecRefID: "core:F-today", tag.PossResend: "Y",
		tag.CumQty: "0", tag.LeavesQty: "100"} {
		if got := field(cancel, tg); got != want {
			t.Errorf("the cancel resent: tag %d %q; want %q (%s)", tg, got, want, cancel)
		}
	}
	// A broker that got every report but the cancel X-today.
	var got []*quickfix.Message
	for _, m := range out {
		if field(m, tag.ExecID) != "core:X-today" || field(m, tag.PossResend) == "Y" {
			got = append(got, m)
		}
	}
	booked, err := bookTrades(got)
	if err != nil {
		t.Fatal(err)
	}
	if booked["core:F-today"] != 0 || booked["core:F-before"] != 0 {
		t.Errorf("the broker books %v; want F-today 0, F-before 0", booked)
	}
}

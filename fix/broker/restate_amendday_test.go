package broker

import (
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// TestRestateCancelBeforeTheDaysFirstRequest: an order a venue that
// never closes carried over from 2026-12-01, with a trade of that day
// told to the broker. On 2026-12-02, before the day's first request (the
// manager still counts 2026-12-01), the venue cancels the trade; its
// report is lost (queued for a broker logged out) and the gateway
// restarts on a store reset at the session's new day. The restatement
// resends the cancel, as it does one made after the day's first
// request: the store's period began on 2026-12-02, and nothing of it
// told the broker of the cancel.
func TestRestateCancelBeforeTheDaysFirstRequest(t *testing.T) {
	r := newDayRig(t)
	w := r.newOrder("w") // entered on 2026-12-01
	r.fill("w", w, 40)
	r.clk.Set(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)) // 09:00 in Shanghai, no request yet
	r.bust("w", w)
	r.h.waitFor(t, "the cancel of F-w", func(m *quickfix.Message) bool { return field(m, tag.ExecID) == "core:X-w" })
	if r.m.TradingDay() != 20261201 {
		t.Fatalf("the trading day %d; want 20261201 (no request yet)", r.m.TradingDay())
	}
	live := len(r.h.all())
	r.restartHolding(nil, "w/H", "w/I")
	out := r.h.all()
	var got []*quickfix.Message
	for _, m := range out[:live] {
		if field(m, tag.ExecID) != "core:X-w" {
			got = append(got, m)
		}
	}
	booked, err := bookTrades(append(got, out[live:]...))
	if err != nil {
		t.Fatal(err)
	}
	if booked["core:F-w"] != 0 {
		t.Errorf("the broker books %v; want F-w 0", booked)
	}
}

// TestRestateFillBeforeTheDaysFirstRequest: an order a venue that never
// closes carried over from 2026-12-01 is filled in part on 2026-12-02
// before the day's first request (the manager still counts 2026-12-01);
// the trade's report is lost (queued for a broker logged out) and the
// gateway restarts on a store reset at the session's new day. The
// restatement resends the trade, then the order's status. Before, the
// trade counted as told on 2026-12-01 and was not resent: the status
// showed a fill the broker never booked.
func TestRestateFillBeforeTheDaysFirstRequest(t *testing.T) {
	r := newDayRig(t)
	p := r.newOrder("p")                                    // entered on 2026-12-01
	r.clk.Set(time.Date(2026, 12, 2, 1, 0, 0, 0, time.UTC)) // 09:00 in Shanghai, no request yet
	r.fill("p", p, 40)
	if r.m.TradingDay() != 20261201 {
		t.Fatalf("the trading day %d; want 20261201 (no request yet)", r.m.TradingDay())
	}
	r.restartHolding(nil, "p/F", "p/I")
}

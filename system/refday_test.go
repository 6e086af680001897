package system

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/configs"
)

// TestOrderTermsPinRefDay: the reference data a gateway loads with its
// file is its start day's. Every term's risk checker (a takeover after
// midnight builds a new one) is told so (risk.Config.RefDay), and refuses
// a later day's orders rather than check them against the start day's
// price limits; before, a gateway or a cluster node running past midnight
// served the next day with the day before's bands. Started on a weekend or
// a holiday, the pinned day is the next session's. A file naming ref_day
// keeps it; with always_open (the simulator) nothing is pinned.
func TestOrderTermsPinRefDay(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cst := time.FixedZone("CST", 8*3600)
	for _, tc := range []struct {
		name       string
		alwaysOpen bool
		refDay     string
		pinned     bool // to the start day; else left as refDay
	}{
		{name: "exchange schedule", pinned: true},
		{name: "named", refDay: "2030-01-02"},
		{name: "always open", alwaysOpen: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := configs.LoadDemo()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Orders.Risk.Schedule.AlwaysOpen = tc.alwaysOpen
			cfg.Orders.Risk.RefDay = tc.refDay
			before := firstSession(time.Now().In(cst), cfg.Orders.Risk.Schedule.Holidays)
			terms, err := orderTerms(cfg, prometheus.NewRegistry(), log)
			after := firstSession(time.Now().In(cst), cfg.Orders.Risk.Schedule.Holidays)
			if err != nil {
				t.Fatal(err)
			}
			got := terms.risk.RefDay
			switch {
			case tc.pinned && got != before && got != after:
				t.Fatalf("ref_day %q, want the start day %s", got, before)
			case !tc.pinned && got != tc.refDay:
				t.Fatalf("ref_day %q, want %q", got, tc.refDay)
			}
		})
	}
}

// firstSession is t's date (YYYY-MM-DD) or, on a weekend or one of
// holidays, the next that is neither.
func firstSession(t time.Time, holidays []string) string {
	for {
		d := t.Format(time.DateOnly)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday && !slices.Contains(holidays, d) {
			return d
		}
		t = t.AddDate(0, 0, 1)
	}
}

package system

import (
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/configs"
	"sgw/risk"
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
		stale      float64
	}{
		{name: "exchange schedule", pinned: true},
		{name: "named", refDay: "2030-01-02"},
		{name: "named, behind", refDay: "2020-01-02", stale: 1},
		{name: "always open", alwaysOpen: true},
		{name: "always open, named behind", alwaysOpen: true, refDay: "2020-01-02"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := configs.LoadDemo()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Orders.Risk.Schedule.AlwaysOpen = tc.alwaysOpen
			cfg.Orders.Risk.RefDay = tc.refDay
			before := firstSession(time.Now().In(cst), cfg.Orders.Risk.Schedule.Holidays)
			reg := prometheus.NewRegistry()
			terms, err := orderTerms(cfg, reg, log, nil)
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
			// Every node exports whether its data is behind the session
			// at hand, at 0 when it is not.
			if v := exportedGauge(t, reg, "gateway_orders_reference_data_stale"); v != tc.stale {
				t.Fatalf("gateway_orders_reference_data_stale %v, want %v", v, tc.stale)
			}
		})
	}
}

// TestReferenceDataStaleGauge: every node pins the day it started on, and
// a cluster node started on Friday that leads on Monday refuses every
// order. gateway_orders_reference_data_stale says so on every node, the
// followers too, from Saturday on (before, nothing but the refusals did),
// for the day pinned at the start as for one the file names.
func TestReferenceDataStaleGauge(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cst := time.FixedZone("CST", 8*3600)
	friday := time.Date(2026, 12, 4, 16, 0, 0, 0, cst)
	for _, tc := range []struct {
		name   string
		refDay string
	}{
		{name: "pinned at the start"},
		{name: "named", refDay: "2026-12-04"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := configs.LoadDemo()
			if err != nil {
				t.Fatal(err)
			}
			cfg.Orders.Risk.Schedule.AlwaysOpen = false
			cfg.Orders.Risk.RefDay = tc.refDay
			clk := risk.NewManualClock(friday)
			reg := prometheus.NewRegistry()
			terms, err := orderTerms(cfg, reg, log, clk)
			if err != nil {
				t.Fatal(err)
			}
			if terms.risk.RefDay != "2026-12-04" {
				t.Fatalf("ref_day %q, want the Friday", terms.risk.RefDay)
			}
			for _, step := range []struct {
				at    time.Time
				stale float64
			}{
				{friday, 0},
				{friday.Add(6 * time.Hour), 0},               // Friday evening
				{friday.Add(10 * time.Hour), 1},              // Saturday
				{friday.AddDate(0, 0, 3).Add(-time.Hour), 1}, // Monday 09:00
			} {
				clk.Set(step.at)
				if v := exportedGauge(t, reg, "gateway_orders_reference_data_stale"); v != step.stale {
					t.Fatalf("at %s: gateway_orders_reference_data_stale %v, want %v", step.at, v, step.stale)
				}
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

// exportedGauge is the value of the gauge name (no labels) reg exports;
// the test fails when it exports none.
func exportedGauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name && len(f.GetMetric()) == 1 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s not exported", name)
	return 0
}

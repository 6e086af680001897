package risk

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// refDay sets Config.RefDay.
func refDay(d string) func(*Config) { return func(c *Config) { c.RefDay = d } }

// TestRefDayRefusesStaleLimits: a process that runs on past midnight keeps
// the reference data it was built with. Before, the next day's orders
// were checked against the day before's previous closes: a price band a
// day old (a stock that rose 10% had its limit-up still at yesterday's,
// and one that fell let buys through above today's). Now new orders and
// replaces on a day the reference data is not for are refused
// risk.not_trading naming both days; cancels still pass; a replay is not
// refused (it was checked on its own day); with AlwaysOpen nothing is.
func TestRefDayRefusesStaleLimits(t *testing.T) {
	c, clk := newChecker(t, refDay(monday))
	mustNew(t, c, buy("A1", "b1", "000001.SZ", "10", 100))
	if ref, stale := c.RefDay(); ref != 20250609 || stale {
		t.Fatalf("RefDay on its day: %d %v", ref, stale)
	}

	clk.Set(at("2025-06-10 10:00"))
	_, rej := c.CheckNew(buy("A1", "b2", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeNotTrading)
	if !strings.Contains(rej.Text, "2025-06-09") || !strings.Contains(rej.Text, "2025-06-10") || !strings.Contains(rej.Text, "ref_day") {
		t.Fatalf("text %q does not name the days and the setting", rej.Text)
	}
	if _, stale := c.RefDay(); !stale {
		t.Fatal("RefDay does not report the data stale on the next day")
	}
	// A replayed order of today's journal is restored, and its replace
	// refused; its cancel passes.
	if _, rej := c.RestoreNew(buy("A1", "r1", "000001.SZ", "10", 100)); rej != nil {
		t.Fatalf("restore refused: %s %s", rej.Code, rej.Text)
	}
	_, rej = c.CheckReplace("r1", buy("A1", "r2", "000001.SZ", "10", 200))
	wantCode(t, rej, CodeNotTrading)
	wantCode(t, c.CheckCancel(Cancel{Account: "A1", ClOrdID: "x1", OrigClOrdID: "r1"}), "")
	checkInvariants(t, c)

	// Before the session a closed session is reported first.
	clk.Set(at("2025-06-10 08:00"))
	_, rej = c.CheckNew(buy("A1", "b3", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeSessionClosed)

	// Named for the next day (a start the evening before): refused on the
	// start day, taken on its own.
	c2, clk2 := newChecker(t, refDay("2025-06-10"))
	_, rej = c2.CheckNew(buy("A1", "b1", "000001.SZ", "10", 100))
	wantCode(t, rej, CodeNotTrading)
	clk2.Set(at("2025-06-10 10:00"))
	mustNew(t, c2, buy("A1", "b1", "000001.SZ", "10", 100))

	// Not checked when not set, nor with AlwaysOpen.
	c3, clk3 := newChecker(t, nil)
	clk3.Set(at("2025-06-10 10:00"))
	mustNew(t, c3, buy("A1", "b1", "000001.SZ", "10", 100))
	c4, clk4 := newChecker(t, func(cfg *Config) { cfg.RefDay = monday; cfg.Schedule.AlwaysOpen = true })
	clk4.Set(at("2025-06-10 10:00"))
	mustNew(t, c4, buy("A1", "b1", "000001.SZ", "10", 100))
	if _, stale := c4.RefDay(); stale {
		t.Fatal("RefDay stale with AlwaysOpen")
	}
}

// TestRefDayInvalid: ref_day must be a date.
func TestRefDayInvalid(t *testing.T) {
	for _, d := range []string{"2025-6-9", "20250609", "2025-02-30"} {
		cfg := testConfig()
		cfg.RefDay = d
		if _, err := New(cfg, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("ref_day %q: %v", d, err)
		}
	}
}

// TestFirstSessionDay: the trading day reference data loaded now is for
// is today's on a session day, else the next session's: a gateway
// started on a weekend or a holiday with Monday's data takes Monday's
// orders (before, it pinned the start day and refused them all).
func TestFirstSessionDay(t *testing.T) {
	c, clk := newChecker(t, nil)
	for _, tc := range []struct{ now, want string }{
		{monday + " 10:00", "2025-06-09"},
		{"2025-06-13 18:00", "2025-06-13"}, // Friday evening: Friday's (name the next day in ref_day)
		{"2025-06-14 10:00", "2025-06-16"}, // Saturday
		{"2025-06-15 23:59", "2025-06-16"}, // Sunday
		{"2025-09-30 20:00", "2025-09-30"},
		{"2025-10-01 10:00", "2025-10-02"}, // a holiday (the test schedule's)
	} {
		clk.Set(at(tc.now))
		if got := c.FirstSessionDay(); got != tc.want {
			t.Errorf("at %s: %s, want %s", tc.now, got, tc.want)
		}
	}
	if got, want := c.Day(), "2025-06-09"; got != want {
		t.Errorf("the checker's own day moved to %s (want %s)", got, want)
	}
}

// TestFirstSessionDayAcrossMonthsAndYears: the walk to the next session
// crosses a month's and a year's end, and a run of holidays after a
// weekend; a schedule whose every weekday of a year is a holiday ends the
// walk (the checker's own day) rather than loop.
func TestFirstSessionDayAcrossMonthsAndYears(t *testing.T) {
	hols := []string{"2025-12-31", "2026-01-01", "2026-01-02", "2026-02-02"}
	c, clk := newChecker(t, func(cfg *Config) { cfg.Schedule.Holidays = hols })
	for _, tc := range []struct{ now, want string }{
		{"2025-05-31 10:00", "2025-06-02"}, // Saturday, May's last day
		{"2025-12-30 20:00", "2025-12-30"}, // Tuesday evening
		{"2025-12-31 00:00", "2026-01-05"}, // three holidays, then a weekend
		{"2026-01-31 23:59", "2026-02-03"}, // Saturday, a holiday Monday
	} {
		clk.Set(at(tc.now))
		if got := c.FirstSessionDay(); got != tc.want {
			t.Errorf("at %s: %s, want %s", tc.now, got, tc.want)
		}
	}

	var every []string
	for d := at("2025-06-09 00:00"); d.Before(at("2026-07-01 00:00")); d = d.AddDate(0, 0, 1) {
		every = append(every, d.Format("2006-01-02"))
	}
	c2, clk2 := newChecker(t, func(cfg *Config) { cfg.Schedule.Holidays = every })
	clk2.Set(at("2025-06-14 10:00"))
	if got, want := c2.FirstSessionDay(), c2.Day(); got != want {
		t.Errorf("every day a holiday: %s, want the checker's day %s", got, want)
	}
}

// TestRefDayBehind: reference data for an earlier session day than the
// clock's, or on a weekend or a holiday the next one's, is behind
// (gateway_orders_reference_data_stale): a node started on Friday is so
// from Saturday on, before it leads on Monday and refuses every order.
// Data for a later day (loaded the evening before) is not, nor anything
// unchecked.
func TestRefDayBehind(t *testing.T) {
	const friday, nextMonday = "2025-06-13", "2025-06-16"
	for _, tc := range []struct {
		name   string
		cfg    func(*Config)
		now    string
		behind bool
	}{
		{name: "its day", cfg: refDay(friday), now: friday + " 10:00"},
		{name: "its evening", cfg: refDay(friday), now: friday + " 20:00"},
		{name: "saturday", cfg: refDay(friday), now: "2025-06-14 10:00", behind: true},
		{name: "monday", cfg: refDay(friday), now: nextMonday + " 09:15", behind: true},
		{name: "named the evening before", cfg: refDay(nextMonday), now: friday + " 20:00"},
		{name: "named for monday on sunday", cfg: refDay(nextMonday), now: "2025-06-15 10:00"},
		{name: "not set", now: nextMonday + " 10:00"},
		{name: "always open", cfg: func(c *Config) { c.RefDay = friday; c.Schedule.AlwaysOpen = true }, now: nextMonday + " 10:00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, clk := newChecker(t, tc.cfg)
			clk.Set(at(tc.now))
			if got := c.RefDayBehind(); got != tc.behind {
				t.Fatalf("RefDayBehind at %s: %v, want %v", tc.now, got, tc.behind)
			}
		})
	}
}

// TestFirstSessionDaySkippedMidnight: in a time zone whose clocks skip
// midnight when daylight saving starts (America/Santiago on Sunday
// 2010-10-10: 23:59:59 -04, then 01:00 -03), the walk from Saturday
// reaches Monday. Before, it took that Sunday's midnight, which Go
// normalizes into Saturday's last hour, as Saturday's end, walked
// Saturday again for a year and gave the checker's own day.
func TestFirstSessionDaySkippedMidnight(t *testing.T) {
	loc, err := time.LoadLocation("America/Santiago")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	c, clk := newChecker(t, func(cfg *Config) { cfg.Schedule.Location = "America/Santiago" })
	for _, h := range []int{0, 12, 23} {
		now := time.Date(2010, 10, 9, h, 30, 0, 0, loc) // Saturday
		clk.Set(now)
		if got, want := c.FirstSessionDay(), "2010-10-11"; got != want {
			t.Errorf("at %s: %s, want %s", now, got, want)
		}
	}
}

package risk

import (
	"fmt"
	"math"
	"time"

	"sgw/refdata"
)

// Defaults that New applies to zero Config fields.
const (
	// DefaultMaxQtyMain is the largest order on the main board, in shares.
	DefaultMaxQtyMain = 1_000_000
	// DefaultMaxQtyChiNext is the largest order on ChiNext (the SZSE limit
	// for limit orders).
	DefaultMaxQtyChiNext = 300_000
	// DefaultMaxQtySTAR is the largest order on STAR (the SSE limit for
	// limit orders).
	DefaultMaxQtySTAR = 100_000
	// DefaultMaxQtyST is the largest order in an ST share.
	DefaultMaxQtyST = 1_000_000
	// DefaultSTDailyBuy is the exchanges' limit on one investor's buys of
	// one main-board risk-warned (ST) share in a trading day: 500,000
	// shares, filled and working together.
	DefaultSTDailyBuy = 500_000
	// DefaultMaxNotional is the largest order value, 50,000,000 CNY.
	DefaultMaxNotional refdata.Price = 50_000_000 * refdata.PriceScale
	// DefaultAccountRate is the per-account throttle, orders per second.
	DefaultAccountRate = 50
	// DefaultSessionRate is the per-session throttle, orders per second.
	DefaultSessionRate = 200
	// MaxRate bounds AccountRate and SessionRate.
	MaxRate = 1_000_000
	// DefaultLocation is the exchanges' time zone.
	DefaultLocation = "Asia/Shanghai"
)

// Config configures a Checker.
type Config struct {
	// Instruments is the reference data of every tradable symbol; each is
	// validated (and its defaults filled) on a copy, and its board must be
	// its code's (refdata.Instrument.CheckBoard). An order for a symbol
	// not listed is rejected with risk.unknown_symbol. Zero means no
	// instrument: every order is rejected.
	Instruments []refdata.Instrument `yaml:"instruments"`
	// Accounts lists the trading accounts with their start-of-day cash
	// and positions. An order for an account not listed is rejected with
	// risk.unknown_account. Zero means no account.
	Accounts []AccountConfig `yaml:"accounts"`
	// Schedule sets the trading calendar and time zone.
	Schedule ScheduleConfig `yaml:"schedule"`
	// MaxQty is the largest order quantity per board, in shares: keys
	// main, chinext, star, st. A missing board or a zero value means the
	// default: main 1,000,000; chinext 300,000; star 100,000; st 1,000,000.
	MaxQty map[refdata.Board]int64 `yaml:"max_qty"`
	// STDailyBuy is the most shares of one ST share (board st) an account
	// may buy in a trading day: today's fills plus its working buys
	// (those carried from an earlier day too) plus the new order, or the
	// replace's new quantity, as SSE and SZSE count it. Beyond it a buy is
	// refused (risk.max_qty). Zero means 500,000, the exchanges' limit.
	STDailyBuy int64 `yaml:"st_daily_buy"`
	// MaxNotional is the largest order value, price times quantity, in
	// Price units. Zero means 50,000,000 CNY.
	MaxNotional refdata.Price `yaml:"max_notional"`
	// Restricted lists symbols nobody may trade through the gateway (a
	// compliance list). Each must be one of Instruments. Zero means none.
	Restricted []string `yaml:"restricted"`
	// AccountRate is the most orders (new and replace) per second per
	// account, with a burst of the same size. Zero means 50.
	AccountRate int `yaml:"account_rate"`
	// SessionRate is the most orders per second per client session, with
	// a burst of the same size. Zero means 200.
	SessionRate int `yaml:"session_rate"`
	// CancelOnDisconnect makes Disconnect return the session's working
	// orders for the caller to cancel, and Owed, after a restart or a
	// change of leader, those of every session not connected (none
	// outlives either). Zero means orders stay working when their session
	// drops.
	CancelOnDisconnect bool `yaml:"cancel_on_disconnect"`
	// RefDay is the trading day (YYYY-MM-DD, in the schedule's time
	// zone) that the instruments' previous closes, and so their price
	// bands, are for. On any other trading day new orders and replaces are
	// refused (risk.not_trading), cancels still pass: a process that runs
	// on past midnight keeps the reference data it was built with, and
	// would check the next day's orders against the day before's limits.
	// Ignored with Schedule.AlwaysOpen (the simulator's venue, whose
	// prices do not close). Zero means not checked by New; the gateway
	// (package system) fills in the date it started on when the file
	// names none, or, started on a weekend or a holiday, the next session
	// day's (Checker.FirstSessionDay), so only a gateway started in the
	// evening for the next session must name that day.
	RefDay string `yaml:"ref_day"`
	// KillCancelsResting makes SetKill return the working orders of the
	// killed account (or of all accounts) for the caller to cancel, and
	// Owed, after a restart or a change of leader, those still working
	// under a switch that is on. Zero means the kill switch only blocks
	// new orders.
	KillCancelsResting bool `yaml:"kill_cancels_resting"`
}

// AccountConfig is one trading account's start-of-day state.
type AccountConfig struct {
	// ID is the account id orders name. Required and unique.
	ID string `yaml:"id"`
	// Credit marks a margin (credit) account; its orders must be sent as
	// credit orders and go to the margin-trading system. Zero means a cash
	// account.
	Credit bool `yaml:"credit"`
	// Cash is the cash available for buys, in Price units (CNY × 10^4);
	// for a credit account, its buying power. Zero means none.
	Cash refdata.Price `yaml:"cash"`
	// Positions maps symbol to shares held overnight, all sellable today.
	// Zero means none.
	Positions map[string]int64 `yaml:"positions"`
}

// ScheduleConfig sets the trading calendar.
type ScheduleConfig struct {
	// AlwaysOpen treats every instant as continuous trading (demo and
	// simulator): no session check and no no-cancel periods. As that
	// venue never closes, the orders working at midnight carry on into the
	// next day (see Checker.Rollover) rather than expire. Zero means the
	// exchange schedule.
	AlwaysOpen bool `yaml:"always_open"`
	// Location is the IANA time zone of the schedule. Zero means
	// "Asia/Shanghai"; if the system has no time zone data for it, the
	// fixed zone CST (UTC+8) is used.
	Location string `yaml:"location"`
	// Holidays lists exchange holidays on weekdays as YYYY-MM-DD. Weekends
	// are always closed. Zero means none.
	Holidays []string `yaml:"holidays"`
}

// Check validates cfg as New would (the reference data, accounts, limits
// and the trading calendar): what `gateway check-config` asks of the risk
// checks.
func (cfg Config) Check() error {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	_, err = newSchedule(cfg.Schedule)
	return err
}

// withDefaults validates cfg and returns a copy with the documented
// defaults filled in; the caller's slices and maps are not modified.
func (cfg Config) withDefaults() (Config, error) {
	ins := make([]refdata.Instrument, len(cfg.Instruments))
	copy(ins, cfg.Instruments)
	cfg.Instruments = ins

	maxQty := map[refdata.Board]int64{
		refdata.BoardMain:    DefaultMaxQtyMain,
		refdata.BoardChiNext: DefaultMaxQtyChiNext,
		refdata.BoardSTAR:    DefaultMaxQtySTAR,
		refdata.BoardST:      DefaultMaxQtyST,
	}
	for b, q := range cfg.MaxQty {
		if _, ok := maxQty[b]; !ok {
			return cfg, fmt.Errorf("%w: max_qty: unknown board %s", ErrConfig, b)
		}
		if q < 0 {
			return cfg, fmt.Errorf("%w: max_qty: %s: %d is negative", ErrConfig, b, q)
		}
		if q > 0 {
			maxQty[b] = q
		}
	}
	cfg.MaxQty = maxQty

	seen := make(map[string]bool, len(cfg.Instruments))
	for i := range cfg.Instruments {
		in := &cfg.Instruments[i]
		if err := in.Validate(); err != nil {
			return cfg, fmt.Errorf("%w: instruments[%d]: %w", ErrConfig, i, err)
		}
		// The board sets the band, the lots and the limits checked here:
		// it must be the code's.
		if err := in.CheckBoard(); err != nil {
			return cfg, fmt.Errorf("%w: instruments[%d]: %w", ErrConfig, i, err)
		}
		if seen[in.Symbol] {
			return cfg, fmt.Errorf("%w: instruments: duplicate symbol %s", ErrConfig, in.Symbol)
		}
		seen[in.Symbol] = true
		// A live order is at most limit-up times the board maximum:
		// refuse reference data that would overflow it (limit-up within
		// the checker's arithmetic bound, maxPx).
		if _, hi := in.Band(); int64(hi) > math.MaxInt64/maxQty[in.Board] {
			return cfg, fmt.Errorf("%w: instruments: %s: prev_close %s too large", ErrConfig, in.Symbol, in.PrevClose)
		}
	}

	ids := make(map[string]bool, len(cfg.Accounts))
	for i, a := range cfg.Accounts {
		if err := refdata.CheckID("id", a.ID, refdata.MaxAccountLen); err != nil {
			return cfg, fmt.Errorf("%w: accounts[%d]: %w", ErrConfig, i, err)
		}
		if ids[a.ID] {
			return cfg, fmt.Errorf("%w: accounts: duplicate id %s", ErrConfig, a.ID)
		}
		ids[a.ID] = true
		if a.Cash < 0 {
			return cfg, fmt.Errorf("%w: accounts: %s: cash %s is negative", ErrConfig, a.ID, a.Cash)
		}
		for sym, q := range a.Positions {
			if !seen[sym] {
				return cfg, fmt.Errorf("%w: accounts: %s: position in unknown symbol %s", ErrConfig, a.ID, sym)
			}
			if q < 0 {
				return cfg, fmt.Errorf("%w: accounts: %s: position %s %d is negative", ErrConfig, a.ID, sym, q)
			}
		}
	}

	for _, sym := range cfg.Restricted {
		if !seen[sym] {
			return cfg, fmt.Errorf("%w: restricted: unknown symbol %s", ErrConfig, sym)
		}
	}

	switch {
	case cfg.STDailyBuy < 0:
		return cfg, fmt.Errorf("%w: st_daily_buy %d is negative", ErrConfig, cfg.STDailyBuy)
	case cfg.STDailyBuy == 0:
		cfg.STDailyBuy = DefaultSTDailyBuy
	}
	switch {
	case cfg.MaxNotional < 0:
		return cfg, fmt.Errorf("%w: max_notional %s is negative", ErrConfig, cfg.MaxNotional)
	case cfg.MaxNotional == 0:
		cfg.MaxNotional = DefaultMaxNotional
	}
	var err error
	if cfg.AccountRate, err = rate("account_rate", cfg.AccountRate, DefaultAccountRate); err != nil {
		return cfg, err
	}
	if cfg.SessionRate, err = rate("session_rate", cfg.SessionRate, DefaultSessionRate); err != nil {
		return cfg, err
	}
	if cfg.Schedule.Location == "" {
		cfg.Schedule.Location = DefaultLocation
	}
	if _, err := parseRefDay(cfg.RefDay); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// rate validates a throttle rate and fills its default.
func rate(name string, v, def int) (int, error) {
	switch {
	case v == 0:
		return def, nil
	case v < 0 || v > MaxRate:
		return 0, fmt.Errorf("%w: %s %d must be between 1 and %d orders per second", ErrConfig, name, v, MaxRate)
	}
	return v, nil
}

// newSchedule builds the schedule of a defaulted ScheduleConfig.
func newSchedule(sc ScheduleConfig) (schedule, error) {
	loc, err := time.LoadLocation(sc.Location)
	if err != nil {
		if sc.Location != DefaultLocation {
			return schedule{}, fmt.Errorf("%w: schedule: location: %w", ErrConfig, err)
		}
		// No time zone data on this system: China has used UTC+8 without
		// daylight saving since 1991.
		loc = time.FixedZone("CST", 8*3600)
	}
	s := schedule{alwaysOpen: sc.AlwaysOpen, loc: loc, holidays: make(map[int32]bool, len(sc.Holidays))}
	for _, h := range sc.Holidays {
		d, err := time.ParseInLocation(time.DateOnly, h, loc)
		if err != nil {
			return schedule{}, fmt.Errorf("%w: schedule: holiday %q is not YYYY-MM-DD", ErrConfig, h)
		}
		s.holidays[dateKey(d)] = true
	}
	return s, nil
}

// parseRefDay parses Config.RefDay as yyyymmdd; 0 for none.
func parseRefDay(s string) (int32, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%w: ref_day %q is not YYYY-MM-DD", ErrConfig, s)
	}
	return dateKey(d), nil
}

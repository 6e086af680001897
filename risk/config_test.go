package risk

import (
	"errors"
	"strings"
	"testing"

	"sgw/refdata"
)

func TestConfigInvalid(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"bad instrument", func(c *Config) { c.Instruments[0].Symbol = "600519" }, "instruments[0]"},
		{"duplicate symbol", func(c *Config) { c.Instruments[1].Symbol = "600519.SH" }, "duplicate symbol 600519.SH"},
		{"no board", func(c *Config) { c.Instruments[0].Board = 0 }, "board is required"},
		{"huge prev close", func(c *Config) { c.Instruments[0].PrevClose = refdata.Price(1 << 50) }, "prev_close"},
		{"empty account id", func(c *Config) { c.Accounts[0].ID = "" }, "accounts[0]: refdata: id is empty"},
		{"account id with a delimiter", func(c *Config) { c.Accounts[0].ID = "A|1" }, "accounts[0]: refdata: id has a character 0x7c"},
		{"duplicate account", func(c *Config) { c.Accounts[1].ID = "A1" }, "duplicate id A1"},
		{"negative cash", func(c *Config) { c.Accounts[0].Cash = -1 }, "cash -0.0001 is negative"},
		{"position in unknown symbol", func(c *Config) { c.Accounts[0].Positions["999999.SH"] = 100 }, "position in unknown symbol 999999.SH"},
		{"negative position", func(c *Config) { c.Accounts[0].Positions["600519.SH"] = -1 }, "is negative"},
		{"restricted unknown", func(c *Config) { c.Restricted = []string{"999999.SH"} }, "restricted: unknown symbol"},
		{"negative notional", func(c *Config) { c.MaxNotional = -1 }, "max_notional"},
		{"negative account rate", func(c *Config) { c.AccountRate = -1 }, "account_rate -1"},
		{"session rate too high", func(c *Config) { c.SessionRate = MaxRate + 1 }, "session_rate"},
		{"unknown board", func(c *Config) { c.MaxQty = map[refdata.Board]int64{9: 10} }, "unknown board"},
		{"negative max qty", func(c *Config) { c.MaxQty = map[refdata.Board]int64{refdata.BoardST: -1} }, "max_qty: st"},
		{"bad holiday", func(c *Config) { c.Schedule.Holidays = []string{"2025/10/01"} }, `holiday "2025/10/01"`},
		{"bad location", func(c *Config) { c.Schedule.Location = "Nowhere/Special" }, "location"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			tc.mutate(&cfg)
			_, err := New(cfg, nil)
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrConfig with %q", err, tc.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg := Config{Instruments: []refdata.Instrument{{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: px("1700")}}}
	c, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.maxNotional != cny(50_000_000) || c.accountRate != 50 || c.sessionRate != 200 ||
		c.cancelOnDisconnect || c.killCancelsResting || c.sched.alwaysOpen {
		t.Fatalf("defaults %+v", c)
	}
	if c.instr[0].maxQty != 1_000_000 || c.instr[0].Lot != 100 || c.instr[0].Tick != px("0.01") {
		t.Fatalf("instrument %+v", c.instr[0])
	}
	if _, ok := c.clock.(SystemClock); !ok {
		t.Fatalf("clock %T", c.clock)
	}
	// The caller's Config is not modified.
	if cfg.Instruments[0].Lot != 0 || cfg.MaxQty != nil {
		t.Fatalf("config modified: %+v", cfg)
	}
	for b, want := range map[refdata.Board]int64{
		refdata.BoardMain: DefaultMaxQtyMain, refdata.BoardChiNext: DefaultMaxQtyChiNext,
		refdata.BoardSTAR: DefaultMaxQtySTAR, refdata.BoardST: DefaultMaxQtyST,
	} {
		got, _ := cfg.withDefaults()
		if got.MaxQty[b] != want {
			t.Errorf("%s: %d", b, got.MaxQty[b])
		}
	}
	// Location: Asia/Shanghai, or UTC+8 without time zone data.
	if _, off := at(monday + " 10:00").In(c.sched.loc).Zone(); off != 8*3600 {
		t.Fatalf("location offset %d", off)
	}
	// An explicit zone is honoured.
	cfg.Schedule.Location = "UTC"
	c, err = New(cfg, NewManualClock(at(monday+" 10:00")))
	if err != nil {
		t.Fatal(err)
	}
	if c.Phase() != PhaseClosed { // 02:00 UTC
		t.Fatal(c.Phase())
	}
}

// TestBoardMustBeTheCodes: the board sets the band, the lots and the
// order maximum, and the exchanges fix it by the code (STAR 688xxx.SH and
// 689xxx.SH, ChiNext 30xxxx.SZ). Before, any board was taken for any code:
// 688981.SH configured on main passed a buy of 100 shares that SSE
// refuses and refused one of 250 that it takes; 300750.SZ on st got a
// ±10% band instead of ChiNext's ±20% and the main board's ST daily buy
// limit. A board that contradicts the code is refused now.
func TestBoardMustBeTheCodes(t *testing.T) {
	for _, tc := range []struct {
		name   string
		symbol string
		board  refdata.Board
		want   string // "" = accepted
	}{
		{name: "star code on main", symbol: "688001.SH", board: refdata.BoardMain, want: "688001.SH: board main: the code is the star board's"},
		{name: "star depositary receipt on main", symbol: "689009.SH", board: refdata.BoardMain, want: "the code is the star board's"},
		{name: "star code on st", symbol: "688002.SH", board: refdata.BoardST, want: "the code is the star board's"},
		{name: "chinext code on main", symbol: "301001.SZ", board: refdata.BoardMain, want: "the code is the chinext board's"},
		{name: "chinext code on st", symbol: "300001.SZ", board: refdata.BoardST, want: "the code is the chinext board's"},
		{name: "chinext code on star", symbol: "300002.SZ", board: refdata.BoardSTAR, want: "the code is the chinext board's"},
		{name: "star board on a main code", symbol: "600000.SH", board: refdata.BoardSTAR, want: "the code is not the star board's"},
		{name: "star board on an SZSE code", symbol: "688003.SZ", board: refdata.BoardSTAR, want: "the code is not the star board's"},
		{name: "chinext board on an SSE code", symbol: "300003.SH", board: refdata.BoardChiNext, want: "the code is not the chinext board's"},
		{name: "chinext board on a main code", symbol: "002001.SZ", board: refdata.BoardChiNext, want: "the code is not the chinext board's"},
		{name: "star", symbol: "688004.SH", board: refdata.BoardSTAR},
		{name: "star depositary receipt", symbol: "689010.SH", board: refdata.BoardSTAR},
		{name: "chinext", symbol: "302132.SZ", board: refdata.BoardChiNext},
		{name: "main SSE", symbol: "603000.SH", board: refdata.BoardMain},
		{name: "st SZSE", symbol: "002002.SZ", board: refdata.BoardST},
		{name: "an ETF on main", symbol: "510300.SH", board: refdata.BoardMain},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Instruments = append(cfg.Instruments, refdata.Instrument{Symbol: tc.symbol, Board: tc.board, PrevClose: px("10")})
			_, err := New(cfg, nil)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.Is(err, ErrConfig) || !errors.Is(err, refdata.ErrBadInstrument) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want ErrConfig and ErrBadInstrument with %q", err, tc.want)
			}
			if tc.want != "" && cfg.Check() == nil {
				t.Fatal("check-config passes it")
			}
		})
	}
}

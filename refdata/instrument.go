package refdata

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
)

// Board is the listing board of an A-share, which sets the daily price band
// and the lot rules.
type Board uint8

// The boards known to the gateway.
const (
	BoardMain    Board = iota + 1 // main board: band ±10%
	BoardChiNext                  // ChiNext (SZSE growth board): band ±20%
	BoardSTAR                     // STAR Market (SSE science and technology board): band ±20%
	BoardST                       // main-board risk-warned (ST, *ST) shares: band ±10% (±5% before 2025-07-07)
)

var boardNames = map[Board]string{
	BoardMain:    "main",
	BoardChiNext: "chinext",
	BoardSTAR:    "star",
	BoardST:      "st",
}

// ParseBoard parses a board name: main, chinext, star or st.
func ParseBoard(s string) (Board, error) {
	for b, n := range boardNames {
		if n == s {
			return b, nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want main, chinext, star or st)", ErrBadBoard, s)
}

// String returns the board's configuration name.
func (b Board) String() string {
	if n, ok := boardNames[b]; ok {
		return n
	}
	return fmt.Sprintf("board(%d)", uint8(b))
}

// MarshalText implements encoding.TextMarshaler.
func (b Board) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseBoard.
func (b *Board) UnmarshalText(t []byte) error {
	v, err := ParseBoard(string(t))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

// BandPercent is the daily price limit of the board in percent of the
// previous close. The main board's risk-warned shares have had the main
// board's ±10% since 2025-07-07 (SSE and SZSE, "关于调整主板风险警示股票价格
// 涨跌幅限制比例及有关事项的通知"); risk-warned shares of ChiNext and
// STAR keep their board's ±20% and are configured on it.
func (b Board) BandPercent() int64 {
	switch b {
	case BoardChiNext, BoardSTAR:
		return 20
	default:
		return 10
	}
}

// Errors returned when reference data is invalid.
var (
	ErrBadBoard      = errors.New("refdata: bad board")
	ErrBadInstrument = errors.New("refdata: bad instrument")
)

// Instrument is the reference data of one tradable security. It is immutable
// after Validate and safe to share.
type Instrument struct {
	// Symbol is the gateway symbol clients use, such as "600519.SH".
	Symbol string `yaml:"symbol" json:"symbol"`
	// FeedSymbol is the symbol on the market-data feed (ITCH Stock, SZSE
	// SecurityID): up to 8 characters, left-justified and space padded on
	// the wire. Empty means the code part of Symbol ("600519").
	FeedSymbol string `yaml:"feed_symbol" json:"feedSymbol"`
	// Feed names the feed that carries the instrument's market data (a
	// feeds[].name of the configuration): only that feed's decoder may
	// write its book. Empty means any feed that names it (a configuration
	// with several feeds must name one: package configs).
	Feed string `yaml:"feed" json:"feed,omitempty"`
	// Name is a display name; optional.
	Name string `yaml:"name" json:"name,omitempty"`
	// Board sets the daily price band: main, chinext, star or st.
	Board Board `yaml:"board" json:"board"`
	// PrevClose is the previous close, the base of the daily price band.
	PrevClose Price `yaml:"prev_close" json:"prevClose"`
	// Tick is the minimum price increment. Zero means 0.01.
	Tick Price `yaml:"tick" json:"tick"`
	// Lot is the board lot for buys. Zero means 100.
	Lot int64 `yaml:"lot" json:"lot"`
}

var symbolRE = regexp.MustCompile(`^[0-9A-Z]{1,8}\.(SH|SZ|BJ)$`)

// Validate fills the documented defaults and reports the first invalid field.
func (in *Instrument) Validate() error {
	if !symbolRE.MatchString(in.Symbol) {
		return fmt.Errorf("%w: symbol %q must look like 600519.SH", ErrBadInstrument, in.Symbol)
	}
	if strings.HasSuffix(in.Symbol, ".BJ") {
		// Its rules (band ±30%, buys of 100 shares and more in steps of
		// 1) are no board's here: its orders would be checked by
		// another exchange's and valid ones refused.
		return fmt.Errorf("%w: symbol %q: the Beijing Stock Exchange's trading rules are not supported", ErrBadInstrument, in.Symbol)
	}
	if in.FeedSymbol == "" {
		in.FeedSymbol = in.Symbol[:len(in.Symbol)-3]
	}
	if len(in.FeedSymbol) > 8 {
		return fmt.Errorf("%w: %s: feed_symbol %q longer than 8 characters", ErrBadInstrument, in.Symbol, in.FeedSymbol)
	}
	if in.Board == 0 {
		return fmt.Errorf("%w: %s: board is required", ErrBadInstrument, in.Symbol)
	}
	if in.Tick == 0 {
		in.Tick = PriceScale / 100
	}
	if in.Tick < 0 {
		return fmt.Errorf("%w: %s: tick %s must be positive", ErrBadInstrument, in.Symbol, in.Tick)
	}
	if in.Lot == 0 {
		in.Lot = 100
	}
	if in.Lot < 0 {
		return fmt.Errorf("%w: %s: lot %d must be positive", ErrBadInstrument, in.Symbol, in.Lot)
	}
	if in.PrevClose <= 0 || in.PrevClose%in.Tick != 0 {
		return fmt.Errorf("%w: %s: prev_close %s must be positive and on the tick %s", ErrBadInstrument, in.Symbol, in.PrevClose, in.Tick)
	}
	// Band multiplies the previous close by 100 plus the band percent and
	// adds half of a hundred ticks to round it: both must fit (the tick,
	// a divisor of the previous close, is bounded once it is).
	pct := in.Board.BandPercent()
	if int64(in.PrevClose) > math.MaxInt64/(100+pct) || int64(in.PrevClose) > (math.MaxInt64-int64(in.Tick)*50)/(100+pct) {
		return fmt.Errorf("%w: %s: prev_close %s too large", ErrBadInstrument, in.Symbol, in.PrevClose)
	}
	return nil
}

// CheckBoard reports an instrument whose board is not the one its code
// belongs to (ErrBadInstrument). The exchanges number the STAR Market's
// shares and depositary receipts 688xxx and 689xxx on SSE and ChiNext's
// 30xxxx on SZSE: those trade under their board's rules (the ±20% band;
// STAR's buys of 200 shares and more in steps of one), risk-warned ones
// too, and no other code does. A board that contradicts the code would
// have the gateway accept orders the exchange refuses (a STAR buy of 100
// shares, a ChiNext price beyond ±20% under board st's 10% and daily buy
// limit taken for a main-board share's) and refuse valid ones. Other codes
// may be main or st. Call it after Validate.
func (in *Instrument) CheckBoard() error {
	var want Board
	if n := len(in.Symbol); n == 9 {
		code, ex := in.Symbol[:6], in.Symbol[7:]
		switch {
		case ex == "SH" && (strings.HasPrefix(code, "688") || strings.HasPrefix(code, "689")):
			want = BoardSTAR
		case ex == "SZ" && strings.HasPrefix(code, "30"):
			want = BoardChiNext
		}
	}
	switch {
	case want != 0 && in.Board != want:
		return fmt.Errorf("%w: %s: board %s: the code is the %s board's", ErrBadInstrument, in.Symbol, in.Board, want)
	case want == 0 && (in.Board == BoardSTAR || in.Board == BoardChiNext):
		return fmt.Errorf("%w: %s: board %s: the code is not the %s board's (STAR 688xxx.SH and 689xxx.SH, ChiNext 30xxxx.SZ)", ErrBadInstrument, in.Symbol, in.Board, in.Board)
	}
	return nil
}

// Band returns the daily limit-down and limit-up prices: the previous close
// times (1 ∓ band%), rounded half up to the nearest tick as the exchanges do.
func (in *Instrument) Band() (low, high Price) {
	tick := int64(in.Tick)
	if tick <= 0 {
		tick = PriceScale / 100
	}
	pct := in.Board.BandPercent()
	unit := tick * 100 // one tick in units of Price/100
	round := func(v int64) Price { return Price((v + unit/2) / unit * tick) }
	return round(int64(in.PrevClose) * (100 - pct)), round(int64(in.PrevClose) * (100 + pct))
}

// InBand reports whether p lies within the daily band, inclusive.
func (in *Instrument) InBand(p Price) bool {
	lo, hi := in.Band()
	return p >= lo && p <= hi
}

// OnTick reports whether p is a whole number of ticks.
func (in *Instrument) OnTick(p Price) bool {
	tick := in.Tick
	if tick <= 0 {
		tick = PriceScale / 100
	}
	return p%tick == 0
}

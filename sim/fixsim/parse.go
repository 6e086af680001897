package fixsim

import (
	"fmt"
	"strings"

	"sgw/fix"
	"sgw/refdata"
	"sgw/sim/match"
)

// parseSide maps FIX Side to the engine's side.
func parseSide(s string) (match.Side, error) {
	if len(s) == 1 {
		switch side, _ := fix.ParseSide(s[0]); side {
		case fix.Buy:
			return match.Buy, nil
		case fix.Sell:
			return match.Sell, nil
		}
	}
	return 0, fmt.Errorf("%w: %q", errBadSide, s)
}

// fixSide is the FIX Side of an engine side.
func fixSide(s match.Side) string {
	if s == match.Sell {
		return string(rune(fix.Sell))
	}
	return string(rune(fix.Buy))
}

// parseQty parses OrderQty with the toolkit's parser.
func parseQty(s string) (int64, error) {
	q, ok := fix.ParseQty([]byte(s))
	if !ok {
		return 0, fmt.Errorf("%w %q: want a whole number of shares", errBadQty, s)
	}
	return q, nil
}

// parsePrice parses a limit price with the toolkit's parser, refusing a
// fifth significant decimal (fix.PriceExact).
func parsePrice(s string) (refdata.Price, error) {
	p, ok := fix.ParsePrice([]byte(s), fix.PriceExact)
	if !ok {
		return 0, fmt.Errorf("%w %q", errBadPrice, s)
	}
	return p, nil
}

// parseTIF maps FIX TimeInForce (absent means day) to the engine's.
func parseTIF(s string) (match.TimeInForce, error) {
	switch s {
	case "", "0":
		return match.Day, nil
	case "3":
		return match.IOC, nil
	}
	return 0, fmt.Errorf("%w: %q", errTIF, s)
}

// symbols resolves FIX instrument identification to gateway symbols.
// It is immutable after newSymbols and safe to share.
type symbols struct {
	known  map[string]bool     // gateway symbols
	byCode map[string][]string // code part ("600519") -> gateway symbols
}

func newSymbols(ins []refdata.Instrument) *symbols {
	s := &symbols{known: map[string]bool{}, byCode: map[string][]string{}}
	for _, in := range ins {
		s.known[in.Symbol] = true
		if i := strings.LastIndexByte(in.Symbol, '.'); i > 0 {
			code := in.Symbol[:i]
			s.byCode[code] = append(s.byCode[code], in.Symbol)
		}
	}
	return s
}

// resolve returns the gateway symbol for Symbol (55) and SecurityExchange
// (207): "600519"+"XSHG", or "600519.SH" directly. An unknown instrument
// is returned as the best guess so the engine rejects it as unknown.
func (s *symbols) resolve(sym, exch string) (string, error) {
	if sym == "" {
		return "", errNoSymbol
	}
	if s.known[sym] || strings.IndexByte(sym, '.') >= 0 {
		return sym, nil
	}
	if exch != "" {
		// MICs are the standard form; the informal names some engines
		// send are accepted too. An unknown exchange makes a symbol the
		// engine does not know.
		if g, ok := fix.JoinSymbol(sym, exch, fix.InformalNames); ok {
			return g, nil
		}
		return sym + "." + exch, nil
	}
	switch c := s.byCode[sym]; len(c) {
	case 0:
		return sym, nil
	case 1:
		return c[0], nil
	default:
		return "", fmt.Errorf("%w: %q", errAmbiguous, sym)
	}
}

package fixsim

import (
	"fmt"
	"strings"

	"sgw/refdata"
	"sgw/sim/match"
)

// parsePrice parses a FIX price into fixed point with refdata.ParsePrice,
// first dropping trailing zero decimals ("1700.000000" is 1700.00), which
// FIX engines print freely.
func parsePrice(s string) (refdata.Price, error) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		j := len(s)
		for j > i+1 && s[j-1] == '0' {
			j--
		}
		if j == i+1 {
			j = i
		}
		s = s[:j]
	}
	return refdata.ParsePrice(s)
}

// parseQty parses a FIX Qty that must be a whole number of shares: digits,
// optionally followed by a decimal point and zeros ("100", "100.00").
func parseQty(s string) (int64, error) {
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if strings.Trim(s[i+1:], "0") != "" {
			return 0, fmt.Errorf("%w %q: not a whole number of shares", errBadQty, s)
		}
		s = s[:i]
	}
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("%w %q", errBadQty, s)
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w %q", errBadQty, s)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// parseSide maps FIX Side to the engine's side.
func parseSide(s string) (match.Side, error) {
	switch s {
	case "1":
		return match.Buy, nil
	case "2":
		return match.Sell, nil
	}
	return 0, fmt.Errorf("%w: %q", errBadSide, s)
}

// fixSide is the FIX Side of an engine side.
func fixSide(s match.Side) string {
	if s == match.Sell {
		return "2"
	}
	return "1"
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

// suffixOf maps a SecurityExchange (207) to the suffix of gateway symbols.
// MICs are the standard form; the bare suffixes are accepted too.
func suffixOf(exch string) (string, bool) {
	switch strings.ToUpper(exch) {
	case "XSHG", "SH", "SS", "SSE":
		return "SH", true
	case "XSHE", "SZ", "SZSE":
		return "SZ", true
	case "XBSE", "BJSE", "BJ":
		return "BJ", true
	}
	return "", false
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
		if suf, ok := suffixOf(exch); ok {
			return sym + "." + suf, nil
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

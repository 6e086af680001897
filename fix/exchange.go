package fix

import "strings"

// exchanges are the exchanges the gateway trades: the suffix of their
// gateway symbols (600519.SH), their ISO 10383 MIC, sent as
// SecurityExchange (207), and the informal names some engines send
// instead.
var exchanges = [...]exchange{
	{suffix: ".SH", mic: "XSHG", informal: []string{"SH", "SS", "SSE"}},
	{suffix: ".SZ", mic: "XSHE", informal: []string{"SZ", "SZSE"}},
}

// ExchangeNames says which SecurityExchange (207) values JoinSymbol
// understands.
type ExchangeNames int

const (
	// MICsOnly accepts the MICs, XSHG and XSHE, as the gateway's documents
	// specify: the broker acceptor and the upstream relay.
	MICsOnly ExchangeNames = iota
	// InformalNames also accepts SH, SS and SSE (Shanghai) and SZ and
	// SZSE (Shenzhen), in any case: the simulator, a lenient test venue.
	InformalNames
)

// SplitSymbol maps a gateway symbol to Symbol (55) and SecurityExchange
// (207): 600519.SH is ("600519", "XSHG"). ok is false for a symbol without
// the suffix of an exchange the gateway trades.
func SplitSymbol(sym string) (code, mic string, ok bool) {
	for _, e := range exchanges {
		if c, found := strings.CutSuffix(sym, e.suffix); found && c != "" {
			return c, e.mic, true
		}
	}
	return "", "", false
}

// JoinSymbol maps Symbol (55) and SecurityExchange (207) to a gateway
// symbol: ("600519", "XSHG") is 600519.SH, and so is ("600519.SH",
// "XSHG"). Without an exchange, code is taken as a gateway symbol already
// and returned as it is. ok is false, and code returned as it is, for an
// exchange names does not cover.
func JoinSymbol(code, exchange string, names ExchangeNames) (sym string, ok bool) {
	if exchange == "" {
		return code, true
	}
	for i := range exchanges {
		e := &exchanges[i]
		if !e.is(exchange, names) {
			continue
		}
		if strings.HasSuffix(code, e.suffix) {
			return code, true
		}
		return code + e.suffix, true
	}
	return code, false
}

// exchange is one entry of exchanges.
type exchange struct {
	suffix, mic string
	informal    []string
}

// is reports whether name names the exchange.
func (e *exchange) is(name string, names ExchangeNames) bool {
	if name == e.mic {
		return true
	}
	if names != InformalNames {
		return false
	}
	if strings.EqualFold(name, e.mic) {
		return true
	}
	for _, n := range e.informal {
		if strings.EqualFold(name, n) {
			return true
		}
	}
	return false
}

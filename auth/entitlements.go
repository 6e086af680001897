package auth

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Level is how much of a market's data a viewer may see.
type Level uint8

// The levels, each including the ones below it.
const (
	// LevelNone grants nothing.
	LevelNone Level = iota
	// L1 grants quotes (best bid and offer) and trades: the quote and
	// trades channels, no book depth.
	L1
	// L2 grants L1 and the book channel, up to MaxDepth levels a side.
	L2
)

// MaxDepth is the deepest book that L2 grants.
const MaxDepth = 20

// The market-data channels MayView knows, as the WebSocket protocol names
// them (docs/PROTOCOL.md).
const (
	ChannelBook   = "book"
	ChannelQuote  = "quote"
	ChannelTrades = "trades"
)

// AllMarkets is the Entitlements key that applies to every market not
// listed by its own code.
const AllMarkets = "*"

// Limits on Entitlements.
const (
	// MaxMarkets is the most entries an Entitlements may have.
	MaxMarkets = 16
	// MaxMarketLen is the longest market code, in bytes of [A-Z0-9].
	MaxMarketLen = 8
)

// String returns L1, L2 or none.
func (l Level) String() string {
	switch l {
	case LevelNone:
		return "none"
	case L1:
		return "L1"
	case L2:
		return "L2"
	}
	return fmt.Sprintf("Level(%d)", uint8(l))
}

// MarshalText returns the level's name; it fails for a level that is not
// one of the constants.
func (l Level) MarshalText() ([]byte, error) {
	if l > L2 {
		return nil, fmt.Errorf("level %d is not none, L1 or L2", uint8(l))
	}
	return []byte(l.String()), nil
}

// UnmarshalText parses "L1", "L2" or "none".
func (l *Level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "none":
		*l = LevelNone
	case "L1":
		*l = L1
	case "L2":
		*l = L2
	default:
		return fmt.Errorf("level %q: want L1, L2 or none", b)
	}
	return nil
}

// Entitlements map a market code (the part of a gateway symbol after its
// last dot: "SH" for 600519.SH, "SZ" for 000001.SZ) to the Level granted
// on it; the key AllMarkets ("*") applies to every market not listed. A
// market neither listed nor covered by "*" gets LevelNone. A nil or empty
// Entitlements grants nothing.
//
// In a token (the "ent" claim) and in JSON they are an object:
// {"SH":"L2","SZ":"L1"}. As text (YAML scalars, the token command's -ent
// flag) they are comma-separated MARKET:LEVEL pairs, "SH:L2,SZ:L1,*:L1",
// or "none" for an empty grant.
type Entitlements map[string]Level

// FullEntitlements returns L2 on every market: what a token without an
// "ent" claim gets by default.
func FullEntitlements() Entitlements { return Entitlements{AllMarkets: L2} }

// DefaultAnonymous returns L1 on every market: what an anonymous viewer
// gets by default (Config.Anonymous), and what a gateway without an auth
// section should grant its anonymous viewers.
func DefaultAnonymous() Entitlements { return Entitlements{AllMarkets: L1} }

// ParseEntitlements parses the text form: "SH:L2,SZ:L1", "*:L1" or "none".
// Spaces around pairs are ignored. The result is validated.
func ParseEntitlements(s string) (Entitlements, error) {
	e := Entitlements{}
	if strings.TrimSpace(s) == "none" {
		return e, nil
	}
	for pair := range strings.SplitSeq(s, ",") {
		market, level, ok := strings.Cut(strings.TrimSpace(pair), ":")
		if !ok {
			return nil, fmt.Errorf("entitlement %q: want MARKET:LEVEL, such as SH:L2 or *:L1", pair)
		}
		var l Level
		if err := l.UnmarshalText([]byte(level)); err != nil {
			return nil, fmt.Errorf("entitlement %q: %w", pair, err)
		}
		if _, dup := e[market]; dup {
			return nil, fmt.Errorf("entitlement %q: market %s listed twice", pair, market)
		}
		e[market] = l
	}
	if err := e.validate(); err != nil {
		return nil, err
	}
	return e, nil
}

// String returns the text form, markets sorted ("*" first), or "none".
func (e Entitlements) String() string {
	if len(e) == 0 {
		return "none"
	}
	var b strings.Builder
	for i, m := range slices.Sorted(maps.Keys(e)) {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m)
		b.WriteByte(':')
		b.WriteString(e[m].String())
	}
	return b.String()
}

// UnmarshalText parses the text form (ParseEntitlements); YAML scalars and
// flags use it.
func (e *Entitlements) UnmarshalText(b []byte) error {
	v, err := ParseEntitlements(string(b))
	if err != nil {
		return err
	}
	*e = v
	return nil
}

// MarshalJSON writes the object form, {"SH":"L2"}; nil is written as {}.
func (e Entitlements) MarshalJSON() ([]byte, error) {
	if e == nil {
		return []byte("{}"), nil
	}
	return json.Marshal(map[string]Level(e))
}

// UnmarshalJSON reads the object form. Limits are checked by validate, not
// here.
func (e *Entitlements) UnmarshalJSON(b []byte) error {
	var m map[string]Level
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	*e = m
	return nil
}

// Level returns the level granted on market: its own entry, else the "*"
// entry, else LevelNone.
func (e Entitlements) Level(market string) Level {
	if l, ok := e[market]; ok && market != "" {
		return l
	}
	return e[AllMarkets]
}

// validate checks the limits: at most MaxMarkets entries, keys "*" or 1 to
// MaxMarketLen characters of [A-Z0-9], levels none, L1 or L2.
func (e Entitlements) validate() error {
	if len(e) > MaxMarkets {
		return fmt.Errorf("ent has %d markets, over %d", len(e), MaxMarkets)
	}
	for m, l := range e {
		if l > L2 {
			return fmt.Errorf("ent: market %q has level %d, not none, L1 or L2", m, uint8(l))
		}
		if m == AllMarkets {
			continue
		}
		if m == "" || len(m) > MaxMarketLen {
			return fmt.Errorf("ent: market %q is %d bytes, not 1..%d", m, len(m), MaxMarketLen)
		}
		for i := 0; i < len(m); i++ {
			if b := m[i]; !('A' <= b && b <= 'Z' || '0' <= b && b <= '9') {
				return fmt.Errorf("ent: market %q has byte %#04x at %d, not [A-Z0-9]", m, b, i)
			}
		}
	}
	return nil
}

// MarketOf returns the market code of a gateway symbol: the text after its
// last dot ("SH" for "600519.SH"), or "" when it has none.
func MarketOf(symbol string) string {
	i := strings.LastIndexByte(symbol, '.')
	if i < 0 {
		return ""
	}
	return symbol[i+1:]
}

// MayView reports whether c may receive channel for symbol at depth: nil,
// or an error wrapping ErrEntitlement whose text is the reason, fit to
// send to the client ("auth: entitlement: level-2 depth of SZ not
// granted"). The quote and trades channels need L1 on the symbol's market
// (depth is ignored); the book channel needs L2 and a depth of 1 to
// MaxDepth. Any other channel is refused: MayView answers for market data
// only. It does not look at expiry: Verify has done that.
//
// MayView only reads c; it is safe for concurrent use while nobody
// modifies c.Entitlements.
func (c Claims) MayView(symbol, channel string, depth int) error {
	market := MarketOf(symbol)
	got := c.Entitlements.Level(market)
	name := market
	if name == "" {
		name = symbol
	}
	switch channel {
	case ChannelQuote, ChannelTrades:
		if got < L1 {
			return fmt.Errorf("%w: market data of %s not granted", ErrEntitlement, name)
		}
		return nil
	case ChannelBook:
		if depth < 1 || depth > MaxDepth {
			return fmt.Errorf("%w: book depth %d is not 1..%d", ErrEntitlement, depth, MaxDepth)
		}
		if got < L2 {
			return fmt.Errorf("%w: level-2 depth of %s not granted", ErrEntitlement, name)
		}
		return nil
	}
	return fmt.Errorf("%w: %q is not a market-data channel", ErrEntitlement, channel)
}

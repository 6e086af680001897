package fix

import "sgw/refdata"

// PricePolicy says what ParsePrice does with a price that has more than
// four significant decimals, refdata.Price's resolution, and whether a sign
// is allowed. Every FIX engine of the gateway parses prices with
// ParsePrice and one of these policies.
type PricePolicy int

const (
	// PriceExact is for prices a counterparty chose: limit prices entering
	// the broker acceptor and the simulator. The price is a non-negative
	// decimal; trailing zeros are ignored ("1700.000000" is 1700.00), but a
	// fifth significant decimal is refused, since dropping it would change
	// the order.
	PriceExact PricePolicy = iota
	// PriceRound is for prices the upstream computed: AvgPx is an average
	// and may carry more decimals. Beyond four decimals the price is
	// rounded half away from zero; a leading '-' is allowed.
	PriceRound
)

// maxPriceWhole keeps whole*refdata.PriceScale far from overflowing (the
// bound refdata.ParsePrice uses).
const maxPriceWhole = (1<<63 - 1) / refdata.PriceScale / 10

// ParsePrice parses a FIX Price (a decimal: digits with at most one '.',
// at least one digit, no exponent, '+' or spaces; "1700", "1700.5",
// ".5", "1700.") into a refdata.Price, under policy. The whole part is at
// most 92233720368547.
func ParsePrice(b []byte, policy PricePolicy) (refdata.Price, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		if policy != PriceRound {
			return 0, false
		}
		neg, b = true, b[1:]
	}
	var whole, frac int64
	digits, fracDigits, dot := 0, 0, false
	roundUp, excess := false, false // fifth decimal >= 5; a nonzero decimal beyond the fourth
	for _, c := range b {
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			digits++
			d := int64(c - '0')
			switch {
			case !dot:
				if whole = whole*10 + d; whole > maxPriceWhole {
					return 0, false
				}
			case fracDigits < 4:
				frac = frac*10 + d
				fracDigits++
			default:
				if fracDigits == 4 {
					roundUp = d >= 5
					fracDigits++
				}
				excess = excess || d != 0
			}
		default:
			return 0, false
		}
	}
	if digits == 0 || (excess && policy == PriceExact) {
		return 0, false
	}
	for i := min(fracDigits, 4); i < 4; i++ {
		frac *= 10
	}
	v := whole*refdata.PriceScale + frac
	if roundUp {
		v++
	}
	if neg {
		v = -v
	}
	return refdata.Price(v), true
}

// ParseQty parses a FIX Qty that must be a whole, non-negative number of
// shares, accepting a fraction of zeros ("100.00"). Every FIX engine of the
// gateway reads quantities with it.
func ParseQty(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	i := 0
	for ; i < len(b) && b[i] != '.'; i++ {
		c := b[i]
		if c < '0' || c > '9' || n > (1<<62)/10 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if i == 0 {
		return 0, false
	}
	if i < len(b) {
		for _, c := range b[i+1:] {
			if c != '0' {
				return 0, false
			}
		}
	}
	return n, true
}

// ParseSide maps a FIX Side (54) to Buy or Sell; any other value is not
// supported by the gateway's engines.
func ParseSide(c byte) (Side, bool) {
	switch s := Side(c); s {
	case Buy, Sell:
		return s, true
	}
	return 0, false
}

package refdata

import (
	"errors"
	"fmt"
	"strconv"
)

// PriceScale is the number of Price units in one currency unit. Prices are
// carried with four implied decimals, the same scale as ITCH 5.0 Price(4)
// fields, so feed prices are used as they arrive with no conversion.
const PriceScale = 10000

// priceDecimals is the number of implied decimals of a Price.
const priceDecimals = 4

// Price is a fixed-point price in units of 1/PriceScale of the currency
// (0.0001 CNY for A-shares). Prices are never carried as floating point.
type Price int64

// ErrBadPrice reports a price string that is not a decimal number with at
// most four decimals.
var ErrBadPrice = errors.New("refdata: bad price")

// ParsePrice parses a decimal price such as "1700", "1700.5" or "12.3456".
// It accepts at most four decimals, no sign, no exponent and no spaces.
func ParsePrice(s string) (Price, error) {
	if s == "" || len(s) > 24 {
		return 0, fmt.Errorf("%w: %q", ErrBadPrice, s)
	}
	var whole, frac int64
	fracDigits := 0
	seenDot := false
	digits := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			if seenDot {
				if fracDigits == priceDecimals {
					return 0, fmt.Errorf("%w: %q has more than %d decimals", ErrBadPrice, s, priceDecimals)
				}
				frac = frac*10 + int64(c-'0')
				fracDigits++
			} else {
				whole = whole*10 + int64(c-'0')
				if whole > maxWhole {
					return 0, fmt.Errorf("%w: %q out of range", ErrBadPrice, s)
				}
				digits++
			}
		default:
			return 0, fmt.Errorf("%w: %q", ErrBadPrice, s)
		}
	}
	if digits == 0 || (seenDot && fracDigits == 0) {
		return 0, fmt.Errorf("%w: %q", ErrBadPrice, s)
	}
	for i := fracDigits; i < priceDecimals; i++ {
		frac *= 10
	}
	return Price(whole*PriceScale + frac), nil
}

// maxWhole bounds the integer part so that whole*PriceScale cannot overflow.
const maxWhole = (1<<63 - 1) / PriceScale / 10

// String formats p with at least two decimals and no trailing zeros beyond
// them: 1700.00, 12.345, 0.0001. The format is the one used on the wire to
// clients and is stable.
func (p Price) String() string {
	var buf [32]byte
	return string(p.Append(buf[:0]))
}

// Append appends the String form of p to b and returns the extended buffer.
// It does not allocate when b has room.
func (p Price) Append(b []byte) []byte {
	v := int64(p)
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, v/PriceScale, 10)
	frac := v % PriceScale
	d := [priceDecimals]byte{}
	for i := priceDecimals - 1; i >= 0; i-- {
		d[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := priceDecimals
	for n > 2 && d[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, d[:n]...)
}

// MarshalText implements encoding.TextMarshaler so prices appear in JSON and
// YAML as decimal strings.
func (p Price) MarshalText() ([]byte, error) { return p.Append(nil), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParsePrice.
func (p *Price) UnmarshalText(b []byte) error {
	v, err := ParsePrice(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

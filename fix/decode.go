package fix

import (
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/refdata"
)

// decodeExecReport reads an ExecutionReport. A missing or malformed
// required field is returned as the reject quickfix sends back; optional
// fields that are absent stay zero.
func decodeExecReport(m *quickfix.Message) (ExecReport, quickfix.MessageRejectError) {
	var er ExecReport
	d := decoder{m: m}
	er.ClOrdID = d.str(tag.ClOrdID, true)
	er.OrigClOrdID = d.str(tag.OrigClOrdID, false)
	er.OrderID = d.str(tag.OrderID, true)
	er.ExecID = d.str(tag.ExecID, true)
	er.ExecType = d.char(tag.ExecType, true)
	er.OrdStatus = d.char(tag.OrdStatus, true)
	er.Symbol = d.symbol()
	er.Side = Side(d.char(tag.Side, true))
	er.Price = d.price(tag.Price)
	er.LastPx = d.price(tag.LastPx)
	er.AvgPx = d.price(tag.AvgPx)
	er.OrderQty = d.qty(tag.OrderQty)
	er.LastQty = d.qty(tag.LastQty) // LastShares in FIX 4.2, same tag 32
	er.CumQty = d.qty(tag.CumQty)
	er.LeavesQty = d.qty(tag.LeavesQty)
	er.Text = d.str(tag.Text, false)
	er.OrdRejReason = d.int(tag.OrdRejReason)
	er.TransactTime = d.time(tag.TransactTime)
	er.PossDup, er.PossResend = possDup(m)
	return er, d.err
}

// decodeCancelReject reads an OrderCancelReject.
func decodeCancelReject(m *quickfix.Message) (CancelReject, quickfix.MessageRejectError) {
	var r CancelReject
	d := decoder{m: m}
	r.ClOrdID = d.str(tag.ClOrdID, true)
	r.OrigClOrdID = d.str(tag.OrigClOrdID, false)
	r.OrderID = d.str(tag.OrderID, false)
	r.Reason = d.int(tag.CxlRejReason)
	r.Text = d.str(tag.Text, false)
	r.ResponseTo = d.char(tag.CxlRejResponseTo, false)
	return r, d.err
}

func possDup(m *quickfix.Message) (dup, resend bool) {
	if v, err := m.Header.GetBytes(tag.PossDupFlag); err == nil && len(v) == 1 && v[0] == 'Y' {
		dup = true
	}
	if v, err := m.Header.GetBytes(tag.PossResend); err == nil && len(v) == 1 && v[0] == 'Y' {
		resend = true
	}
	return dup, resend
}

// decoder reads body fields and keeps the first error.
type decoder struct {
	m   *quickfix.Message
	err quickfix.MessageRejectError
}

func (d *decoder) bytes(t quickfix.Tag, required bool) []byte {
	v, err := d.m.Body.GetBytes(t)
	if err != nil {
		if required && d.err == nil {
			d.err = quickfix.RequiredTagMissing(t)
		}
		return nil
	}
	if required && len(v) == 0 && d.err == nil {
		d.err = quickfix.TagSpecifiedWithoutAValue(t)
	}
	return v
}

func (d *decoder) bad(t quickfix.Tag) {
	if d.err == nil {
		d.err = quickfix.IncorrectDataFormatForValue(t)
	}
}

func (d *decoder) str(t quickfix.Tag, required bool) string {
	return string(d.bytes(t, required))
}

func (d *decoder) char(t quickfix.Tag, required bool) byte {
	v := d.bytes(t, required)
	switch len(v) {
	case 0:
		return 0
	case 1:
		return v[0]
	}
	d.bad(t)
	return 0
}

func (d *decoder) symbol() string {
	code := d.bytes(tag.Symbol, false)
	mic := d.bytes(tag.SecurityExchange, false)
	return joinSymbol(code, mic)
}

func (d *decoder) price(t quickfix.Tag) refdata.Price {
	v := d.bytes(t, false)
	if v == nil {
		return 0
	}
	p, ok := parsePx(v)
	if !ok {
		d.bad(t)
	}
	return p
}

func (d *decoder) qty(t quickfix.Tag) int64 {
	v := d.bytes(t, false)
	if v == nil {
		return 0
	}
	q, ok := ParseQty(v)
	if !ok {
		d.bad(t)
	}
	return q
}

func (d *decoder) int(t quickfix.Tag) int {
	v := d.bytes(t, false)
	if v == nil {
		return 0
	}
	n, ok := ParseQty(v)
	if !ok || n > 1<<31 {
		d.bad(t)
	}
	return int(n)
}

func (d *decoder) time(t quickfix.Tag) (tm time.Time) {
	if !d.m.Body.Has(t) {
		return tm
	}
	tm, err := d.m.Body.GetTime(t)
	if err != nil {
		d.bad(t)
	}
	return tm
}

// parsePx parses a FIX Price into a refdata.Price, rounding half away from
// zero beyond four decimals (AvgPx may carry more).
func parsePx(b []byte) (refdata.Price, bool) {
	neg := false
	if len(b) > 0 && b[0] == '-' {
		neg, b = true, b[1:]
	}
	if len(b) == 0 {
		return 0, false
	}
	var whole, frac int64
	digits, fracDigits, seenDot, roundUp := 0, 0, false, false
	for _, c := range b {
		switch {
		case c == '.' && !seenDot:
			seenDot = true
		case c >= '0' && c <= '9':
			digits++
			switch {
			case !seenDot:
				if whole > maxPxWhole {
					return 0, false
				}
				whole = whole*10 + int64(c-'0')
			case fracDigits < 4:
				frac = frac*10 + int64(c-'0')
				fracDigits++
			case fracDigits == 4:
				roundUp = c >= '5'
				fracDigits++
			}
		default:
			return 0, false
		}
	}
	if digits == 0 {
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

// maxPxWhole keeps whole*PriceScale from overflowing.
const maxPxWhole = (1<<63-1)/refdata.PriceScale/10 - 1

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

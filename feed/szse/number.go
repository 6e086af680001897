package szse

import (
	"time"

	"sgw/refdata"
)

// Price4 is a price with four implied decimals, the spec's Price type
// N13(4): 123400 is 12.34 CNY. It is the scale of refdata.Price, so the
// conversion is exact.
type Price4 int64

// Price returns p as a refdata.Price; the two share their scale.
func (p Price4) Price() refdata.Price { return refdata.Price(p) }

// Price6 is a value with six implied decimals, N18(6), the scale of
// MDEntryPx: 12340000 is 12.34 CNY. Most entries carry prices; a few carry
// ratios (price-earnings, premium) on the same scale.
type Price6 int64

// Price returns p at the four decimals of refdata.Price, and exact, which
// is false when the fifth or sixth decimal of p was not zero. Those
// sub-tick digits are then rounded half away from zero: 12.345650 becomes
// 12.3457 and -0.000050 becomes -0.0001.
//
// A-share tick sizes (0.01 CNY for shares, 0.001 for funds and bonds) are
// coarser than 0.0001, so book levels, last, open, high and low prices and
// price limits always convert exactly; only derived values such as the
// weighted average prices of EntryBidTotal and EntryOfferTotal, a fund's
// IOPV or a ratio can lose digits.
func (p Price6) Price() (price refdata.Price, exact bool) {
	q, r := int64(p)/100, int64(p)%100
	switch {
	case r >= 50:
		q++
	case r <= -50:
		q--
	}
	return refdata.Price(q), r == 0
}

// PriceToPrice6 returns p on the N18(6) scale of MDEntryPx. Every
// refdata.Price within ±9,223,372,036,854 CNY converts exactly; beyond
// that the result overflows.
func PriceToPrice6(p refdata.Price) Price6 { return Price6(p * 100) }

// Qty2 is a quantity with two implied decimals, the spec's Qty type
// N15(2): 10000 is 100 shares. A-share quantities are whole shares (bonds:
// whole units of 100 CNY face value), so the decimals are 0 in practice;
// the scale leaves room for fractional fund units.
type Qty2 int64

// Shares returns q in whole shares (units), truncated toward zero, and
// whole, which is false when q had a fractional part.
func (q Qty2) Shares() (shares int64, whole bool) {
	return int64(q) / 100, int64(q)%100 == 0
}

// SharesToQty2 returns n shares as a Qty2. Counts beyond ±92 quadrillion
// shares overflow.
func SharesToQty2(n int64) Qty2 { return Qty2(n * 100) }

// Amount4 is an amount of money with four implied decimals, the spec's
// Amt type N18(4): 10000 is 1 CNY, the scale of refdata.Price.
type Amount4 int64

// Timestamp is the spec's LocalTimeStamp: a local (Beijing) date and time
// written as the decimal digits YYYYMMDDHHMMSSsss, milliseconds last, in an
// int64. 20240315093000120 is 2024-03-15 09:30:00.120.
type Timestamp int64

// Time returns t as a time in loc (the exchange's zone, Asia/Shanghai, for
// real data), and false if t is not a valid date and time. A second of 60,
// which the spec allows for leap seconds, rolls over into the next minute.
func (t Timestamp) Time(loc *time.Location) (time.Time, bool) {
	v := int64(t)
	if v < 0 {
		return time.Time{}, false
	}
	ms := v % 1000
	v /= 1000
	sec := v % 100
	v /= 100
	minute := v % 100
	v /= 100
	hour := v % 100
	v /= 100
	day := v % 100
	v /= 100
	month := v % 100
	year := v / 100
	if year > 9999 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	// Day 0 of the next month is the last day of this one.
	if last := time.Date(int(year), time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day(); int(day) > last {
		return time.Time{}, false
	}
	return time.Date(int(year), time.Month(month), int(day), int(hour), int(minute), int(sec),
		int(ms)*int(time.Millisecond), loc), true
}

package match

import "errors"

// Errors returned by the Engine. Order rejects wrap one of these with the
// offending value, so callers test them with errors.Is.
var (
	ErrUnknownSymbol = errors.New("match: unknown symbol")
	ErrUnknownOrder  = errors.New("match: unknown order reference")
	ErrBadSide       = errors.New("match: bad side")
	ErrBadQty        = errors.New("match: bad quantity")
	ErrOddLot        = errors.New("match: buy quantity not a whole number of lots")
	ErrOffTick       = errors.New("match: price not on the tick")
	ErrOutOfBand     = errors.New("match: price outside the daily band")
	ErrHalted        = errors.New("match: instrument halted")
	ErrBadConfig     = errors.New("match: bad configuration")
)

package risk

// tokenUnit is one token in bucket units; a bucket earns rate units per
// nanosecond, so rate tokens per second.
const tokenUnit = int64(1e9)

// bucket is a token bucket holding up to one second's worth of tokens
// (burst = rate). It starts full. The checker's mutex guards it.
type bucket struct {
	tokens int64 // in tokenUnit units
	last   int64 // Unix nanoseconds of the last refill; 0 before first use
}

// take refills the bucket for the time since its last use and takes one
// token if there is one. A clock that goes backwards earns nothing. rate is
// at most MaxRate, so no product overflows.
func (b *bucket) take(now, rate int64) bool {
	capacity := rate * tokenUnit
	switch el := now - b.last; {
	case b.last == 0 || el >= tokenUnit:
		b.tokens = capacity
		b.last = now
	case el > 0:
		b.tokens = min(b.tokens+el*rate, capacity)
		b.last = now
	}
	if b.tokens < tokenUnit {
		return false
	}
	b.tokens -= tokenUnit
	return true
}

package risk

import (
	"sync"
	"time"
)

// Clock tells the checker the time for the trading session and the
// throttles. Production uses SystemClock; tests use a ManualClock.
type Clock interface {
	Now() time.Time
}

// SystemClock is the wall clock.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// ManualClock is a Clock that only moves when told to, for deterministic
// tests of the session and throttles. It is safe for concurrent use.
type ManualClock struct {
	mu sync.Mutex
	t  time.Time
}

var (
	_ Clock = SystemClock{}
	_ Clock = (*ManualClock)(nil)
)

// NewManualClock returns a ManualClock reading t.
func NewManualClock(t time.Time) *ManualClock { return &ManualClock{t: t} }

// Now returns the clock's time.
func (c *ManualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t, backwards or forwards.
func (c *ManualClock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// Advance moves the clock by d.
func (c *ManualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

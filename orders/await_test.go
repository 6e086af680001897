package orders

import (
	"fmt"
	"testing"
	"time"
)

// BenchmarkAwaits measures the bookkeeping of the requests awaiting an
// answer, per request, with 1000 in flight: handed over (add), answered
// (every 8th a status request), and the timer's look for overdue ones
// (expired, none due).
func BenchmarkAwaits(b *testing.B) {
	const inFlight = 1000
	w := newAwaits()
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	w.logon(now)
	orders := make([]*Order, inFlight)
	uids := make([]string, inFlight)
	for k := range orders {
		orders[k], uids[k] = &Order{}, fmt.Sprintf("U%d", k)
	}
	kind := func(k int) byte {
		if k%8 == 0 {
			return 'H'
		}
		return recNew
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		k := i % inFlight
		if i >= inFlight {
			if kind(k) == 'H' {
				w.statusAnswered(orders[k])
			} else {
				w.answered(uids[k])
			}
		}
		w.add(&await{o: orders[k], kind: kind(k), uid: uids[k], since: now, ticket: uint64(i + 1)})
		now = now.Add(time.Microsecond)
		if a := w.expired(now, time.Second, time.Second, uint64(i+1)); a != nil {
			b.Fatalf("request %d overdue after %s", i, now.Sub(a.since))
		}
		i++
	}
}

package feed

import (
	"testing"
	"time"
)

// TestArbiterStalledSource: a gap open on the primary (messages held
// beyond it) while the backup, live and behind, brings nothing: the
// backup is taken to be lagging for the stall time, max(recovery,
// patience), then stalled, and the gap is re-requested, and once the
// attempts are spent and the recovery time has passed, declared lost.
func TestArbiterStalledSource(t *testing.T) {
	sink := &recordSink{}
	const patience, recovery = 2 * time.Second, 300 * time.Millisecond
	a := newArbiter(sink, 64, 3, patience, recovery)
	t0 := time.Unix(100, 0)
	a.SourceLive(0, 1)
	a.SourceLive(1, 1)
	for s := uint64(1); s <= 5; s++ {
		a.Offer(0, s, msgOf(s), 0)
	}
	a.SourceDown(0)
	a.SourceLive(0, 9)
	for s := uint64(9); s <= 12; s++ {
		a.Offer(0, s, msgOf(s), 0)
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	if got := a.Check(at(0)); got != -1 {
		t.Fatalf("Check at once = %d; want -1 (the backup may be lagging)", got)
	}
	if got := a.Check(at(patience - time.Millisecond)); got != -1 {
		t.Fatalf("Check before the stall time = %d; want -1", got)
	}
	now := at(patience)
	var asked []int
	for range 20 {
		got := a.Check(now)
		if got >= 0 {
			asked = append(asked, got)
			a.SourceLive(got, 6) // it logs in again from 6, and brings nothing
			if got == 0 {
				for s := uint64(9); s <= 12; s++ {
					a.Offer(0, s, msgOf(s), 0)
				}
			}
		}
		if a.Stats().Lost > 0 {
			break
		}
		now = now.Add(patience)
	}
	if st := a.Stats(); st.Lost != 3 || len(asked) < 3 {
		t.Fatalf("asked %v, stats %+v: want 3 re-requests, then 6..8 lost", asked, st)
	}
}

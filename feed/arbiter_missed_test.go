package feed

import (
	"testing"
	"time"
)

// missedSink is a staleSink whose books can find a message missing from
// the stream (Misser): missed until its next Restart, as
// orderbook.Input.Missed is until that Restart's Clears are applied.
type missedSink struct {
	staleSink
	missed bool
}

func (s *missedSink) Restart() error { s.missed = false; return s.staleSink.Restart() }
func (s *missedSink) Missed() bool   { return s.missed }

// replay brings messages 1..n from src, logged in again from 1.
func replay(a *Arbiter, src int, n uint64) {
	a.SourceLive(src, 1)
	for s := uint64(1); s <= n; s++ {
		a.Offer(src, s, msgOf(s), 0)
	}
}

// TestMissedRebuildRateLimited: books that find a message missing from
// the stream (no gap, no divergence) make Check rebuild from sequence 1,
// counted in Rebuilds and MissedRebuilds; books found wrong again right
// after are rebuilt only once missedEvery has passed since the last such
// rebuild began (and from the other source), and meanwhile the feed is
// stale. Books found wrong while a rebuild is under way are not rebuilt
// in its middle, nor forgotten: once it has caught up they are rebuilt.
func TestMissedRebuildRateLimited(t *testing.T) {
	sink := &missedSink{}
	a := newArbiter(sink, 64, 3, time.Second, 5*time.Second)
	a.missedEvery = time.Minute
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	for _, src := range []int{Primary, Backup} {
		for s := uint64(1); s <= 5; s++ {
			a.Offer(src, s, msgOf(s), 0)
		}
	}
	if got := a.Check(t0); got != -1 || a.Rebuilding() {
		t.Fatalf("nothing missed: Check %d, rebuilding %v", got, a.Rebuilding())
	}

	sink.missed = true
	if !a.Rebuilding() {
		t.Fatal("books that found a message missing are not reported stale")
	}
	if got, st := a.Check(t0), a.Stats(); got != Primary || st.MissedRebuilds != 1 || st.Rebuilds != 1 || sink.restarts != 1 || a.Next() != 1 {
		t.Fatalf("missed: Check %d, stats %+v, restarts %d, next %d; want a rebuild from the primary", got, st, sink.restarts, a.Next())
	}
	replay(a, Primary, 5)
	if sink.stale || a.Rebuilding() {
		t.Fatalf("after the rebuild: stale %v, rebuilding %v", sink.stale, a.Rebuilding())
	}

	// Wrong again at once: no new rebuild within the interval.
	sink.missed = true
	for _, d := range []time.Duration{time.Second, time.Minute - time.Millisecond} {
		if got := a.Check(t0.Add(d)); got != -1 || sink.restarts != 1 || !a.Rebuilding() {
			t.Fatalf("%v after the last: Check %d, restarts %d, rebuilding %v; want no rebuild, stale", d, got, sink.restarts, a.Rebuilding())
		}
	}
	t1 := t0.Add(time.Minute)
	if got := a.Check(t1); got != Backup || a.Stats().MissedRebuilds != 2 || sink.restarts != 2 {
		t.Fatalf("after the interval: Check %d, missed rebuilds %d, restarts %d; want a rebuild from the backup",
			got, a.Stats().MissedRebuilds, sink.restarts)
	}

	// Found wrong in the middle of that rebuild (after its Restart).
	a.SourceLive(Backup, 1)
	a.Offer(Backup, 1, msgOf(1), 0)
	sink.missed = true
	if got := a.Check(t1.Add(2 * time.Minute)); got != -1 || sink.restarts != 2 {
		t.Fatalf("during a rebuild: Check %d, restarts %d; want it left to finish", got, sink.restarts)
	}
	for s := uint64(2); s <= 5; s++ {
		a.Offer(Backup, s, msgOf(s), 0)
	}
	if !a.Rebuilding() {
		t.Fatal("caught up with the books still wrong: not reported stale")
	}
	if got := a.Check(t1.Add(2 * time.Minute)); got < 0 || a.Stats().MissedRebuilds != 3 || sink.restarts != 3 {
		t.Fatalf("after the rebuild the books were found wrong in: Check %d, missed rebuilds %d, restarts %d; want another rebuild",
			got, a.Stats().MissedRebuilds, sink.restarts)
	}
}

// TestMissedWaitsForTheOtherSourcesCopies: books found wrong while a live
// source is behind are not rebuilt until its copies up to there have been
// compared (or the recovery time has passed): if they differ, the
// divergence names the source that skipped and its rebuild, from the
// other source alone, comes instead of one from whichever source.
func TestMissedWaitsForTheOtherSourcesCopies(t *testing.T) {
	const recovery = 5 * time.Second
	t0 := time.Unix(100, 0)
	for _, tc := range []struct {
		name    string
		backup  func(a *Arbiter) // what the backup brings after the books are found wrong
		at      time.Duration    // when Check looks again
		missed  uint64           // missed rebuilds then
		exclude int              // the source the rebuild takes nothing from
	}{
		{name: "copies agree", backup: func(a *Arbiter) {
			for s := uint64(3); s <= 5; s++ {
				a.Offer(Backup, s, msgOf(s), 0)
			}
		}, missed: 1, exclude: -1},
		{name: "backup skipped", backup: func(a *Arbiter) {
			a.Offer(Backup, 3, msgOf(5), 0) // it numbers message 5 as 3
		}, exclude: Backup},
		{name: "backup stays behind", backup: func(*Arbiter) {}, at: recovery, missed: 1, exclude: -1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &missedSink{}
			a := newArbiter(sink, 64, 3, time.Second, recovery)
			a.SourceLive(Primary, 1)
			a.SourceLive(Backup, 1)
			for s := uint64(1); s <= 5; s++ {
				a.Offer(Primary, s, msgOf(s), 0)
			}
			a.Offer(Backup, 1, msgOf(1), 0)
			a.Offer(Backup, 2, msgOf(2), 0)
			sink.missed = true
			if got := a.Check(t0); got != -1 || sink.restarts != 0 {
				t.Fatalf("backup behind: Check %d, restarts %d; want a wait for its copies", got, sink.restarts)
			}
			tc.backup(a)
			got := a.Check(t0.Add(tc.at))
			if st := a.Stats(); got < 0 || st.Rebuilds != 1 || st.MissedRebuilds != tc.missed || a.exclude != tc.exclude {
				t.Fatalf("Check %d, stats %+v, exclude %d; want a rebuild, %d for the missed message, excluding %d",
					got, st, a.exclude, tc.missed, tc.exclude)
			}
		})
	}
}

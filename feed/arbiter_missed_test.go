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
// rebuild began (and from the other source, the primary having built the
// books alone since the restart), and meanwhile the feed is
// stale. Books found wrong while a rebuild is under way are not rebuilt
// in its middle, nor forgotten: once it has caught up they are rebuilt.
func TestMissedRebuildRateLimited(t *testing.T) {
	sink := &missedSink{}
	a := newArbiter(sink, 64, 3, time.Second, 5*time.Second)
	a.missedEvery = time.Minute
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	a.Offer(Backup, 1, msgOf(1), 0) // both deliver: which skipped is not known
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
	a.SourceLive(Backup, 6) // excluded from the rebuild, it logs in again

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
// other source alone, comes instead of one from whichever source. If they
// agree, the primary, which alone delivered the books found wrong, is
// known to have skipped: the rebuild comes from the backup alone.
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
		}, missed: 1, exclude: Primary},
		{name: "backup skipped", backup: func(a *Arbiter) {
			a.Offer(Backup, 3, msgOf(5), 0) // it numbers message 5 as 3
		}, exclude: Backup},
		{name: "backup stays behind", backup: func(*Arbiter) {}, at: recovery, missed: 1, exclude: Primary},
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

// skipped returns the stream of a source that left message k out and
// numbered the rest on: its seq s carries message s below k, s+1 from k.
func skipped(k uint64) func(uint64) []byte {
	return func(s uint64) []byte {
		if s >= k {
			return msgOf(s + 1)
		}
		return msgOf(s)
	}
}

// TestMissedRebuildTakesNothingFromTheOtherSource: a missed-message
// rebuild comes from one source alone, as a divergence's does. The
// backup, which skipped message 3, logs in again in the middle of a
// rebuild from the primary, ahead of it: its copies are not taken (before,
// they were delivered first and the rebuild replayed the skip), and the
// books are valid once the primary has caught up. The backup then logs in
// again from where the stream is.
func TestMissedRebuildTakesNothingFromTheOtherSource(t *testing.T) {
	sink := &missedSink{}
	a := newArbiter(sink, 64, 3, time.Second, 5*time.Second)
	t0 := time.Unix(100, 0)
	bk := skipped(3)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	a.Offer(Backup, 1, bk(1), 0) // both deliver: which skipped is not known
	for s := uint64(1); s <= 5; s++ {
		a.Offer(Primary, s, msgOf(s), 0)
	}
	a.SourceDown(Backup)
	sink.missed = true
	if got := a.Check(t0); got != Primary || a.Stats().MissedRebuilds != 1 {
		t.Fatalf("Check %d, stats %+v; want a missed rebuild from the primary", got, a.Stats())
	}
	a.SourceLive(Primary, 1)
	a.Offer(Primary, 1, msgOf(1), 0)
	a.Offer(Primary, 2, msgOf(2), 0)
	a.SourceLive(Backup, 3) // back mid-rebuild, logged in from Next
	for s := uint64(3); s <= 5; s++ {
		if a.Offer(Backup, s, bk(s), 0) {
			t.Fatalf("the backup's %d, offered mid-rebuild, was taken", s)
		}
	}
	for s := uint64(3); s <= 5; s++ {
		a.Offer(Primary, s, msgOf(s), 0)
	}
	st := a.Stats()
	if sink.stale || a.Rebuilding() || st.Divergences != 0 || st.Rebuilds != 1 || a.Next() != 6 {
		t.Fatalf("after the primary's replay: stale %v, rebuilding %v, stats %+v, next %d; want valid, one rebuild",
			sink.stale, a.Rebuilding(), st, a.Next())
	}
	if r := a.takeResync(); r != 1<<Backup {
		t.Fatalf("resync %b: want the backup to log in again", r)
	}
}

// TestMissedRebuildNotFromTheSkipper: the books were found wrong after a
// stream the backup alone delivered since the last restart: the backup is
// known to have skipped. The next missed rebuild comes from the primary,
// the backup excluded, although the primary gave the one before (before,
// the rebuilds alternated and this one came from the backup again, the
// one after it healing the books). Here the skipping backup returned
// while the rebuild from the primary was under way, and the primary went
// down: the rebuild fell back to the backup.
func TestMissedRebuildNotFromTheSkipper(t *testing.T) {
	sink := &missedSink{}
	a := newArbiter(sink, 64, 3, time.Second, 5*time.Second)
	a.missedEvery = time.Minute
	t0 := time.Unix(100, 0)
	bk := skipped(3)
	a.SourceLive(Backup, 1)
	for s := uint64(1); s <= 4; s++ {
		a.Offer(Backup, s, bk(s), 0)
	}
	a.SourceDown(Backup)
	a.SourceLive(Primary, 5)
	a.Offer(Primary, 5, msgOf(5), 0)
	sink.missed = true
	if got := a.Check(t0); got != Primary {
		t.Fatalf("Check %d: want a missed rebuild from the primary", got)
	}
	a.SourceLive(Primary, 1)
	a.Offer(Primary, 1, msgOf(1), 0)
	a.Offer(Primary, 2, msgOf(2), 0)
	a.SourceLive(Backup, 3)
	for s := uint64(3); s <= 5; s++ {
		a.Offer(Backup, s, bk(s), 0)
	}
	a.SourceDown(Primary)
	// Without the primary for the patience, the rebuild comes from the
	// backup (a feed with one source left).
	for _, d := range []time.Duration{time.Second, 3 * time.Second} {
		if got := a.Check(t0.Add(d)); got == Backup {
			a.SourceLive(Backup, 1)
			for s := uint64(1); s <= 5; s++ {
				a.Offer(Backup, s, bk(s), 0)
			}
		}
	}
	if a.Next() != 6 {
		t.Fatalf("next %d, stats %+v: want the stream rebuilt up to 5", a.Next(), a.Stats())
	}
	sink.missed = true // the backup's stream is wrong
	a.SourceLive(Primary, 6)
	got := a.Check(t0.Add(time.Minute))
	if got != Primary || a.exclude != Backup {
		t.Fatalf("Check %d, exclude %d, stats %+v: want a rebuild from the primary, the backup excluded", got, a.exclude, a.Stats())
	}
}

// TestMissedRebuildFromSkipperSwitches: the books were found wrong after
// a stream the backup alone delivered, with the primary down: the
// rebuild comes from the backup (nothing else is live). The primary
// comes back in the middle of it: the books built from the backup are not
// declared valid while it is live (before, they were once the backup had
// caught up), and the rebuild starts again from the primary, the backup
// excluded. If the primary's stream is found wrong too, both sources
// skipped: the feed stays stale and each later rebuild, at most one per
// interval, is counted.
func TestMissedRebuildFromSkipperSwitches(t *testing.T) {
	sink := &missedSink{}
	a := newArbiter(sink, 64, 3, time.Second, 5*time.Second)
	a.missedEvery = time.Minute
	t0 := time.Unix(100, 0)
	bk := skipped(3)
	a.SourceLive(Backup, 1)
	for s := uint64(1); s <= 4; s++ {
		a.Offer(Backup, s, bk(s), 0)
	}
	sink.missed = true
	if got := a.Check(t0); got != Backup {
		t.Fatalf("Check %d: want a rebuild from the backup, the only source live", got)
	}
	a.SourceLive(Backup, 1)
	a.Offer(Backup, 1, bk(1), 0)
	a.Offer(Backup, 2, bk(2), 0)
	a.SourceLive(Primary, 3) // back mid-rebuild
	a.Offer(Backup, 3, bk(3), 0)
	a.Offer(Backup, 4, bk(4), 0)
	if !sink.stale || !a.Rebuilding() {
		t.Fatalf("the backup caught up, the primary live: stale %v, rebuilding %v; want stale", sink.stale, a.Rebuilding())
	}
	if got := a.Check(t0.Add(10 * time.Millisecond)); got != Primary || a.exclude != Backup || sink.restarts != 2 {
		t.Fatalf("Check %d, exclude %d, restarts %d: want a rebuild from the primary, the backup excluded", got, a.exclude, sink.restarts)
	}
	a.SourceLive(Primary, 1)
	for s := uint64(1); s <= 4; s++ {
		a.Offer(Primary, s, msgOf(s), 0)
	}
	if sink.stale || a.Rebuilding() {
		t.Fatalf("after the primary's replay: stale %v, rebuilding %v", sink.stale, a.Rebuilding())
	}

	// The primary skipped too.
	sink.missed = true
	a.SourceLive(Backup, 5)
	before := a.Stats().MissedRebuilds
	if got := a.Check(t0.Add(30 * time.Second)); got != -1 || !a.Rebuilding() {
		t.Fatalf("both skipped, within the interval: Check %d, rebuilding %v; want stale, no rebuild", got, a.Rebuilding())
	}
	if got := a.Check(t0.Add(time.Minute)); got < 0 || a.Stats().MissedRebuilds != before+1 || !a.Rebuilding() {
		t.Fatalf("both skipped, after the interval: Check %d, stats %+v; want a counted rebuild, stale", got, a.Stats())
	}
}

// TestMissedRebuildNotFromTheDivergenceSkipper: a divergence named the
// backup as the source that skipped; after its rebuild both sources
// deliver again. Books found wrong later are rebuilt from the primary,
// the backup excluded, although the rebuilds' turn is the backup's.
func TestMissedRebuildNotFromTheDivergenceSkipper(t *testing.T) {
	sink := &missedSink{}
	a := newArbiter(sink, 64, 3, time.Second, 5*time.Second)
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	for s := uint64(1); s <= 5; s++ {
		a.Offer(Primary, s, msgOf(s), 0)
	}
	a.Offer(Backup, 1, msgOf(1), 0)
	a.Offer(Backup, 2, msgOf(2), 0)
	a.Offer(Backup, 3, msgOf(5), 0) // it numbers message 5 as 3
	if got := a.Check(t0); got != Primary || a.exclude != Backup {
		t.Fatalf("Check %d, exclude %d: want the divergence's rebuild from the primary", got, a.exclude)
	}
	replay(a, Primary, 5)
	a.SourceLive(Backup, 5) // it logs in again asking for a copy of 5
	a.Offer(Backup, 5, msgOf(5), 0)
	a.Offer(Backup, 6, msgOf(6), 0)
	a.Offer(Primary, 6, msgOf(6), 0)
	a.missedFrom = Primary // the last missed-message rebuild came from the primary
	sink.missed = true
	if got := a.Check(t0.Add(time.Hour)); got != Primary || a.exclude != Backup {
		t.Fatalf("Check %d, exclude %d, stats %+v: want a rebuild from the primary, the backup excluded", got, a.exclude, a.Stats())
	}
}

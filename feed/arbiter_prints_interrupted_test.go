package feed

import (
	"slices"
	"testing"
	"time"
)

// rebuildOnce makes the arbiter lose what src has not brought and rebuild:
// Check is called, a minute apart, until the rebuilds counted reach want.
func rebuildOnce(t *testing.T, a *Arbiter, src int, pos uint64, want uint64, t0 time.Time) time.Time {
	t.Helper()
	for i := 0; a.Stats().Rebuilds < want; i++ {
		if i == 10 {
			t.Fatalf("no rebuild %d", want)
		}
		t0 = t0.Add(time.Minute)
		if a.Check(t0) >= 0 {
			a.SourceLive(src, pos)
		}
	}
	return t0
}

// TestInterruptedRebuildPrints: as TestRebuildPrintsBeyondWindow (a window
// of two: the fingerprint of 4 alone is kept), but the rebuild is itself
// interrupted by a loss after delivering 1 and 2 again, and a second
// rebuild delivers 1..6. The prints of 3 and 4 were published before the
// first rebuild and must not be published again; those of 5 and 6, never
// published, once. Before, the second restart took the window it kept
// (2) as where fingerprints begin, and 3, below the first restart's
// window, above the second's, was taken as never delivered: its print
// was published twice.
func TestInterruptedRebuildPrints(t *testing.T) {
	msgs, sink, a := newPrintArbiter(t, 2)
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	for _, s := range []uint64{1, 2, 3, 4, 6} { // 5 lost
		a.Offer(Primary, s, msgs[s-1], 0)
	}
	if got := prints(sink.ups); len(got) != 2 {
		t.Fatalf("before the loss: prints %v, want [100 200]", got)
	}
	t0 = rebuildOnce(t, a, Primary, 5, 1, t0)
	a.SourceLive(Primary, 1)
	for _, s := range []uint64{1, 2, 4} { // 3 lost in the rebuild
		a.Offer(Primary, s, msgs[s-1], 0)
	}
	rebuildOnce(t, a, Primary, 3, 2, t0)
	deliverDay(a, Primary, msgs, 0)
	if a.Rebuilding() {
		t.Fatal("still rebuilding")
	}
	checkPrintedOnce(t, sink)
}

// TestInterruptedRenumberedRebuildPrints: as TestRenumberedRebuildPrints
// (the old stream's 1..6 delivered with a window of two, then a new
// stream under the session's name, stamped a minute later, rebuilds the
// books), but the rebuild is itself interrupted by a loss after
// delivering the new stream's 1 and 2, and a second rebuild delivers its
// 1..6. The new stream's prints are each published once: its 3 and 4,
// never delivered, stamped within renumberSlack of its 2 (the latest
// message delivered when the rebuild was interrupted) and numbered below
// the old stream's window, are not taken as delivered before.
func TestInterruptedRenumberedRebuildPrints(t *testing.T) {
	msgs, sink, a, t0 := renumberedOnBoth(t)
	before := len(sink.ups)
	t0 = t0.Add(2 * time.Minute)
	src := a.Check(t0)
	if src < 0 || a.Stats().Rebuilds != 1 {
		t.Fatalf("no rebuild: Check %d, rebuilds %d", src, a.Stats().Rebuilds)
	}
	a.SourceDown(1 - src)
	a.SourceLive(src, 1)
	for _, s := range []uint64{1, 2, 4} { // 3 lost in the rebuild
		a.Offer(src, s, msgs[s-1], t0.UnixNano())
	}
	t0 = rebuildOnce(t, a, src, 3, 2, t0)
	deliverDay(a, src, msgs, t0.UnixNano())
	if a.Rebuilding() {
		t.Fatal("still rebuilding")
	}
	if got := prints(sink.ups[before:]); !slices.Equal(got, []int64{100, 200, 50, 30}) {
		t.Fatalf("the new stream's prints published: %v, want [100 200 50 30], each once", got)
	}
}

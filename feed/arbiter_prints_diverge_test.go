package feed

import (
	"encoding/binary"
	"testing"
	"time"
)

// TestDivergenceRebuildPrints: the primary skipped message 3 of the day (a
// print of 100 shares) and numbered the rest one lower; its 1..4 (the
// day's 1, 2, 4 and 5: prints of 200 and 50) were delivered. The backup's
// copies show it, and the books are rebuilt from the backup alone, which
// delivers the day's 1..6. What was delivered under 1..4 is not what the
// rebuild delivers under them: the print of 3, never published, must be
// published, and that of 5, published, not again.
func TestDivergenceRebuildPrints(t *testing.T) {
	msgs, sink, a := newPrintArbiter(t, 64)
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	skipped := [][]byte{msgs[0], msgs[1], msgs[3], msgs[4], msgs[5]}
	for s := uint64(1); s <= 4; s++ {
		a.Offer(Primary, s, skipped[s-1], 0)
	}
	if got := prints(sink.ups); len(got) != 2 || got[0] != 200 || got[1] != 50 {
		t.Fatalf("before the divergence: prints %v, want [200 50]", got)
	}
	for s := uint64(1); s <= 4; s++ {
		a.Offer(Backup, s, msgs[s-1], 0)
	}
	if a.Stats().Divergences == 0 {
		t.Fatal("no divergence seen")
	}
	if got := a.Check(t0); got != Backup || a.Stats().Rebuilds != 1 {
		t.Fatalf("Check %d, rebuilds %d; want a rebuild from the backup", got, a.Stats().Rebuilds)
	}
	deliverDay(a, Backup, msgs, 0)
	if a.Rebuilding() {
		t.Fatal("still rebuilding")
	}
	checkPrintedOnce(t, sink)
}

// TestRebuildPrintsBeyondWindow: as TestRebuildDoesNotRepeatPrints with a
// window of two: the arbiter keeps the fingerprints of only the last
// messages delivered, and the print of 3, delivered below them, is taken
// as delivered before by its number, not published again.
func TestRebuildPrintsBeyondWindow(t *testing.T) {
	msgs, sink, a := newPrintArbiter(t, 2)
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	for _, s := range []uint64{1, 2, 3, 4, 6} { // 5 lost
		a.Offer(Primary, s, msgs[s-1], 0)
	}
	if got := prints(sink.ups); len(got) != 2 {
		t.Fatalf("before the loss: prints %v, want [100 200]", got)
	}
	before := len(sink.ups)
	for i := 0; a.Stats().Rebuilds == 0; i++ {
		if i == 10 {
			t.Fatal("no rebuild")
		}
		if a.Check(t0.Add(time.Duration(i)*time.Minute)) >= 0 {
			a.SourceLive(Primary, 5)
		}
	}
	deliverDay(a, Primary, msgs, 0)
	if got := prints(sink.ups[before:]); len(got) != 2 || got[0] != 50 || got[1] != 30 {
		t.Fatalf("prints published by the rebuild: %v, want [50 30]", got)
	}
	if v := sink.b.Volume(); v != 380 {
		t.Fatalf("rebuilt volume %d, want 380", v)
	}
}

// restamped returns copies of msgs (ITCH messages) stamped d later.
func restamped(msgs [][]byte, d time.Duration) [][]byte {
	out := make([][]byte, len(msgs))
	for i, m := range msgs {
		b := append([]byte(nil), m...)
		var ts [8]byte
		copy(ts[2:], b[5:11])
		binary.BigEndian.PutUint64(ts[:], binary.BigEndian.Uint64(ts[:])+uint64(d))
		copy(b[5:11], ts[2:])
		out[i] = b
	}
	return out
}

// TestRenumberedRebuildPrints: the day's 1..6 were delivered (four
// prints); the server restarted without its messages and numbers a new
// stream under the session's name, stamped a minute later, which both
// sources now send: the books are rebuilt from it. None of its messages
// was delivered before, though its numbers were: its four prints are
// published. Before, those numbered below what the window kept (2) were
// taken for the old stream's and never published.
func TestRenumberedRebuildPrints(t *testing.T) {
	msgs, sink, a, t0 := renumberedOnBoth(t)
	if a.Stats().Divergences == 0 {
		t.Fatal("the renumbered stream was not seen")
	}
	before := len(sink.ups)
	src := a.Check(t0.Add(2 * time.Minute))
	if src < 0 || a.Stats().Rebuilds != 1 {
		t.Fatalf("no rebuild: Check %d, rebuilds %d", src, a.Stats().Rebuilds)
	}
	deliverDay(a, src, msgs, t0.UnixNano())
	if got := prints(sink.ups[before:]); len(got) != 4 {
		t.Fatalf("prints published by the rebuild: %v, want [100 200 50 30] (none was delivered before)", got)
	}
}

// renumberedOnBoth delivers the day's 1..6 (four prints) through an
// arbiter of window two, then has both sources send 5 and 6 of a new
// stream under the session's name, stamped a minute later, at t0: the
// new stream's messages, the books' sink, the arbiter and t0.
func renumberedOnBoth(t *testing.T) ([][]byte, *bookSink, *Arbiter, time.Time) {
	t.Helper()
	old, sink, a := newPrintArbiter(t, 2)
	msgs := restamped(old, time.Minute)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	for s := uint64(1); s <= 6; s++ {
		a.Offer(Primary, s, old[s-1], 0)
	}
	if got := prints(sink.ups); len(got) != 4 {
		t.Fatalf("the old stream's prints %v, want four", got)
	}
	t0 := time.Unix(100, 0)
	for _, src := range []int{Primary, Backup} {
		a.SourceDown(src)
		a.SourceLive(src, 5)
	}
	for s := uint64(5); s <= 6; s++ {
		a.Offer(Primary, s, msgs[s-1], t0.UnixNano())
		a.Offer(Backup, s, msgs[s-1], t0.UnixNano())
	}
	return msgs, sink, a, t0
}

package feed

import (
	"encoding/binary"
	"testing"
	"time"
)

// stamped returns an ITCH-shaped message: seq in bytes 1..4, the
// Timestamp (ns since midnight) at in bytes 5..10.
func stamped(seq uint64, at time.Duration) []byte {
	b := make([]byte, 16)
	b[0] = 'X'
	binary.BigEndian.PutUint32(b[1:], uint32(seq))
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], uint64(at))
	copy(b[5:11], ts[2:])
	return b
}

// TestRenumberedStreamBeyondWindowDiverges: the server restarted without
// its messages and numbers a new stream under the session's name: both
// sources log in again (accepted far below the requested sequence) and
// send messages 3, 4, ... stamped after every message delivered, further
// below next than the fingerprints kept reach. They are another stream's:
// the books are marked stale at once and rebuilt. Before, they were
// dropped as duplicates up to the old extent (the books frozen, served as
// valid) and the later ones applied to the old books. A lagging copy as
// far back, stamped no later, is a duplicate and nothing more.
func TestRenumberedStreamBeyondWindowDiverges(t *testing.T) {
	t.Run("beyond the window", func(t *testing.T) { testRenumbered(t, 500) })
	t.Run("within the window", func(t *testing.T) { testRenumbered(t, 40) })
}

// testRenumbered runs TestRenumberedStreamBeyondWindowDiverges with
// messages 1..extent delivered of the old stream (window: 64).
func testRenumbered(t *testing.T, extent uint64) {
	sink := &staleSink{}
	a := newArbiter(sink, 64, 1, time.Second, time.Minute)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	const open = 9*time.Hour + 30*time.Minute
	for s := uint64(1); s <= extent; s++ {
		a.Offer(Primary, s, stamped(s, open+time.Duration(s)*time.Millisecond), 0)
	}
	if a.Next() != extent+1 {
		t.Fatalf("next %d, want %d", a.Next(), extent+1)
	}

	a.SourceDown(Backup)
	a.SourceLive(Backup, 10) // a lagging copy
	for s := uint64(10); s <= 20; s++ {
		a.Offer(Backup, s, stamped(s, open+time.Duration(s)*time.Millisecond), 0)
	}
	if a.Stats().Divergences != 0 || sink.stale {
		t.Fatalf("a lagging copy: divergences %d, stale %v", a.Stats().Divergences, sink.stale)
	}

	t0 := time.Unix(100, 0)
	for _, src := range []int{Primary, Backup} {
		a.SourceDown(src)
		a.SourceLive(src, 3)
	}
	restarted := open + time.Minute
	for s := uint64(3); s <= 6; s++ {
		a.Offer(Primary, s, stamped(s, restarted+time.Duration(s)*time.Millisecond), t0.UnixNano())
		a.Offer(Backup, s, stamped(s, restarted+time.Duration(s)*time.Millisecond), t0.UnixNano())
	}
	if a.Stats().Divergences == 0 || !sink.stale {
		t.Fatalf("the renumbered stream: divergences %d, stale %v; want the books stale", a.Stats().Divergences, sink.stale)
	}
	src := a.Check(t0.Add(2 * time.Minute))
	if src < 0 || sink.restarts != 1 || !a.Rebuilding() {
		t.Fatalf("no rebuild: restarts %d, rebuilding %v", sink.restarts, a.Rebuilding())
	}
	// The rebuild is done once it has what the source showed it holds
	// (through 6), not the old stream's extent: before, the books stayed
	// stale until the new stream reached the old one's extent (minutes
	// to hours).
	a.SourceLive(src, 1)
	for s := uint64(1); s <= 6; s++ {
		a.Offer(src, s, stamped(s, restarted+time.Duration(s)*time.Millisecond), t0.UnixNano())
	}
	if sink.stale || a.Rebuilding() || a.Next() != 7 {
		t.Fatalf("after the new stream's 1-6: stale %v, rebuilding %v, next %d", sink.stale, a.Rebuilding(), a.Next())
	}
	a.Offer(src, 7, stamped(7, restarted+7*time.Millisecond), t0.UnixNano())
	if len(sink.got) != 7 {
		t.Fatalf("delivered %d messages since the rebuild began, want 7", len(sink.got))
	}
}

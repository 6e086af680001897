package feed

import (
	"testing"
	"time"
)

// TestSessionClaimIsAtomicWithLive: a source's Login Accepted is taken in
// two steps, Session and then SourceLive, each under the arbiter's lock
// but not together, and a TLS or TLCP source runs on its own goroutine.
// Both sources streamed S1 and dropped (a server restart); the primary
// logs into S2 at 1 (the stream switches to S2) and, before its
// SourceLive, the backup, a relay still on S1, logs in: the primary is not
// live yet, so the stream switches back to S1, and then both go live,
// each on its own session: S2's messages from 1 and S1's from 6 merged
// into one stream of books. The second login must be refused: a source
// that has had its session accepted holds it until it is down.
func TestSessionClaimIsAtomicWithLive(t *testing.T) {
	a := newArbiter(&recordSink{}, 64, 3, time.Second, time.Second)
	if ok, _ := a.Session(Primary, "S1"); !ok {
		t.Fatal("first session refused")
	}
	a.SourceLive(Primary, 1)
	for s := uint64(1); s <= 5; s++ {
		a.Offer(Primary, s, msgOf(s), 0)
	}
	a.SourceDown(Primary)

	ok0, sw0 := a.Session(Primary, "S2") // the primary's Login Accepted: S2 at 1
	ok1, sw1 := a.Session(Backup, "S1")  // the backup's, on its goroutine, in between
	if ok0 {
		a.SourceLive(Primary, 1)
	}
	if ok1 {
		a.SourceLive(Backup, 6)
	}
	if ok0 && ok1 {
		t.Fatalf("both sources live on different sessions (primary S2 switched %v, backup S1 switched %v); the stream's session is %q",
			sw0, sw1, a.StreamSession())
	}
}

package feed

import (
	"fmt"
	"testing"
	"time"
)

// TestLoginAboveRequestUnverified: a source logging in again asks for a
// copy of the last message delivered (LoginFrom), but a server that
// cannot replay it accepts the login above the request, at next or
// later: no copy of a message delivered comes to compare, and the
// server may stream another stream under the session's name (restarted
// without its messages, its new stream already longer). Its messages
// are not taken until one of them equals the message the other source
// delivers under that number; one that differs shows another stream (a
// divergence, the books stale, nothing more taken from it), and a source
// that alone passes next and cannot be checked so has the books rebuilt
// from it, from sequence 1 (what no source sent below its first message
// declared lost). Before, its messages were applied to the old
// books (at once, or once the other source filled the gap below them)
// and served as valid.
func TestLoginAboveRequestUnverified(t *testing.T) {
	const old = 10 // messages delivered of stream A before the logins
	t0 := time.Unix(100, 0)
	setup := func(t *testing.T) (*Arbiter, *streamSink) {
		t.Helper()
		sink := &streamSink{}
		a := newArbiter(overlapRebuilder{sink}, 64, 1, time.Second, time.Minute)
		a.SourceLive(Primary, 1)
		a.SourceLive(Backup, 1)
		for s := uint64(1); s <= old; s++ {
			a.Offer(Primary, s, streamMsg('A', s), 0)
			a.Offer(Backup, s, streamMsg('A', s), 0)
		}
		a.SourceDown(Primary)
		a.SourceDown(Backup)
		return a, sink
	}
	offer := func(a *Arbiter, src int, stream byte, from, to uint64) {
		for s := from; s <= to; s++ {
			a.Offer(src, s, streamMsg(stream, s), t0.UnixNano())
		}
	}
	want := func(t *testing.T, sink *streamSink, parts ...any) {
		t.Helper()
		var w []string
		for i := 0; i < len(parts); i += 3 {
			for s := parts[i+1].(uint64); s <= parts[i+2].(uint64); s++ {
				w = append(w, fmt.Sprintf("%c%d", parts[i].(byte), s))
			}
		}
		if fmt.Sprint(sink.got) != fmt.Sprint(w) {
			t.Fatalf("delivered %v, want %v", sink.got, w)
		}
	}

	t.Run("renumbered, alone", func(t *testing.T) {
		a, sink := setup(t)
		a.SourceLive(Primary, old+1) // asked old, accepted at next
		offer(a, Primary, 'B', old+1, old+5)
		want(t, sink, byte('A'), uint64(1), uint64(old))
		if a.Next() != old+1 {
			t.Fatalf("next %d: the unverified source's messages were taken", a.Next())
		}
		// Every live source has passed next: it is asked again (a
		// login may now be accepted where asked, and checked).
		if src := a.Check(t0); src != Primary {
			t.Fatalf("Check %d, want the primary asked again", src)
		}
		a.SourceLive(Primary, old+3) // above again
		offer(a, Primary, 'B', old+3, old+6)
		if src := a.Check(t0.Add(2 * time.Minute)); src != Primary || sink.restarts != 1 || !sink.stale || !a.Rebuilding() {
			t.Fatalf("Check %d, restarts %d, stale %v: want the books rebuilt from the primary", src, sink.restarts, sink.stale)
		}
		// What no source sent, below the first message of its last
		// login, is declared lost; nothing it sent is.
		if st := a.Stats(); st.Lost != 2 || st.Unverified != 1 || st.Delivered != old {
			t.Fatalf("lost %d, unverified rebuilds %d, delivered %d: want one rebuild, %d..%d lost", st.Lost, st.Unverified, st.Delivered, old+1, old+2)
		}
		a.SourceLive(Primary, 1)
		offer(a, Primary, 'B', 1, old+7)
		want(t, sink, byte('B'), uint64(1), uint64(old+7))
		if sink.stale || a.Rebuilding() {
			t.Fatalf("after the rebuild: stale %v, rebuilding %v", sink.stale, a.Rebuilding())
		}
	})

	t.Run("same stream, the other source fills the gap", func(t *testing.T) {
		a, sink := setup(t)
		a.SourceLive(Backup, old)
		a.Offer(Backup, old, streamMsg('A', old), 0) // its copy: verified
		a.SourceLive(Primary, old+3)
		offer(a, Primary, 'A', old+3, old+5)
		want(t, sink, byte('A'), uint64(1), uint64(old))
		offer(a, Backup, 'A', old+1, old+3) // old+3 equals the primary's
		want(t, sink, byte('A'), uint64(1), uint64(old+3))
		offer(a, Primary, 'A', old+6, old+6) // taken: held for the gap
		offer(a, Backup, 'A', old+4, old+6)  // its messages not taken before
		want(t, sink, byte('A'), uint64(1), uint64(old+6))
		st := a.Stats()
		if st.Divergences != 0 || sink.stale || a.Rebuilding() || st.FirstSource[Primary] != old+1 {
			t.Fatalf("divergences %d, stale %v, from the primary %d: want the primary verified, its next message taken", st.Divergences, sink.stale, st.FirstSource[Primary])
		}
	})

	t.Run("renumbered, the other source fills the gap", func(t *testing.T) {
		a, sink := setup(t)
		a.SourceLive(Backup, old)
		a.Offer(Backup, old, streamMsg('A', old), 0)
		a.SourceLive(Primary, old+3)
		offer(a, Primary, 'B', old+3, old+5)
		offer(a, Backup, 'A', old+1, old+2)
		want(t, sink, byte('A'), uint64(1), uint64(old+2))
		if sink.stale {
			t.Fatal("stale before any evidence")
		}
		offer(a, Backup, 'A', old+3, old+3) // differs from the primary's
		want(t, sink, byte('A'), uint64(1), uint64(old+3))
		if !sink.stale || a.Stats().Divergences != 1 || a.srcs[Primary].live {
			t.Fatalf("stale %v, divergences %d, primary live %v: want another stream seen", sink.stale, a.Stats().Divergences, a.srcs[Primary].live)
		}
		offer(a, Primary, 'B', old+6, old+7) // nothing more taken from it
		if src := a.Check(t0.Add(2 * time.Minute)); src != Backup || sink.restarts != 1 {
			t.Fatalf("Check %d, restarts %d: want a rebuild from the backup", src, sink.restarts)
		}
	})

	t.Run("the other source stalled", func(t *testing.T) {
		// The backup is live at next and silent: it is stalled once the
		// unverified primary has been ahead for the stall time, and the
		// primary is asked again, as for messages held beyond a gap.
		a, sink := setup(t)
		a.SourceLive(Backup, old)
		a.Offer(Backup, old, streamMsg('A', old), 0)
		a.SourceLive(Primary, old+3)
		offer(a, Primary, 'B', old+3, old+5)
		if src := a.Check(t0); src != -1 {
			t.Fatalf("Check %d, want to wait for the backup", src)
		}
		if src := a.Check(t0.Add(2 * time.Minute)); src != Primary {
			t.Fatalf("Check %d, want the primary asked again past the stalled backup", src)
		}
		want(t, sink, byte('A'), uint64(1), uint64(old))
	})

	t.Run("no rebuilder", func(t *testing.T) {
		// A sink that cannot rebuild goes on from it, as before.
		sink := &streamSink{}
		a := newArbiter(sink, 64, 1, time.Second, time.Minute)
		a.SourceLive(Primary, 1)
		offer(a, Primary, 'A', 1, old)
		a.SourceDown(Primary)
		a.SourceLive(Primary, old+1)
		offer(a, Primary, 'A', old+1, old+2)
		want(t, sink, byte('A'), uint64(1), uint64(old+2))
	})
}

// TestLoginAboveGoneOtherStuck: the backup's login is accepted above the
// request (at 7, asking for a copy of 5), it sends 7..10, which are not
// taken (nothing compared them), and goes away for good; the primary,
// live, delivered 1..5 and brings only heartbeats, logging in again when
// asked but sending nothing more (a stuck relay). The backup's messages
// show the stream passed 6 as messages held beyond a gap do: once the
// primary has been asked again and the recovery time is over, the books
// are rebuilt from it, stale until it brings the stream. Before, the
// rebuild of a gap that only a source not yet compared passed came only
// from a live such source: with it gone, nothing was done, the books
// frozen at 5 and served as valid for ever (before the backup's logins
// were checked, its 7..10 were held and 6 declared lost).
func TestLoginAboveGoneOtherStuck(t *testing.T) {
	sink := &streamSink{}
	a := newArbiter(overlapRebuilder{sink}, 64, 2, time.Second, time.Minute)
	a.SourceLive(Primary, 1)
	for s := uint64(1); s <= 5; s++ {
		a.Offer(Primary, s, streamMsg('A', s), 0)
	}
	a.SourceLive(Backup, 7) // asked 5, accepted above
	for s := uint64(7); s <= 10; s++ {
		a.Offer(Backup, s, streamMsg('A', s), 0)
	}
	a.SourceDown(Backup) // its logins refused from now on
	t0 := time.Unix(100, 0)
	for now := t0; now.Before(t0.Add(time.Hour)) && !a.Rebuilding(); now = now.Add(time.Second) {
		switch a.Check(now) {
		case Primary: // it logs in again, sends its copy of 5 and nothing more
			from := a.LoginFrom()
			a.SourceLive(Primary, from)
			if from > 1 {
				a.Offer(Primary, from, streamMsg('A', from), 0)
			}
		case Backup:
			t.Fatal("Check asked the backup, which is gone")
		}
	}
	if !a.Rebuilding() || !sink.stale || sink.restarts != 1 || a.Stats().Unverified != 1 {
		t.Fatalf("next %d, rebuilding %v, stale %v, restarts %d: want the books rebuilt from the primary, stale, not frozen at 5 as valid",
			a.Next(), a.Rebuilding(), sink.stale, sink.restarts)
	}
}

// TestLoginAboveRebuildTakesNothingFromTheOther: only the primary,
// logged in above the request (another stream, B), passed next; the
// backup (stream A) is live and silent. The books are rebuilt from the
// primary from sequence 1, and the rebuild takes nothing from the
// backup: when it wakes up with A's next messages they are not applied
// after B's (it logs in again once the rebuild is done, and its copy is
// compared then). Before, the backup's A11 and A12, held during the
// rebuild, were applied after B1..B10 and the books served as valid.
func TestLoginAboveRebuildTakesNothingFromTheOther(t *testing.T) {
	const old = 10
	sink := &streamSink{}
	a := newArbiter(overlapRebuilder{sink}, 64, 1, time.Second, time.Minute)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	for s := uint64(1); s <= old; s++ {
		a.Offer(Primary, s, streamMsg('A', s), 0)
		a.Offer(Backup, s, streamMsg('A', s), 0)
	}
	a.SourceDown(Primary)
	above := func() {
		a.SourceLive(Primary, old+3)
		for s := uint64(old + 3); s <= old+6; s++ {
			a.Offer(Primary, s, streamMsg('B', s), 0)
		}
	}
	above()
	t0 := time.Unix(100, 0)
	for now := t0; a.Stats().Unverified == 0; now = now.Add(time.Second) {
		if now.After(t0.Add(time.Hour)) {
			t.Fatal("no rebuild from the primary")
		}
		switch a.Check(now) {
		case Primary:
			if a.Stats().Unverified == 0 {
				above()
			}
		case Backup:
			a.SourceLive(Backup, old)
			a.Offer(Backup, old, streamMsg('A', old), 0)
		}
	}
	// The rebuild: the primary logs in from 1; the backup wakes up.
	a.SourceLive(Primary, 1)
	for s := uint64(1); s <= 5; s++ {
		a.Offer(Primary, s, streamMsg('B', s), 0)
	}
	a.Offer(Backup, old+1, streamMsg('A', old+1), 0)
	a.Offer(Backup, old+2, streamMsg('A', old+2), 0)
	for s := uint64(6); s <= old; s++ {
		a.Offer(Primary, s, streamMsg('B', s), 0)
	}
	for _, m := range sink.got {
		if m[0] != 'B' {
			t.Fatalf("delivered %v (stale %v): the backup's stream applied to the primary's rebuild", sink.got, sink.stale)
		}
	}
	if sink.stale || a.Rebuilding() || a.takeResync() != 1<<Backup {
		t.Fatalf("stale %v, rebuilding %v: want the rebuild done, the backup asked to log in again", sink.stale, a.Rebuilding())
	}
}

package feed

import (
	"encoding/binary"
	"fmt"
	"testing"
	"time"
)

// streamSink records which stream (byte 11 of streamMsg) and sequence
// number each message it is handed belongs to, and whether it is stale.
// The arbiter calls it with its lock held, one call at a time.
type streamSink struct {
	got      []string // "A3": stream A's message 3; since the last Restart
	stale    bool
	restarts int
}

func (s *streamSink) Apply(msg []byte, _ int64) error {
	s.got = append(s.got, fmt.Sprintf("%c%d", msg[11], binary.BigEndian.Uint32(msg[1:])))
	return nil
}

// overlapRebuilder is a streamSink that rebuilds and can be marked stale.
type overlapRebuilder struct{ *streamSink }

func (s overlapRebuilder) Restart() error   { s.stale, s.got = true, nil; s.restarts++; return nil }
func (s overlapRebuilder) MarkStale() error { s.stale = true; return nil }
func (s overlapRebuilder) Rebuilt() error   { s.stale = false; return nil }

// streamMsg returns message seq of stream id ('A', 'B'): stamped from
// 09:30 a millisecond apart whatever the stream, so that no copy of one
// stream is stamped late against the other (only its content differs).
func streamMsg(id byte, seq uint64) []byte {
	b := stamped(seq, 9*time.Hour+30*time.Minute+time.Duration(seq)*time.Millisecond)
	b[11] = id
	return b
}

// TestLoginOverlapShowsRenumberedStream: a source logging in again asks
// for a copy of the last message delivered (LoginFrom: Next less one),
// and the first copy it sends is compared with what was delivered. The
// same stream's copy is a duplicate and nothing more, and it goes on. A
// venue restarted without its messages, numbering another stream under
// the session's name already longer than what was delivered, sends a
// copy that differs (stamped no later, so only the overlap shows it):
// the books are marked stale before anything of the new stream is
// delivered, nothing more is taken from that source, and they are
// rebuilt from the new stream's sequence 1 (from the other source, or
// from the same one on a feed without a backup). Before, the login asked
// for Next, and the new stream's messages were applied to the old books,
// served as valid. A copy that matches and a later one that differs are
// a source that skipped, not another stream: an ordinary divergence,
// and the source is not stopped. A sink that cannot rebuild goes on. A
// login accepted above the request: TestLoginAboveRequestUnverified.
func TestLoginOverlapShowsRenumberedStream(t *testing.T) {
	const old = 10 // messages delivered of stream A before the logins
	t0 := time.Unix(100, 0)
	setup := func(t *testing.T, rebuilds, single bool) (*Arbiter, *streamSink) {
		t.Helper()
		sink := &streamSink{}
		var s Sink = sink
		if rebuilds {
			s = overlapRebuilder{sink}
		}
		a := newArbiter(s, 64, 1, time.Second, time.Minute)
		a.single = single
		if got := a.LoginFrom(); got != 1 {
			t.Fatalf("a cold start logs in from %d, want 1", got)
		}
		a.SourceLive(Primary, 1)
		if !single {
			a.SourceLive(Backup, 1)
		}
		for s := uint64(1); s <= old; s++ {
			a.Offer(Primary, s, streamMsg('A', s), 0)
			if !single {
				a.Offer(Backup, s, streamMsg('A', s), 0)
			}
		}
		a.SourceDown(Primary)
		a.SourceDown(Backup)
		if got := a.LoginFrom(); got != old {
			t.Fatalf("logging in again from %d, want %d (a copy of the last message delivered)", got, old)
		}
		return a, sink
	}
	want := func(t *testing.T, sink *streamSink, stream byte, from, to uint64) {
		t.Helper()
		var w []string
		for s := from; s <= to; s++ {
			w = append(w, fmt.Sprintf("%c%d", stream, s))
		}
		if fmt.Sprint(sink.got) != fmt.Sprint(w) {
			t.Fatalf("delivered %v, want %v", sink.got, w)
		}
	}

	t.Run("same stream", func(t *testing.T) {
		a, sink := setup(t, true, false)
		dups := a.Stats().Duplicates
		a.SourceLive(Primary, old)
		for s := uint64(old); s <= old+3; s++ {
			a.Offer(Primary, s, streamMsg('A', s), 0)
		}
		st := a.Stats()
		if st.Divergences != 0 || sink.stale || a.Rebuilding() || st.Duplicates != dups+1 {
			t.Fatalf("divergences %d, stale %v, rebuilding %v, duplicates %d (want %d)", st.Divergences, sink.stale, a.Rebuilding(), st.Duplicates, dups+1)
		}
		want(t, sink, 'A', 1, old+3)
	})

	for _, single := range []bool{false, true} {
		t.Run(fmt.Sprintf("renumbered, single %v", single), func(t *testing.T) {
			a, sink := setup(t, true, single)
			a.SourceLive(Primary, old)
			for s := uint64(old); s <= old+5; s++ {
				a.Offer(Primary, s, streamMsg('B', s), t0.UnixNano())
			}
			if !sink.stale || a.Stats().Divergences != 1 || a.Next() != old+1 {
				t.Fatalf("stale %v, divergences %d, next %d: want the books stale, nothing of stream B delivered", sink.stale, a.Stats().Divergences, a.Next())
			}
			want(t, sink, 'A', 1, old)
			if !single {
				a.SourceLive(Backup, old)
				for s := uint64(old); s <= old+5; s++ {
					a.Offer(Backup, s, streamMsg('B', s), t0.UnixNano())
				}
				want(t, sink, 'A', 1, old)
			}
			if got := a.Check(t0.Add(time.Second)); got != -1 || sink.restarts != 0 {
				t.Fatalf("within the recovery time: Check %d, restarts %d", got, sink.restarts)
			}
			src := a.Check(t0.Add(2 * time.Minute))
			wantSrc := Backup // the primary's copy came first: it is the suspect
			if single {
				wantSrc = Primary
			}
			if src != wantSrc || sink.restarts != 1 || !a.Rebuilding() || a.LoginFrom() != 1 {
				t.Fatalf("Check %d (want %d), restarts %d, rebuilding %v, login from %d", src, wantSrc, sink.restarts, a.Rebuilding(), a.LoginFrom())
			}
			a.SourceLive(src, 1)
			for s := uint64(1); s <= old+7; s++ {
				a.Offer(src, s, streamMsg('B', s), t0.UnixNano())
			}
			if sink.stale || a.Rebuilding() {
				t.Fatalf("after the rebuild: stale %v, rebuilding %v", sink.stale, a.Rebuilding())
			}
			want(t, sink, 'B', 1, old+7)
			if !single {
				// The suspect rejoins from the current position.
				if r := a.takeResync(); r != 1<<Primary {
					t.Fatalf("resync %b, want the primary", r)
				}
				a.SourceLive(Primary, a.LoginFrom())
				for s := a.LoginFrom(); s <= old+8; s++ {
					a.Offer(Primary, s, streamMsg('B', s), t0.UnixNano())
				}
				if a.Stats().Divergences != 2 || sink.stale {
					t.Fatalf("the suspect rejoining: divergences %d, stale %v", a.Stats().Divergences, sink.stale)
				}
				want(t, sink, 'B', 1, old+8)
			}
		})
	}

	t.Run("renumbered again during a rebuild", func(t *testing.T) {
		// The source a rebuild comes from logs in again and shows yet
		// another stream: the rebuild cannot finish from it. A
		// divergence during a rebuild from one source is otherwise not
		// acted on; this one is, or the source stopped for it would stay
		// connected and ignored, the books stale.
		a, sink := setup(t, true, false)
		a.SourceLive(Primary, old)
		a.Offer(Primary, old, streamMsg('B', old), t0.UnixNano())
		if src := a.Check(t0.Add(2 * time.Minute)); src != Backup {
			t.Fatalf("Check %d, want a rebuild from the backup", src)
		}
		a.SourceLive(Backup, 1)
		for s := uint64(1); s <= 3; s++ {
			a.Offer(Backup, s, streamMsg('B', s), t0.UnixNano())
		}
		a.SourceDown(Backup)
		a.SourceLive(Backup, a.LoginFrom())
		t1 := t0.Add(3 * time.Minute)
		a.Offer(Backup, 3, streamMsg('C', 3), t1.UnixNano())
		a.Offer(Backup, 4, streamMsg('C', 4), t1.UnixNano())
		if a.Next() != 4 || a.srcs[Backup].live || !sink.stale {
			t.Fatalf("next %d, backup live %v, stale %v: want nothing of stream C delivered", a.Next(), a.srcs[Backup].live, sink.stale)
		}
		if src := a.Check(t1.Add(time.Second)); src != -1 || a.exclude != -1 || !a.Rebuilding() {
			t.Fatalf("within the recovery time: Check %d, exclude %d, rebuilding %v", src, a.exclude, a.Rebuilding())
		}
		if src := a.Check(t1.Add(2 * time.Minute)); src != Primary || sink.restarts != 2 || a.exclude != Backup {
			t.Fatalf("Check %d, restarts %d, exclude %d: want a rebuild from the primary", src, sink.restarts, a.exclude)
		}
		a.SourceLive(Primary, 1)
		for s := uint64(1); s <= old; s++ { // it was seen through old
			a.Offer(Primary, s, streamMsg('C', s), t1.UnixNano())
		}
		want(t, sink, 'C', 1, old)
		if sink.stale || a.takeResync() != 1<<Backup {
			t.Fatalf("stale %v after the rebuild from the primary, or the backup not made to log in again", sink.stale)
		}
	})

	t.Run("a skip after a matching copy", func(t *testing.T) {
		a, sink := setup(t, true, false)
		a.SourceLive(Backup, old-2)
		a.Offer(Backup, old-2, streamMsg('A', old-2), 0)
		a.Offer(Backup, old-1, streamMsg('A', old), 0) // skipped old-1
		if !sink.stale || a.Stats().Divergences != 1 || a.renumbered || a.stopped != 0 || !a.srcs[Backup].live {
			t.Fatalf("stale %v, divergences %d, renumbered %v, stopped %b, live %v: want an ordinary divergence", sink.stale, a.Stats().Divergences, a.renumbered, a.stopped, a.srcs[Backup].live)
		}
		if a.skipper != Backup {
			t.Fatalf("skipper %d, want the backup", a.skipper)
		}
	})

	t.Run("no rebuilder", func(t *testing.T) {
		a, _ := setup(t, false, false)
		a.SourceLive(Primary, old)
		for s := uint64(old); s <= old+2; s++ {
			a.Offer(Primary, s, streamMsg('B', s), 0)
		}
		if a.Stats().Divergences != 1 || a.Next() != old+3 {
			t.Fatalf("divergences %d, next %d: a sink that cannot rebuild goes on", a.Stats().Divergences, a.Next())
		}
	})
}

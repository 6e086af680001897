package feed

import (
	"slices"
	"testing"
	"time"

	"sgw/feed/szse"
)

// staggerStream is one numbering of a channel as a venue server streams
// it: its records up to have, each stamped at and priced px.
type staggerStream struct {
	at   func(seq int64) szse.Timestamp
	px   int64
	have int64
}

// serve runs Check every 50 ms n times; each ReTransmit asked is answered
// by the source's stream: done with the records (sent at once), or
// unavailable when the stream has none of them. It returns the asks.
func (r *arbRig) serve(n int, streams [2]*staggerStream) []szseAsk {
	r.t.Helper()
	var all []szseAsk
	for range n {
		asks := r.check(50 * time.Millisecond)
		all = append(all, asks...)
		for _, ask := range asks {
			s := streams[ask.src]
			from, to := int64(ask.from), min(int64(ask.to), s.have)
			if to < from {
				r.answer(ask.src, ask.channel, from, int64(ask.to), szse.ResendStatusUnavailable)
				continue
			}
			r.answer(ask.src, ask.channel, from, to, szse.ResendStatusDone)
			for seq := from; seq <= to; seq++ {
				r.offerAt(ask.src, ask.channel, seq, seq, s.at(seq), s.px)
			}
		}
	}
	return all
}

// TestSZSEOneSourceRenumberedFirst: one venue server numbers the channel
// from ApplSeqNum 1 again (restarted without its records) while the other
// still streams the old numbering. The primary's new records 1..3,
// stamped after every record delivered, rebuild the channel; the backup's
// old live records 21..22 that follow are of the other numbering: they
// open no gap, and the old records 4..22 are never delivered on top of
// the new stream's 1..3 (the backup, asked for its copy of record 3,
// sends the old one, which rebuilds nothing). Before, the backup's 21..22
// opened a gap 4..22, the primary refused it, the backup was asked and
// its old records were delivered after the new stream's 1..3, the channel
// served as valid. A gap the primary cannot fill is not asked of the
// backup: the channel is declared lost, stale. Once the backup logs in
// again, on the new stream, the channel converges to the new stream's
// records, valid.
func TestSZSEOneSourceRenumberedFirst(t *testing.T) {
	const day = 20261204
	stamp := func(hms int64) func(int64) szse.Timestamp {
		return func(int64) szse.Timestamp { return szse.Timestamp(day*1_000_000_000 + hms) }
	}
	early, later := stamp(93000000), stamp(100500000)
	const oldPx, newPx = 100000, 101000
	// The old numbering: 1..20 stamped early, the rest live now.
	oldStream := &staggerStream{px: oldPx, have: 22, at: func(seq int64) szse.Timestamp {
		if seq <= 20 {
			return early(seq)
		}
		return later(seq)
	}}
	newStream := &staggerStream{px: newPx, have: 3, at: later}

	setup := func(t *testing.T) *arbRig {
		r := newArbRig(t, nil)
		r.offerAt(Primary, 2011, 1, 20, early(0), oldPx)
		r.offerAt(Backup, 2011, 1, 20, early(0), oldPx)
		r.expect(seqs(2011, 1, 20)...)
		r.offerAt(Primary, 2011, 1, 3, later(0), newPx) // the primary's venue numbers the channel again
		r.expect("reset 2011", "2011:1", "live 2011", "2011:2", "2011:3")
		r.offerAt(Backup, 2011, 21, 22, later(0), oldPx) // the backup's goes on with the old numbering
		r.heartbeat(Backup, 2011, 22)
		asks := r.serve(40, [2]*staggerStream{Primary: newStream, Backup: oldStream})
		for _, got := range r.sink.take() {
			if got != "reset 2011" && got != "live 2011" {
				t.Fatalf("delivered %s of the old numbering on top of the new stream's 1..3", got)
			}
		}
		// Nothing of the new numbering is known beyond 3: the channel
		// waits there, valid.
		if c := r.channel(2011); c.Next != 4 || c.Last != 3 || c.Stale || c.Rebuilds != 1 {
			t.Fatalf("after the backup's old records: %+v; want it waiting at 4, valid", c)
		}
		// The backup was asked for its copy of the last record delivered,
		// once, and nothing else.
		if want := []szseAsk{{src: Backup, channel: 2011, from: 3, to: 3}}; !slices.Equal(asks, want) {
			t.Fatalf("asks %v, want %v", asks, want)
		}
		return r
	}
	converged := func(t *testing.T, r *arbRig, through int64) {
		t.Helper()
		c := r.channel(2011)
		if c.Stale || c.Next != uint64(through)+1 {
			t.Fatalf("channel %+v: want the new stream through %d, valid", c, through)
		}
		for seq := int64(1); seq <= through; seq++ {
			if px := r.sink.px[[2]int64{2011, seq}]; px != newPx {
				t.Fatalf("record %d delivered at price %d: the old stream's", seq, px)
			}
		}
	}

	t.Run("the backup logs in again on the new stream", func(t *testing.T) {
		r := setup(t)
		// The primary has 6..7 and not 4..5: a gap that only the old
		// backup could "fill". The channel is declared lost (stale).
		r.offerAt(Primary, 2011, 6, 7, later(0), newPx)
		r.serve(40, [2]*staggerStream{Primary: newStream, Backup: oldStream})
		for _, got := range r.sink.take() {
			if got != "reset 2011" && got != "live 2011" && got != "2011:1" && got != "2011:2" && got != "2011:3" {
				t.Fatalf("delivered %s while the primary cannot fill 4..5", got)
			}
		}
		if c := r.channel(2011); !c.Stale {
			t.Fatalf("channel %+v: a gap the new stream's source cannot fill, served as valid", c)
		}
		// The backup's venue has numbered the channel again too; its new
		// session streams the new numbering.
		longer := *newStream
		longer.have = 9
		r.a.SourceDown(Backup)
		r.a.SourceLive(Backup)
		r.heartbeat(Backup, 2011, 7)
		r.serve(40, [2]*staggerStream{Primary: newStream, Backup: &longer})
		r.offerAt(Backup, 2011, 8, 9, later(0), newPx)
		r.sink.take()
		converged(t, r, 9)
	})
	t.Run("the backup logs in again on the old numbering", func(t *testing.T) {
		// Its new session is verified as a login is, but its copy of the
		// last record delivered, the old numbering's, rebuilds nothing:
		// the channel keeps the later numbering. Its live records are
		// dropped.
		r := setup(t)
		longer := *oldStream
		longer.have = 24
		r.a.SourceDown(Backup)
		r.a.SourceLive(Backup)
		r.offerAt(Backup, 2011, 23, 24, later(0), oldPx)
		r.heartbeat(Backup, 2011, 24)
		asks := r.serve(40, [2]*staggerStream{Primary: newStream, Backup: &longer})
		r.expect()
		if want := []szseAsk{{src: Backup, channel: 2011, from: 3, to: 3}}; !slices.Equal(asks, want) {
			t.Fatalf("asks %v, want %v", asks, want)
		}
		r.offerAt(Primary, 2011, 4, 5, later(0), newPx)
		r.expect("2011:4", "2011:5")
		converged(t, r, 5)
		if c := r.channel(2011); c.Rebuilds != 1 {
			t.Fatalf("channel %+v: want the renumbering's rebuild alone", c)
		}
	})
	t.Run("the primary goes down, the backup streams the old numbering alone", func(t *testing.T) {
		// No source streams the channel's numbering: the backup's records
		// show the market moving, which the books no longer follow. After
		// the recovery time the channel is stale (rebuilt, nothing of the
		// old numbering delivered), and it comes back valid from the
		// primary's new stream. Before, it stayed at 3, valid, for as
		// long as the primary was away.
		r := setup(t)
		r.a.SourceDown(Primary)
		r.offerAt(Backup, 2011, 23, 30, later(0), oldPx)
		r.heartbeat(Backup, 2011, 30)
		longer := *oldStream
		longer.have = 30
		r.serve(40, [2]*staggerStream{Primary: newStream, Backup: &longer})
		for _, got := range r.sink.take() {
			if got != "reset 2011" {
				t.Fatalf("delivered %s with only the old numbering's source up", got)
			}
		}
		if c := r.channel(2011); !c.Stale {
			t.Fatalf("channel %+v: frozen at the new stream's 3 while the old numbering streams alone, served as valid", c)
		}
		back := *newStream
		back.have = 6
		r.a.SourceLive(Primary)
		r.offerAt(Primary, 2011, 5, 6, later(0), newPx)
		r.heartbeat(Primary, 2011, 6)
		r.serve(40, [2]*staggerStream{Primary: &back, Backup: &longer})
		r.sink.take()
		converged(t, r, 6)
	})
	t.Run("the backup's venue numbers again later", func(t *testing.T) {
		r := setup(t)
		// The backup's venue restarts too, into the same new stream,
		// within the backup's session: its copy of record 3 equals the
		// one delivered, and it is taken again, without a rebuild.
		r.offerAt(Backup, 2011, 1, 5, later(0), newPx)
		r.expect("2011:4", "2011:5")
		if held := r.a.chans.get(2011).held; held != 0 {
			t.Fatalf("%d records held", held)
		}
		r.offerAt(Primary, 2011, 4, 6, later(0), newPx)
		r.expect("2011:6")
		converged(t, r, 6)
		if c := r.channel(2011); c.Rebuilds != 1 {
			t.Fatalf("channel %+v: want the renumbering's rebuild alone", c)
		}
	})
}

// TestSZSEOlderNumberingDuringRebuild: a venue server numbers the channel
// again while the channel is being rebuilt from ApplSeqNum 1 (nothing
// delivered to compare a copy with, no record below next to show it),
// the other still streaming the old numbering; both sources are taken.
// A record at or after next stamped well before a record delivered is of
// an older numbering: its source is left on it, and if records of both
// numberings were delivered since the rebuild began, the channel is
// rebuilt again, from the source streaming the later one. Before, the old
// numbering's records were delivered after the new one's (found by
// TestSZSEArbiterAgainstModel).
func TestSZSEOlderNumberingDuringRebuild(t *testing.T) {
	const day = 20261204
	stamp := func(hms int64) func(int64) szse.Timestamp {
		return func(int64) szse.Timestamp { return szse.Timestamp(day*1_000_000_000 + hms) }
	}
	early, later := stamp(93000000), stamp(100500000)
	const oldPx, newPx = 100000, 101000
	oldStream := &staggerStream{px: oldPx, have: 22, at: early}
	// rebuilding returns a rig whose channel 2011 delivered 1..20 of the
	// old numbering, then lost 21 on both sources: stale, rebuilding
	// from 1, nothing delivered yet, when both sources log in again.
	rebuilding := func(t *testing.T) *arbRig {
		r := newArbRig(t, nil)
		r.offerAt(Primary, 2011, 1, 20, early(0), oldPx)
		r.offerAt(Backup, 2011, 1, 20, early(0), oldPx)
		r.offerAt(Primary, 2011, 22, 22, early(0), oldPx)
		r.expect(seqs(2011, 1, 20)...)
		for range 40 {
			r.refuse(50 * time.Millisecond)
			if c := r.channel(2011); c.Stale {
				break
			}
		}
		if c := r.channel(2011); !c.Stale || c.Next != 1 {
			t.Fatalf("channel %+v: want it rebuilding", c)
		}
		r.expect("reset 2011")
		// Both log in again (the primary's venue restarted): nothing
		// delivered to verify them against.
		r.relogin()
		return r
	}
	t.Run("the new numbering first", func(t *testing.T) {
		r := rebuilding(t)
		// The primary's venue numbers the channel again: its new
		// records 1..3 are delivered (nothing to compare them with).
		// The backup's old records after them are not.
		r.offerAt(Primary, 2011, 1, 3, later(0), newPx)
		r.offerAt(Backup, 2011, 4, 6, early(0), oldPx)
		r.serve(40, [2]*staggerStream{Primary: {px: newPx, have: 3, at: later}, Backup: oldStream})
		for _, got := range r.sink.take() {
			if got != "2011:1" && got != "2011:2" && got != "2011:3" && got != "reset 2011" {
				t.Fatalf("delivered %s of the old numbering after the new one's 1..3", got)
			}
		}
		for seq := int64(1); seq <= 3; seq++ {
			if px := r.sink.px[[2]int64{2011, seq}]; px != newPx {
				t.Fatalf("record %d delivered at price %d", seq, px)
			}
		}
	})
	t.Run("held before", func(t *testing.T) {
		// The backup's old record 5 waits in the window; its session
		// ends and the next one streams the new numbering (its venue
		// restarted), whose 1..4 are delivered: the old 5 is not.
		r := rebuilding(t)
		r.offerAt(Backup, 2011, 5, 5, early(0), oldPx)
		r.a.SourceDown(Backup)
		r.a.SourceLive(Backup)
		r.offerAt(Backup, 2011, 1, 4, later(0), newPx)
		r.expect(seqs(2011, 1, 4)...)
		r.offerAt(Backup, 2011, 5, 5, later(0), newPx)
		r.expect("2011:5")
		if px := r.sink.px[[2]int64{2011, 5}]; px != newPx {
			t.Fatalf("record 5 delivered at price %d: the old stream's", px)
		}
	})
	t.Run("both numberings delivered", func(t *testing.T) {
		// The backup's old record 1 is delivered first: the primary,
		// taken with nothing delivered, is verified from then on. Its
		// records 2..3 wait until its copy of 1 is compared: stamped
		// after it, of a later numbering, it rebuilds the channel from
		// the primary, the backup left on the old numbering. Before,
		// 2..3 were delivered after the old 1, and the mix was rebuilt
		// only when a later record of the backup showed it, after the
		// channel could have been declared live (found by
		// TestSZSEArbiterAgainstModel with MODEL_RENUMBER=1).
		r := rebuilding(t)
		r.offerAt(Backup, 2011, 1, 1, early(0), oldPx)
		r.offerAt(Primary, 2011, 2, 3, later(0), newPx)
		r.expect("2011:1")
		newStream := &staggerStream{px: newPx, have: 5, at: later}
		r.serve(40, [2]*staggerStream{Primary: newStream, Backup: oldStream})
		if c := r.channel(2011); c.Rebuilds != 2 {
			t.Fatalf("channel %+v: want it rebuilt again", c)
		}
		r.offerAt(Primary, 2011, 6, 18, later(0), newPx)
		newStream.have = 18
		r.serve(40, [2]*staggerStream{Primary: newStream, Backup: oldStream})
		r.offerAt(Primary, 2011, 19, 22, later(0), newPx)
		r.sink.take()
		if c := r.channel(2011); c.Stale || c.Next != 23 {
			t.Fatalf("channel %+v: want the new stream through 22, valid", c)
		}
		for seq := int64(1); seq <= 22; seq++ {
			if px := r.sink.px[[2]int64{2011, seq}]; px != newPx {
				t.Fatalf("record %d delivered at price %d: the old stream's", seq, px)
			}
		}
	})
}

// TestSZSEVerifyAskedAgain: a source not verified on a quiet channel whose
// ask for its copy of the last record delivered goes unanswered is asked
// again (after twice the heartbeat timeout), not left unverified for the
// rest of its session with the channel frozen (found by
// TestSZSEArbiterAgainstModel); once its copy was compared it is not
// asked again.
func TestSZSEVerifyAskedAgain(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 20)
	r.mustOffer(Backup, 2011, 1, 20)
	r.expect(seqs(2011, 1, 20)...)
	r.a.SourceDown(Backup)
	r.a.SourceLive(Backup)
	want := szseAsk{src: Backup, channel: 2011, from: 20, to: 20}
	var asks []szseAsk
	for range 7 {
		asks = append(asks, r.check(time.Second)...)
	}
	if !slices.Equal(asks, []szseAsk{want, want}) {
		t.Fatalf("asks %v; want %v twice, the first unanswered", asks, want)
	}
	r.answer(Backup, 2011, 20, 20, szse.ResendStatusDone)
	r.mustOffer(Backup, 2011, 20, 20)
	asks = nil
	for range 10 {
		asks = append(asks, r.check(time.Second)...)
	}
	if len(asks) != 0 {
		t.Fatalf("asked %v after the copy was compared", asks)
	}
	r.mustOffer(Backup, 2011, 21, 21)
	r.expect("2011:21")
}

// TestSZSELaggingSourceNotOld: a source whose live stream lags the other
// by more than a second of the channel's records sends copies of records
// delivered, stamped well before the last one delivered: duplicates of
// the channel's numbering, not an older numbering. The channel is not
// rebuilt. Before, any such copy left its source on an old numbering
// (its records dropped until its copy of the last record delivered
// came), and one that had delivered records since the last rebuild (it
// filled in for the other) had the channel rebuilt, stale.
func TestSZSELaggingSourceNotOld(t *testing.T) {
	const day = 20261204
	r := newArbRig(t, nil)
	offer := func(src int, from, to int64) {
		t.Helper()
		for seq := from; seq <= to; seq++ {
			// 500 ms apart from 09:30:00: 3 records span over a second.
			r.offerAt(src, 2011, seq, seq, szse.Timestamp(day*1_000_000_000+93000000+seq*500), 100000)
		}
	}
	offer(Primary, 1, 10)
	offer(Backup, 1, 14) // the backup fills in for the primary
	r.expect(seqs(2011, 1, 14)...)
	offer(Primary, 11, 16) // catching up: 11 is stamped 1.5 s before 14
	r.expect("2011:15", "2011:16")
	if c := r.channel(2011); c.Rebuilds != 0 || c.Stale {
		t.Fatalf("channel %+v: rebuilt for a lagging source's copies", c)
	}
}

// TestSZSETwoNumberingsOnFirstRecords: on a channel nothing was delivered
// on yet (the process started after one venue server numbered the channel
// again), both sources are taken, each on its own numbering. The
// backup's new stream's live record 4 waits ahead of the primary's old
// records 1..3; once they are delivered the backup is verified against
// them before its records are: its copy of record 3, stamped after it,
// rebuilds the channel from the backup, the primary left on the old
// numbering, and the books hold one numbering whenever they are served as
// valid. Before, the backup's 4..6 were delivered after the old 1..3,
// the channel valid, and nothing showed it while the primary's live
// records were of the same time as the backup's.
func TestSZSETwoNumberingsOnFirstRecords(t *testing.T) {
	const day = 20261204
	stamp := func(hms int64) func(int64) szse.Timestamp {
		return func(int64) szse.Timestamp { return szse.Timestamp(day*1_000_000_000 + hms) }
	}
	early, later := stamp(93000000), stamp(100500000)
	const oldPx, newPx = 100000, 101000
	// The old numbering: 1..20 stamped early, its live records now.
	oldStream := &staggerStream{px: oldPx, have: 22, at: func(seq int64) szse.Timestamp {
		if seq <= 20 {
			return early(seq)
		}
		return later(seq)
	}}
	newStream := &staggerStream{px: newPx, have: 6, at: later}
	// oneNumbering fails unless the records delivered since the last reset
	// are of one numbering, or the channel is stale.
	oneNumbering := func(t *testing.T, r *arbRig) {
		t.Helper()
		c := r.channel(2011)
		if c.Stale {
			return
		}
		px := r.sink.px[[2]int64{2011, 1}]
		for seq := int64(2); seq < int64(c.Next); seq++ {
			if got := r.sink.px[[2]int64{2011, seq}]; got != px {
				t.Fatalf("channel %+v served as valid: record 1 at price %d, record %d at %d", c, px, seq, got)
			}
		}
	}
	r := newArbRig(t, nil)
	r.offerAt(Backup, 2011, 4, 4, later(0), newPx)
	r.offerAt(Primary, 2011, 1, 3, early(0), oldPx)
	r.offerAt(Backup, 2011, 5, 6, later(0), newPx)
	oneNumbering(t, r)
	for range 40 {
		r.serve(1, [2]*staggerStream{Primary: oldStream, Backup: newStream})
		oneNumbering(t, r)
	}
	// The backup's stream goes on: the channel converges to it.
	newStream.have = 8
	r.offerAt(Backup, 2011, 7, 8, later(0), newPx)
	for range 40 {
		r.serve(1, [2]*staggerStream{Primary: oldStream, Backup: newStream})
		oneNumbering(t, r)
	}
	r.sink.take()
	c := r.channel(2011)
	if c.Stale || c.Next != 9 || c.Rebuilds != 1 {
		t.Fatalf("channel %+v: want the backup's new stream through 8, valid, after one rebuild", c)
	}
	for seq := int64(1); seq <= 8; seq++ {
		if px := r.sink.px[[2]int64{2011, seq}]; px != newPx {
			t.Fatalf("record %d delivered at price %d: the old stream's", seq, px)
		}
	}
}

// TestSZSEHeldCopyVerifies: a source not verified on a channel (here the
// backup, whose copy of the channel's first record came second) whose
// stream leads the other's has its records held; its copy held at next
// is compared with the other source's record delivered in its place, as
// a copy that comes after it would be. The same record verifies it: what
// it holds beyond is delivered at once, not after the other source brings
// it or a ReTransmit asked of it answers. A copy stamped well before the
// record delivered leaves it on the older numbering: its records are
// dropped, nothing rebuilt.
func TestSZSEHeldCopyVerifies(t *testing.T) {
	early := renumberEarly
	later := szse.Timestamp(renumberDay*1_000_000_000 + 100500000)
	t.Run("the same stream", func(t *testing.T) {
		r := newArbRig(t, nil)
		r.mustOffer(Primary, 2011, 1, 1)
		r.expect("2011:1")
		r.mustOffer(Backup, 2011, 2, 5) // waits: the backup is not verified
		r.expect()
		r.mustOffer(Primary, 2011, 2, 2)
		r.expect(seqs(2011, 2, 5)...)
		if c := r.channel(2011); c.Next != 6 || c.Rebuilds != 0 || c.Rerequests != 0 {
			t.Fatalf("channel %+v", c)
		}
		r.mustOffer(Backup, 2011, 6, 6)
		r.expect("2011:6")
	})
	t.Run("an older numbering", func(t *testing.T) {
		// The backup's records came first, held while nothing was
		// delivered to tell them from the primary's.
		r := newArbRig(t, nil)
		r.offerAt(Backup, 2011, 2, 5, early, 100000)
		r.offerAt(Primary, 2011, 1, 2, later, 101000)
		r.expect("2011:1", "2011:2")
		if ch := r.a.chans.get(2011); !ch.src[Backup].old || ch.held != 0 {
			t.Fatalf("backup old %v, %d held: want it left on the old numbering, nothing held", ch.src[Backup].old, ch.held)
		}
		r.offerAt(Primary, 2011, 3, 3, later, 101000)
		r.expect("2011:3")
		if c := r.channel(2011); c.Rebuilds != 0 || c.Stale {
			t.Fatalf("channel %+v", c)
		}
	})
}

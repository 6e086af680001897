package feed

import (
	"testing"
	"time"

	"sgw/feed/szse"
)

// renumberDay and renumberEarly are the trading day and the stamp of the
// renumbering tests' first records.
const (
	renumberDay                  = 20261204
	renumberEarly szse.Timestamp = renumberDay*1_000_000_000 + 93000000
)

// deliveredFromBoth returns a rig whose channel 2011 has had records 1..20
// (stamped renumberEarly, priced 100000) delivered from both sources.
func deliveredFromBoth(t *testing.T) *arbRig {
	t.Helper()
	r := newArbRig(t, nil)
	r.offerAt(Primary, 2011, 1, 20, renumberEarly, 100000)
	r.offerAt(Backup, 2011, 1, 20, renumberEarly, 100000)
	r.expect(seqs(2011, 1, 20)...)
	return r
}

// offerAt hands the arbiter records from..to of channel ch from src,
// orders stamped at (TransactTime) with a price of px.
func (r *arbRig) offerAt(src int, ch uint16, from, to int64, at szse.Timestamp, px int64) {
	r.t.Helper()
	for seq := from; seq <= to; seq++ {
		frame := szse.AppendOrder(nil, &szse.Order{ChannelNo: ch, ApplSeqNum: seq, Price: szse.Price4(px), OrderQty: 10000,
			Side: szse.SideBuy, OrdType: szse.OrdTypeLimit, TransactTime: at})
		if _, err := szse.Decode(frame, &r.m); err != nil {
			r.t.Fatal(err)
		}
		if err := r.a.Offer(src, &r.m, frame, r.now.UnixNano()); err != nil {
			r.t.Fatalf("offer %d:%d from %d: %v", ch, seq, src, err)
		}
	}
}

// TestSZSERenumberedSameDay: the venue numbers a channel from ApplSeqNum 1
// again on the same day (its MDGW restarted without its records, as the
// simulator does when restarted): both sources log in again and send
// records 1, 2, ... stamped after every record delivered. The channel is
// rebuilt from them: its books cleared, the new records delivered once,
// in order. Before, they were dropped as duplicates up to the old last
// and the later ones applied to the old books, served as valid (and
// /readyz ready).
func TestSZSERenumberedSameDay(t *testing.T) {
	early := renumberEarly
	r := deliveredFromBoth(t)

	// A copy of what was delivered from a source that logged in again
	// behind, stamped no later: duplicates, nothing more.
	r.a.SourceDown(Backup)
	r.a.SourceLive(Backup)
	r.offerAt(Backup, 2011, 5, 6, early, 100000)
	r.expect()

	r.relogin()
	later := szse.Timestamp(renumberDay*1_000_000_000 + 100500000)
	r.offerAt(Primary, 2011, 1, 3, later, 101000)
	r.offerAt(Backup, 2011, 1, 3, later, 101000)
	r.expect(append([]string{"reset 2011", "2011:1", "live 2011"}, seqs(2011, 2, 3)...)...)
	if c := r.channel(2011); c.Stale || c.Next != 4 || c.Rebuilds != 1 {
		t.Fatalf("after the renumbering: %+v", c)
	}
}

// TestSZSELoginVerified: a source that logs in after records were
// delivered has none of its records delivered until its copy of the last
// record delivered (asked for with the ReTransmit, which starts there)
// has been compared with it. A venue restarted without its records,
// whose new stream is already as long as what was delivered when the
// source logs in live, sends nothing below next and nothing stamped late:
// its record at next waits, and its differing copy of next-1 rebuilds the
// channel. Before, the new stream's records from next on were applied to
// the old books, served as valid. A source that streams the numbering
// delivered is taken once its copy matches; a copy of another source
// delivered meanwhile takes the waiting one's place.
func TestSZSELoginVerified(t *testing.T) {
	early := renumberEarly
	setup := func(t *testing.T) *arbRig {
		r := deliveredFromBoth(t)
		r.a.SourceDown(Primary)
		r.a.SourceLive(Primary)
		return r
	}
	t.Run("another stream", func(t *testing.T) {
		r := setup(t)
		r.a.SourceDown(Backup)
		r.offerAt(Primary, 2011, 21, 21, early, 101000)
		r.expect()
		asks := r.nextAsks(50 * time.Millisecond)
		if len(asks) != 1 || asks[0].src != Primary || asks[0].from != 20 || asks[0].to != 21 {
			t.Fatalf("asks %v; want 20..21 of the primary", asks)
		}
		r.answer(Primary, 2011, 20, 21, szse.ResendStatusDone)
		r.offerAt(Primary, 2011, 20, 21, early, 101000)
		r.expect("reset 2011")
		if c := r.channel(2011); !c.Stale || c.Next != 1 || c.Rebuilds != 1 {
			t.Fatalf("after a differing copy: %+v", c)
		}
	})
	t.Run("the same stream", func(t *testing.T) {
		r := setup(t)
		r.a.SourceDown(Backup)
		r.offerAt(Primary, 2011, 21, 22, early, 100000)
		r.expect()
		r.answer(Primary, 2011, 20, 20, szse.ResendStatusDone)
		r.offerAt(Primary, 2011, 20, 20, early, 100000)
		r.expect(seqs(2011, 21, 22)...)
		r.offerAt(Primary, 2011, 23, 23, early, 100000)
		r.expect("2011:23")
		if c := r.channel(2011); c.Stale || c.Rebuilds != 0 || c.Next != 24 {
			t.Fatalf("after a matching copy: %+v", c)
		}
	})
	t.Run("the other source delivers meanwhile", func(t *testing.T) {
		r := setup(t)
		r.offerAt(Primary, 2011, 21, 22, early, 100000)
		r.expect()
		r.offerAt(Backup, 2011, 21, 23, early, 100000)
		r.expect(seqs(2011, 21, 23)...)
		if held := r.a.chans.get(2011).held; held != 0 {
			t.Fatalf("%d records still held", held)
		}
		r.offerAt(Primary, 2011, 23, 23, early, 100000) // its copy of the last delivered
		r.offerAt(Primary, 2011, 24, 24, early, 100000)
		r.expect("2011:24")
	})
	t.Run("the other source's copies behind a gap", func(t *testing.T) {
		// The unverified primary's copies wait in the window ahead of a
		// gap; the backup's of the same records, which come after, take
		// their places, so the gap filled delivers them all. Before,
		// they were dropped as duplicates and delivery stopped at the
		// primary's first copy until another ReTransmit.
		r := setup(t)
		r.offerAt(Primary, 2011, 22, 23, early, 100000)
		r.offerAt(Backup, 2011, 22, 23, early, 100000)
		r.expect()
		r.answer(Backup, 2011, 21, 21, szse.ResendStatusDone) // the gap asked of the backup
		r.offerAt(Backup, 2011, 21, 21, early, 100000)
		r.expect(seqs(2011, 21, 23)...)
		if held := r.a.chans.get(2011).held; held != 0 {
			t.Fatalf("%d records still held", held)
		}
	})
}

// TestSZSEUnverifiedHeldDroppedAtSourceDown: records that a source not
// verified yet (szseStream.verify) left in the window when its session
// ended are dropped, not delivered once the gap before them fills. Before,
// the session's end cleared the flag with the rest of the stream, and the
// other source's record at next drained them into the old books: a new
// stream's records (a venue restarted without its records) served as
// valid.
func TestSZSEUnverifiedHeldDroppedAtSourceDown(t *testing.T) {
	early := renumberEarly
	r := deliveredFromBoth(t)
	r.a.SourceDown(Primary)
	r.a.SourceLive(Primary)
	r.offerAt(Primary, 2011, 22, 23, early, 200000) // another stream's, not verified
	r.expect()
	r.a.SourceDown(Primary)
	r.offerAt(Backup, 2011, 21, 21, early, 100000)
	r.expect("2011:21")
	if held := r.a.chans.get(2011).held; held != 0 {
		t.Fatalf("%d records still held", held)
	}
	r.offerAt(Backup, 2011, 22, 23, early, 100000)
	r.expect(seqs(2011, 22, 23)...)
}

// TestSZSEVerifiedAskedPastUnverifiedHeld: a gap that a verified source is
// asked to fill is asked for through the records a source not verified
// yet holds beyond it (drain stops at those), in one ReTransmit. Before,
// the range asked ended at the first record held, whoever held it: the
// verified source was asked one record per ReTransmit through the other's
// copies.
func TestSZSEVerifiedAskedPastUnverifiedHeld(t *testing.T) {
	early := renumberEarly
	r := deliveredFromBoth(t)
	r.a.SourceDown(Backup)
	r.a.SourceLive(Backup)
	r.offerAt(Backup, 2011, 21, 30, early, 100000)  // held: not verified yet
	r.offerAt(Primary, 2011, 31, 31, early, 100000) // the primary missed 21..30
	r.expect()
	asks := r.nextAsks(50 * time.Millisecond)
	if len(asks) != 1 || asks[0].src != Primary || asks[0].from != 21 || asks[0].to != 30 {
		t.Fatalf("asks %v; want 21..30 of the primary", asks)
	}
	r.answer(Primary, 2011, 21, 30, szse.ResendStatusDone)
	r.offerAt(Primary, 2011, 21, 30, early, 100000)
	r.expect(seqs(2011, 21, 31)...)
	if held := r.a.chans.get(2011).held; held != 0 {
		t.Fatalf("%d records still held", held)
	}
}

// TestSZSEQuietChannelVerified: sources that log in while a channel with
// records delivered is quiet (ChannelHeartbeats only) are each asked once
// for their copy of the last record delivered, which verifies them; their
// snapshots are delivered from then on. Before, nothing asked for it until
// a record opened a gap, and every snapshot of both sources was dropped
// as not aligned.
func TestSZSEQuietChannelVerified(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 20)
	r.mustOffer(Backup, 2011, 1, 20)
	r.expect(seqs(2011, 1, 20)...)
	r.a.SourceDown(Primary)
	r.a.SourceDown(Backup)
	r.a.SourceLive(Primary)
	r.a.SourceLive(Backup)
	r.heartbeat(Primary, 2011, 20)
	r.heartbeat(Backup, 2011, 20)
	r.snapshot(Primary)
	r.expect()
	var asks []szseAsk
	for range 4 {
		asks = append(asks, r.check(time.Second)...)
	}
	if len(asks) != 2 || asks[0] != (szseAsk{src: Primary, channel: 2011, from: 20, to: 20}) ||
		asks[1] != (szseAsk{src: Backup, channel: 2011, from: 20, to: 20}) {
		t.Fatalf("asks %v; want 20..20 of each source, once", asks)
	}
	for _, src := range []int{Primary, Backup} {
		r.answer(src, 2011, 20, 20, szse.ResendStatusDone)
		r.mustOffer(src, 2011, 20, 20)
	}
	r.snapshot(Primary)
	r.snapshot(Backup)
	r.expect("snapshot 1011", "snapshot 1011")
	r.mustOffer(Backup, 2011, 21, 21)
	r.expect("2011:21")
}

package feed

import (
	"strings"
	"testing"
	"time"

	"sgw/feed/szse"
)

// datedRecord is record(ch, seq) dated day (yyyymmdd; TransactTime
// 09:30:00.000 of it), as every real record is.
func datedRecord(ch uint16, seq, day int64) []byte {
	at := szse.Timestamp(day*1_000_000_000 + 93000000)
	if seq%3 == 0 {
		return szse.AppendTrade(nil, &szse.Trade{ChannelNo: ch, ApplSeqNum: seq, BidApplSeqNum: seq - 1, OfferApplSeqNum: seq - 2,
			LastPx: 100000, LastQty: 10000, ExecType: szse.ExecTypeTrade, TransactTime: at})
	}
	return szse.AppendOrder(nil, &szse.Order{ChannelNo: ch, ApplSeqNum: seq, Price: 100000, OrderQty: 10000,
		Side: szse.SideBuy, OrdType: szse.OrdTypeLimit, TransactTime: at})
}

// offerDay hands the arbiter records from..to of channel ch from src,
// dated day.
func (r *arbRig) offerDay(src int, ch uint16, from, to, day int64) *sourceError {
	r.t.Helper()
	for seq := from; seq <= to; seq++ {
		frame := datedRecord(ch, seq, day)
		if _, err := szse.Decode(frame, &r.m); err != nil {
			r.t.Fatal(err)
		}
		if err := r.a.Offer(src, &r.m, frame, r.now.UnixNano()); err != nil {
			return err
		}
	}
	return nil
}

func (r *arbRig) mustOfferDay(src int, ch uint16, from, to, day int64) {
	r.t.Helper()
	if err := r.offerDay(src, ch, from, to, day); err != nil {
		r.t.Fatalf("offer %d:%d-%d of %d from %d: %v", ch, from, to, day, src, err)
	}
}

// relogin ends both sources' sessions and starts new ones, as at the
// start of a trading day.
func (r *arbRig) relogin() {
	for _, src := range []int{Primary, Backup} {
		r.a.SourceDown(src)
		r.a.SourceLive(src)
	}
}

// TestSZSENewTradingDay: the exchange numbers each channel from
// ApplSeqNum 1 every day. The next day's records (TransactTime) rebuild
// the channel: its books cleared, the new day delivered from 1, in order,
// once, and the channel live again; before, records up to the old day's
// last were dropped as duplicates and the later ones applied to the old
// day's books.
func TestSZSENewTradingDay(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOfferDay(Primary, 2011, 1, 10, 20261203)
	r.mustOfferDay(Backup, 2011, 1, 10, 20261203)
	r.heartbeat(Primary, 2011, 10)
	r.expect(seqs(2011, 1, 10)...)

	r.relogin()
	r.heartbeat(Primary, 2011, 0)
	r.heartbeat(Backup, 2011, 0)
	r.mustOfferDay(Primary, 2011, 1, 12, 20261204)
	r.mustOfferDay(Backup, 2011, 1, 12, 20261204)
	r.check(0)
	r.expect(append([]string{"reset 2011", "2011:1", "live 2011"}, seqs(2011, 2, 12)...)...)
	if c := r.channel(2011); c.Stale || c.Next != 13 || c.Rebuilds != 1 {
		t.Fatalf("after the new day: %+v", c)
	}
}

// TestSZSENewTradingDayMidStream: the new day's first record to arrive is
// not its first (the source logged in late): the channel is stale, its
// books cleared, until ReTransmit has brought the records before it.
func TestSZSENewTradingDayMidStream(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOfferDay(Primary, 2011, 1, 5, 20261203)
	r.expect(seqs(2011, 1, 5)...)
	r.relogin()
	r.mustOfferDay(Primary, 2011, 4, 6, 20261204)
	r.expect("reset 2011")
	if c := r.channel(2011); !c.Stale {
		t.Fatalf("the new day's books are served before its records 1-3: %+v", c)
	}
	r.check(0)                              // the gap is seen
	asks := r.check(200 * time.Millisecond) // past gap_wait: the backup, logged in, may bring it
	if len(asks) != 1 || asks[0].from != 1 || asks[0].to != 3 {
		t.Fatalf("asked %+v, want 1-3", asks)
	}
	r.answer(asks[0].src, 2011, 1, 3, szse.ResendStatusDone)
	if err := r.offerDay(asks[0].src, 2011, 1, 3, 20261204); err != nil {
		t.Fatal(err)
	}
	r.expect(append(seqs(2011, 1, 6), "live 2011")...)
}

// TestSZSEOtherDayRefused: a source on another day than the channel's
// while the other source streams it is refused (and logs in again): an
// earlier day always, a later one while the other source is on the
// channel's day. Nothing of it is delivered.
func TestSZSEOtherDayRefused(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOfferDay(Primary, 2011, 1, 5, 20261204)
	r.mustOfferDay(Backup, 2011, 1, 5, 20261204)
	r.expect(seqs(2011, 1, 5)...)
	for _, day := range []int64{20261203, 20261205} {
		err := r.offerDay(Backup, 2011, 6, 6, day)
		if err == nil || err.reason != "session_mismatch" || !strings.Contains(err.Error(), "a record of") {
			t.Fatalf("a record of %d: %v, want session_mismatch", day, err)
		}
	}
	// A date weeks ahead is malformed, whoever streams: it would make
	// every record of the true day look old.
	r.a.SourceDown(Backup)
	if err := r.offerDay(Primary, 2011, 6, 6, 20270101); err == nil || err.reason != "malformed" {
		t.Fatalf("a record dated weeks ahead: %v, want malformed", err)
	}
	r.a.SourceLive(Backup)
	r.mustOfferDay(Primary, 2011, 6, 7, 20261204)
	r.expect(seqs(2011, 6, 7)...)
	if c := r.channel(2011); c.Stale || c.Rebuilds != 0 {
		t.Fatalf("the channel was disturbed: %+v", c)
	}
}

// TestSZSEOldDayHeartbeatIgnored: once the channel has begun a new day, a
// source's ChannelHeartbeat counts only after it has sent a record of
// that day: the old day's ApplLastSeqNum from a source that logged in on
// a relay still on the old day opens no gap (before, it made the channel
// ask for records the new day does not have, lose them and rebuild, over
// and over).
func TestSZSEOldDayHeartbeatIgnored(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOfferDay(Primary, 2011, 1, 10, 20261203)
	r.relogin()
	r.mustOfferDay(Primary, 2011, 1, 3, 20261204)
	r.sink.take()
	r.heartbeat(Backup, 2011, 1000) // the old day's last
	if c := r.channel(2011); c.Last != 3 || c.Stale {
		t.Fatalf("an old day's heartbeat moved the channel: %+v", c)
	}
	r.mustOfferDay(Backup, 2011, 1, 3, 20261204) // now on the new day
	r.heartbeat(Backup, 2011, 4)
	if c := r.channel(2011); c.Last != 4 {
		t.Fatalf("the heartbeat of a source on the new day did not count: %+v", c)
	}
}

// TestSZSENewDayHeartbeatInSession: a session that runs into the next
// trading day may send the new day's ChannelHeartbeat (ApplLastSeqNum 0,
// the numbering starting again) before the day's first record shows the
// day. It changes nothing, and the day's records then begin the new day;
// it is no stream going backwards, on the first day change and on later
// ones. Before, the source was reset as "backwards".
func TestSZSENewDayHeartbeatInSession(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOfferDay(Primary, 2011, 1, 10, 20261203)
	r.heartbeat(Primary, 2011, 10)
	r.expect(seqs(2011, 1, 10)...)
	for _, day := range []int64{20261204, 20261207} {
		r.heartbeat(Primary, 2011, 0)
		r.mustOfferDay(Primary, 2011, 1, 3, day)
		r.expect("reset 2011", "2011:1", "live 2011", "2011:2", "2011:3")
		r.mustOfferDay(Primary, 2011, 4, 10, day)
		r.heartbeat(Primary, 2011, 10)
		r.expect(seqs(2011, 4, 10)...)
	}
}

package feed

import (
	"testing"

	"sgw/feed/szse"
)

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
	const day = 20261204
	r := newArbRig(t, nil)
	early := szse.Timestamp(day*1_000_000_000 + 93000000)
	r.offerAt(Primary, 2011, 1, 20, early, 100000)
	r.offerAt(Backup, 2011, 1, 20, early, 100000)
	r.expect(seqs(2011, 1, 20)...)

	// A copy of what was delivered from a source that logged in again
	// behind, stamped no later: duplicates, nothing more.
	r.a.SourceDown(Backup)
	r.a.SourceLive(Backup)
	r.offerAt(Backup, 2011, 5, 6, early, 100000)
	r.expect()

	r.relogin()
	later := szse.Timestamp(day*1_000_000_000 + 100500000)
	r.offerAt(Primary, 2011, 1, 3, later, 101000)
	r.offerAt(Backup, 2011, 1, 3, later, 101000)
	r.expect(append([]string{"reset 2011", "2011:1", "live 2011"}, seqs(2011, 2, 3)...)...)
	if c := r.channel(2011); c.Stale || c.Next != 4 || c.Rebuilds != 1 {
		t.Fatalf("after the renumbering: %+v", c)
	}
}

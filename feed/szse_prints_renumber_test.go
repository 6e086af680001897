package feed

import (
	"testing"
	"time"

	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// printRecordAt is printRecord stamped at (TransactTime).
func printRecordAt(ch uint16, seq int64, at szse.Timestamp) []byte {
	var id [8]byte
	copy(id[:], "000001  ")
	if seq%3 == 0 {
		return szse.AppendTrade(nil, &szse.Trade{ChannelNo: ch, ApplSeqNum: seq, BidApplSeqNum: seq - 1, OfferApplSeqNum: seq - 2,
			SecurityID: id, LastPx: 100000, LastQty: szse.Qty2(seq / 3 * 1000), ExecType: szse.ExecTypeTrade, TransactTime: at})
	}
	return szse.AppendOrder(nil, &szse.Order{ChannelNo: ch, ApplSeqNum: seq, SecurityID: id, Price: 100000, OrderQty: 10000,
		Side: szse.SideBuy, OrdType: szse.OrdTypeLimit, TransactTime: at})
}

// TestSZSERebuildFromNewNumberingPrints: records 1..3 of channel 2011 (a
// print of 10 shares at 3) are delivered, 4..7 are lost on both sources,
// and the channel is rebuilt from 1; meanwhile the venue numbered the
// channel again (its MDGW restarted without its records), and the rebuild
// delivers the new numbering's 1..10, stamped after every record delivered
// before (nothing delivered to compare with shows the new numbering). None
// of its records was delivered before: its prints of 3, 6 and 9 are
// published. Before, the print of 3 was taken for the old numbering's 3,
// published before, and never published.
func TestSZSERebuildFromNewNumberingPrints(t *testing.T) {
	early := renumberEarly
	later := szse.Timestamp(renumberDay*1_000_000_000 + 100500000)
	r := newArbRig(t, nil)
	in := refdata.Instrument{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 100000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	books := &bookSink{b: orderbook.NewBook(in)}
	r.a.sink = NewSZSEDecoder(szseSymbol{}, books, nil)
	offer := func(src int, from, to int64, at szse.Timestamp) {
		t.Helper()
		for seq := from; seq <= to; seq++ {
			frame := printRecordAt(2011, seq, at)
			if _, err := szse.Decode(frame, &r.m); err != nil {
				t.Fatal(err)
			}
			if err := r.a.Offer(src, &r.m, frame, r.now.UnixNano()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, src := range []int{Primary, Backup} {
		offer(src, 1, 3, early)
		offer(src, 8, 9, early)
	}
	if got := prints(books.ups); len(got) != 1 || got[0] != 10 {
		t.Fatalf("before the loss: prints %v, want [10]", got)
	}
	before := len(books.ups)
	var rebuild []szseAsk
	for range 20 {
		for _, a := range r.check(300 * time.Millisecond) {
			if a.from == 1 {
				rebuild = append(rebuild, a)
				continue
			}
			r.answer(a.src, a.channel, int64(a.from), int64(a.to), szse.ResendStatusUnavailable)
		}
		if r.channel(2011).Rebuilds > 0 {
			break
		}
	}
	if c := r.channel(2011); c.Rebuilds != 1 || c.Next != 1 {
		t.Fatalf("no rebuild: %+v", c)
	}
	if len(rebuild) == 0 {
		rebuild = r.check(0)
	}
	if len(rebuild) != 1 || rebuild[0].src != Primary || rebuild[0].from != 1 {
		t.Fatalf("rebuild asks %v", rebuild)
	}
	r.answer(Primary, 2011, 1, 10, szse.ResendStatusDone)
	offer(Primary, 1, 10, later)
	if c := r.channel(2011); c.Next != 11 {
		t.Fatalf("after the new numbering's 1..10: %+v", c)
	}
	if got := prints(books.ups[before:]); len(got) != 3 || got[0] != 10 || got[1] != 20 || got[2] != 30 {
		t.Fatalf("prints published by the rebuild: %v, want [10 20 30] (none was delivered before)", got)
	}
}

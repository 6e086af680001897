package feed_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// TestSZSEOwnBestOrderRests: an own-best order (OrdType 'U', 本方最优)
// rests at the best price on its own side when it arrives, as the venue
// rests it, and trades there like a limit order; one whose side is empty
// is cancelled by the venue and never rests. A source streams such orders
// over a real session with the venue's snapshots between them: every
// snapshot agrees with the gateway's books, none is counted as differing,
// and the channel is never rebuilt. Before, an own-best order was not
// rested: the snapshots showed it and the books did not, two in a row
// marked the book stale and the feed rebuilt the channel, again at every
// such order.
func TestSZSEOwnBestOrderRests(t *testing.T) {
	const ch, snapCh = 2013, 1013
	var recs [][]byte
	order := func(sec string, side, ordType byte, px refdata.Price, shares int64) []byte {
		o := szse.Order{ChannelNo: ch, ApplSeqNum: int64(len(recs) + 1), Price: szse.Price4(px), OrderQty: szse.SharesToQty2(shares),
			Side: side, OrdType: ordType, TransactTime: 20261202093000000 + szse.Timestamp(len(recs))}
		_ = szse.PutString(o.SecurityID[:], sec)
		recs = append(recs, szse.AppendOrder(nil, &o))
		return recs[len(recs)-1]
	}
	trade := func(sec string, bid, offer int64, exec byte, px refdata.Price, shares int64) []byte {
		tr := szse.Trade{ChannelNo: ch, ApplSeqNum: int64(len(recs) + 1), BidApplSeqNum: bid, OfferApplSeqNum: offer,
			LastPx: szse.Price4(px), LastQty: szse.SharesToQty2(shares), ExecType: exec, TransactTime: 20261202093000000 + szse.Timestamp(len(recs))}
		_ = szse.PutString(tr.SecurityID[:], sec)
		recs = append(recs, szse.AppendTrade(nil, &tr))
		return recs[len(recs)-1]
	}
	type lv struct {
		px     refdata.Price
		shares int64
		orders int64
	}
	snapshot := func(sec string, ms int, bids, asks []lv) []byte {
		s := szse.Snapshot{OrigTime: szse.Timestamp(20261202093001000 + ms), ChannelNo: snapCh}
		_ = szse.PutString(s.SecurityID[:], sec)
		for i, l := range bids {
			s.Entries = append(s.Entries, szse.MDEntry{MDEntryType: [2]byte{'0', ' '}, MDEntryPx: szse.PriceToPrice6(l.px),
				MDEntrySize: szse.SharesToQty2(l.shares), MDPriceLevel: uint16(i + 1), NumberOfOrders: l.orders})
		}
		for i, l := range asks {
			s.Entries = append(s.Entries, szse.MDEntry{MDEntryType: [2]byte{'1', ' '}, MDEntryPx: szse.PriceToPrice6(l.px),
				MDEntrySize: szse.SharesToQty2(l.shares), MDPriceLevel: uint16(i + 1), NumberOfOrders: l.orders})
		}
		b, err := szse.AppendSnapshot(nil, &s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	stream := szse.AppendChannelHeartbeat(logonAnswer(), &szse.ChannelHeartbeat{ChannelNo: ch})
	add := func(frames ...[]byte) {
		for _, f := range frames {
			stream = append(stream, f...)
		}
	}
	add(
		order("000001", szse.SideSell, szse.OrdTypeLimit, 101000, 300), // 1
		order("000001", szse.SideBuy, szse.OrdTypeLimit, 100000, 200),  // 2
		order("000001", szse.SideBuy, szse.OrdTypeOwnBest, 0, 500),     // 3: rests at the best bid, 10.00
		snapshot("000001", 1, []lv{{100000, 700, 2}}, []lv{{101000, 300, 1}}),
		order("000001", szse.SideSell, szse.OrdTypeLimit, 100000, 300), // 4: takes 2, then 3 in part
		trade("000001", 2, 4, szse.ExecTypeTrade, 100000, 200),         // 5
		trade("000001", 3, 4, szse.ExecTypeTrade, 100000, 100),         // 6
		snapshot("000001", 2, []lv{{100000, 400, 1}}, []lv{{101000, 300, 1}}),
		order("000001", szse.SideSell, szse.OrdTypeOwnBest, 0, 200), // 7: rests at the best offer, 10.10
		order("000002", szse.SideBuy, szse.OrdTypeOwnBest, 0, 100),  // 8: no bid: the venue cancels it
		trade("000002", 8, 0, szse.ExecTypeCancel, 0, 100),          // 9
		snapshot("000001", 3, []lv{{100000, 400, 1}}, []lv{{101000, 500, 2}}),
		snapshot("000002", 3, nil, nil),
		// Last, an order of each instrument: once the books show them,
		// they have applied every snapshot's checks before.
		order("000001", szse.SideBuy, szse.OrdTypeLimit, 99000, 100),   // 10
		order("000002", szse.SideSell, szse.OrdTypeLimit, 200000, 100), // 11
	)
	fake := newSZSESessions(t, map[uint16][][]byte{ch: recs}, func() []byte { return stream })
	r := newSZSERig(t, szseRigOpts{primaryAddr: fake.ln.Addr().String()})

	want := map[string][2][]orderbook.Level{
		"000001": {{{Price: 100000, Qty: 400, Orders: 1}, {Price: 99000, Qty: 100, Orders: 1}}, {{Price: 101000, Qty: 500, Orders: 2}}},
		"000002": {nil, {{Price: 200000, Qty: 100, Orders: 1}}},
	}
	var diff string
	shown := func() bool {
		diff = ""
		for sym, w := range want {
			id, _ := r.books.Lookup(sym + ".SZ")
			var v orderbook.View
			r.books.View(id, 0, &v)
			if !slices.Equal(v.Bids, w[0]) || !slices.Equal(v.Asks, w[1]) || v.State == orderbook.StateStale {
				diff += fmt.Sprintf("%s (%v): bids %v asks %v, want bids %v asks %v; ", sym, v.State, v.Bids, v.Asks, w[0], w[1])
			}
		}
		return diff == ""
	}
	for deadline := time.Now().Add(30 * time.Second); !shown() && r.books.Stats().Mismatch == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("the books never showed the stream: %s", diff)
		}
		time.Sleep(5 * time.Millisecond) // the books apply on their shard goroutines; poll their views
	}
	if st := r.books.Stats(); st.Mismatch != 0 || st.UnknownOrder != 0 || st.BadMessage != 0 || st.DuplicateOrder != 0 {
		t.Fatalf("the books counted errors: %+v (%s)", st, diff)
	}
	if c := r.channel(snapCh); c.Snapshots != 4 {
		t.Fatalf("snapshot channel %d: %+v, want its 4 snapshots delivered", snapCh, c)
	}
	if c := r.channel(ch); c.Rebuilds != 0 || c.Stale || c.Delivered != uint64(len(recs)) {
		t.Fatalf("channel %d: %+v", ch, c)
	}
}

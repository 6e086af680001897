package feed

import (
	"slices"
	"testing"

	"sgw/feed/event"
	"sgw/feed/szse"
	"sgw/orderbook"
)

// recordEvents is an EventSink that keeps what it is given.
type recordEvents struct{ evs []event.Event }

func (r *recordEvents) Apply(ev *event.Event) error { r.evs = append(r.evs, *ev); return nil }

// fakeSymbols maps feed symbols to ids by a table.
type fakeSymbols map[string]orderbook.SymbolID

func (f fakeSymbols) LookupFeed(b []byte) (orderbook.SymbolID, bool) {
	id, ok := f[string(b)]
	return id, ok
}

func szOrder(seq int64, sec string, side, ordType byte, px szse.Price4, shares int64) *szse.Message {
	m := &szse.Message{Type: szse.TypeOrder}
	m.Order = szse.Order{ChannelNo: 2011, ApplSeqNum: seq, Price: px, OrderQty: szse.SharesToQty2(shares), Side: side,
		OrdType: ordType, TransactTime: 20261202093000123}
	copy(m.Order.SecurityID[:], sec+"        ")
	return m
}

func szTrade(seq, bid, offer int64, sec string, exec byte, px szse.Price4, shares int64) *szse.Message {
	m := &szse.Message{Type: szse.TypeTrade}
	m.Trade = szse.Trade{ChannelNo: 2011, ApplSeqNum: seq, BidApplSeqNum: bid, OfferApplSeqNum: offer, LastPx: px,
		LastQty: szse.SharesToQty2(shares), ExecType: exec}
	copy(m.Trade.SecurityID[:], sec+"        ")
	return m
}

// fakeHealth reports every book differing or none, and a mismatch count.
type fakeHealth struct {
	differs    bool
	mismatches uint64
}

func (h *fakeHealth) Differs(orderbook.SymbolID) bool { return h.differs }
func (h *fakeHealth) Stats() orderbook.Stats          { return orderbook.Stats{Mismatch: h.mismatches} }

// TestSZSEDecoder: records become the events the books apply — announced
// limit orders, trades as two executions printed once, cancels as deletes,
// a Rest before a record that does not trade the last announced order —
// and snapshots become level checks; a reset and a live channel clear and
// validate the books the channel carried.
func TestSZSEDecoder(t *testing.T) {
	out := &recordEvents{}
	health := &fakeHealth{}
	d := NewSZSEDecoder(fakeSymbols{"000001": 0, "300750": 1}, out, health)
	const t0 = (9*3600+30*60)*1e9 + 123e6
	steps := []struct {
		m    *szse.Message
		want []event.Event
	}{
		{szOrder(1, "000001", '2', '2', 115000, 300), []event.Event{
			{Kind: event.Add, Symbol: 0, Ref: 1, Side: event.Sell, Price: 115000, Qty: 300, Flags: event.FlagAnnounced, Time: t0}}},
		{szOrder(2, "000001", '1', '2', 115100, 500), []event.Event{
			{Kind: event.Rest, Symbol: 0},
			{Kind: event.Add, Symbol: 0, Ref: 2, Side: event.Buy, Price: 115100, Qty: 500, Flags: event.FlagAnnounced, Time: t0}}},
		{szTrade(3, 2, 1, "000001", 'F', 115000, 300), []event.Event{
			{Kind: event.Execute, Symbol: 0, Ref: 2, Price: 115000, Qty: 300, Flags: event.FlagMayBeAbsent | event.FlagPrint},
			{Kind: event.Execute, Symbol: 0, Ref: 1, Price: 115000, Qty: 300, Flags: event.FlagMayBeAbsent}}},
		{szOrder(4, "999999", '1', '2', 100, 100), []event.Event{{Kind: event.Rest, Symbol: 0}}},
		{szOrder(5, "300750", '1', '1', 0, 100), nil}, // market: not rested
		{szTrade(6, 0, 2, "000001", '4', 0, 200), []event.Event{
			{Kind: event.Rest, Symbol: 1},
			{Kind: event.Reduce, Symbol: 0, Ref: 2, Qty: 200, Flags: event.FlagMayBeAbsent}}},
	}
	for i, s := range steps {
		out.evs = nil
		if err := d.ApplySZSE(s.m, 0); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		for k := range out.evs {
			if out.evs[k].Kind != event.Add { // trades carry no time in this table
				out.evs[k].Time = 0
			}
		}
		if !slices.Equal(out.evs, s.want) {
			t.Fatalf("step %d: events\n %+v\nwant\n %+v", i, out.evs, s.want)
		}
	}
	if st := d.DecodeStats(); st.UnknownSymbol != 1 || st.Ignored != 1 {
		t.Fatalf("stats %+v, want one unknown symbol and one ignored (market) order", st)
	}

	// A snapshot: each bid and offer level checked, an empty rank after
	// the last. A book the books marked stale after snapshots differed
	// asks for its channel's rebuild, once per new difference.
	snap := &szse.Message{Type: szse.TypeSnapshot}
	copy(snap.Snapshot.SecurityID[:], "000001  ")
	snap.Snapshot.Entries = []szse.MDEntry{
		{MDEntryType: [2]byte{'0', ' '}, MDEntryPx: szse.PriceToPrice6(115100), MDEntrySize: szse.SharesToQty2(200), MDPriceLevel: 1},
		{MDEntryType: [2]byte{'2', ' '}, MDEntryPx: szse.PriceToPrice6(115000), MDEntrySize: szse.SharesToQty2(300)},
	}
	out.evs = nil
	if err := d.ApplySZSE(snap, 7); err != nil {
		t.Fatal(err)
	}
	want := []event.Event{
		{Kind: event.Check, Symbol: 0, Recv: 7, Side: event.Buy, Code: 0, Price: 115100, Qty: 200},
		{Kind: event.Check, Symbol: 0, Recv: 7, Side: event.Buy, Code: 1},
		{Kind: event.Check, Symbol: 0, Recv: 7, Side: event.Sell, Code: 0},
		{Kind: event.CheckDone, Symbol: 0, Recv: 7},
	}
	if !slices.Equal(out.evs, want) {
		t.Fatalf("snapshot events\n %+v\nwant\n %+v", out.evs, want)
	}
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested with no book differing: %v", got)
	}
	health.differs, health.mismatches = true, 2
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2011}) {
		t.Fatalf("rebuild requests %v", got)
	}
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested again with no new difference: %v", got)
	}

	out.evs = nil
	if err := d.ResetChannel(2011); err != nil {
		t.Fatal(err)
	}
	health.mismatches = 3
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested while rebuilding: %v", got)
	}
	if err := d.ChannelLive(2011); err != nil {
		t.Fatal(err)
	}
	var kinds []event.Kind
	for _, ev := range out.evs {
		if ev.Kind != event.Check && ev.Kind != event.CheckDone {
			kinds = append(kinds, ev.Kind)
		}
	}
	slices.Sort(kinds)
	if !slices.Equal(kinds, []event.Kind{event.Clear, event.Clear, event.Valid, event.Valid}) {
		t.Fatalf("reset and live: %v, want a clear and a valid for each of the two symbols", kinds)
	}
}

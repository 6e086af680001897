package feed

import (
	"testing"

	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// FuzzSZSEDecodeApply feeds arbitrary bytes, framed as SZSE Binary,
// through the decoder into books: whatever the records say (unknown
// orders, trades of orders that never rested, crossing orders that never
// trade, snapshots of any shape), nothing panics and every book keeps
// its invariants (no level with zero or negative quantity). Seeded with
// a real stream of orders, trades, cancels and a snapshot.
func FuzzSZSEDecodeApply(f *testing.F) {
	syms := []string{"000001", "300750"}
	day := szseDay(f, syms, 2)
	f.Add(day)
	snap := &szse.Message{Type: szse.TypeSnapshot}
	_ = szse.PutString(snap.Snapshot.SecurityID[:], "000001")
	snap.Snapshot.Entries = []szse.MDEntry{
		{MDEntryType: [2]byte{'0', ' '}, MDEntryPx: szse.PriceToPrice6(114900), MDEntrySize: szse.SharesToQty2(100), MDPriceLevel: 1},
		{MDEntryType: [2]byte{'1', ' '}, MDEntryPx: szse.PriceToPrice6(115100), MDEntrySize: szse.SharesToQty2(100), MDPriceLevel: 1},
	}
	if b, err := szse.AppendSnapshot(nil, &snap.Snapshot); err == nil {
		f.Add(append(append([]byte(nil), day...), b...))
	}
	var ins []refdata.Instrument
	for _, s := range syms {
		ins = append(ins, refdata.Instrument{Symbol: s + ".SZ", Board: refdata.BoardMain, PrevClose: 115000})
	}
	e, err := orderbook.New(orderbook.Config{Instruments: ins, Shards: 1})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ap := &bookApplier{}
		for _, in := range ins {
			in := in
			if err := in.Validate(); err != nil {
				t.Fatal(err)
			}
			ap.books = append(ap.books, orderbook.NewBook(in))
		}
		d := NewSZSEDecoder(e, ap, nil)
		var m szse.Message
		for len(data) > 0 {
			n, err := szse.Decode(data, &m)
			if err != nil || n <= 0 {
				return // the session resets the source on a bad frame
			}
			data = data[n:]
			_ = d.ApplySZSE(&m, 0) // an error is an answer, not a failure
			for _, bk := range ap.books {
				for _, side := range []orderbook.Side{orderbook.Bid, orderbook.Ask} {
					for _, l := range bk.Depth(side, 50, nil) {
						if l.Qty <= 0 || l.Orders <= 0 || l.Price <= 0 {
							t.Fatalf("%s level %+v", side, l)
						}
					}
				}
			}
		}
	})
}

package feed

import (
	"slices"
	"testing"

	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// bookHealth is BookHealth over books a bookApplier applies to at once:
// the count of snapshots that differed is the books' own, as the Engine
// sums what its shard writers count.
type bookHealth struct{ ap *bookApplier }

func (h bookHealth) Stale(id orderbook.SymbolID) bool { return h.ap.books[id].Stale() }

func (h bookHealth) Stats() orderbook.Stats {
	var st orderbook.Stats
	for _, b := range h.ap.books {
		st.Mismatch += b.Errors().Mismatch
	}
	return st
}

// szBidSnapshot is a snapshot of sec taken at orig whose only level is a
// bid of shares at px.
func szBidSnapshot(sec string, orig szse.Timestamp, px refdata.Price, shares int64) *szse.Message {
	m := &szse.Message{Type: szse.TypeSnapshot}
	m.Snapshot.OrigTime = orig
	copy(m.Snapshot.SecurityID[:], sec+"        ")
	m.Snapshot.Entries = []szse.MDEntry{{MDEntryType: [2]byte{'0', ' '}, MDEntryPx: szse.PriceToPrice6(px),
		MDEntrySize: szse.SharesToQty2(shares), MDPriceLevel: 1}}
	return m
}

// TestSZSERebuildAfterMismatchInRebuild: a book that snapshots found
// different while its channel was being rebuilt (between ResetChannel
// and ChannelLive: the arbiter delivers aligned snapshots once the
// rebuild caught up during an outage, and tells the channel live only
// when the outage ends) stays stale through ChannelLive, and the feed's
// next RebuildRequests asks for the channel's rebuild. Before, the look
// that saw the difference skipped the channel as being rebuilt, and
// nothing asked again unless another snapshot differed: the book stayed
// stale, for ever if no snapshot of the feed differed again.
func TestSZSERebuildAfterMismatchInRebuild(t *testing.T) {
	in := refdata.Instrument{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 115000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	ap := &bookApplier{books: []*orderbook.Book{orderbook.NewBook(in)}}
	d := NewSZSEDecoder(fakeSymbols{"000001": 0}, ap, bookHealth{ap})
	apply := func(m *szse.Message) {
		t.Helper()
		if err := d.ApplySZSE(m, 0); err != nil {
			t.Fatal(err)
		}
	}
	apply(szOrder(1, "000001", '1', '2', 115000, 100))
	if err := d.ResetChannel(2011); err != nil {
		t.Fatal(err)
	}
	apply(szOrder(1, "000001", '1', '2', 115000, 100))
	apply(szBidSnapshot("000001", 20261202093003000, 115000, 900))
	apply(szOrder(2, "000001", '1', '2', 114900, 100)) // the book moves
	apply(szBidSnapshot("000001", 20261202093006000, 115000, 900))
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested while rebuilding: %v", got)
	}
	if err := d.ChannelLive(2011); err != nil {
		t.Fatal(err)
	}
	if !ap.books[0].Stale() {
		t.Fatal("the book snapshots found different is valid after ChannelLive")
	}
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2011}) {
		t.Fatalf("rebuild requests after ChannelLive %v, want [2011]: the book found different stays stale with no rebuild", got)
	}
}

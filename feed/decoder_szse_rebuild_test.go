package feed

import (
	"slices"
	"testing"

	"sgw/feed/event"
	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// The instruments of the rebuild tests: one main-board share (records
// on channel 2011, szOrder's) and one ChiNext share.
var (
	sz000001 = refdata.Instrument{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 115000}
	sz300750 = refdata.Instrument{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: 2000000}
)

// szseBooks returns a book of each of ins, validated.
func szseBooks(t *testing.T, ins ...refdata.Instrument) []*orderbook.Book {
	t.Helper()
	var books []*orderbook.Book
	for _, in := range ins {
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		books = append(books, orderbook.NewBook(in))
	}
	return books
}

// szseApply returns a func that decodes a message with d, failing the
// test on an error; a channel ch other than 0 is set on the message first.
func szseApply(t *testing.T, d *SZSEDecoder, ch uint16) func(*szse.Message) {
	return func(m *szse.Message) {
		t.Helper()
		if ch != 0 {
			m.Order.ChannelNo, m.Trade.ChannelNo = ch, ch
		}
		if err := d.ApplySZSE(m, 0); err != nil {
			t.Fatal(err)
		}
	}
}

// bookHealth is BookHealth over books a bookApplier applies to at once:
// the count of snapshots that differed is the books' own, as the Engine
// sums what its shard writers count.
type bookHealth struct{ ap *bookApplier }

func (h bookHealth) Differs(id orderbook.SymbolID) bool { return h.ap.books[id].Differs() }

func (h bookHealth) Stats() orderbook.Stats {
	var st orderbook.Stats
	for _, b := range h.ap.books {
		e := b.Errors()
		st.Mismatch += e.Mismatch
		st.UnknownOrder += e.UnknownOrder
		st.DuplicateOrder += e.DuplicateOrder
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
	ap := &bookApplier{books: szseBooks(t, sz000001)}
	d := NewSZSEDecoder(fakeSymbols{"000001": 0}, ap, bookHealth{ap})
	apply := szseApply(t, d, 0)
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

// TestSZSERebuildOnlyDifferingChannel: during an outage (every source
// down past stale_after_outage marks each channel's books stale), a
// snapshot that finds one book different asks a rebuild of that book's
// channel only. Before, RebuildRequests asked for every channel with a
// stale book whenever the books' count of differing snapshots moved: one
// differing snapshot anywhere asked a retransmission of the whole day of
// every outage-marked channel, at a recovery, of the sources and the
// gateway.
func TestSZSERebuildOnlyDifferingChannel(t *testing.T) {
	books := szseBooks(t, sz000001, sz300750)
	ap := &bookApplier{books: books}
	d := NewSZSEDecoder(fakeSymbols{"000001": 0, "300750": 1}, ap, bookHealth{ap})
	apply := szseApply(t, d, 0)
	apply(szOrder(1, "000001", '1', '2', 115000, 100))
	other := szOrder(1, "300750", '1', '2', 2000000, 100)
	other.Order.ChannelNo = 2012
	apply(other)
	for _, no := range []uint16{2011, 2012} {
		if err := d.StaleChannel(no); err != nil {
			t.Fatal(err)
		}
	}
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested for an outage alone: %v", got)
	}
	apply(szBidSnapshot("000001", 20261202093003000, 115000, 900))
	apply(szOrder(2, "000001", '1', '2', 114900, 100)) // the book moves
	apply(szBidSnapshot("000001", 20261202093006000, 115000, 900))
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2011}) {
		t.Fatalf("rebuild requests %v, want [2011]: only 000001's channel differs, 2012 is stale for the outage alone", got)
	}
	// The outage ends: 000001 stays stale (found different) and its
	// Valid counts it again; the look that follows asks for 2011 again
	// (its rebuild was not begun here) and still not for 2012.
	for _, no := range []uint16{2011, 2012} {
		if err := d.ChannelLive(no); err != nil {
			t.Fatal(err)
		}
	}
	if !books[0].Stale() || books[1].Stale() {
		t.Fatalf("after the outage: 000001 stale %v (want true), 300750 stale %v (want false)", books[0].Stale(), books[1].Stale())
	}
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2011}) {
		t.Fatalf("rebuild requests after the outage %v, want [2011]", got)
	}
}

// TestSZSERebuildAfterMissedRecord: a book that finds it missed a record
// (SZSE's cancels and trades may name orders that never rested, so here
// an order added twice: a record of another order lost in its place)
// differs from the venue's
// (BookHealth.Differs), and the feed's next look asks for its channel's
// rebuild although no snapshot differed. Before, RebuildRequests looked
// only when the count of differing snapshots moved: such a book stayed
// stale until a snapshot somewhere in the feed differed.
func TestSZSERebuildAfterMissedRecord(t *testing.T) {
	ap := &bookApplier{books: szseBooks(t, sz300750)}
	d := NewSZSEDecoder(fakeSymbols{"300750": 0}, ap, bookHealth{ap})
	apply := szseApply(t, d, 2012)
	apply(szOrder(1, "300750", '1', '2', 2000000, 100))
	apply(szOrder(2, "300750", '2', '2', 2010000, 100))
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested of a sound book: %v", got)
	}
	apply(szOrder(2, "300750", '2', '2', 2010000, 100))
	if !ap.books[0].Stale() {
		t.Fatal("an order added twice left the book valid")
	}
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2012}) {
		t.Fatalf("rebuild requests %v, want [2012]: the book missed a record", got)
	}
}

// TestSZSERebuildAfterMissedRecordInRebuild: a book that finds it missed
// a record while its channel is being rebuilt (between ResetChannel and
// ChannelLive) differs from the venue's and stays stale through
// ChannelLive; the feed's next RebuildRequests asks for the channel's
// rebuild. Before, the look that saw the count of missed records move
// skipped the channel as being rebuilt, ChannelLive (unlike for a book
// snapshots found different) counted nothing again, and no look followed:
// the book stayed stale until some other book of the feed missed a
// record or a snapshot differed.
func TestSZSERebuildAfterMissedRecordInRebuild(t *testing.T) {
	ap := &bookApplier{books: szseBooks(t, sz300750)}
	d := NewSZSEDecoder(fakeSymbols{"300750": 0}, ap, bookHealth{ap})
	apply := szseApply(t, d, 2012)
	apply(szOrder(1, "300750", '1', '2', 2000000, 100))
	if err := d.ResetChannel(2012); err != nil {
		t.Fatal(err)
	}
	apply(szOrder(1, "300750", '1', '2', 2000000, 100))
	apply(szOrder(1, "300750", '1', '2', 2000000, 100)) // added twice
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requested while rebuilding: %v", got)
	}
	if err := d.ChannelLive(2012); err != nil {
		t.Fatal(err)
	}
	if !ap.books[0].Stale() {
		t.Fatal("the book that missed a record is valid after ChannelLive")
	}
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2012}) {
		t.Fatalf("rebuild requests after ChannelLive %v, want [2012]: the book that missed a record stays stale with no rebuild", got)
	}
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("a second look with nothing new asked again: %v", got)
	}
}

// lagApplier is a bookApplier whose books apply the events only when
// flushed, as an Engine's shard writer trails its Input: Clearing
// reports a Clear given and not yet applied, as orderbook.Input does.
type lagApplier struct {
	bookApplier
	queued []event.Event
}

func (a *lagApplier) Apply(ev *event.Event) error {
	a.queued = append(a.queued, *ev)
	return nil
}

func (a *lagApplier) flush() {
	for i := range a.queued {
		a.bookApplier.Apply(&a.queued[i])
	}
	a.queued = a.queued[:0]
}

func (a *lagApplier) Clearing() bool {
	return slices.ContainsFunc(a.queued, func(ev event.Event) bool { return ev.Kind == event.Clear })
}

// TestSZSERebuildNotBeforeClearApplied: a rebuild that ends (ChannelLive)
// before the books have applied its Clear asks no second rebuild: the
// books still show the difference the Clear will mend, and RebuildRequests
// waits for the Clear before it looks. A book that missed a record during
// the rebuild is still asked for once the books have caught up
// (TestSZSERebuildAfterMissedRecordInRebuild).
func TestSZSERebuildNotBeforeClearApplied(t *testing.T) {
	ap := &lagApplier{bookApplier: bookApplier{books: szseBooks(t, sz300750)}}
	d := NewSZSEDecoder(fakeSymbols{"300750": 0}, ap, bookHealth{&ap.bookApplier})
	apply := szseApply(t, d, 2012)
	apply(szOrder(1, "300750", '1', '2', 2000000, 100))
	apply(szOrder(1, "300750", '1', '2', 2000000, 100)) // added twice
	ap.flush()
	if got := d.RebuildRequests(); !slices.Equal(got, []uint16{2012}) {
		t.Fatalf("rebuild requests %v, want [2012]", got)
	}
	// The rebuild: the channel is cleared, delivered again, live; the
	// books have not applied any of it yet.
	if err := d.ResetChannel(2012); err != nil {
		t.Fatal(err)
	}
	apply(szOrder(1, "300750", '1', '2', 2000000, 100))
	if err := d.ChannelLive(2012); err != nil {
		t.Fatal(err)
	}
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requests %v before the books applied the rebuild's Clear, want none", got)
	}
	ap.flush()
	if ap.books[0].Stale() {
		t.Fatal("the rebuilt book is stale")
	}
	if got := d.RebuildRequests(); got != nil {
		t.Fatalf("rebuild requests %v of a rebuilt book, want none", got)
	}
}

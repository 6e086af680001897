package feed

import (
	"testing"
	"time"

	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// oneSymbol maps the feed symbol 600519 to book 0.
type oneSymbol struct{}

func (oneSymbol) LookupFeed(s []byte) (orderbook.SymbolID, bool) { return 0, string(s) == "600519" }

// bookSink applies the decoder's events to one book, as the Engine's
// shard writer does, and keeps the Updates it publishes.
type bookSink struct {
	b   *orderbook.Book
	ups []orderbook.Update
}

func (s *bookSink) Apply(ev *event.Event) error {
	var u orderbook.Update
	if s.b.Apply(ev, &u) {
		s.ups = append(s.ups, u)
	}
	return nil
}

// prints returns the quantities of the trade prints in ups.
func prints(ups []orderbook.Update) []int64 {
	var q []int64
	for _, u := range ups {
		if u.Kind == orderbook.KindTrade {
			q = append(q, u.TradeQty)
		}
	}
	return q
}

func newPrintBook(t *testing.T) *orderbook.Book {
	t.Helper()
	in := refdata.Instrument{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	return orderbook.NewBook(in)
}

// newPrintArbiter returns printStream's messages and an arbiter of the
// given window delivering to an ITCH decoder into sink's one book.
func newPrintArbiter(t *testing.T, window int) ([][]byte, *bookSink, *Arbiter) {
	t.Helper()
	sink := &bookSink{b: newPrintBook(t)}
	return printStream(t), sink, newArbiter(NewITCHDecoder(oneSymbol{}, sink), window, 1, time.Second, time.Minute)
}

// checkPrintedOnce checks that sink published each of printStream's four
// prints exactly once, and that its book's volume counts each once.
func checkPrintedOnce(t *testing.T, sink *bookSink) {
	t.Helper()
	seen := map[int64]int{}
	for _, q := range prints(sink.ups) {
		seen[q]++
	}
	for _, q := range []int64{100, 200, 50, 30} {
		if seen[q] != 1 {
			t.Errorf("print of %d published %d times (all prints %v)", q, seen[q], prints(sink.ups))
		}
	}
	if v := sink.b.Volume(); v != 380 {
		t.Errorf("rebuilt volume %d, want 380", v)
	}
}

// printStream is a small ITCH day of one instrument: a directory, a
// resting sell, then four prints of 100, 200, 50 and 30 shares (two
// executions of the sell, two non-displayed trades).
func printStream(t *testing.T) [][]byte {
	t.Helper()
	stock, _ := itch.StockOf("600519")
	dir := itch.Message{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: stock, RoundLotSize: 100}
	msgs := []itch.Message{
		dir,
		{Type: itch.TypeAddOrder, StockLocate: 1, Stock: stock, OrderRef: 1, Side: itch.SideSell, Shares: 1000, Price: 17000000},
		{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 1, Shares: 100, MatchNumber: 1},
		{Type: itch.TypeTrade, StockLocate: 1, Stock: stock, Side: itch.SideBuy, Shares: 200, Price: 17010000, MatchNumber: 2},
		{Type: itch.TypeTrade, StockLocate: 1, Stock: stock, Side: itch.SideBuy, Shares: 50, Price: 16990000, MatchNumber: 3},
		{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 1, Shares: 30, MatchNumber: 4},
	}
	out := encodeDay(t, msgs, true)
	return out
}

// TestRebuildDoesNotRepeatPrints: messages 1..4 of a day are delivered
// (prints of 100 and 200 shares), 5 is lost on both sources, and the feed
// rebuilds from 1. The rebuild delivers 1..6 again: the prints of 3 and 4
// were published before and must not be published again (a trades
// subscriber would get the day's prints twice), while the lost 5's print
// and 6's, never published, are. The book's statistics (last, volume,
// turnover, open, high, low) come out as if it had applied the day once.
// Before, every print of the replayed stream was published again.
func TestRebuildDoesNotRepeatPrints(t *testing.T) {
	msgs, sink, a := newPrintArbiter(t, 64)
	t0 := time.Unix(100, 0)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	for _, src := range []int{Primary, Backup} {
		for _, s := range []uint64{1, 2, 3, 4, 6} { // 5 missing on both
			a.Offer(src, s, msgs[s-1], 0)
		}
	}
	if got := prints(sink.ups); len(got) != 2 {
		t.Fatalf("before the loss: prints %v, want [100 200]", got)
	}
	if got := a.Check(t0); got != Primary {
		t.Fatalf("re-request from %d, want the primary", got)
	}
	a.SourceLive(Primary, 5)
	a.Offer(Primary, 6, msgs[5], 0)
	before := len(sink.ups)
	if got := a.Check(t0.Add(2 * time.Minute)); got != Primary || a.Stats().Rebuilds != 1 {
		t.Fatalf("past the recovery time: Check %d, rebuilds %d; want a rebuild from the primary", got, a.Stats().Rebuilds)
	}
	deliverDay(a, Primary, msgs, 0)
	if a.Rebuilding() || sink.b.Stale() {
		t.Fatalf("after the replay: rebuilding %v, stale %v", a.Rebuilding(), sink.b.Stale())
	}
	after := sink.ups[before:]
	if len(after) == 0 || after[0].Kind != orderbook.KindReset {
		t.Fatalf("the rebuild did not begin with a reset: %+v", after)
	}
	if got := prints(after); len(got) != 2 || got[0] != 50 || got[1] != 30 {
		t.Fatalf("prints published by the rebuild: %v, want [50 30] (those of 3 and 4 were published before)", got)
	}

	ref := &bookSink{b: newPrintBook(t)}
	d := NewITCHDecoder(oneSymbol{}, ref)
	for _, m := range msgs {
		if err := d.Apply(m, 0); err != nil {
			t.Fatal(err)
		}
	}
	type stats struct {
		open, high, low, last refdata.Price
		lastQty, vol, turn    int64
	}
	get := func(b *orderbook.Book) stats {
		var s stats
		s.open, s.high, s.low, s.last = b.OHLC()
		_, s.lastQty = b.Last()
		s.vol, s.turn = b.Volume(), b.Turnover()
		return s
	}
	if g, w := get(sink.b), get(ref.b); g != w {
		t.Fatalf("rebuilt book's statistics %+v, want %+v", g, w)
	}
	if u, w := sink.ups[len(sink.ups)-1], ref.ups[len(ref.ups)-1]; u.Volume != w.Volume || u.Turnover != w.Turnover || u.Last != w.Last {
		t.Fatalf("rebuilt book's last update: volume %d turnover %d last %d; want %d %d %d", u.Volume, u.Turnover, u.Last, w.Volume, w.Turnover, w.Last)
	}
}

// printRecordAt returns the frame of record seq of SZSE channel ch on
// 000001, stamped at (TransactTime): a buy order, with every third record
// a trade of the two orders before it, of seq/3*10 shares.
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

// newSZSEPrintRig returns an SZSE arbiter rig delivering to a decoder into
// one book of 000001 (books), and offer, which offers channel 2011's
// records from..to, stamped at, from src.
func newSZSEPrintRig(t *testing.T) (r *arbRig, books *bookSink, offer func(src int, from, to int64, at szse.Timestamp)) {
	t.Helper()
	r = newArbRig(t, nil)
	in := refdata.Instrument{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 100000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	books = &bookSink{b: orderbook.NewBook(in)}
	r.a.sink = NewSZSEDecoder(szseSymbol{}, books, nil)
	offer = func(src int, from, to int64, at szse.Timestamp) {
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
	return r, books, offer
}

// rebuildFromOne answers channel 2011's re-requests unavailable until the
// channel is rebuilt, checks the rebuild asks the primary from 1, and
// answers it done up to 10.
func rebuildFromOne(t *testing.T, r *arbRig) {
	t.Helper()
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
}

// szseSymbol maps the feed symbol 000001 to book 0.
type szseSymbol struct{}

func (szseSymbol) LookupFeed(s []byte) (orderbook.SymbolID, bool) { return 0, string(s) == "000001" }

// TestSZSERebuildDoesNotRepeatPrints: as TestRebuildDoesNotRepeatPrints,
// on an SZSE channel. Records 1..3 are delivered (a print of 10 shares at
// 3), 4..7 are lost on both sources and the channel is rebuilt from 1.
// The rebuild delivers 1..10: the print of 3 was published before and is
// not published again; those of 6 (lost) and 9 (held beyond the loss,
// never delivered) are.
func TestSZSERebuildDoesNotRepeatPrints(t *testing.T) {
	r, books, offer := newSZSEPrintRig(t)
	for _, src := range []int{Primary, Backup} {
		offer(src, 1, 3, 0)
		offer(src, 8, 9, 0)
	}
	if got := prints(books.ups); len(got) != 1 || got[0] != 10 {
		t.Fatalf("before the loss: prints %v, want [10]", got)
	}
	before := len(books.ups)
	rebuildFromOne(t, r)
	offer(Primary, 1, 10, 0)
	if c := r.channel(2011); c.Stale || c.Next != 11 {
		t.Fatalf("after the replay: %+v", c)
	}
	after := books.ups[before:]
	if len(after) == 0 || after[0].Kind != orderbook.KindReset {
		t.Fatal("the rebuild did not begin with a reset")
	}
	if got := prints(after); len(got) != 2 || got[0] != 20 || got[1] != 30 {
		t.Fatalf("prints published by the rebuild: %v, want [20 30] (that of 3 was published before)", got)
	}
	if v := books.b.Volume(); v != 60 {
		t.Fatalf("rebuilt volume %d, want 60", v)
	}
}

// TestNewSessionPrintsPublished: the source begins a new session (a new
// day): the books are rebuilt from its sequence 1, and none of its
// messages was delivered before, so every print is published, though the
// old session's messages up to 4 were.
func TestNewSessionPrintsPublished(t *testing.T) {
	msgs, sink, a := newPrintArbiter(t, 64)
	if ok, _ := a.Session(Primary, "S1"); !ok {
		t.Fatal("S1 refused")
	}
	a.SourceLive(Primary, 1)
	for s := uint64(1); s <= 4; s++ {
		a.Offer(Primary, s, msgs[s-1], 0)
	}
	a.SourceDown(Primary)
	before := len(sink.ups)
	if ok, switched := a.Session(Primary, "S2"); !ok || !switched {
		t.Fatalf("S2: ok %v, switched %v", ok, switched)
	}
	deliverDay(a, Primary, msgs, 0)
	if got := prints(sink.ups[before:]); len(got) != 4 {
		t.Fatalf("prints of the new session: %v, want [100 200 50 30]", got)
	}
}

// deliverDay has src, live again from sequence 1, deliver the whole
// stream msgs (a rebuild's replay), received at at (Unix ns).
func deliverDay(a *Arbiter, src int, msgs [][]byte, at int64) {
	a.SourceLive(src, 1)
	for s := uint64(1); s <= uint64(len(msgs)); s++ {
		a.Offer(src, s, msgs[s-1], at)
	}
}

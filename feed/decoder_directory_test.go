package feed

import (
	"testing"
	"time"

	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/orderbook"
	"sgw/refdata"
)

// twoSymbols maps the feed symbols 600519 and 000001 to books 0 and 1,
// and lists them as the instruments the feed carries.
type twoSymbols struct{}

func (twoSymbols) LookupFeed(s []byte) (orderbook.SymbolID, bool) {
	switch string(s) {
	case "600519":
		return 0, true
	case "000001":
		return 1, true
	}
	return 0, false
}

func (twoSymbols) Symbols() []orderbook.SymbolID { return []orderbook.SymbolID{0, 1} }

// booksSink applies the decoder's events to its books by Symbol (a
// System event to every one), as the Engine's shard writers do, and
// keeps each book's Updates.
type booksSink struct {
	books []*bookSink
}

func newBooksSink(t *testing.T) *booksSink {
	t.Helper()
	s := &booksSink{}
	for _, in := range []refdata.Instrument{
		{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000},
		{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 120000},
	} {
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		s.books = append(s.books, &bookSink{b: orderbook.NewBook(in)})
	}
	return s
}

// newDirectoryRig returns a single-source arbiter over an ITCH decoder
// into a booksSink of twoSymbols, rebuilding a missed message at most
// once a minute (the test's clock).
func newDirectoryRig(t *testing.T) (*Arbiter, *booksSink) {
	t.Helper()
	sink := newBooksSink(t)
	a := newArbiter(NewITCHDecoder(twoSymbols{}, sink), 64, 1, time.Second, time.Second)
	a.single = true
	a.missedEvery = time.Minute
	return a, sink
}

// restartWith restarts a's stream (a rebuild, of any cause) and delivers
// msgs from the primary, from sequence 1.
func restartWith(a *Arbiter, msgs [][]byte) {
	a.mu.Lock()
	a.restart()
	a.mu.Unlock()
	deliverDay(a, Primary, msgs, 0)
}

// rebuildWhole delivers the whole day from the primary, as the rebuild
// a's Check asked for, and checks that it ends the rebuild with the books
// right.
func rebuildWhole(t *testing.T, a *Arbiter, sink *booksSink, day [][]byte) {
	t.Helper()
	deliverDay(a, Primary, day, 0)
	if a.Rebuilding() {
		t.Fatalf("rebuilt: feed stale; stats %+v", a.Stats())
	}
	checkDirectoryBooks(t, sink)
}

func (s *booksSink) Apply(ev *event.Event) error {
	if ev.Kind == event.System {
		for _, b := range s.books {
			_ = b.Apply(ev)
		}
		return nil
	}
	return s.books[ev.Symbol].Apply(ev)
}

// directoryDay is a small ITCH day of two instruments: their Stock
// Directory messages (Stock Locate 1: 600519, 2: 000001; 3: 999999,
// which the feed does not carry), a resting sell on each, an execution
// of each (100 shares of 000001, 200 of 600519) and an order of the
// instrument not carried.
func directoryDay(t testing.TB) (day [][]byte, dir2 int) {
	t.Helper()
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	s3, _ := itch.StockOf("999999")
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100},
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100},
		{Type: itch.TypeStockDirectory, StockLocate: 3, Stock: s3, RoundLotSize: 100},
		{Type: itch.TypeAddOrder, StockLocate: 1, Stock: s1, OrderRef: 1, Side: itch.SideSell, Shares: 1000, Price: 17000000},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000},
		{Type: itch.TypeAddOrder, StockLocate: 3, Stock: s3, OrderRef: 3, Side: itch.SideBuy, Shares: 100, Price: 50000},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 100, MatchNumber: 1},
		{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 1, Shares: 200, MatchNumber: 2},
	}
	return encodeDay(t, msgs, true), 1
}

// encodeDay encodes msgs as ITCH messages, each stamped 09:30 plus its
// index in nanoseconds first when stamp is set (msgs are changed so).
func encodeDay(t testing.TB, msgs []itch.Message, stamp bool) [][]byte {
	t.Helper()
	day := make([][]byte, len(msgs))
	for i := range msgs {
		if stamp {
			msgs[i].Timestamp = 34200000000000 + uint64(i)
		}
		b, err := itch.Append(nil, &msgs[i])
		if err != nil {
			t.Fatal(err)
		}
		day[i] = b
	}
	return day
}

// newDecoderRig returns an ITCH decoder of the carried instruments
// (twoSymbols) into real books, and a deliver that applies msgs to it in
// order, failing the test at an error.
func newDecoderRig(t *testing.T) (*ITCHDecoder, *booksSink, func(msgs ...[]byte)) {
	t.Helper()
	sink := newBooksSink(t)
	d := NewITCHDecoder(twoSymbols{}, sink)
	return d, sink, func(msgs ...[]byte) {
		t.Helper()
		for _, m := range msgs {
			if err := d.Apply(m, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// without returns msgs without message i.
func without(msgs [][]byte, i int) [][]byte {
	return append(append([][]byte(nil), msgs[:i]...), msgs[i+1:]...)
}

// checkDirectoryBooks checks the books at the end of directoryDay: each
// valid, its order reduced by its execution, and its print published
// once.
func checkDirectoryBooks(t *testing.T, s *booksSink) {
	t.Helper()
	for i, want := range []struct{ left, print int64 }{{800, 200}, {400, 100}} {
		b := s.books[i]
		var d []orderbook.Level
		d = b.b.Depth(orderbook.Ask, 5, d)
		if b.b.Stale() || len(d) != 1 || d[0].Qty != want.left {
			t.Errorf("book %d: stale %v, asks %v; want valid, %d left", i, b.b.Stale(), d, want.left)
		}
		if p := prints(b.ups); len(p) != 1 || p[0] != want.print {
			t.Errorf("book %d: prints %v, want [%d] once", i, p, want.print)
		}
	}
}

// TestMissedDirectoryRebuilds: the feed's one source leaves the Stock
// Directory of 000001 out of its session and numbers the rest on (a relay
// that lost it): no gap, no divergence. The messages of its Stock Locate
// name no instrument: the decoder cannot apply them, so the book of
// 000001 is marked stale (it may be any instrument the directory has not
// mapped) and the feed is rebuilt from sequence 1 (Missed). The rebuild,
// with the directory, ends with both books valid and right, each print
// published once (000001's never was). A directory naming an instrument
// the feed does not carry asks for nothing. Before, the messages of
// 000001 were dropped in silence: its book stayed empty and valid, and
// nothing rebuilt it.
func TestMissedDirectoryRebuilds(t *testing.T) {
	day, dir2 := directoryDay(t)
	sink := newBooksSink(t)
	d := NewITCHDecoder(twoSymbols{}, sink)
	a := newArbiter(d, 64, 1, time.Second, time.Second)
	a.single = true
	deliverDay(a, Primary, without(day, dir2), 0)
	if !sink.books[1].b.Stale() || sink.books[0].b.Stale() {
		t.Errorf("000001's directory missed: stale %v, 600519's %v; want 000001's alone", sink.books[1].b.Stale(), sink.books[0].b.Stale())
	}
	if !d.Missed() || !a.Rebuilding() {
		t.Fatalf("000001's directory missed: decoder missed %v, feed stale %v; want a rebuild asked", d.Missed(), a.Rebuilding())
	}
	if st := d.DecodeStats(); st.UnknownSymbol != 3 || st.UnknownStock != 1 {
		t.Errorf("decode stats %+v: want 3 messages of an unmapped locate (2 of 000001, 1 of 999999), 1 directory of a stock not carried", st)
	}
	t0 := time.Unix(100, 0)
	if got := a.Check(t0); got != Primary || a.Stats().MissedRebuilds != 1 {
		t.Fatalf("Check %d, stats %+v: want a rebuild from the primary", got, a.Stats())
	}
	if d.Missed() {
		t.Fatal("still missed after the Restart")
	}
	rebuildWhole(t, a, sink, day)
}

// TestMissedDirectoryInRebuild: the day is delivered whole, then a
// rebuild's source leaves 000001's directory out. The rebuild's end does
// not declare that book valid: it stays stale, and the feed asks for
// another rebuild, which with the directory ends with both books valid
// and each print published once. Before, the rebuild's end declared the
// book valid, empty.
func TestMissedDirectoryInRebuild(t *testing.T) {
	day, dir2 := directoryDay(t)
	a, sink := newDirectoryRig(t)
	deliverDay(a, Primary, day, 0)
	checkDirectoryBooks(t, sink)
	// A rebuild (of any cause) from a source that lost the directory, to
	// as far as it was delivered: a System Event (locate 0) in the place of the directory left out,
	// so that the rebuild reaches where the day was delivered.
	sys, err := itch.Append(nil, &itch.Message{Type: itch.TypeSystemEvent, EventCode: 'M', Timestamp: 34300000000000})
	if err != nil {
		t.Fatal(err)
	}
	restartWith(a, append(without(day, dir2), sys))
	if !sink.books[1].b.Stale() || sink.books[0].b.Stale() {
		t.Errorf("rebuilt without 000001's directory: stale %v, 600519's %v; want 000001's alone", sink.books[1].b.Stale(), sink.books[0].b.Stale())
	}
	if !a.Rebuilding() {
		t.Fatal("rebuilt without 000001's directory: the feed is not stale")
	}
	t0 := time.Unix(100, 0)
	if got := a.Check(t0); got != Primary {
		t.Fatalf("Check %d, stats %+v: want a rebuild from the primary", got, a.Stats())
	}
	rebuildWhole(t, a, sink, day)
}

// TestMissedDirectoryInRebuildNewPrints: the day is delivered whole (each
// directory mapped), then a rebuild's source leaves 000001's directory
// out and goes on past where the day was delivered: an execution of
// 000001 first delivered then is dropped (its locate maps nothing), its
// print never published. The next rebuild, with the directory, delivers
// it again as delivered before: its print is published there, once, and
// nothing printed before is published again. Before, only the rebuild
// that mapped a locate for the first time that day published the prints
// its messages dropped; 000001 was mapped by the first delivery, so the
// print (every print of 000001 until the next rebuild) was lost.
func TestMissedDirectoryInRebuildNewPrints(t *testing.T) {
	day, dir2 := directoryDay(t)
	more, err := itch.Append(nil, &itch.Message{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 50,
		MatchNumber: 3, Timestamp: 34300000000000})
	if err != nil {
		t.Fatal(err)
	}
	a, sink := newDirectoryRig(t)
	deliverDay(a, Primary, day, 0)
	checkDirectoryBooks(t, sink)
	// A rebuild (of any cause) from a source that lost the directory and
	// numbered on: its stream is the day without it, then the execution.
	sys, err := itch.Append(nil, &itch.Message{Type: itch.TypeSystemEvent, EventCode: 'M', Timestamp: 34250000000000})
	if err != nil {
		t.Fatal(err)
	}
	restartWith(a, append(without(day, dir2), sys, more))
	if !sink.books[1].b.Stale() || !a.Rebuilding() {
		t.Fatalf("rebuilt without 000001's directory: book stale %v, feed stale %v; want both", sink.books[1].b.Stale(), a.Rebuilding())
	}
	if got := a.Check(time.Unix(100, 0)); got != Primary {
		t.Fatalf("Check %d, stats %+v: want a rebuild from the primary", got, a.Stats())
	}
	deliverDay(a, Primary, append(append(day[:len(day):len(day)], sys), more), 0)
	if a.Rebuilding() {
		t.Fatalf("rebuilt: feed stale; stats %+v", a.Stats())
	}
	b := sink.books[1]
	if p := prints(b.ups); len(p) != 2 || p[0] != 100 || p[1] != 50 {
		t.Errorf("000001: prints %v, want [100 50], each once", p)
	}
	if d := b.b.Depth(orderbook.Ask, 5, nil); b.b.Stale() || len(d) != 1 || d[0].Qty != 350 {
		t.Errorf("000001: stale %v, asks %v; want valid, 350 left", b.b.Stale(), d)
	}
	if p := prints(sink.books[0].ups); len(p) != 1 || p[0] != 200 {
		t.Errorf("600519: prints %v, want [200] once", p)
	}
}

// TestMissedDirectoryPrintsOnceAcrossRebuilds: the first delivery of the
// day misses 000001's directory (its messages dropped, their prints never
// published); a rebuild with the directory is cut short after the first
// of two executions stamped alike (its print published), and the next
// rebuild delivers the day whole: it publishes the prints the first
// rebuild did not reach, and not the one it did. Each print is published
// once. Before, only the rebuild that mapped the locate first published
// them: the cut-short rebuild's rest was lost.
func TestMissedDirectoryPrintsOnceAcrossRebuilds(t *testing.T) {
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	const ts = 34200000000000
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100, Timestamp: ts},
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100, Timestamp: ts},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000, Timestamp: ts + 1},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 50, MatchNumber: 1, Timestamp: ts + 2},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 60, MatchNumber: 2, Timestamp: ts + 2},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 70, MatchNumber: 3, Timestamp: ts + 3},
	}
	day := encodeDay(t, msgs, false)
	d, sink, deliver := newDecoderRig(t)
	deliver(without(day, 1)...)
	if !d.Missed() {
		t.Fatal("000001's directory missed: not Missed")
	}
	// A rebuild cut short after the first execution stamped ts+2.
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(4)
	deliver(day[:4]...)
	// The next rebuild delivers the day whole, every message delivered
	// before.
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(uint64(len(day)))
	deliver(day...)
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	b := sink.books[1]
	if p := prints(b.ups); len(p) != 3 || p[0] != 50 || p[1] != 60 || p[2] != 70 {
		t.Errorf("000001: prints %v, want [50 60 70], each once", p)
	}
	if d := b.b.Depth(orderbook.Ask, 5, nil); b.b.Stale() || len(d) != 1 || d[0].Qty != 320 {
		t.Errorf("000001: stale %v, asks %v; want valid, 320 left", b.b.Stale(), d)
	}
}

// TestMissedDirectoryNewSessionForgets: a session (a day) ends with
// 000001's directory still missed, its messages dropped; the next
// session's stream, delivered from sequence 1 as not delivered before,
// maps it, and a rebuild of that session delivers it again: the new
// session's prints, stamped the same times of day as the old session's
// dropped ones, are published once, not again by the rebuild.
func TestMissedDirectoryNewSessionForgets(t *testing.T) {
	day, dir2 := directoryDay(t)
	d, sink, deliver := newDecoderRig(t)
	deliver(without(day, dir2)...)
	// The next session: a Restart, its stream from sequence 1 not
	// delivered before (Replay 0). Its prints are counted alone.
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, b := range sink.books {
		b.ups = nil
	}
	d.Replay(0)
	deliver(day...)
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	// A rebuild of the new session: every message delivered before.
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(uint64(len(day)))
	deliver(day...)
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	checkDirectoryBooks(t, sink)
}

// TestMissedDirectoryPrintSameNanosecondOnce: 000001's directory is
// missed at the first delivery, its add and an execution dropped; a
// rebuild with the directory delivers them again (the execution's print
// published there) and goes on with a second execution stamped the same
// nanosecond, first delivered then (published as new). A later rebuild
// of the day, every message delivered before, publishes neither again.
// Before, the second execution, within the dropped stretch's timestamps,
// was taken for one dropped when first delivered and published twice.
func TestMissedDirectoryPrintSameNanosecondOnce(t *testing.T) {
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	const ts = 34200000000000
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100, Timestamp: ts},
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100, Timestamp: ts},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000, Timestamp: ts + 1},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 50, MatchNumber: 1, Timestamp: ts + 2},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 2, Shares: 60, MatchNumber: 2, Timestamp: ts + 2},
	}
	day := encodeDay(t, msgs, false)
	d, sink, deliver := newDecoderRig(t)
	deliver(without(day[:4], 1)...) // the add and the first execution dropped
	if !d.Missed() {
		t.Fatal("000001's directory missed: not Missed")
	}
	// The rebuild: the first four delivered before (with the directory
	// now), the last new.
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(4)
	deliver(day...)
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	// A later rebuild of the day, every message delivered before.
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(uint64(len(day)))
	deliver(day...)
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	b := sink.books[1]
	if p := prints(b.ups); len(p) != 2 || p[0] != 50 || p[1] != 60 {
		t.Errorf("000001: prints %v, want [50 60], each once", p)
	}
	if d := b.b.Depth(orderbook.Ask, 5, nil); b.b.Stale() || len(d) != 1 || d[0].Qty != 390 {
		t.Errorf("000001: stale %v, asks %v; want valid, 390 left", b.b.Stale(), d)
	}
}

// lateDirectoryDay is an ITCH day whose Stock Directory of 000001 (Stock
// Locate 2) comes late, after a message of its locate (when drop), or
// after a message of Stock Locate 5, whose directory never comes: 600519's
// directory, the early message, 000001's directory, then 300 shares of
// 000001 offered.
func lateDirectoryDay(t testing.TB, drop bool) [][]byte {
	t.Helper()
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	s5, _ := itch.StockOf("999999")
	early := itch.Message{Type: itch.TypeAddOrder, StockLocate: 5, Stock: s5, OrderRef: 5, Side: itch.SideBuy, Shares: 100, Price: 50000}
	if drop {
		early = itch.Message{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000}
	}
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100},
		early,
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 4, Side: itch.SideSell, Shares: 300, Price: 120100},
	}
	day := encodeDay(t, msgs, true)
	return day
}

// TestLateDirectoryAfterDropsStaysStale: 000001's directory comes late in
// the stream, after an order of its Stock Locate was dropped for want of
// it. Its book is stale and the feed rebuilds; the rebuild's stream
// drops the order again before the directory, so the rebuild's end
// leaves that book stale (it lacks the order) and the feed stale, while
// 600519's is valid. Before, the rebuild's end declared 000001's book
// valid, without the order: it had been mapped since the Restart.
func TestLateDirectoryAfterDropsStaysStale(t *testing.T) {
	day := lateDirectoryDay(t, true)
	a, sink := newDirectoryRig(t)
	deliverDay(a, Primary, day, 0)
	if !sink.books[1].b.Stale() || sink.books[0].b.Stale() || !a.Rebuilding() {
		t.Fatalf("000001's directory late: stale %v, 600519's %v, feed %v; want 000001's and the feed", sink.books[1].b.Stale(), sink.books[0].b.Stale(), a.Rebuilding())
	}
	if got := a.Check(time.Unix(100, 0)); got != Primary {
		t.Fatalf("Check %d, stats %+v: want a rebuild from the primary", got, a.Stats())
	}
	deliverDay(a, Primary, day, 0)
	if d := sink.books[1].b.Depth(orderbook.Ask, 5, nil); !sink.books[1].b.Stale() || !a.Rebuilding() {
		t.Errorf("rebuilt with 000001's directory late again: stale %v (asks %v), feed stale %v; want both stale", sink.books[1].b.Stale(), d, a.Rebuilding())
	}
	if sink.books[0].b.Stale() {
		t.Error("600519: stale after the rebuild")
	}
}

// TestLateDirectoryOfUndroppedLocateValid: the messages of Stock Locate 5
// come with no directory (every book no directory mapped is marked stale:
// 000001's), then 000001's directory comes, at Stock Locate 2, of which
// nothing was dropped: the message dropped was not 000001's, and its book,
// empty until then, is right. It is valid again at once, and its order
// applied, while the feed stays stale for locate 5; in the rebuild it is
// stale until the rebuild's end, and valid then. Before, it stayed stale
// until a rebuild ended, at least missed_rebuild_interval later.
func TestLateDirectoryOfUndroppedLocateValid(t *testing.T) {
	day := lateDirectoryDay(t, false)
	a, sink := newDirectoryRig(t)
	deliverDay(a, Primary, day[:2], 0)
	if !sink.books[1].b.Stale() || !a.Rebuilding() {
		t.Fatalf("locate 5 without its directory: 000001 stale %v, feed %v; want both", sink.books[1].b.Stale(), a.Rebuilding())
	}
	a.Offer(Primary, 3, day[2], 0)
	a.Offer(Primary, 4, day[3], 0)
	b := sink.books[1].b
	if d := b.Depth(orderbook.Ask, 5, nil); b.Stale() || len(d) != 1 || d[0].Qty != 300 {
		t.Errorf("000001 mapped, nothing of it dropped: stale %v, asks %v; want valid, 300 offered", b.Stale(), d)
	}
	if !a.Rebuilding() || sink.books[0].b.Stale() {
		t.Errorf("feed stale %v, 600519 stale %v; want the feed stale (locate 5), 600519 valid", a.Rebuilding(), sink.books[0].b.Stale())
	}
	if got := a.Check(time.Unix(100, 0)); got != Primary {
		t.Fatalf("Check %d, stats %+v: want a rebuild from the primary", got, a.Stats())
	}
	deliverDay(a, Primary, day[:3], 0)
	if !b.Stale() {
		t.Error("000001 valid in the rebuild's middle")
	}
	a.Offer(Primary, 4, day[3], 0)
	if d := b.Depth(orderbook.Ask, 5, nil); b.Stale() || len(d) != 1 || d[0].Qty != 300 {
		t.Errorf("rebuilt: 000001 stale %v, asks %v; want valid, 300 offered", b.Stale(), d)
	}
}

// TestLateDirectoryPrintSameNanosecondOnce: 000001's directory comes late
// in the stream, after an order of its locate was dropped for want of it,
// and an execution of another order follows, all stamped one nanosecond
// (its print published then). A rebuild from a stream with the directory
// in its place delivers them all again: the execution's print is not
// published again. Before, the messages first delivered after the late
// directory were not counted among those published, and the rebuild took
// the execution for one dropped.
func TestLateDirectoryPrintSameNanosecondOnce(t *testing.T) {
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	const ts = 34200000000000
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100, Timestamp: ts},
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100, Timestamp: ts + 1},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000, Timestamp: ts + 1},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 4, Side: itch.SideSell, Shares: 300, Price: 120000, Timestamp: ts + 1},
		{Type: itch.TypeOrderExecuted, StockLocate: 2, OrderRef: 4, Shares: 50, MatchNumber: 1, Timestamp: ts + 1},
	}
	day := encodeDay(t, msgs, false)
	d, sink, deliver := newDecoderRig(t)
	deliver(day[0], day[2], day[1], day[3], day[4]) // the directory after the first order
	b := sink.books[1]
	if p := prints(b.ups); len(p) != 1 || p[0] != 50 {
		t.Fatalf("000001: prints %v, want [50]", p)
	}
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(uint64(len(day)))
	deliver(day...)
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	if p := prints(b.ups); len(p) != 1 || p[0] != 50 {
		t.Errorf("000001: prints %v, want [50] once", p)
	}
	if d := b.b.Depth(orderbook.Ask, 5, nil); b.b.Stale() || len(d) != 1 || d[0].Qty != 750 {
		t.Errorf("000001: stale %v, asks %v; want valid, 750 offered", b.b.Stale(), d)
	}
}

// TestDirectoryWhileDivergedStale: the primary skips the day's 3 and
// numbers the rest one lower. Its copy of 3 shows the sources disagree
// (which skipped is not known yet): the books are stale until the
// divergence's rebuild. The backup then delivers 000001's directory, the
// first mapping it, and its order of 500; the primary, first with its 6
// (the day's 7), skips the day's 6, a cancel of 200 of that order. The
// book of 000001 offers 500 where the venue's offers 300: it must be
// stale, as every book mapped before the divergence is, until the
// rebuild, which ends with it valid and right. Before, MarkStale reached
// only the books already mapped, and 000001's, mapped after it, was
// served valid and wrong until the rebuild began.
func TestDirectoryWhileDivergedStale(t *testing.T) {
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100},
		{Type: itch.TypeAddOrder, StockLocate: 1, Stock: s1, OrderRef: 1, Side: itch.SideSell, Shares: 1000, Price: 17000000},
		{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 1, Shares: 100, MatchNumber: 1},
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000},
		{Type: itch.TypeOrderCancel, StockLocate: 2, OrderRef: 2, Shares: 200},
		{Type: itch.TypeAddOrder, StockLocate: 1, Stock: s1, OrderRef: 3, Side: itch.SideBuy, Shares: 100, Price: 16990000},
	}
	day := encodeDay(t, msgs, true)
	skipped := without(day, 2) // the primary's stream: the day's 3 left out
	sink := newBooksSink(t)
	a := newArbiter(NewITCHDecoder(twoSymbols{}, sink), 64, 1, time.Second, time.Minute)
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	offer := func(src int, seq uint64, m []byte) {
		t.Helper()
		a.Offer(src, seq, m, 0)
	}
	offer(Primary, 1, skipped[0])
	offer(Primary, 2, skipped[1])
	for s := uint64(1); s <= 3; s++ {
		offer(Backup, s, day[s-1])
	}
	offer(Primary, 3, skipped[2]) // the divergence
	if a.Stats().Divergences == 0 || !sink.books[0].b.Stale() {
		t.Fatalf("divergences %d, 600519 stale %v: want the divergence seen, the book stale", a.Stats().Divergences, sink.books[0].b.Stale())
	}
	offer(Backup, 4, day[3]) // 000001's directory
	offer(Backup, 5, day[4]) // its order of 500
	for s := uint64(4); s <= 6; s++ {
		offer(Primary, s, skipped[s-1]) // 6: the day's 7, the day's 6 skipped
	}
	b := sink.books[1].b
	if d := b.Depth(orderbook.Ask, 5, nil); !b.Stale() {
		t.Errorf("000001 first mapped while the sources disagree: valid, asks %v (the venue's: 300); want stale", d)
	}
	if got := a.Check(time.Unix(100, 0)); got != Backup {
		t.Fatalf("Check %d, stats %+v: want a rebuild from the backup", got, a.Stats())
	}
	deliverDay(a, Backup, day, 0)
	if a.Rebuilding() {
		t.Fatalf("rebuilt: feed stale; stats %+v", a.Stats())
	}
	if d := b.Depth(orderbook.Ask, 5, nil); b.Stale() || len(d) != 1 || d[0].Qty != 300 {
		t.Errorf("rebuilt: 000001 stale %v, asks %v; want valid, 300 offered", b.Stale(), d)
	}
	if d := sink.books[0].b.Depth(orderbook.Ask, 5, nil); sink.books[0].b.Stale() || len(d) != 1 || d[0].Qty != 900 {
		t.Errorf("rebuilt: 600519 stale %v, asks %v; want valid, 900 offered", sink.books[0].b.Stale(), d)
	}
}

// TestDirectoryInRebuildStale: a rebuild's stream maps 000001, which the
// stream delivered before never did (another stream, or one that skipped
// it), and goes on with its order of 500 and a cancel of 200 of it. In
// the rebuild's middle the book offers 500, behind the rebuild's end: it
// is stale, as every book the Restart cleared, until the Rebuilt, and
// valid then, 300 offered. Before, the Restart's Clear reached only the
// books already mapped, and 000001's was served valid in the middle.
func TestDirectoryInRebuildStale(t *testing.T) {
	s1, _ := itch.StockOf("600519")
	s2, _ := itch.StockOf("000001")
	msgs := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: s1, RoundLotSize: 100},
		{Type: itch.TypeStockDirectory, StockLocate: 2, Stock: s2, RoundLotSize: 100},
		{Type: itch.TypeAddOrder, StockLocate: 2, Stock: s2, OrderRef: 2, Side: itch.SideSell, Shares: 500, Price: 120000},
		{Type: itch.TypeOrderCancel, StockLocate: 2, OrderRef: 2, Shares: 200},
	}
	day := encodeDay(t, msgs, true)
	d, sink, deliver := newDecoderRig(t)
	deliver(day[0])
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(0)
	deliver(day[:3]...)
	b := sink.books[1].b
	if d := b.Depth(orderbook.Ask, 5, nil); !b.Stale() {
		t.Errorf("000001 first mapped in a rebuild's middle: valid, asks %v; want stale until the rebuild's end", d)
	}
	deliver(day[3])
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	if d := b.Depth(orderbook.Ask, 5, nil); b.Stale() || len(d) != 1 || d[0].Qty != 300 {
		t.Errorf("rebuilt: 000001 stale %v, asks %v; want valid, 300 offered", b.Stale(), d)
	}
}

package feed

import (
	"testing"
	"time"

	"sgw/feed/itch"
)

// TestPendingDivergenceRebuildPrints: a divergence whose skipper is not
// known yet is pending when a gap lost on both sources makes the feed
// rebuild from 1 with both sources live. In that rebuild the primary
// skips the day's 4 and numbers the rest one lower, while the backup's
// later messages wait in the window: the day's 6 (an execution removing
// the order 5 added, a print of 100) is delivered twice, the second copy
// refused for the order the first removed. The primary's next copy shows
// the divergence; its rebuild comes from the backup alone and delivers 6
// again, flagged replayed: its print, published once, must not be
// published again. Before, the books were told the sources disagree only
// at the first divergence before its rebuild (a Stale event, which makes
// them keep no refused print), and the pending one's outlived the gap's
// restart: the refusal was kept, and the last rebuild published the
// print a second time.
func TestPendingDivergenceRebuildPrints(t *testing.T) {
	sink := &bookSink{b: newPrintBook(t)}
	a := newArbiter(NewITCHDecoder(oneSymbol{}, sink), 64, 1, time.Second, time.Minute)
	stock, _ := itch.StockOf("600519")
	trade := func(qty, match uint64) itch.Message {
		return itch.Message{Type: itch.TypeTrade, StockLocate: 1, Stock: stock, Side: itch.SideBuy, Shares: qty, Price: 17000000, MatchNumber: match}
	}
	day := []itch.Message{
		{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: stock, RoundLotSize: 100},
		trade(200, 1),
		trade(70, 2),
		trade(50, 3),
		{Type: itch.TypeAddOrder, StockLocate: 1, Stock: stock, OrderRef: 5, Side: itch.SideSell, Shares: 100, Price: 17000000},
		{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 5, Shares: 100, MatchNumber: 4},
		trade(30, 5),
		trade(999, 9), // no message of the day: a differing copy
	}
	h := make([][]byte, len(day)+1) // h[i]: the day's message i
	for i := range day {
		day[i].Timestamp = 34200000000000 + uint64(i)
		b, err := itch.Append(nil, &day[i])
		if err != nil {
			t.Fatal(err)
		}
		h[i+1] = b
	}
	other := h[8]
	t0 := time.Unix(100, 0)

	// The day's 1 and 2 delivered, 3 lost on both; the backup's copy of
	// 4 differs from the primary's, and neither is found elsewhere: a
	// divergence whose skipper is unknown.
	a.SourceLive(Primary, 1)
	a.SourceLive(Backup, 1)
	for _, s := range []uint64{1, 2, 4, 5} {
		a.Offer(Primary, s, h[s], 0)
	}
	for _, s := range []uint64{1, 2, 4, 5} {
		m := h[s]
		if s == 4 {
			m = other
		}
		a.Offer(Backup, s, m, t0.Add(50*time.Second).UnixNano())
	}
	if a.Stats().Divergences != 1 {
		t.Fatalf("divergences %d, want 1", a.Stats().Divergences)
	}
	if got := a.Check(t0); got != Primary {
		t.Fatalf("Check %d, want the primary asked again", got)
	}
	a.SourceLive(Primary, 2)
	for _, s := range []uint64{2, 4, 5} {
		a.Offer(Primary, s, h[s], 0)
	}
	// The gap is lost while the divergence waits for its recovery time.
	src := a.Check(t0.Add(61 * time.Second))
	if src != Primary || a.Stats().Rebuilds != 1 {
		t.Fatalf("Check %d, rebuilds %d: want a rebuild from the primary", src, a.Stats().Rebuilds)
	}
	// The backup goes on: its 6 and 7 wait in the window. The primary
	// rebuilds, skipping the day's 4.
	a.Offer(Backup, 6, h[6], 0)
	a.Offer(Backup, 7, h[7], 0)
	a.SourceLive(Primary, 1)
	for i, d := range []int{1, 2, 3, 5, 6, 7} {
		a.Offer(Primary, uint64(i+1), h[d], 0)
	}
	src = a.Check(t0.Add(3 * time.Minute))
	if src != Backup || a.Stats().Rebuilds != 2 {
		t.Fatalf("Check %d, rebuilds %d: want a rebuild from the backup", src, a.Stats().Rebuilds)
	}
	a.SourceLive(Backup, 1)
	for s := uint64(1); s <= 7; s++ {
		a.Offer(Backup, s, h[s], 0)
	}
	if a.Rebuilding() {
		t.Fatal("still rebuilding")
	}
	seen := map[int64]int{}
	for _, q := range prints(sink.ups) {
		seen[q]++
	}
	for _, q := range []int64{200, 70, 50, 100, 30} {
		if seen[q] != 1 {
			t.Errorf("print of %d published %d times (all prints %v)", q, seen[q], prints(sink.ups))
		}
	}
	if v := sink.b.Volume(); v != 450 {
		t.Errorf("rebuilt volume %d, want 450", v)
	}
}

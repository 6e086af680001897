package gateway

import (
	"context"
	"testing"

	"sgw/feed"
	"sgw/feed/itch"
	"sgw/gateway/mdclient"
)

// TestWSRebuildPrintsNotRepeated: a trades subscriber gets two prints;
// then the feed rebuilds (messages were lost on every source): the
// decoder is told to restart, and the stream is delivered again from its
// first message, then a new print. The subscriber must get a resync
// notice at the reset (prints may have been lost), not the two prints it
// had a second time (with new seqs: it cannot tell them apart), and the
// new print. Before, every print of the day reached it again after each
// rebuild, and it was told nothing at the reset.
func TestWSRebuildPrintsNotRepeated(t *testing.T) {
	e := newWSEnv(t, WSConfig{AnonymousMarketData: true})
	ctx := context.Background()
	c := e.dial("")
	sym := testSymbols[0]
	if err := c.Subscribe(ctx, "trades", 0, nil, sym); err != nil {
		t.Fatal(err)
	}
	readAll(t, c, func(m mdclient.Message) bool { return m.Type == "subscribed" })

	// The stream as the arbiter delivered it: the directories (sent by
	// newTestBooks), then a resting sell on the first symbol, an
	// execution of 100 and a non-displayed trade of 200.
	d := e.books.in.(*feed.ITCHDecoder)
	stock, _ := itch.StockOf(e.books.ins[0].FeedSymbol)
	var day [][]byte
	for i, in := range e.books.ins {
		m := itch.Message{Type: itch.TypeStockDirectory, StockLocate: uint16(i + 1), RoundLotSize: 100}
		m.Stock, _ = itch.StockOf(in.FeedSymbol)
		b, err := itch.Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		day = append(day, b)
	}
	send := func(m itch.Message) {
		t.Helper()
		m.Timestamp = 34200000000000 + uint64(len(day))
		b, err := itch.Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Apply(b, 0); err != nil {
			t.Fatal(err)
		}
		day = append(day, b)
	}
	send(itch.Message{Type: itch.TypeAddOrder, StockLocate: 1, Stock: stock, OrderRef: 9001, Side: itch.SideSell, Shares: 1000, Price: 17000000})
	send(itch.Message{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 9001, Shares: 100, MatchNumber: 1})
	send(itch.Message{Type: itch.TypeTrade, StockLocate: 1, Stock: stock, Side: itch.SideBuy, Shares: 200, Price: 17001000, MatchNumber: 2})

	var prints []int64
	told := false
	read := func(until func(m mdclient.Message) bool) {
		t.Helper()
		readAll(t, c, func(m mdclient.Message) bool {
			if m.Ch == "trades" && m.Type == "" {
				prints = append(prints, m.Qty)
			}
			if m.Ch == "trades" && m.Type == "resync" {
				told = true
			}
			return until(m)
		})
	}
	read(func(mdclient.Message) bool { return len(prints) == 2 })
	if told || prints[0] != 100 || prints[1] != 200 {
		t.Fatalf("before the rebuild: prints %v, told %v; want [100 200], not told", prints, told)
	}

	// The rebuild, as the arbiter makes it: Restart, Replay with what
	// was delivered, the stream again from its first message, then the
	// first message not delivered before (an execution of 50).
	if err := d.Restart(); err != nil {
		t.Fatal(err)
	}
	d.Replay(uint64(len(day)))
	for _, b := range day {
		if err := d.Apply(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	send(itch.Message{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 9001, Shares: 50, MatchNumber: 3})
	if err := d.Rebuilt(); err != nil {
		t.Fatal(err)
	}
	prints = prints[:0]
	var toldFirst bool
	read(func(m mdclient.Message) bool {
		if m.Ch == "trades" && m.Type == "" && len(prints) == 1 {
			toldFirst = told
		}
		return m.Ch == "trades" && m.Type == "" && m.Qty == 50
	})
	if len(prints) != 1 {
		t.Fatalf("prints after the rebuild: %v, want [50] (100 and 200 were delivered before)", prints)
	}
	if !toldFirst {
		t.Fatal("the trades subscriber was not told, at the rebuild's reset, that prints may be missing")
	}
}

package gateway

import (
	"context"
	"strings"
	"testing"

	"sgw/feed"
	"sgw/feed/itch"
	"sgw/orderbook"
	"sgw/refdata"
)

// testBooks is a running order-book engine fed by hand with ITCH messages.
type testBooks struct {
	*orderbook.Engine
	in   feed.Sink // the feed's ITCH decoder
	ins  []refdata.Instrument
	ref  uint64
	ts   uint64
	sent uint64
	recv int64 // the receive time given with each message sent (0: none)
}

func newTestBooks(t testing.TB, symbols ...string) *testBooks {
	t.Helper()
	var ins []refdata.Instrument
	for _, s := range symbols {
		in := refdata.Instrument{Symbol: s, Board: refdata.BoardMain, PrevClose: 17000000}
		// The board the code is the exchange's (refdata CheckBoard).
		switch {
		case strings.HasSuffix(s, ".SZ") && strings.HasPrefix(s, "30"):
			in.Board = refdata.BoardChiNext
		case strings.HasSuffix(s, ".SH") && (strings.HasPrefix(s, "688") || strings.HasPrefix(s, "689")):
			in.Board = refdata.BoardSTAR
		}
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		ins = append(ins, in)
	}
	e, err := orderbook.New(orderbook.Config{Instruments: ins, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	tb := &testBooks{Engine: e, in: feed.NewITCHDecoder(e, e.NewInput("test")), ins: ins}
	for i, in := range ins {
		m := itch.Message{Type: itch.TypeStockDirectory, StockLocate: uint16(i + 1), RoundLotSize: 100}
		m.Stock, _ = itch.StockOf(in.FeedSymbol)
		tb.send(t, &m)
	}
	return tb
}

func (tb *testBooks) send(t testing.TB, m *itch.Message) {
	t.Helper()
	tb.ts++
	m.Timestamp = 34200000000000 + tb.ts
	b, err := itch.Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := tb.in.Apply(b, tb.recv); err != nil {
		t.Fatal(err)
	}
	if m.Type != itch.TypeStockDirectory { // the decoder keeps those
		tb.sent++
	}
}

// settle waits until the books have applied every message sent.
func (tb *testBooks) settle(t *testing.T) {
	t.Helper()
	waitUntil(t, func() bool { return tb.Stats().Messages >= tb.sent })
}

// add rests a new order and returns its reference.
func (tb *testBooks) add(t *testing.T, sym int, side byte, price refdata.Price, qty uint64) uint64 {
	t.Helper()
	tb.ref++
	m := itch.Message{Type: itch.TypeAddOrder, StockLocate: uint16(sym + 1), OrderRef: tb.ref, Side: side, Shares: qty, Price: uint32(price)}
	m.Stock, _ = itch.StockOf(tb.ins[sym].FeedSymbol)
	tb.send(t, &m)
	return tb.ref
}

// remove deletes an order.
func (tb *testBooks) remove(t *testing.T, sym int, ref uint64) {
	t.Helper()
	tb.send(t, &itch.Message{Type: itch.TypeOrderDelete, StockLocate: uint16(sym + 1), OrderRef: ref})
}

// execute executes shares of an order.
func (tb *testBooks) execute(t *testing.T, sym int, ref, qty uint64) {
	t.Helper()
	tb.ref++
	tb.send(t, &itch.Message{Type: itch.TypeOrderExecuted, StockLocate: uint16(sym + 1), OrderRef: ref, Shares: qty, MatchNumber: tb.ref})
}

// seq returns the published seq of symbol sym.
func (tb *testBooks) seq(sym int) uint64 {
	var v orderbook.View
	tb.View(orderbook.SymbolID(sym), 1, &v)
	return v.Seq
}

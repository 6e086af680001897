package mdbus

import (
	"context"
	"strings"
	"testing"

	"sgw/feed"
	"sgw/feed/itch"
	"sgw/gateway/mdclient"
	"sgw/orderbook"
	"sgw/refdata"
)

// TestEdgeRebuildPrintsNotRepeated: the ingest's feed rebuilds (messages
// were lost on every source) and delivers the day again, its prints
// flagged as replayed: the ingest's books count them again in last,
// volume, turnover and the day's open, high and low, and publish them as
// book updates, not as prints (orderbook.KindBook). Across NATS, an
// edge's WebSocket trades subscriber must get the resync notice at the
// reset and then only the new print, not the two it had again, and the
// edge's books must end equal to the ingest's, their open, high, low,
// last size and volume included. Before, this rule was tested on
// orderbook.Mirror alone.
func TestEdgeRebuildPrintsNotRepeated(t *testing.T) {
	n := startNATS(t)
	in := refdata.Instrument{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	g := &ingest{ins: []refdata.Instrument{in}}
	e, err := orderbook.New(orderbook.Config{Instruments: g.ins, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	g.e = e
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	d := feed.NewITCHDecoder(e, e.NewInput("test"))
	startPublisher(t, n, g, "")
	edge := serveEdge(t, startEdge(t, n, g, ""))

	stock, _ := itch.StockOf(in.FeedSymbol)
	var day [][]byte
	deliver := func(b []byte) {
		t.Helper()
		if err := d.Apply(b, 0); err != nil {
			t.Fatal(err)
		}
	}
	send := func(m itch.Message) {
		t.Helper()
		m.Timestamp = 34200000000000 + uint64(len(day))
		b, err := itch.Append(nil, &m)
		if err != nil {
			t.Fatal(err)
		}
		deliver(b)
		day = append(day, b)
	}
	send(itch.Message{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: stock, RoundLotSize: 100})
	send(itch.Message{Type: itch.TypeTradingAction, StockLocate: 1, Stock: stock, TradingState: 'T'})
	send(itch.Message{Type: itch.TypeAddOrder, StockLocate: 1, Stock: stock, OrderRef: 9001, Side: itch.SideSell, Shares: 1000, Price: 17000000})
	waitFor(t, "the edge to serve the book", func() bool {
		var v orderbook.View
		edge.Engine().View(0, 1, &v)
		return edge.Stale() == 0 && len(v.Asks) == 1
	})

	cctx, ccancel := context.WithTimeout(context.Background(), testBound)
	defer ccancel()
	// An edge just started refuses upgrades (503) until its WebSocket
	// side runs: dial again until then.
	var c *mdclient.Client
	waitFor(t, "the edge to take a connection", func() bool {
		c, _, err = mdclient.Dial(cctx, edge.url, mdclient.Options{})
		return err == nil || !strings.Contains(err.Error(), "got 503")
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Conn().CloseNow()
	if err := c.Subscribe(cctx, "trades", 0, nil, in.Symbol); err != nil {
		t.Fatal(err)
	}
	// warmUp is the size of the first print, which only shows the hub
	// has caught up (below); the prints the test counts are the others.
	const warmUp = 1
	var prints []int64
	told := false
	read := func(until func(m mdclient.Message) bool) {
		t.Helper()
		for {
			msgs, err := c.Next(cctx)
			if err != nil {
				t.Fatalf("read: %v", err)
			}
			stop := false
			for _, m := range msgs {
				if m.Ch == "trades" && m.Type == "" && m.Qty != warmUp {
					prints = append(prints, m.Qty)
				}
				if m.Ch == "trades" && m.Type == "resync" {
					told = true
				}
				stop = until(m) || stop
			}
			if stop {
				return
			}
		}
	}
	read(func(m mdclient.Message) bool { return m.Type == "subscribed" })
	// The edge's hub takes the snapshot the edge loaded (a KindReload in
	// the mirror's ring) on its own goroutine: on a loaded machine it may
	// take it after this client subscribed, and then tells it, rightly,
	// that prints up to the snapshot may be missing (a resync), and
	// leaves out, as in the snapshot, the prints the edge applied before
	// the hub loaded it. A print sent now, seen, or a resync in its
	// place, shows the hub past that load: what this test checks comes
	// after it. (Seen under a loaded -race run: a resync before the
	// prints, or the prints left out and the reads waiting for them.)
	send(itch.Message{Type: itch.TypeTrade, StockLocate: 1, Stock: stock, Side: itch.SideBuy, Shares: warmUp, Price: 17000000, MatchNumber: 100})
	sawWarmUp := false
	read(func(m mdclient.Message) bool {
		sawWarmUp = sawWarmUp || m.Ch == "trades" && m.Type == "" && m.Qty == warmUp
		return sawWarmUp || m.Ch == "trades" && m.Type == "resync"
	})
	told = false

	send(itch.Message{Type: itch.TypeOrderExecuted, StockLocate: 1, OrderRef: 9001, Shares: 100, MatchNumber: 1})
	send(itch.Message{Type: itch.TypeTrade, StockLocate: 1, Stock: stock, Side: itch.SideBuy, Shares: 200, Price: 17001000, MatchNumber: 2})
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
		deliver(b)
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

	// The edge's book ends where the ingest's is, statistics included.
	var want orderbook.View
	e.View(0, 20, &want)
	if want.Volume != 350+warmUp || want.Open != 17000000 || want.High != 17001000 || want.Low != 17000000 || want.LastQty != 50 {
		t.Fatalf("ingest view %+v: want volume %d, open and low 1700.0000, high 1700.1000, last size 50", want, 350+warmUp)
	}
	waitFor(t, "the edge at the ingest's seq", func() bool {
		var v orderbook.View
		edge.Engine().View(0, 1, &v)
		return v.Seq == want.Seq && edge.Stale() == 0
	})
	sameBooks(t, e, edge.Engine())
	if st := edge.Stats(); st.Snapshots != 1 || st.Gaps != 0 {
		t.Fatalf("edge stats %+v: the rebuild was mirrored by snapshots, not from its updates", st)
	}
}

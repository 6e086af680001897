package system

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sgw/configs"
	"sgw/orderbook"
	"sgw/sim"
)

// TestDemoBooksFromBothFeeds runs the demo as shipped: the Shanghai books
// come from the ITCH feed and the Shenzhen ones from SZSE Binary, both
// from the one matching engine of the simulator. With the flow paused,
// every book ends equal to the engine's own depth and valid (not stale),
// again after a range dropped on both SZSE sources and both primaries
// stopped, and the operator surface shows both feeds.
func TestDemoBooksFromBothFeeds(t *testing.T) {
	cfg, err := configs.LoadDemo()
	if err != nil {
		t.Fatal(err)
	}
	cfg.Gateway.HTTP = "127.0.0.1:0"
	cfg.Sim.Rate = 2000 // a busy day in a short test
	d, err := NewDemo(cfg, brokerLog())
	if err != nil {
		t.Fatal(err)
	}
	runDemo(t, d)
	brokerWaitUntil(t, "/readyz", func() bool { code, _ := brokerGet(t, d.BaseURL+"/readyz"); return code == 200 })
	books := d.Gateway.Books()
	sz, _ := books.Lookup("000001.SZ")
	brokerWaitUntil(t, "a Shenzhen book from SZSE Binary", func() bool {
		var v orderbook.View
		books.View(sz, 5, &v)
		return v.Seq > 200 && len(v.Bids) > 0 && len(v.Asks) > 0
	})
	d.Sim.Pause()

	var mismatch string
	equal := func() bool {
		mismatch = ""
		for _, in := range cfg.Instruments {
			id, _ := books.Lookup(in.Symbol)
			var v orderbook.View
			books.View(id, 20, &v)
			bids, asks := d.Sim.Depth(in.Symbol, 20)
			same := len(v.Bids) == len(bids) && len(v.Asks) == len(asks) && v.State != orderbook.StateStale
			for i := 0; same && i < len(bids); i++ {
				same = v.Bids[i].Price == bids[i].Price && v.Bids[i].Qty == bids[i].Qty
			}
			for i := 0; same && i < len(asks); i++ {
				same = v.Asks[i].Price == asks[i].Price && v.Asks[i].Qty == asks[i].Qty
			}
			if !same {
				mismatch = fmt.Sprintf("%s (%v):\n bids %v\n want %v\n asks %v\n want %v", in.Symbol, v.State, v.Bids, bids, v.Asks, asks)
				return false
			}
		}
		return true
	}
	settle := func(phase string) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !equal(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: a book differs from the matching engine's: %s", phase, mismatch)
			}
			time.Sleep(20 * time.Millisecond) // the books have no change notification here; poll them
		}
	}
	settle("clean")

	// Faults on both feeds while the flow runs: a range dropped on both
	// SZSE sources (recovered by ReTransmit), the SZSE primary and the
	// ITCH primary stopped (the backups carry on over TLS).
	last := d.Sim.SZSELast()
	for _, src := range []sim.Source{sim.SZSEPrimary, sim.SZSEBackup} {
		if err := d.Sim.DropRange(src, uint64(last)+5, uint64(last)+80); err != nil {
			t.Fatal(err)
		}
	}
	for _, src := range []sim.Source{sim.SZSEPrimary, sim.Primary} {
		if err := d.Sim.StopSource(src); err != nil {
			t.Fatal(err)
		}
	}
	d.Sim.Resume()
	brokerWaitUntil(t, "the flow to pass the dropped range", func() bool { return d.Sim.SZSELast() > last+300 })
	d.Sim.Pause()
	settle("after the faults")
	for _, want := range []string{`gateway_feed_source_up{feed="szse",source="backup"} 1`, `gateway_feed_stale{feed="szse"} 0`,
		`gateway_feed_stale{feed="cn"} 0`, `gateway_book_rejected_messages_total{reason="snapshot_mismatch"} 0`} {
		_, body := authGet(t, d.BaseURL+"/metrics", d.OperatorToken)
		if !strings.Contains(string(body), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
}

// runDemo runs d until the test ends (then stops it and checks that it
// stopped cleanly) and returns a context that ends with it.
func runDemo(t *testing.T, d interface{ Run(context.Context) error }) context.Context {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("demo: %v", err)
		}
	})
	return ctx
}

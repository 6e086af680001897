package mdbus

import (
	"testing"

	"sgw/orderbook"
)

// TestEdgeRebuildUnderFlowLosesNothing: the ingest books move on while an
// edge with one requester rebuilds 64 symbols from a real Publisher, so
// most symbols hear updates while queued, before their request goes out,
// and the edge drops those (apply: only the updates heard while a
// request is in flight are kept). Each dropped update must be in the
// snapshot: the publisher publishes a book's view before its update
// (orderbook's shard.publish), and takes a snapshot when the request,
// sent after the edge heard the update, reaches it. So every symbol is
// loaded exactly once, no later update finds a gap (a snapshot short of a
// dropped update would be served valid until the symbol's next update or
// heartbeat, then count a gap or a loss and be loaded again), and the
// books end equal to the ingest's.
func TestEdgeRebuildUnderFlowLosesNothing(t *testing.T) {
	const nsym = 64
	n := startNATS(t)
	g := newIngest(t, nsym)
	pub := startPublisher(t, n, g, "r")
	g.flow(t, 4*nsym)
	g.settle(t)
	cfg := EdgeConfig{Conn: n.connect(t), Books: orderbook.Config{Instruments: g.ins, Shards: 2}, Subject: "r",
		Buffer: 1 << 20, Requesters: 1, RequestTimeout: testBound, RetryInterval: testBound, Silence: testBound}
	e := startEdgeWith(t, cfg)
	before := pub.Stats().Published
	for e.Stats().Snapshots < nsym {
		if pub.Stats().Published-before > 1_000_000 {
			t.Fatalf("the edge loaded %d of %d snapshots in a million updates (stats %+v)", e.Stats().Snapshots, nsym, e.Stats())
		}
		g.flow(t, 32)
		g.settle(t)
	}
	during := pub.Stats().Published - before
	g.flow(t, 40*nsym) // every symbol's next updates: a gap shows
	synced(t, g, e.Edge)
	st := e.Stats()
	t.Logf("updates published during the rebuild %d; edge %+v", during, st)
	if st.Dropped != 0 || st.Disconnects != 0 || st.Silences != 0 || st.Failed != 0 {
		t.Fatalf("a fault this test does not make (stats %+v)", st)
	}
	if st.Gaps != 0 || st.Lost != 0 || st.Snapshots != nsym {
		t.Fatalf("%d gaps, %d losses, %d snapshots for %d symbols: an update lost around a snapshot (one dropped before the request missing from its snapshot, or one after it not kept) (stats %+v)",
			st.Gaps, st.Lost, st.Snapshots, nsym, st)
	}
}

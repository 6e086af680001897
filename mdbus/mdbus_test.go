package mdbus

import (
	"context"
	"sync/atomic"
	"testing"

	"sgw/orderbook"
)

// TestEdgesMirrorIngest: two edges that start after the stream began
// (snapshots at non-zero Seq, deltas arriving while they load) end with
// books equal to the ingest's: same Seq, levels, checksums, statistics.
func TestEdgesMirrorIngest(t *testing.T) {
	n := startNATS(t)
	g := newIngest(t, 8)
	startPublisher(t, n, g, "")
	g.flow(t, 3000)
	g.settle(t)
	edges := []*runningEdge{startEdge(t, n, g, ""), startEdge(t, n, g, "")}
	g.flow(t, 20000)
	for _, e := range edges {
		synced(t, g, e.Edge)
		if st := e.Stats(); st.Gaps != 0 || st.Malformed != 0 || st.Snapshots != 8 {
			t.Errorf("edge stats %+v: want no gap, 8 snapshots", st)
		}
	}
}

// TestEdgeGapRecovers: updates lost between the ingest and an edge make
// the symbol stale (published as such) until a snapshot rebuilds it; the
// edge then follows the stream again.
func TestEdgeGapRecovers(t *testing.T) {
	n := startNATS(t)
	g := newIngest(t, 4)
	startPublisher(t, n, g, "")
	var dropped atomic.Int64
	lost := g.ins[0].Symbol
	relay(t, n, "sgw.md", "lossy", func(sym string, k int) bool {
		if sym == lost && k >= 300 && k < 310 {
			dropped.Add(1)
			return true
		}
		return false
	})
	e := startEdge(t, n, g, "lossy")
	synced(t, g, e.Edge) // all 4 loaded at seq 1
	rd := e.Engine().NewReader(e.Engine().Shard(0))
	defer rd.Close()
	g.flow(t, 4000)
	waitFor(t, "the relay to drop", func() bool { return dropped.Load() == 10 })
	synced(t, g, e.Edge)
	if st := e.Stats(); st.Gaps != 1 || st.Snapshots != 5 {
		t.Errorf("edge stats %+v: want 1 gap, 5 snapshots", st)
	}
	// The ring shows the stale mark, then the reload from the snapshot.
	staled := false
	readRing(t, rd, func(u orderbook.Update) bool {
		if u.Symbol != 0 || u.Kind != orderbook.KindReload {
			return false
		}
		if u.State == orderbook.StateStale {
			staled = true
			return false
		}
		return staled
	})
}

// readRing reads rd's updates in order, passing each to f, until f
// returns true.
func readRing(t testing.TB, rd *orderbook.Reader, f func(orderbook.Update) bool) {
	t.Helper()
	buf := make([]orderbook.Update, 1024)
	for {
		if err := rd.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		n, err := rd.Next(buf)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range buf[:n] {
			if f(u) {
				return
			}
		}
	}
}

// TestEdgeNATSRestart: while the bus is down every symbol of every edge is
// stale; when it is back the edges rebuild from snapshots and follow the
// stream, equal to the ingest books.
func TestEdgeNATSRestart(t *testing.T) {
	n := startNATS(t)
	g := newIngest(t, 6)
	startPublisher(t, n, g, "")
	edges := []*runningEdge{startEdge(t, n, g, ""), startEdge(t, n, g, "")}
	g.flow(t, 2000)
	for _, e := range edges {
		synced(t, g, e.Edge)
	}
	n.restart(func() {
		for _, e := range edges {
			waitFor(t, "the edge to see the outage", func() bool { return e.Stale() == 6 })
			var v orderbook.View
			for _, id := range e.Engine().Symbols() {
				if e.Engine().View(id, 1, &v); v.State != orderbook.StateStale {
					t.Errorf("%d served as %v during the outage", id, v.State)
				}
			}
		}
		g.flow(t, 500) // lost for the edges
	})
	g.flow(t, 2000)
	for _, e := range edges {
		synced(t, g, e.Edge)
		if st := e.Stats(); st.Disconnects != 1 {
			t.Errorf("edge stats %+v: want 1 disconnect", st)
		}
	}
}

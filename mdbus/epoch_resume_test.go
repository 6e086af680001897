package mdbus

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"sgw/gateway/mdclient"
	"sgw/orderbook"
)

// TestEdgeResumeAcrossEpochWithoutChecksum: a client holds a book of
// ingest epoch 7 at seq k from edge X. The ingest is replaced (epoch 9,
// another book, numbered from 1 again), which edge Y follows from its
// start, and reaches seq k of its own numbering. The client resumes from
// k on Y without a checksum: Y must not go on from its own book at k
// (sending nothing more, the client would show epoch 7's book as valid
// for as long as the symbol stays quiet; sending updates, it would apply
// them to another book), but answer with a snapshot. Before, a resume
// without checksums was taken on trust.
func TestEdgeResumeAcrossEpochWithoutChecksum(t *testing.T) {
	n := startNATS(t)
	a := newIngest(t, 1)
	sym := a.ins[0].Symbol
	stopA := startEpochPublisher(t, n, a, 7)
	x, y := serveEdge(t, startEdge(t, n, a, "")), serveEdge(t, startEdge(t, n, a, ""))
	a.flow(t, 300)
	synced(t, a, x.Edge)
	synced(t, a, y.Edge)

	ctx, cancel := context.WithTimeout(context.Background(), testBound)
	defer cancel()
	c, _, err := mdclient.Dial(ctx, x.url, mdclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Conn().CloseNow()
	k := a.seqs()[0]
	if err := c.Subscribe(ctx, "book", 10, nil, sym); err != nil {
		t.Fatal(err)
	}
	for c.Books[sym] == nil || c.Books[sym].Seq < k {
		if _, err := c.Next(ctx); err != nil {
			t.Fatal(err)
		}
	}
	held := *c.Books[sym]

	// Epoch 9: another book, driven to seq k of its numbering.
	stopA()
	b := newIngest(t, 1)
	b.rng = rand.New(rand.NewPCG(2, 9))
	startEpochPublisher(t, n, b, 9)
	for b.seqs()[0] < k {
		b.flow(t, 1)
		b.settle(t)
	}
	synced(t, b, y.Edge)
	var v orderbook.View
	y.Engine().View(0, 10, &v)
	v.Bids, v.Asks = priceQty(v.Bids), priceQty(v.Asks) // what a client holds
	if slices.Equal(v.Bids, held.Bids) && slices.Equal(v.Asks, held.Asks) {
		t.Fatal("the two epochs' books are alike at the resume seq: the test shows nothing")
	}

	r, _, err := mdclient.Dial(ctx, y.url, mdclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Conn().CloseNow()
	r.Books, r.Stats = c.Books, c.Stats
	if err := r.Subscribe(ctx, "book", 10, map[string]uint64{sym: k}, sym); err != nil {
		t.Fatal(err)
	}
	if err := r.Send(ctx, map[string]any{"op": "ping", "id": "after"}); err != nil {
		t.Fatal(err)
	}
	for pong := false; !pong; {
		msgs, err := r.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			pong = pong || m.Type == "pong"
		}
	}
	got := r.Books[sym]
	if r.Stats.Snapshots == c.Stats.Snapshots || got.Seq != v.Seq || !slices.Equal(got.Bids, v.Bids) || !slices.Equal(got.Asks, v.Asks) {
		t.Fatalf("resumed without a checksum from seq %d of epoch 7 on an edge at seq %d of epoch 9: %d snapshots, %d checksum failures; the client holds seq %d bids %v asks %v, the edge bids %v asks %v",
			k, v.Seq, r.Stats.Snapshots-c.Stats.Snapshots, r.Stats.ChecksumFailures, got.Seq, got.Bids, got.Asks, v.Bids, v.Asks)
	}
}

// startEpochPublisher runs a Publisher of g's books in epoch on its own
// connection, and returns what stops it (also called at the test's end).
func startEpochPublisher(t testing.TB, n *natsServer, g *ingest, epoch uint64) (stop func()) {
	t.Helper()
	p, err := NewPublisher(PublisherConfig{Conn: n.connect(t), Books: g.e, Epoch: epoch})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := p.Run(ctx); err != nil {
			t.Errorf("publisher: %v", err)
		}
	}()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// priceQty returns levels with their prices and sizes only, as a
// WebSocket client holds them.
func priceQty(levels []orderbook.Level) []orderbook.Level {
	out := make([]orderbook.Level, len(levels))
	for i, l := range levels {
		out[i] = orderbook.Level{Price: l.Price, Qty: l.Qty}
	}
	return out
}

package mdbus

import (
	"context"
	"encoding/binary"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sgw/orderbook"
)

// lappedBooks are an ingest Engine whose next NewReader returns a
// Reader the test made earlier, behind the ring by now: a publisher
// that fell behind its books while it ran.
type lappedBooks struct {
	*orderbook.Engine
	next []*orderbook.Reader // by shard
}

func (b *lappedBooks) NewReader(shard int) *orderbook.Reader {
	if rd := b.next[shard]; rd != nil {
		b.next[shard] = nil
		return rd
	}
	return b.Engine.NewReader(shard)
}

// TestPublisherLappedRevealsLostTail: the publisher falls a whole ring
// behind its books, so it never publishes the updates it skipped; the
// symbols then go quiet, so no gap reveals the loss to an edge. Its
// heartbeat names each skipped symbol's Seq: the edge goes stale and
// rebuilds it from a snapshot instead of serving the old book as valid.
func TestPublisherLappedRevealsLostTail(t *testing.T) {
	n := startNATS(t)
	g := newIngestRing(t, 4, 16)
	g.flow(t, 50)
	books := &lappedBooks{Engine: g.e, next: make([]*orderbook.Reader, g.e.Shards())}
	p, err := NewPublisher(PublisherConfig{Conn: n.connect(t), Books: books, Subject: "md", Epoch: 5, Heartbeat: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	run := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			if err := p.RunEpoch(ctx, 5); err != nil {
				t.Errorf("publisher: %v", err)
			}
		}()
		return func() { cancel(); <-done }
	}
	stop := run()
	t.Cleanup(func() { stop() })
	e := startEdgeWith(t, EdgeConfig{Conn: n.connect(t), Books: orderbook.Config{Instruments: g.ins, Shards: 2}, Subject: "md",
		RetryInterval: 20 * time.Millisecond, Silence: time.Hour}).Edge
	synced(t, g, e)

	// The publisher stops reading while the books move on by more than a
	// ring, then reads again from where it was.
	stop()
	for sh := range books.next {
		books.next[sh] = g.e.NewReader(sh)
	}
	g.flow(t, 200)
	g.settle(t)
	stop = run()
	synced(t, g, e)
	if st, ps := e.Stats(), p.Stats(); st.Lost == 0 || ps.Lapped == 0 {
		t.Errorf("edge %+v, publisher %+v: want a lap, and losses the heartbeat revealed", st, ps)
	}
}

// TestPublisherLeavesNewerEpochRequests: a snapshot request naming an
// epoch newer than the publisher's is not answered (the publisher of that
// epoch answers it); one naming the publisher's epoch, an older one or
// none is. The publisher answers in order on one connection, so the
// replies come in the order of the requests.
func TestPublisherLeavesNewerEpochRequests(t *testing.T) {
	n := startNATS(t)
	g := newIngest(t, 1)
	p, err := NewPublisher(PublisherConfig{Conn: n.connect(t), Books: g.e, Subject: "md", Epoch: 5, Heartbeat: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	nc := n.connect(t)
	inbox := nats.NewInbox()
	sub, err := nc.SubscribeSync(inbox + ".*")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the publisher's subscription", func() bool {
		m, err := nc.Request("md.snap."+g.ins[0].Symbol, nil, testBound)
		return err == nil && len(m.Data) > 0
	})
	requests := []struct {
		name string
		body []byte
	}{
		{name: "newer", body: binary.AppendUvarint(nil, 6)},
		{name: "same", body: binary.AppendUvarint(nil, 5)},
		{name: "older", body: binary.AppendUvarint(nil, 4)},
		{name: "none"},
	}
	for _, rq := range requests {
		if err := nc.PublishRequest("md.snap."+g.ins[0].Symbol, inbox+"."+rq.name, rq.body); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	var msg Message
	for range 3 {
		m, err := sub.NextMsg(testBound)
		if err != nil {
			t.Fatal(err)
		}
		if err := Decode(m.Data, &msg); err != nil || msg.Type != TypeSnapshot || msg.Epoch != 5 {
			t.Fatalf("reply %q: %v, %+v", m.Subject, err, msg)
		}
		got = append(got, strings.TrimPrefix(m.Subject, inbox+"."))
	}
	if want := []string{"same", "older", "none"}; !slices.Equal(got, want) {
		t.Fatalf("replies to %v; want %v", got, want)
	}
}

// TestPublisherConnClosedEndsRun: the publisher's connection is closed for
// good (nats.go gives up after MaxReconnects; an -ERR it does not retry
// does the same). RunEpoch returns an error wrapping ErrConnClosed, so
// that the ingest process stops (a cluster node's term ends) and its
// supervisor restarts it; a later RunEpoch on that connection returns it
// at once. Before, RunEpoch went on publishing into the closed
// connection, every update and heartbeat refused, while the edges heard a
// silent publisher and served only stale books.
func TestPublisherConnClosedEndsRun(t *testing.T) {
	n := startNATS(t)
	g := newIngest(t, 2)
	nc := n.connectOnce(t)
	p, err := NewPublisher(PublisherConfig{Conn: nc, Books: g.e, Subject: "md", Heartbeat: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.RunEpoch(ctx, 3) }()
	waitFor(t, "a heartbeat", func() bool { return p.Stats().Beats > 0 })
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnClosed) {
			t.Fatalf("RunEpoch returned %v, want ErrConnClosed", err)
		}
		if !nc.IsClosed() {
			t.Fatal("RunEpoch returned while the connection was not closed")
		}
	case <-time.After(testBound):
		t.Fatalf("RunEpoch still running %v after its connection closed (closed %v, stats %+v)", testBound, nc.IsClosed(), p.Stats())
	}
	if err := p.RunEpoch(ctx, 4); !errors.Is(err, ErrConnClosed) {
		t.Fatalf("RunEpoch on the closed connection returned %v, want ErrConnClosed", err)
	}
}

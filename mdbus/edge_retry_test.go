package mdbus

import (
	"context"
	"errors"
	"maps"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sgw/orderbook"
)

// noResponder runs a publisher of epoch 7 of nsym symbols at seq 5 that
// beats every 20 ms but has no snapshot subscription, and an edge of them
// retrying from 5 ms up to 320 ms. Every snapshot request the edge makes
// is answered by NATS at once with "no responders".
func noResponder(t *testing.T, nsym int) (*natsServer, *handPub, *runningEdge, EdgeConfig) {
	t.Helper()
	n := startNATS(t)
	ins := testInstruments(nsym)
	p := &handPub{t: t, nc: n.connect(t), epoch: 7, last: map[string]orderbook.Update{}}
	for _, in := range ins {
		p.send(in.Symbol, 5, orderbook.StateTrading)
	}
	beating(t, p, 20*time.Millisecond)
	cfg := handEdge(n.connect(t), ins)
	cfg.Silence, cfg.RetryInterval, cfg.RetryMax = testBound, 5*time.Millisecond, 320*time.Millisecond
	return n, p, startEdgeWith(t, cfg), cfg
}

// retryRounds is how many requests per symbol noResponder's tests wait
// for, and minRetryWait the least time they take with the backoff: the
// rounds after the first wait 5, 10, 20, ... 320, 320 ms. Each symbol's
// next request waits for the next retry round, and the rounds follow one
// timer, so the edge cannot have made retryRounds*nsym requests sooner.
// Without the backoff the rounds came every 5 ms (RetryInterval): with N
// instruments, 200*N requests a second for as long as it lasted.
const retryRounds = 10

var minRetryWait = func() time.Duration {
	var sum time.Duration
	for i, w := 0, 5*time.Millisecond; i < retryRounds-1; i++ {
		sum += w
		w = min(2*w, 320*time.Millisecond)
	}
	return sum
}()

// TestEdgeNoResponderBacksOff: heartbeats flow, but nothing answers the
// edge's snapshot requests (the publisher's snapshot subscription is
// gone, or its user may not subscribe to the request subject). The edge
// keeps every symbol stale, and its retries back off, doubling to
// RetryMax: retryRounds requests per symbol take at least minRetryWait.
// Before, it asked for every stale symbol every RetryInterval (200 ms by
// default: five times the instruments a second against the NATS cluster).
func TestEdgeNoResponderBacksOff(t *testing.T) {
	const nsym = 20
	start := time.Now()
	_, _, e, cfg := noResponder(t, nsym)
	waitFor(t, "the edge's requests, unanswered", func() bool { return e.Stats().Failed >= retryRounds*nsym })
	elapsed := time.Since(start)
	e.stop()
	st := e.Stats()
	t.Logf("%d requests unanswered in %v (stats %+v)", st.Failed, elapsed, st)
	if st.Snapshots != 0 || st.Stale != nsym || st.Heartbeats == 0 {
		t.Fatalf("stats %+v: want every symbol stale, no snapshot, heartbeats heard", st)
	}
	if elapsed < minRetryWait {
		t.Fatalf("%d requests for %d symbols in %v: the retries do not back off (at least %v with it)", st.Failed, nsym, elapsed, minRetryWait)
	}
	if e.retryWait != cfg.RetryMax {
		t.Fatalf("retry wait %v after %d rounds, want RetryMax %v", e.retryWait, retryRounds, cfg.RetryMax)
	}
}

// TestEdgeResponderBackAfterBackoff: once a responder appears, an edge
// whose retries backed off loads every symbol at its next round, and its
// wait goes back to RetryInterval.
func TestEdgeResponderBackAfterBackoff(t *testing.T) {
	const nsym = 20
	n, p, e, cfg := noResponder(t, nsym)
	waitFor(t, "the edge's requests, unanswered", func() bool { return e.Stats().Failed >= retryRounds*nsym })
	if _, stale := view(e.Edge, 0); !stale || e.Stats().Snapshots != 0 {
		t.Fatalf("stats %+v: a symbol served valid with no snapshot", e.Stats())
	}
	r := newHandPub(t, n, 7) // answers with p's books
	p.mu.Lock()
	last := maps.Clone(p.last)
	p.mu.Unlock()
	r.mu.Lock()
	r.last = last
	r.mu.Unlock()
	waitFor(t, "every symbol loaded from the responder", func() bool { return e.Stats().Stale == 0 })
	e.stop()
	if st := e.Stats(); st.Snapshots != nsym {
		t.Fatalf("stats %+v: want %d snapshots", st, nsym)
	}
	if e.retryWait != cfg.RetryInterval {
		t.Fatalf("retry wait %v after the snapshots loaded, want RetryInterval %v", e.retryWait, cfg.RetryInterval)
	}
}

// TestEdgeConnClosedEndsRun: the edge's connection is closed for good
// (here nats.go gives up after MaxReconnects; an -ERR the client does not
// retry does the same). Run returns an error wrapping ErrConnClosed, so
// that the gateway stops and its supervisor restarts it. Before, Run went
// on with every symbol stale for ever, which only /readyz told.
func TestEdgeConnClosedEndsRun(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(1)
	p := newHandPub(t, n, 7)
	p.send(ins[0].Symbol, 5, orderbook.StateTrading)
	nc := n.connectOnce(t)
	e, err := NewEdge(handEdge(nc, ins))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	waitFor(t, "the first snapshot", func() bool { return e.Stale() == 0 })
	n.srv.Shutdown()
	n.srv.WaitForShutdown()
	select {
	case err := <-done:
		if !errors.Is(err, ErrConnClosed) {
			t.Fatalf("Run returned %v, want ErrConnClosed", err)
		}
		if !nc.IsClosed() {
			t.Fatal("Run returned while the connection was not closed")
		}
	case <-time.After(testBound):
		t.Fatalf("Run still running %v after its connection closed (closed %v, stats %+v)", testBound, nc.IsClosed(), e.Stats())
	}
}

// TestEdgeLoadBringsRetryForward: a symbol whose retries backed off (here
// to a wait longer than testBound, set before Run as after many rounds
// unanswered) is asked again soon after another symbol's snapshot loads,
// which shows a responder is back, not at the round armed with the
// backed-off wait. The responder refuses B until A's request, held until
// then, is answered.
func TestEdgeLoadBringsRetryForward(t *testing.T) {
	n := startNATS(t)
	ins := testInstruments(2)
	symA := ins[0].Symbol
	var up atomic.Bool
	gate := make(chan struct{})
	open := sync.OnceFunc(func() { close(gate) })
	t.Cleanup(open)
	rnc := n.connect(t)
	if _, err := rnc.Subscribe("t.snap.>", func(m *nats.Msg) {
		sym := strings.TrimPrefix(m.Subject, "t.snap.")
		v := orderbook.View{Seq: 1, State: orderbook.StateTrading, Checksum: emptyCk10, Checksum5: emptyCk5}
		switch {
		case sym == symA:
			go func() { <-gate; m.Respond(AppendSnapshot(nil, 7, sym, &v)) }()
		case up.Load():
			m.Respond(AppendSnapshot(nil, 7, sym, &v))
		default:
			m.Respond(AppendError(nil, 7, sym, "unknown symbol"))
		}
	}); err != nil {
		t.Fatal(err)
	}
	if err := rnc.Flush(); err != nil {
		t.Fatal(err)
	}
	cfg := handEdge(n.connect(t), ins)
	cfg.RetryInterval, cfg.RetryMax, cfg.RequestTimeout = time.Millisecond, 2*testBound, testBound
	e, err := NewEdge(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.retryWait = cfg.RetryMax // backed off; Run has not started
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "B refused", func() bool { return e.Stats().Failed == 1 })
	up.Store(true)
	open()
	waitFor(t, "A, then B, loaded", func() bool { return e.Stale() == 0 })
	if st := e.Stats(); st.Snapshots != 2 || st.Failed != 1 {
		t.Errorf("stats %+v: want 2 snapshots, 1 failure", st)
	}
}

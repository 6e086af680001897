package orderbook

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync/atomic"
	"testing"
)

// TestViewBeforeUpdate: once a Reader has an Update, a View of its symbol
// is at least at its Seq (shard.publish: the view first, then the ring).
// mdbus's edge relies on it: an update it heard before asking for a
// snapshot is not kept, as the publisher's View, taken after the request,
// holds it (TestEdgeRebuildUnderFlowLosesNothing). Were the ring written
// first, a snapshot could lack an update the edge dropped, and the edge
// serve a book short of it as valid.
func TestViewBeforeUpdate(t *testing.T) {
	ins := testInstruments(4)
	e, err := New(Config{Instruments: ins, Shards: 1, RingSize: 1 << 16})
	if err != nil {
		t.Fatal(err)
	}
	evs := itchEvents(t, e, genStream(t, rand.New(rand.NewPCG(3, 4)), ins, 20000, 1))
	rd := e.NewReader(0)
	defer rd.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var read atomic.Uint64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]Update, 64)
		var v View
		behind := 0
		for {
			if err := rd.Wait(ctx); err != nil {
				return
			}
			k, err := rd.Next(buf)
			if errors.Is(err, ErrLapped) {
				t.Errorf("reader lapped")
				return
			}
			for i := range buf[:k] {
				u := &buf[i]
				if e.View(u.Symbol, 1, &v); v.Seq < u.Seq {
					behind++
					t.Errorf("update of %d at seq %d read from the ring while its view is at %d", u.Symbol, u.Seq, v.Seq)
				}
			}
			read.Add(uint64(k))
			if behind > 10 {
				return
			}
		}
	}()
	startEngine(t, e)
	feed(t, e.NewInput("a"), evs)
	waitFor(t, "every event", func() bool { return e.Stats().Messages == uint64(len(evs)) })
	waitFor(t, "the reader to read every update", func() bool { return read.Load() == e.Stats().Updates || t.Failed() })
	cancel()
	<-done
	if read.Load() < uint64(len(evs))/2 {
		t.Fatalf("checked %d updates of %d events", read.Load(), len(evs))
	}
}

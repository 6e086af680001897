package orderbook

import (
	"runtime"
	"sync/atomic"

	"sgw/feed/event"
)

// batch is the most messages a writer takes from one queue before it moves
// on to the next, so one busy feed cannot starve another.
const batch = 256

// idlePolls is how many empty polls (each followed by a yield) a writer
// makes before it parks.
const idlePolls = 16

// shard is one writer goroutine's share of the books: the queues from
// every Input, the broadcast ring and the counters. All fields not marked
// otherwise belong to the writer goroutine.
type shard struct {
	e    *Engine
	id   int
	ring *ring

	queues atomic.Pointer[[]*queue] // one per Input; copy on write

	sleeping atomic.Int32 // 1 while the writer is parked (or about to)
	wake     chan struct{}
	_        [cacheLine]byte

	cnt     shardCounts // writer-local running totals
	flushed shardCounts // cnt as of the last flush
	pub     shardStats  // published copy for Stats
}

// shardCounts are a shard writer's counters.
type shardCounts struct {
	messages, updates                                       uint64
	unknownOrder, duplicateOrder, overExecution, badMessage uint64
	mismatch, repeated                                      uint64
}

// shardStats mirrors shardCounts for other goroutines.
type shardStats struct {
	messages, updates                                       atomic.Uint64
	unknownOrder, duplicateOrder, overExecution, badMessage atomic.Uint64
	mismatch, repeated                                      atomic.Uint64
	_                                                       [cacheLine]byte
}

func newShard(e *Engine, id int) *shard {
	s := &shard{e: e, id: id, ring: newRing(e.ringSize, e.done), wake: make(chan struct{}, 1)}
	s.queues.Store(&[]*queue{})
	return s
}

// wakeup unparks the writer if it is parked. Any goroutine may call it.
func (s *shard) wakeup() {
	if s.sleeping.CompareAndSwap(1, 0) {
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// run is the writer loop: drain the queues, park when they are empty.
func (s *shard) run(stop *atomic.Bool) {
	var u Update
	idle := 0
	for !stop.Load() {
		if s.drain(&u) > 0 {
			idle = 0
			continue
		}
		if idle < idlePolls {
			idle++
			runtime.Gosched()
			continue
		}
		s.sleeping.Store(1)
		// Re-check after announcing: a producer either sees sleeping
		// and wakes us, or we see its message here.
		if s.pending() || stop.Load() {
			s.sleeping.Store(0)
			continue
		}
		<-s.wake
		s.sleeping.Store(0)
		idle = 0
	}
}

// pending reports whether any queue holds a message.
func (s *shard) pending() bool {
	for _, q := range *s.queues.Load() {
		if q.tail.Load() != q.chead {
			return true
		}
	}
	return false
}

// drain processes up to one batch from each queue and returns the number
// of messages processed.
func (s *shard) drain(u *Update) int {
	total := 0
	for _, q := range *s.queues.Load() {
		h := q.chead
		t := q.tail.Load()
		if t == h {
			continue
		}
		t = min(t, h+batch)
		for ; h < t; h++ {
			s.process(&q.slots[h&q.mask].ev, u, q.in)
		}
		total += int(t - q.chead)
		q.release(t)
	}
	if total > 0 {
		s.flush()
		s.ring.wake()
	}
	return total
}

// process applies one event from in (nil: none, in benchmarks) and
// publishes the result.
func (s *shard) process(ev *event.Event, u *Update, in *Input) {
	s.cnt.messages++
	if ev.Kind == event.System {
		s.e.systemEvent.Store(uint32(ev.Code))
		return
	}
	b := s.e.books[ev.Symbol]
	wrong := b.wrong
	ok := b.Apply(ev, u)
	if b.lastErr != nil {
		s.count(b.lastErr)
	}
	if b.wrong != wrong {
		b.wrongChanged(in)
	}
	if ok {
		u.Recv = ev.Recv
		s.publish(b, u)
	} else if b.Differs() != b.pubDiffers {
		// Found different while already stale (an outage, a rebuild):
		// no Update, but Engine.Differs must see it.
		s.e.publishView(b)
	}
	if ev.Kind == event.Clear && in != nil {
		// After wrongChanged (Input.Missed) and the Clear's view
		// (Input.Clearing).
		in.cleared.Add(1)
	}
}

// publish makes one Update visible: the symbol's views first, then the
// ring entry, so that a Reader positioned before a View never misses an
// Update newer than the View, and a View taken once an Update was read
// holds it (mdbus's edge drops the updates it heard before asking for a
// snapshot: TestViewBeforeUpdate).
func (s *shard) publish(b *Book, u *Update) {
	s.e.publishView(b)
	s.ring.put(u)
	s.cnt.updates++
}

func (s *shard) count(err error) {
	switch err {
	case ErrUnknownOrder:
		s.cnt.unknownOrder++
	case ErrDuplicateOrder:
		s.cnt.duplicateOrder++
	case ErrOverExecution:
		s.cnt.overExecution++
	case ErrSnapshotMismatch:
		s.cnt.mismatch++
	case ErrRepeatedExecution:
		s.cnt.repeated++
	default:
		s.cnt.badMessage++
	}
}

// flush publishes the counters that changed since the last flush.
func (s *shard) flush() {
	c, f, p := &s.cnt, &s.flushed, &s.pub
	if c.messages != f.messages {
		p.messages.Store(c.messages)
	}
	if c.updates != f.updates {
		p.updates.Store(c.updates)
	}
	if c.unknownOrder != f.unknownOrder || c.duplicateOrder != f.duplicateOrder ||
		c.overExecution != f.overExecution || c.badMessage != f.badMessage || c.mismatch != f.mismatch ||
		c.repeated != f.repeated {
		p.unknownOrder.Store(c.unknownOrder)
		p.duplicateOrder.Store(c.duplicateOrder)
		p.overExecution.Store(c.overExecution)
		p.badMessage.Store(c.badMessage)
		p.mismatch.Store(c.mismatch)
		p.repeated.Store(c.repeated)
	}
	*f = *c
}

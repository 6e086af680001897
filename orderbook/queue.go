package orderbook

import (
	"sync/atomic"
	"unsafe"

	"sgw/feed/event"
)

// qslot is one queued event, padded to a 64-byte cache line (an Event
// larger than that does not compile). The padding comes first: a
// zero-size last field would be padded itself.
type qslot struct {
	_  [64 - unsafe.Sizeof(event.Event{})]byte
	ev event.Event
}

// queue is the single-producer single-consumer queue of events from one
// Input to one shard. The producer (the Input's goroutine) writes a slot and then
// publishes it by storing tail; the consumer (the shard's writer) reads
// slots below tail in place and then releases them by storing head, so
// slot contents are ordered by those atomics and need no other
// synchronisation. Each side caches the other's index to touch the shared
// cache lines only when it must.
type queue struct {
	tail atomic.Uint64 // written by the producer
	_    [cacheLine - 8]byte
	head atomic.Uint64 // written by the consumer
	_    [cacheLine - 8]byte

	// Producer-local.
	ptail     uint64
	headCache uint64
	_         [cacheLine - 16]byte

	// Consumer-local.
	chead uint64
	_     [cacheLine - 8]byte

	// Read-only after NewInput.
	in    *Input // the producer
	slots []qslot
	mask  uint64
	size  uint64

	// Backpressure: the producer parks on space when the queue is full.
	waiting atomic.Int32
	space   chan struct{}
}

func newQueue(size int) *queue {
	return &queue{
		slots: alignedSlice[qslot](size),
		mask:  uint64(size - 1),
		size:  uint64(size),
		space: make(chan struct{}, 1),
	}
}

// push appends an event and reports false if the queue is full. Producer
// only.
func (q *queue) push(ev *event.Event) bool {
	t := q.ptail
	if t-q.headCache >= q.size {
		q.headCache = q.head.Load()
		if t-q.headCache >= q.size {
			return false
		}
	}
	q.slots[t&q.mask].ev = *ev
	q.ptail = t + 1
	q.tail.Store(t + 1)
	return true
}

// full reports whether the queue is still full. Producer only.
func (q *queue) full() bool {
	q.headCache = q.head.Load()
	return q.ptail-q.headCache >= q.size
}

// release frees the slots below h and wakes a producer parked for space.
// Consumer only.
func (q *queue) release(h uint64) {
	q.chead = h
	q.head.Store(h)
	if q.waiting.Load() != 0 && q.waiting.CompareAndSwap(1, 0) {
		select {
		case q.space <- struct{}{}:
		default:
		}
	}
}

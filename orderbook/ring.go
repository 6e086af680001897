package orderbook

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"
)

// ring is a shard's broadcast ring of Updates: one writer (the shard's
// goroutine), any number of Readers with their own cursors and no locks.
// Entry p (0, 1, 2, ...) lives in slot p & mask; entries [head-size, head)
// are readable. A slot's seq is 2p+1 while entry p is being written and
// 2p+2 once it is complete, which lets a reader detect both an entry that
// was overwritten before it got there and one overwritten while it copied.
type ring struct {
	head atomic.Uint64 // next entry to write; read by every Reader
	_    [cacheLine - 8]byte

	// Read-only after newRing.
	mask  uint64
	size  uint64
	slots []ringSlot
	done  <-chan struct{} // closed when the Engine's Run returns
	_     [cacheLine - 48]byte

	next uint64 // the writer's copy of head
	_    [cacheLine - 8]byte

	// Readers and their parking, see Reader.Wait.
	mu      sync.Mutex                // serialises NewReader and Close only
	readers atomic.Pointer[[]*Reader] // copy on write
	waiters atomic.Int32              // Readers parked in Wait
	lapped  atomic.Uint64             // ErrLapped count for Stats
}

type ringSlot struct {
	seq atomic.Uint64
	u   Update
	_   [256 - 8 - unsafe.Sizeof(Update{})]byte
}

func newRing(size int, done <-chan struct{}) *ring {
	r := &ring{mask: uint64(size - 1), size: uint64(size), done: done}
	r.slots = alignedSlice[ringSlot](size)
	r.readers.Store(&[]*Reader{})
	return r
}

// put appends u. Only the shard's writer calls it.
func (r *ring) put(u *Update) {
	p := r.next
	s := &r.slots[p&r.mask]
	s.seq.Store(2*p + 1)
	storeWords(unsafe.Pointer(&s.u), unsafe.Pointer(u), updateWords)
	s.seq.Store(2*p + 2)
	r.next = p + 1
	r.head.Store(p + 1)
}

// wake unparks the Readers waiting for entries. The writer calls it after
// a batch of puts; it costs one atomic load when nobody waits.
func (r *ring) wake() {
	if r.waiters.Load() == 0 {
		return
	}
	for _, rd := range *r.readers.Load() {
		if rd.waiting.CompareAndSwap(1, 0) {
			r.waiters.Add(-1)
			select {
			case rd.wake <- struct{}{}:
			default:
			}
		}
	}
}

// Reader follows one shard's stream of Updates. It is used by one
// goroutine at a time; create one per consumer with Engine.NewReader and
// Close it when done. Readers never slow the writer: one that falls more
// than a ring (Config.RingSize) behind is lapped.
type Reader struct {
	r       *ring
	pos     uint64
	waiting atomic.Int32 // 1 while parked in Wait
	wake    chan struct{}
}

// NewReader returns a Reader of shard's Updates positioned at the current
// head: it sees Updates published from now on. To follow a symbol, create
// the Reader first, then take a View and skip Updates with Seq <= View.Seq.
// It may be called from any goroutine; shard must be in [0, Shards()).
func (e *Engine) NewReader(shard int) *Reader {
	r := e.shards[shard].ring
	rd := &Reader{r: r, wake: make(chan struct{}, 1)}
	r.mu.Lock()
	old := *r.readers.Load()
	list := make([]*Reader, len(old), len(old)+1)
	copy(list, old)
	list = append(list, rd)
	r.readers.Store(&list)
	r.mu.Unlock()
	rd.pos = r.head.Load()
	return rd
}

// Close unregisters the Reader from its shard's wake-up list. The Reader
// must not be used afterwards.
func (rd *Reader) Close() {
	r := rd.r
	r.mu.Lock()
	old := *r.readers.Load()
	list := make([]*Reader, 0, len(old))
	for _, x := range old {
		if x != rd {
			list = append(list, x)
		}
	}
	r.readers.Store(&list)
	r.mu.Unlock()
	if rd.waiting.CompareAndSwap(1, 0) {
		r.waiters.Add(-1)
	}
}

// Next copies the available Updates, oldest first, into dst and returns
// how many it copied; 0 with a nil error means none is available. It never
// blocks. If the writer has overwritten Updates the Reader had not read,
// Next returns ErrLapped and repositions the Reader at the head; the owner
// must then resnapshot its symbols with Engine.View. Next does not
// allocate.
func (rd *Reader) Next(dst []Update) (int, error) {
	r := rd.r
	h := r.head.Load()
	if h-rd.pos > r.size {
		return 0, rd.lap()
	}
	n := 0
	for ; rd.pos < h && n < len(dst); n++ {
		s := &r.slots[rd.pos&r.mask]
		want := 2*rd.pos + 2
		if s.seq.Load() != want {
			return 0, rd.lap()
		}
		loadWords(unsafe.Pointer(&dst[n]), unsafe.Pointer(&s.u), updateWords)
		if s.seq.Load() != want {
			return 0, rd.lap()
		}
		rd.pos++
	}
	return n, nil
}

func (rd *Reader) lap() error {
	rd.r.lapped.Add(1)
	rd.pos = rd.r.head.Load()
	return ErrLapped
}

// Pending returns how many Updates are available to Next (more than the
// ring size means the Reader has been lapped).
func (rd *Reader) Pending() int { return int(rd.r.head.Load() - rd.pos) }

// Wait blocks until an Update is available (or the Reader is lapped), ctx
// is done (returning ctx.Err()) or the Engine stops (ErrClosed). It parks
// the goroutine rather than spinning, and the writer wakes it after its
// next batch. It does not allocate.
func (rd *Reader) Wait(ctx context.Context) error {
	r := rd.r
	for {
		if r.head.Load() != rd.pos {
			return nil
		}
		rd.waiting.Store(1)
		r.waiters.Add(1)
		// Re-check after announcing: either we see the new head or the
		// writer sees us waiting (both sides use sequentially consistent
		// atomics).
		if r.head.Load() != rd.pos {
			if rd.waiting.CompareAndSwap(1, 0) {
				r.waiters.Add(-1)
			}
			return nil
		}
		select {
		case <-rd.wake:
		case <-ctx.Done():
			if rd.waiting.CompareAndSwap(1, 0) {
				r.waiters.Add(-1)
			}
			return ctx.Err()
		case <-r.done:
			if rd.waiting.CompareAndSwap(1, 0) {
				r.waiters.Add(-1)
			}
			if r.head.Load() != rd.pos {
				return nil
			}
			return ErrClosed
		}
	}
}

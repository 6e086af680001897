package sim

import "sync"

// arenaChunk is the size of the blocks a tape stores frames in.
const arenaChunk = 64 << 10

// tape is the append-only day of one published stream: items in the order
// sessions send them, each holding a frame copied into the tape's arena
// blocks. Items are immutable once appended. Appends are serialised by the
// Sim's mutex; reads may come from any goroutine and take only the tape's
// lock. A reader that has read everything arms the wake channel, closed
// by the next append or by end.
type tape[T any] struct {
	mu    sync.RWMutex
	items []T
	arena []byte        // tail of the current storage block
	wake  chan struct{} // closed on the next append (or end) when armed
	armed bool          // a reader is waiting on wake
	ended bool          // end: no more items
}

func newTape[T any]() tape[T] { return tape[T]{wake: make(chan struct{})} }

// appendLocked encodes one frame with enc (which appends to the buffer it
// is given; room is the most it may need) into the arena, appends the
// item item makes of it and wakes waiting readers. r.mu held.
func (r *tape[T]) appendLocked(room int, enc func(b []byte) ([]byte, error), item func(frame []byte) T) error {
	if cap(r.arena)-len(r.arena) < room {
		r.arena = make([]byte, 0, max(arenaChunk, room))
	}
	start := len(r.arena)
	b, err := enc(r.arena)
	if err != nil {
		return err
	}
	r.arena = b
	r.items = append(r.items, item(b[start:len(b):len(b)]))
	r.wakeLocked()
	return nil
}

func (r *tape[T]) wakeLocked() {
	if r.armed {
		close(r.wake)
		r.wake = make(chan struct{})
		r.armed = false
	}
}

// end marks the tape complete and wakes waiting readers.
func (r *tape[T]) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	r.wakeLocked()
}

// read appends to dst the items from position pos on, at most max of them.
// Their frames share the tape's storage and must not be modified. When it
// returns none, wake is closed by the next append or end, or ended tells
// that no more will come.
func (r *tape[T]) read(dst []T, pos, max int) (items []T, wake <-chan struct{}, ended bool) {
	r.mu.RLock()
	if pos >= 0 && pos < len(r.items) {
		dst = append(dst, r.items[pos:min(len(r.items), pos+max)]...)
		r.mu.RUnlock()
		return dst, nil, false
	}
	r.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case pos >= 0 && pos < len(r.items):
		return append(dst, r.items[pos:min(len(r.items), pos+max)]...), nil, false
	case r.ended:
		return dst, nil, true
	}
	r.armed = true
	return dst, r.wake, false
}

package sim

import "sync"

// arenaChunk is the size of the blocks the record stores messages in.
const arenaChunk = 64 << 10

// record is the day's feed: every ITCH message in sequence order, message i
// having SoupBinTCP sequence number i+1. Messages are immutable once
// appended. Appends are serialised by the Sim's mutex; reads may come from
// any goroutine and take only the record's lock.
type record struct {
	mu    sync.RWMutex
	msgs  [][]byte      // msgs[i] is sequence number i+1
	arena []byte        // tail of the current storage block
	wake  chan struct{} // closed on the next append (or end) when armed
	armed bool          // a reader is waiting on wake
	ended bool          // EndSession: no more messages
}

func newRecord() *record {
	return &record{wake: make(chan struct{})}
}

// next returns the sequence number the next message will get.
func (r *record) next() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return uint64(len(r.msgs)) + 1
}

// add appends one encoded message produced by enc, which appends to the
// buffer it is given and may use seq (the message's sequence number). It
// wakes waiting readers. The caller holds the Sim's mutex.
func (r *record) add(enc func(b []byte, seq uint64) ([]byte, error)) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := uint64(len(r.msgs)) + 1
	if cap(r.arena)-len(r.arena) < 128 {
		r.arena = make([]byte, 0, arenaChunk)
	}
	start := len(r.arena)
	b, err := enc(r.arena, seq)
	if err != nil {
		return 0, err
	}
	r.arena = b
	r.msgs = append(r.msgs, b[start:len(b):len(b)])
	if r.armed {
		close(r.wake)
		r.wake = make(chan struct{})
		r.armed = false
	}
	return seq, nil
}

// end marks the record complete and wakes waiting readers.
func (r *record) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	if r.armed {
		close(r.wake)
		r.wake = make(chan struct{})
		r.armed = false
	}
}

// read appends to dst the messages from sequence number from on, at most
// max of them. The returned slices share the record's immutable storage and
// must not be modified. When it returns none, wake is closed by the next
// append or end, or ended tells that no more will come.
func (r *record) read(dst [][]byte, from uint64, max int) (msgs [][]byte, wake <-chan struct{}, ended bool) {
	r.mu.RLock()
	if from >= 1 && from <= uint64(len(r.msgs)) {
		dst = r.slice(dst, from, max)
		r.mu.RUnlock()
		return dst, nil, false
	}
	r.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case from >= 1 && from <= uint64(len(r.msgs)):
		return r.slice(dst, from, max), nil, false
	case r.ended:
		return dst, nil, true
	}
	r.armed = true
	return dst, r.wake, false
}

// slice appends up to max messages from sequence number from on to dst.
// The caller holds r.mu and has checked that from is in the record.
func (r *record) slice(dst [][]byte, from uint64, max int) [][]byte {
	end := min(uint64(len(r.msgs)), from-1+uint64(max))
	return append(dst, r.msgs[from-1:end]...)
}

// copyRange returns copies of the messages from..to inclusive, clipped to
// the record.
func (r *record) copyRange(from, to uint64) [][]byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if from < 1 {
		from = 1
	}
	to = min(to, uint64(len(r.msgs)))
	if from > to {
		return nil
	}
	out := make([][]byte, 0, to-from+1)
	for _, m := range r.msgs[from-1 : to] {
		out = append(out, append([]byte(nil), m...))
	}
	return out
}

package sim

import "sync"

// szseItem is one frame of an SZSE channel's stream: a record (an order or
// a trade, with its ApplSeqNum) or a snapshot (seq 0).
type szseItem struct {
	frame []byte // header, body and checksum; immutable
	seq   int64  // ApplSeqNum, or 0 for a snapshot
}

// channelRecord is the day's SZSE stream of the channel: every frame in
// the order sessions send them, the records numbered by ApplSeqNum from 1
// and the snapshots between them unnumbered. Frames are immutable once
// appended. Appends are serialised by the Sim's mutex; reads may come from
// any goroutine and take only the record's lock.
type channelRecord struct {
	mu    sync.RWMutex
	items []szseItem    // stream order; a live session reads by position
	bySeq []int         // bySeq[i] is the position of ApplSeqNum i+1
	arena []byte        // tail of the current storage block
	wake  chan struct{} // closed on the next append (or end) when armed
	armed bool          // a reader is waiting on wake
	ended bool          // EndSession: no more frames
}

func newChannelRecord() *channelRecord {
	return &channelRecord{wake: make(chan struct{})}
}

// last returns the ApplSeqNum of the last record (0 before any).
func (r *channelRecord) last() int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return int64(len(r.bySeq))
}

// mark returns the position the next frame will take and the ApplSeqNum
// of the last record before it: where a live session starts.
func (r *channelRecord) mark() (pos int, last int64) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.items), int64(len(r.bySeq))
}

// add appends one frame produced by enc, which appends to the buffer it is
// given and may use seq: the frame's ApplSeqNum when sequenced, else 0. It
// returns seq and wakes waiting readers. The caller holds the Sim's mutex.
func (r *channelRecord) add(sequenced bool, enc func(b []byte, seq int64) ([]byte, error)) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var seq int64
	if sequenced {
		seq = int64(len(r.bySeq)) + 1
	}
	if cap(r.arena)-len(r.arena) < maxSnapshotFrame {
		r.arena = make([]byte, 0, arenaChunk)
	}
	start := len(r.arena)
	b, err := enc(r.arena, seq)
	if err != nil {
		return 0, err
	}
	r.arena = b
	if sequenced {
		r.bySeq = append(r.bySeq, len(r.items))
	}
	r.items = append(r.items, szseItem{frame: b[start:len(b):len(b)], seq: seq})
	r.wakeLocked()
	return seq, nil
}

func (r *channelRecord) wakeLocked() {
	if r.armed {
		close(r.wake)
		r.wake = make(chan struct{})
		r.armed = false
	}
}

// end marks the record complete and wakes waiting readers.
func (r *channelRecord) end() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = true
	r.wakeLocked()
}

// read appends to dst the items from position pos on, at most max of them.
// The frames share the record's immutable storage and must not be
// modified. When it returns none, wake is closed by the next append or
// end, or ended tells that no more will come.
func (r *channelRecord) read(dst []szseItem, pos, max int) (items []szseItem, wake <-chan struct{}, ended bool) {
	r.mu.RLock()
	if pos < len(r.items) {
		dst = append(dst, r.items[pos:min(len(r.items), pos+max)]...)
		r.mu.RUnlock()
		return dst, nil, false
	}
	r.mu.RUnlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	switch {
	case pos < len(r.items):
		return append(dst, r.items[pos:min(len(r.items), pos+max)]...), nil, false
	case r.ended:
		return dst, nil, true
	}
	r.armed = true
	return dst, r.wake, false
}

// records appends to dst the frames of ApplSeqNums from to to inclusive,
// clipped to the record. The frames share the record's storage.
func (r *channelRecord) records(dst [][]byte, from, to int64) [][]byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	from = max(from, 1)
	to = min(to, int64(len(r.bySeq)))
	for seq := from; seq <= to; seq++ {
		dst = append(dst, r.items[r.bySeq[seq-1]].frame)
	}
	return dst
}

package sim

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
	tape[szseItem]
	bySeq []int // bySeq[i] is the position of ApplSeqNum i+1
}

func newChannelRecord() *channelRecord { return &channelRecord{tape: newTape[szseItem]()} }

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
	pos := len(r.items)
	err := r.appendLocked(maxSnapshotFrame, func(b []byte) ([]byte, error) { return enc(b, seq) },
		func(f []byte) szseItem { return szseItem{frame: f, seq: seq} })
	if err != nil {
		return 0, err
	}
	if sequenced {
		r.bySeq = append(r.bySeq, pos)
	}
	return seq, nil
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

package sim

// szseItem is one frame of an SZSE stream: a record (an order or a trade,
// with its channel and ApplSeqNum) or a snapshot (seq 0).
type szseItem struct {
	frame   []byte // header, body and checksum; immutable
	seq     int64  // ApplSeqNum, or 0 for a snapshot
	channel uint16 // the record's ChannelNo (a snapshot's is not used)
}

// chanPos is a position in one channel's records: the ApplSeqNum of its
// last record passed.
type chanPos struct {
	no   uint16
	last int64
}

// seqIndex finds one channel's records by ApplSeqNum.
type seqIndex struct {
	no uint16
	// bySeq[i] locates ApplSeqNum i+1: its position in the stream, -1 for
	// a hole, or -2-k for the k-th frame of late (filled, not streamed).
	bySeq []int
}

// hole marks an ApplSeqNum without a record in seqIndex.bySeq.
const hole = -1

// channelRecord is the day's SZSE stream: every frame in the order
// sessions send them, the records of each channel numbered by ApplSeqNum
// from 1 and the snapshots between them unnumbered. The Sim's has one
// channel of records; a Player's has those of its capture, and may have
// holes, ApplSeqNums without a record, which sessions never send, and
// records that came late to fill a hole, which only ReTransmit sends. Frames
// are immutable once appended. Appends are serialised by their owner (the
// Sim's mutex, the Player's Play); reads may come from any goroutine and
// take only the record's lock.
type channelRecord struct {
	tape[szseItem]
	chans []*seqIndex // the channels of records, by number; guarded by mu
	// late holds the frames that filled holes (fill): they are resent by
	// ReTransmit, never streamed. Guarded by mu.
	late [][]byte
}

// newChannelRecord returns a record of the channels of records given (more
// appear as records of others are added).
func newChannelRecord(channels ...uint16) *channelRecord {
	r := &channelRecord{tape: newTape[szseItem]()}
	for _, no := range channels {
		r.indexLocked(no)
	}
	return r
}

// indexLocked returns channel no's index, creating it. r.mu held (or r
// not shared yet).
func (r *channelRecord) indexLocked(no uint16) *seqIndex {
	i := 0
	for i < len(r.chans) && r.chans[i].no < no {
		i++
	}
	if i < len(r.chans) && r.chans[i].no == no {
		return r.chans[i]
	}
	ix := &seqIndex{no: no}
	r.chans = append(r.chans, nil)
	copy(r.chans[i+1:], r.chans[i:])
	r.chans[i] = ix
	return ix
}

// findLocked returns channel no's index, or nil. r.mu held for reading.
func (r *channelRecord) findLocked(no uint16) *seqIndex {
	for _, ix := range r.chans {
		if ix.no == no {
			return ix
		}
	}
	return nil
}

// last returns the ApplSeqNum of channel no's last record (0 before any).
func (r *channelRecord) last(no uint16) int64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if ix := r.findLocked(no); ix != nil {
		return int64(len(ix.bySeq))
	}
	return 0
}

// has reports whether no is a channel of records.
func (r *channelRecord) has(no uint16) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.findLocked(no) != nil
}

// channels appends to dst every channel of records with the ApplSeqNum of
// its last record.
func (r *channelRecord) channels(dst []chanPos) []chanPos {
	_, dst = r.mark(dst)
	return dst
}

// mark returns the position the next frame will take and, appended to
// dst, each channel's last ApplSeqNum before it: where a live session
// starts.
func (r *channelRecord) mark(dst []chanPos) (pos int, lasts []chanPos) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, ix := range r.chans {
		dst = append(dst, chanPos{no: ix.no, last: int64(len(ix.bySeq))})
	}
	return len(r.items), dst
}

// add appends one frame of channel no produced by enc, which appends to
// the buffer it is given and may use seq: the frame's ApplSeqNum when
// sequenced (the channel's next), else 0. It returns seq and wakes
// waiting readers.
func (r *channelRecord) add(no uint16, sequenced bool, enc func(b []byte, seq int64) ([]byte, error)) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var (
		seq int64
		ix  *seqIndex
	)
	if sequenced {
		ix = r.indexLocked(no)
		seq = int64(len(ix.bySeq)) + 1
	}
	pos := len(r.items)
	err := r.appendLocked(maxSnapshotFrame, func(b []byte) ([]byte, error) { return enc(b, seq) },
		func(f []byte) szseItem { return szseItem{frame: f, seq: seq, channel: no} })
	if err != nil {
		return 0, err
	}
	if sequenced {
		ix.bySeq = append(ix.bySeq, pos)
	}
	return seq, nil
}

// addHoles passes n ApplSeqNums of channel no without a record (Player).
func (r *channelRecord) addHoles(no uint16, n int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ix := r.indexLocked(no)
	for range n {
		ix.bySeq = append(ix.bySeq, hole)
	}
}

// fill puts frame (copied), the record of ApplSeqNum seq of channel no,
// in a hole (Player): it is not streamed, as the stream has passed it,
// but ReTransmit resends it. It reports false when seq is not a hole.
func (r *channelRecord) fill(no uint16, seq int64, frame []byte) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	ix := r.findLocked(no)
	if ix == nil || seq < 1 || seq > int64(len(ix.bySeq)) || ix.bySeq[seq-1] != hole {
		return false
	}
	r.late = append(r.late, append([]byte(nil), frame...))
	ix.bySeq[seq-1] = -1 - len(r.late)
	return true
}

// records appends to dst the frames of channel no's ApplSeqNums from to to
// inclusive, clipped to the record and cut at the first hole. The frames
// share the record's storage.
func (r *channelRecord) records(dst [][]byte, no uint16, from, to int64) [][]byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	ix := r.findLocked(no)
	if ix == nil {
		return dst
	}
	from = max(from, 1)
	to = min(to, int64(len(ix.bySeq)))
	for seq := from; seq <= to; seq++ {
		switch p := ix.bySeq[seq-1]; {
		case p == hole:
			return dst
		case p < hole:
			dst = append(dst, r.late[-2-p])
		default:
			dst = append(dst, r.items[p].frame)
		}
	}
	return dst
}

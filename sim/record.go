package sim

// record is the day's ITCH feed: every message in sequence order, message
// i having SoupBinTCP sequence number i+1 (a tape of frames). A Player's
// record may have holes, sequence numbers with an empty message, which
// sessions do not send.
type record struct {
	tape[[]byte]
}

func newRecord() *record { return &record{newTape[[]byte]()} }

// next returns the sequence number the next message will get.
func (r *record) next() uint64 {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return uint64(len(r.items)) + 1
}

// add appends one encoded message produced by enc, which appends to the
// buffer it is given and may use seq (the message's sequence number). It
// wakes waiting readers. The caller holds the Sim's mutex.
func (r *record) add(enc func(b []byte, seq uint64) ([]byte, error)) (uint64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	seq := uint64(len(r.items)) + 1
	err := r.appendLocked(128, func(b []byte) ([]byte, error) { return enc(b, seq) }, func(f []byte) []byte { return f })
	if err != nil {
		return 0, err
	}
	return seq, nil
}

// addHoles appends n sequence numbers without a message (Player).
func (r *record) addHoles(n uint64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for range n {
		r.items = append(r.items, nil)
	}
	r.wakeLocked()
}

// readSeq appends to dst the messages from sequence number from on, at
// most max of them (see tape.read).
func (r *record) readSeq(dst [][]byte, from uint64, max int) (msgs [][]byte, wake <-chan struct{}, ended bool) {
	if from < 1 {
		from = 1
	}
	return r.read(dst, int(from-1), max)
}

// copyRange returns copies of the messages from..to inclusive, clipped to
// the record.
func (r *record) copyRange(from, to uint64) [][]byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if from < 1 {
		from = 1
	}
	to = min(to, uint64(len(r.items)))
	if from > to {
		return nil
	}
	out := make([][]byte, 0, to-from+1)
	for _, m := range r.items[from-1 : to] {
		out = append(out, append([]byte(nil), m...))
	}
	return out
}

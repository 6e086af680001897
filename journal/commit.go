package journal

import (
	"fmt"
	"time"
)

const (
	// flushBytes ends a CommitInterval wait early: a batch this big is
	// committed at once.
	flushBytes = 1 << 20
	// retainBytes is the largest batch buffer kept for reuse; a bigger one
	// (after a burst) is left to the garbage collector.
	retainBytes = 4 << 20
)

// batch is a group of appends committed with one write and one fsync.
// Appenders fill it under Journal.mu; the writer goroutine takes it whole.
type batch struct {
	done  chan struct{} // closed once the batch is committed or failed
	err   error         // the commit's result; set before done is closed
	buf   []byte        // the batch's frames
	n     int           // records in buf
	first time.Time     // when the first record joined
	full  bool          // buf passed flushBytes
	cbs   []callback    // AppendAsync callers, in sequence order
	// sealed is how many bytes at the front of buf are sealed (sealed
	// journals; seal.go): guarded by Journal.mu while the batch is
	// Journal.cur, then the writer's.
	sealed int
}

// callback is one AppendAsync caller waiting for its record.
type callback struct {
	seq  uint64
	done func(seq uint64, err error)
}

// Append adds a record of type typ with body to the journal and blocks
// until it is durable (written and fsynced together with the other appends
// of its batch). It returns the record's sequence number. Append may be
// called from any number of goroutines; the journal copies body before
// Append returns.
//
// A record refused at once (a body longer than Config.MaxRecord gets
// ErrTooLarge, a closed journal ErrClosed, a failed one its sticky
// ErrFailed error) gets sequence number 0 and uses none. A commit that
// fails returns the sequence number the record was given together with
// the sticky ErrFailed error: the record may or may not survive a
// restart, and the journal accepts nothing more.
func (j *Journal) Append(typ byte, body []byte) (uint64, error) {
	if len(body) > j.cfg.MaxRecord {
		return 0, j.tooLarge(len(body))
	}
	j.mu.Lock()
	b, seq, err := j.enqueue(typ, body)
	j.mu.Unlock()
	if err != nil {
		return 0, err
	}
	<-b.done
	return seq, b.err
}

// AppendAsync adds a record like Append but does not wait: done is called
// exactly once, on the journal's writer goroutine, with the record's
// sequence number and nil once the record is durable, or with the commit's
// error. It is for event loops that must not block. The journal copies
// body before AppendAsync returns.
//
// A record refused at once (ErrTooLarge, ErrClosed, a sticky ErrFailed) is
// returned as AppendAsync's error, and done is never called: AppendAsync
// never calls done on the caller's goroutine, so a caller may hold its own
// locks across the call, and done may take them. done runs in sequence
// order; it must be quick (the next batch waits for it) and must not call
// Append or Close (which wait for the writer goroutine); it may call
// AppendAsync.
func (j *Journal) AppendAsync(typ byte, body []byte, done func(seq uint64, err error)) error {
	if len(body) > j.cfg.MaxRecord {
		return j.tooLarge(len(body))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	b, seq, err := j.enqueue(typ, body)
	if err != nil {
		return err
	}
	b.cbs = append(b.cbs, callback{seq: seq, done: done})
	return nil
}

func (j *Journal) tooLarge(n int) error {
	return fmt.Errorf("%w: body of %d bytes, limit %d", ErrTooLarge, n, j.cfg.MaxRecord)
}

// enqueue gives the record the next sequence number and frames it into the
// current batch. j.mu must be held.
func (j *Journal) enqueue(typ byte, body []byte) (*batch, uint64, error) {
	if j.closed {
		return nil, 0, ErrClosed
	}
	if j.later != nil {
		return nil, 0, j.later
	}
	b := j.cur
	now := time.Now()
	if b.n == 0 {
		b.first = now
		select {
		case j.kick <- struct{}{}:
		default:
		}
	}
	j.seq++
	// The record's batch index: how many records precede it in this
	// batch (doc.go, Torn batches).
	idx := uint32(maxBatchIndex)
	if uint64(b.n) < maxBatchIndex {
		idx = uint32(b.n)
	}
	if j.lay.sealer != nil {
		b.buf = appendOpenFrame(b.buf, j.lay, idx, typ, j.seq, now.UnixNano(), j.epoch, body)
		if len(b.buf)-b.sealed >= presealMin {
			select {
			case j.sealKick <- struct{}{}:
			default:
			}
		}
	} else {
		b.buf = appendFrame(b.buf, j.lay, idx, typ, j.seq, now.UnixNano(), body)
	}
	b.n++
	if !b.full && len(b.buf) >= flushBytes {
		b.full = true
		select {
		case j.full <- struct{}{}:
		default:
		}
	}
	return b, j.seq, nil
}

// newBatch returns an empty batch using the writer's spare buffers. Called
// by the writer goroutine (or by open before it starts).
func (j *Journal) newBatch() *batch {
	b := &batch{done: make(chan struct{}), buf: j.spareBuf[:0], cbs: j.spareCbs[:0]}
	j.spareBuf, j.spareCbs = nil, nil
	return b
}

// run is the writer goroutine: it takes the pending batch, commits it and
// releases its appenders, until Close is called and nothing is pending.
func (j *Journal) run() {
	defer close(j.stopped)
	if j.lay.sealer != nil {
		defer close(j.preStart)
	}
	var timer *time.Timer
	if j.cfg.CommitInterval > 0 {
		timer = time.NewTimer(j.cfg.CommitInterval)
		timer.Stop()
	}
	for {
		j.mu.Lock()
		b := j.cur
		if b.n == 0 {
			closed := j.closed
			j.mu.Unlock()
			if closed {
				return
			}
			select {
			case <-j.kick:
			case <-j.closing:
			}
			continue
		}
		if iv := j.cfg.CommitInterval; iv > 0 && !j.closed && !b.full {
			if wait := iv - time.Since(b.first); wait > 0 {
				j.mu.Unlock()
				timer.Reset(wait)
				select {
				case <-timer.C:
				case <-j.full:
				case <-j.closing:
				}
				timer.Stop()
				continue
			}
		}
		j.cur = j.newBatch()
		err := j.later // an earlier batch failed: this one is not written
		j.mu.Unlock()
		if err == nil {
			err = j.commit(b)
		}
		j.finish(b, err)
	}
}

// commit writes the batch with one write and fsyncs it. A failed write
// or fsync is rolled back: the file is cut back to the end of the records
// already durable and that cut is fsynced, so the failed batch's records
// cannot reappear after a restart (the gateway has told their clients they
// failed). If even the rollback fails the error says so. Writer goroutine
// only.
func (j *Journal) commit(b *batch) error {
	start := time.Now()
	if j.lay.sealer != nil {
		sealFrames(b.buf[b.sealed:], j.lay, &j.nonce)
	}
	if _, err := j.w.Write(b.buf); err != nil {
		return j.rollback(fmt.Errorf("%w: write: %w", ErrFailed, err))
	}
	if !j.cfg.NoSync {
		// Never retried: after a failed fsync the kernel may have dropped
		// the dirty pages, and a retry could report success for data that
		// is gone.
		if j.lay.sealer != nil {
			j.preStart <- struct{}{} // seal the next batch meanwhile
		}
		err := j.w.Sync()
		if j.lay.sealer != nil {
			j.preStop <- struct{}{}
			<-j.preDone
		}
		if err != nil {
			return j.rollback(fmt.Errorf("%w: fsync: %w", ErrFailed, err))
		}
	}
	took := time.Since(start)
	j.end += int64(len(b.buf))
	j.durable.Store(j.end)
	if j.cfg.OnSync != nil {
		j.cfg.OnSync(b.n, len(b.buf), took)
	}
	return nil
}

// rollback cuts the file back to the durable records after a failed
// commit and returns err, wrapping ErrRollback too when the cut itself
// failed. Writer goroutine only.
func (j *Journal) rollback(err error) error {
	terr := j.w.Truncate(j.end)
	if terr == nil && !j.cfg.NoSync {
		terr = j.w.Sync()
	}
	if terr != nil {
		return &rollbackError{err: err, terr: terr}
	}
	return err
}

// rollbackError is a failed commit (err, wrapping ErrFailed) that could
// not be cut from the file either (terr): it wraps ErrRollback too.
type rollbackError struct{ err, terr error }

func (e *rollbackError) Error() string {
	return fmt.Sprintf("%v (%v: %v)", e.err, ErrRollback, e.terr)
}

func (e *rollbackError) Unwrap() []error { return []error{e.err, ErrRollback, e.terr} }

// finish records a failed commit as the sticky error, releases the
// batch's appenders and keeps its buffers for reuse. The batches behind
// a failed one, and later appends, get the failure without ErrRollback
// (later): they were never written, and cannot reappear. Writer
// goroutine only.
func (j *Journal) finish(b *batch, err error) {
	if err != nil {
		j.mu.Lock()
		if j.err == nil {
			j.err, j.later = err, err
			if rb, ok := err.(*rollbackError); ok {
				j.later = rb.err
			}
		}
		j.mu.Unlock()
	}
	b.err = err
	close(b.done)
	for _, c := range b.cbs {
		c.done(c.seq, err)
	}
	if cap(b.buf) <= retainBytes {
		j.spareBuf = b.buf[:0]
	}
	clear(b.cbs)
	j.spareCbs = b.cbs[:0]
}

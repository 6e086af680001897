package cluster

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// pipeline is ApplyAsync's queue: the records appended and not yet
// completed, in append order. Records go to Raft in entries: most entries
// hold one record, but journal records (Journal.AppendAsync) that arrive
// while Config.coalesceWindow entries are already submitted and not yet
// answered gather into one entry, a journal group ('G', record.go), which
// is submitted as soon as an earlier entry is answered. Nothing waits on a
// timer: a record is submitted at once when the window has room.
//
// Two goroutines serve it: the waiter waits for each entry's Raft future
// in turn, marks the entry answered and submits the entries gathered
// meanwhile; the completer delivers each record's result, or ErrTimeout at
// its deadline, to its caller's done. Raft answers a leader's futures in
// log order (applied, or all failed at once on a step-down), so one waiter
// in order loses no concurrency.
//
// mu orders raft.Apply with the pushes onto the queues, so the queues hold
// records in log order. It also makes a sealed entry (State.seal) and
// submits it in one step, here and in Node.apply: Raft's apply channel,
// read by its one main goroutine, which appends in the order it reads,
// then receives the entries in the order of their counters (seal.go).
//
// slots bounds the records in either queue: a record's slot is freed once
// the completer has delivered it and the waiter has let go of its entry,
// whichever is last (a record whose deadline passed is delivered,
// ErrTimeout, while its entry may still be gathering or in flight: its
// slot stays taken, so neither queue can fill and ApplyAsync refuses with
// ErrBusy instead of blocking on a full queue). Every record is delivered
// within ApplyTimeout (its deadline) or at Close.
type pipeline struct {
	mu       sync.Mutex
	closed   bool     // guarded by mu; set by stopPipeline
	window   int      // journal entries submitted and unanswered at most; <= 0: no limit
	inFlight int      // guarded by mu: journal entries submitted and not yet answered
	queued   []*entry // guarded by mu: entries gathered, not yet submitted, in order
	open     *entry   // guarded by mu: the last of queued if more journal records may join it
	waitQ    chan *entry
	doneQ    chan *pending
	slots    chan struct{}
	stop     chan struct{} // closed by stopPipeline, after Raft's shutdown

	completer sync.WaitGroup
}

// Coalescing bounds: an entry being gathered is closed past these.
const (
	coalesceBytes   = 1 << 20
	coalesceRecords = maxBatch
)

// entry is one Raft log entry of the pipeline: one record, or journal
// records gathered into a batch. Its fields are set under the pipeline's
// mu until it is submitted; then f and err belong to the waiter until it
// closes answered, after which they are read-only.
type entry struct {
	recs     [][]byte // the records, not sealed
	size     int      // their bytes
	coalesce bool     // journal records: counted in the window
	term     uint64   // the Raft term the records were accepted in
	seal     func([]byte) ([]byte, error)
	members  []*pending // recs[i]'s caller is members[i]
	f        raft.ApplyFuture
	err      error // f's error, or the seal's (then f is nil)
	answered chan struct{}
}

// pending is one record of the pipeline.
type pending struct {
	e        *entry
	pos      int // in e
	deadline time.Time
	done     func(index uint64, pos int, err error)
	// left counts the waiter and the completer still to let go of the
	// record; the last one frees its slot.
	left atomic.Int32
}

// release lets go of it for the waiter or the completer; the last of the
// two frees its slot.
func (p *pipeline) release(it *pending) {
	if it.left.Add(-1) == 0 {
		<-p.slots
	}
}

// startPipeline starts the waiter and the completer. Called by Start.
func (n *Node) startPipeline() {
	p := &n.pipe
	p.window = n.cfg.coalesceWindow
	p.waitQ = make(chan *entry, n.cfg.MaxInFlight)
	p.doneQ = make(chan *pending, n.cfg.MaxInFlight)
	p.slots = make(chan struct{}, n.cfg.MaxInFlight)
	p.stop = make(chan struct{})
	go n.wait()
	p.completer.Add(1)
	go n.complete()
}

// stopPipeline stops accepting records and waits for the completer, which
// delivers ErrClosed for every record Raft did not answer (and those
// gathered and never submitted). Called by Close after Raft's shutdown.
// The waiter may stay blocked on a future that the shut-down Raft never
// answers (an entry still in its apply queue); it holds nothing else and
// is dropped with the Node.
func (n *Node) stopPipeline() {
	p := &n.pipe
	if p.doneQ == nil {
		return
	}
	close(p.stop)
	p.mu.Lock()
	p.closed = true
	p.queued, p.open = nil, nil
	close(p.waitQ)
	close(p.doneQ)
	p.mu.Unlock()
	p.completer.Wait()
}

// ApplyAsync appends record to the replicated log without waiting, and
// calls done once the record is committed on a quorum and applied to the
// local StateMachine, or failed. Many records may be in flight; Raft
// appends and replicates them in batches (Config.MaxAppendEntries).
//
// done is called exactly once per accepted record, on the Node's completer
// goroutine, in append order (which is log order), with no lock of this
// package held. It must not block for long (it delays every later
// completion) and must not call Close; it may call ApplyAsync. Its errors
// are Apply's: nil with the record's index; *NotLeaderError when
// leadership was lost before the record was appended (nothing appended);
// ErrNoQuorum or ErrTimeout (the record was not known to be committed
// within Config.ApplyTimeout of the call): the outcome is unknown and the
// caller must treat the record as in doubt until it reads the state the
// (new) leader holds; ErrClosed (Close ran first; also in doubt);
// ErrRejected with the index.
//
// A record refused at once is the returned error and done is never called:
// ErrNotStarted, ErrClosed, *NotLeaderError (this node is not the leader;
// nothing appended) or ErrBusy (Config.MaxInFlight records were in flight
// for all of ApplyTimeout). ApplyAsync may call done on no path
// synchronously. It may block while Raft's queue or the pipeline is full,
// never longer than about ApplyTimeout. Any goroutine.
func (n *Node) ApplyAsync(record []byte, done func(index uint64, err error)) error {
	if done == nil {
		return errors.New("cluster: ApplyAsync with a nil done")
	}
	return n.applyAsync(record, nil, false, func(index uint64, _ int, err error) { done(index, err) })
}

// applyAsync is ApplyAsync. With seal (State.seal), what is appended is
// seal(entry), made under p.mu in one step with raft.Apply, so entries
// reach the log in the order seal made them (seal.go). An error from seal
// is returned, nothing appended, when the record is submitted at once;
// when it was gathered behind others, done gets it (nothing appended), as
// it gets a *NotLeaderError when the term it was accepted in ended before
// its entry was submitted.
//
// With coalesce (journal records only: they may go into a journal group),
// the record may share its entry with others; done's pos is its place in
// the entry's batch (0 for an entry of one record, which is the record
// itself, not a batch).
func (n *Node) applyAsync(record []byte, seal func([]byte) ([]byte, error), coalesce bool, done func(index uint64, pos int, err error)) error {
	if n.raft == nil {
		return ErrNotStarted
	}
	if done == nil {
		return errors.New("cluster: ApplyAsync with a nil done")
	}
	if n.closed.Load() {
		return ErrClosed
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	p := &n.pipe
	select {
	case p.slots <- struct{}{}:
	default:
		t := time.NewTimer(n.cfg.ApplyTimeout)
		select {
		case p.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			return ErrBusy
		case <-n.done:
			t.Stop()
			return ErrClosed
		}
	}
	it := &pending{done: done, deadline: time.Now().Add(n.cfg.ApplyTimeout)}
	it.left.Store(2)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return ErrClosed
	}
	// A record joins the entry gathering only if it was accepted in the
	// same term: one of an earlier term is failed at its submission
	// (submitQueued), which must not take this one with it.
	term := n.raft.CurrentTerm()
	if e := p.open; coalesce && e != nil && e.term == term && len(e.recs) < coalesceRecords && e.size+len(record) <= coalesceBytes {
		it.e, it.pos = e, len(e.recs)
		e.recs = append(e.recs, record)
		e.size += len(record)
		e.members = append(e.members, it)
		p.doneQ <- it // never blocks: the slot bounds both queues
		p.mu.Unlock()
		return nil
	}
	e := &entry{recs: [][]byte{record}, size: len(record), coalesce: coalesce, term: term, seal: seal, members: []*pending{it}, answered: make(chan struct{})}
	it.e = e
	if len(p.queued) == 0 && p.room(e) {
		if err := n.submit(e); err != nil {
			p.mu.Unlock()
			<-p.slots
			return err
		}
		p.doneQ <- it
		p.mu.Unlock()
		return nil
	}
	p.queued = append(p.queued, e)
	p.open = nil
	if coalesce {
		p.open = e
	}
	p.doneQ <- it
	p.mu.Unlock()
	return nil
}

// submit seals e, hands it to Raft and to the waiter; p.mu held. A seal
// error is returned and nothing is submitted.
func (n *Node) submit(e *entry) error {
	p := &n.pipe
	data := e.recs[0]
	if len(e.recs) > 1 {
		data = newGroup(e.size + 4*len(e.recs))
		for _, r := range e.recs {
			data = appendBatchRecord(data, r)
		}
	}
	if e.seal != nil {
		var err error
		if data, err = e.seal(data); err != nil {
			return err
		}
	}
	e.f = n.raft.Apply(data, n.cfg.ApplyTimeout)
	if e.coalesce {
		p.inFlight++
	}
	p.waitQ <- e // never blocks: the slots bound it
	return nil
}

// room reports whether e may be submitted now: the window bounds only
// journal entries (the others are submitted as soon as nothing gathered
// is ahead of them). p.mu held.
func (p *pipeline) room(e *entry) bool {
	return !e.coalesce || p.window <= 0 || p.inFlight < p.window
}

// submitQueued submits the gathered entries while the window has room;
// p.mu held. An entry its seal refuses is answered with the error, and
// one accepted in an earlier term than Raft's now with a *NotLeaderError
// (its leadership ended; nothing is appended: not even by this node
// leading again).
func (n *Node) submitQueued() {
	p := &n.pipe
	for len(p.queued) > 0 && p.room(p.queued[0]) && !p.closed {
		e := p.queued[0]
		p.queued[0] = nil
		p.queued = p.queued[1:]
		if e == p.open {
			p.open = nil
		}
		err := error(nil)
		if n.raft.CurrentTerm() != e.term {
			err = n.notLeader()
		} else {
			err = n.submit(e)
		}
		if err != nil {
			e.err = err
			close(e.answered)
			for _, it := range e.members {
				p.release(it)
			}
		}
	}
	if len(p.queued) == 0 {
		p.queued = nil
	}
}

// wait is the waiter goroutine: it waits for each entry's future in log
// order, then submits what gathered meanwhile.
func (n *Node) wait() {
	p := &n.pipe
	for e := range p.waitQ {
		e.err = e.f.Error()
		close(e.answered)
		for _, it := range e.members {
			p.release(it)
		}
		if e.coalesce {
			p.mu.Lock()
			p.inFlight--
			n.submitQueued()
			p.mu.Unlock()
		}
	}
}

// complete is the completer goroutine: it delivers each record's result
// in log order, ErrTimeout when the record's deadline passes first, and
// ErrClosed after Close for records Raft did not answer (their outcome is
// unknown: Raft may have committed them before it stopped).
func (n *Node) complete() {
	p := &n.pipe
	defer p.completer.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for it := range p.doneQ {
		e := it.e
		var err error
		var answered bool
		select {
		case <-e.answered:
			answered = true
		default:
			timer.Reset(time.Until(it.deadline))
			select {
			case <-e.answered:
				answered = true
			case <-timer.C:
				err = ErrTimeout
			case <-p.stop:
				// Raft has shut down: what it did not answer by now
				// it never will.
				select {
				case <-e.answered:
					answered = true
				default:
					err = ErrClosed
				}
			}
			timer.Stop()
		}
		var index uint64
		if answered {
			switch {
			case e.f == nil:
				err = e.err // the seal's: nothing appended
			case e.err != nil:
				err = n.applyError(e.err)
			default:
				index, err = e.f.Index(), rejected(e.f)
				if err != nil {
					index = 0
				}
			}
		}
		p.release(it)
		it.done(index, it.pos, err)
	}
}

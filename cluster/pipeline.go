package cluster

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// pipeline is ApplyAsync's queue: the records appended and not yet
// completed, in append order. Two goroutines serve it: the waiter waits for
// each record's Raft future in turn and hands the result over; the
// completer delivers results, or ErrTimeout at a record's deadline, to the
// callers' done functions. Raft answers a leader's futures in log order
// (applied, or all failed at once on a step-down), so one waiter in order
// loses no concurrency.
//
// mu orders raft.Apply with the pushes onto the queues, so the queues hold
// records in log order. It also makes a sealed record (State.seal) and
// submits it in one step, here and in Node.apply: Raft's apply channel,
// read by its one main goroutine, which appends in the order it reads,
// then receives the records in the order of their counters (seal.go).
//
// slots bounds the records in either queue: a record's slot is freed once
// the completer has delivered it and the waiter has taken it, whichever
// is last (a record whose deadline passed
// is delivered, ErrTimeout, while the waiter may still wait for an
// earlier future: its slot stays taken, so neither queue can fill and
// ApplyAsync refuses with ErrBusy instead of blocking on a full queue).
// Every record is delivered within ApplyTimeout (its deadline) or at
// Close.
type pipeline struct {
	mu     sync.Mutex
	closed bool // guarded by mu; set by stopPipeline
	waitQ  chan *pending
	doneQ  chan *pending
	slots  chan struct{}
	stop   chan struct{} // closed by stopPipeline, after Raft's shutdown

	completer sync.WaitGroup
}

// pending is one record of the pipeline.
type pending struct {
	f        raft.ApplyFuture
	deadline time.Time
	done     func(index uint64, err error)
	res      chan error // capacity 1: the future's error, sent by the waiter
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
	p.waitQ = make(chan *pending, n.cfg.MaxInFlight)
	p.doneQ = make(chan *pending, n.cfg.MaxInFlight)
	p.slots = make(chan struct{}, n.cfg.MaxInFlight)
	p.stop = make(chan struct{})
	go p.wait()
	p.completer.Add(1)
	go n.complete()
}

// stopPipeline stops accepting records and waits for the completer, which
// delivers ErrClosed for every record Raft did not answer. Called by Close
// after Raft's shutdown. The waiter may stay blocked on a future that the
// shut-down Raft never answers (an entry still in its apply queue); it holds
// nothing else and is dropped with the Node.
func (n *Node) stopPipeline() {
	p := &n.pipe
	if p.doneQ == nil {
		return
	}
	close(p.stop)
	p.mu.Lock()
	p.closed = true
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
	return n.applyAsync(record, nil, done)
}

// applyAsync is ApplyAsync. With seal (State.seal), what is appended is
// seal(record), made under p.mu in one step with raft.Apply, so records
// reach the log in the order seal made them (seal.go); an error from seal
// is returned and nothing is appended.
func (n *Node) applyAsync(record []byte, seal func([]byte) ([]byte, error), done func(index uint64, err error)) error {
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
	it := &pending{done: done, res: make(chan error, 1), deadline: time.Now().Add(n.cfg.ApplyTimeout)}
	it.left.Store(2)
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		<-p.slots
		return ErrClosed
	}
	if seal != nil {
		var err error
		if record, err = seal(record); err != nil {
			p.mu.Unlock()
			<-p.slots
			return err
		}
	}
	it.f = n.raft.Apply(record, n.cfg.ApplyTimeout)
	p.waitQ <- it // never blocks: the slot bounds both queues
	p.doneQ <- it
	p.mu.Unlock()
	return nil
}

// wait is the waiter goroutine: it waits for each future in log order.
func (p *pipeline) wait() {
	for it := range p.waitQ {
		it.res <- it.f.Error()
		p.release(it)
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
		var err error
		var answered bool
		select {
		case err = <-it.res:
			answered = true
		default:
			timer.Reset(time.Until(it.deadline))
			select {
			case err = <-it.res:
				answered = true
			case <-timer.C:
				err = ErrTimeout
			case <-p.stop:
				// Raft has shut down: what it did not answer by now
				// it never will.
				select {
				case err = <-it.res:
					answered = true
				default:
					err = ErrClosed
				}
			}
			timer.Stop()
		}
		var index uint64
		if answered {
			if err != nil {
				err = n.applyError(err)
			} else {
				index, err = it.f.Index(), rejected(it.f)
				if err != nil {
					index = 0
				}
			}
		}
		p.release(it)
		it.done(index, err)
	}
}

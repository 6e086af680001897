package orderbook

import (
	"fmt"
	"runtime"
	"sync/atomic"

	"sgw/feed/event"
)

// Input feeds the events of one feed into the Engine, through one queue
// into each shard.
//
// An Input is used by one goroutine: the feed's delivering goroutine calls
// Apply; no other method needs synchronisation with it.
type Input struct {
	e      *Engine
	name   string
	queues []*queue // per shard

	backpressure atomic.Uint64

	// What Missed reads. clears counts the Clear events Apply queued (the
	// Input's goroutine); the shard writers count those they applied in
	// cleared, and in wrong the books an event of this Input found
	// wrong (ErrUnknownOrder, ErrDuplicateOrder) and no Clear has mended
	// since. A writer updates wrong before cleared.
	clears  atomic.Uint64
	cleared atomic.Uint64
	wrong   atomic.Int64
}

// NewInput returns a new Input named name (for logs and metrics). It may be
// called from any goroutine, before or after Run.
func (e *Engine) NewInput(name string) *Input {
	in := &Input{e: e, name: name}
	in.queues = make([]*queue, len(e.shards))
	for i := range in.queues {
		in.queues[i] = newQueue(e.inputSize)
		in.queues[i].in = in
	}
	e.mu.Lock()
	for i, s := range e.shards {
		old := *s.queues.Load()
		qs := make([]*queue, len(old), len(old)+1)
		copy(qs, old)
		qs = append(qs, in.queues[i])
		s.queues.Store(&qs)
		s.wakeup()
	}
	ins := append(append([]*Input(nil), *e.inputs.Load()...), in)
	e.inputs.Store(&ins)
	e.mu.Unlock()
	return in
}

// Name returns the name given to NewInput.
func (in *Input) Name() string { return in.name }

// Missed reports whether a book has found, in an event of this Input, that
// it missed a message (an event naming an order the book does not hold,
// or adding one it holds: ErrUnknownOrder, ErrDuplicateOrder), and no
// Clear has mended it since. While a Clear sent through Apply waits for
// its shard, Missed reports false: the rebuild that Clear begins mends
// every book it reaches, and a book found wrong again after it is
// reported once all of them have been applied. So a feed that rebuilds
// when Missed reports true rebuilds once per divergence, however far the
// shards trail it.
//
// Missed reads three atomics: it takes no lock and never blocks, so it
// may be called from any goroutine, under any lock. Its answer is exact
// when no Apply of a Clear runs concurrently (the feed's arbiter calls
// both with its lock held); otherwise it may report a book that the Clear
// being sent will mend.
func (in *Input) Missed() bool {
	sent := in.clears.Load()
	if in.cleared.Load() != sent {
		return false
	}
	return in.wrong.Load() > 0
}

// Clearing reports whether a Clear sent through Apply has not yet been
// applied and published by its shard: until then the book's published
// view (Engine.Stale, Engine.Differs) is from before the Clear. Like
// Missed it reads two atomics, takes no lock and may be called from any
// goroutine; a Clear sent concurrently may or may not be reported.
func (in *Input) Clearing() bool {
	sent := in.clears.Load()
	return in.cleared.Load() != sent
}

// Apply routes one event to the shard of its instrument (ev.Symbol, a
// SymbolID); a System event goes to every shard. ev is only read during
// the call: Apply copies it.
//
// When the shard's queue is full Apply spins and yields briefly, then
// parks until the shard frees space: a slow shard applies backpressure to
// its feed instead of losing events (before Run starts, Apply blocks once
// a queue is full). Apply returns ErrClosed once the Engine's Run has
// returned and ErrSymbol for a Symbol that is no SymbolID of the Engine.
// It does not allocate except when returning an error. Only the Input's
// goroutine may call it.
func (in *Input) Apply(ev *event.Event) error {
	if in.e.closed.Load() {
		return ErrClosed
	}
	if ev.Kind == event.System {
		for i := range in.queues {
			if err := in.push(i, ev); err != nil {
				return err
			}
		}
		return nil
	}
	if int(ev.Symbol) >= len(in.e.shardOf) {
		return fmt.Errorf("%w: input %s: symbol %d of %d", ErrSymbol, in.name, ev.Symbol, len(in.e.shardOf))
	}
	if ev.Kind == event.Clear {
		// Counted before it is queued: Missed must not trust the state
		// of a book the Clear is about to change.
		in.clears.Add(1)
	}
	return in.push(int(in.e.shardOf[ev.Symbol]), ev)
}

// Spin and yield rounds of a producer facing a full queue before it parks.
const (
	fullSpins  = 64
	fullYields = 16
)

// push queues ev for shard i and wakes the shard's writer if it is
// parked.
func (in *Input) push(i int, ev *event.Event) error {
	q := in.queues[i]
	s := in.e.shards[i]
	for !q.push(ev) {
		if err := in.waitSpace(q, s); err != nil {
			return err
		}
	}
	if s.sleeping.Load() != 0 {
		s.wakeup()
	}
	return nil
}

// waitSpace waits until q has room: spin, then yield, then park until the
// shard releases slots or the Engine stops.
func (in *Input) waitSpace(q *queue, s *shard) error {
	in.backpressure.Add(1)
	s.wakeup()
	for i := 0; i < fullSpins+fullYields; i++ {
		if !q.full() {
			return nil
		}
		if i >= fullSpins {
			runtime.Gosched()
		}
	}
	for {
		q.waiting.Store(1)
		if !q.full() {
			q.waiting.Store(0)
			return nil
		}
		select {
		case <-q.space:
		case <-in.e.done:
			return ErrClosed
		}
	}
}

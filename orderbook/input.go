package orderbook

import (
	"encoding/binary"
	"fmt"
	"runtime"
	"sync/atomic"

	"sgw/feed/itch"
)

// Input feeds the raw ITCH messages of one feed into the Engine. It keeps
// the feed's own Stock Locate table (built from the feed's Stock Directory
// messages) and one queue into each shard.
//
// An Input is used by one goroutine: the feed's delivering goroutine calls
// Apply; no other method needs synchronisation with it.
type Input struct {
	e      *Engine
	name   string
	locate *[1 << 16]uint32 // Stock Locate -> SymbolID+1; 0 = unknown
	queues []*queue         // per shard

	unknownSymbol atomic.Uint64
	unknownStock  atomic.Uint64
	ignored       atomic.Uint64
	backpressure  atomic.Uint64
}

// NewInput returns a new Input named name (for logs and metrics). It may be
// called from any goroutine, before or after Run.
func (e *Engine) NewInput(name string) *Input {
	in := &Input{e: e, name: name, locate: new([1 << 16]uint32)}
	in.queues = make([]*queue, len(e.shards))
	for i := range in.queues {
		in.queues[i] = newQueue(e.inputSize)
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

// Apply routes one raw ITCH 5.0 message received at recv (unix ns) to the
// shard of its instrument. msg is only read during the call: Apply copies
// it. System Events go to every shard; a Stock Directory message maps its
// Stock Locate to the instrument whose FeedSymbol it names (or marks the
// locate unknown) and then goes to that shard. Messages for unknown
// locates and types the books do not use are dropped and counted in Stats.
//
// When the shard's queue is full Apply spins and yields briefly, then
// parks until the shard frees space: a slow shard applies backpressure to
// its feed instead of losing messages (before Run starts, Apply blocks
// once a queue is full). Apply returns ErrClosed once the
// Engine's Run has returned, ErrMessageSize for a message shorter than an
// ITCH header or longer than a queue slot, and the itch decoding error of
// a malformed Stock Directory message. Other malformed messages are
// counted in Stats.DecodeErrors by the shard. It does not allocate except
// when returning an error. Only the Input's goroutine may call it.
func (in *Input) Apply(msg []byte, recv int64) error {
	if len(msg) < 3 || len(msg) > maxMsgLen {
		return fmt.Errorf("%w: %d bytes", ErrMessageSize, len(msg))
	}
	if in.e.closed.Load() {
		return ErrClosed
	}
	switch msg[0] {
	case itch.TypeAddOrder, itch.TypeAddOrderMPID, itch.TypeOrderExecuted,
		itch.TypeOrderExecutedPrice, itch.TypeOrderCancel, itch.TypeOrderDelete,
		itch.TypeOrderReplace, itch.TypeTrade, itch.TypeCrossTrade, itch.TypeTradingAction:
		v := in.locate[binary.BigEndian.Uint16(msg[1:])]
		if v == 0 {
			in.unknownSymbol.Add(1)
			return nil
		}
		id := v - 1
		return in.push(int(in.e.shardOf[id]), id, msg, recv)
	case itch.TypeSystemEvent:
		for i := range in.queues {
			if err := in.push(i, allSymbols, msg, recv); err != nil {
				return err
			}
		}
		return nil
	case itch.TypeStockDirectory:
		return in.directory(msg, recv)
	}
	in.ignored.Add(1)
	return nil
}

// directory handles a Stock Directory message.
func (in *Input) directory(msg []byte, recv int64) error {
	var m itch.Message
	if err := itch.Decode(msg, &m); err != nil {
		return fmt.Errorf("orderbook: input %s: %w", in.name, err)
	}
	n := len(m.Stock)
	for n > 0 && m.Stock[n-1] == ' ' {
		n--
	}
	id, ok := in.e.byFeed[string(m.Stock[:n])]
	if !ok {
		in.locate[m.StockLocate] = 0
		in.unknownStock.Add(1)
		return nil
	}
	in.locate[m.StockLocate] = uint32(id) + 1
	return in.push(int(in.e.shardOf[id]), uint32(id), msg, recv)
}

// Spin and yield rounds of a producer facing a full queue before it parks.
const (
	fullSpins  = 64
	fullYields = 16
)

// push queues msg for shard i and wakes the shard's writer if it is
// parked.
func (in *Input) push(i int, sym uint32, msg []byte, recv int64) error {
	q := in.queues[i]
	s := in.e.shards[i]
	for !q.push(sym, msg, recv) {
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

package orderbook

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/cespare/xxhash/v2"

	"sgw/refdata"
)

// Config configures an Engine. New copies what it needs; the caller may
// reuse the Config afterwards.
type Config struct {
	// Instruments are the instruments to keep books for. A SymbolID is an
	// index into this slice. Each is validated (refdata.Instrument.Validate
	// fills its defaults); symbols and feed symbols must be unique.
	// At least one is required.
	Instruments []refdata.Instrument
	// Shards is the number of writer goroutines. Zero means
	// runtime.GOMAXPROCS(0).
	Shards int
	// MaxDepth is the number of levels per side published in views and
	// ranked in Updates. Zero means DefaultMaxDepth (20); at most
	// MaxDepthLimit (50).
	MaxDepth int
	// RingSize is the number of Updates each shard's broadcast ring keeps,
	// a power of two. Zero means 16384.
	RingSize int
	// InputSize is the number of messages in the queue from each Input to
	// each shard, a power of two. Zero means 8192.
	InputSize int
}

// Config defaults.
const (
	defaultRingSize  = 16384
	defaultInputSize = 8192
	maxShards        = 1024
)

// Engine owns the books of all instruments, split into shards with one
// writer goroutine each (started by Run), and publishes their state to
// lock-free readers.
//
// All methods may be called from any goroutine, with the exceptions noted
// on Input and Reader (each used by one goroutine).
type Engine struct {
	insts     []refdata.Instrument
	bySymbol  map[string]SymbolID
	byFeed    map[string]SymbolID
	shardOf   []uint16
	books     []*Book // books[id] belongs to shard shardOf[id]
	shards    []*shard
	maxDepth  int
	ringSize  int
	inputSize int

	// Published state, written by the shard writers.
	tops   []topSlot
	views  []viewSlot
	bufs   []viewBuf // view buffer k of symbol id: bufs[2*id+k]
	levels []Level   // view buffers' levels, see published
	stride int       // levels per side in levels: maxDepth rounded up to a multiple of 8

	mu          sync.Mutex // serialises NewInput
	inputs      atomic.Pointer[[]*Input]
	systemEvent atomic.Uint32

	running atomic.Bool
	closed  atomic.Bool
	done    chan struct{} // closed when Run returns
}

// Check validates cfg as New would, without building the books: what
// `gateway check-config` asks of the order books.
func (cfg Config) Check() error {
	_, err := cfg.withDefaults()
	return err
}

// withDefaults validates cfg and returns it with its defaults filled and
// its instruments validated copies (symbols and feed symbols unique).
func (cfg Config) withDefaults() (Config, error) {
	if len(cfg.Instruments) == 0 {
		return cfg, fmt.Errorf("%w: no instruments", ErrConfig)
	}
	if cfg.Shards == 0 {
		cfg.Shards = runtime.GOMAXPROCS(0)
	}
	if cfg.Shards < 0 || cfg.Shards > maxShards {
		return cfg, fmt.Errorf("%w: shards %d not in 1..%d", ErrConfig, cfg.Shards, maxShards)
	}
	if cfg.MaxDepth == 0 {
		cfg.MaxDepth = DefaultMaxDepth
	}
	if cfg.MaxDepth < 1 || cfg.MaxDepth > MaxDepthLimit {
		return cfg, fmt.Errorf("%w: max depth %d not in 1..%d", ErrConfig, cfg.MaxDepth, MaxDepthLimit)
	}
	if cfg.RingSize == 0 {
		cfg.RingSize = defaultRingSize
	}
	if cfg.RingSize < 2 || cfg.RingSize > 1<<30 || cfg.RingSize&(cfg.RingSize-1) != 0 {
		return cfg, fmt.Errorf("%w: ring size %d is not a power of two", ErrConfig, cfg.RingSize)
	}
	if cfg.InputSize == 0 {
		cfg.InputSize = defaultInputSize
	}
	if cfg.InputSize < 2 || cfg.InputSize > 1<<30 || cfg.InputSize&(cfg.InputSize-1) != 0 {
		return cfg, fmt.Errorf("%w: input size %d is not a power of two", ErrConfig, cfg.InputSize)
	}
	ins := make([]refdata.Instrument, len(cfg.Instruments))
	copy(ins, cfg.Instruments)
	syms, feeds := make(map[string]bool, len(ins)), make(map[string]bool, len(ins))
	for i := range ins {
		in := &ins[i]
		if err := in.Validate(); err != nil {
			return cfg, fmt.Errorf("orderbook: instrument %d: %w", i, err)
		}
		if syms[in.Symbol] {
			return cfg, fmt.Errorf("%w: duplicate symbol %s", ErrConfig, in.Symbol)
		}
		if feeds[in.FeedSymbol] {
			return cfg, fmt.Errorf("%w: duplicate feed symbol %s", ErrConfig, in.FeedSymbol)
		}
		syms[in.Symbol], feeds[in.FeedSymbol] = true, true
	}
	cfg.Instruments = ins
	return cfg, nil
}

// New validates cfg, fills its defaults and returns an Engine with empty
// books. Errors wrap ErrConfig or refdata.ErrBadInstrument.
func New(cfg Config) (*Engine, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}

	n := len(cfg.Instruments)
	e := &Engine{
		insts:     make([]refdata.Instrument, n),
		bySymbol:  make(map[string]SymbolID, n),
		byFeed:    make(map[string]SymbolID, n),
		shardOf:   make([]uint16, n),
		books:     make([]*Book, n),
		maxDepth:  cfg.MaxDepth,
		ringSize:  cfg.RingSize,
		inputSize: cfg.InputSize,
		tops:      alignedSlice[topSlot](n),
		views:     alignedSlice[viewSlot](n),
		bufs:      alignedSlice[viewBuf](2 * n),
		stride:    (cfg.MaxDepth + 7) / 8 * 8,
		done:      make(chan struct{}),
	}
	e.levels = alignedSlice[Level](2 * 2 * n * e.stride)
	e.inputs.Store(&[]*Input{})
	copy(e.insts, cfg.Instruments)
	for i := range e.insts {
		in := &e.insts[i]
		id := SymbolID(i)
		e.bySymbol[in.Symbol] = id
		e.byFeed[in.FeedSymbol] = id
		e.shardOf[i] = uint16(xxhash.Sum64String(in.Symbol) % uint64(cfg.Shards))
		b := NewBook(*in)
		b.id = id
		b.maxDepth = cfg.MaxDepth
		e.books[i] = b
		e.publishInitial(b)
	}
	e.shards = make([]*shard, cfg.Shards)
	for i := range e.shards {
		e.shards[i] = newShard(e, i)
	}
	return e, nil
}

// Run runs one writer goroutine per shard until ctx is done, then returns
// nil. After Run returns, Inputs return ErrClosed, Readers' Wait returns
// ErrClosed, and the published views stay readable. Run may be called
// once; a second call returns ErrRunning.
func (e *Engine) Run(ctx context.Context) error {
	if !e.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	var stop atomic.Bool
	var wg sync.WaitGroup
	for _, s := range e.shards {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.run(&stop)
		}()
	}
	<-ctx.Done()
	stop.Store(true)
	for _, s := range e.shards {
		s.wakeup()
	}
	wg.Wait()
	e.closed.Store(true)
	close(e.done)
	return nil
}

// Lookup returns the SymbolID of a gateway symbol such as "600519.SH".
func (e *Engine) Lookup(symbol string) (SymbolID, bool) {
	id, ok := e.bySymbol[symbol]
	return id, ok
}

// LookupFeed returns the SymbolID of an instrument by its symbol on the
// feed (refdata.Instrument.FeedSymbol, such as "600519"), padding already
// trimmed. It does not allocate; feed decoders call it on every message
// that names its instrument.
func (e *Engine) LookupFeed(feedSymbol []byte) (SymbolID, bool) {
	id, ok := e.byFeed[string(feedSymbol)]
	return id, ok
}

// Instrument returns the validated reference data of id, or nil for an
// unknown id. The Instrument is shared and must not be modified.
func (e *Engine) Instrument(id SymbolID) *refdata.Instrument {
	if int(id) >= len(e.insts) {
		return nil
	}
	return &e.insts[id]
}

// Symbols returns every SymbolID in order, in a new slice.
func (e *Engine) Symbols() []SymbolID {
	ids := make([]SymbolID, len(e.insts))
	for i := range ids {
		ids[i] = SymbolID(i)
	}
	return ids
}

// Shard returns the shard that owns id, whose Readers carry id's Updates;
// id must be valid.
func (e *Engine) Shard(id SymbolID) int { return int(e.shardOf[id]) }

// Shards returns the number of shards.
func (e *Engine) Shards() int { return len(e.shards) }

// MaxDepth returns the published depth per side.
func (e *Engine) MaxDepth() int { return e.maxDepth }

// SystemEvent returns the event code of the last ITCH System Event the
// shards processed ('O' start of messages, 'S' start of system hours, 'Q'
// start of market hours, 'M' end of market hours, 'E' end of system
// hours, 'C' end of messages), or 0.
func (e *Engine) SystemEvent() byte { return byte(e.systemEvent.Load()) }

// Stats are the Engine's counters since New, as returned by Engine.Stats:
// a copy the caller owns.
type Stats struct {
	Messages       uint64 // events the shard writers processed (a System event once per shard)
	Updates        uint64 // Updates published
	UnknownOrder   uint64 // see ErrUnknownOrder
	DuplicateOrder uint64 // see ErrDuplicateOrder
	OverExecution  uint64 // see ErrOverExecution
	BadMessage     uint64 // see ErrBadMessage
	Mismatch       uint64 // see ErrSnapshotMismatch
	Repeated       uint64 // see ErrRepeatedExecution
	Backpressure   uint64 // times an Input found a shard queue full and waited
	Lapped         uint64 // times a Reader was lapped
}

// Stats returns the counters. It may be called from any goroutine; shard
// counters are published after each batch, so they trail the writers by
// at most one batch.
func (e *Engine) Stats() Stats {
	var st Stats
	for _, s := range e.shards {
		p := &s.pub
		st.Messages += p.messages.Load()
		st.Updates += p.updates.Load()
		st.UnknownOrder += p.unknownOrder.Load()
		st.DuplicateOrder += p.duplicateOrder.Load()
		st.OverExecution += p.overExecution.Load()
		st.BadMessage += p.badMessage.Load()
		st.Mismatch += p.mismatch.Load()
		st.Repeated += p.repeated.Load()
		st.Lapped += s.ring.lapped.Load()
	}
	for _, in := range *e.inputs.Load() {
		st.Backpressure += in.backpressure.Load()
	}
	return st
}

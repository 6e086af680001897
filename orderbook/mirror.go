package orderbook

import (
	"fmt"

	"sgw/refdata"
)

// Mirror keeps an Engine's published state (views, top of book, update
// rings) from Updates and snapshots made by another Engine, instead of
// from feed events: the books of a stateless edge, fed over a message bus
// by the ingest node. Readers use the Engine returned by Engine exactly as
// they use a feed-fed one (the WebSocket fan-out, REST); the Updates in
// its rings are the ingest's, with the ingest's Seq, Recv and checksums,
// plus KindReload when a book was re-marked or replaced.
//
// A mirrored book keeps the top DefaultMaxDepth (20) levels per side,
// maintained from the Updates' level changes with ApplyUpdate and checked
// against every Update's checksums. A book is stale (published as
// StateStale, never as valid) from NewMirror, from MarkStale, and from a
// gap in its Seq or a checksum mismatch, until Load installs a snapshot.
//
// A Mirror has one writer: Apply, Load, MarkStale, Book and Close must be
// called from one goroutine at a time (the owner's). The Engine's read
// side (View, Top, Stale, NewReader, Reader.Next and Wait) is safe from any
// goroutine, with no lock, as for any Engine.
type Mirror struct {
	e    *Engine
	tops []mirrorTop // by SymbolID: the depth-20 copy ApplyUpdate keeps
}

// mirrorTop is a mirrored book's top levels, best first.
type mirrorTop struct{ bids, asks []Level }

// NewMirror returns a Mirror of the instruments in cfg, every book empty
// and stale. cfg is validated as by New; MaxDepth must be 0 or
// DefaultMaxDepth, and InputSize is unused. The mirror's Engine has no
// writer goroutines: its Run returns ErrRunning, and its Inputs must not
// be used.
func NewMirror(cfg Config) (*Mirror, error) {
	if cfg.MaxDepth != 0 && cfg.MaxDepth != DefaultMaxDepth {
		return nil, fmt.Errorf("%w: a mirror keeps depth %d, not %d", ErrConfig, DefaultMaxDepth, cfg.MaxDepth)
	}
	cfg.MaxDepth = DefaultMaxDepth
	e, err := New(cfg)
	if err != nil {
		return nil, err
	}
	e.running.Store(true)
	m := &Mirror{e: e, tops: make([]mirrorTop, len(e.books))}
	for i, b := range e.books {
		m.tops[i] = mirrorTop{bids: make([]Level, 0, DefaultMaxDepth+1), asks: make([]Level, 0, DefaultMaxDepth+1)}
		b.stale = true
		e.publishView(b)
	}
	return m, nil
}

// Engine returns the read side of the mirror, to pass where an Engine is
// read (gateway.Market, gateway.Books).
func (m *Mirror) Engine() *Engine { return m.e }

// Book returns the Seq of symbol id's mirrored book and whether it is
// stale (awaiting a snapshot). Writer goroutine only.
func (m *Mirror) Book(id SymbolID) (seq uint64, stale bool) {
	b := m.e.books[id]
	return b.seq, b.stale
}

// Apply applies one Update of the ingest Engine, whose Symbol the caller
// has set to this Mirror's SymbolID, and publishes it: view first, then
// the ring, as an Engine's writer does.
//
// An Update with Seq at or below the book's is a duplicate and ignored
// (nil). On a stale book Apply returns ErrStale and changes nothing: the
// caller keeps the Update for after the snapshot. An Update that does not
// follow the book's Seq marks the book stale and returns ErrGap; one whose
// result differs from its checksums marks the book stale and returns
// ErrSnapshotMismatch. Both are wrapped with the symbol and Seq. Writer
// goroutine only; it does not allocate on success.
func (m *Mirror) Apply(u *Update) error {
	if int(u.Symbol) >= len(m.e.books) {
		return fmt.Errorf("%w: mirror update for symbol %d", ErrSymbol, u.Symbol)
	}
	b := m.e.books[u.Symbol]
	switch {
	case b.stale:
		return ErrStale
	case u.Seq <= b.seq:
		return nil
	case u.Seq != b.seq+1 || u.Kind < KindBook || u.Kind > KindReset || u.N > uint8(len(u.Changes)):
		m.MarkStale(u.Symbol)
		return fmt.Errorf("%w: %s: %s update seq %d after %d", ErrGap, b.inst.Symbol, u.Kind, u.Seq, b.seq)
	}
	t := &m.tops[u.Symbol]
	t.bids, t.asks = ApplyUpdate(t.bids, t.asks, u, DefaultMaxDepth)
	b.dirty[Bid], b.dirty[Ask] = span{lo: spanEnd}, span{lo: spanEnd}
	b.setTop(Bid, t.bids)
	b.setTop(Ask, t.asks)
	b.traded = false
	switch u.Kind {
	case KindReset:
		b.open, b.high, b.low, b.lastQty = 0, 0, 0, 0
		b.traded = true
	case KindTrade:
		b.mirrorTrade(u.TradePrice, u.TradeQty)
	case KindBook:
		if u.Volume > b.volume && u.Last > 0 {
			// A print a rebuild delivered again (see KindBook): the
			// ingest's book counted it in open, high and low too.
			b.mirrorTrade(u.Last, u.Volume-b.volume)
		}
	}
	b.seq, b.time = u.Seq, u.Time
	b.last, b.volume, b.turnover = u.Last, u.Volume, u.Turnover
	b.state = u.State
	b.sumChecksums()
	if b.ck.ck10 != u.Checksum || b.ck.ck5 != u.Checksum5 {
		b.stale = true
		m.reload(b)
		return fmt.Errorf("%w: %s: mirror at seq %d", ErrSnapshotMismatch, b.inst.Symbol, u.Seq)
	}
	m.publish(b, u)
	return nil
}

// Load installs a snapshot of symbol v.Symbol (this Mirror's SymbolID): the
// View of the ingest Engine at v.Seq, whatever the book held before (its
// Seq may be lower: a new ingest epoch). The book is no longer stale
// (unless the snapshot's State is StateStale) and a KindReload Update is
// published. A snapshot whose levels are out of order, or whose top levels
// differ from its checksums, is refused with ErrBadMessage or
// ErrSnapshotMismatch and changes nothing. Writer goroutine only.
func (m *Mirror) Load(v *View) error {
	if int(v.Symbol) >= len(m.e.books) {
		return fmt.Errorf("%w: mirror snapshot for symbol %d", ErrSymbol, v.Symbol)
	}
	b := m.e.books[v.Symbol]
	bids, asks := v.Bids[:min(len(v.Bids), DefaultMaxDepth)], v.Asks[:min(len(v.Asks), DefaultMaxDepth)]
	if !ordered(bids, 1) || !ordered(asks, -1) {
		return fmt.Errorf("%w: %s: snapshot levels out of order", ErrBadMessage, b.inst.Symbol)
	}
	if Checksum(bids, asks, checksumDepth) != v.Checksum || Checksum(bids, asks, checksum5Depth) != v.Checksum5 {
		return fmt.Errorf("%w: %s: snapshot at seq %d fails its checksums", ErrSnapshotMismatch, b.inst.Symbol, v.Seq)
	}
	t := &m.tops[v.Symbol]
	t.bids, t.asks = append(t.bids[:0], bids...), append(t.asks[:0], asks...)
	b.dirty[Bid], b.dirty[Ask] = span{lo: spanEnd}, span{lo: spanEnd}
	b.setTop(Bid, t.bids)
	b.setTop(Ask, t.asks)
	b.seq, b.time = v.Seq, v.Time
	b.last, b.lastQty, b.volume, b.turnover = v.Last, v.LastQty, v.Volume, v.Turnover
	b.open, b.high, b.low = v.Open, v.High, v.Low
	b.state, b.stale = v.State, false
	b.traded = true
	b.sumChecksums()
	m.reload(b)
	return nil
}

// ordered reports whether levels are strictly ordered best first (sign 1:
// descending prices, bids; -1: ascending, asks) with positive sizes.
func ordered(ls []Level, sign int64) bool {
	for i, l := range ls {
		if l.Qty <= 0 || l.Price <= 0 || (i > 0 && sign*int64(l.Price) >= sign*int64(ls[i-1].Price)) {
			return false
		}
	}
	return true
}

// MarkStale marks symbol id's book stale, keeping its levels (the state at
// its Seq, no longer live): it is published as StateStale, with a
// KindReload Update, until Load. A stale book is left as it is. Writer
// goroutine only.
func (m *Mirror) MarkStale(id SymbolID) {
	if int(id) >= len(m.e.books) {
		return
	}
	b := m.e.books[id]
	if b.stale {
		return
	}
	b.stale = true
	b.dirty[Bid], b.dirty[Ask] = span{lo: spanEnd}, span{lo: spanEnd}
	b.traded = false
	m.reload(b)
}

// Close ends the mirror: Readers' Wait returns ErrClosed; views stay
// readable. Writer goroutine only, once.
func (m *Mirror) Close() {
	if m.e.closed.CompareAndSwap(false, true) {
		close(m.e.done)
	}
}

// reload publishes b with a KindReload Update.
func (m *Mirror) reload(b *Book) {
	u := Update{Symbol: b.id, Seq: b.seq, Time: b.time, Kind: KindReload,
		Last: b.last, Volume: b.volume, Turnover: b.turnover,
		Checksum: b.ck.ck10, Checksum5: b.ck.ck5, State: b.published()}
	m.publish(b, &u)
}

// publish makes b's new state and u visible, as a shard writer does.
func (m *Mirror) publish(b *Book, u *Update) {
	s := m.e.shards[m.e.shardOf[b.id]]
	s.publish(b, u)
	s.flush()
	s.ring.wake()
}

// setTop replaces a mirrored side by top (best first, at most the book's
// depth) and marks the ranks from the first difference for publication.
func (b *Book) setTop(side Side, top []Level) {
	s := &b.sides[side]
	n, old := len(top), len(s.levels)
	lo := 0
	for lo < n && lo < old && s.at(lo) == top[lo] {
		lo++
	}
	if lo == n && n == old {
		return
	}
	if cap(s.levels) < n {
		s.levels = make([]level, n, DefaultMaxDepth+1)
	}
	s.levels = s.levels[:n]
	for r, l := range top {
		s.levels[n-1-r] = level{key: s.key(l.Price), qty: l.Qty, orders: l.Orders, head: -1, tail: -1}
	}
	b.dirty[side] = span{lo: lo, hi: spanEnd}
}

// mirrorTrade keeps the statistics an Update does not carry (last size,
// open, high, low) from a mirrored trade.
func (b *Book) mirrorTrade(p refdata.Price, q int64) {
	b.lastQty = q
	b.ohlc(p)
}

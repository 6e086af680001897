package orderbook

import (
	"runtime"
	"sync/atomic"
	"unsafe"

	"sgw/refdata"
)

// topData is the published top of book of one symbol.
type topData struct {
	bid, ask Level
	seq      uint64
}

// topSlot is one symbol's seqlocked top of book: 64 bytes, allocated on a
// cache-line boundary, so a Top call reads exactly one cache line.
type topSlot struct {
	ver  atomic.Uint64 // odd while the writer is updating data
	data topData
}

// viewBook is the part of a view buffer's header that changes with every
// Update.
type viewBook struct {
	seq, time uint64
	nb, na    int32 // published levels per side (<= MaxDepth)
	ck10, ck5 uint32
	state     TradingState
	differs   bool // Book.Differs
	_         [6]byte
}

// viewTrades is the part of a view buffer's header that changes only with
// trades, on a cache line of its own so that other Updates leave it clean
// in the readers' caches.
type viewTrades struct {
	last, open, high, low refdata.Price
	lastQty               int64
	volume, turnover      int64
}

// viewSlot points to the newer of one symbol's two view buffers.
//
// The view is double buffered: publication p of a symbol is written to
// buffer p&1, each buffer being a seqlock of its own (version odd while
// the writer fills it). A reader loads cur, then copies buffer cur&1 under
// that buffer's seqlock. The next publication goes to the other buffer, so
// a read is disturbed only if the writer publishes the same symbol twice
// while it copies; with one buffer, a reader that takes a few cache-line
// transfers to copy a view (some 200 ns each between cores on the
// development machine) was sent back by every publication in that time.
// The buffer's version sits in the buffer's first cache line, which the
// reader fetches anyway, so validating costs no extra transfer.
type viewSlot struct {
	cur atomic.Uint64 // last complete publication; buffer cur&1 holds it
	_   [cacheLine - 8]byte
}

// viewBuf is the header of one view buffer (its levels are in
// Engine.levels): two cache lines.
type viewBuf struct {
	ver    atomic.Uint64 // seqlock: odd while the writer fills the buffer
	book   viewBook
	_      [cacheLine - 8 - unsafe.Sizeof(viewBook{})]byte
	trades viewTrades
	_      [cacheLine - unsafe.Sizeof(viewTrades{})]byte
}

// View is a consistent snapshot of one symbol's published book: the state
// after the symbol's Update with sequence number Seq. A View is owned by
// the goroutine that passes it to Engine.View; reusing one View per reader
// makes snapshots allocation-free.
type View struct {
	Symbol     SymbolID
	Seq        uint64 // Seq of the last Update included; 0 before any
	Time       uint64 // ITCH timestamp of that Update
	Bids, Asks []Level
	Last       refdata.Price
	LastQty    int64
	Volume     int64
	Turnover   int64
	Open       refdata.Price
	High       refdata.Price
	Low        refdata.Price
	State      TradingState
	Checksum   uint32 // of the top 10 levels, whatever the View's depth
	Checksum5  uint32 // of the top 5 levels
}

// Top returns the best bid and ask of symbol id (zero Levels for an empty
// side) and the Seq of the Update that last changed either of them. It
// never blocks the writer and never locks; it may be called from any
// goroutine and does not allocate. An unknown id returns zeros.
func (e *Engine) Top(id SymbolID) (bid, ask Level, seq uint64) {
	if int(id) >= len(e.tops) {
		return
	}
	t := &e.tops[id]
	for spins := 0; ; spins++ {
		v := t.ver.Load()
		if v&1 == 0 {
			var d topData
			loadWords(unsafe.Pointer(&d), unsafe.Pointer(&t.data), topWords)
			if t.ver.Load() == v {
				return d.bid, d.ask, d.seq
			}
		}
		backoff(spins)
	}
}

// View fills v with a consistent snapshot of symbol id with up to depth
// levels per side; depth <= 0 or above the Engine's MaxDepth means
// MaxDepth. v.Bids and v.Asks are reused: View allocates only when their
// capacity is below depth. It never blocks the writer and never locks, and
// may be called from any goroutine (each with its own v). The snapshot is
// the symbol's current publication at some moment of the call, so a View
// never shows an earlier publication than one taken before it. An
// unknown id leaves v empty.
func (e *Engine) View(id SymbolID, depth int, v *View) {
	d := e.maxDepth
	if depth <= 0 || depth > d {
		depth = d
	}
	if cap(v.Bids) < depth {
		v.Bids = make([]Level, 0, depth)
	}
	if cap(v.Asks) < depth {
		v.Asks = make([]Level, 0, depth)
	}
	if int(id) >= len(e.views) {
		*v = View{Symbol: id, Bids: v.Bids[:0], Asks: v.Asks[:0]}
		return
	}
	var h viewBook
	var tr viewTrades
	vs := &e.views[id]
	for spins := 0; !e.copyView(id, vs.cur.Load(), depth, v, &h, &tr); spins++ {
		backoff(spins)
	}
	v.Symbol = id
	v.Seq, v.Time = h.seq, h.time
	v.Last, v.LastQty = tr.last, tr.lastQty
	v.Volume, v.Turnover = tr.volume, tr.turnover
	v.Open, v.High, v.Low = tr.open, tr.high, tr.low
	v.State = h.state
	v.Checksum, v.Checksum5 = h.ck10, h.ck5
}

// copyView makes one attempt at copying symbol id's view with up to
// depth levels per side into v (levels), h and tr, from the buffer of
// publication cur, a value of the symbol's viewSlot.cur loaded by the
// caller. It reports whether the copy is a publication that was the
// symbol's current one at some moment since cur was loaded.
//
// The buffer may hold a later publication than cur (the writer may have
// published twice since), whose number q follows from the buffer's
// version: buffer k has taken publications k, k+2, k+4, ..., each adding
// 2 to its version, so q = ver - k. A copy of q is kept only if
// viewSlot.cur, loaded again after it, is at least q: q was then current
// at some moment of the call (cur rose from below q, one publication at a
// time). Before, a reader that loaded cur, lost the processor, and copied
// publication q while the writer had completed q's buffer but not yet
// stored cur = q, returned q, and its next View (or another reader's
// after it) returned q-1: views went back, a book marked stale by q
// showed valid again at q-1.
func (e *Engine) copyView(id SymbolID, cur uint64, depth int, v *View, h *viewBook, tr *viewTrades) bool {
	k := cur & 1
	buf := 2*int(id) + int(k)
	vb := &e.bufs[buf]
	ver := vb.ver.Load()
	if ver&1 != 0 {
		return false
	}
	loadWords(unsafe.Pointer(h), unsafe.Pointer(&vb.book), bookWords)
	loadWords(unsafe.Pointer(tr), unsafe.Pointer(&vb.trades), tradesWords)
	// A torn header may hold any counts; clamp before slicing.
	nb := min(max(int(h.nb), 0), depth)
	na := min(max(int(h.na), 0), depth)
	v.Bids, v.Asks = v.Bids[:nb], v.Asks[:na]
	loadLevels(v.Bids, e.published(buf, Bid))
	loadLevels(v.Asks, e.published(buf, Ask))
	return vb.ver.Load() == ver && e.views[id].cur.Load()+k >= ver
}

// backoff yields the processor after a few failed seqlock attempts, in
// case the writer was descheduled in the middle of an update.
func backoff(spins int) {
	if spins >= 8 {
		runtime.Gosched()
	}
}

// Stale reports whether symbol id's published book is marked stale (its
// feed lost messages, a rebuild is under way, or a snapshot disagreed
// with it). It never blocks the writer; any goroutine may call it.
func (e *Engine) Stale(id SymbolID) bool {
	var v View
	e.View(id, 1, &v)
	return v.State == StateStale
}

// Differs reports whether symbol id's published book is known to differ
// from the venue's until a rebuild (Clear) mends it: snapshots found it
// different twice in a row, or an event named an order it does not hold
// or added one it holds (see Book.Differs). A book stale only for its
// feed's outage or a rebuild under way does not differ. Like Stale it
// reads the published view: it never blocks the writer or locks, and
// any goroutine may call it. An unknown id reports false.
func (e *Engine) Differs(id SymbolID) bool {
	if int(id) >= len(e.views) {
		return false
	}
	var v View
	var h viewBook
	var tr viewTrades
	vs := &e.views[id]
	for spins := 0; !e.copyView(id, vs.cur.Load(), 0, &v, &h, &tr); spins++ {
		backoff(spins)
	}
	return h.differs
}

// publishView publishes b's state after the Update it just produced: the
// top-of-book slot when rank 0 of a side changed, then the header and the
// changed levels of the view. Only the shard's writer calls it, also
// after an event that produced no Update but changed what Differs reads
// (shard.process): the view then shows the same Seq.
func (e *Engine) publishView(b *Book) {
	id := b.id
	bd, ad := b.dirty[Bid], b.dirty[Ask]
	bids, asks := &b.sides[Bid], &b.sides[Ask]
	if (bd.lo == 0 && bd.hi > 0) || (ad.lo == 0 && ad.hi > 0) {
		t := &e.tops[id]
		var d topData
		if len(bids.levels) > 0 {
			d.bid = bids.at(0)
		}
		if len(asks.levels) > 0 {
			d.ask = asks.at(0)
		}
		d.seq = b.seq
		ver := t.ver.Load()
		t.ver.Store(ver + 1)
		storeWords(unsafe.Pointer(&t.data), unsafe.Pointer(&d), topWords)
		t.ver.Store(ver + 2)
	}

	depth := e.maxDepth
	h := viewBook{
		seq: b.seq, time: b.time,
		nb: int32(min(len(bids.levels), depth)), na: int32(min(len(asks.levels), depth)),
		ck10: b.ck.ck10, ck5: b.ck.ck5,
		state:   b.published(),
		differs: b.Differs(),
	}
	b.pubDiffers = h.differs
	// The buffer being written last held publication p-2, so it takes
	// the levels changed by publications p-1 and p, and the trade
	// statistics if either of them was a trade.
	b.pub++
	p := b.pub
	if b.traded {
		b.tradePub = p
	}
	buf := 2*int(id) + int(p&1)
	vb := &e.bufs[buf]
	ver := vb.ver.Load()
	vb.ver.Store(ver + 1)
	storeWords(unsafe.Pointer(&vb.book), unsafe.Pointer(&h), bookWords)
	if b.tradePub+2 > p {
		tr := viewTrades{
			last: b.last, open: b.open, high: b.high, low: b.low,
			lastQty: b.lastQty, volume: b.volume, turnover: b.turnover,
		}
		storeWords(unsafe.Pointer(&vb.trades), unsafe.Pointer(&tr), tradesWords)
	}
	e.storeSide(bids, bd.union(b.pubDirty[Bid]), e.published(buf, Bid))
	e.storeSide(asks, ad.union(b.pubDirty[Ask]), e.published(buf, Ask))
	vb.ver.Store(ver + 2)
	e.views[id].cur.Store(p)
	b.pubDirty = b.dirty
}

// published returns the MaxDepth published levels of one side in view
// buffer buf (2*SymbolID + 0 or 1). Each side starts on a cache-line
// boundary (the stride is a multiple of 8 levels, 192 bytes), so the top
// 10 levels of a side span four cache lines.
func (e *Engine) published(buf int, side Side) []Level {
	off := (2*buf + int(side) - 1) * e.stride
	return e.levels[off : off+e.maxDepth : off+e.maxDepth]
}

// storeSide rewrites the published levels of ranks in d.
func (e *Engine) storeSide(s *bookSide, d span, dst []Level) {
	hi := min(d.hi, len(dst), len(s.levels))
	n := len(s.levels)
	for r := d.lo; r < hi; r++ {
		l := &s.levels[n-1-r]
		storeLevel(&dst[r], Level{Price: refdata.Price(s.sign * l.key), Qty: l.qty, Orders: l.orders})
	}
}

// publishInitial publishes the empty state of a new book in both view
// buffers.
func (e *Engine) publishInitial(b *Book) {
	for k := range 2 {
		e.bufs[2*int(b.id)+k].book = viewBook{ck10: b.ck.ck10, ck5: b.ck.ck5}
	}
}

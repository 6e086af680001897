package match

import (
	"fmt"
	"math"

	"sgw/refdata"
)

// maxQty is the largest order size: ITCH carries shares in 32 bits.
const maxQty = math.MaxUint32

// Engine is a set of price-time priority limit order books, one per
// instrument, with day-unique order references and match numbers.
//
// An Engine is not safe for concurrent use: see the package documentation.
type Engine struct {
	books    []*book // index locate-1
	bySymbol map[string]*book
	orders   map[uint64]*order
	sink     Sink
	lastRef  uint64
	lastMtch uint64
	ev       Event // scratch for the sink
}

// New returns an engine for the instruments, which must already be
// validated (refdata.Instrument.Validate) and have distinct symbols. The
// instrument at index i gets locate i+1. The sink may be nil.
func New(instruments []refdata.Instrument, sink Sink) (*Engine, error) {
	if len(instruments) == 0 || len(instruments) > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d instruments (want 1 to %d)", ErrBadConfig, len(instruments), math.MaxUint16)
	}
	e := &Engine{
		bySymbol: make(map[string]*book, len(instruments)),
		orders:   make(map[uint64]*order),
		sink:     sink,
	}
	for i, in := range instruments {
		if in.Tick <= 0 || in.Lot <= 0 || in.PrevClose <= 0 || in.Board == 0 {
			return nil, fmt.Errorf("%w: instrument %q not validated", ErrBadConfig, in.Symbol)
		}
		if _, dup := e.bySymbol[in.Symbol]; dup {
			return nil, fmt.Errorf("%w: duplicate symbol %q", ErrBadConfig, in.Symbol)
		}
		b := newBook(in, uint16(i+1))
		if b.high > math.MaxUint32 {
			return nil, fmt.Errorf("%w: %s: limit-up %s does not fit an ITCH price", ErrBadConfig, in.Symbol, b.high)
		}
		e.books = append(e.books, b)
		e.bySymbol[in.Symbol] = b
	}
	return e, nil
}

func (e *Engine) emit(ev Event) {
	if e.sink != nil {
		e.ev = ev
		e.sink(&e.ev)
	}
}

func (e *Engine) book(symbol string) (*book, error) {
	b, ok := e.bySymbol[symbol]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownSymbol, symbol)
	}
	return b, nil
}

// checkPrice validates a limit price against the book's tick and band.
func (b *book) checkPrice(p refdata.Price) error {
	if !b.inst.OnTick(p) || p <= 0 {
		return fmt.Errorf("%w: %s: %s (tick %s)", ErrOffTick, b.inst.Symbol, p, b.inst.Tick)
	}
	if p < b.low || p > b.high {
		return fmt.Errorf("%w: %s: %s outside %s-%s", ErrOutOfBand, b.inst.Symbol, p, b.low, b.high)
	}
	return nil
}

// checkQty validates an order size.
func (b *book) checkQty(s Side, qty int64) error {
	if qty <= 0 || qty > maxQty {
		return fmt.Errorf("%w: %d", ErrBadQty, qty)
	}
	switch {
	case s != Buy:
	case b.inst.Board == refdata.BoardSTAR && qty < starMinQty:
		return fmt.Errorf("%w: %s: %d (STAR: at least %d)", ErrOddLot, b.inst.Symbol, qty, starMinQty)
	case b.inst.Board != refdata.BoardSTAR && qty%b.inst.Lot != 0:
		return fmt.Errorf("%w: %s: %d (lot %d)", ErrOddLot, b.inst.Symbol, qty, b.inst.Lot)
	}
	return nil
}

// starMinQty is the smallest STAR buy, in shares; above it any quantity
// is allowed, whatever the instrument's Lot (the SSE's STAR rules, as
// package risk checks them).
const starMinQty = 200

// Submit enters a new limit order. It trades against the opposite side in
// price-time priority (each trade at the resting order's price), then rests
// the remainder (Day) or cancels it (IOC). Invalid orders are rejected with
// an error wrapping ErrUnknownSymbol, ErrBadSide, ErrBadQty, ErrOddLot,
// ErrOffTick, ErrOutOfBand or ErrHalted, and change nothing.
func (e *Engine) Submit(o Order) (Result, error) {
	b, err := e.book(o.Symbol)
	if err != nil {
		return Result{}, err
	}
	if o.Side != Buy && o.Side != Sell {
		return Result{}, fmt.Errorf("%w: %q", ErrBadSide, byte(o.Side))
	}
	if o.TIF != Day && o.TIF != IOC {
		return Result{}, fmt.Errorf("%w: time in force %d", ErrBadConfig, o.TIF)
	}
	if b.halted {
		return Result{}, fmt.Errorf("%w: %s", ErrHalted, o.Symbol)
	}
	if err := b.checkQty(o.Side, o.Qty); err != nil {
		return Result{}, err
	}
	if err := b.checkPrice(o.Price); err != nil {
		return Result{}, err
	}
	return e.enter(b, o.Side, o.Price, o.Qty, o.TIF, o.Owner, o.Tag), nil
}

// enter matches and rests an already validated order.
func (e *Engine) enter(b *book, s Side, p refdata.Price, qty int64, tif TimeInForce, owner, tag string) Result {
	var r Result
	opp := b.side(s.Opposite())
	for qty > 0 {
		l := opp.best()
		if !crosses(s, p, l) {
			break
		}
		for qty > 0 && l.head != nil {
			ro := l.head
			n := min(qty, ro.qty)
			qty -= n
			ro.qty -= n
			l.qty -= n
			e.lastMtch++
			r.Filled += n
			e.emit(Event{Kind: EventExecute, Locate: b.locate, Ref: ro.ref, Side: ro.side, Qty: n, Price: l.price, Match: e.lastMtch})
			if ro.qty == 0 {
				l.unlink(ro)
				delete(e.orders, ro.ref)
				b.resting--
			}
			r.Fills = append(r.Fills, Fill{Match: e.lastMtch, Price: l.price, Qty: n, Resting: ro.info()})
		}
		if l.head == nil {
			opp.drop(l)
		}
	}
	if qty == 0 {
		return r
	}
	if tif == IOC {
		r.Expired = qty
		return r
	}
	e.lastRef++
	no := &order{ref: e.lastRef, side: s, price: p, qty: qty, owner: owner, tag: tag, book: b}
	b.side(s).levelAt(p).push(no)
	e.orders[no.ref] = no
	b.resting++
	r.Ref, r.Leaves = no.ref, qty
	e.emit(Event{Kind: EventAdd, Locate: b.locate, Ref: no.ref, Side: s, Qty: qty, Price: p})
	return r
}

// remove takes a resting order out of its book.
func (e *Engine) remove(o *order) {
	l := o.level
	l.unlink(o)
	if l.n == 0 {
		o.book.side(o.side).drop(l)
	}
	delete(e.orders, o.ref)
	o.book.resting--
}

// Cancel takes qty shares out of the resting order ref; qty <= 0 or at least
// its open quantity cancels it entirely. A partial cancel keeps the order's
// time priority. Cancels are accepted while the instrument is halted.
func (e *Engine) Cancel(ref uint64, qty int64) (CancelResult, error) {
	o, ok := e.orders[ref]
	if !ok {
		return CancelResult{}, fmt.Errorf("%w: %d", ErrUnknownOrder, ref)
	}
	if qty <= 0 || qty >= o.qty {
		n := o.qty
		e.remove(o)
		e.emit(Event{Kind: EventDelete, Locate: o.book.locate, Ref: ref, Side: o.side, Price: o.price})
		return CancelResult{Canceled: n}, nil
	}
	o.qty -= qty
	o.level.qty -= qty
	e.emit(Event{Kind: EventCancel, Locate: o.book.locate, Ref: ref, Side: o.side, Qty: qty, Price: o.price})
	return CancelResult{Canceled: qty, Leaves: o.qty}, nil
}

// Replace changes the price and open quantity of the resting order ref; qty
// is the new open (leaves) quantity, not a FIX OrderQty. For a buy the
// change of open quantity must be a whole number of lots, so that an order
// of whole lots stays one even when odd-lot sells have filled part of it
// (on STAR, where buys go in steps of one share, any change).
//
// Keeping the price and not raising the quantity keeps the order's
// reference and time priority: a reduction is a partial cancel (one
// Cancel event), no change at all publishes nothing. Any other change
// gives the order a new reference at the back of its new level (one Replace
// event). A new price that crosses the other side deletes the old order
// (Delete) and enters the new one like Submit, so it trades and rests any
// remainder under a new reference. The returned Result describes the order
// after the replace; Result.Ref is its reference (zero when it traded out).
// An invalid price or quantity, or a halted instrument, leaves the order
// unchanged.
func (e *Engine) Replace(ref uint64, price refdata.Price, qty int64) (Result, error) {
	o, ok := e.orders[ref]
	if !ok {
		return Result{}, fmt.Errorf("%w: %d", ErrUnknownOrder, ref)
	}
	b := o.book
	if b.halted {
		return Result{}, fmt.Errorf("%w: %s", ErrHalted, b.inst.Symbol)
	}
	if qty <= 0 || qty > maxQty {
		return Result{}, fmt.Errorf("%w: %d", ErrBadQty, qty)
	}
	if o.side == Buy && b.inst.Board != refdata.BoardSTAR && (qty-o.qty)%b.inst.Lot != 0 {
		return Result{}, fmt.Errorf("%w: %s: open %d to %d (lot %d)", ErrOddLot, b.inst.Symbol, o.qty, qty, b.inst.Lot)
	}
	if err := b.checkPrice(price); err != nil {
		return Result{}, err
	}
	if price == o.price && qty == o.qty {
		return Result{Ref: ref, Leaves: qty}, nil
	}
	if price == o.price && qty < o.qty {
		cut := o.qty - qty
		o.qty = qty
		o.level.qty -= cut
		e.emit(Event{Kind: EventCancel, Locate: b.locate, Ref: ref, Side: o.side, Qty: cut, Price: o.price})
		return Result{Ref: ref, Leaves: qty}, nil
	}
	if crosses(o.side, price, b.side(o.side.Opposite()).best()) {
		e.remove(o)
		e.emit(Event{Kind: EventDelete, Locate: b.locate, Ref: ref, Side: o.side, Price: o.price})
		return e.enter(b, o.side, price, qty, Day, o.owner, o.tag), nil
	}
	e.remove(o)
	e.lastRef++
	no := &order{ref: e.lastRef, side: o.side, price: price, qty: qty, owner: o.owner, tag: o.tag, book: b}
	b.side(no.side).levelAt(price).push(no)
	e.orders[no.ref] = no
	b.resting++
	e.emit(Event{Kind: EventReplace, Locate: b.locate, Ref: ref, NewRef: no.ref, Side: no.side, Qty: qty, Price: price})
	return Result{Ref: no.ref, Leaves: qty}, nil
}

// SetHalted halts or resumes trading in symbol. A halted instrument rejects
// Submit and Replace with ErrHalted; cancels still work. Its book is kept.
func (e *Engine) SetHalted(symbol string, halted bool) error {
	b, err := e.book(symbol)
	if err != nil {
		return err
	}
	b.halted = halted
	return nil
}

// Halted reports whether symbol is halted (false for an unknown symbol).
func (e *Engine) Halted(symbol string) bool {
	b, ok := e.bySymbol[symbol]
	return ok && b.halted
}

// Depth returns up to n best aggregated levels of each side of symbol's
// book, best first (all levels when n <= 0). It returns nil slices for an
// unknown symbol or an empty side.
func (e *Engine) Depth(symbol string, n int) (bids, asks []Level) {
	b, ok := e.bySymbol[symbol]
	if !ok {
		return nil, nil
	}
	return b.bids.depth(nil, n), b.asks.depth(nil, n)
}

// Orders returns symbol's resting orders per side in priority order: best
// price first and, within a price, oldest first.
func (e *Engine) Orders(symbol string) (bids, asks []OrderInfo) {
	b, ok := e.bySymbol[symbol]
	if !ok {
		return nil, nil
	}
	return b.bids.orders(nil), b.asks.orders(nil)
}

// Order returns the resting order ref, if it is still in a book.
func (e *Engine) Order(ref uint64) (OrderInfo, bool) {
	o, ok := e.orders[ref]
	if !ok {
		return OrderInfo{}, false
	}
	return o.info(), true
}

// Resting returns the number of resting orders in symbol's book.
func (e *Engine) Resting(symbol string) int {
	if b, ok := e.bySymbol[symbol]; ok {
		return b.resting
	}
	return 0
}

// Count returns the number of resting orders on each side of symbol's book.
func (e *Engine) Count(symbol string) (bids, asks int) {
	b, ok := e.bySymbol[symbol]
	if !ok {
		return 0, 0
	}
	for _, l := range b.bids.levels {
		bids += l.n
	}
	for _, l := range b.asks.levels {
		asks += l.n
	}
	return bids, asks
}

// Best returns the best bid and ask prices of symbol; a zero price means
// that side is empty.
func (e *Engine) Best(symbol string) (bid, ask refdata.Price) {
	b, ok := e.bySymbol[symbol]
	if !ok {
		return 0, 0
	}
	if l := b.bids.best(); l != nil {
		bid = l.price
	}
	if l := b.asks.best(); l != nil {
		ask = l.price
	}
	return bid, ask
}

// Locate returns symbol's locate code (its position in the configuration,
// from 1).
func (e *Engine) Locate(symbol string) (uint16, bool) {
	b, ok := e.bySymbol[symbol]
	if !ok {
		return 0, false
	}
	return b.locate, true
}

// Instrument returns the instrument with the given locate code.
func (e *Engine) Instrument(locate uint16) (refdata.Instrument, bool) {
	if locate == 0 || int(locate) > len(e.books) {
		return refdata.Instrument{}, false
	}
	return e.books[locate-1].inst, true
}

// Len returns the number of instruments.
func (e *Engine) Len() int { return len(e.books) }

// LastRef returns the last order reference assigned (zero before any).
func (e *Engine) LastRef() uint64 { return e.lastRef }

// LastMatch returns the last match number assigned (zero before any).
func (e *Engine) LastMatch() uint64 { return e.lastMtch }

package orderbook

import (
	"math"
	"math/bits"
	"slices"

	"sgw/feed/event"
	"sgw/refdata"
)

// Published depth limits.
const (
	// DefaultMaxDepth is the published depth when Config.MaxDepth is 0,
	// and the depth a stand-alone Book ranks its level changes against.
	DefaultMaxDepth = 20
	// MaxDepthLimit is the largest allowed Config.MaxDepth.
	MaxDepthLimit = 50
)

// maxShares bounds the share count of one order or trade; the day's
// volume and turnover saturate rather than overflow (trade).
const maxShares = 1 << 40

// initialOrders is the order capacity a new Book reserves; a Book grows
// past it (allocating) only when its live order count reaches a new high.
const initialOrders = 1024

// ApplyErrors counts the messages a Book could not apply cleanly. Book.Errors
// returns a copy, which the caller owns.
type ApplyErrors struct {
	UnknownOrder   uint64 // ErrUnknownOrder: message ignored
	DuplicateOrder uint64 // ErrDuplicateOrder: message ignored
	OverExecution  uint64 // ErrOverExecution: the order was removed
	BadMessage     uint64 // ErrBadMessage: message ignored
	Mismatch       uint64 // ErrSnapshotMismatch: the book was marked stale
	Repeated       uint64 // ErrRepeatedExecution: message ignored
}

// order is one resting order, kept in the Book's slab. While free, next
// links the free list.
type order struct {
	ref   uint64
	price refdata.Price
	qty   int64
	prev  int32
	next  int32
	side  Side
}

// heldOrder is an announced order waiting off the book for its trades.
type heldOrder struct {
	ref    uint64
	price  refdata.Price
	qty    int64
	side   Side
	active bool
}

// maxRefused bounds a Book's refused prints. An honest feed's missed
// message is found by the first event naming its order, and the rebuild
// follows within a few of its executions; a feed naming unknown orders
// without end (broken or hostile) fills it, and the refusals past it are
// not kept: their prints are lost, as a rebuild's trades resync tells
// subscribers they may be, never published twice.
const maxRefused = 64

// refusedPrint is an Execute a Book refused (ErrUnknownOrder) whose
// print was therefore never published. armed: a Clear came since, so the
// rebuild it began delivers the message again (flagged
// event.FlagReplayed), and the print is published then.
type refusedPrint struct {
	ref   uint64
	price refdata.Price
	qty   int64
	armed bool
}

// repeatWindow is how many of a book's last executions and trades it
// keeps the identity of, to drop one delivered again (a relay repeats
// what it sent last). A power of two that divides 256 (Book.execNext).
const repeatWindow = 16

// execID is one execution's identity: its Match (day-unique) and order
// (the executions of a cross may share its match number).
type execID struct{ match, ref uint64 }

// span is a range of ranks [lo, hi) of one side changed by the last event.
type span struct{ lo, hi int }

const spanEnd = math.MaxInt32

// union returns the smallest span covering s and t.
func (s span) union(t span) span {
	switch {
	case s.lo >= s.hi:
		return t
	case t.lo >= t.hi:
		return s
	}
	return span{lo: min(s.lo, t.lo), hi: max(s.hi, t.hi)}
}

// Book is the order-by-order (L3) book of one instrument with aggregated
// price levels (L2), trade statistics and trading state.
//
// A Book is not safe for concurrent use: one goroutine (an Engine shard's
// writer, or a test) owns it and makes every call. Other goroutines read
// an Engine's published views instead.
type Book struct {
	inst     refdata.Instrument
	id       SymbolID
	maxDepth int
	seq      uint64
	time     uint64

	sides  [3]bookSide // indexed by Side; [0] unused
	orders orderTable
	slab   []order
	free   int32 // first free slab entry, -1 = none

	last, open, high, low refdata.Price
	lastQty               int64
	volume, turnover      int64
	state                 TradingState
	stale                 bool
	event                 byte
	// wrong: an event named an order the book does not hold, or added
	// one it already holds: the book differs from the venue's, which
	// only a rebuild from the start (Clear) mends, so it stays stale
	// through a Valid until then.
	wrong bool
	// wrongIn is the Input whose event found the book wrong: the book
	// counts in its Missed until a Clear (an Engine's shard writer keeps
	// it; nil for a stand-alone Book).
	wrongIn *Input

	ck checksummer

	// Per-event bookkeeping, reset by Apply.
	dirty       [3]span
	removedSide Side
	removedRank int
	traded      bool

	errs    ApplyErrors
	lastErr error

	// refused are the prints of Executes the book refused for an order
	// it did not hold (see refuse): published at no delivery so far.
	// noRefused: since a Stale event (the feed's sources disagree: a
	// message may have been delivered twice, and a second copy refused
	// for an order its first removed) until a Clear or Valid, refusals
	// are not kept, and the Stale forgot those kept.
	refused   []refusedPrint
	noRefused bool
	// taken are the references of the last len(taken) orders an Execute
	// took whole (next: the slot written next). An Execute of one of
	// them refused after is a message delivered again (a relay repeating
	// it and numbering on): its first copy printed, so its refusal is not
	// kept in refused, or the rebuild would publish it a second time.
	// ITCH order references are unique in a day, so a missed Add's order
	// is never among them.
	taken     [16]uint64
	takenNext uint8
	// execs are the identities (event.Event.Match and the order) of the
	// book's last repeatWindow executions and trades that had one
	// (execNext: the slot written next): one delivered again is
	// dropped (ErrRepeatedExecution), not printed or taken again.
	execs    [repeatWindow]execID
	execNext uint8

	// held is an order that crossed the book on arrival (an Add flagged
	// FlagAnnounced): its trades follow, and it rests only once they
	// leave it not crossing, or at a Rest event.
	held heldOrder
	// Snapshot checks: a level of the current snapshot differed; the
	// previous snapshot differed, at book sequence suspectSeq.
	checkFailed, suspect bool
	suspectSeq           uint64
	// mismatched: snapshots found the book different twice in a row (the
	// book moving between them), which marked it stale. As wrong, only
	// a rebuild (Clear) mends it: it stays stale through a Valid (an
	// outage's end, a rebuild's end) until then, and the feed's rebuild
	// request still finds it (Differs). Such a Valid counts it again
	// (ErrSnapshotMismatch), so that the request, which looks when the
	// count moves, looks after it.
	mismatched bool

	// The Engine's view publisher state: publications so far, the spans
	// of the previous one and the last one with a trade, and the Differs
	// it published last.
	pub        uint64
	pubDirty   [3]span
	tradePub   uint64
	pubDiffers bool
}

// NewBook returns an empty book for inst. Its level changes are ranked
// against DefaultMaxDepth.
func NewBook(inst refdata.Instrument) *Book {
	b := &Book{
		inst:     inst,
		maxDepth: DefaultMaxDepth,
		orders:   newOrderTable(initialOrders),
		slab:     make([]order, 0, initialOrders),
		free:     -1,
	}
	b.sides[Bid] = bookSide{side: Bid, sign: 1, levels: make([]level, 0, 64)}
	b.sides[Ask] = bookSide{side: Ask, sign: -1, levels: make([]level, 0, 64)}
	b.ck.init()
	return b
}

// Instrument returns the book's instrument, which must not be modified.
func (b *Book) Instrument() *refdata.Instrument { return &b.inst }

// Seq returns the sequence number of the last Update the book produced.
func (b *Book) Seq() uint64 { return b.seq }

// Orders returns the number of resting orders.
func (b *Book) Orders() int { return b.orders.n }

// Levels returns the number of price levels on side.
func (b *Book) Levels(side Side) int {
	if side != Bid && side != Ask {
		return 0
	}
	return len(b.sides[side].levels)
}

// Depth appends the best n levels of side, best first, to dst[:0] and
// returns it. It does not allocate when dst has capacity n.
func (b *Book) Depth(side Side, n int, dst []Level) []Level {
	dst = dst[:0]
	if side != Bid && side != Ask {
		return dst
	}
	s := &b.sides[side]
	for r := 0; r < n && r < len(s.levels); r++ {
		dst = append(dst, s.at(r))
	}
	return dst
}

// Last returns the last trade's price and shares (zero before the first).
func (b *Book) Last() (refdata.Price, int64) { return b.last, b.lastQty }

// Volume returns the shares traded today.
func (b *Book) Volume() int64 { return b.volume }

// Turnover returns the sum of price*shares of today's trades, in Price
// units.
func (b *Book) Turnover() int64 { return b.turnover }

// OHLC returns the first, highest and lowest trade prices of the day and
// the last one (all zero before the first trade).
func (b *Book) OHLC() (open, high, low, last refdata.Price) {
	return b.open, b.high, b.low, b.last
}

// State returns the trading state from the last State event.
func (b *Book) State() TradingState { return b.state }

// Stale reports whether the book may be wrong: its feed lost messages
// (a Stale event) or it is being rebuilt (a Clear event), until a Valid
// event; or an event showed it differs from the venue's (ErrUnknownOrder,
// ErrDuplicateOrder), until a Clear and then a Valid.
func (b *Book) Stale() bool { return b.stale }

// Differs reports whether the book is known to differ from the venue's,
// which only a rebuild (Clear) mends: snapshots found it different twice
// in a row (the book moving between them), or an event named an order it
// does not hold or added one it holds (ErrUnknownOrder,
// ErrDuplicateOrder). Such a book is stale; a book stale only because its
// feed lost its sources or is rebuilding it does not differ. The SZSE
// feed rebuilds the channels of books that differ (Engine.Differs).
func (b *Book) Differs() bool { return b.wrong || b.mismatched }

// SystemEvent returns the event code of the last System Event message
// applied to this book, or 0.
func (b *Book) SystemEvent() byte { return b.event }

// Checksums returns the checksums of the top 10 and top 5 levels.
func (b *Book) Checksums() (top10, top5 uint32) { return b.ck.ck10, b.ck.ck5 }

// Errors returns the counts of messages the book could not apply cleanly.
func (b *Book) Errors() ApplyErrors { return b.errs }

// LastError returns why the last Apply failed or was partial (one of
// ErrUnknownOrder, ErrDuplicateOrder, ErrOverExecution, ErrBadMessage), or
// nil.
func (b *Book) LastError() error { return b.lastErr }

// Apply applies one event to the book. When the event changed the book
// visibly it fills u with the resulting Update (the next per-symbol Seq)
// and returns true; otherwise it returns false and u's contents are
// unspecified. An event the book cannot apply is counted in Errors and
// reported by LastError, never a panic; an over-execution still removes
// the order and returns true. An unknown or duplicate order reference
// means the book missed a message: the book is marked stale (u is then a
// KindStatus Update if nothing else changed) and stays stale until a
// Clear starts its rebuild. ev.Symbol is not read: the caller routes
// events to their books.
//
// The Recv field of u is left zero for the caller to fill. Apply does not
// allocate once the book's order and level capacity covers its working
// size.
func (b *Book) Apply(ev *event.Event, u *Update) bool {
	b.lastErr = nil
	b.dirty[Bid] = span{lo: spanEnd}
	b.dirty[Ask] = span{lo: spanEnd}
	b.removedSide = 0
	b.traded = false
	*u = Update{}

	var ok bool
	switch ev.Kind {
	case event.Add:
		ok = b.add(ev, u)
	case event.Rest:
		ok = b.rest(u)
	case event.Check:
		ok = b.check(ev)
	case event.CheckDone:
		ok = b.checkDone(u)
	case event.Execute:
		ok = b.execute(ev, u)
		ok = b.uncrossed(u) || ok
	case event.Reduce:
		ok = b.cancel(ev, u, false)
		ok = b.uncrossed(u) || ok
	case event.Delete:
		ok = b.cancel(ev, u, true)
		ok = b.uncrossed(u) || ok
	case event.Replace:
		ok = b.replace(ev, u)
	case event.Trade:
		ok = b.print(ev, u)
	case event.State:
		if st := TradingState(ev.Code); st != b.state {
			b.state = st
			u.Kind = KindStatus
			ok = true
		}
	case event.System:
		b.event = ev.Code
	case event.Clear:
		b.clear(u)
		ok = true
	case event.Stale, event.Valid:
		if ev.Kind == event.Valid {
			b.dropArmed()
		} else {
			b.refused = b.refused[:0] // see noRefused
		}
		b.noRefused = ev.Kind == event.Stale
		if ev.Kind == event.Valid && b.mismatched {
			// Still known to differ from its snapshots: counted again, so
			// that the feed's rebuild request, which looks when the count
			// moves, finds it stale once it is told valid. The difference
			// may have been found while its channel was being rebuilt
			// (that look skipped it) with no snapshot to differ again.
			b.fail(ErrSnapshotMismatch)
		}
		if stale := ev.Kind == event.Stale || b.wrong || b.mismatched; stale != b.stale {
			b.stale = stale
			u.Kind = KindStatus
			ok = true
		}
	}
	if u.Kind == KindTrade && !b.unrefused(ev) && ev.Flags&event.FlagReplayed != 0 {
		// A print published before the rebuild: counted above, not
		// published again (its statistics ride on the Update).
		u.Kind, u.TradePrice, u.TradeQty = KindBook, 0, 0
	}
	if b.wrong && !b.stale {
		b.stale = true
		if !ok {
			u.Kind = KindStatus
			ok = true
		}
	}
	if !ok {
		return false
	}

	b.seq++
	b.time = ev.Time
	b.sumChecksums()
	if b.removedSide != 0 && b.removedRank < 20 && b.removedRank < b.maxDepth {
		s := &b.sides[b.removedSide]
		u.EnterSide = b.removedSide
		for k, r := range enterRanks {
			if r < len(s.levels) {
				u.Enter[k] = s.at(r)
			}
		}
	}
	u.Symbol = b.id
	u.Seq = b.seq
	u.Time = ev.Time
	u.Last = b.last
	u.Volume = b.volume
	u.Turnover = b.turnover
	u.Checksum = b.ck.ck10
	u.Checksum5 = b.ck.ck5
	u.State = b.published()
	return true
}

// published is the state the book publishes: its trading state, or
// StateStale while it may be wrong.
func (b *Book) published() TradingState {
	if b.stale {
		return StateStale
	}
	return b.state
}

// clear empties the book and its statistics for a rebuild and marks it
// stale; the Update is a KindReset. Clearing allocates a new order table
// (a rebuild is rare; the old one may be large).
func (b *Book) clear(u *Update) {
	for _, side := range [2]Side{Bid, Ask} {
		b.sides[side].levels = b.sides[side].levels[:0]
		b.dirty[side] = span{lo: 0, hi: spanEnd}
	}
	b.orders = newOrderTable(initialOrders)
	clear(b.slab)
	b.slab = b.slab[:0]
	b.free = -1
	b.last, b.open, b.high, b.low = 0, 0, 0, 0
	b.lastQty, b.volume, b.turnover = 0, 0, 0
	b.state = StateUnknown
	b.stale, b.wrong = true, false
	b.held = heldOrder{}
	b.checkFailed, b.suspect, b.mismatched = false, false, false
	b.traded = true // republish the (zero) trade statistics
	for i := range b.refused {
		b.refused[i].armed = true // the rebuild delivers them again
	}
	b.noRefused = false
	b.taken, b.takenNext = [len(b.taken)]uint64{}, 0 // the rebuild takes them again
	b.execs, b.execNext = [repeatWindow]execID{}, 0
	u.Kind = KindReset
}

// refuse records that the book refused ev, a printed Execute of an order
// it does not hold: its print is published at no delivery yet. A
// rebuild's Clear arms it, and when the rebuild delivers the message
// again (flagged event.FlagReplayed, as delivered before) and the book
// now holds the order, the print is published (unrefused). A replayed
// copy refused again leaves its record for the next rebuild. Past
// maxRefused records, or while the feed's sources disagree (noRefused),
// a refusal is not kept: its print is lost rather than risk publishing
// it twice.
func (b *Book) refuse(ev *event.Event) {
	if b.noRefused {
		return
	}
	if ev.Flags&event.FlagReplayed != 0 {
		if i := b.refusedAt(ev, true); i >= 0 {
			b.refused[i].armed = false // unpublished still: the next Clear arms it again
		}
		return
	}
	if slices.Contains(b.taken[:], ev.Ref) {
		return // a repeat of the Execute that took the order: printed
	}
	if len(b.refused) < maxRefused {
		b.refused = append(b.refused, refusedPrint{ref: ev.Ref, price: ev.Price, qty: ev.Qty})
	}
}

// refusedAt returns the index of the record of ev's refusal, or -1;
// with armed, only of one a Clear armed.
func (b *Book) refusedAt(ev *event.Event, armed bool) int {
	for i, r := range b.refused {
		if (r.armed || !armed) && r.ref == ev.Ref && r.price == ev.Price && r.qty == ev.Qty {
			return i
		}
	}
	return -1
}

// unrefused reports whether ev, an Execute the book just printed, is one
// it refused before and whose print is published now, and forgets the
// record: a replayed copy (FlagReplayed) of one refused before the
// rebuild (armed), or any copy not replayed (a message delivered again
// out of place before the rebuild: published now, it is not to be
// published again when the rebuild replays it).
func (b *Book) unrefused(ev *event.Event) bool {
	if ev.Kind != event.Execute || len(b.refused) == 0 {
		return false
	}
	i := b.refusedAt(ev, ev.Flags&event.FlagReplayed != 0)
	if i < 0 {
		return false
	}
	b.refused = slices.Delete(b.refused, i, i+1)
	return true
}

// dropArmed forgets the refusals recorded before the last Clear: the
// rebuild it began has delivered their messages again (a Valid event
// ends it), so a later delivery of theirs is a new stream's.
func (b *Book) dropArmed() {
	b.refused = slices.DeleteFunc(b.refused, func(r refusedPrint) bool { return r.armed })
}

// wrongChanged moves the book's count in an Input's Missed after
// b.wrong changed in an event from in (nil: none). The Engine's shard
// writer calls it.
func (b *Book) wrongChanged(in *Input) {
	if b.wrong {
		b.wrongIn = in
		if in != nil {
			in.wrong.Add(1)
		}
		return
	}
	if b.wrongIn != nil {
		b.wrongIn.wrong.Add(-1)
		b.wrongIn = nil
	}
}

func (b *Book) fail(err error) bool {
	b.lastErr = err
	switch err {
	case ErrUnknownOrder:
		b.errs.UnknownOrder++
		b.wrong = true
	case ErrDuplicateOrder:
		b.errs.DuplicateOrder++
		b.wrong = true
	case ErrOverExecution:
		b.errs.OverExecution++
	case ErrSnapshotMismatch:
		b.errs.Mismatch++
	case ErrRepeatedExecution:
		b.errs.Repeated++
	default:
		b.errs.BadMessage++
	}
	return false
}

// unknown fails an event naming an order the book does not hold, unless
// the event says its order may never have rested.
func (b *Book) unknown(ev *event.Event) bool {
	if ev.Flags&event.FlagMayBeAbsent != 0 {
		return false
	}
	return b.fail(ErrUnknownOrder)
}

// add rests a new order, or holds an announced one that crosses. An
// own-best order (FlagOwnBest) takes the best price of its side, once a
// previous aggressor has rested (a new order arrived: its trades are
// over); with that side empty it is not rested, and the cancel that
// follows it on the venue's stream names an absent order.
func (b *Book) add(ev *event.Event, u *Update) bool {
	side := Side(ev.Side)
	ownBest := ev.Flags&event.FlagOwnBest != 0
	if side != Bid && side != Ask || ev.Qty <= 0 || ev.Qty > maxShares || ev.Price <= 0 && !ownBest {
		return b.fail(ErrBadMessage)
	}
	if _, dup := b.orders.get(ev.Ref); dup || b.held.active && b.held.ref == ev.Ref {
		return b.fail(ErrDuplicateOrder)
	}
	price := ev.Price
	ok := false
	if ownBest {
		ok = b.rest(u)
		s := &b.sides[side]
		if len(s.levels) == 0 {
			return ok
		}
		price = refdata.Price(s.sign * s.levels[len(s.levels)-1].key)
	}
	if ev.Flags&event.FlagAnnounced != 0 && b.crosses(side, price) {
		ok = b.rest(u) || ok // a previous aggressor whose trades are over
		b.held = heldOrder{ref: ev.Ref, price: price, qty: ev.Qty, side: side, active: true}
		return ok
	}
	u.Kind = KindBook
	b.insert(ev.Ref, side, price, ev.Qty, u)
	return true
}

// crosses reports whether an order of side at price would trade with the
// best order of the other side.
func (b *Book) crosses(side Side, price refdata.Price) bool {
	other := &b.sides[Ask]
	if side == Ask {
		other = &b.sides[Bid]
	}
	if len(other.levels) == 0 {
		return false
	}
	best := refdata.Price(other.sign * other.levels[len(other.levels)-1].key)
	if side == Bid {
		return price >= best
	}
	return price <= best
}

// rest puts the held aggressor, if any, on the book.
func (b *Book) rest(u *Update) bool {
	h := &b.held
	if !h.active {
		return false
	}
	h.active = false
	if u.Kind == 0 {
		u.Kind = KindBook
	}
	b.insert(h.ref, h.side, h.price, h.qty, u)
	return true
}

// uncrossed rests the held aggressor once the event just applied (an
// execution or a cancel of the order it was crossing) leaves it no longer
// crossing, and reports whether it did.
func (b *Book) uncrossed(u *Update) bool {
	if !b.held.active || b.crosses(b.held.side, b.held.price) {
		return false
	}
	return b.rest(u)
}

// reduceHeld takes q shares off the held aggressor (its trades, or the
// cancel of what is left) and rests what is left once it no longer
// crosses. It reports whether the book changed.
func (b *Book) reduceHeld(q int64, u *Update) bool {
	h := &b.held
	if q >= h.qty {
		if q > h.qty {
			b.fail(ErrOverExecution)
		}
		h.active = false
		return false
	}
	h.qty -= q
	if b.crosses(h.side, h.price) {
		return false
	}
	return b.rest(u)
}

// check compares one snapshot level with the book, noting a difference
// for CheckDone.
func (b *Book) check(ev *event.Event) bool {
	side := Side(ev.Side)
	if side != Bid && side != Ask {
		return b.fail(ErrBadMessage)
	}
	s := &b.sides[side]
	var got Level
	if r := int(ev.Code); r < len(s.levels) {
		got = s.at(r)
	}
	if got.Price != ev.Price || got.Qty != ev.Qty {
		b.checkFailed = true
	}
	return false
}

// checkDone ends a snapshot's checks. A snapshot that differed is counted
// (ErrSnapshotMismatch) and makes the book suspect; a second one in a row,
// taken after the book changed, marks it stale. A feed may deliver a
// snapshot taken just after records a source silently dropped, before the
// gap shows: until the records come back the book does not move, so
// differing snapshots at one book state are no proof. A snapshot that
// matched clears the suspicion.
func (b *Book) checkDone(u *Update) bool {
	failed := b.checkFailed
	b.checkFailed = false
	if !failed {
		b.suspect = false
		return false
	}
	b.fail(ErrSnapshotMismatch)
	if !b.suspect || b.suspectSeq == b.seq {
		b.suspect, b.suspectSeq = true, b.seq
		return false
	}
	b.mismatched = true
	if b.stale {
		return false
	}
	b.stale = true
	u.Kind = KindStatus
	return true
}

// repeated reports whether ev, an Execute or Trade, has the identity of
// one of the book's last repeatWindow executions: a message delivered
// again. An event without one (Match 0) never has.
func (b *Book) repeated(ev *event.Event) bool {
	if ev.Match == 0 {
		return false
	}
	for i := range b.execs {
		if b.execs[i].match == ev.Match && b.execs[i].ref == ev.Ref {
			return true
		}
	}
	return false
}

// executed records the identity of ev, an Execute or Trade just applied.
func (b *Book) executed(ev *event.Event) {
	if ev.Match != 0 {
		b.execs[b.execNext%repeatWindow] = execID{match: ev.Match, ref: ev.Ref}
		b.execNext++
	}
}

// execute handles Execute: at the order's price when ev.Price is 0.
func (b *Book) execute(ev *event.Event, u *Update) bool {
	if ev.Qty <= 0 {
		return b.fail(ErrBadMessage)
	}
	if b.repeated(ev) {
		return b.fail(ErrRepeatedExecution)
	}
	prints := ev.Flags&event.FlagPrint != 0 && ev.Price > 0
	idx, ok := b.orders.get(ev.Ref)
	if !ok {
		changed := false
		switch {
		case b.held.active && b.held.ref == ev.Ref:
			changed = b.reduceHeld(ev.Qty, u)
		case ev.Flags&event.FlagMayBeAbsent == 0:
			if ev.Flags&event.FlagPrint != 0 {
				b.refuse(ev)
			}
			return b.fail(ErrUnknownOrder)
		}
		b.executed(ev)
		if prints {
			b.trade(ev.Price, ev.Qty, u)
		}
		return changed || prints
	}
	o := &b.slab[idx]
	q := o.qty
	if ev.Qty <= q {
		q = ev.Qty
	} else {
		b.fail(ErrOverExecution)
	}
	price := ev.Price
	if price <= 0 {
		price = o.price
	}
	whole := q == o.qty
	u.Kind = KindBook
	b.executed(ev)
	b.reduce(idx, q, u)
	if whole {
		b.taken[b.takenNext%uint8(len(b.taken))] = ev.Ref
		b.takenNext++
	}
	if ev.Flags&event.FlagPrint != 0 {
		b.trade(price, q, u)
	}
	return true
}

// cancel handles Reduce and (all = true) Delete.
func (b *Book) cancel(ev *event.Event, u *Update, all bool) bool {
	idx, ok := b.orders.get(ev.Ref)
	if !ok && b.held.active && b.held.ref == ev.Ref {
		q := b.held.qty
		if !all {
			q = ev.Qty
		}
		return b.reduceHeld(q, u)
	}
	if !ok {
		return b.unknown(ev)
	}
	q := b.slab[idx].qty
	if !all {
		switch {
		case ev.Qty <= 0:
			return b.fail(ErrBadMessage)
		case ev.Qty <= q:
			q = ev.Qty
		default:
			b.fail(ErrOverExecution)
		}
	}
	u.Kind = KindBook
	b.reduce(idx, q, u)
	return true
}

// replace handles Replace: the old order leaves the book and the new one
// joins the back of the queue at its price, on the same side.
func (b *Book) replace(ev *event.Event, u *Update) bool {
	idx, ok := b.orders.get(ev.Ref)
	if !ok {
		return b.fail(ErrUnknownOrder)
	}
	if ev.Qty <= 0 || ev.Qty > maxShares || ev.Price <= 0 {
		return b.fail(ErrBadMessage)
	}
	if ev.NewRef != ev.Ref {
		if _, dup := b.orders.get(ev.NewRef); dup {
			return b.fail(ErrDuplicateOrder)
		}
	}
	o := b.slab[idx]
	u.Kind = KindBook
	if ev.Price == o.price {
		b.requeue(idx, ev.NewRef, ev.Qty, u)
		return true
	}
	b.reduce(idx, o.qty, u)
	b.insert(ev.NewRef, o.side, ev.Price, ev.Qty, u)
	return true
}

// print handles Trade: statistics only.
func (b *Book) print(ev *event.Event, u *Update) bool {
	if ev.Qty <= 0 || ev.Qty > maxShares || ev.Price <= 0 {
		return b.fail(ErrBadMessage)
	}
	if b.repeated(ev) {
		return b.fail(ErrRepeatedExecution)
	}
	b.executed(ev)
	b.trade(ev.Price, ev.Qty, u)
	return true
}

// ohlc records a trade at p in the day's open, high and low.
func (b *Book) ohlc(p refdata.Price) {
	switch {
	case b.open == 0:
		b.open, b.high, b.low = p, p, p
	case p > b.high:
		b.high = p
	case p < b.low:
		b.low = p
	}
	b.traded = true
}

// trade records a trade of q at p (both positive) in the day's
// statistics. No real day's volume or turnover comes near int64 (9.2e14
// yuan of turnover in Price units); a feed whose prices or sizes would
// take them past it is broken or hostile: they stop at math.MaxInt64,
// never wrapping to a negative or small figure, and the message is
// counted bad.
func (b *Book) trade(p refdata.Price, q int64, u *Update) {
	b.last, b.lastQty = p, q
	var vok, tok bool
	b.volume, vok = addSat(b.volume, q)
	if hi, lo := bits.Mul64(uint64(p), uint64(q)); hi != 0 || lo > math.MaxInt64 {
		b.turnover, tok = math.MaxInt64, false
	} else {
		b.turnover, tok = addSat(b.turnover, int64(lo))
	}
	if !vok || !tok {
		b.errs.BadMessage++
	}
	b.ohlc(p)
	u.Kind = KindTrade
	u.TradePrice = p
	u.TradeQty = q
}

// alloc returns a free slab index.
func (b *Book) alloc() int32 {
	if i := b.free; i >= 0 {
		b.free = b.slab[i].next
		return i
	}
	b.slab = append(b.slab, order{})
	return int32(len(b.slab) - 1)
}

// insert adds a new order at the back of its level's queue.
func (b *Book) insert(ref uint64, side Side, price refdata.Price, qty int64, u *Update) {
	idx := b.alloc()
	b.orders.put(ref, idx)
	s := &b.sides[side]
	k := s.key(price)
	pos, found := s.search(k)
	if !found {
		s.insertAt(pos, k)
	}
	lv := &s.levels[pos]
	o := &b.slab[idx]
	*o = order{ref: ref, price: price, qty: qty, prev: lv.tail, next: -1, side: side}
	if lv.tail >= 0 {
		b.slab[lv.tail].next = idx
	} else {
		lv.head = idx
	}
	lv.tail = idx
	lv.qty += qty
	lv.orders++
	b.change(u, side, s.rank(pos), s.levelOf(lv), !found)
}

// requeue replaces the order at idx by one at the same price: new
// reference and size, back of the queue.
func (b *Book) requeue(idx int32, ref uint64, qty int64, u *Update) {
	o := &b.slab[idx]
	s := &b.sides[o.side]
	pos, found := s.search(s.key(o.price))
	if !found {
		b.fail(ErrBadMessage) // unreachable: a resting order always has its level
		return
	}
	lv := &s.levels[pos]
	lv.qty += qty - o.qty
	b.unlink(lv, idx)
	o.prev, o.next = lv.tail, -1
	if lv.tail >= 0 {
		b.slab[lv.tail].next = idx
	} else {
		lv.head = idx
	}
	lv.tail = idx
	lv.orders++
	b.orders.del(o.ref)
	b.orders.put(ref, idx)
	o.ref, o.qty = ref, qty
	b.change(u, o.side, s.rank(pos), s.levelOf(lv), false)
}

// unlink takes order idx out of lv's queue and its order count.
func (b *Book) unlink(lv *level, idx int32) {
	o := &b.slab[idx]
	if o.prev >= 0 {
		b.slab[o.prev].next = o.next
	} else {
		lv.head = o.next
	}
	if o.next >= 0 {
		b.slab[o.next].prev = o.prev
	} else {
		lv.tail = o.prev
	}
	lv.orders--
}

// reduce takes q (<= the order's size) shares off order idx, removing the
// order when nothing is left and its level when that empties, and records
// the level change in u.
func (b *Book) reduce(idx int32, q int64, u *Update) {
	o := &b.slab[idx]
	side, price := o.side, o.price
	s := &b.sides[side]
	pos, found := s.search(s.key(price))
	if !found {
		b.fail(ErrBadMessage) // unreachable: a resting order always has its level
		return
	}
	lv := &s.levels[pos]
	rank := s.rank(pos)
	lv.qty -= q
	o.qty -= q
	if o.qty == 0 {
		b.unlink(lv, idx)
		b.orders.del(o.ref)
		o.next = b.free
		b.free = idx
	}
	if lv.orders == 0 {
		s.removeAt(pos)
		b.change(u, side, rank, Level{Price: price}, true)
		b.removedSide, b.removedRank = side, rank
		return
	}
	b.change(u, side, rank, s.levelOf(lv), false)
}

// change records a level change in u and marks the ranks to republish and
// re-checksum: the level's own rank, or everything from it down when
// levels shifted (shift: inserted or removed).
func (b *Book) change(u *Update, side Side, rank int, l Level, shift bool) {
	r := int8(-1)
	if rank < b.maxDepth {
		r = int8(rank)
	}
	if u.N < uint8(len(u.Changes)) {
		u.Changes[u.N] = LevelChange{Side: side, Rank: r, Level: l}
		u.N++
	}
	d := &b.dirty[side]
	d.lo = min(d.lo, rank)
	if shift {
		d.hi = spanEnd
	} else {
		d.hi = max(d.hi, rank+1)
	}
}

// sumChecksums rewrites the checksum rows of the ranks the event touched
// and recomputes the checksums if any of them is in the top 10.
func (b *Book) sumChecksums() {
	for _, side := range [2]Side{Bid, Ask} {
		d := b.dirty[side]
		if d.lo >= checksumDepth || d.lo >= d.hi {
			continue
		}
		s := &b.sides[side]
		for r := d.lo; r < min(d.hi, checksumDepth); r++ {
			var p, q int64
			if r < len(s.levels) {
				l := &s.levels[len(s.levels)-1-r]
				p, q = s.sign*l.key, l.qty
			}
			b.ck.set(side, r, p, q)
		}
	}
	b.ck.sum()
}

// addSat returns a+b for non-negative a and b, or math.MaxInt64 and false
// when the sum would not fit.
func addSat(a, b int64) (int64, bool) {
	if b > math.MaxInt64-a {
		return math.MaxInt64, false
	}
	return a + b, true
}

package risk

import (
	"fmt"
	"math"

	"sgw/refdata"
)

// account is one trading account's state. The checker's mutex guards it.
//
// Cash: avail + reserved is the account's cash; reserved is the sum of
// held over its working buys. Shares: for each position, sellable is held
// since an earlier day (reserved of it by working sells), today is bought
// today and not sellable before the next trading day.
type account struct {
	owner    *Checker // the Checker of the account; set by New, never changed
	id       string
	credit   bool
	killed   bool
	avail    refdata.Price
	reserved refdata.Price
	pos      map[int32]*position
	orders   map[string]*order // every client order id used today, for duplicates and cancel or replace requests
	open     int               // working orders
	bucket   bucket
}

// position is an account's holding of one instrument.
type position struct {
	sellable int64 // held overnight, including reserved
	reserved int64 // held by working sells
	today    int64 // bought today (T+1)
}

// order is the checker's record of an accepted order, which every
// Reservation handed out for it links to. Several client order ids may
// point at one record in its account's index (a replace's, a cancel's).
// Records never move; acct is set when the record is made and never
// changed, so a Reservation's owner can be checked from it.
type order struct {
	// resv is the Reservation returned by CheckNew (linking back to this
	// record); never written after.
	resv Reservation

	acct    *account
	pos     *position
	session string
	clOrdID string // current: the original or the last replace accepted upstream
	sym     int32
	// replaces counts the replaces accepted; the pending one, if any, is
	// the last, and its Reservation carries this number.
	replaces uint32
	side     Side
	done     bool
	pending  bool          // a replace the upstream has not answered yet (pClOrdID, pPrice, pQty)
	price    refdata.Price // limit price of the current terms
	qty      int64         // total quantity of the current terms
	cum      int64         // filled
	held     int64         // cash (buy, Price units) or shares (sell) held now
	day      int32         // the trading day (yyyymmdd) it was accepted on
	endDay   int32         // the trading day it ended on (done), for a late fill's T+1

	// The pending replace's terms, and the session it came from: the
	// order moves to that session (cancel-on-disconnect) only when the
	// upstream accepts the replace (OnReplaced).
	pClOrdID string
	pSession string
	pPrice   refdata.Price
	pQty     int64
}

// bounds returns the largest total quantity and (buy) price the order can
// still fill at: the current terms, or with a replace pending the larger of
// the old and new ones, since the upstream may fill at either.
func (o *order) bounds() (qty int64, price refdata.Price) {
	if o.pending {
		return max(o.qty, o.pQty), max(o.price, o.pPrice)
	}
	return o.qty, o.price
}

// required returns what the order must hold: its leaves at its limit price
// for a buy, its leaves in shares for a sell. With a replace pending it is
// the worst case over both terms: every remaining fill is at most the
// larger price and the fills add up to at most the larger quantity. The
// product cannot overflow: the price is at most the instrument's maxPx.
func (o *order) required() int64 {
	if o.done {
		return 0
	}
	q, p := o.bounds()
	leaves := q - o.cum
	if leaves <= 0 {
		return 0
	}
	if o.side == Buy {
		return int64(p) * leaves
	}
	return leaves
}

// rehold brings the order's hold to what it requires now, moving the
// difference between the account's available and reserved cash (buy) or
// the position's free and reserved shares (sell). The available cash
// saturates rather than wrap, as proceeds and late costs leave it.
func (a *account) rehold(o *order) {
	delta := o.required() - o.held
	o.held += delta
	if o.side == Buy {
		a.reserved += refdata.Price(delta)
		if delta < 0 {
			a.avail = addCash(a.avail, refdata.Price(-delta))
		} else {
			a.avail = subCash(a.avail, refdata.Price(delta))
		}
	} else {
		o.pos.reserved += delta
	}
}

// close ends a working order and releases what it holds.
func (a *account) close(o *order) {
	o.done = true
	o.endDay = a.owner.day
	o.pending = false
	a.rehold(o)
	a.open--
}

// slabChunk is how many order records one allocation holds.
const slabChunk = 256

// slab allocates order records in chunks, so that accepting an order
// costs an allocation only once per slabChunk orders, and keeps them in
// acceptance order for iteration. Records never move.
type slab struct {
	chunks []*[slabChunk]order
	n      int
}

// alloc returns a zeroed record.
func (s *slab) alloc() *order {
	i := s.n % slabChunk
	if i == 0 {
		s.chunks = append(s.chunks, new([slabChunk]order))
	}
	s.n++
	return &s.chunks[len(s.chunks)-1][i]
}

// each calls fn for every record in acceptance order.
func (s *slab) each(fn func(*order)) {
	for i := 0; i < s.n; i++ {
		fn(&s.chunks[i/slabChunk][i%slabChunk])
	}
}

// record returns the order r links to: ErrUnknownReservation if r is nil,
// was not made by a Checker or was made by another one. It reads only what
// is fixed when a record is made. c.mu must be held to use the record.
func (c *Checker) record(r *Reservation) (*order, error) {
	switch {
	case r == nil:
		return nil, fmt.Errorf("%w: nil", ErrUnknownReservation)
	case r.ord == nil:
		return nil, fmt.Errorf("%w: account %s clOrdId %s was not made by a Checker", ErrUnknownReservation, r.Account, r.ClOrdID)
	case r.ord.acct.owner != c:
		return nil, fmt.Errorf("%w: account %s clOrdId %s is another Checker's", ErrUnknownReservation, r.Account, r.ClOrdID)
	}
	return r.ord, nil
}

// OnFill applies an execution of qty shares at price to the order whose
// Reservation r is (the one CheckNew or RestoreNew returned; a replace's
// Reservation names the same order). A buy releases the part of its hold
// the fill no longer needs (it held the limit price; it paid price) and
// adds the shares to the position as bought today: they are not sellable
// before the next trading day (T+1). A sell takes the shares out of the
// position and credits the proceeds to available cash at once, as A-share
// rules allow for buying. An order whose fills reach its quantity is done.
//
// OnFill refuses, changing nothing, a fill that is not positive, exceeds
// the order's leaves, is (a buy) above its limit or beyond the largest
// price whose product with the board maximum fits: ErrBadFill. It does
// not bound a fill by the configured band: the fill may be of another
// day's (a journal replayed under the next day's reference data), whose
// limit-up was another; for an order already done (or expired at a rollover):
// ErrOrderClosed; and a nil, hand-made or other Checker's r:
// ErrUnknownReservation. It does not read the clock, so replaying the
// same calls reproduces the same state.
func (c *Checker) OnFill(r *Reservation, price refdata.Price, qty int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.record(r)
	if err != nil {
		return err
	}
	return c.onFill(o, price, qty)
}

// onFill implements OnFill. c.mu must be held.
func (c *Checker) onFill(o *order, price refdata.Price, qty int64) error {
	a := o.acct
	if o.done {
		return fmt.Errorf("%w: account %s clOrdId %s", ErrOrderClosed, a.id, o.clOrdID)
	}
	maxQty, _ := o.bounds()
	if err := c.fillable(o, price, qty); err != nil {
		return err
	}
	o.cum += qty
	if o.cum == maxQty {
		o.done = true
		o.endDay = c.day
		o.pending = false
		a.open--
	}
	a.rehold(o)
	value := price * refdata.Price(qty) // at most maxPx times the board maximum: no overflow
	if o.side == Buy {
		a.avail -= value
		o.pos.today += qty
	} else {
		o.pos.sellable -= qty
		a.avail = addCash(a.avail, value)
	}
	return nil
}

// fillable checks a fill of qty shares at price against o's terms and
// the arithmetic bound (ErrBadFill). c.mu must be held.
func (c *Checker) fillable(o *order, price refdata.Price, qty int64) error {
	maxQty, maxPrice := o.bounds()
	switch {
	case qty <= 0 || price <= 0:
		return fmt.Errorf("%w: %d at %s", ErrBadFill, qty, price)
	case qty > maxQty-o.cum:
		return fmt.Errorf("%w: %d exceeds the %d left of %s", ErrBadFill, qty, maxQty-o.cum, o.clOrdID)
	case o.side == Buy && price > maxPrice:
		return fmt.Errorf("%w: buy at %s above the limit %s of %s", ErrBadFill, price, maxPrice, o.clOrdID)
	case price > c.instr[o.sym].maxPx:
		return fmt.Errorf("%w: %s beyond the largest price %s the board maximum allows", ErrBadFill, price, c.instr[o.sym].maxPx)
	}
	return nil
}

// OnLateFill applies a fill the venue reported after the caller closed
// the order on its own word (OnDone with no report of the order's end:
// orders.Manager expires an order still working after the close whose
// status the venue did not give), or that a change of day expired. The
// fill happened: it moves cash and shares as OnFill does, but the order
// holds nothing any more, so no hold is released. It is checked against
// the arithmetic bound (a price whose product with the board maximum
// fits) and the board maximum only (ErrBadFill otherwise: the order's
// fills in all, late ones too, above the board maximum), not the order's
// terms: a replace the caller refused when it closed the order may have
// taken effect at the venue. A buy's cost saturates the available cash
// rather than wrap it, as a sell's proceeds do. Shares bought by an order
// that ended on a trading day before the current one are sellable at once
// (T+1); an order carried from an earlier day (Schedule.AlwaysOpen) and
// ended today bought them today. A late sell may take shares a newer
// sell holds (the venue sold them once; the newer sell will find none
// there). An order still working takes the fill as OnFill.
func (c *Checker) OnLateFill(r *Reservation, price refdata.Price, qty int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.record(r)
	if err != nil {
		return err
	}
	if !o.done {
		return c.onFill(o, price, qty)
	}
	switch in := &c.instr[o.sym]; {
	case qty <= 0 || price <= 0:
		return fmt.Errorf("%w: %d at %s", ErrBadFill, qty, price)
	case price > in.maxPx:
		return fmt.Errorf("%w: %s beyond the largest price %s the board maximum allows", ErrBadFill, price, in.maxPx)
	case qty > in.maxQty-o.cum:
		// No order is larger, under any terms: this bounds price*qty as
		// for OnFill, and the order's fills in all.
		return fmt.Errorf("%w: %d more than the %d filled exceeds the %s board maximum %d", ErrBadFill, qty, o.cum, in.Board, in.maxQty)
	}
	o.cum += qty
	a := o.acct
	value := price * refdata.Price(qty)
	switch {
	case o.side == Buy && o.endDay < c.day: // filled before it ended, on an earlier day
		a.avail = subCash(a.avail, value)
		o.pos.sellable += qty
	case o.side == Buy:
		a.avail = subCash(a.avail, value)
		o.pos.today += qty
	default:
		o.pos.sellable -= qty
		a.avail = addCash(a.avail, value)
	}
	return nil
}

// addCash adds v >= 0 (proceeds, a released hold) to cash, saturating
// rather than wrapping.
func addCash(cash, v refdata.Price) refdata.Price {
	if cash > math.MaxInt64-v {
		return math.MaxInt64
	}
	return cash + v
}

// subCash takes v >= 0 from cash, saturating rather than wrapping: a
// late fill's cost, which nothing held beforehand, is not bounded by what
// the account had.
func subCash(cash, v refdata.Price) refdata.Price {
	if cash < math.MinInt64+v {
		return math.MinInt64
	}
	return cash - v
}

// OnDone closes the order whose Reservation r is (as for OnFill), when it
// will not fill further (cancelled, rejected upstream, expired), and
// releases everything it still holds. leavesQty is the upstream's
// unfilled quantity; if it differs from the checker's count the order is
// closed all the same and ErrLeavesMismatch reports the difference (a fill
// was not reported to OnFill). Closing an order that is already done (or
// expired at a rollover) is a no-op. A nil, hand-made or other Checker's r
// is refused with ErrUnknownReservation. OnDone does not read the clock.
func (c *Checker) OnDone(r *Reservation, leavesQty int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.record(r)
	if err != nil {
		return err
	}
	if o.done {
		return nil
	}
	leaves, pLeaves := o.qty-o.cum, o.pQty-o.cum
	pending := o.pending
	o.acct.close(o)
	if leavesQty != leaves && !(pending && leavesQty == pLeaves) {
		return fmt.Errorf("%w: %s: upstream leaves %d, checker leaves %d", ErrLeavesMismatch, o.clOrdID, leavesQty, leaves)
	}
	return nil
}

// pendingReplace returns the order whose pending replace r is the
// Reservation of (the one CheckReplace or RestoreReplace returned), or
// ErrNotPending if that replace is not pending (answered already, or its
// order done) or r is an order's own Reservation. c.mu must be held.
func (c *Checker) pendingReplace(r *Reservation) (*order, error) {
	o, err := c.record(r)
	if err != nil {
		return nil, err
	}
	// A pending replace is the order's last: replaces >= 1, so an
	// order's own Reservation (replace 0) never matches.
	if o.done || !o.pending || r.replace != o.replaces {
		return nil, fmt.Errorf("%w: account %s clOrdId %s", ErrNotPending, o.acct.id, r.ClOrdID)
	}
	return o, nil
}

// OnReplaced makes the pending replace whose Reservation r is the order's
// terms, after the upstream accepted it, and releases what the old terms
// held beyond the new ones. The order now belongs to the replace's
// session, if it named one (cancel-on-disconnect, OpenOrder.Session). If the order's fills already reach the new
// quantity it is done. It refuses a replace that is not pending with
// ErrNotPending, and a nil, hand-made or other Checker's r with
// ErrUnknownReservation.
func (c *Checker) OnReplaced(r *Reservation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.pendingReplace(r)
	if err != nil {
		return err
	}
	o.pending = false
	o.clOrdID, o.price, o.qty = o.pClOrdID, o.pPrice, o.pQty
	if o.pSession != "" {
		o.session = o.pSession
	}
	if o.cum >= o.qty {
		o.acct.close(o)
		return nil
	}
	o.acct.rehold(o)
	return nil
}

// OnReplacedLate makes the replace whose Reservation r is the order's
// terms after the upstream took it late: the caller had ended it as
// refused (OnReplaceRejected) when the upstream did not answer in time,
// and the upstream now reports the order under the replace's client order
// id. The order takes r's terms (its client order id, price and total
// quantity) and session, if not empty, as OnReplaced would have, and
// holds what they require; a replace pending since (a later one) stays
// pending, the order holding the worst case of both. If the order's fills
// already reach the new quantity it is done. It refuses an order already
// done (or expired at a rollover) with ErrOrderClosed, an order's own
// Reservation with ErrNotPending, and a nil, hand-made or other
// Checker's r with ErrUnknownReservation. It does not read the clock.
func (c *Checker) OnReplacedLate(r *Reservation, session string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.record(r)
	if err != nil {
		return err
	}
	switch {
	case r.replace == 0:
		return fmt.Errorf("%w: account %s clOrdId %s is an order's own reservation", ErrNotPending, o.acct.id, r.ClOrdID)
	case o.done:
		return fmt.Errorf("%w: account %s clOrdId %s", ErrOrderClosed, o.acct.id, o.clOrdID)
	}
	if o.pending && r.replace == o.replaces {
		o.pending = false // it is the pending one: OnReplaced
	}
	o.clOrdID, o.price, o.qty = r.ClOrdID, r.Price, r.Qty
	if session != "" {
		o.session = session
	}
	if !o.pending && o.cum >= o.qty {
		o.acct.close(o)
		return nil
	}
	o.acct.rehold(o)
	return nil
}

// OnReplaceRejected drops the pending replace whose Reservation r is,
// after the upstream refused it: the order keeps its old terms and its
// session, and releases the extra the replace held. The replace's client order id stays
// used for the day. Errors are those of OnReplaced.
func (c *Checker) OnReplaceRejected(r *Reservation) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.pendingReplace(r)
	if err != nil {
		return err
	}
	o.pending = false
	if o.cum >= o.qty {
		o.acct.close(o)
		return nil
	}
	o.acct.rehold(o)
	return nil
}

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
	id       string
	credit   bool
	killed   bool
	avail    refdata.Price
	reserved refdata.Price
	pos      map[int32]*position
	orders   map[string]*order // every client order id used today
	open     int               // working orders
	bucket   bucket
}

// position is an account's holding of one instrument.
type position struct {
	sellable int64 // held overnight, including reserved
	reserved int64 // held by working sells
	today    int64 // bought today (T+1)
}

// order is the checker's record of an accepted order. Several client order
// ids may point at one record (a replace's, a cancel's).
type order struct {
	// resv is the Reservation returned by CheckNew; never written after.
	resv Reservation

	acct    *account
	pos     *position
	session string
	clOrdID string // current: the original or the last replace accepted upstream
	sym     int32
	side    Side
	price   refdata.Price // limit price of the current terms
	qty     int64         // total quantity of the current terms
	cum     int64         // filled
	held    int64         // cash (buy, Price units) or shares (sell) held now
	done    bool

	// A replace the upstream has not answered yet.
	pending  bool
	pClOrdID string
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
// product cannot overflow: New bounds limit-up times the board maximum.
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
// the position's free and reserved shares (sell).
func (a *account) rehold(o *order) {
	delta := o.required() - o.held
	o.held += delta
	if o.side == Buy {
		a.reserved += refdata.Price(delta)
		a.avail -= refdata.Price(delta)
	} else {
		o.pos.reserved += delta
	}
}

// close ends a working order and releases what it holds.
func (a *account) close(o *order) {
	o.done = true
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

// lookup finds an account and one of its orders. c.mu must be held.
func (c *Checker) lookup(account, clOrdID string) (*account, *order, error) {
	a := c.accounts[account]
	if a == nil {
		return nil, nil, fmt.Errorf("%w: %s", ErrUnknownAccount, account)
	}
	o := a.orders[clOrdID]
	if o == nil {
		return nil, nil, fmt.Errorf("%w: account %s clOrdId %s", ErrUnknownOrder, account, clOrdID)
	}
	return a, o, nil
}

// OnFill applies an execution of qty shares at price to the order named
// by any of its client order ids. A buy releases the part of its hold the
// fill no longer needs (it held the limit price; it paid price) and adds
// the shares to the position as bought today: they are not sellable before
// the next trading day (T+1). A sell takes the shares out of the position
// and credits the proceeds to available cash at once, as A-share rules
// allow for buying. An order whose fills reach its quantity is done.
//
// OnFill refuses, changing nothing, a fill that is not positive, exceeds
// the order's leaves, is above limit-up or (a buy) above its limit:
// ErrBadFill; or is for
// an order already done: ErrOrderClosed. It does not read the clock, so
// replaying the same calls reproduces the same state.
func (c *Checker) OnFill(account, clOrdID string, price refdata.Price, qty int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, o, err := c.lookup(account, clOrdID)
	if err != nil {
		return err
	}
	if o.done {
		return fmt.Errorf("%w: account %s clOrdId %s", ErrOrderClosed, account, clOrdID)
	}
	maxQty, maxPrice := o.bounds()
	switch {
	case qty <= 0 || price <= 0:
		return fmt.Errorf("%w: %d at %s", ErrBadFill, qty, price)
	case qty > maxQty-o.cum:
		return fmt.Errorf("%w: %d exceeds the %d left of %s", ErrBadFill, qty, maxQty-o.cum, clOrdID)
	case o.side == Buy && price > maxPrice:
		return fmt.Errorf("%w: buy at %s above the limit %s of %s", ErrBadFill, price, maxPrice, clOrdID)
	case price > c.instr[o.sym].hi:
		return fmt.Errorf("%w: %s above limit-up %s", ErrBadFill, price, c.instr[o.sym].hi)
	}
	o.cum += qty
	if o.cum == maxQty {
		o.done = true
		o.pending = false
		a.open--
	}
	a.rehold(o)
	value := price * refdata.Price(qty) // at most limit-up times the board maximum: no overflow
	if o.side == Buy {
		a.avail -= value
		o.pos.today += qty
	} else {
		o.pos.sellable -= qty
		a.avail = addCash(a.avail, value)
	}
	return nil
}

// addCash adds proceeds to cash, saturating rather than wrapping.
func addCash(cash, v refdata.Price) refdata.Price {
	if cash > math.MaxInt64-v {
		return math.MaxInt64
	}
	return cash + v
}

// OnDone closes an order that will not fill further (cancelled, rejected
// upstream, expired) and releases everything it still holds. leavesQty is
// the upstream's unfilled quantity; if it differs from the checker's count
// the order is closed all the same and ErrLeavesMismatch reports the
// difference (a fill was not reported to OnFill). Closing an order that is
// already done is a no-op. OnDone does not read the clock.
func (c *Checker) OnDone(account, clOrdID string, leavesQty int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, o, err := c.lookup(account, clOrdID)
	if err != nil {
		return err
	}
	if o.done {
		return nil
	}
	leaves, pLeaves := o.qty-o.cum, o.pQty-o.cum
	pending := o.pending
	a.close(o)
	if leavesQty != leaves && !(pending && leavesQty == pLeaves) {
		return fmt.Errorf("%w: %s: upstream leaves %d, checker leaves %d", ErrLeavesMismatch, clOrdID, leavesQty, leaves)
	}
	return nil
}

// OnReplaced makes the pending replace with client order id clOrdID the
// order's terms, after the upstream accepted it, and releases what the old
// terms held beyond the new ones. If the order's fills already reach the
// new quantity it is done.
func (c *Checker) OnReplaced(account, clOrdID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, o, err := c.lookup(account, clOrdID)
	if err != nil {
		return err
	}
	if o.done || !o.pending || o.pClOrdID != clOrdID {
		return fmt.Errorf("%w: account %s clOrdId %s", ErrNotPending, account, clOrdID)
	}
	o.pending = false
	o.clOrdID, o.price, o.qty = clOrdID, o.pPrice, o.pQty
	if o.cum >= o.qty {
		a.close(o)
		return nil
	}
	a.rehold(o)
	return nil
}

// OnReplaceRejected drops the pending replace with client order id
// clOrdID, after the upstream refused it: the order keeps its old terms
// and releases the extra the replace held. The replace's client order id
// stays used for the day.
func (c *Checker) OnReplaceRejected(account, clOrdID string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	a, o, err := c.lookup(account, clOrdID)
	if err != nil {
		return err
	}
	if o.done || !o.pending || o.pClOrdID != clOrdID {
		return fmt.Errorf("%w: account %s clOrdId %s", ErrNotPending, account, clOrdID)
	}
	o.pending = false
	if o.cum >= o.qty {
		a.close(o)
		return nil
	}
	a.rehold(o)
	return nil
}

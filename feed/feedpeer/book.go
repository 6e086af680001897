package feedpeer

import (
	"fmt"
	"slices"
	"sort"

	"sgw/refdata"
)

// Level is one aggregated price level of a book side.
type Level struct {
	Price refdata.Price
	// Qty is the sum of the shares of the level's orders.
	Qty int64
	// Orders is how many orders rest at the level.
	Orders int
}

// OrderInfo is what the book holds of one resting order.
type OrderInfo struct {
	ID     uint64
	Symbol string
	Side   Side
	Price  refdata.Price
	Qty    int64
}

// Stats are the day's trade statistics of one symbol: every execute and
// every trade counts.
type Stats struct {
	// Trades is the number of executions and trade prints.
	Trades int64
	// Volume is the shares traded.
	Volume int64
	// Value is the sum of price × shares, in refdata.Price units (0.0001).
	Value int64
	// Open, High, Low and Last are zero before the first trade.
	Open, High, Low, Last refdata.Price
}

// Print is one trade print of a symbol: an execution of a resting order
// (at its price) or a trade against a non-displayed order. It is a plain
// value, safe to copy and share.
type Print struct {
	Price refdata.Price
	// Qty is the shares traded.
	Qty int64
	// Match is the event's match number (Event.Match).
	Match uint64
}

// Book is a reference order-by-order (L3) book of several symbols: orders by
// id, aggregated into price levels (quantity and order count, best price
// first), with time priority inside a level. It applies Events and answers
// the levels a decoder's book must show after the same events.
//
// An own-best add (Event.OwnBest, SZSE OrdType 'U') rests at the best price
// of its own side as the book stands when it applies, behind the orders
// already there, and is a limit order from then on. With its side empty it
// does not rest: the venue cancels it, and the book holds it aside until
// the Delete that says so.
//
// A Book is not safe for concurrent use: one goroutine at a time, or the
// caller's lock. The zero value is not usable; call NewBook.
type Book struct {
	orders  map[uint64]*bookOrder
	symbols map[string]*symbolBook
	// unrested are the own-best orders that found their side empty, until
	// the venue's cancel of each.
	unrested map[uint64]OrderInfo
}

type bookOrder struct {
	OrderInfo
	sym   *symbolBook
	live  int // index in sym.live
	level *bookLevel
}

type bookLevel struct {
	price  refdata.Price
	qty    int64
	orders []*bookOrder // time priority, oldest first
}

type bookSide struct {
	side   Side
	levels []*bookLevel // best first
}

type symbolBook struct {
	name  string
	bids  bookSide
	asks  bookSide
	live  []*bookOrder // every resting order, in a deterministic order
	stats Stats
	// prints are the day's trade prints, in the order applied.
	prints []Print
}

// NewBook returns an empty book.
func NewBook() *Book {
	return &Book{orders: make(map[uint64]*bookOrder), symbols: make(map[string]*symbolBook), unrested: make(map[uint64]OrderInfo)}
}

func (b *Book) symbol(name string) *symbolBook {
	s := b.symbols[name]
	if s == nil {
		s = &symbolBook{name: name, bids: bookSide{side: Buy}, asks: bookSide{side: Sell}}
		b.symbols[name] = s
	}
	return s
}

func (s *symbolBook) side(side Side) *bookSide {
	if side == Buy {
		return &s.bids
	}
	return &s.asks
}

// better reports whether price a ranks before price b on the side.
func (bs *bookSide) better(a, b refdata.Price) bool {
	if bs.side == Buy {
		return a > b
	}
	return a < b
}

// find returns the index of the level at price, or where it would go.
func (bs *bookSide) find(price refdata.Price) (int, bool) {
	i := sort.Search(len(bs.levels), func(i int) bool { return !bs.better(bs.levels[i].price, price) })
	return i, i < len(bs.levels) && bs.levels[i].price == price
}

func (bs *bookSide) insert(o *bookOrder) {
	i, ok := bs.find(o.Price)
	if !ok {
		bs.levels = slices.Insert(bs.levels, i, &bookLevel{price: o.Price})
	}
	l := bs.levels[i]
	l.orders = append(l.orders, o)
	l.qty += o.Qty
	o.level = l
}

func (bs *bookSide) remove(o *bookOrder) {
	l := o.level
	for i, x := range l.orders {
		if x == o {
			l.orders = slices.Delete(l.orders, i, i+1)
			break
		}
	}
	l.qty -= o.Qty
	if len(l.orders) == 0 {
		if i, ok := bs.find(l.price); ok {
			bs.levels = slices.Delete(bs.levels, i, i+1)
		}
	}
	o.level = nil
}

// Apply applies one event. Events that do not change a book (system,
// directory, trading action, snapshot) are accepted and ignored. An event
// that cannot apply returns an error wrapping ErrUnknownOrder,
// ErrDuplicateOrder or ErrBadEvent, and leaves the book unchanged.
func (b *Book) Apply(ev Event) error {
	switch ev.Kind {
	case KindAdd:
		if ev.OwnBest {
			return b.addOwnBest(ev)
		}
		return b.add(ev.Order, ev.Symbol, ev.Side, ev.Price, ev.Qty)
	case KindExecute:
		o, err := b.reducible(ev.Order, ev.Qty, ev)
		if err != nil {
			return err
		}
		var c *bookOrder
		if ev.Contra != 0 {
			if c, err = b.reducible(ev.Contra, ev.Qty, ev); err != nil {
				return err
			}
			if c.Side == o.Side || c.sym != o.sym {
				return fmt.Errorf("%w: contra #%d is not on the other side of #%d", ErrBadEvent, ev.Contra, ev.Order)
			}
		}
		price := ev.Price
		if price == 0 {
			price = o.Price
		}
		o.sym.print(price, ev.Qty, ev.Match)
		b.reduce(o, ev.Qty)
		if c != nil {
			b.reduce(c, ev.Qty)
		}
		return nil
	case KindCancel:
		o, err := b.reducible(ev.Order, ev.Qty, ev)
		if err != nil {
			return err
		}
		b.reduce(o, ev.Qty)
		return nil
	case KindDelete:
		o := b.orders[ev.Order]
		if u, ok := b.unrested[ev.Order]; ok {
			if ev.Qty != 0 && ev.Qty != u.Qty {
				return fmt.Errorf("%w: %v: the own-best order had %d", ErrBadEvent, ev, u.Qty)
			}
			delete(b.unrested, ev.Order)
			return nil
		}
		if o == nil {
			return fmt.Errorf("%w: %v", ErrUnknownOrder, ev)
		}
		if ev.Qty != 0 && ev.Qty != o.Qty {
			return fmt.Errorf("%w: %v: the order has %d", ErrBadEvent, ev, o.Qty)
		}
		b.reduce(o, o.Qty)
		return nil
	case KindReplace:
		o := b.orders[ev.Order]
		if o == nil {
			return fmt.Errorf("%w: %v", ErrUnknownOrder, ev)
		}
		if b.known(ev.NewOrder) || ev.NewOrder == 0 {
			return fmt.Errorf("%w: %v", ErrDuplicateOrder, ev)
		}
		if ev.Qty <= 0 || ev.Price <= 0 {
			return fmt.Errorf("%w: %v", ErrBadEvent, ev)
		}
		sym, side := o.Symbol, o.Side
		b.reduce(o, o.Qty)
		return b.add(ev.NewOrder, sym, side, ev.Price, ev.Qty)
	case KindTrade:
		if ev.Qty <= 0 || ev.Price <= 0 {
			return fmt.Errorf("%w: %v", ErrBadEvent, ev)
		}
		b.symbol(ev.Symbol).print(ev.Price, ev.Qty, ev.Match)
		return nil
	case KindSystem, KindDirectory, KindTradingAction, KindSnapshot:
		return nil
	}
	return fmt.Errorf("%w: kind %v", ErrBadEvent, ev.Kind)
}

func (b *Book) add(id uint64, symbol string, side Side, price refdata.Price, qty int64) error {
	if id == 0 {
		return fmt.Errorf("%w: order id 0", ErrBadEvent)
	}
	if b.known(id) {
		return fmt.Errorf("%w: #%d", ErrDuplicateOrder, id)
	}
	if qty <= 0 || price <= 0 || (side != Buy && side != Sell) || symbol == "" {
		return fmt.Errorf("%w: add #%d %s %v %d@%d", ErrBadEvent, id, symbol, side, qty, price)
	}
	s := b.symbol(symbol)
	o := &bookOrder{OrderInfo: OrderInfo{ID: id, Symbol: symbol, Side: side, Price: price, Qty: qty}, sym: s, live: len(s.live)}
	s.live = append(s.live, o)
	s.side(side).insert(o)
	b.orders[id] = o
	return nil
}

// addOwnBest rests an own-best order at the best price of its side, or
// holds it aside for the venue's cancel when that side is empty.
func (b *Book) addOwnBest(ev Event) error {
	if ev.Order == 0 {
		return fmt.Errorf("%w: order id 0", ErrBadEvent)
	}
	if b.known(ev.Order) {
		return fmt.Errorf("%w: #%d", ErrDuplicateOrder, ev.Order)
	}
	if ev.Qty <= 0 || (ev.Side != Buy && ev.Side != Sell) || ev.Symbol == "" {
		return fmt.Errorf("%w: %v", ErrBadEvent, ev)
	}
	price, ok := b.best(ev.Symbol, ev.Side)
	if !ok {
		b.unrested[ev.Order] = OrderInfo{ID: ev.Order, Symbol: ev.Symbol, Side: ev.Side, Qty: ev.Qty}
		return nil
	}
	return b.add(ev.Order, ev.Symbol, ev.Side, price, ev.Qty)
}

// known reports whether id is an order of the day still resting or
// awaiting its cancel.
func (b *Book) known(id uint64) bool {
	_, resting := b.orders[id]
	_, unrested := b.unrested[id]
	return resting || unrested
}

// awaitsCancel reports whether id is an own-best order that found its side
// empty and awaits the venue's cancel.
func (b *Book) awaitsCancel(id uint64) bool {
	_, ok := b.unrested[id]
	return ok
}

func (b *Book) reducible(id uint64, qty int64, ev Event) (*bookOrder, error) {
	o := b.orders[id]
	if o == nil {
		return nil, fmt.Errorf("%w: #%d in %v", ErrUnknownOrder, id, ev)
	}
	if qty <= 0 || qty > o.Qty {
		return nil, fmt.Errorf("%w: %v: order #%d has %d", ErrBadEvent, ev, id, o.Qty)
	}
	return o, nil
}

// reduce takes qty shares off o, removing it when none are left.
func (b *Book) reduce(o *bookOrder, qty int64) {
	if qty < o.Qty {
		o.Qty -= qty
		o.level.qty -= qty
		return
	}
	o.sym.side(o.Side).remove(o)
	o.Qty = 0
	s := o.sym
	last := s.live[len(s.live)-1]
	s.live[o.live] = last
	last.live = o.live
	s.live = s.live[:len(s.live)-1]
	delete(b.orders, o.ID)
}

// print records a trade print in the statistics and the list of prints.
func (s *symbolBook) print(price refdata.Price, qty int64, match uint64) {
	s.stats.record(price, qty)
	s.prints = append(s.prints, Print{Price: price, Qty: qty, Match: match})
}

func (st *Stats) record(price refdata.Price, qty int64) {
	if st.Trades == 0 {
		st.Open, st.High, st.Low = price, price, price
	}
	st.Trades++
	st.Volume += qty
	st.Value += int64(price) * qty
	st.High = max(st.High, price)
	st.Low = min(st.Low, price)
	st.Last = price
}

// Levels returns up to n levels of one side of symbol, best first. n <= 0
// returns every level.
func (b *Book) Levels(symbol string, side Side, n int) []Level {
	s := b.symbols[symbol]
	if s == nil {
		return nil
	}
	ls := s.side(side).levels
	if n > 0 && len(ls) > n {
		ls = ls[:n]
	}
	out := make([]Level, len(ls))
	for i, l := range ls {
		out[i] = Level{Price: l.price, Qty: l.qty, Orders: len(l.orders)}
	}
	return out
}

// Queue returns the quantities of the orders resting at price on one side,
// oldest first.
func (b *Book) Queue(symbol string, side Side, price refdata.Price) []int64 {
	s := b.symbols[symbol]
	if s == nil {
		return nil
	}
	bs := s.side(side)
	i, ok := bs.find(price)
	if !ok {
		return nil
	}
	out := make([]int64, len(bs.levels[i].orders))
	for j, o := range bs.levels[i].orders {
		out[j] = o.Qty
	}
	return out
}

// Order returns a resting order.
func (b *Book) Order(id uint64) (OrderInfo, bool) {
	o := b.orders[id]
	if o == nil {
		return OrderInfo{}, false
	}
	return o.OrderInfo, true
}

// Len returns how many orders rest on symbol's book.
func (b *Book) Len(symbol string) int {
	if s := b.symbols[symbol]; s != nil {
		return len(s.live)
	}
	return 0
}

// Stats returns symbol's trade statistics.
func (b *Book) Stats(symbol string) Stats {
	if s := b.symbols[symbol]; s != nil {
		return s.stats
	}
	return Stats{}
}

// Prints returns a copy of symbol's trade prints, in the order the book
// applied them: every execution and every trade, one print each. A
// receiver that publishes prints must publish each of these once.
func (b *Book) Prints(symbol string) []Print {
	if s := b.symbols[symbol]; s != nil {
		return slices.Clone(s.prints)
	}
	return nil
}

// Symbols returns the symbols the book has seen, sorted.
func (b *Book) Symbols() []string {
	out := make([]string, 0, len(b.symbols))
	for n := range b.symbols {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}

// Crossed reports whether symbol's best bid is at or above its best ask.
// The SZSE dialect shows a crossed book between an aggressor's order and
// its trades.
func (b *Book) Crossed(symbol string) bool {
	s := b.symbols[symbol]
	if s == nil || len(s.bids.levels) == 0 || len(s.asks.levels) == 0 {
		return false
	}
	return s.bids.levels[0].price >= s.asks.levels[0].price
}

// best returns the best price of a side.
func (b *Book) best(symbol string, side Side) (refdata.Price, bool) {
	s := b.symbols[symbol]
	if s == nil {
		return 0, false
	}
	ls := s.side(side).levels
	if len(ls) == 0 {
		return 0, false
	}
	return ls[0].price, true
}

// liveAt returns the i-th resting order of symbol in the book's
// deterministic order (for the generator's random picks).
func (b *Book) liveAt(symbol string, i int) OrderInfo {
	return b.symbols[symbol].live[i].OrderInfo
}

// fill is one match of an aggressor against a resting order.
type fill struct {
	order OrderInfo
	qty   int64
}

// sweep returns the fills an aggressor of qty shares on side, limited to
// price limit, would take from the other side in price-time priority. The
// book is not changed.
func (b *Book) sweep(symbol string, side Side, limit refdata.Price, qty int64) []fill {
	s := b.symbols[symbol]
	if s == nil {
		return nil
	}
	other := s.side(side.Opposite())
	var out []fill
	for _, l := range other.levels {
		if qty == 0 || other.better(limit, l.price) {
			break
		}
		for _, o := range l.orders {
			if qty == 0 {
				break
			}
			n := min(qty, o.Qty)
			out = append(out, fill{order: o.OrderInfo, qty: n})
			qty -= n
		}
	}
	return out
}

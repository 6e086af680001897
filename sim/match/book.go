package match

import (
	"sort"

	"sgw/refdata"
)

// order is a resting order: a node of its level's FIFO queue.
type order struct {
	ref        uint64
	side       Side
	price      refdata.Price
	qty        int64
	owner, tag string
	book       *book
	level      *level
	prev, next *order
}

func (o *order) info() OrderInfo {
	return OrderInfo{Ref: o.ref, Symbol: o.book.inst.Symbol, Side: o.side, Price: o.price, Qty: o.qty, Owner: o.owner, Tag: o.tag}
}

// level is one price of one side: a FIFO queue of orders in time priority.
type level struct {
	price      refdata.Price
	qty        int64
	n          int
	head, tail *order
}

func (l *level) push(o *order) {
	o.level = l
	o.prev, o.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = o
	} else {
		l.head = o
	}
	l.tail = o
	l.qty += o.qty
	l.n++
}

func (l *level) unlink(o *order) {
	if o.prev != nil {
		o.prev.next = o.next
	} else {
		l.head = o.next
	}
	if o.next != nil {
		o.next.prev = o.prev
	} else {
		l.tail = o.prev
	}
	o.prev, o.next, o.level = nil, nil, nil
	l.qty -= o.qty
	l.n--
}

// bookSide holds the levels of one side sorted worst to best, so the best
// level is the last element and removing it does not shift the slice.
type bookSide struct {
	side    Side
	levels  []*level
	byPrice map[refdata.Price]*level
}

// better reports whether price a has priority over price b on this side.
func (s *bookSide) better(a, b refdata.Price) bool {
	if s.side == Buy {
		return a > b
	}
	return a < b
}

// best returns the best level, or nil when the side is empty.
func (s *bookSide) best() *level {
	if len(s.levels) == 0 {
		return nil
	}
	return s.levels[len(s.levels)-1]
}

// levelAt returns the level at price, creating it when absent.
func (s *bookSide) levelAt(p refdata.Price) *level {
	if l, ok := s.byPrice[p]; ok {
		return l
	}
	l := &level{price: p}
	// The first index whose price is better than p: p goes just before it.
	i := sort.Search(len(s.levels), func(i int) bool { return s.better(s.levels[i].price, p) })
	s.levels = append(s.levels, nil)
	copy(s.levels[i+1:], s.levels[i:])
	s.levels[i] = l
	s.byPrice[p] = l
	return l
}

// drop removes an empty level.
func (s *bookSide) drop(l *level) {
	delete(s.byPrice, l.price)
	if n := len(s.levels); n > 0 && s.levels[n-1] == l {
		s.levels[n-1] = nil
		s.levels = s.levels[:n-1]
		return
	}
	i := sort.Search(len(s.levels), func(i int) bool { return !s.better(l.price, s.levels[i].price) })
	if i < len(s.levels) && s.levels[i] == l {
		copy(s.levels[i:], s.levels[i+1:])
		s.levels[len(s.levels)-1] = nil
		s.levels = s.levels[:len(s.levels)-1]
	}
}

// depth appends up to n best levels (all when n <= 0) to dst.
func (s *bookSide) depth(dst []Level, n int) []Level {
	for i := len(s.levels) - 1; i >= 0; i-- {
		if n > 0 && len(dst) >= n {
			break
		}
		l := s.levels[i]
		dst = append(dst, Level{Price: l.price, Qty: l.qty, Orders: l.n})
	}
	return dst
}

// orders appends the resting orders in priority order to dst.
func (s *bookSide) orders(dst []OrderInfo) []OrderInfo {
	for i := len(s.levels) - 1; i >= 0; i-- {
		for o := s.levels[i].head; o != nil; o = o.next {
			dst = append(dst, o.info())
		}
	}
	return dst
}

// book is the order book of one instrument.
type book struct {
	inst    refdata.Instrument
	locate  uint16
	low     refdata.Price
	high    refdata.Price
	halted  bool
	bids    bookSide
	asks    bookSide
	resting int
}

func newBook(inst refdata.Instrument, locate uint16) *book {
	b := &book{inst: inst, locate: locate}
	b.low, b.high = inst.Band()
	b.bids = bookSide{side: Buy, byPrice: make(map[refdata.Price]*level)}
	b.asks = bookSide{side: Sell, byPrice: make(map[refdata.Price]*level)}
	return b
}

func (b *book) side(s Side) *bookSide {
	if s == Buy {
		return &b.bids
	}
	return &b.asks
}

// crosses reports whether an order on side s at price p is marketable
// against the best level l of the other side.
func crosses(s Side, p refdata.Price, l *level) bool {
	if l == nil {
		return false
	}
	if s == Buy {
		return l.price <= p
	}
	return l.price >= p
}

package orderbook

import "sgw/refdata"

// level is one price level inside a Book: aggregate quantity and order
// count plus the FIFO of its orders (slab indexes, -1 = none).
type level struct {
	key    int64 // price for bids, -price for asks
	qty    int64
	orders int32
	head   int32
	tail   int32
}

// bookSide holds the levels of one side sorted by ascending key, so the
// best price is the last element: events cluster at the top of the book,
// and inserting or removing a level there moves only the few better levels
// that follow it in the slice, while a deep level costs a longer move of
// small structs. Lookups scan a few levels back from the best, then binary
// search.
type bookSide struct {
	side   Side
	sign   int64 // +1 for bids, -1 for asks
	levels []level
}

func (s *bookSide) key(p refdata.Price) int64 { return s.sign * int64(p) }

// nearScan is how many levels from the best search checks linearly before
// it falls back to binary search.
const nearScan = 8

// search returns the index of the level with key k, or the index where it
// would be inserted and false.
func (s *bookSide) search(k int64) (int, bool) {
	lv := s.levels
	i := len(lv) - 1
	for stop := i - nearScan; i >= 0 && i > stop; i-- {
		switch lk := lv[i].key; {
		case lk == k:
			return i, true
		case lk < k:
			return i + 1, false
		}
	}
	lo, hi := 0, i+1
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if lv[mid].key < k {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo <= i && lv[lo].key == k
}

// insertAt inserts an empty level with key k at index pos.
func (s *bookSide) insertAt(pos int, k int64) {
	s.levels = append(s.levels, level{})
	copy(s.levels[pos+1:], s.levels[pos:])
	s.levels[pos] = level{key: k, head: -1, tail: -1}
}

// removeAt deletes the level at index pos.
func (s *bookSide) removeAt(pos int) {
	copy(s.levels[pos:], s.levels[pos+1:])
	s.levels = s.levels[:len(s.levels)-1]
}

// rank converts an index into a 0-based distance from the best level (and
// back: the mapping is its own inverse).
func (s *bookSide) rank(pos int) int { return len(s.levels) - 1 - pos }

// at returns the level at rank r, which must exist.
func (s *bookSide) at(r int) Level {
	l := &s.levels[len(s.levels)-1-r]
	return Level{Price: refdata.Price(s.sign * l.key), Qty: l.qty, Orders: l.orders}
}

// levelOf converts an internal level.
func (s *bookSide) levelOf(l *level) Level {
	return Level{Price: refdata.Price(s.sign * l.key), Qty: l.qty, Orders: l.orders}
}

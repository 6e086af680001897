package orderbook

// orderTable maps ITCH order reference numbers to slab indexes. It is an
// open-addressing hash table with linear probing, Fibonacci hashing and
// backward-shift deletion, so deletes leave no tombstones and a table that
// has reached its working size never allocates again, however many orders
// come and go (the built-in map may grow under insert/delete churn while it
// accumulates tombstones). It grows, doubling, only when the number of live
// orders passes half its capacity.
//
// It belongs to one Book and is used only by that Book's goroutine.
type orderTable struct {
	slots []tableSlot
	mask  uint64
	shift uint8 // 64 - log2(len(slots))
	n     int   // live entries
}

type tableSlot struct {
	key uint64
	val int32 // slab index + 1; 0 marks an empty slot
}

const fib = 0x9E3779B97F4A7C15 // 2^64 / golden ratio

func newOrderTable(capacity int) orderTable {
	size := 16
	for size < 2*capacity {
		size *= 2
	}
	var t orderTable
	t.init(size)
	return t
}

func (t *orderTable) init(size int) {
	t.slots = make([]tableSlot, size)
	t.mask = uint64(size - 1)
	shift := uint8(64)
	for s := size; s > 1; s >>= 1 {
		shift--
	}
	t.shift = shift
	t.n = 0
}

func (t *orderTable) home(key uint64) uint64 { return (key * fib) >> t.shift }

// get returns the slab index stored for key.
func (t *orderTable) get(key uint64) (int32, bool) {
	for i := t.home(key); ; i = (i + 1) & t.mask {
		s := &t.slots[i]
		if s.val == 0 {
			return 0, false
		}
		if s.key == key {
			return s.val - 1, true
		}
	}
}

// put stores idx for key, which must be absent.
func (t *orderTable) put(key uint64, idx int32) {
	if 2*(t.n+1) > len(t.slots) {
		t.grow()
	}
	i := t.home(key)
	for t.slots[i].val != 0 {
		i = (i + 1) & t.mask
	}
	t.slots[i] = tableSlot{key: key, val: idx + 1}
	t.n++
}

// del removes key and reports whether it was present.
func (t *orderTable) del(key uint64) bool {
	i := t.home(key)
	for {
		s := &t.slots[i]
		if s.val == 0 {
			return false
		}
		if s.key == key {
			break
		}
		i = (i + 1) & t.mask
	}
	// Backward shift: pull later entries of the probe run into the hole
	// when their home position allows it.
	for j := (i + 1) & t.mask; ; j = (j + 1) & t.mask {
		s := t.slots[j]
		if s.val == 0 {
			break
		}
		h := t.home(s.key)
		if (j-h)&t.mask >= (j-i)&t.mask {
			t.slots[i] = s
			i = j
		}
	}
	t.slots[i] = tableSlot{}
	t.n--
	return true
}

func (t *orderTable) grow() {
	old := t.slots
	t.init(2 * len(old))
	for _, s := range old {
		if s.val != 0 {
			i := t.home(s.key)
			for t.slots[i].val != 0 {
				i = (i + 1) & t.mask
			}
			t.slots[i] = s
			t.n++
		}
	}
}

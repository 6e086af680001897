// Package fanouttest is test support for property tests of the WebSocket
// market-data fan-out (docs/PROTOCOL.md, "WebSocket market data"): a
// reference model of every symbol's book at every seq, and a client that
// checks each message it receives against the model. It is written from
// the protocol's text and shares no code with the gateway's encoders,
// orderbook or mdclient: the levels, the JSON decoding, the update rule and
// the checksum are its own.
//
// A test drives books with generated events, records the book each event
// leads to in the Model before it sends the event, and connects Clients
// that subscribe, read at chosen speeds, drop and resume; every violation
// of the protocol's promises is recorded by the Client that saw it.
package fanouttest

import (
	"cmp"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"sync"
)

// MaxDepth is the deepest book a subscriber may ask for.
const MaxDepth = 20

// Level is one price level: Price in units of 0.0001, Qty in shares.
type Level struct{ Price, Qty int64 }

// State is a symbol's book after one seq: the best MaxDepth levels of each
// side, best first, and whether the book is marked stale.
type State struct {
	Bids, Asks []Level
	Stale      bool
	// Reset marks the seq of a reset (a rebuild empties the book): its
	// subscribers get a snapshot in place of an update.
	Reset bool
}

// Checksum returns the protocol's book checksum of s at depth: CRC-32 of
// the top 10 levels (top 5 for depth 5), 32 bytes per level.
func (s *State) Checksum(depth int) uint32 { return checksum(s.Bids, s.Asks, depth) }

func checksum(bids, asks []Level, depth int) uint32 {
	n := 10
	if depth == 5 {
		n = 5
	}
	var b [32 * 10]byte
	for i := range n {
		rec := b[32*i : 32*i+32]
		if i < len(bids) {
			binary.BigEndian.PutUint64(rec[0:], uint64(bids[i].Price))
			binary.BigEndian.PutUint64(rec[8:], uint64(bids[i].Qty))
		}
		if i < len(asks) {
			binary.BigEndian.PutUint64(rec[16:], uint64(asks[i].Price))
			binary.BigEndian.PutUint64(rec[24:], uint64(asks[i].Qty))
		}
	}
	return crc32.ChecksumIEEE(b[:32*n])
}

// Truncated returns s's levels cut to depth, as a subscriber of that depth
// holds them.
func (s *State) Truncated(depth int) State {
	return State{Bids: slices.Clone(s.Bids[:min(depth, len(s.Bids))]), Asks: slices.Clone(s.Asks[:min(depth, len(s.Asks))]), Stale: s.Stale}
}

// Model is the canonical sequence of every symbol's book states, seq by
// seq from 0 (the empty book). Its methods are safe from any goroutine.
type Model struct {
	mu   sync.Mutex
	syms map[string][]State
}

// NewModel returns a model of symbols, each at seq 0 with an empty, valid
// book.
func NewModel(symbols ...string) *Model {
	m := &Model{syms: map[string][]State{}}
	for _, s := range symbols {
		m.syms[s] = []State{{}}
	}
	return m
}

// Next records the book of sym after its next seq and returns that seq.
// Call it before the event that makes the seq reaches the books.
func (m *Model) Next(sym string, st State) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	st.Bids = slices.Clone(st.Bids[:min(MaxDepth, len(st.Bids))])
	st.Asks = slices.Clone(st.Asks[:min(MaxDepth, len(st.Asks))])
	m.syms[sym] = append(m.syms[sym], st)
	return uint64(len(m.syms[sym]) - 1)
}

// At returns the book of sym at seq, if the model has it.
func (m *Model) At(sym string, seq uint64) (State, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss, ok := m.syms[sym]
	if !ok || seq >= uint64(len(ss)) {
		return State{}, false
	}
	return ss[seq], true
}

// Seq returns the last seq of sym.
func (m *Model) Seq(sym string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return uint64(len(m.syms[sym]) - 1)
}

// LastReset returns the seq of sym's last reset, 0 if none.
func (m *Model) LastReset(sym string) uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.syms[sym]
	for i := len(ss) - 1; i > 0; i-- {
		if ss[i].Reset {
			return uint64(i)
		}
	}
	return 0
}

// Orders is an order-by-order book of one symbol, the generator's side of
// the model: it turns orders into the levels a State holds. Not safe for
// concurrent use.
type Orders struct {
	orders map[uint64]order
	levels [2]map[int64]int64 // by side (0 bid, 1 ask): qty by price
	Stale  bool
}

type order struct {
	ask   bool
	price int64
	qty   int64
}

// NewOrders returns an empty book.
func NewOrders() *Orders {
	return &Orders{orders: map[uint64]order{}, levels: [2]map[int64]int64{{}, {}}}
}

func side(ask bool) int {
	if ask {
		return 1
	}
	return 0
}

// Add rests an order.
func (o *Orders) Add(ref uint64, ask bool, price, qty int64) {
	o.orders[ref] = order{ask, price, qty}
	o.levels[side(ask)][price] += qty
}

// Reduce takes qty off order ref, removing it when nothing is left.
func (o *Orders) Reduce(ref uint64, qty int64) {
	od := o.orders[ref]
	qty = min(qty, od.qty)
	od.qty -= qty
	l := o.levels[side(od.ask)]
	if l[od.price] -= qty; l[od.price] == 0 {
		delete(l, od.price)
	}
	if od.qty == 0 {
		delete(o.orders, ref)
	} else {
		o.orders[ref] = od
	}
}

// Remove deletes order ref.
func (o *Orders) Remove(ref uint64) { o.Reduce(ref, o.orders[ref].qty) }

// Qty returns the resting quantity of order ref, 0 if none.
func (o *Orders) Qty(ref uint64) int64 { return o.orders[ref].qty }

// Clear empties the book.
func (o *Orders) Clear() {
	clear(o.orders)
	clear(o.levels[0])
	clear(o.levels[1])
}

// State returns the book's state.
func (o *Orders) State() State {
	st := State{Stale: o.Stale}
	for p, q := range o.levels[0] {
		st.Bids = append(st.Bids, Level{p, q})
	}
	for p, q := range o.levels[1] {
		st.Asks = append(st.Asks, Level{p, q})
	}
	slices.SortFunc(st.Bids, func(a, b Level) int { return cmp.Compare(b.Price, a.Price) })
	slices.SortFunc(st.Asks, func(a, b Level) int { return cmp.Compare(a.Price, b.Price) })
	st.Bids = st.Bids[:min(MaxDepth, len(st.Bids))]
	st.Asks = st.Asks[:min(MaxDepth, len(st.Asks))]
	return st
}

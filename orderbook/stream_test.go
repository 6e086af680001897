package orderbook

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"sgw/feed/itch"
	"sgw/refdata"
)

// testInstruments returns n valid instruments 600000.SH, 600001.SH, ...
func testInstruments(n int) []refdata.Instrument {
	ins := make([]refdata.Instrument, n)
	for i := range ins {
		ins[i] = refdata.Instrument{
			Symbol:    fmt.Sprintf("6%05d.SH", i),
			Board:     refdata.BoardMain,
			PrevClose: 100000,
		}
	}
	return ins
}

func stockOf(t testing.TB, sym string) [8]byte {
	s, err := itch.StockOf(sym)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// genOrder is a live order of the stream generator.
type genOrder struct {
	ref   uint64
	side  byte
	price uint32
	qty   uint64
}

// genSym is the generator's state of one symbol.
type genSym struct {
	stock  [8]byte
	locate uint16
	mid    uint32
	live   []genOrder
	index  map[uint64]int
}

func (g *genSym) addLive(o genOrder) {
	g.index[o.ref] = len(g.live)
	g.live = append(g.live, o)
}

func (g *genSym) removeLive(i int) {
	last := len(g.live) - 1
	delete(g.index, g.live[i].ref)
	if i != last {
		g.live[i] = g.live[last]
		g.index[g.live[i].ref] = i
	}
	g.live = g.live[:last]
}

// genStream returns a valid ITCH stream for the instruments ins, with
// locate i+1 for ins[i]: System Event, Stock Directory and Trading Action
// first, then n order events in a realistic mix (adds, deletes, replaces,
// executions, cancels, trades, crosses, trading actions), then deletes of
// every order left, so the stream can be replayed on the same books.
func genStream(t testing.TB, rng *rand.Rand, ins []refdata.Instrument, n int, firstRef uint64) []itch.Message {
	const tick = 100 // 0.01 in Price units
	syms := make([]*genSym, len(ins))
	var out []itch.Message
	ts := uint64(9*3600) * 1e9
	next := func(typ byte, g *genSym) itch.Message {
		ts += uint64(rng.IntN(2000))
		m := itch.Message{Type: typ, Timestamp: ts}
		if g != nil {
			m.StockLocate = g.locate
		}
		return m
	}
	out = append(out, itch.Message{Type: itch.TypeSystemEvent, Timestamp: ts, EventCode: 'O'})
	for i, in := range ins {
		fs := in.FeedSymbol
		if fs == "" {
			fs = in.Symbol[:len(in.Symbol)-3]
		}
		g := &genSym{stock: stockOf(t, fs), locate: uint16(i + 1), mid: uint32(100000 + rng.IntN(50)*tick*10), index: map[uint64]int{}}
		syms[i] = g
		m := next(itch.TypeStockDirectory, g)
		m.Stock, m.RoundLotSize, m.MarketCategory = g.stock, 100, 'Q'
		out = append(out, m)
		m = next(itch.TypeTradingAction, g)
		m.Stock, m.TradingState = g.stock, 'T'
		out = append(out, m)
	}
	ref := firstRef
	var match uint64 // day-unique Match Numbers, one per execution or trade
	nextMatch := func() uint64 { match++; return match }
	price := func(g *genSym, side byte) uint32 {
		d := uint32(1)
		for rng.IntN(100) < 85 {
			d++
		}
		if rng.IntN(200) == 0 {
			d += uint32(rng.IntN(100)) // an occasional deep order
		}
		if side == itch.SideBuy {
			return g.mid - d*tick
		}
		return g.mid + d*tick
	}
	for len(out) < n {
		g := syms[rng.IntN(len(syms))]
		r := rng.IntN(1000)
		switch {
		case len(g.live) < 20 && r >= 450:
			r = 0 // keep books populated
		case len(g.live) > 150 && r < 450 && rng.IntN(2) == 0:
			r = 500 // and of a realistic size
		}
		switch {
		case r < 450: // add
			m := next(itch.TypeAddOrder, g)
			if r < 20 {
				m.Type = itch.TypeAddOrderMPID
				m.MPID = [4]byte{'M', 'P', 'I', 'D'}
			}
			m.Side = itch.SideBuy
			if rng.IntN(2) == 0 {
				m.Side = itch.SideSell
			}
			ref++
			m.OrderRef, m.Stock, m.Price = ref, g.stock, price(g, m.Side)
			m.Shares = uint64(100 * (1 + rng.IntN(20)))
			g.addLive(genOrder{ref: ref, side: m.Side, price: m.Price, qty: m.Shares})
			out = append(out, m)
		case r < 800: // delete
			i := rng.IntN(len(g.live))
			m := next(itch.TypeOrderDelete, g)
			m.OrderRef = g.live[i].ref
			g.removeLive(i)
			out = append(out, m)
		case r < 880: // replace
			i := rng.IntN(len(g.live))
			o := g.live[i]
			m := next(itch.TypeOrderReplace, g)
			ref++
			m.OrderRef, m.NewOrderRef = o.ref, ref
			m.Price = o.price
			if rng.IntN(3) > 0 {
				m.Price = price(g, o.side)
			}
			m.Shares = uint64(100 * (1 + rng.IntN(20)))
			g.removeLive(i)
			g.addLive(genOrder{ref: ref, side: o.side, price: m.Price, qty: m.Shares})
			out = append(out, m)
		case r < 940: // execute, partially or fully
			i := rng.IntN(len(g.live))
			if rng.IntN(2) == 0 { // favour the best price of a side
				i = g.best(rng.IntN(2) == 0)
			}
			o := &g.live[i]
			m := next(itch.TypeOrderExecuted, g)
			if rng.IntN(4) == 0 {
				m.Type = itch.TypeOrderExecutedPrice
				m.Printable = "YN"[rng.IntN(2)]
				m.Price = o.price + uint32(rng.IntN(3))*tick
			}
			m.OrderRef, m.MatchNumber = o.ref, nextMatch()
			m.Shares = o.qty
			if o.qty > 100 && rng.IntN(2) == 0 {
				m.Shares = uint64(100 * (1 + rng.IntN(int(o.qty/100)-1)))
			}
			o.qty -= m.Shares
			if o.qty == 0 {
				g.removeLive(i)
			}
			out = append(out, m)
		case r < 970: // partial cancel
			i := rng.IntN(len(g.live))
			o := &g.live[i]
			if o.qty <= 100 {
				continue
			}
			m := next(itch.TypeOrderCancel, g)
			m.OrderRef = o.ref
			m.Shares = uint64(100 * (1 + rng.IntN(int(o.qty/100)-1)))
			o.qty -= m.Shares
			out = append(out, m)
		case r < 990: // non-displayed trade
			m := next(itch.TypeTrade, g)
			m.Side, m.Stock, m.Price = itch.SideBuy, g.stock, g.mid
			m.Shares, m.MatchNumber = uint64(100*(1+rng.IntN(5))), nextMatch()
			out = append(out, m)
		case r < 996: // cross
			m := next(itch.TypeCrossTrade, g)
			m.Stock, m.Price, m.CrossType = g.stock, g.mid+tick, 'O'
			m.Shares, m.MatchNumber = uint64(100*rng.IntN(50)), nextMatch()
			out = append(out, m)
		default: // trading action
			m := next(itch.TypeTradingAction, g)
			m.Stock, m.TradingState = g.stock, "TTTTHPQ"[rng.IntN(7)]
			out = append(out, m)
		}
	}
	for _, g := range syms {
		for len(g.live) > 0 {
			m := next(itch.TypeOrderDelete, g)
			m.OrderRef = g.live[0].ref
			g.removeLive(0)
			out = append(out, m)
		}
	}
	return out
}

// best returns the index of a live order at the best price of one side,
// or a random one if that side is empty.
func (g *genSym) best(bid bool) int {
	bi := -1
	for i, o := range g.live {
		if (o.side == itch.SideBuy) != bid {
			continue
		}
		if bi < 0 || (bid && o.price > g.live[bi].price) || (!bid && o.price < g.live[bi].price) {
			bi = i
		}
	}
	if bi < 0 {
		return 0
	}
	return bi
}

// encodeStream encodes msgs.
func encodeStream(t testing.TB, msgs []itch.Message) [][]byte {
	out := make([][]byte, len(msgs))
	var buf []byte
	for i := range msgs {
		start := len(buf)
		var err error
		buf, err = itch.Append(buf, &msgs[i])
		if err != nil {
			t.Fatalf("message %d (%c): %v", i, msgs[i].Type, err)
		}
		out[i] = buf[start:len(buf):len(buf)]
	}
	return out
}

// refModel is a naive reference book: orders by ref, levels recomputed by
// sorting on every query.
type refModel struct {
	orders map[uint64]genOrder
}

func (r *refModel) apply(m *itch.Message) {
	switch m.Type {
	case itch.TypeAddOrder, itch.TypeAddOrderMPID:
		r.orders[m.OrderRef] = genOrder{ref: m.OrderRef, side: m.Side, price: m.Price, qty: m.Shares}
	case itch.TypeOrderExecuted, itch.TypeOrderExecutedPrice, itch.TypeOrderCancel:
		o := r.orders[m.OrderRef]
		o.qty -= min(m.Shares, o.qty)
		r.orders[m.OrderRef] = o
		if o.qty == 0 {
			delete(r.orders, m.OrderRef)
		}
	case itch.TypeOrderDelete:
		delete(r.orders, m.OrderRef)
	case itch.TypeOrderReplace:
		o := r.orders[m.OrderRef]
		delete(r.orders, m.OrderRef)
		r.orders[m.NewOrderRef] = genOrder{ref: m.NewOrderRef, side: o.side, price: m.Price, qty: m.Shares}
	}
}

func (r *refModel) levels(side Side) []Level {
	agg := map[uint32]*Level{}
	for _, o := range r.orders {
		if (o.side == itch.SideBuy) != (side == Bid) {
			continue
		}
		l := agg[o.price]
		if l == nil {
			l = &Level{Price: refdata.Price(o.price)}
			agg[o.price] = l
		}
		l.Qty += int64(o.qty)
		l.Orders++
	}
	out := make([]Level, 0, len(agg))
	for _, l := range agg {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(a, b Level) int {
		if side == Bid {
			return int(b.Price - a.Price)
		}
		return int(a.Price - b.Price)
	})
	return out
}

// client is a WebSocket client's copy of the top depth levels, maintained
// from Updates only, exactly as the Update doc comment prescribes.
type client struct {
	depth      int
	bids, asks []Level
}

func (c *client) side(s Side) *[]Level {
	if s == Bid {
		return &c.bids
	}
	return &c.asks
}

func (c *client) apply(u *Update) {
	for _, ch := range u.Changes[:u.N] {
		if ch.Rank < 0 || int(ch.Rank) >= c.depth {
			continue
		}
		lv := c.side(ch.Side)
		r := int(ch.Rank)
		switch {
		case ch.Level.Qty == 0:
			if r < len(*lv) {
				*lv = slices.Delete(*lv, r, r+1)
			}
		case r < len(*lv) && (*lv)[r].Price == ch.Level.Price:
			(*lv)[r] = ch.Level
		default:
			*lv = slices.Insert(*lv, min(r, len(*lv)), ch.Level)
		}
	}
	for s := Bid; s <= Ask; s++ {
		lv := c.side(s)
		if len(*lv) > c.depth {
			*lv = (*lv)[:c.depth]
		}
		if s == u.EnterSide && len(*lv) == c.depth-1 {
			k := map[int]int{5: 0, 10: 1, 20: 2}[c.depth]
			if e := u.Enter[k]; e.Qty != 0 {
				*lv = append(*lv, e)
			}
		}
	}
}

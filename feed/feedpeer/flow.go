package feedpeer

import (
	"fmt"
	"math/rand/v2"

	"sgw/refdata"
)

// Dialect is the set of order-book events a Flow produces, shaped by what a
// venue's order-by-order feed can say.
type Dialect uint8

const (
	// DialectITCH (the zero value) produces every kind: adds (some with an
	// MPID), executions of resting orders (some with price), partial
	// cancels, deletes, replaces, hidden trades, and crosses shown as ITCH
	// shows them: executions of the resting orders (the aggressor is never
	// displayed), then an add of the aggressor's remainder.
	DialectITCH Dialect = iota
	// DialectSZSE produces what an SZSE order-by-order feed shows: adds
	// (300192), whole-order cancels (300191 ExecType 4) and crosses as an
	// add of the whole aggressing order followed by executions that name
	// both orders (300191 ExecType F); its remainder stays on the book.
	// With Mix.OwnBest, own-best orders (OrdType U) too. There are no
	// partial cancels, replaces or hidden trades.
	DialectSZSE
)

// Mix weighs the actions a Flow draws for each new market event. A zero
// weight never draws the action; a zero Mix takes the dialect's defaults.
type Mix struct {
	// Add rests a passive order near the mid.
	Add int
	// Execute executes the oldest order at one side's best price, partly or
	// whole (DialectITCH only).
	Execute int
	// Cancel removes part of a random order (DialectITCH only).
	Cancel int
	// Delete removes a random order.
	Delete int
	// Replace moves a random order to a new price and size (DialectITCH
	// only).
	Replace int
	// Cross sends an aggressing order that takes one or more levels.
	Cross int
	// Trade prints a hidden trade inside the spread (DialectITCH only).
	Trade int
	// OwnBest sends an own-best order (SZSE OrdType U, 本方最优) on a
	// random side (DialectSZSE only): the venue rests it at its side's best
	// price, or, with that side empty, cancels it at once (a Delete of it
	// follows the add).
	OwnBest int
}

// FlowConfig configures a Flow. Every zero value means the documented
// default.
type FlowConfig struct {
	// Dialect selects the events produced. Zero is DialectITCH.
	Dialect Dialect
	// StartPrice is the first mid of the first symbol; each next symbol
	// starts 10% higher. Zero means 10.0000 (100000).
	StartPrice refdata.Price
	// Tick is the price increment. Zero means 0.01 (100).
	Tick refdata.Price
	// Lot is the shares of one lot; order sizes are whole lots. Zero means
	// 100.
	Lot int64
	// MaxLots is the largest passive order in lots. Zero means 10.
	MaxLots int64
	// Spread is how many ticks from the mid passive orders go. Zero means 10.
	Spread int
	// MaxOrders caps the resting orders of one symbol: past it, an add
	// becomes a delete. Zero means 200.
	MaxOrders int
	// StartTime is the first event's time, nanoseconds since midnight.
	// Zero means 09:30:00.
	StartTime int64
	// Mix weighs the actions. Zero means, for DialectITCH, Add 40,
	// Execute 10, Cancel 8, Delete 20, Replace 8, Cross 8, Trade 3; for
	// DialectSZSE, Add 45, Delete 25, Cross 12 (no own-best orders).
	Mix Mix
}

// Flow is a deterministic order-flow generator: from a seed and a list of
// symbols it produces a realistic order-by-order market, one Event per
// Next. The same seed, symbols and configuration give the same events.
//
// A Flow is not safe for concurrent use. A feed that takes a Flow owns it
// from then on: nobody else may call Next.
type Flow struct {
	cfg     FlowConfig
	symbols []string
	rng     *rand.Rand
	book    *Book
	mids    []refdata.Price
	start   []refdata.Price
	now     int64
	nextID  uint64
	match   uint64
	pending []Event
	count   int
}

var mpids = [...]string{"NSDQ", "GSCO", "MSCO", "JPMS", "UBSS"}

// NewFlow returns a Flow over symbols (each 1 to 8 printable ASCII
// characters, distinct) seeded with seed.
func NewFlow(seed uint64, symbols []string, cfg FlowConfig) (*Flow, error) {
	if len(symbols) == 0 {
		return nil, fmt.Errorf("%w: no symbols", ErrConfig)
	}
	seen := make(map[string]bool)
	for _, s := range symbols {
		if len(s) == 0 || len(s) > 8 || seen[s] {
			return nil, fmt.Errorf("%w: symbol %q: want 1 to 8 characters, distinct", ErrConfig, s)
		}
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] > '~' {
				return nil, fmt.Errorf("%w: symbol %q: byte 0x%02x", ErrConfig, s, s[i])
			}
		}
		seen[s] = true
	}
	if cfg.StartPrice == 0 {
		cfg.StartPrice = 100000
	}
	if cfg.Tick == 0 {
		cfg.Tick = 100
	}
	if cfg.Lot == 0 {
		cfg.Lot = 100
	}
	if cfg.MaxLots == 0 {
		cfg.MaxLots = 10
	}
	if cfg.Spread == 0 {
		cfg.Spread = 10
	}
	if cfg.MaxOrders == 0 {
		cfg.MaxOrders = 200
	}
	if cfg.StartTime == 0 {
		cfg.StartTime = 34_200_000_000_000
	}
	if cfg.StartPrice < 0 || cfg.Tick < 0 || cfg.Lot < 0 || cfg.MaxLots < 0 || cfg.Spread < 0 || cfg.MaxOrders < 0 || cfg.StartTime < 0 {
		return nil, fmt.Errorf("%w: negative flow setting", ErrConfig)
	}
	if cfg.StartPrice < 20*cfg.Tick {
		return nil, fmt.Errorf("%w: start price %d is under 20 ticks of %d", ErrConfig, cfg.StartPrice, cfg.Tick)
	}
	switch cfg.Dialect {
	case DialectITCH:
		if cfg.Mix == (Mix{}) {
			cfg.Mix = Mix{Add: 40, Execute: 10, Cancel: 8, Delete: 20, Replace: 8, Cross: 8, Trade: 3}
		}
		if cfg.Mix.OwnBest != 0 {
			return nil, fmt.Errorf("%w: own-best orders are SZSE's: the ITCH dialect has none", ErrConfig)
		}
	case DialectSZSE:
		if cfg.Mix == (Mix{}) {
			cfg.Mix = Mix{Add: 45, Delete: 25, Cross: 12}
		}
		if m := cfg.Mix; m.Execute != 0 || m.Cancel != 0 || m.Replace != 0 || m.Trade != 0 {
			return nil, fmt.Errorf("%w: the SZSE dialect has no standalone execute, partial cancel, replace or hidden trade", ErrConfig)
		}
	default:
		return nil, fmt.Errorf("%w: dialect %d", ErrConfig, cfg.Dialect)
	}
	m := cfg.Mix
	if m.Add < 0 || m.Execute < 0 || m.Cancel < 0 || m.Delete < 0 || m.Replace < 0 || m.Cross < 0 || m.Trade < 0 || m.OwnBest < 0 || m.Add == 0 {
		return nil, fmt.Errorf("%w: mix %+v: weights must not be negative and Add must be positive", ErrConfig, m)
	}
	f := &Flow{
		cfg:     cfg,
		symbols: append([]string(nil), symbols...),
		rng:     rand.New(rand.NewPCG(seed, seed^0x5eedf10e)),
		book:    NewBook(),
		now:     cfg.StartTime,
		nextID:  1,
	}
	for i := range symbols {
		p := cfg.StartPrice + refdata.Price(i)*cfg.StartPrice/10
		p -= p % cfg.Tick
		f.mids = append(f.mids, p)
		f.start = append(f.start, p)
	}
	return f, nil
}

// Symbols returns the flow's symbols in their configured order.
func (f *Flow) Symbols() []string { return append([]string(nil), f.symbols...) }

// Dialect returns the flow's dialect.
func (f *Flow) Dialect() Dialect { return f.cfg.Dialect }

// StartPrice returns the first mid of symbol (the previous close a snapshot
// reports), or 0 for a symbol not in the flow.
func (f *Flow) StartPrice(symbol string) refdata.Price {
	for i, s := range f.symbols {
		if s == symbol {
			return f.start[i]
		}
	}
	return 0
}

// Count returns how many events Next has returned.
func (f *Flow) Count() int { return f.count }

// Next returns the next event. It never fails: every event it returns
// applies cleanly to a Book that has applied all the earlier ones.
func (f *Flow) Next() Event {
	for len(f.pending) == 0 {
		f.generate()
	}
	ev := f.pending[0]
	f.pending = f.pending[1:]
	if err := f.book.Apply(ev); err != nil {
		panic(fmt.Sprintf("feedpeer: flow produced an event its own book refuses: %v", err))
	}
	f.count++
	return ev
}

func (f *Flow) pick(n int) int { return f.rng.IntN(n) }

// generate queues the events of one market action.
func (f *Flow) generate() {
	f.now += 1_000 + f.rng.Int64N(500_000)
	i := f.pick(len(f.symbols))
	sym := f.symbols[i]
	if f.rng.IntN(20) == 0 {
		if f.rng.IntN(2) == 0 {
			f.mids[i] += f.cfg.Tick
		} else if f.mids[i] > 20*f.cfg.Tick {
			f.mids[i] -= f.cfg.Tick
		}
	}
	m := f.cfg.Mix
	w := []int{m.Add, m.Execute, m.Cancel, m.Delete, m.Replace, m.Cross, m.Trade, m.OwnBest}
	total := 0
	for _, x := range w {
		total += x
	}
	r := f.pick(total)
	action := 0
	for r >= w[action] {
		r -= w[action]
		action++
	}
	n := f.book.Len(sym)
	if n == 0 {
		action = 0
	}
	if (action == 0 || action == 7) && n >= f.cfg.MaxOrders {
		action = 3
	}
	switch action {
	case 0:
		f.addPassive(i, sym)
	case 1:
		f.execute(sym)
	case 2:
		f.cancel(sym, n)
	case 3:
		o := f.book.liveAt(sym, f.pick(n))
		f.emit(Event{Kind: KindDelete, Symbol: sym, Order: o.ID, Side: o.Side, Price: o.Price, Qty: o.Qty})
	case 4:
		f.replace(i, sym, n)
	case 5:
		f.cross(i, sym)
	case 6:
		f.hiddenTrade(i, sym)
	case 7:
		f.ownBest(sym)
	}
}

func (f *Flow) emit(ev Event) {
	ev.Time = f.now
	f.pending = append(f.pending, ev)
}

func (f *Flow) lots(maxLots int64) int64 { return (1 + f.rng.Int64N(maxLots)) * f.cfg.Lot }

// passivePrice returns a price on side near the mid that does not cross the
// other side.
func (f *Flow) passivePrice(i int, sym string, side Side) refdata.Price {
	k := refdata.Price(f.pick(f.cfg.Spread + 1))
	tick := f.cfg.Tick
	if side == Buy {
		p := f.mids[i] - k*tick
		if ask, ok := f.book.best(sym, Sell); ok && p >= ask {
			p = ask - tick
		}
		return max(p, tick)
	}
	p := f.mids[i] + k*tick
	if bid, ok := f.book.best(sym, Buy); ok && p <= bid {
		p = bid + tick
	}
	return p
}

func (f *Flow) side() Side {
	if f.rng.IntN(2) == 0 {
		return Buy
	}
	return Sell
}

func (f *Flow) newID() uint64 {
	id := f.nextID
	f.nextID++
	return id
}

func (f *Flow) addPassive(i int, sym string) {
	side := f.side()
	ev := Event{Kind: KindAdd, Symbol: sym, Order: f.newID(), Side: side, Price: f.passivePrice(i, sym, side), Qty: f.lots(f.cfg.MaxLots)}
	if f.cfg.Dialect == DialectITCH && f.rng.IntN(10) == 0 {
		ev.MPID = mpids[f.pick(len(mpids))]
	}
	f.emit(ev)
}

// ownBest sends an own-best order: it names no price; the venue rests it at
// the best price of its side or, with that side empty, cancels it at once.
func (f *Flow) ownBest(sym string) {
	side := f.side()
	ev := Event{Kind: KindAdd, Symbol: sym, Order: f.newID(), Side: side, Qty: f.lots(f.cfg.MaxLots), OwnBest: true}
	f.emit(ev)
	if _, ok := f.book.best(sym, side); !ok {
		f.emit(Event{Kind: KindDelete, Symbol: sym, Order: ev.Order, Side: side, Qty: ev.Qty})
	}
}

// execute executes the oldest order at a best price, partly or whole.
func (f *Flow) execute(sym string) {
	side := f.side()
	if _, ok := f.book.best(sym, side); !ok {
		side = side.Opposite()
	}
	p, _ := f.book.best(sym, side)
	fills := f.book.sweep(sym, side.Opposite(), p, 1)
	o := fills[0].order
	qty := o.Qty
	if qty > 1 && f.rng.IntN(2) == 0 {
		qty = 1 + f.rng.Int64N(qty-1)
	}
	f.match++
	f.emit(Event{Kind: KindExecute, Symbol: sym, Order: o.ID, Side: o.Side, Price: o.Price, Qty: qty, Match: f.match, WithPrice: f.rng.IntN(5) == 0})
}

func (f *Flow) cancel(sym string, n int) {
	o := f.book.liveAt(sym, f.pick(n))
	if o.Qty < 2 {
		f.emit(Event{Kind: KindDelete, Symbol: sym, Order: o.ID, Side: o.Side, Price: o.Price, Qty: o.Qty})
		return
	}
	f.emit(Event{Kind: KindCancel, Symbol: sym, Order: o.ID, Side: o.Side, Price: o.Price, Qty: 1 + f.rng.Int64N(o.Qty-1)})
}

func (f *Flow) replace(i int, sym string, n int) {
	o := f.book.liveAt(sym, f.pick(n))
	f.emit(Event{Kind: KindReplace, Symbol: sym, Order: o.ID, NewOrder: f.newID(), Side: o.Side, Price: f.passivePrice(i, sym, o.Side), Qty: f.lots(f.cfg.MaxLots)})
}

// cross sends an aggressing order through one or more levels of the other
// side; what it does not fill rests at its limit.
func (f *Flow) cross(i int, sym string) {
	side := f.side()
	best, ok := f.book.best(sym, side.Opposite())
	if !ok {
		side = side.Opposite()
		if best, ok = f.book.best(sym, side.Opposite()); !ok {
			f.addPassive(i, sym)
			return
		}
	}
	depth := refdata.Price(f.pick(3)) * f.cfg.Tick
	limit := best + depth
	if side == Sell {
		limit = max(best-depth, f.cfg.Tick)
	}
	qty := f.lots(2 * f.cfg.MaxLots)
	id := f.newID()
	fills := f.book.sweep(sym, side, limit, qty)
	szse := f.cfg.Dialect == DialectSZSE
	if szse {
		f.emit(Event{Kind: KindAdd, Symbol: sym, Order: id, Side: side, Price: limit, Qty: qty})
	}
	left := qty
	for _, fl := range fills {
		f.match++
		ev := Event{Kind: KindExecute, Symbol: sym, Order: fl.order.ID, Side: fl.order.Side, Price: fl.order.Price, Qty: fl.qty, Match: f.match}
		if szse {
			ev.Contra = id
		}
		f.emit(ev)
		left -= fl.qty
	}
	if !szse && left > 0 {
		f.emit(Event{Kind: KindAdd, Symbol: sym, Order: id, Side: side, Price: limit, Qty: left})
	}
}

func (f *Flow) hiddenTrade(i int, sym string) {
	p := f.mids[i]
	bid, okb := f.book.best(sym, Buy)
	ask, oka := f.book.best(sym, Sell)
	if okb && oka && ask-bid > f.cfg.Tick {
		p = bid + f.cfg.Tick
	}
	f.match++
	f.emit(Event{Kind: KindTrade, Symbol: sym, Side: f.side(), Price: p, Qty: f.lots(f.cfg.MaxLots), Match: f.match})
}

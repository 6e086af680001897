package sim

import (
	"errors"
	"math/rand/v2"
	"slices"
	"time"

	"sgw/refdata"
	"sgw/sim/match"
)

// flowOwner is the Owner of the synthetic flow's orders.
const flowOwner = "SIM"

// minSideOrders is the depth below which the flow refills a side first.
const minSideOrders = 5

// engine is what the synthetic flow needs of the matching engine: its
// reads, and order entry that publishes every view (the Sim's
// publishingEngine).
type engine interface {
	Submit(o match.Order) (match.Result, error)
	Cancel(ref uint64, qty int64) (match.CancelResult, error)
	Replace(ref uint64, price refdata.Price, qty int64) (match.Result, error)
	Best(symbol string) (bid, ask refdata.Price)
	Count(symbol string) (bids, asks int)
	Resting(symbol string) int
	Halted(symbol string) bool
	Order(ref uint64) (match.OrderInfo, bool)
}

// publishingEngine is the engine as the flow sees it: order entry goes
// through the Sim so that the SZSE view sees every order whole. It is used
// only with the Sim's mutex held.
type publishingEngine struct {
	*match.Engine
	s *Sim
}

var _ engine = publishingEngine{}

func (p publishingEngine) Submit(o match.Order) (match.Result, error) { return p.s.submitLocked(o) }

func (p publishingEngine) Cancel(ref uint64, qty int64) (match.CancelResult, error) {
	return p.s.cancelLocked(ref, qty)
}

func (p publishingEngine) Replace(ref uint64, price refdata.Price, qty int64) (match.Result, error) {
	return p.s.replaceLocked(ref, price, qty)
}

// flow is the synthetic order flow: a seeded random walk of a fair value per
// instrument around its previous close, with passive orders a few ticks from
// it, cancels and replaces of the flow's own orders and marketable orders
// that trade. It is driven under the Sim's mutex and is deterministic for a
// seed and a sequence of engine states.
type flow struct {
	rng  *rand.Rand
	max  int
	syms []*symFlow
}

// symFlow is the flow's state for one instrument.
type symFlow struct {
	in        refdata.Instrument
	tick      refdata.Price
	low, high refdata.Price
	fair      refdata.Price
	own       []uint64 // refs of the flow's orders, oldest first; some may have left the book
}

func newFlow(seed uint64, ins []refdata.Instrument, maxResting int) *flow {
	f := &flow{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), max: maxResting}
	for _, in := range ins {
		lo, hi := in.Band()
		f.syms = append(f.syms, &symFlow{in: in, tick: in.Tick, low: lo, high: hi, fair: in.PrevClose})
	}
	return f
}

// step performs one synthetic action on a randomly chosen instrument that
// is not halted. Every action publishes at least one message unless every
// instrument is halted.
func (f *flow) step(e engine) error {
	start := f.rng.IntN(len(f.syms))
	var sf *symFlow
	for i := range f.syms {
		c := f.syms[(start+i)%len(f.syms)]
		if !e.Halted(c.in.Symbol) {
			sf = c
			break
		}
	}
	if sf == nil {
		return nil
	}
	sf.walk(f.rng)
	if err := f.act(e, sf); err != nil {
		return err
	}
	return f.trim(e, sf)
}

// act chooses and performs the action.
func (f *flow) act(e engine, sf *symFlow) error {
	nb, na := e.Count(sf.in.Symbol)
	if nb < minSideOrders || na < minSideOrders {
		side := match.Buy
		if na < nb {
			side = match.Sell
		}
		return f.passive(e, sf, side)
	}
	side := match.Buy
	if f.rng.IntN(nb+na) < nb { // favour the thinner side
		side = match.Sell
	}
	switch r := f.rng.IntN(100); {
	case r < 50:
		return f.passive(e, sf, side)
	case r < 65:
		if done, err := f.cancel(e, sf); done || err != nil {
			return err
		}
	case r < 75:
		if done, err := f.replace(e, sf); done || err != nil {
			return err
		}
	default:
		return f.aggressive(e, sf, side)
	}
	return f.passive(e, sf, side)
}

// walk moves the fair value by at most one tick, reverting towards the
// previous close when it has wandered more than a quarter of the band.
func (sf *symFlow) walk(rng *rand.Rand) {
	quarter := (sf.high - sf.low) / 4
	switch {
	case sf.fair-sf.in.PrevClose > quarter:
		sf.fair -= sf.tick
	case sf.in.PrevClose-sf.fair > quarter:
		sf.fair += sf.tick
	default:
		switch rng.IntN(6) {
		case 0:
			sf.fair -= sf.tick
		case 1:
			sf.fair += sf.tick
		}
	}
	sf.fair = sf.clamp(sf.fair)
}

func (sf *symFlow) clamp(p refdata.Price) refdata.Price {
	return min(max(p, sf.low), sf.high)
}

// lots returns a random size of 1 to n of sf's lots.
func (f *flow) lots(sf *symFlow, n int) int64 { return int64(1+f.rng.IntN(n)) * sf.in.Lot }

// submit enters a synthetic order and remembers it if it rests.
func (f *flow) submit(e engine, sf *symFlow, side match.Side, p refdata.Price, qty int64, tif match.TimeInForce) error {
	r, err := e.Submit(match.Order{Symbol: sf.in.Symbol, Side: side, Price: p, Qty: qty, TIF: tif, Owner: flowOwner})
	if err != nil {
		return err
	}
	if r.Ref != 0 {
		sf.own = append(sf.own, r.Ref)
	}
	return nil
}

// passive adds an order 1 to 5 ticks behind the fair value, never crossing
// the other side unless the band leaves no room.
func (f *flow) passive(e engine, sf *symFlow, side match.Side) error {
	bid, ask := e.Best(sf.in.Symbol)
	k := refdata.Price(1+f.rng.IntN(5)) * sf.tick
	var p refdata.Price
	if side == match.Buy {
		p = sf.fair - k
		if ask != 0 && p >= ask {
			p = ask - sf.tick
		}
	} else {
		p = sf.fair + k
		if bid != 0 && p <= bid {
			p = bid + sf.tick
		}
	}
	return f.submit(e, sf, side, sf.clamp(p), f.lots(sf, 20), match.Day)
}

// aggressive sends an order priced 0 to 2 ticks through the other side's
// touch, so it trades; half are IOC, the rest may rest a remainder.
func (f *flow) aggressive(e engine, sf *symFlow, side match.Side) error {
	bid, ask := e.Best(sf.in.Symbol)
	through := refdata.Price(f.rng.IntN(3)) * sf.tick
	var p refdata.Price
	switch {
	case side == match.Buy && ask != 0:
		p = ask + through
	case side == match.Sell && bid != 0:
		p = bid - through
	default:
		return f.passive(e, sf, side)
	}
	tif := match.Day
	if f.rng.IntN(2) == 0 {
		tif = match.IOC
	}
	return f.submit(e, sf, side, sf.clamp(p), f.lots(sf, 10), tif)
}

// pick returns a random live order of the flow's in sf's book.
func (f *flow) pick(e engine, sf *symFlow) (match.OrderInfo, bool) {
	for tries := 0; tries < 8 && len(sf.own) > 0; tries++ {
		i := f.rng.IntN(len(sf.own))
		if o, ok := e.Order(sf.own[i]); ok {
			return o, true
		}
		sf.own = slices.Delete(sf.own, i, i+1)
	}
	return match.OrderInfo{}, false
}

// cancel cancels one of the flow's orders, entirely or in part.
func (f *flow) cancel(e engine, sf *symFlow) (bool, error) {
	o, ok := f.pick(e, sf)
	if !ok {
		return false, nil
	}
	lot := sf.in.Lot
	qty := int64(0) // all
	if o.Qty > lot && f.rng.IntN(2) == 0 {
		qty = lot * (1 + f.rng.Int64N(o.Qty/lot-1))
	}
	_, err := e.Cancel(o.Ref, qty)
	return true, err
}

// replace moves one of the flow's orders up to two ticks and resizes it.
func (f *flow) replace(e engine, sf *symFlow) (bool, error) {
	o, ok := f.pick(e, sf)
	if !ok {
		return false, nil
	}
	p := sf.clamp(o.Price + refdata.Price(f.rng.IntN(5)-2)*sf.tick)
	qty := f.lots(sf, 20)
	if o.Side == match.Buy {
		qty += o.Qty % sf.in.Lot // an odd-lot sell filled part of it
	}
	if p == o.Price && qty == o.Qty {
		return false, nil // no change, which would publish nothing
	}
	r, err := e.Replace(o.Ref, p, qty)
	if err != nil {
		return true, err
	}
	if r.Ref != 0 && r.Ref != o.Ref {
		sf.own = append(sf.own, r.Ref)
	}
	return true, nil
}

// trim cancels the flow's oldest orders while the book holds more than the
// configured maximum, and drops references to orders that left the book.
func (f *flow) trim(e engine, sf *symFlow) error {
	for e.Resting(sf.in.Symbol) > f.max && len(sf.own) > 0 {
		ref := sf.own[0]
		sf.own = sf.own[1:]
		if _, ok := e.Order(ref); !ok {
			continue
		}
		if _, err := e.Cancel(ref, 0); err != nil {
			return err
		}
	}
	if len(sf.own) > 4*f.max+16 {
		sf.own = slices.DeleteFunc(sf.own, func(ref uint64) bool {
			_, ok := e.Order(ref)
			return !ok
		})
	}
	return nil
}

// Step performs n synthetic order-flow actions synchronously, each
// publishing at least one message (unless every instrument is halted). With
// Config.Rate negative, or while paused, the feed then depends only on the
// seed and the calls made, which makes tests deterministic. Step works
// whether or not Run is running and while paused.
func (s *Sim) Step(n int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stepLocked(n)
}

func (s *Sim) stepLocked(n int) error {
	for range n {
		if s.ended {
			return ErrSessionEnded
		}
		err := s.flow.step(s.pub)
		if encErr := s.takeEncErr(); encErr != nil {
			err = errors.Join(err, encErr)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Pause stops the synthetic flow of Run; when it returns, no synthetic
// action is in progress or will start until Resume. Orders submitted
// through Submit, Cancel and Replace and calls of Step still work.
func (s *Sim) Pause() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// Resume restarts the synthetic flow after Pause, at the configured rate
// and without catching up the paused time.
func (s *Sim) Resume() {
	s.mu.Lock()
	s.paused = false
	s.mu.Unlock()
}

// FlowStats counts the synthetic flow's actions (Config.Rate per second).
type FlowStats struct {
	Actions uint64 // actions the paced flow took (not Step's)
	// Skipped are actions the flow fell more than a second behind on
	// (a starved simulator: a busy machine) and never took. Actions not
	// taken while paused are not counted.
	Skipped uint64
}

// FlowStats returns the synthetic flow's counters. Any goroutine.
func (s *Sim) FlowStats() FlowStats {
	return FlowStats{Actions: s.flowActions.Load(), Skipped: s.flowSkipped.Load()}
}

// generate runs the synthetic flow at cfg.Rate actions per second until
// Close. A ticker paces it; actions that fell behind (a slow tick, a busy
// machine) are caught up in bursts of at most a quarter second's worth, and
// more than a second's backlog is forgotten (counted: FlowStats.Skipped).
func (s *Sim) generate() {
	rate := uint64(s.cfg.Rate)
	interval := max(time.Second/time.Duration(rate), time.Millisecond)
	t := time.NewTicker(interval)
	defer t.Stop()
	start := time.Now()
	var done uint64
	for {
		select {
		case <-s.done:
			return
		case <-t.C:
		}
		due := uint64(time.Since(start)/time.Millisecond) * rate / 1000
		n, skip := pace(due, done, rate)
		s.flowSkipped.Add(skip)
		done += skip
		for n > 0 {
			// Release the mutex now and then so order entry is not starved.
			k := min(n, stepsPerLock)
			s.mu.Lock()
			if s.paused || s.ended {
				s.mu.Unlock()
				done = due
				break
			}
			err := s.stepLocked(int(k))
			s.mu.Unlock()
			if err != nil {
				s.log.Error("sim: synthetic flow stopped", "err", err)
				return
			}
			s.flowActions.Add(k)
			done += k
			n -= k
		}
	}
}

// pace returns how many actions the flow takes now, at rate per second,
// when due actions are due since it started and done were taken or
// skipped: the backlog, at most a quarter second's worth at once, and
// skip, the backlog beyond a second, forgotten.
func pace(due, done, rate uint64) (n, skip uint64) {
	if due-done > rate {
		skip = due - done - rate
	}
	return min(due-done-skip, rate/4+1), skip
}

// stepsPerLock bounds the synthetic actions taken per hold of the mutex.
const stepsPerLock = 256

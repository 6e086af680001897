package sim

import (
	"fmt"

	"sgw/refdata"
	"sgw/sim/match"
)

// Submit enters a limit order into the matching engine and publishes the
// resulting book changes; see match.Engine.Submit. It is the entry point
// for order acceptors (FIX) and for tests that need a specific book.
func (s *Sim) Submit(o match.Order) (match.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return match.Result{}, ErrSessionEnded
	}
	r, err := s.submitLocked(o)
	if err != nil {
		return r, err
	}
	return r, s.takeEncErr()
}

// Cancel cancels qty shares of the resting order ref (all of it when qty <=
// 0 or at least its open quantity); see match.Engine.Cancel.
func (s *Sim) Cancel(ref uint64, qty int64) (match.CancelResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return match.CancelResult{}, ErrSessionEnded
	}
	r, err := s.cancelLocked(ref, qty)
	if err != nil {
		return r, err
	}
	return r, s.takeEncErr()
}

// Replace changes the price and open quantity of the resting order ref;
// see match.Engine.Replace.
func (s *Sim) Replace(ref uint64, price refdata.Price, qty int64) (match.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return match.Result{}, ErrSessionEnded
	}
	r, err := s.replaceLocked(ref, price, qty)
	if err != nil {
		return r, err
	}
	return r, s.takeEncErr()
}

// CancelAt is Cancel(ref, 0) for an order acceptor whose view of the
// order may lag the engine's: it also returns at, the index (Changes) of
// the first resting-order change the cancel made, so that the changes
// before at (executions of ref among them) are known to have happened
// before the cancel.
func (s *Sim) CancelAt(ref uint64) (r match.CancelResult, at uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = uint64(len(s.changes))
	if s.ended {
		return match.CancelResult{}, at, ErrSessionEnded
	}
	if r, err = s.cancelLocked(ref, 0); err != nil {
		return r, at, err
	}
	return r, at, s.takeEncErr()
}

// Amend is Replace for an order acceptor whose view of the order may lag
// the engine's: open is the order's open quantity as the caller last saw
// it and qty the open quantity it asks for on that view. Shares executed
// since then (open less the order's open quantity now) come off qty, as
// an exchange takes the new open quantity to be the new order quantity
// less everything filled; when nothing would be left Amend fails with an
// error wrapping match.ErrBadQty and changes nothing. It also returns at,
// the index (Changes) of the first resting-order change the amend made:
// the changes before at happened before it.
func (s *Sim) Amend(ref uint64, price refdata.Price, open, qty int64) (r match.Result, at uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	at = uint64(len(s.changes))
	if s.ended {
		return match.Result{}, at, ErrSessionEnded
	}
	if o, ok := s.eng.Order(ref); ok && o.Qty < open {
		qty -= open - o.Qty
		if qty <= 0 {
			return match.Result{}, at, fmt.Errorf("%w: %d shares executed meanwhile leave nothing open", match.ErrBadQty, open-o.Qty)
		}
	}
	if r, err = s.replaceLocked(ref, price, qty); err != nil {
		return r, at, err
	}
	return r, at, s.takeEncErr()
}

// Halt halts (halted true) or resumes trading in symbol and publishes a
// Stock Trading Action message ('H' halted, 'T' trading); an instrument on
// SZSE Binary publishes nothing at once, its next snapshot shows the
// TradingPhaseCode "H0" or "T0". A halted book
// keeps its orders, accepts cancels and rejects new orders and replaces
// with match.ErrHalted; the synthetic flow leaves it alone. Setting the
// state it already has publishes nothing.
func (s *Sim) Halt(symbol string, halted bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return ErrSessionEnded
	}
	locate, ok := s.eng.Locate(symbol)
	if !ok {
		return fmt.Errorf("%w: %q", match.ErrUnknownSymbol, symbol)
	}
	if s.eng.Halted(symbol) == halted {
		return nil
	}
	if err := s.eng.SetHalted(symbol, halted); err != nil {
		return err
	}
	if s.onSZSE(locate) {
		return nil // SZSE snapshots show it in their TradingPhaseCode
	}
	state := byte(stateTrading)
	if halted {
		state = stateHalted
	}
	return s.tradingAction(locate, state)
}

// Depth returns up to n best aggregated levels of each side of symbol's
// book (all when n <= 0), best first.
func (s *Sim) Depth(symbol string, n int) (bids, asks []match.Level) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng.Depth(symbol, n)
}

// Orders returns symbol's resting orders per side in priority order.
func (s *Sim) Orders(symbol string) (bids, asks []match.OrderInfo) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng.Orders(symbol)
}

// Order returns the resting order ref, if it is still in a book.
func (s *Sim) Order(ref uint64) (match.OrderInfo, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.eng.Order(ref)
}

// Snapshot calls fn with the engine and the sequence number of the last
// recorded ITCH message, holding the simulator's mutex so that the books
// seen by fn are exactly those the record 1..last describes (in SZSE mode,
// the ".SZ" books are those the SZSE channel up to SZSELast describes).
// fn must only read the engine and must not call other Sim methods.
func (s *Sim) Snapshot(fn func(eng *match.Engine, last uint64)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fn(s.eng, s.rec.next()-1)
}

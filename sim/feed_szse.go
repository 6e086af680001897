package sim

import (
	"fmt"
	"time"

	"sgw/feed/szse"
	"sgw/refdata"
	"sgw/sim/match"
)

// SZSE field values the simulator sends.
var (
	szseOrderStream    = [3]byte{'0', '1', '1'} // MDStreamID of orders and trades
	szseSnapshotStream = [3]byte{'0', '1', '0'} // MDStreamID of snapshots
	szseIDSource       = [4]byte{'1', '0', '2', ' '}
)

// Snapshot limits: the levels shown per side and the order quantities
// listed at the best price of each side.
const (
	snapshotDepth = 10
	snapshotQueue = 50
	// maxSnapshotFrame bounds a snapshot's frame: the fixed part, 2×10
	// levels and 4 prices, 2×50 order quantities.
	maxSnapshotFrame = 12 + 69 + (2*snapshotDepth+4)*32 + 2*snapshotQueue*8
)

// szseView is the SZSE Binary view of the matching engine: it turns each
// accepted order-entry call on a ".SZ" instrument into records of the
// channel, keeps the ApplSeqNum of every live order of those instruments
// and their trade statistics, and builds snapshots. Every method runs with
// the Sim's mutex held; the record it appends to is read by the sessions
// under the record's own lock.
//
// The view is built from what each engine call returns, not from the
// engine's events: those are ITCH-shaped (an aggressor appears only when a
// remainder rests, after its executions, and an IOC remainder not at
// all), while the Result of Submit or Replace names the order, every fill
// and what rested or expired, which is what SZSE's order-first sequence
// needs.
type szseView struct {
	cfg  SZSEConfig
	rec  *channelRecord
	ins  []*szseInstrument // by locate-1; nil for an instrument on ITCH
	sym  map[string]*szseInstrument
	live map[uint64]liveOrder // engine order ref -> its 300192; bounded by the resting orders
	date int64                // YYYYMMDD of every LocalTimeStamp

	// Scratch for snapshots.
	entries []szse.MDEntry
	queue   []szse.Qty2
}

// szseInstrument is one instrument published over SZSE Binary, with its
// day's trade statistics.
type szseInstrument struct {
	in     refdata.Instrument
	id     [8]byte // SecurityID: the feed symbol
	trades int64
	volume int64 // shares
	value  int64 // sum of price × shares, in refdata.Price units (the N18(4) scale)
	last   refdata.Price
	open   refdata.Price
	high   refdata.Price
	low    refdata.Price
}

// liveOrder is an order of an SZSE instrument that is still in its book.
type liveOrder struct {
	seq  int64 // ApplSeqNum of its 300192
	side match.Side
	si   *szseInstrument
}

// newSZSEView returns the view of the ".SZ" instruments among ins (which
// are in locate order), dated by the trading day of start.
func newSZSEView(cfg SZSEConfig, ins []refdata.Instrument, start time.Time) (*szseView, error) {
	v := &szseView{
		cfg:  cfg,
		rec:  newChannelRecord(cfg.Channel),
		ins:  make([]*szseInstrument, len(ins)),
		sym:  make(map[string]*szseInstrument),
		live: make(map[uint64]liveOrder),
	}
	y, m, d := start.In(cst).Date()
	v.date = int64(y)*10000 + int64(m)*100 + int64(d)
	for i, in := range ins {
		if !isSZSE(in.Symbol) {
			continue
		}
		id, err := securityID(in.FeedSymbol)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: feed_symbol: %w", ErrConfig, in.Symbol, err)
		}
		si := &szseInstrument{in: in, id: id}
		v.ins[i], v.sym[in.Symbol] = si, si
	}
	return v, nil
}

// onSZSE reports whether the instrument with the locate code is published
// over SZSE Binary (and so not on ITCH). The caller holds s.mu.
func (s *Sim) onSZSE(locate uint16) bool {
	return s.sz != nil && locate >= 1 && int(locate) <= len(s.sz.ins) && s.sz.ins[locate-1] != nil
}

// transactTime returns the LocalTimeStamp of a frame recorded now. The
// caller holds s.mu.
func (s *Sim) transactTime() szse.Timestamp {
	ms := int64(s.timestamp() / uint64(time.Millisecond))
	h, m, sec, milli := ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000
	return szse.Timestamp(s.sz.date*1_000_000_000 + h*10_000_000 + m*100_000 + sec*1000 + milli)
}

// submitLocked enters o into the engine; the engine's sink publishes the
// ITCH view, and an SZSE instrument's order is published here once the
// engine returns. The caller holds s.mu.
func (s *Sim) submitLocked(o match.Order) (match.Result, error) {
	r, err := s.eng.Submit(o)
	if err == nil && s.sz != nil {
		if si := s.sz.sym[o.Symbol]; si != nil {
			s.szseEnter(si, o.Side, o.Price, o.Qty, r)
		}
	}
	return r, err
}

// cancelLocked cancels qty shares of order ref, as submitLocked enters
// orders. The caller holds s.mu.
func (s *Sim) cancelLocked(ref uint64, qty int64) (match.CancelResult, error) {
	lo, onSZSE := s.liveSZSE(ref)
	r, err := s.eng.Cancel(ref, qty)
	if err == nil && onSZSE {
		s.szseCancel(lo, r.Canceled)
		if r.Leaves == 0 {
			delete(s.sz.live, ref)
		}
	}
	return r, err
}

// replaceLocked replaces order ref, as submitLocked enters orders. SZSE
// has no replace: a size reduction at the same price is a partial cancel,
// anything else the cancel of the old order and a new order. The caller
// holds s.mu.
func (s *Sim) replaceLocked(ref uint64, price refdata.Price, qty int64) (match.Result, error) {
	lo, onSZSE := s.liveSZSE(ref)
	var old match.OrderInfo
	if onSZSE {
		old, _ = s.eng.Order(ref)
	}
	r, err := s.eng.Replace(ref, price, qty)
	if err != nil || !onSZSE {
		return r, err
	}
	if r.Ref == ref { // the same order, reduced in place (or unchanged)
		if cut := old.Qty - r.Leaves; cut > 0 {
			s.szseCancel(lo, cut)
		}
		return r, nil
	}
	s.szseCancel(lo, old.Qty)
	delete(s.sz.live, ref)
	s.szseEnter(lo.si, old.Side, price, qty, r)
	return r, nil
}

// liveSZSE returns the live SZSE order ref, if it is one. The caller holds
// s.mu.
func (s *Sim) liveSZSE(ref uint64) (liveOrder, bool) {
	if s.sz == nil {
		return liveOrder{}, false
	}
	lo, ok := s.sz.live[ref]
	return lo, ok
}

// szseEnter publishes an order the engine accepted as SZSE does: its
// 300192 first, then a 300191 per trade naming both orders, then, when an
// IOC remainder did not rest, the cancel of that remainder. The caller
// holds s.mu.
func (s *Sim) szseEnter(si *szseInstrument, side match.Side, price refdata.Price, qty int64, r match.Result) {
	v := s.sz
	o := szse.Order{
		ChannelNo: v.cfg.Channel, MDStreamID: szseOrderStream, SecurityID: si.id, SecurityIDSource: szseIDSource,
		Price: szse.Price4(price), OrderQty: szse.SharesToQty2(qty), Side: szseSide(side),
		TransactTime: s.transactTime(), OrdType: szse.OrdTypeLimit,
	}
	seq := s.szseAppend(func(b []byte, seq int64) ([]byte, error) {
		o.ApplSeqNum = seq
		return szse.AppendOrder(b, &o), nil
	})
	for _, f := range r.Fills {
		resting := v.live[f.Resting.Ref]
		bid, offer := seq, resting.seq
		if side == match.Sell {
			bid, offer = offer, bid
		}
		t := szse.Trade{
			ChannelNo: v.cfg.Channel, MDStreamID: szseOrderStream, BidApplSeqNum: bid, OfferApplSeqNum: offer,
			SecurityID: si.id, SecurityIDSource: szseIDSource, LastPx: szse.Price4(f.Price),
			LastQty: szse.SharesToQty2(f.Qty), ExecType: szse.ExecTypeTrade, TransactTime: s.transactTime(),
		}
		s.szseAppend(func(b []byte, seq int64) ([]byte, error) {
			t.ApplSeqNum = seq
			return szse.AppendTrade(b, &t), nil
		})
		si.trade(f.Price, f.Qty)
		if f.Resting.Qty == 0 {
			delete(v.live, f.Resting.Ref)
		}
	}
	lo := liveOrder{seq: seq, side: side, si: si}
	if r.Ref != 0 {
		v.live[r.Ref] = lo
	}
	if r.Expired > 0 {
		s.szseCancel(lo, r.Expired)
	}
}

// szseCancel publishes the cancel of qty shares of lo: a 300191 with
// ExecType '4', LastPx 0, naming lo on its side and 0 on the other. The
// caller holds s.mu.
func (s *Sim) szseCancel(lo liveOrder, qty int64) {
	t := szse.Trade{
		ChannelNo: s.sz.cfg.Channel, MDStreamID: szseOrderStream, SecurityID: lo.si.id, SecurityIDSource: szseIDSource,
		LastQty: szse.SharesToQty2(qty), ExecType: szse.ExecTypeCancel, TransactTime: s.transactTime(),
	}
	if lo.side == match.Buy {
		t.BidApplSeqNum = lo.seq
	} else {
		t.OfferApplSeqNum = lo.seq
	}
	s.szseAppend(func(b []byte, seq int64) ([]byte, error) {
		t.ApplSeqNum = seq
		return szse.AppendTrade(b, &t), nil
	})
}

// szseAppend records one sequenced frame and returns its ApplSeqNum. An
// encoding error (a bug) is kept for takeEncErr. The caller holds s.mu.
func (s *Sim) szseAppend(enc func(b []byte, seq int64) ([]byte, error)) int64 {
	seq, err := s.sz.rec.add(s.sz.cfg.Channel, true, enc)
	if err != nil && s.encErr == nil {
		s.encErr = fmt.Errorf("%w: szse: %w", ErrEncode, err)
	}
	return seq
}

// trade adds a trade to the day's statistics.
func (si *szseInstrument) trade(p refdata.Price, qty int64) {
	if si.trades == 0 {
		si.open, si.high, si.low = p, p, p
	}
	si.trades++
	si.volume += qty
	si.value += int64(p) * qty
	si.last = p
	si.high = max(si.high, p)
	si.low = min(si.low, p)
}

// szseSide returns the SZSE Side of s.
func szseSide(s match.Side) byte {
	if s == match.Buy {
		return szse.SideBuy
	}
	return szse.SideSell
}

// szseSnapshots records one snapshot (300111) per SZSE instrument, built
// from the engine's books as the channel's records up to this point leave
// them. The caller holds s.mu.
func (s *Sim) szseSnapshots() error {
	v := s.sz
	for _, si := range v.ins {
		if si == nil {
			continue
		}
		snap := s.snapshotOf(si)
		if _, err := v.rec.add(v.cfg.SnapshotChannel, false, func(b []byte, _ int64) ([]byte, error) {
			return szse.AppendSnapshot(b, &snap)
		}); err != nil {
			return fmt.Errorf("%w: szse: %s: %w", ErrEncode, si.in.Symbol, err)
		}
	}
	return nil
}

// snapshotOf builds si's snapshot in the view's scratch storage: the best
// 10 levels of each side ("0 " bids, "1 " offers, MDPriceLevel from 1,
// the best level listing up to 50 order quantities in time priority),
// then, once the instrument has traded, last, open, high and low ("2 ",
// "4 ", "7 ", "8 ", size 0, level 0). The caller holds s.mu.
func (s *Sim) snapshotOf(si *szseInstrument) szse.Snapshot {
	v := s.sz
	sym := si.in.Symbol
	phase := "T0"
	switch {
	case s.ended:
		phase = "E0"
	case s.eng.Halted(sym):
		phase = "H0"
	}
	snap := szse.Snapshot{
		OrigTime: s.transactTime(), ChannelNo: v.cfg.SnapshotChannel, MDStreamID: szseSnapshotStream,
		SecurityID: si.id, SecurityIDSource: szseIDSource,
		PrevClosePx: szse.Price4(si.in.PrevClose), NumTrades: si.trades,
		TotalVolumeTrade: szse.SharesToQty2(si.volume), TotalValueTrade: szse.Amount4(si.value),
	}
	szse.PutString(snap.TradingPhaseCode[:], phase)
	bids, asks := s.eng.Depth(sym, snapshotDepth)
	bidOrders, askOrders := s.eng.Orders(sym)
	v.entries, v.queue = v.entries[:0], v.queue[:0]
	// The queues go first so that appending to v.queue does not move the
	// storage the entries' Orders point into.
	v.queue = appendQueue(v.queue, bidOrders)
	nb := len(v.queue)
	v.queue = appendQueue(v.queue, askOrders)
	levels := func(typ string, ls []match.Level, queue []szse.Qty2) {
		for i, l := range ls {
			e := szse.MDEntry{
				MDEntryPx: szse.PriceToPrice6(l.Price), MDEntrySize: szse.SharesToQty2(l.Qty),
				MDPriceLevel: uint16(i + 1), NumberOfOrders: int64(l.Orders),
			}
			copy(e.MDEntryType[:], typ)
			if i == 0 {
				e.Orders = queue
			}
			v.entries = append(v.entries, e)
		}
	}
	levels(szse.EntryBid, bids, v.queue[:nb:nb])
	levels(szse.EntryOffer, asks, v.queue[nb:len(v.queue):len(v.queue)])
	if si.trades > 0 {
		for _, e := range []struct {
			typ string
			px  refdata.Price
		}{{szse.EntryLast, si.last}, {szse.EntryOpen, si.open}, {szse.EntryHigh, si.high}, {szse.EntryLow, si.low}} {
			me := szse.MDEntry{MDEntryPx: szse.PriceToPrice6(e.px)}
			copy(me.MDEntryType[:], e.typ)
			v.entries = append(v.entries, me)
		}
	}
	snap.Entries = v.entries
	return snap
}

// appendQueue appends the quantities of the orders at the best price of
// orders (a side in priority order), at most snapshotQueue of them.
func appendQueue(q []szse.Qty2, orders []match.OrderInfo) []szse.Qty2 {
	for i, o := range orders {
		if i == snapshotQueue || o.Price != orders[0].Price {
			break
		}
		q = append(q, szse.SharesToQty2(o.Qty))
	}
	return q
}

// snapshotLoop records a round of snapshots at once and then every
// SnapshotInterval until Close, and not after EndSession.
func (s *Sim) snapshotLoop() {
	t := time.NewTicker(s.sz.cfg.SnapshotInterval)
	defer t.Stop()
	for {
		s.mu.Lock()
		var err error
		if !s.ended {
			err = s.szseSnapshots()
		}
		s.mu.Unlock()
		if err != nil {
			s.log.Error("sim: szse snapshots stopped", "err", err)
			return
		}
		select {
		case <-s.done:
			return
		case <-t.C:
		}
	}
}

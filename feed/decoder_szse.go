package feed

import (
	"fmt"
	"slices"
	"sync"

	"sgw/feed/event"
	"sgw/feed/szse"
	"sgw/orderbook"
)

// snapshotCheckDepth is how many levels per side a snapshot is compared
// with the book on: SZSE's 300111 publishes ten.
const snapshotCheckDepth = 10

// SZSEDecoder is the SZSE Binary side of the decoder seam: the sink of an
// SZSEFeed, turning order-by-order records into book events.
//
//   - A limit order (300192, OrdType '2') is an Add, flagged
//     FlagAnnounced: SZSE publishes an order before the trades it makes on
//     arrival, so a crossing order waits off the book for them. An
//     own-best order (OrdType 'U', 本方最优) is an Add flagged FlagOwnBest
//     too: the venue prices it at the best price on its own side when it
//     arrives, and the book does the same at that point of the stream
//     (the record's Price is not read); with its side empty the venue
//     cancels it, and the book does not rest it. A market order ('1') is
//     not rested: its trades still print and reduce the resting orders.
//   - A trade (300191, ExecType 'F') is two Executes of LastQty at LastPx,
//     of the buy and the sell order, printed once; either may be an order
//     that never rested (FlagMayBeAbsent).
//   - A cancel (300191, ExecType '4') is a Reduce of LastQty of the order
//     it names: SZSE cancels what is left (LastQty), so the order leaves;
//     a partial cancel (as the simulator's) keeps the rest.
//   - A record that does not trade the last announced order of its
//     channel is preceded by a Rest: that order's trades are over.
//   - A snapshot (300111) is a Check per published level, bid and offer
//     (and an empty rank after the last when fewer than ten), then a
//     CheckDone: the books count a snapshot that differs and mark the book
//     stale when two in a row do (a snapshot can run just ahead of records
//     not yet recovered); the feed's supervisor then finds the channel of
//     the stale book in RebuildRequests and rebuilds it.
//   - ResetChannel clears every book the channel carried (stale),
//     ChannelLive marks them valid again.
//
// Records of instruments no book is kept for are counted and dropped. The
// feed calls ApplySZSE, ResetChannel and ChannelLive one at a time; the
// other methods are safe from any goroutine.
type SZSEDecoder struct {
	syms     Symbols
	out      EventSink
	health   BookHealth // nil: no rebuild requests
	channels map[uint16]*szseChannel
	bySym    map[uint32]uint16 // record channel of each instrument seen
	// lastSnap is the identity of the last snapshot checked per
	// instrument: both sources deliver each snapshot, and a copy is not a
	// second opinion.
	lastSnap map[uint32]snapID
	ev       event.Event
	cnt      decodeCounters

	// mu guards what RebuildRequests (the feed's supervisor) reads: the
	// instruments seen with their channels, the channels being rebuilt,
	// and the books' count of mismatches and missed records at the last look.
	// relook: a ChannelLive came since the last look, which may have
	// skipped a book of that channel as being rebuilt.
	mu         sync.Mutex
	watch      []symChannel
	rebuilding map[uint16]bool
	mismatches uint64
	relook     bool
}

// BookHealth is what the SZSE decoder reads of the books to ask for
// rebuilds: whether a book is known to differ from the venue's until a
// rebuild (not merely stale, as an outage leaves every book), and the
// count of snapshots that differed. *orderbook.Engine implements it.
type BookHealth interface {
	Differs(id orderbook.SymbolID) bool
	Stats() orderbook.Stats
}

// clearWaiter is an EventSink that tells whether a Clear given to it
// is not yet applied to its book (*orderbook.Input): until then the
// book shows the state the Clear will mend.
type clearWaiter interface {
	Clearing() bool
}

var _ clearWaiter = (*orderbook.Input)(nil)

// symChannel is an instrument and the channel of its records.
type symChannel struct {
	sym uint32
	ch  uint16
}

// snapID tells snapshots of one instrument apart.
type snapID struct {
	orig   szse.Timestamp
	trades int64
	volume szse.Qty2
}

// szseChannel is what the decoder keeps per channel of records.
type szseChannel struct {
	syms map[uint32]bool // instruments whose records the channel carried
	// The last announced order, until a record that does not trade it.
	agg    bool
	aggSym uint32
	aggRef uint64
	// replayTo is the ApplSeqNum up to which the channel's records were
	// delivered before the rebuild under way (ReplayChannel): their
	// prints are not published again, unless stamped well after
	// replayAt (a numbering begun since: szseReplayer).
	replayTo uint64
	replayAt szse.Timestamp
}

// NewSZSEDecoder returns a decoder resolving instruments with syms and
// delivering to out. health (the books) tells RebuildRequests which
// books a snapshot found wrong; nil never asks for rebuilds.
func NewSZSEDecoder(syms Symbols, out EventSink, health BookHealth) *SZSEDecoder {
	return &SZSEDecoder{syms: syms, out: out, health: health, channels: map[uint16]*szseChannel{}, bySym: map[uint32]uint16{},
		lastSnap: map[uint32]snapID{}, rebuilding: map[uint16]bool{}}
}

// carry records that channel no carries sym's records.
func (d *SZSEDecoder) carry(c *szseChannel, no uint16, sym uint32) {
	if c.syms[sym] {
		return
	}
	c.syms[sym] = true
	d.bySym[sym] = no
	d.mu.Lock()
	d.watch = append(d.watch, symChannel{sym, no})
	d.mu.Unlock()
}

func (d *SZSEDecoder) channel(no uint16) *szseChannel {
	c := d.channels[no]
	if c == nil {
		c = &szseChannel{syms: map[uint32]bool{}}
		d.channels[no] = c
	}
	return c
}

// lookup resolves a SecurityID, counting the unknown.
func (d *SZSEDecoder) lookup(id *[8]byte) (uint32, bool) {
	sym, ok := d.syms.LookupFeed(szse.TrimString(id[:]))
	if !ok {
		d.cnt.unknownSymbol.Add(1)
	}
	return uint32(sym), ok
}

// ApplySZSE takes one record or snapshot (see the type's doc).
func (d *SZSEDecoder) ApplySZSE(m *szse.Message, recv int64) error {
	switch m.Type {
	case szse.TypeOrder:
		return d.order(&m.Order, recv)
	case szse.TypeTrade:
		return d.trade(&m.Trade, recv)
	case szse.TypeSnapshot:
		return d.snapshot(&m.Snapshot, recv)
	}
	d.cnt.ignored.Add(1)
	return nil
}

func (d *SZSEDecoder) order(o *szse.Order, recv int64) error {
	c := d.channel(o.ChannelNo)
	sym, ok := d.lookup(&o.SecurityID)
	if err := d.rest(c, o.ApplSeqNum, 0); err != nil || !ok {
		return err
	}
	d.carry(c, o.ChannelNo, sym)
	c.agg, c.aggSym, c.aggRef = true, sym, uint64(o.ApplSeqNum)
	var side event.Side
	switch o.Side {
	case szse.SideBuy:
		side = event.Buy
	case szse.SideSell:
		side = event.Sell
	}
	flags, price := event.FlagAnnounced, o.Price.Price()
	switch {
	case side == 0:
		d.cnt.ignored.Add(1)
		return nil
	case o.OrdType == szse.OrdTypeLimit:
	case o.OrdType == szse.OrdTypeOwnBest:
		flags, price = flags|event.FlagOwnBest, 0 // priced by the book: see the type's doc
	default:
		d.cnt.ignored.Add(1) // a market order is not rested: see the type's doc
		return nil
	}
	qty, _ := o.OrderQty.Shares()
	d.ev = event.Event{Kind: event.Add, Symbol: sym, Recv: recv, Time: szseTime(o.TransactTime),
		Ref: uint64(o.ApplSeqNum), Side: side, Price: price, Qty: qty, Flags: flags}
	return d.apply()
}

func (d *SZSEDecoder) trade(t *szse.Trade, recv int64) error {
	c := d.channel(t.ChannelNo)
	sym, ok := d.lookup(&t.SecurityID)
	if err := d.rest(c, t.BidApplSeqNum, t.OfferApplSeqNum); err != nil || !ok {
		return err
	}
	d.carry(c, t.ChannelNo, sym)
	qty, _ := t.LastQty.Shares()
	d.ev = event.Event{Symbol: sym, Recv: recv, Time: szseTime(t.TransactTime), Qty: qty}
	switch t.ExecType {
	case szse.ExecTypeCancel:
		d.ev.Kind, d.ev.Flags = event.Reduce, event.FlagMayBeAbsent
		d.ev.Ref = uint64(max(t.BidApplSeqNum, t.OfferApplSeqNum))
		return d.apply()
	case szse.ExecTypeTrade:
	default:
		d.cnt.decodeErrors.Add(1)
		return fmt.Errorf("feed: szse: trade %d of channel %d: ExecType %q", t.ApplSeqNum, t.ChannelNo, t.ExecType)
	}
	d.ev.Kind, d.ev.Price = event.Execute, t.LastPx.Price()
	flags := event.FlagMayBeAbsent | event.FlagPrint
	if t.ApplSeqNum > 0 && uint64(t.ApplSeqNum) <= c.replayTo && !stampedBefore(c.replayAt, t.TransactTime) {
		flags |= event.FlagReplayed
	}
	for _, ref := range [2]int64{t.BidApplSeqNum, t.OfferApplSeqNum} {
		if ref == 0 {
			continue
		}
		d.ev.Ref, d.ev.Flags = uint64(ref), flags
		if err := d.apply(); err != nil {
			return err
		}
		flags = event.FlagMayBeAbsent
	}
	return nil
}

// rest sends a Rest for the channel's last announced order unless the
// record trades it (names a or b).
func (d *SZSEDecoder) rest(c *szseChannel, a, b int64) error {
	if !c.agg || c.aggRef == uint64(a) || c.aggRef == uint64(b) {
		return nil
	}
	c.agg = false
	d.ev = event.Event{Kind: event.Rest, Symbol: c.aggSym}
	return d.apply()
}

func (d *SZSEDecoder) snapshot(s *szse.Snapshot, recv int64) error {
	sym, ok := d.lookup(&s.SecurityID)
	if !ok {
		return nil
	}
	no, seen := d.bySym[sym]
	if !seen {
		return nil // nothing built for it yet
	}
	id := snapID{orig: s.OrigTime, trades: s.NumTrades, volume: s.TotalVolumeTrade}
	if last, ok := d.lastSnap[sym]; ok && last == id {
		return nil // the other source's copy
	}
	d.lastSnap[sym] = id
	c := d.channel(no)
	if c.agg && c.aggSym == sym {
		if err := d.rest(c, 0, 0); err != nil {
			return err
		}
	}
	var levels [2]int // levels of each side in the snapshot
	for i := range s.Entries {
		e := &s.Entries[i]
		side := event.Buy
		switch string(e.MDEntryType[:]) {
		case szse.EntryBid:
		case szse.EntryOffer:
			side = event.Sell
		default:
			continue
		}
		if e.MDPriceLevel < 1 || e.MDPriceLevel > snapshotCheckDepth {
			continue
		}
		price, _ := e.MDEntryPx.Price()
		qty, _ := e.MDEntrySize.Shares()
		levels[side-1]++
		d.ev = event.Event{Kind: event.Check, Symbol: sym, Recv: recv, Side: side, Code: byte(e.MDPriceLevel - 1), Price: price, Qty: qty}
		if err := d.apply(); err != nil {
			return err
		}
	}
	for i, n := range levels {
		if n < snapshotCheckDepth {
			d.ev = event.Event{Kind: event.Check, Symbol: sym, Recv: recv, Side: event.Side(i + 1), Code: byte(n)}
			if err := d.apply(); err != nil {
				return err
			}
		}
	}
	d.ev = event.Event{Kind: event.CheckDone, Symbol: sym, Recv: recv}
	return d.apply()
}

func (d *SZSEDecoder) apply() error {
	if err := d.out.Apply(&d.ev); err != nil {
		return fmt.Errorf("feed: szse: %s of symbol %d: %w", d.ev.Kind, d.ev.Symbol, err)
	}
	return nil
}

// ResetChannel clears every book the channel carried and marks it stale:
// its records are delivered again from ApplSeqNum 1.
func (d *SZSEDecoder) ResetChannel(no uint16) error {
	c := d.channel(no)
	c.agg = false
	d.mu.Lock()
	d.rebuilding[no] = true
	d.mu.Unlock()
	return d.each(c, event.Clear)
}

// ReplayChannel says the channel's records up to ApplSeqNum n, stamped no
// later than at, were delivered before the rebuild just begun (0: none):
// the prints of those the rebuild delivers again are flagged
// event.FlagReplayed (the books count them without publishing them
// again). A print stamped well after at is not: see szseReplayer.
func (d *SZSEDecoder) ReplayChannel(no uint16, n uint64, at szse.Timestamp) {
	c := d.channel(no)
	c.replayTo, c.replayAt = n, at
}

// StaleChannel marks every book the channel carried stale, unchanged:
// every source was down past stale_after_outage. ChannelLive ends it.
func (d *SZSEDecoder) StaleChannel(no uint16) error {
	return d.each(d.channel(no), event.Stale)
}

// ChannelLive marks every book the channel carried valid again.
func (d *SZSEDecoder) ChannelLive(no uint16) error {
	c := d.channel(no)
	d.mu.Lock()
	delete(d.rebuilding, no)
	d.relook = true // see RebuildRequests
	d.mu.Unlock()
	return d.each(c, event.Valid)
}

func (d *SZSEDecoder) each(c *szseChannel, k event.Kind) error {
	for sym := range c.syms {
		d.ev = event.Event{Kind: k, Symbol: sym}
		if err := d.apply(); err != nil {
			return err
		}
	}
	return nil
}

// RebuildRequests returns the channels, outside a rebuild, with a book
// known to differ from the venue's (BookHealth.Differs: snapshots found
// it different, or it missed a record): the feed rebuilds them. A
// channel whose books are stale only for an outage (StaleChannel) is not
// asked: before, any stale book was, and one differing snapshot during
// an outage asked a rebuild of every outage-marked channel, each a
// retransmission of the channel's day, at the recovery. It looks at the
// books only when their count of differing snapshots and missed records
// has moved since the last look (a book differs from its second differing
// snapshot in a row, which counts, or from a record naming an order it
// holds already, or not at all where that cannot be innocent: counted
// too; a ChannelLive that leaves such a book stale, the difference found
// during the rebuild this look skipped, counts it again), and after any
// ChannelLive: a book that missed a record during the rebuild, its count
// skipped by that look, is not counted again, and stayed stale for ever
// with no rebuild. Before, only differing snapshots were counted, and a
// book that missed a record stayed stale until a snapshot somewhere
// differed. While a Clear the decoder sent waits for its book
// (orderbook.Input.Clearing) it does not look, and looks at the next call:
// a rebuild that ended before the books applied its Clear was asked
// again, the books still showing what the Clear would mend. Safe from
// any goroutine; the feed's supervisor calls it.
func (d *SZSEDecoder) RebuildRequests() []uint16 {
	if d.health == nil {
		return nil
	}
	st := d.health.Stats()
	m := st.Mismatch + st.UnknownOrder + st.DuplicateOrder
	d.mu.Lock()
	defer d.mu.Unlock()
	if m == d.mismatches && !d.relook {
		return nil
	}
	if cw, ok := d.out.(clearWaiter); ok && cw.Clearing() {
		return nil // the books show what a rebuild's Clear will mend: look later
	}
	d.mismatches, d.relook = m, false
	var out []uint16
	for _, w := range d.watch {
		if !d.rebuilding[w.ch] && !slices.Contains(out, w.ch) && d.health.Differs(orderbook.SymbolID(w.sym)) {
			out = append(out, w.ch)
		}
	}
	return out
}

// DecodeStats returns the decoder's counters.
func (d *SZSEDecoder) DecodeStats() DecodeStats { return d.cnt.stats() }

// szseTime turns a LocalTimeStamp YYYYMMDDHHMMSSsss into nanoseconds since
// midnight (0 for a malformed one).
func szseTime(t szse.Timestamp) uint64 {
	v := int64(t) % 1_000_000_000 // HHMMSSsss
	if v < 0 {
		return 0
	}
	h, m, s, ms := v/10_000_000, v/100_000%100, v/1000%100, v%1000
	if h > 23 || m > 59 || s > 60 {
		return 0
	}
	return uint64(((h*60+m)*60+s)*1000+ms) * 1_000_000
}

package gateway

import (
	"context"
	"errors"
	"maps"
	"slices"
	"sync"

	"sgw/orderbook"
	"sgw/refdata"
)

// Market is what the WebSocket fan-out reads from the order books.
// *orderbook.Engine implements it.
type Market interface {
	Books
	Shards() int
	Shard(id orderbook.SymbolID) int
	NewReader(shard int) *orderbook.Reader
}

var _ Market = (*orderbook.Engine)(nil)

// bookDepths are the depths a book subscriber may ask for.
var bookDepths = [3]int{5, 10, 20}

// BookDepth is the deepest book the WebSocket fan-out serves: the depth of
// the hub's own copy of each book, the largest a subscriber may ask for.
// The books must publish at least this many levels (Deps.PublishedDepth).
const BookDepth = 20

// hubDepth is BookDepth, for the hub's arithmetic.
const hubDepth = BookDepth

// sub is one client's subscription to one symbol on one channel. gen is the
// client's resync generation the subscription last caught up with: when the
// client's backlog is dropped, gen falls behind and the next message is a
// snapshot.
type sub struct{ gen uint64 }

// symState is the fan-out state of one symbol: the hub's depth-20 copy of
// the book, kept from the update stream exactly as a depth-20 client keeps
// it, the recent updates for resuming subscribers, and the subscribers.
type symState struct {
	id   orderbook.SymbolID
	sym  string
	inst *refdata.Instrument

	seq        uint64
	bids, asks []orderbook.Level
	ck10, ck5  uint32
	q          quote

	hist     []orderbook.Update // ring of the last len(hist) updates
	histLen  int
	histNext int
	// baseCk10 and baseCk5 are the checksums at seq-histLen, the state
	// the history starts from: what a resume from there must match.
	baseCk10, baseCk5 uint32

	book   [3]map[*client]*sub // by depth index: 5, 10, 20
	quotes map[*client]*sub
	trades map[*client]*sub
}

// hub fans out one shard's updates to WebSocket clients. Its goroutine (run)
// reads the shard's update ring, keeps each symbol's state, encodes every
// message once and queues the same bytes to every subscriber. Clients'
// goroutines call subscribe, unsubscribe, resync and drop. All state is
// guarded by mu; queueing to a client never blocks, so a slow client never
// holds the hub.
type hub struct {
	shard   int
	market  Market
	rd      *orderbook.Reader
	metrics *wsMetrics

	mu   sync.Mutex
	syms map[orderbook.SymbolID]*symState
}

// newHub returns the hub of shard with a reader positioned before the
// snapshot it takes, so no update falls between the two.
func newHub(shard int, market Market, history int, m *wsMetrics) *hub {
	h := &hub{shard: shard, market: market, rd: market.NewReader(shard), metrics: m, syms: map[orderbook.SymbolID]*symState{}}
	for _, id := range market.Symbols() {
		if market.Shard(id) != shard {
			continue
		}
		s := &symState{id: id, inst: market.Instrument(id), hist: make([]orderbook.Update, history),
			quotes: map[*client]*sub{}, trades: map[*client]*sub{}}
		s.sym = s.inst.Symbol
		for i := range s.book {
			s.book[i] = map[*client]*sub{}
		}
		h.syms[id] = s
		h.load(s)
	}
	return h
}

// load resets s from the published view. mu held (or not yet shared).
func (h *hub) load(s *symState) {
	var v orderbook.View
	h.market.View(s.id, hubDepth, &v)
	s.seq = v.Seq
	s.bids = append(s.bids[:0], v.Bids...)
	s.asks = append(s.asks[:0], v.Asks...)
	s.ck10, s.ck5 = v.Checksum, v.Checksum5
	s.q = quote{last: v.Last, volume: v.Volume, turnover: v.Turnover, state: v.State}
	s.q.bid, s.q.ask = top(s.bids), top(s.asks)
	s.clearHistory()
}

// clearHistory empties s's history: it starts from s's current state.
func (s *symState) clearHistory() {
	s.histLen, s.histNext = 0, 0
	s.baseCk10, s.baseCk5 = s.ck10, s.ck5
}

// remember appends u, the update s is now at, to the history.
func (s *symState) remember(u *orderbook.Update) {
	if s.histLen == len(s.hist) { // the oldest goes: the history starts after it
		old := &s.hist[s.histNext]
		s.baseCk10, s.baseCk5 = old.Checksum, old.Checksum5
	}
	s.hist[s.histNext] = *u
	s.histNext = (s.histNext + 1) % len(s.hist)
	s.histLen = min(s.histLen+1, len(s.hist))
}

// checksumAt returns the checksum subscribers of depth had at seq, one
// the history covers (s.seq-histLen to s.seq).
func (s *symState) checksumAt(seq uint64, depth int) uint32 {
	ck10, ck5 := s.ck10, s.ck5
	switch back := int(s.seq - seq); {
	case back == s.histLen:
		ck10, ck5 = s.baseCk10, s.baseCk5
	case back > 0:
		u := &s.hist[(s.histNext-1-back+2*len(s.hist))%len(s.hist)]
		ck10, ck5 = u.Checksum, u.Checksum5
	}
	if depth == 5 {
		return ck5
	}
	return ck10
}

func top(ls []orderbook.Level) orderbook.Level {
	if len(ls) == 0 {
		return orderbook.Level{}
	}
	return ls[0]
}

// run fans out until ctx ends or the books stop.
func (h *hub) run(ctx context.Context) error {
	defer h.rd.Close()
	buf := make([]orderbook.Update, 512)
	for {
		if err := h.rd.Wait(ctx); err != nil {
			return nil
		}
		for {
			n, err := h.rd.Next(buf)
			if errors.Is(err, orderbook.ErrLapped) {
				h.metrics.lapped.Inc()
				h.mu.Lock()
				for _, s := range h.syms {
					h.reload(s, s.seq)
				}
				h.mu.Unlock()
				continue
			}
			if n == 0 {
				break
			}
			h.mu.Lock()
			for i := range buf[:n] {
				h.apply(&buf[i])
			}
			h.mu.Unlock()
		}
	}
}

// reload resets s from the published view after the hub lost updates, and
// sends every subscriber a fresh snapshot. printed is the seq up to which
// trades subscribers got every print, and s.q holds the volume and
// turnover at printed. When the view is at another seq, the prints in
// between (or, in another numbering, since) never reached the hub, and
// they are told, as when their own backlog is dropped (resync). Before,
// those prints vanished without a word on every reload: a market-data
// edge's after each gap or loss of its bus. So are they when the view is
// at printed with another volume or turnover: another numbering (a new
// ingest epoch) that has reached the same seq with other prints. Before,
// they were told nothing then. One with the same volume and turnover has
// counted the same prints of the day (an ingest counts the day's prints
// from its start). mu held.
func (h *hub) reload(s *symState, printed uint64) {
	was := s.q
	h.load(s)
	for d, subs := range s.book {
		for c, sb := range subs {
			sb.gen = c.enqueueSnapshot(h.snapshot(s, bookDepths[d], true))
		}
	}
	for c := range s.quotes {
		c.enqueue(encodeQuote(s.sym, s.seq, s.q, s.inst))
	}
	if s.seq != printed || s.q.volume != was.volume || s.q.turnover != was.turnover {
		h.resyncTrades(s)
	}
}

// resyncTrades tells every trades subscriber of s that prints up to s.seq
// may be missing (prints have no snapshot). mu held.
func (h *hub) resyncTrades(s *symState) {
	for c, sb := range s.trades {
		sb.gen = c.enqueueSnapshot(encodeTradesResync(s.sym, s.seq))
	}
}

// apply takes one update into the symbol's state and fans it out. mu held.
func (h *hub) apply(u *orderbook.Update) {
	s := h.syms[u.Symbol]
	if s == nil {
		return // not this shard's
	}
	if u.Kind == orderbook.KindReload {
		// A mirror replaced or re-marked the book (orderbook.Mirror):
		// start over from the view, whatever the Seq.
		h.reload(s, s.seq)
		return
	}
	if u.Seq <= s.seq {
		return // already in the snapshot
	}
	if u.Seq != s.seq+1 {
		h.metrics.resnapshots.Inc()
		h.reload(s, s.seq)
		return
	}
	if u.Kind == orderbook.KindReset {
		h.reset(s, u)
		return
	}
	s.bids, s.asks = orderbook.ApplyUpdate(s.bids, s.asks, u, hubDepth)
	s.seq, s.ck10, s.ck5 = u.Seq, u.Checksum, u.Checksum5
	if orderbook.Checksum(s.bids, s.asks, 10) != u.Checksum {
		// The hub's copy diverged from the books: a bug, but one that
		// must not reach clients. Count it and start over from the view
		// (u's print, if any, was not sent).
		h.metrics.resnapshots.Inc()
		h.reload(s, u.Seq-1)
		return
	}
	s.remember(u)
	// s is at u in full, its state included, before anything is sent: a
	// subscriber whose backlog was dropped gets a snapshot in place of u
	// (deliver), and it must carry u's stale mark. Before, it carried the
	// previous update's: the update that marked a book stale went out as
	// a snapshot marked valid.
	q := quote{bid: top(s.bids), ask: top(s.asks), last: u.Last, volume: u.Volume, turnover: u.Turnover, state: u.State}
	quoteChanged := q != s.q
	s.q = q

	for d, subs := range s.book {
		if len(subs) == 0 {
			continue
		}
		msg := encodeUpdate(s.sym, u, bookDepths[d])
		for c, sb := range subs {
			h.deliver(c, sb, s, d, msg, u.Recv)
		}
	}
	if quoteChanged {
		if len(s.quotes) > 0 {
			msg := encodeQuote(s.sym, s.seq, q, s.inst)
			for c := range s.quotes {
				c.enqueue(msg)
			}
		}
	}
	if u.Kind == orderbook.KindTrade && len(s.trades) > 0 {
		msg := encodeTrade(s.sym, u)
		for c := range s.trades {
			c.enqueue(msg)
		}
	}
}

// reset empties s for a rebuild of its feed (a KindReset update): every
// book subscriber gets a snapshot of the empty, stale book in place of the
// update, quote subscribers the stale quote, and trades subscribers a
// resync notice: the feed rebuilds because messages were lost or wrong,
// so prints may be missing (the rebuild publishes only the prints it
// delivers for the first time: event.FlagReplayed). A client resuming
// later cannot resume across it: the history is cleared. mu held.
func (h *hub) reset(s *symState, u *orderbook.Update) {
	s.seq, s.ck10, s.ck5 = u.Seq, u.Checksum, u.Checksum5
	s.bids, s.asks = s.bids[:0], s.asks[:0]
	s.q = quote{state: u.State}
	s.clearHistory()
	for d, subs := range s.book {
		for c, sb := range subs {
			sb.gen = c.enqueueSnapshot(h.snapshot(s, bookDepths[d], true))
		}
	}
	for c := range s.quotes {
		c.enqueue(encodeQuote(s.sym, s.seq, s.q, s.inst))
	}
	h.resyncTrades(s)
}

// deliver queues a book update to one subscriber, or a snapshot in its
// place when the subscriber's backlog was dropped since it last caught up.
// recv is the update's ingest time (Update.Recv), for the latency
// histogram. mu held.
func (h *hub) deliver(c *client, sb *sub, s *symState, d int, msg []byte, recv int64) {
	if !c.enqueueAt(msg, sb.gen, recv) {
		sb.gen = c.enqueueSnapshot(h.snapshot(s, bookDepths[d], true))
	}
}

// snapshot encodes s's book at depth. mu held.
func (h *hub) snapshot(s *symState, depth int, resync bool) []byte {
	ck := s.ck10
	if depth == 5 {
		ck = s.ck5
	}
	return encodeSnapshot(s.sym, s.seq, depth, s.bids[:min(depth, len(s.bids))], s.asks[:min(depth, len(s.asks))], ck, resync, s.q.state == orderbook.StateStale)
}

// subscribe adds c to channel ch of the symbols in parts (by shard, the
// hub's index in hubs) and queues the reply, then what a new subscriber
// gets first: for a book, a snapshot or, when resume names a sequence
// still held, exactly the updates after it; for a quote, the current
// quote. It holds the locks of every hub concerned, taken in shard order
// (no other code holds two hubs' locks), from before the reply is queued
// until every subscription is in place, so that a client that has read
// the reply misses no update, quote or trade that follows it. Called from
// c's reader goroutine.
func subscribe(hubs []*hub, parts map[int][]orderbook.SymbolID, c *client, ch string, depth int, resume resumePoints, reply []byte) {
	shards := slices.Sorted(maps.Keys(parts))
	for _, sh := range shards {
		hubs[sh].mu.Lock()
	}
	c.enqueue(reply)
	for _, sh := range shards {
		hubs[sh].subscribeLocked(c, ch, depth, parts[sh], resume)
	}
	for _, sh := range shards {
		hubs[sh].mu.Unlock()
	}
}

// subscribeLocked adds c to channel ch of the symbols in ids, all of this
// shard, and queues what a new subscriber gets first. mu held.
func (h *hub) subscribeLocked(c *client, ch string, depth int, ids []orderbook.SymbolID, resume resumePoints) {
	for _, id := range ids {
		s := h.syms[id]
		switch ch {
		case chBook:
			s.remove(c, chBook)
			sb := &sub{}
			s.book[orderbook.EnterIndex(depth)][c] = sb
			if from, ok := resume.seqs[s.sym]; ok && h.replay(c, sb, s, depth, from, resume.checksums) {
				continue
			}
			sb.gen = c.enqueueSnapshot(h.snapshot(s, depth, false))
		case chQuote:
			s.quotes[c] = &sub{gen: c.enqueueSnapshot(encodeQuote(s.sym, s.seq, s.q, s.inst))}
		case chTrades:
			s.trades[c] = &sub{gen: c.generation()}
		}
	}
}

// resumePoints are a book subscribe's resume: the seq each symbol's copy
// is at and, for those the client gave, its checksum there.
type resumePoints struct {
	seqs      map[string]uint64
	checksums map[string]uint32
}

// replay queues the updates after sequence from, if the history still
// holds them all, the book is not stale and the client gave its copy's
// checksum at from (checksums), the book's at from; it reports whether it
// did. A copy of another book at the same seq (this server restarted, or
// its books changed ingest epoch, since the client took it) fails the
// checksum. A resume without one is refused too: nothing tells such a
// copy from the book's. Before, it was taken on trust, and a client
// holding another epoch's book at the book's very seq was sent nothing
// and showed its book as valid until the next update failed its checksum
// (for as long as the symbol stayed quiet). If the client's backlog is
// dropped meanwhile, it queues a snapshot instead. mu held.
func (h *hub) replay(c *client, sb *sub, s *symState, depth int, from uint64, checksums map[string]uint32) bool {
	if from > s.seq || s.seq-from > uint64(s.histLen) || s.q.state == orderbook.StateStale {
		return false
	}
	if ck, ok := checksums[s.sym]; !ok || ck != s.checksumAt(from, depth) {
		h.metrics.resumesRefused.Inc()
		return false
	}
	h.metrics.resumes.Inc()
	sb.gen = c.generation()
	for i := s.histLen - int(s.seq-from); i < s.histLen; i++ {
		u := &s.hist[(s.histNext-s.histLen+i+len(s.hist))%len(s.hist)]
		if !c.enqueueAt(encodeUpdate(s.sym, u, depth), sb.gen, 0) {
			sb.gen = c.enqueueSnapshot(h.snapshot(s, depth, true))
			break
		}
	}
	return true
}

// unsubscribe removes c from channel ch of the symbols in ids.
func (h *hub) unsubscribe(c *client, ch string, ids []orderbook.SymbolID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, id := range ids {
		h.syms[id].remove(c, ch)
	}
}

// remove removes c from channel ch of s ("" = every channel). Hub mu held.
func (s *symState) remove(c *client, ch string) {
	if ch == chBook || ch == "" {
		for i := range s.book {
			delete(s.book[i], c)
		}
	}
	if ch == chQuote || ch == "" {
		delete(s.quotes, c)
	}
	if ch == chTrades || ch == "" {
		delete(s.trades, c)
	}
}

// resync sends c a fresh snapshot (and quote) for every subscription that
// fell behind its resync generation. Called from c's writer goroutine after
// c's backlog was dropped.
func (h *hub) resync(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.syms {
		for d := range s.book {
			if sb, ok := s.book[d][c]; ok && sb.gen != c.generation() {
				sb.gen = c.enqueueSnapshot(h.snapshot(s, bookDepths[d], true))
			}
		}
		if sb, ok := s.quotes[c]; ok && sb.gen != c.generation() {
			sb.gen = c.enqueueSnapshot(encodeQuote(s.sym, s.seq, s.q, s.inst))
		}
		// Prints have no snapshot: the subscriber is told that those up
		// to s.seq may be missing.
		if sb, ok := s.trades[c]; ok && sb.gen != c.generation() {
			sb.gen = c.enqueueSnapshot(encodeTradesResync(s.sym, s.seq))
		}
	}
}

// drop removes c from every subscription of this hub.
func (h *hub) drop(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.syms {
		s.remove(c, "")
	}
}

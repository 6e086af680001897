package feed

import (
	"bytes"
	"fmt"
	"sync"
	"sync/atomic"

	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/orderbook"
	"sgw/refdata"
)

// EventSink receives a feed's normalized events: the decoder seam's far
// side. *orderbook.Input implements it.
type EventSink interface {
	Apply(ev *event.Event) error
}

// Symbols resolves an instrument's symbol on the feed to its book.
// *orderbook.Engine implements it.
type Symbols interface {
	LookupFeed(feedSymbol []byte) (orderbook.SymbolID, bool)
}

// Books is what Carried needs of the books. *orderbook.Engine implements
// it.
type Books interface {
	Symbols
	Instrument(id orderbook.SymbolID) *refdata.Instrument
	// Symbols returns every instrument's SymbolID.
	Symbols() []orderbook.SymbolID
}

// Carried returns the instruments of books that feed carries: those whose
// Instrument.Feed names it or is empty. A decoder given it never writes a
// book another feed owns.
func Carried(books Books, feed string) Symbols { return carried{books, feed} }

type carried struct {
	books Books
	feed  string
}

// symbolLister is a Symbols that lists every instrument it resolves to
// (Carried's, and *orderbook.Engine's): a decoder that found a message of
// an instrument no directory mapped marks those it has not mapped stale.
type symbolLister interface {
	Symbols() []orderbook.SymbolID
}

var (
	_ symbolLister = carried{}
	_ Books        = (*orderbook.Engine)(nil)
)

// Symbols returns the instruments the feed carries, in a new slice.
func (c carried) Symbols() []orderbook.SymbolID {
	var ids []orderbook.SymbolID
	for _, id := range c.books.Symbols() {
		if f := c.books.Instrument(id).Feed; f == "" || f == c.feed {
			ids = append(ids, id)
		}
	}
	return ids
}

func (c carried) LookupFeed(feedSymbol []byte) (orderbook.SymbolID, bool) {
	id, ok := c.books.LookupFeed(feedSymbol)
	if !ok {
		return 0, false
	}
	if f := c.books.Instrument(id).Feed; f != "" && f != c.feed {
		return 0, false
	}
	return id, true
}

// DecodeStats counts what a decoder could not turn into book events.
type DecodeStats struct {
	DecodeErrors  uint64 `json:"decodeErrors"`  // malformed messages
	UnknownSymbol uint64 `json:"unknownSymbol"` // messages for an instrument no directory mapped
	UnknownStock  uint64 `json:"unknownStock"`  // directory messages naming no configured instrument
	Ignored       uint64 `json:"ignored"`       // message types the books do not use
	// MissingDirectories (ITCH) is a gauge: the Stock Locates whose
	// messages came with no Stock Directory mapping them in the stream
	// since it began or was last rebuilt (while a rebuild is under way,
	// the more of the rebuild's and the stream's before it).
	MissingDirectories uint64 `json:"missingDirectories"`
}

// MissingDirectory is a Stock Locate whose messages came with no Stock
// Directory mapping it (ITCHDecoder.TakeMissingDirectories).
type MissingDirectory struct {
	Locate uint16
	// Stock is the stock an Add Order of the locate named (ITCH carries
	// it there) when its first message dropped was one; else "".
	Stock string
	// Timestamp is the ITCH timestamp of its first message dropped.
	Timestamp uint64
}

// maxMissingNews bounds the Stock Locates found missing their directory
// that an ITCHDecoder keeps until taken; the rest are counted.
const maxMissingNews = 16

// decodeCounters are a decoder's DecodeStats, written by its goroutine
// and read by any.
type decodeCounters struct {
	decodeErrors, unknownSymbol, unknownStock, ignored atomic.Uint64
}

func (c *decodeCounters) stats() DecodeStats {
	return DecodeStats{DecodeErrors: c.decodeErrors.Load(), UnknownSymbol: c.unknownSymbol.Load(),
		UnknownStock: c.unknownStock.Load(), Ignored: c.ignored.Load()}
}

// ITCHDecoder is the ITCH 5.0 side of the decoder seam: a Sink (and
// Rebuilder) that decodes each raw message the arbiter delivers,
// normalizes it (itch.Normalize) and hands the event to the books. It
// keeps the feed's Stock Locate table, built from Stock Directory
// messages, and the set of instruments the feed has carried, which a
// rebuild clears and marks stale and then valid again.
//
// A message of a Stock Locate that no directory mapped since the stream
// began (or was rebuilt) shows a directory missed: a venue sends an
// instrument's directory before anything else of it, so a relay or a
// rebuild's source lost it. Its instrument is unknown: every instrument
// the feed carries that no directory has mapped is marked stale (when
// syms lists them, as Carried and *orderbook.Engine do), the feed asks
// for a rebuild from sequence 1 (Missed), and a rebuild's end leaves
// them stale while the directory is still missing. A directory that
// comes after messages of its locate were dropped (late in the stream)
// leaves its book stale through the rebuild's end: the book lacks them.
// One that comes while the books are otherwise valid, of an instrument
// a directory missed marked stale and of whose locate nothing was
// dropped, makes its book valid at once: the messages dropped were
// another instrument's. A directory naming an instrument the feed does
// not carry maps its locate to nothing, which asks for nothing.
//
// The arbiter calls Apply, Restart and Rebuilt one at a time; DecodeStats,
// Missed, DirectoryMissed and TakeMissingDirectories may be called from
// any goroutine.
type ITCHDecoder struct {
	syms   Symbols
	out    EventSink
	missed Misser // out, when it is one
	// locate maps a Stock Locate to SymbolID+1: 0 = no directory since
	// the last Restart, notCarried = a directory naming no instrument
	// the feed carries.
	locate *[1 << 16]uint32
	// known maps every SymbolID a directory mapped to whether one mapped
	// it since the last Restart.
	known map[uint32]bool
	// carried lists the instruments the feed carries (nil: syms does not
	// list them). unmapped holds those never mapped that a directory
	// missed marked stale: valid again at a rebuild's end that missed
	// none.
	carried  []uint32
	unmapped map[uint32]bool
	// noDir: a message of a locate with no directory came since the last
	// Restart (Missed). rebuilt: Rebuilt came since the last Restart (the
	// books it declared valid are marked stale again at a directory
	// missed). Restarts are counted in pass. lost holds, by Stock
	// Locate, the messages dropped for want of a directory when first
	// delivered (see lostSpan): a rebuild that delivers them again with
	// the directory publishes their prints, never published. fresh: no
	// message but directories since the last Restart; a first one not
	// delivered before begins another stream (a new session), whose
	// timestamps say nothing of lost's.
	noDir   atomic.Bool
	rebuilt bool
	fresh   bool
	// restarted: a Restart came since the last Rebuilt (the books
	// carried were cleared, and are rebuilt); marked: a MarkStale came
	// since the last Restart or Rebuilt (the sources disagree). Neither:
	// the books are settled (declared valid, or never restarted). drops
	// holds, by Stock Locate, the locates of which a message was dropped
	// for want of a directory since the last Restart, and late the
	// instruments a directory mapped to one of them: their books lack the
	// messages dropped, stale until a Restart.
	restarted bool
	marked    bool
	drops     *[1 << 16 / 64]uint64
	late      map[uint32]bool
	pass      uint32
	lost      map[uint16]*lostSpan
	m         itch.Message
	ev        event.Event
	cnt       decodeCounters
	// replay counts the messages still to come that the arbiter
	// delivered before the rebuild under way (Replay): their prints are
	// not published again.
	replay uint64
	// missing counts the locates in drops, and missingBefore, while a
	// rebuild is under way, those of the stream before it
	// (DecodeStats.MissingDirectories). told holds the locates found
	// missing their directory since the stream began, and news, guarded
	// by newsMu (a leaf), those not yet taken (TakeMissingDirectories; at
	// most maxMissingNews, newsMore counts the rest).
	missing, missingBefore atomic.Uint32
	told                   *[1 << 16 / 64]uint64
	newsMu                 sync.Mutex
	news                   []MissingDirectory
	newsMore               int
}

// lostSpan is the stretch of one Stock Locate's messages that were
// dropped for want of a directory when first delivered (not flagged as
// delivered before), by ITCH timestamp (never decreasing in a stream):
// from lo to hi, but for the first skip at lo, whose prints a rebuild
// has published since (or that were first delivered with the directory,
// stamped the same nanosecond: publishedNew). seen counts, in pass, the messages at lo delivered
// again. mapped: a directory mapped the locate since the last drop
// (messages first delivered then were published: a later drop begins a
// new stretch, the old one's rest lost rather than any print published
// twice).
type lostSpan struct {
	lo, hi     uint64
	skip, seen uint32
	pass       uint32
	mapped     bool
}

// dropped records that a message of locate stamped ts, first delivered,
// was dropped for want of a directory.
func (d *ITCHDecoder) dropped(locate uint16, ts uint64) {
	s := d.lost[locate]
	if s == nil || s.mapped || ts < s.lo {
		d.lost[locate] = &lostSpan{lo: ts, hi: ts}
		return
	}
	s.hi = max(s.hi, ts)
}

// unpublished reports whether a message of locate stamped ts, delivered
// again with a directory now, was dropped for want of one at its first
// delivery (its print never published), and records that its print is
// published now.
func (d *ITCHDecoder) unpublished(locate uint16, ts uint64) bool {
	s := d.lost[locate]
	if s == nil || ts < s.lo || ts > s.hi {
		return false
	}
	if s.count(d.pass, ts) <= s.skip {
		return false // published by an earlier rebuild
	}
	s.skip = s.seen
	return true
}

// publishedNew records that a message of locate stamped ts, first
// delivered now with a directory, has its print published: stamped within
// a stretch of dropped messages (the same nanosecond as the last of them
// a rebuild delivered again), a later rebuild delivering it again must
// count it among those published, not take it for one dropped.
func (d *ITCHDecoder) publishedNew(locate uint16, ts uint64) {
	s := d.lost[locate]
	if s == nil || ts < s.lo || ts > s.hi {
		return
	}
	if d.drops[locate/64]&(1<<(locate%64)) != 0 {
		// Its directory came late in this pass: messages of locate
		// stamped up to ts were dropped before it, unpublished, and a
		// later rebuild cannot tell those stamped ts from this one.
		// Their prints are lost rather than this one's published twice.
		if ts <= s.lo {
			delete(d.lost, locate)
		} else {
			s.hi = ts - 1
		}
		return
	}
	s.count(d.pass, ts)
	s.skip = max(s.skip, s.seen)
}

// count counts a message stamped ts (within the stretch) delivered in
// pass, and returns how many stamped lo pass delivered: a later stamp
// becomes lo, none of its prints published yet.
func (s *lostSpan) count(pass uint32, ts uint64) uint32 {
	if s.pass != pass {
		s.pass, s.seen = pass, 0
	}
	if ts > s.lo {
		s.lo, s.skip, s.seen = ts, 0, 0
	}
	s.seen++
	return s.seen
}

// notCarried is the Stock Locate table's entry of a directory naming an
// instrument the feed does not carry.
const notCarried = ^uint32(0)

var (
	_ Sink      = (*ITCHDecoder)(nil)
	_ Rebuilder = (*ITCHDecoder)(nil)
	_ Staler    = (*ITCHDecoder)(nil)
	_ Misser    = (*ITCHDecoder)(nil)
	_ Replayer  = (*ITCHDecoder)(nil)
	_ Misser    = (*orderbook.Input)(nil)
)

// NewITCHDecoder returns a decoder that resolves instruments with syms and
// delivers to out.
func NewITCHDecoder(syms Symbols, out EventSink) *ITCHDecoder {
	missed, _ := out.(Misser)
	d := &ITCHDecoder{syms: syms, out: out, missed: missed, locate: new([1 << 16]uint32), known: map[uint32]bool{},
		unmapped: map[uint32]bool{}, pass: 1, lost: map[uint16]*lostSpan{}, drops: new([1 << 16 / 64]uint64),
		told: new([1 << 16 / 64]uint64)}
	if l, ok := syms.(symbolLister); ok {
		for _, id := range l.Symbols() {
			d.carried = append(d.carried, uint32(id))
		}
	}
	return d
}

// Apply implements Sink: it decodes msg and delivers its event, if it
// carries one for a mapped instrument. A malformed message is counted and
// its error returned (wrapped); messages of unmapped locates and types the
// books do not use are counted and dropped. It does not allocate except
// when returning an error, mapping an instrument the first time, finding
// a locate's directory missing the first time since the stream began, or
// beginning a stretch of a locate's messages dropped for want of a
// directory (lostSpan; at most one a locate at a time).
func (d *ITCHDecoder) Apply(msg []byte, recv int64) error {
	replayed := d.replay > 0
	if replayed {
		d.replay--
	}
	m := &d.m
	if err := itch.Decode(msg, m); err != nil {
		d.cnt.decodeErrors.Add(1)
		return fmt.Errorf("feed: itch: %w", err)
	}
	if d.fresh && m.Type != itch.TypeStockDirectory { // a directory may be the one missed
		d.fresh = false
		if !replayed {
			clear(d.lost) // another stream: its messages were dropped at no delivery
			clear(d.told[:])
		}
	}
	if m.Type == itch.TypeStockDirectory {
		id, ok := d.syms.LookupFeed(bytes.TrimRight(m.Stock[:], " "))
		if !ok {
			d.locate[m.StockLocate] = notCarried
			d.cnt.unknownStock.Add(1)
			return nil
		}
		d.locate[m.StockLocate] = uint32(id) + 1
		if s := d.lost[m.StockLocate]; s != nil {
			s.mapped = true
		}
		return d.mapped(uint32(id), m.StockLocate)
	}
	ev := &d.ev
	if !itch.Normalize(m, ev) {
		d.cnt.ignored.Add(1)
		return nil
	}
	if ev.Kind != event.System {
		v := d.locate[m.StockLocate]
		if v-1 >= notCarried-1 { // 0 or notCarried
			d.cnt.unknownSymbol.Add(1)
			if v == 0 && m.StockLocate != 0 {
				if !replayed {
					d.dropped(m.StockLocate, m.Timestamp)
				}
				if w, bit := m.StockLocate/64, uint64(1)<<(m.StockLocate%64); d.drops[w]&bit == 0 {
					d.drops[w] |= bit
					d.missing.Add(1)
					if d.told[w]&bit == 0 {
						d.told[w] |= bit
						d.tell(m)
					}
				}
				return d.noDirectory()
			}
			return nil
		}
		ev.Symbol = v - 1
		if len(d.lost) != 0 {
			if !replayed {
				d.publishedNew(m.StockLocate, m.Timestamp)
			} else if d.unpublished(m.StockLocate, m.Timestamp) {
				replayed = false // dropped when delivered before: never published
			}
		}
	}
	ev.Recv = recv
	if replayed {
		ev.Flags |= event.FlagReplayed
	}
	return d.out.Apply(ev)
}

// tell keeps m's Stock Locate, found missing its directory, for
// TakeMissingDirectories.
func (d *ITCHDecoder) tell(m *itch.Message) {
	miss := MissingDirectory{Locate: m.StockLocate, Timestamp: m.Timestamp}
	if m.Type == itch.TypeAddOrder || m.Type == itch.TypeAddOrderMPID {
		miss.Stock = string(bytes.TrimRight(m.Stock[:], " "))
	}
	d.newsMu.Lock()
	defer d.newsMu.Unlock()
	if len(d.news) < maxMissingNews {
		d.news = append(d.news, miss)
	} else {
		d.newsMore++
	}
}

// TakeMissingDirectories returns the Stock Locates found missing their
// Stock Directory (messages of them came with none mapping them) since
// the last call, each once since the stream began, and how many more
// were found than it returns. Safe from any goroutine.
func (d *ITCHDecoder) TakeMissingDirectories() ([]MissingDirectory, int) {
	d.newsMu.Lock()
	defer d.newsMu.Unlock()
	news, more := d.news, d.newsMore
	d.news, d.newsMore = nil, 0
	return news, more
}

// DirectoryMissed reports whether a message of a Stock Locate no
// directory mapped came since the last Restart (part of Missed). Safe
// from any goroutine.
func (d *ITCHDecoder) DirectoryMissed() bool { return d.noDir.Load() }

// mapped records that a directory mapped the instrument id to locate.
// The first mapping of an instrument while the books are not settled (a
// rebuild under way, the sources disagreeing) marks its book as theirs
// were (a Clear, a Stale): never told, it was valid, and it may be as
// wrong as they are (behind the rebuild's end, or built from messages
// one source skipped or repeated) until the Rebuilt that ends it. After
// messages of locate were dropped for want of it since the last
// Restart, its book lacks them: it stays stale (it is, since the first
// message dropped) until a Restart. Otherwise, when the books are settled
// and a directory missed marked it stale while unmapped, it is valid
// again at once: it was cleared at the last Restart or never written, and
// no message of its locate was dropped (another instrument's was), so its
// book is right.
func (d *ITCHDecoder) mapped(id uint32, locate uint16) error {
	before, seen := d.known[id]
	marked := seen || d.unmapped[id] // told as the rest (known), or stale (unmapped)
	d.known[id] = true
	delete(d.unmapped, id)
	for _, k := range [...]struct {
		kind event.Kind
		now  bool
	}{{event.Clear, d.restarted}, {event.Stale, d.marked}} {
		if marked || !k.now {
			continue
		}
		if err := d.out.Apply(&event.Event{Kind: k.kind, Symbol: id}); err != nil {
			return fmt.Errorf("feed: %s of symbol %d: %w", k.kind, id, err)
		}
	}
	if d.drops[locate/64]&(1<<(locate%64)) != 0 {
		if d.late == nil {
			d.late = map[uint32]bool{}
		}
		d.late[id] = true
		return nil
	}
	if before || d.restarted || d.marked || !d.noDir.Load() || d.carried == nil {
		return nil // not marked stale by a directory missed
	}
	if err := d.out.Apply(&event.Event{Kind: event.Valid, Symbol: id}); err != nil {
		return fmt.Errorf("feed: %s of symbol %d: %w", event.Valid, id, err)
	}
	return nil
}

// noDirectory handles a message of a Stock Locate that no directory mapped
// since the last Restart (Stock Locate 0 names no instrument): the
// directory was missed. The first since the Restart marks stale every
// instrument the feed carries that no directory mapped since: one of them
// may be the message's, and the books of those a Rebuilt declared valid,
// or never cleared, show nothing else of it. Missed reports it until the
// next Restart.
func (d *ITCHDecoder) noDirectory() error {
	if d.noDir.Load() {
		return nil
	}
	d.noDir.Store(true)
	for _, id := range d.carried {
		mapped, ok := d.known[id]
		switch {
		case !ok && !d.unmapped[id]:
			d.unmapped[id] = true
		case ok && !mapped && d.rebuilt:
		default:
			continue // mapped, or stale since the Restart's Clear or an earlier miss
		}
		if err := d.out.Apply(&event.Event{Kind: event.Stale, Symbol: id}); err != nil {
			return fmt.Errorf("feed: %s of symbol %d: %w", event.Stale, id, err)
		}
	}
	return nil
}

// Restart implements Rebuilder: every book the feed carried is cleared and
// marked stale, and the Stock Locate table forgotten (the stream from
// sequence 1 maps it again).
func (d *ITCHDecoder) Restart() error {
	clear(d.locate[:])
	for id := range d.known {
		d.known[id] = false
	}
	d.noDir.Store(false)
	d.rebuilt, d.fresh, d.restarted, d.marked = false, true, true, false
	clear(d.drops[:])
	d.late = nil
	d.missingBefore.Store(max(d.missingBefore.Load(), d.missing.Load()))
	d.missing.Store(0)
	d.pass++
	return d.each(event.Clear, false)
}

// Replay implements Replayer: the next n messages were delivered before
// the rebuild just begun, and their events are flagged
// event.FlagReplayed (the books count their prints without publishing
// them again).
func (d *ITCHDecoder) Replay(n uint64) { d.replay = n }

// MarkStale implements Staler: every book the feed carried is marked
// stale, unchanged (the sources disagree; a rebuild follows).
func (d *ITCHDecoder) MarkStale() error {
	d.marked = true
	return d.each(event.Stale, false)
}

// Rebuilt implements Rebuilder: every book the feed carried is valid
// again, but while a directory is missed (Missed) those no directory
// mapped since the Restart, or mapped only after messages of their
// locate were dropped, stay stale: the rebuild Missed asks for follows.
func (d *ITCHDecoder) Rebuilt() error {
	d.rebuilt, d.restarted, d.marked = true, false, false
	d.missingBefore.Store(0)
	noDir := d.noDir.Load()
	if err := d.each(event.Valid, noDir); err != nil {
		return err
	}
	if noDir {
		return nil
	}
	for id := range d.unmapped {
		if err := d.out.Apply(&event.Event{Kind: event.Valid, Symbol: id}); err != nil {
			return fmt.Errorf("feed: %s of symbol %d: %w", event.Valid, id, err)
		}
	}
	clear(d.unmapped)
	return nil
}

// each sends an event of kind k to every instrument the feed carried
// (with mapped, to those a directory mapped since the last Restart
// before any message of their locate was dropped).
func (d *ITCHDecoder) each(k event.Kind, mapped bool) error {
	for id, now := range d.known {
		if mapped && (!now || d.late[id]) {
			continue
		}
		if err := d.out.Apply(&event.Event{Kind: k, Symbol: id}); err != nil {
			return fmt.Errorf("feed: %s of symbol %d: %w", k, id, err)
		}
	}
	return nil
}

// Missed implements Misser: a message of a Stock Locate no directory
// mapped came since the last Restart (a directory missed), or the books
// (out, when it is a Misser, as *orderbook.Input is) found a message
// missing from the stream since the last Restart's Clears were applied
// (Input.Missed). Safe from any
// goroutine; it never blocks.
func (d *ITCHDecoder) Missed() bool {
	return d.noDir.Load() || d.missed != nil && d.missed.Missed()
}

// BooksMissed reports whether a book found a message missing from the
// stream since the last Restart (the other part of Missed: an order it
// does not hold, one added twice). Safe from any goroutine.
func (d *ITCHDecoder) BooksMissed() bool { return d.missed != nil && d.missed.Missed() }

// DecodeStats returns the decoder's counters.
func (d *ITCHDecoder) DecodeStats() DecodeStats {
	st := d.cnt.stats()
	st.MissingDirectories = uint64(max(d.missing.Load(), d.missingBefore.Load()))
	return st
}

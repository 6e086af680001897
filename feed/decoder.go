package feed

import (
	"bytes"
	"fmt"
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
}

// Carried returns the instruments of books that feed carries: those whose
// Instrument.Feed names it or is empty. A decoder given it never writes a
// book another feed owns.
func Carried(books Books, feed string) Symbols { return carried{books, feed} }

type carried struct {
	books Books
	feed  string
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
}

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
// The arbiter calls Apply, Restart and Rebuilt one at a time; DecodeStats
// may be called from any goroutine.
type ITCHDecoder struct {
	syms   Symbols
	out    EventSink
	missed Misser           // out, when it is one
	locate *[1 << 16]uint32 // Stock Locate -> SymbolID+1; 0 = unmapped
	known  map[uint32]bool  // every SymbolID a directory mapped
	m      itch.Message
	ev     event.Event
	cnt    decodeCounters
	// replay counts the messages still to come that the arbiter
	// delivered before the rebuild under way (Replay): their prints are
	// not published again.
	replay uint64
}

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
	return &ITCHDecoder{syms: syms, out: out, missed: missed, locate: new([1 << 16]uint32), known: map[uint32]bool{}}
}

// Apply implements Sink: it decodes msg and delivers its event, if it
// carries one for a mapped instrument. A malformed message is counted and
// its error returned (wrapped); messages of unmapped locates and types the
// books do not use are counted and dropped. It does not allocate except
// when returning an error or mapping an instrument the first time.
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
	if m.Type == itch.TypeStockDirectory {
		id, ok := d.syms.LookupFeed(bytes.TrimRight(m.Stock[:], " "))
		if !ok {
			d.locate[m.StockLocate] = 0
			d.cnt.unknownStock.Add(1)
			return nil
		}
		d.locate[m.StockLocate] = uint32(id) + 1
		d.known[uint32(id)] = true
		return nil
	}
	ev := &d.ev
	if !itch.Normalize(m, ev) {
		d.cnt.ignored.Add(1)
		return nil
	}
	if ev.Kind != event.System {
		v := d.locate[m.StockLocate]
		if v == 0 {
			d.cnt.unknownSymbol.Add(1)
			return nil
		}
		ev.Symbol = v - 1
	}
	ev.Recv = recv
	if replayed {
		ev.Flags |= event.FlagReplayed
	}
	return d.out.Apply(ev)
}

// Restart implements Rebuilder: every book the feed carried is cleared and
// marked stale, and the Stock Locate table forgotten (the stream from
// sequence 1 maps it again).
func (d *ITCHDecoder) Restart() error {
	clear(d.locate[:])
	return d.each(event.Clear)
}

// Replay implements Replayer: the next n messages were delivered before
// the rebuild just begun, and their events are flagged
// event.FlagReplayed (the books count their prints without publishing
// them again).
func (d *ITCHDecoder) Replay(n uint64) { d.replay = n }

// MarkStale implements Staler: every book the feed carried is marked
// stale, unchanged (the sources disagree; a rebuild follows).
func (d *ITCHDecoder) MarkStale() error { return d.each(event.Stale) }

// Rebuilt implements Rebuilder: every book the feed carried is valid
// again.
func (d *ITCHDecoder) Rebuilt() error { return d.each(event.Valid) }

// each sends an event of kind k to every instrument the feed carried.
func (d *ITCHDecoder) each(k event.Kind) error {
	for id := range d.known {
		if err := d.out.Apply(&event.Event{Kind: k, Symbol: id}); err != nil {
			return fmt.Errorf("feed: %s of symbol %d: %w", k, id, err)
		}
	}
	return nil
}

// Missed implements Misser: the books (out, when it is a Misser, as
// *orderbook.Input is) found a message missing from the stream since the
// last Restart's Clears were applied (Input.Missed). Safe from any
// goroutine; it never blocks.
func (d *ITCHDecoder) Missed() bool { return d.missed != nil && d.missed.Missed() }

// DecodeStats returns the decoder's counters.
func (d *ITCHDecoder) DecodeStats() DecodeStats { return d.cnt.stats() }

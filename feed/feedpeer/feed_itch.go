package feedpeer

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// TrackingMode chooses the ITCH Tracking Number of each message.
type TrackingMode uint8

const (
	// TrackingRandom (the zero value) gives each message a random tracking
	// number drawn from ITCHConfig.Seed: real feeds follow no profile.
	TrackingRandom TrackingMode = iota
	// TrackingConstant gives every message ITCHConfig.TrackingValue.
	TrackingConstant
	// TrackingSequence gives each message the low 16 bits of its
	// SoupBinTCP sequence number.
	TrackingSequence
)

// ITCHConfig configures an ITCHFeed. Every zero value means the documented
// default.
type ITCHConfig struct {
	// Tracking chooses the Tracking Numbers. Zero is TrackingRandom.
	Tracking TrackingMode
	// TrackingValue is the tracking number of TrackingConstant (zero is
	// tracking number 0).
	TrackingValue uint16
	// Seed seeds TrackingRandom. Zero means 1.
	Seed uint64
	// RoundLot is the Round Lot Size of the Stock Directory messages. Zero
	// means 100.
	RoundLot uint32
}

// ITCHFeed is one day's ITCH 5.0 stream: the messages of a Flow numbered
// from 1 as SoupBinTCP numbers Sequenced Data, recorded so that every
// server of the feed (a primary and a backup) serves the same messages
// under the same sequence numbers, and a login can replay from any of them.
//
// The stream opens with System Event 'O' and 'S', then per symbol (in the
// flow's order, Stock Locate 1, 2, ...) a Stock Directory and a Stock
// Trading Action 'T', then System Event 'Q'. Publish appends one message
// per flow event; End appends System Events 'M', 'E' and 'C' and ends the
// day, after which servers send End of Session.
//
// Every method is safe for concurrent use. The feed owns its Flow.
type ITCHFeed struct {
	*tape
	cfg     ITCHConfig
	flow    *Flow // guarded by tape.mu
	rng     *rand.Rand
	locates map[string]uint16
	last    int64 // time of the last message, guarded by tape.mu
}

// NewITCHFeed returns a feed of flow, which must be of DialectITCH, with its
// opening messages published.
func NewITCHFeed(cfg ITCHConfig, flow *Flow) (*ITCHFeed, error) {
	if flow == nil || flow.Dialect() != DialectITCH {
		return nil, fmt.Errorf("%w: an ITCH feed needs a flow of DialectITCH", ErrConfig)
	}
	if cfg.Tracking > TrackingSequence {
		return nil, fmt.Errorf("%w: tracking mode %d", ErrConfig, cfg.Tracking)
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	if cfg.RoundLot == 0 {
		cfg.RoundLot = 100
	}
	f := &ITCHFeed{
		tape:    newTape(),
		cfg:     cfg,
		flow:    flow,
		rng:     rand.New(rand.NewPCG(cfg.Seed, 0x17c4)),
		locates: make(map[string]uint16),
	}
	t0 := flow.cfg.StartTime - 1_000_000_000
	f.mu.Lock()
	defer f.mu.Unlock()
	f.appendLocked(f.entry(Event{Kind: KindSystem, Code: 'O', Time: t0}, 0))
	f.appendLocked(f.entry(Event{Kind: KindSystem, Code: 'S', Time: t0}, 0))
	for i, s := range flow.symbols {
		loc := uint16(i + 1)
		f.locates[s] = loc
		f.appendLocked(f.entry(Event{Kind: KindDirectory, Symbol: s, Locate: loc, Qty: int64(cfg.RoundLot), Time: t0}, 0))
		f.appendLocked(f.entry(Event{Kind: KindTradingAction, Symbol: s, Code: 'T', Time: t0}, 0))
	}
	f.appendLocked(f.entry(Event{Kind: KindSystem, Code: 'Q', Time: flow.cfg.StartTime}, 0))
	f.signalLocked()
	return f, nil
}

// entry encodes the message that will be appended next. tape.mu must be
// held.
func (f *ITCHFeed) entry(ev Event, flowN int) tapeEntry {
	seq := uint64(len(f.entries)) + 1
	var tracking uint16
	switch f.cfg.Tracking {
	case TrackingRandom:
		tracking = uint16(f.rng.Uint32())
	case TrackingConstant:
		tracking = f.cfg.TrackingValue
	case TrackingSequence:
		tracking = uint16(seq)
	}
	msg, err := appendITCH(nil, ev, f.locates[ev.Symbol], tracking)
	if err != nil {
		panic(err) // a DialectITCH flow only makes events ITCH can say
	}
	f.last = ev.Time
	return tapeEntry{at: time.Now(), packet: appendSoup(nil, soupSequenced, msg), rec: Record{Seq: seq, Event: ev, Flow: flowN}}
}

// Publish appends the next n flow events, one message each, and returns
// the sequence numbers of the first and last. It fails with ErrEnded after
// End.
func (f *ITCHFeed) Publish(n int) (first, last uint64, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return 0, 0, ErrEnded
	}
	first = uint64(len(f.entries)) + 1
	for range n {
		ev := f.flow.Next()
		f.appendLocked(f.entry(ev, f.flow.Count()))
	}
	f.signalLocked()
	return first, uint64(len(f.entries)), nil
}

// Stream publishes perSecond flow events a second until ctx ends (returning
// its error) or the feed ends (ErrEnded).
func (f *ITCHFeed) Stream(ctx context.Context, perSecond int) error {
	return stream(ctx, perSecond, func(n int) error { _, _, err := f.Publish(n); return err })
}

// End publishes System Events 'M', 'E' and 'C' and ends the day: a server
// sends End of Session to a client once it has sent it every message.
func (f *ITCHFeed) End() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return ErrEnded
	}
	t := f.last + 1
	for _, c := range []byte{'M', 'E', 'C'} {
		f.appendLocked(f.entry(Event{Kind: KindSystem, Code: c, Time: t}, 0))
	}
	f.signalLocked()
	f.endLocked()
	return nil
}

// Last returns the sequence number of the last message published.
func (f *ITCHFeed) Last() uint64 {
	n, _, _ := f.view()
	return uint64(n)
}

// Locate returns symbol's Stock Locate, or 0 for a symbol not in the feed.
func (f *ITCHFeed) Locate(symbol string) uint16 { return f.locates[symbol] }

// Records returns every published message's record, index i holding
// sequence number i+1.
func (f *ITCHFeed) Records() []Record { return f.records() }

// Record returns the record of sequence number seq.
func (f *ITCHFeed) Record(seq uint64) (Record, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq == 0 || seq > uint64(len(f.entries)) {
		return Record{}, false
	}
	return f.entries[seq-1].rec, true
}

// Packet returns the SoupBinTCP Sequenced Data packet of sequence number
// seq as servers send it (length, type 'S', ITCH message).
func (f *ITCHFeed) Packet(seq uint64) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq == 0 || seq > uint64(len(f.entries)) {
		return nil, false
	}
	return f.entries[seq-1].packet, true
}

// Reference returns a new Book with every message up to and including
// sequence number seq applied: what a receiver's book must show once it
// has processed seq.
func (f *ITCHFeed) Reference(seq uint64) *Book {
	b := NewBook()
	for _, r := range f.Records() {
		if r.Seq > seq {
			break
		}
		if err := b.Apply(r.Event); err != nil {
			panic(fmt.Sprintf("feedpeer: the feed's own record does not apply: %v", err))
		}
	}
	return b
}

package feedpeer

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// SZSEConfig configures an SZSEFeed. Every zero value means the documented
// default.
type SZSEConfig struct {
	// Date is the trading day, YYYYMMDD, of every LocalTimeStamp. Zero means
	// 20250102.
	Date int64
	// Channels are the order-by-order ChannelNo values; the flow's i-th
	// symbol goes to Channels[i % len(Channels)]. Empty means [2011].
	Channels []uint16
	// SnapshotChannel is the ChannelNo of 300111 snapshots. Zero means 1011.
	SnapshotChannel uint16
	// SnapshotEvery is how many flow events pass between two rounds of
	// snapshots (one 300111 per symbol, from the reference book at that
	// point of the stream). Zero means 100; negative sends none.
	SnapshotEvery int
	// SnapshotDepth is the levels per side a snapshot shows. Zero means 10.
	SnapshotDepth int
	// PadNUL pads character fields with NUL bytes. False (the zero value)
	// pads them with spaces.
	PadNUL bool
}

// SZSEFeed is one day's SZSE Binary order-by-order stream: the messages of a
// Flow of DialectSZSE, each order (300192) and trade or cancel (300191)
// numbered by ApplSeqNum from 1 within its channel, with rounds of 300111
// snapshots between them. It is recorded so that every server of the feed
// serves the same messages, and a ReTransmit can resend any of them.
//
// Every method is safe for concurrent use. The feed owns its Flow.
type SZSEFeed struct {
	*tape
	cfg      SZSEConfig
	wire     szseWire
	channels map[string]uint16
	// Guarded by tape.mu:
	flow    *Flow
	book    *Book             // the reference, for snapshots
	orderAt map[uint64]uint64 // flow order id -> ApplSeqNum of its 300192
	lastSeq map[uint16]uint64 // channel -> last ApplSeqNum
	byChan  map[uint16][]int  // channel -> tape index of ApplSeqNum i+1
	since   int               // flow events since the last snapshots
	last    int64
}

// NewSZSEFeed returns a feed of flow, which must be of DialectSZSE.
func NewSZSEFeed(cfg SZSEConfig, flow *Flow) (*SZSEFeed, error) {
	if flow == nil || flow.Dialect() != DialectSZSE {
		return nil, fmt.Errorf("%w: an SZSE feed needs a flow of DialectSZSE", ErrConfig)
	}
	if cfg.Date == 0 {
		cfg.Date = 20250102
	}
	if cfg.Date < 10000101 || cfg.Date > 99991231 {
		return nil, fmt.Errorf("%w: date %d is not YYYYMMDD", ErrConfig, cfg.Date)
	}
	if len(cfg.Channels) == 0 {
		cfg.Channels = []uint16{2011}
	}
	cfg.Channels = slices.Clone(cfg.Channels)
	if cfg.SnapshotChannel == 0 {
		cfg.SnapshotChannel = 1011
	}
	if cfg.SnapshotEvery == 0 {
		cfg.SnapshotEvery = 100
	}
	if cfg.SnapshotDepth == 0 {
		cfg.SnapshotDepth = 10
	}
	if cfg.SnapshotDepth < 0 {
		return nil, fmt.Errorf("%w: snapshot depth %d", ErrConfig, cfg.SnapshotDepth)
	}
	f := &SZSEFeed{
		tape:     newTape(),
		cfg:      cfg,
		wire:     szseWire{date: cfg.Date, pad: ' '},
		channels: make(map[string]uint16),
		flow:     flow,
		book:     NewBook(),
		orderAt:  make(map[uint64]uint64),
		lastSeq:  make(map[uint16]uint64),
		byChan:   make(map[uint16][]int),
		last:     flow.cfg.StartTime,
	}
	if cfg.PadNUL {
		f.wire.pad = 0
	}
	for i, s := range flow.symbols {
		f.channels[s] = cfg.Channels[i%len(cfg.Channels)]
	}
	return f, nil
}

// Channel returns the ChannelNo of symbol's orders and trades, or 0 for a
// symbol not in the feed.
func (f *SZSEFeed) Channel(symbol string) uint16 { return f.channels[symbol] }

// Channels returns the order-by-order channels.
func (f *SZSEFeed) Channels() []uint16 { return slices.Clone(f.cfg.Channels) }

// Publish appends the next n flow events, one 300192 or 300191 each, and the
// snapshot rounds that fall due among them. It returns ErrEnded after End.
func (f *SZSEFeed) Publish(n int) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return ErrEnded
	}
	for range n {
		ev := f.flow.Next()
		f.publishLocked(ev, f.flow.Count())
		f.since++
		if f.cfg.SnapshotEvery > 0 && f.since >= f.cfg.SnapshotEvery {
			f.snapshotsLocked()
			f.since = 0
		}
	}
	f.signalLocked()
	return nil
}

func (f *SZSEFeed) publishLocked(ev Event, flowN int) {
	ch := f.channels[ev.Symbol]
	seq := f.lastSeq[ch] + 1
	var body []byte
	msgType := uint32(szseTrade)
	switch ev.Kind {
	case KindAdd:
		msgType = szseOrder
		body = f.wire.orderBody(ch, seq, ev)
		f.orderAt[ev.Order] = seq
	case KindExecute:
		bid, offer := f.orderAt[ev.Order], f.orderAt[ev.Contra]
		if ev.Side == Sell {
			bid, offer = offer, bid
		}
		body = f.wire.tradeBody(ch, seq, bid, offer, 'F', ev)
	case KindDelete:
		var bid, offer uint64
		if ev.Side == Buy {
			bid = f.orderAt[ev.Order]
		} else {
			offer = f.orderAt[ev.Order]
		}
		body = f.wire.tradeBody(ch, seq, bid, offer, '4', ev)
	default:
		panic(fmt.Sprintf("feedpeer: no SZSE message for %v", ev)) // a DialectSZSE flow makes none
	}
	if err := f.book.Apply(ev); err != nil {
		panic(fmt.Sprintf("feedpeer: flow event does not apply: %v", err))
	}
	for _, id := range []uint64{ev.Order, ev.Contra} {
		if _, ok := f.book.Order(id); !ok && !f.book.awaitsCancel(id) {
			delete(f.orderAt, id)
		}
	}
	f.lastSeq[ch] = seq
	f.byChan[ch] = append(f.byChan[ch], len(f.entries))
	f.last = ev.Time
	f.appendLocked(tapeEntry{at: time.Now(), packet: appendSZSE(nil, msgType, body), rec: Record{Seq: seq, Channel: ch, Event: ev, Flow: flowN}})
}

// snapshotsLocked appends one 300111 per symbol from the reference book.
func (f *SZSEFeed) snapshotsLocked() {
	for _, s := range f.flow.symbols {
		in := snapshotInput{
			symbol:    s,
			channel:   f.cfg.SnapshotChannel,
			time:      f.last,
			prevClose: f.flow.StartPrice(s),
			stats:     f.book.Stats(s),
			bids:      f.book.Levels(s, Buy, f.cfg.SnapshotDepth),
			asks:      f.book.Levels(s, Sell, f.cfg.SnapshotDepth),
		}
		if len(in.bids) > 0 {
			in.bidQueue = f.book.Queue(s, Buy, in.bids[0].Price)
		}
		if len(in.asks) > 0 {
			in.askQueue = f.book.Queue(s, Sell, in.asks[0].Price)
		}
		ev := Event{Kind: KindSnapshot, Symbol: s, Time: f.last}
		f.appendLocked(tapeEntry{at: time.Now(), packet: appendSZSE(nil, szseSnapshot, f.wire.snapshotBody(in)), rec: Record{Channel: f.cfg.SnapshotChannel, Event: ev}})
	}
}

// Stream publishes perSecond flow events a second until ctx ends (returning
// its error) or the feed ends (ErrEnded).
func (f *SZSEFeed) Stream(ctx context.Context, perSecond int) error {
	return stream(ctx, perSecond, f.Publish)
}

// End ends the day: servers then mark their channel heartbeats with
// EndOfChannel once a client has every message.
func (f *SZSEFeed) End() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.ended {
		return ErrEnded
	}
	f.endLocked()
	return nil
}

// Last returns the last ApplSeqNum published on channel.
func (f *SZSEFeed) Last(channel uint16) uint64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastSeq[channel]
}

// Records returns every published message's record in stream order.
func (f *SZSEFeed) Records() []Record { return f.records() }

// Packet returns the bytes of ApplSeqNum seq of channel as servers send
// them (header, body, checksum).
func (f *SZSEFeed) Packet(channel uint16, seq uint64) ([]byte, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := f.byChan[channel]
	if seq == 0 || seq > uint64(len(idx)) {
		return nil, false
	}
	return f.entries[idx[seq-1]].packet, true
}

// Reference returns a new Book with every order and trade of channel up to
// and including ApplSeqNum seq applied: the book a receiver must show for
// the channel's symbols once it has processed seq.
func (f *SZSEFeed) Reference(channel uint16, seq uint64) *Book {
	b := NewBook()
	for _, r := range f.Records() {
		if r.Channel != channel || r.Seq == 0 {
			continue
		}
		if r.Seq > seq {
			break
		}
		if err := b.Apply(r.Event); err != nil {
			panic(fmt.Sprintf("feedpeer: the feed's own record does not apply: %v", err))
		}
	}
	return b
}

// ReferenceAll returns a new Book with every order and trade published so
// far applied, all channels.
func (f *SZSEFeed) ReferenceAll() *Book {
	b := NewBook()
	for _, r := range f.Records() {
		if err := b.Apply(r.Event); err != nil {
			panic(fmt.Sprintf("feedpeer: the feed's own record does not apply: %v", err))
		}
	}
	return b
}

// seqIndex returns the tape index of ApplSeqNum seq of channel. tape.mu
// must not be held.
func (f *SZSEFeed) seqIndex(channel uint16, seq uint64) (int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	idx := f.byChan[channel]
	if seq == 0 || seq > uint64(len(idx)) {
		return 0, false
	}
	return idx[seq-1], true
}

package feed_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/feedpeer"
	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// signal wakes whoever waits for a change: every sink call and every log
// record notifies it, so tests wait for events, never for a duration.
type signal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newSignal() *signal { return &signal{ch: make(chan struct{})} }

func (s *signal) notify() {
	s.mu.Lock()
	close(s.ch)
	s.ch = make(chan struct{})
	s.mu.Unlock()
}

func (s *signal) changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ch
}

// logRecorder is a slog.Handler that keeps every record's message and
// attributes and notifies the signal; with -v it also prints them.
type logRecorder struct {
	sig   *signal
	out   slog.Handler // nil unless verbose
	attrs []slog.Attr
	mu    *sync.Mutex
	lines *[]string
}

func newLogRecorder(sig *signal) *logRecorder {
	r := &logRecorder{sig: sig, mu: &sync.Mutex{}, lines: new([]string)}
	if testing.Verbose() {
		r.out = slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	}
	return r
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }

func (r *logRecorder) Handle(ctx context.Context, rec slog.Record) error {
	line := rec.Level.String() + " " + rec.Message
	for _, a := range r.attrs {
		line += " " + a.String()
	}
	rec.Attrs(func(a slog.Attr) bool {
		line += " " + a.String()
		return true
	})
	r.mu.Lock()
	*r.lines = append(*r.lines, line)
	r.mu.Unlock()
	r.sig.notify()
	if r.out != nil {
		return r.out.Handle(ctx, rec)
	}
	return nil
}

func (r *logRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	c := *r
	c.attrs = append(slices.Clone(r.attrs), as...)
	if r.out != nil {
		c.out = r.out.WithAttrs(as)
	}
	return &c
}

func (r *logRecorder) WithGroup(string) slog.Handler { return r }

// has reports whether a logged line contains every one of parts.
func (r *logRecorder) has(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, l := range *r.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// bookSink is the test's SZSESink: an order book built from the decoded
// records alone (it shares nothing with feedpeer's reference Book), which
// checks that every channel's records arrive once and in ApplSeqNum order
// (from 1 again after a ResetChannel) and that every snapshot it is given
// shows what its own book shows at that moment. An own-best order (OrdType
// U) takes the best price of its side among the orders it holds; with
// none, it waits for the venue's cancel.
type bookSink struct {
	sig *signal

	mu       sync.Mutex
	orders   map[orderKey]*restingOrder
	unrested map[orderKey]bool // own-best orders whose side was empty
	last     map[uint16]int64  // last ApplSeqNum delivered, per channel
	stale    map[uint16]bool
	resets   map[uint16]int
	lives    map[uint16]int
	outages  map[uint16]int
	// calls lists the calls of ResetChannel, StaleChannel and ChannelLive
	// in order, as "reset 2011", "stale 2011", "live 2011".
	calls     []string
	snapshots int
	problems  []string
	// requested are the channels the test asks the feed to rebuild
	// (RebuildRequests), as SZSEDecoder does for a book a snapshot found
	// wrong.
	requested []uint16
	// mismatches are the snapshots that differed from the book, for
	// caughtUp to judge: a source that silently left out the records just
	// before a snapshot sends a snapshot showing them, and no receiver can
	// tell until a later record or ChannelHeartbeat shows the hole.
	mismatches []snapshotMismatch
	// onRecord, when set, sees every record's channel and ApplSeqNum as
	// it is applied, with the channel's resets so far. Lock held.
	onRecord func(ch uint16, seq int64, resets int)
}

// snapshotMismatch is a delivered snapshot that differed from the book.
type snapshotMismatch struct {
	symbol string
	ms     int64 // its OrigTime, milliseconds since midnight
	detail string
}

type orderKey struct {
	channel uint16
	seq     int64
}

type restingOrder struct {
	symbol string
	side   feedpeer.Side
	price  refdata.Price
	qty    int64 // shares
}

var _ feed.SZSESink = (*bookSink)(nil)

func newBookSink(sig *signal) *bookSink {
	return &bookSink{sig: sig, orders: map[orderKey]*restingOrder{}, unrested: map[orderKey]bool{}, last: map[uint16]int64{},
		stale: map[uint16]bool{}, resets: map[uint16]int{}, lives: map[uint16]int{}, outages: map[uint16]int{}}
}

func (b *bookSink) problem(format string, args ...any) {
	if len(b.problems) < 20 {
		b.problems = append(b.problems, fmt.Sprintf(format, args...))
	}
}

func (b *bookSink) ApplySZSE(m *szse.Message, _ int64) error {
	defer b.sig.notify()
	b.mu.Lock()
	defer b.mu.Unlock()
	switch m.Type {
	case szse.TypeOrder:
		o := &m.Order
		b.sequence(o.ChannelNo, o.ApplSeqNum)
		side := feedpeer.Buy
		if o.Side == szse.SideSell {
			side = feedpeer.Sell
		}
		qty, _ := o.OrderQty.Shares()
		k, sym, price := orderKey{o.ChannelNo, o.ApplSeqNum}, string(szse.TrimString(o.SecurityID[:])), o.Price.Price()
		if o.OrdType == szse.OrdTypeOwnBest {
			ls := b.levelsLocked(sym, side)
			if len(ls) == 0 {
				b.unrested[k] = true
				break
			}
			price = ls[0].Price
		}
		b.orders[k] = &restingOrder{symbol: sym, side: side, price: price, qty: qty}
	case szse.TypeTrade:
		tr := &m.Trade
		b.sequence(tr.ChannelNo, tr.ApplSeqNum)
		qty, _ := tr.LastQty.Shares()
		for _, seq := range []int64{tr.BidApplSeqNum, tr.OfferApplSeqNum} {
			if seq == 0 {
				continue
			}
			k := orderKey{tr.ChannelNo, seq}
			o := b.orders[k]
			if o == nil && b.unrested[k] && tr.ExecType == szse.ExecTypeCancel {
				delete(b.unrested, k) // the venue's cancel of an own-best order
				continue
			}
			// A trade reduces both orders; a cancel, the one it names,
			// by LastQty (the whole rest, or part of it).
			switch {
			case o == nil:
				b.problem("channel %d record %d names order %d, not on the book", tr.ChannelNo, tr.ApplSeqNum, seq)
			case o.qty < qty:
				b.problem("channel %d record %d takes %d of order %d, which has %d", tr.ChannelNo, tr.ApplSeqNum, qty, seq, o.qty)
				delete(b.orders, k)
			case o.qty == qty:
				delete(b.orders, k)
			default:
				o.qty -= qty
			}
		}
	case szse.TypeSnapshot:
		b.snapshots++
		b.checkSnapshot(&m.Snapshot)
	default:
		b.problem("delivered a %s", m.Type)
	}
	return nil
}

// sequence checks a record's place in its channel. Lock held.
func (b *bookSink) sequence(ch uint16, seq int64) {
	if want := b.last[ch] + 1; seq != want {
		b.problem("channel %d: record %d delivered after %d", ch, seq, b.last[ch])
	}
	b.last[ch] = seq
	if b.onRecord != nil {
		b.onRecord(ch, seq, b.resets[ch])
	}
}

// checkSnapshot compares a snapshot's levels with the book's. Lock held.
func (b *bookSink) checkSnapshot(s *szse.Snapshot) {
	sym := string(szse.TrimString(s.SecurityID[:]))
	var bids, asks []feedpeer.Level
	for _, e := range s.Entries {
		px, _ := e.MDEntryPx.Price()
		qty, _ := e.MDEntrySize.Shares()
		l := feedpeer.Level{Price: px, Qty: qty, Orders: int(e.NumberOfOrders)}
		switch string(e.MDEntryType[:]) {
		case szse.EntryBid:
			bids = append(bids, l)
		case szse.EntryOffer:
			asks = append(asks, l)
		}
	}
	gotBids, gotAsks := b.levelsLocked(sym, feedpeer.Buy), b.levelsLocked(sym, feedpeer.Sell)
	if !slices.Equal(bids, gotBids[:min(len(gotBids), len(bids))]) || !slices.Equal(asks, gotAsks[:min(len(gotAsks), len(asks))]) ||
		len(bids) < min(len(gotBids), 10) || len(asks) < min(len(gotAsks), 10) {
		at, _ := s.OrigTime.Time(time.UTC)
		ms := int64(at.Hour()*3600_000 + at.Minute()*60_000 + at.Second()*1000 + at.Nanosecond()/1e6)
		b.mismatches = append(b.mismatches, snapshotMismatch{symbol: sym, ms: ms,
			detail: fmt.Sprintf("snapshot of %s: bids %v asks %v; the book has bids %v asks %v", sym, bids, asks, gotBids, gotAsks)})
	}
}

// RebuildRequests returns, once, the channels the test asked to rebuild.
func (b *bookSink) RebuildRequests() []uint16 {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.requested
	b.requested = nil
	return out
}

// requestRebuild makes the sink ask the feed to rebuild channel ch.
func (b *bookSink) requestRebuild(ch uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.requested = append(b.requested, ch)
}

func (b *bookSink) ResetChannel(ch uint16) error {
	defer b.sig.notify()
	b.mu.Lock()
	defer b.mu.Unlock()
	for k := range b.orders {
		if k.channel == ch {
			delete(b.orders, k)
		}
	}
	for k := range b.unrested {
		if k.channel == ch {
			delete(b.unrested, k)
		}
	}
	b.last[ch] = 0
	b.stale[ch] = true
	b.resets[ch]++
	b.calls = append(b.calls, fmt.Sprintf("reset %d", ch))
	return nil
}

// StaleChannel records the channel stale for an outage, its books kept;
// outages counts the calls.
func (b *bookSink) StaleChannel(ch uint16) error {
	defer b.sig.notify()
	b.mu.Lock()
	defer b.mu.Unlock()
	b.stale[ch] = true
	b.outages[ch]++
	b.calls = append(b.calls, fmt.Sprintf("stale %d", ch))
	return nil
}

func (b *bookSink) ChannelLive(ch uint16) error {
	defer b.sig.notify()
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.stale[ch] {
		b.problem("ChannelLive(%d) without a reset", ch)
	}
	b.stale[ch] = false
	b.lives[ch]++
	b.calls = append(b.calls, fmt.Sprintf("live %d", ch))
	return nil
}

// levels returns one side of symbol's book, best first.
func (b *bookSink) levels(symbol string, side feedpeer.Side) []feedpeer.Level {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.levelsLocked(symbol, side)
}

func (b *bookSink) levelsLocked(symbol string, side feedpeer.Side) []feedpeer.Level {
	by := map[refdata.Price]*feedpeer.Level{}
	for _, o := range b.orders {
		if o.symbol != symbol || o.side != side {
			continue
		}
		l := by[o.price]
		if l == nil {
			l = &feedpeer.Level{Price: o.price}
			by[o.price] = l
		}
		l.Qty += o.qty
		l.Orders++
	}
	out := make([]feedpeer.Level, 0, len(by))
	for _, l := range by {
		out = append(out, *l)
	}
	slices.SortFunc(out, func(x, y feedpeer.Level) int {
		if side == feedpeer.Buy {
			return int(y.Price - x.Price)
		}
		return int(x.Price - y.Price)
	})
	return out
}

// state returns, under the lock, a copy of what a test waits on.
func (b *bookSink) state() (last map[uint16]int64, stale map[uint16]bool, resets, lives map[uint16]int, snapshots int, problems []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return maps(b.last), maps(b.stale), maps(b.resets), maps(b.lives), b.snapshots, slices.Clone(b.problems)
}

func maps[K comparable, V any](m map[K]V) map[K]V {
	out := make(map[K]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// excused reports whether a snapshot that differed from the book was
// sent while a source was leaving out records (DropRange) just before it:
// at one of the snapshots of m's symbol and time in the tape, some
// channel's last record falls in a dropped range. Anything else is a
// snapshot delivered out of alignment.
func (r *szseRig) excused(m snapshotMismatch) bool {
	pos := map[uint16]uint64{}
	for _, rec := range r.pf.Records() {
		if rec.Seq != 0 {
			pos[rec.Channel] = rec.Seq
			continue
		}
		if rec.Event.Symbol != m.symbol || rec.Event.Time/1e6 != m.ms {
			continue
		}
		for _, d := range r.drops {
			if p := pos[d.channel]; p >= d.from && p <= d.to {
				return true
			}
		}
	}
	return false
}

// dropRange makes server leave out ApplSeqNum from..to of channel.
func (r *szseRig) dropRange(server *feedpeer.SZSEServer, channel uint16, from, to uint64) {
	r.drops = append(r.drops, szseDrop{channel: channel, from: from, to: to})
	server.DropRange(channel, from, to)
}

type szseDrop struct {
	channel  uint16
	from, to uint64
}

// szseRig is the gateway's SZSE feed, with the test's book as its sink,
// against the independent SZSE peer: a primary and a backup server of one
// feedpeer feed.
type szseRig struct {
	t       *testing.T
	sig     *signal
	logs    *logRecorder
	pf      *feedpeer.SZSEFeed
	primary *feedpeer.SZSEServer
	backup  *feedpeer.SZSEServer
	sink    *bookSink
	feed    *feed.SZSEFeed
	drops   []szseDrop // every dropRange; the test's goroutine only
	// The gateway's own books behind its SZSE decoder, fed beside the
	// test's sink: they too must end equal to the peer's reference.
	books *orderbook.Engine
	dec   *feed.SZSEDecoder
	// prints follows the gateway's books' trade prints; earlier are the
	// prints of the streams the peer served before pf (another day, or a
	// venue restarted without its records), by symbol: caughtUp expects
	// them published too, each once.
	prints  *printLog
	earlier map[string][]feedpeer.Print
}

// teeSink hands the feed's calls to the test's sink and to the gateway's
// decoder.
type teeSink struct {
	test *bookSink
	dec  *feed.SZSEDecoder
}

func (s teeSink) ApplySZSE(m *szse.Message, recv int64) error {
	if err := s.test.ApplySZSE(m, recv); err != nil {
		return err
	}

	return s.dec.ApplySZSE(m, recv)
}

func (s teeSink) ResetChannel(ch uint16) error {
	if err := s.test.ResetChannel(ch); err != nil {
		return err
	}
	return s.dec.ResetChannel(ch)
}

func (s teeSink) StaleChannel(ch uint16) error {
	if err := s.test.StaleChannel(ch); err != nil {
		return err
	}
	return s.dec.StaleChannel(ch)
}

func (s teeSink) ChannelLive(ch uint16) error {
	if err := s.test.ChannelLive(ch); err != nil {
		return err
	}
	return s.dec.ChannelLive(ch)
}

// ReplayChannel hands the arbiter's word on what a rebuild delivers again
// to the gateway's decoder, as the feed gives it to an SZSEDecoder sink:
// without it the books would publish the rebuilt channel's prints again.
func (s teeSink) ReplayChannel(ch uint16, n uint64, at szse.Timestamp) {
	s.dec.ReplayChannel(ch, n, at)
}

func (s teeSink) RebuildRequests() []uint16 {
	return append(s.test.RebuildRequests(), s.dec.RebuildRequests()...)
}

type szseRigOpts struct {
	server     feedpeer.SZSEServerConfig // the CompIDs and password are set by the rig
	tune       func(*feed.Config)
	prePublish int // flow events published before the feed starts
	backupTLS  bool
	// primaryAddr, when set, replaces the primary server's address (a
	// misbehaving fake).
	primaryAddr string
	// flow is the peer's flow (seed 17); the rig sets its Dialect.
	flow feedpeer.FlowConfig
}

var szseSymbols = []string{"000001", "000002", "300750", "002594"}

func newSZSERig(t *testing.T, o szseRigOpts) *szseRig {
	t.Helper()
	fcfg := o.flow
	fcfg.Dialect = feedpeer.DialectSZSE
	flow, err := feedpeer.NewFlow(17, szseSymbols, fcfg)
	if err != nil {
		t.Fatal(err)
	}
	pf, err := feedpeer.NewSZSEFeed(feedpeer.SZSEConfig{Channels: []uint16{2011, 2012}, SnapshotEvery: 50}, flow)
	if err != nil {
		t.Fatal(err)
	}
	r := &szseRig{t: t, sig: newSignal(), pf: pf}
	r.logs = newLogRecorder(r.sig)
	r.sink = newBookSink(r.sig)
	scfg := o.server
	scfg.SenderCompID, scfg.TargetCompID, scfg.Password = "GW01", "MDGW", "secret"
	if scfg.HeartbeatInterval == 0 {
		scfg.HeartbeatInterval = 100 * time.Millisecond
	}
	if scfg.ChannelHeartbeatInterval == 0 {
		scfg.ChannelHeartbeatInterval = 100 * time.Millisecond
	}
	for _, s := range []**feedpeer.SZSEServer{&r.primary, &r.backup} {
		if *s, err = feedpeer.NewSZSEServer(scfg, pf); err != nil {
			t.Fatal(err)
		}
	}
	if o.prePublish > 0 {
		r.publish(o.prePublish)
	}
	src := func(addr string) feed.SourceConfig {
		return feed.SourceConfig{Addr: addr, SenderCompID: "GW01", TargetCompID: "MDGW", Password: "secret"}
	}
	cfg := feed.Config{
		Name:              "szse",
		Protocol:          feed.ProtocolSZSE,
		Primary:           src(r.primary.Addr()),
		Backup:            src(r.backup.Addr()),
		HeartbeatTimeout:  time.Second,
		HeartbeatInterval: 200 * time.Millisecond,
		ReconnectMin:      20 * time.Millisecond,
		ReconnectMax:      200 * time.Millisecond,
		CheckInterval:     10 * time.Millisecond,
	}
	if o.primaryAddr != "" {
		cfg.Primary.Addr = o.primaryAddr
	}
	ctx, cancel := context.WithCancel(context.Background())
	if o.backupTLS {
		addr, ca := tlsProxy(t, ctx, r.backup.Addr())
		cfg.Backup.Addr, cfg.Backup.TLS = addr, &feed.TLSConfig{CAPEM: ca}
	}
	if o.tune != nil {
		o.tune(&cfg)
	}
	var ins []refdata.Instrument
	for _, sym := range szseSymbols {
		ins = append(ins, refdata.Instrument{Symbol: sym + ".SZ", Board: refdata.BoardMain, PrevClose: 100000, Tick: 1})
	}
	if r.books, err = orderbook.New(orderbook.Config{Instruments: ins, Shards: 2}); err != nil {
		cancel()
		t.Fatal(err)
	}
	r.prints = newPrintLog(t, ctx, r.books)
	r.dec = feed.NewSZSEDecoder(r.books, r.books.NewInput("szse"), r.books)
	if r.feed, err = feed.NewSZSE(cfg, teeSink{r.sink, r.dec}, slog.New(r.logs)); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		errs := make(chan error, 4)
		go func() { errs <- r.primary.Run(ctx) }()
		go func() { errs <- r.backup.Run(ctx) }()
		go func() { errs <- r.feed.Run(ctx) }()
		go func() { errs <- r.books.Run(ctx) }()
		for range 4 {
			if err := <-errs; err != nil {
				t.Errorf("component stopped: %v", err)
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// heartbeats waits until both sources have sent a ChannelHeartbeat in
// their sessions: from then on the feed knows their channels and delivers
// their aligned snapshots.
func (r *szseRig) heartbeats() {
	r.t.Helper()
	r.waitFor("a ChannelHeartbeat from each source", func() bool {
		return r.logs.has("first ChannelHeartbeat", "source=primary") && r.logs.has("first ChannelHeartbeat", "source=backup")
	})
}

func (r *szseRig) publish(n int) {
	r.t.Helper()
	if err := r.pf.Publish(n); err != nil {
		r.t.Fatal(err)
	}
}

// waitFor waits until cond holds, re-checking it on every sink call and
// log record; it fails the test after a generous deadline.
func (r *szseRig) waitFor(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.NewTimer(30 * time.Second)
	defer deadline.Stop()
	for {
		changed := r.sig.changed()
		if cond() {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			r.t.Fatalf("waiting for %s: status %+v", what, r.feed.Status())
		}
	}
}

// caughtUp waits until the sink has every record published on every
// channel and no channel is stale, then compares every book with the
// peer's reference, level by level, checks what the sink saw, and checks
// that the gateway's books published each trade print of the reference
// (and of the streams before, earlier) once.
func (r *szseRig) caughtUp() {
	r.t.Helper()
	r.waitFor("every record delivered", func() bool {
		last, stale, _, _, _, _ := r.sink.state()
		for _, ch := range r.pf.Channels() {
			if last[ch] != int64(r.pf.Last(ch)) || stale[ch] {
				return false
			}
		}
		return len(r.feed.Stale()) == 0
	})
	ref := r.pf.ReferenceAll()
	for _, sym := range szseSymbols {
		for _, side := range []feedpeer.Side{feedpeer.Buy, feedpeer.Sell} {
			got, want := r.sink.levels(sym, side), ref.Levels(sym, side, 0)
			if !slices.Equal(got, want) {
				r.t.Fatalf("%s %s: the book differs from the peer's reference:\n got %v\nwant %v", sym, side, got, want)
			}
		}
	}
	if _, _, _, _, _, problems := r.sink.state(); len(problems) > 0 {
		r.t.Fatalf("the sink saw: %v", problems)
	}
	r.gatewayBooksEqual(ref)
	var syms []string
	for _, sym := range szseSymbols {
		syms = append(syms, sym+".SZ")
	}
	r.prints.check(r.t, syms, func(sym string) []feedpeer.Print {
		code := sym[:len(sym)-3]
		return append(slices.Clone(r.earlier[code]), ref.Prints(code)...)
	}, "")
	r.sink.mu.Lock()
	mismatches := slices.Clone(r.sink.mismatches)
	r.sink.mu.Unlock()
	for _, m := range mismatches {
		if !r.excused(m) {
			r.t.Fatalf("a snapshot delivered out of alignment: %s", m.detail)
		}
	}
	_, _, _, _, snapshots, _ := r.sink.state()
	r.t.Logf("snapshots delivered %d, of which %d sent inside a dropped range", snapshots, len(mismatches))
}

// renumbered records that the peer's stream so far is followed by
// another (r.pf is to be that one): its prints stay published, each once.
func (r *szseRig) renumbered() {
	ref := r.pf.ReferenceAll()
	if r.earlier == nil {
		r.earlier = map[string][]feedpeer.Print{}
	}
	for _, sym := range szseSymbols {
		r.earlier[sym] = append(r.earlier[sym], ref.Prints(sym)...)
	}
}

// gatewayBooksEqual waits until the gateway's books (the SZSE decoder and
// the order books, applying asynchronously) hold the peer's reference
// levels and none is stale, and that no snapshot check failed.
func (r *szseRig) gatewayBooksEqual(ref *feedpeer.Book) {
	r.t.Helper()
	var diff string
	equal := func() bool {
		for _, sym := range szseSymbols {
			id, _ := r.books.Lookup(sym + ".SZ")
			var v orderbook.View
			r.books.View(id, 0, &v)
			for _, side := range []feedpeer.Side{feedpeer.Buy, feedpeer.Sell} {
				got := v.Bids
				if side == feedpeer.Sell {
					got = v.Asks
				}
				want := ref.Levels(sym, side, orderbook.DefaultMaxDepth)
				same := len(got) == len(want) && v.State != orderbook.StateStale
				for i := 0; same && i < len(got); i++ {
					same = got[i].Price == want[i].Price && got[i].Qty == want[i].Qty && int(got[i].Orders) == want[i].Orders
				}
				if !same {
					diff = fmt.Sprintf("%s %s (%v):\n got %v\nwant %v", sym, side, v.State, got, want)
					return false
				}
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !equal(); {
		if time.Now().After(deadline) {
			r.t.Fatalf("a gateway book differs from the peer's reference: %s", diff)
		}
		time.Sleep(5 * time.Millisecond) // the books apply on their shard goroutines; poll their views
	}
	// A snapshot may run ahead of records a source dropped and the feed
	// has not recovered yet: with drops injected, a difference is no
	// error (two in a row would have marked the book stale).
	if st := r.books.Stats(); st.Mismatch != 0 && len(r.drops) == 0 || st.UnknownOrder != 0 || st.DuplicateOrder != 0 || st.BadMessage != 0 {
		r.t.Fatalf("the gateway books counted errors: %+v", st)
	}
}

// source returns the status of the named source.
func (r *szseRig) source(name string) feed.SourceStatus {
	for _, s := range r.feed.Status().Sources {
		if s.Name == name {
			return s
		}
	}
	r.t.Fatalf("no source %s", name)
	return feed.SourceStatus{}
}

// channel returns the status of channel no.
func (r *szseRig) channel(no uint16) feed.ChannelStatus {
	for _, c := range r.feed.Status().Channels {
		if c.Channel == no {
			return c
		}
	}
	r.t.Fatalf("no channel %d", no)
	return feed.ChannelStatus{}
}

// tlsProxy terminates TLS on a loopback listener and relays each
// connection to target in plain text, as a TLS front of a source would.
// It returns its address and the PEM of the CA that signed its
// certificate.
func tlsProxy(t *testing.T, ctx context.Context, target string) (string, string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "szse test relay"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				up, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer up.Close()
				stop := context.AfterFunc(ctx, func() { c.Close(); up.Close() })
				defer stop()
				wg.Go(func() { _, _ = io.Copy(up, c); up.Close() })
				_, _ = io.Copy(c, up)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String(), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

package feed

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"sgw/feed/capture"
	"sgw/feed/szse"
)

// SZSESink receives an SZSE feed's data. Calls come from one goroutine at a time.
type SZSESink interface {
	// ApplySZSE takes an order (300192) or a trade/cancel (300191) record, exactly once and in
	// ApplSeqNum order within its channel, or a snapshot (300111) aligned with them: every record of
	// the snapshot's channel that its source sent before it has been delivered, and none after it.
	// m is only valid during the call; recv is the receive time, Unix ns.
	ApplySZSE(m *szse.Message, recv int64) error
	// ResetChannel says the channel's records will be delivered again from ApplSeqNum 1 (a rebuild
	// after loss): every book built from them is to be cleared and marked stale.
	ResetChannel(channel uint16) error
	// ChannelLive says a rebuilding channel has caught up with the live stream: its books are valid again.
	ChannelLive(channel uint16) error
}

var (
	_ SZSESink     = (*SZSEDecoder)(nil)
	_ szseReplayer = (*SZSEDecoder)(nil)
)

// szseReplayer is a sink that publishes what the records print (the
// books' trade prints; SZSEDecoder). ReplayChannel says, when a rebuild
// of the channel begins, that its records up to ApplSeqNum n, stamped
// (TransactTime) no later than at, were delivered before in the
// channel's numbering (0: none, a new numbering): the rebuild delivers
// them again, and their prints are not published again. A record stamped
// well after at (szseRenumberSlack) was not delivered before, whatever
// its ApplSeqNum: the rebuild delivers a numbering begun since. It is
// called like ApplySZSE.
type szseReplayer interface {
	ReplayChannel(channel uint16, n uint64, at szse.Timestamp)
}

// szseRebuilder is a sink that finds books wrong and asks for their
// channels to be rebuilt (SZSEDecoder). RebuildRequests returns each
// channel once and is safe from any goroutine.
type szseRebuilder interface {
	RebuildRequests() []uint16
}

// SZSEFeed is one SZSE Binary market-data feed: a primary and a backup
// source (MDGW sessions), and the arbiter that merges their channels into
// the sink, channel by channel, exactly once and in ApplSeqNum order.
// NewSZSE builds it; Run connects and supervises until its context ends.
//
// Goroutines: one per source runs its connections (dial, Logon, reads,
// backoff), with a writer goroutine per logged-in connection (heartbeats
// and ReTransmits); Run is the supervisor, which works on gaps and sends
// ReTransmits. Unlike the ITCH feed's sources these do not share a gnet
// event loop: a ReTransmit makes an SZSE session stateful per channel
// (what was asked, what was announced, what is still to come), which
// reads plainly as one goroutine per source; a feed has two sources, so
// the goroutines cost nothing worth an event loop, and TLS needs a
// goroutine anyway.
//
// The sink is called from a source's reader goroutine or from Run, with
// the arbiter's lock held, one call at a time. Name, Ready, Stale and
// Status never take that lock, so the sink may call them; nothing else
// of the feed is reachable from it.
type SZSEFeed struct {
	cfg     Config
	log     *slog.Logger
	arb     *szseArbiter
	srcs    [2]*szseSource    // by index; nil when not configured
	rec     *capture.Recorder // nil when capture is off
	running atomic.Bool

	// outage is the watch for every source down (watchOutage).
	outage outageWatch
}

// NewSZSE returns an SZSE feed delivering to sink. It validates cfg (an
// empty Protocol means "szse" here) and fills its defaults; it does not
// connect.
func NewSZSE(cfg Config, sink SZSESink, log *slog.Logger) (*SZSEFeed, error) {
	if cfg.Protocol == "" {
		cfg.Protocol = ProtocolSZSE
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Protocol != ProtocolSZSE {
		return nil, fmt.Errorf("%w: feed %s: protocol %s: build it with New", ErrConfig, cfg.Name, cfg.Protocol)
	}
	if sink == nil {
		return nil, fmt.Errorf("%w: feed %s: no sink", ErrConfig, cfg.Name)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("feed", cfg.Name)
	rec, err := capture.New(cfg.Capture, cfg.Name, cfg.Protocol, log)
	if err != nil {
		return nil, fmt.Errorf("feed %s: %w", cfg.Name, err)
	}
	f := &SZSEFeed{cfg: cfg, log: log, rec: rec, arb: newSZSEArbiter(cfg, sink, log)}
	f.arb.rec = rec
	for i, sc := range []SourceConfig{cfg.Primary, cfg.Backup} {
		if sc.Addr == "" {
			continue
		}
		sec, err := clientSecurity(sc, sourceName(i))
		if err != nil {
			return nil, fmt.Errorf("%w: feed %s: %w", ErrConfig, cfg.Name, err)
		}
		name := sourceName(i)
		f.srcs[i] = &szseSource{f: f, idx: i, name: name, cfg: sc, sec: sec, log: log.With("source", name)}
	}
	return f, nil
}

// Name returns the feed's name.
func (f *SZSEFeed) Name() string { return f.cfg.Name }

// Run connects the sources and keeps them connected, and recovers gaps,
// until ctx ends; then it logs out, closes the sources and returns nil
// once their goroutines have ended. When the sink asks for channels to be
// rebuilt (RebuildRequests, as SZSEDecoder does when a snapshot finds a
// book wrong), Run rebuilds them from ApplSeqNum 1 as after a loss. With
// capture on, the capture files are closed once the sources have ended.
// It may be called once.
func (f *SZSEFeed) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("feed: SZSEFeed.Run called twice")
	}
	f.rec.Start()
	defer func() {
		if err := f.rec.Close(); err != nil {
			f.log.Error("feed: capture", "err", err)
		}
	}()
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, s := range f.srcs {
		if s != nil {
			wg.Go(func() { s.run(ctx) })
		}
	}
	t := time.NewTicker(f.cfg.CheckInterval)
	defer t.Stop()
	rebuilder, _ := f.arb.sink.(szseRebuilder)
	var asks []szseAsk
	for {
		if rebuilder != nil {
			for _, no := range rebuilder.RebuildRequests() {
				f.arb.Rebuild(no)
			}
		}
		now := time.Now()
		asks = f.arb.Check(now, asks[:0])
		for _, a := range asks {
			f.ask(a)
		}
		f.watchOutage(now)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-f.arb.kick:
		}
	}
}

// ask sends one ReTransmit; if its source cannot take it, the request has
// failed.
func (f *SZSEFeed) ask(a szseAsk) {
	r := szse.ReTransmit{ResendType: szse.ResendTypeTick, ChannelNo: a.channel,
		ApplBegSeqNum: int64(a.from), ApplEndSeqNum: int64(a.to)}
	_ = szse.PutString(r.NewsID[:], "")
	_ = szse.PutString(r.RejectText[:], "")
	if s := f.srcs[a.src]; s == nil || !s.send(szse.AppendReTransmit(nil, &r)) {
		f.arb.Unsent(a.src, a.channel)
	}
}

// Ready reports whether a source is up (logged in and caught up, as
// gateway_feed_source_up says) and every channel is caught up: at most
// CatchUpLag records known to exist are undelivered (a channel rebuilding
// after a loss is not caught up until its ChannelLive). A source logged in
// again but replaying from far behind what the books hold is not up, so
// the feed is not ready on it.
func (f *SZSEFeed) Ready() bool {
	if f.arb.behind() > uint64(f.cfg.CatchUpLag) || len(f.Stale()) > 0 {
		return false
	}
	for _, s := range f.srcs {
		if s != nil && s.up() {
			return true
		}
	}
	return false
}

// watchOutage marks the channels stale when no source has been up for
// Config.StaleAfterOutage (szseArbiter.Outage), warning once per outage,
// and notes its end once every channel is proven again
// (szseArbiter.EndOutage). A source logged in and sending heartbeats in
// a quiet market is up; one whose Logon was answered and that sends
// nothing after it (a hung MDGW, reset after heartbeat_timeout and
// logging on again at once) is not (szseSource.streaming). Supervisor
// goroutine.
func (f *SZSEFeed) watchOutage(now time.Time) {
	up := false
	for _, s := range f.srcs {
		up = up || s != nil && s.streaming()
	}
	began, ended := f.outage.watch(now, up, f.cfg.StaleAfterOutage, f.arb.Outage, func(bool) bool { return f.arb.EndOutage() })
	if began {
		f.log.Warn("feed: no source up for stale_after_outage; every channel's books are marked stale until a source proves it streams on from what was delivered",
			"feed", f.cfg.Name, "stale_after_outage", f.cfg.StaleAfterOutage, "down_since", f.outage.downSince,
			"outages", f.arb.outages.Load(), "metric", "gateway_feed_outages_total")
	}
	if ended > 0 {
		f.log.Info("feed: outage over; every channel is live again (those no other cause keeps stale)",
			"feed", f.cfg.Name, "stale_for", ended.Round(time.Millisecond))
	}
}

// Stale returns the channels whose books may be wrong: records were lost
// and the rebuild from ApplSeqNum 1 has not caught up yet, or every
// source was down past stale_after_outage and none has proven it streams
// on from what was delivered. Nil when none.
func (f *SZSEFeed) Stale() []uint16 {
	var out []uint16
	for _, ch := range f.arb.channels() {
		if ch.stale.Load() || ch.outage.Load() {
			out = append(out, ch.no)
		}
	}
	return out
}

// Status returns the feed's counters (summed over the channels; Stale
// when any channel is), its sources' states and its channels', and the
// sink's DecodeStats when it has them. Next and Diverged are not used by
// an SZSE feed: each channel has its own next, and the records carry
// their ApplSeqNum, so the sources cannot number them differently.
func (f *SZSEFeed) Status() Status {
	out := Status{Name: f.cfg.Name, SinkErrors: f.arb.sinkErrors.Load(), Overflow: f.arb.overLimit.Load(), Outages: f.arb.outages.Load()}
	for _, ch := range f.arb.channels() {
		c := ch.status()
		out.Delivered += c.Delivered
		out.Duplicates += c.Duplicates
		out.Gaps += c.Gaps
		out.Lost += c.Lost
		out.Overflow += c.Overflow
		out.Rerequests += c.Rerequests
		out.Rebuilds += c.Rebuilds
		out.Stale = out.Stale || c.Stale
		out.Channels = append(out.Channels, c)
	}
	for _, s := range f.srcs {
		if s != nil {
			out.Sources = append(out.Sources, s.snapshot())
		}
	}
	if d, ok := f.arb.sink.(interface{ DecodeStats() DecodeStats }); ok {
		ds := d.DecodeStats()
		out.Decode = &ds
	}
	if f.rec != nil {
		cs := f.rec.Stats()
		out.Capture = &cs
	}
	return out
}

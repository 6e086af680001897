package feed

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"

	"sgw/feed/capture"
)

// Source indexes.
const (
	Primary = 0
	Backup  = 1
)

// sourceName names source index i in logs and status: "primary" or
// "backup".
func sourceName(i int) string {
	if i == Backup {
		return "backup"
	}
	return "primary"
}

// Feed is one market-data feed: its sources, their arbiter and the sink the
// arbiter delivers to. New builds it; Run connects and supervises until its
// context ends. Status, Ready and Next are safe from any goroutine.
type Feed struct {
	cfg  Config
	log  *slog.Logger
	arb  *Arbiter
	srcs []*source         // primary, then backup when configured
	rec  *capture.Recorder // nil when capture is off

	mu     sync.Mutex // guards client
	client *gnet.Client
	// enrolling counts the enrolls in flight. gnet's EnrollContext waits
	// for the event loop to open the connection and never returns if the
	// loop stops first, so Run stops the client only after they are done.
	enrolling sync.WaitGroup

	// outage is the watch for every source down (watchOutage).
	outage outageWatch
}

// New returns a feed delivering to sink. It validates cfg and fills its
// defaults; it does not connect.
func New(cfg Config, sink Sink, log *slog.Logger) (*Feed, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if cfg.Protocol != ProtocolITCH {
		return nil, fmt.Errorf("%w: feed %s: protocol %s: build it with NewSZSE", ErrConfig, cfg.Name, cfg.Protocol)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With("feed", cfg.Name)
	rec, err := capture.New(cfg.Capture, cfg.Name, cfg.Protocol, log)
	if err != nil {
		return nil, fmt.Errorf("feed %s: %w", cfg.Name, err)
	}
	f := &Feed{cfg: cfg, log: log, rec: rec, arb: newArbiter(sink, cfg.Window, cfg.MaxRecoveryAttempts, 2*cfg.HeartbeatTimeout, cfg.RecoveryTimeout)}
	f.arb.rec = rec
	f.arb.single = cfg.Backup.Addr == ""
	f.arb.missedEvery = cfg.MissedRebuildInterval
	for i, sc := range []SourceConfig{cfg.Primary, cfg.Backup} {
		if sc.Addr == "" {
			continue
		}
		sec, err := clientSecurity(sc, sourceName(i))
		if err != nil {
			return nil, fmt.Errorf("%w: feed %s: %w", ErrConfig, cfg.Name, err)
		}
		name := sourceName(i)
		f.srcs = append(f.srcs, &source{f: f, idx: i, name: name, cfg: sc, sec: sec, log: log.With("source", name)})
	}
	return f, nil
}

// Name returns the feed's name.
func (f *Feed) Name() string { return f.cfg.Name }

// Run connects the sources and keeps them connected until ctx ends, then
// closes them (and the capture files). It returns nil on a clean stop.
func (f *Feed) Run(ctx context.Context) error {
	f.rec.Start()
	defer func() {
		if err := f.rec.Close(); err != nil {
			f.log.Error("feed: capture", "err", err)
		}
	}()
	client, err := gnet.NewClient(&gnetHandler{},
		gnet.WithMulticore(false),
		gnet.WithNumEventLoop(1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithReadBufferCap(256<<10),
		gnet.WithLogger(gnetLogger{f.log}))
	if err != nil {
		return fmt.Errorf("feed %s: event loop: %w", f.cfg.Name, err)
	}
	if err := client.Start(); err != nil {
		return fmt.Errorf("feed %s: event loop: %w", f.cfg.Name, err)
	}
	f.mu.Lock()
	f.client = client
	f.mu.Unlock()
	defer func() {
		for _, s := range f.srcs {
			s.stop()
		}
		f.mu.Lock()
		f.client = nil
		f.mu.Unlock()
		f.enrolling.Wait() // no new enroll starts: client is nil
		_ = client.Stop()
	}()
	t := time.NewTicker(f.cfg.CheckInterval)
	defer t.Stop()
	dirs, _ := f.arb.sink.(directoryReporter)
	for {
		now := time.Now()
		for _, s := range f.srcs {
			s.tick(ctx, now)
		}
		i, again := f.check(now, dirs)
		for _, s := range f.srcs {
			if again&(1<<s.idx) != 0 || s.idx == i {
				s.resync(f.arb.Next())
			}
		}
		f.watchOutage(now)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// check runs the arbiter's Check at now and logs what it found: the
// Stock Directories found missing (dirs, nil for a decoder that tells
// none), messages lost on every source, a rebuild begun and why. It
// returns the source a rebuild began from (Check's answer) and the
// sources to resync. Supervisor goroutine.
func (f *Feed) check(now time.Time, dirs directoryReporter) (int, uint8) {
	if dirs != nil {
		f.reportDirectories(dirs)
	}
	// Read before Check: a rebuild's Restart clears them. A rebuild a
	// directory missing caused is only noted; one a book's missed
	// message caused (too) is an error, whatever directory is missing.
	dirOnly := dirs != nil && dirs.DirectoryMissed() && !dirs.BooksMissed()
	before := f.arb.Stats()
	i := f.arb.Check(now)
	again := f.arb.takeResync()
	after := f.arb.Stats()
	from, to, lost := f.arb.TakeLost()
	if lost {
		f.log.Error("feed: messages lost on every source", "feed", f.cfg.Name, "from", from, "to", to,
			"count", to-from+1, "recovery_timeout", f.cfg.RecoveryTimeout, "rebuild", f.arb.rb != nil)
	}
	f.logRebuild(i, before, after, lost, dirOnly)
	return i, again
}

// logRebuild logs why the Check that moved the arbiter's stats from
// before to after began a rebuild from source i, if it did (lost: it
// declared messages lost, logged already; dirOnly: the decoder had
// found a Stock Directory missing, and no book a message missing).
// Supervisor goroutine.
func (f *Feed) logRebuild(i int, before, after arbiterStats, lost, dirOnly bool) {
	switch {
	case after.Unverified != before.Unverified:
		f.log.Error("feed: only a source whose login was accepted above the sequence asked (no copy of a message delivered to compare) passed the next sequence; rebuilding from sequence 1",
			"feed", f.cfg.Name, "source", sourceName(i))
	case lost: // logged above
	case after.MissedRebuilds != before.MissedRebuilds && dirOnly:
		// Warned of once, when found missing (reportDirectories):
		// each rebuild while it is missing is noted, not alarmed.
		f.log.Info("feed: a Stock Directory is still missing; rebuilding from sequence 1",
			"source", sourceName(i), "missed_rebuilds", after.MissedRebuilds, "missed_rebuild_interval", f.cfg.MissedRebuildInterval)
	case after.MissedRebuilds != before.MissedRebuilds:
		f.log.Error("feed: a book found a message missing from the stream (an order it does not hold, or one added twice); rebuilding from sequence 1",
			"source", sourceName(i), "missed_rebuilds", after.MissedRebuilds, "missed_rebuild_interval", f.cfg.MissedRebuildInterval)
	case after.Rebuilds != before.Rebuilds:
		f.log.Error("feed: the sources sent different messages under one sequence number; rebuilding from sequence 1 from one source",
			"feed", f.cfg.Name, "source", sourceName(i))
	}
}

// watchOutage marks the books stale when no source has been up and
// heard since its login (streaming) for Config.StaleAfterOutage: the
// market moves while the feed is blind (Arbiter.Outage). It warns once
// per outage, and notes its end once the books are valid again: a
// source streaming proved it replays what was missed
// (Arbiter.EndOutage), or a rebuild from sequence 1 caught up. A quiet
// market is no outage: a source sending heartbeats is up. A source
// whose login was accepted and that sends nothing after it (a hung
// distributor, reset after heartbeat_timeout and logging in again at
// once) is not: before, each of its logins put the outage off again.
// Supervisor goroutine.
func (f *Feed) watchOutage(now time.Time) {
	began, ended := f.outage.watch(now, f.streaming(), f.cfg.StaleAfterOutage, f.arb.Outage, f.arb.EndOutage)
	if began {
		f.log.Warn("feed: no source up for stale_after_outage; every book the feed carries is marked stale until a source proves it replays what was missed (or a rebuild from sequence 1 catches up)",
			"feed", f.cfg.Name, "stale_after_outage", f.cfg.StaleAfterOutage, "down_since", f.outage.downSince,
			"outages", f.arb.Stats().Outages, "metric", "gateway_feed_outages_total")
	}
	if ended > 0 {
		f.log.Info("feed: outage over; the books are valid again (those no other cause keeps stale)",
			"feed", f.cfg.Name, "stale_for", ended.Round(time.Millisecond), "next", f.arb.Next())
	}
}

// outageWatch watches a feed's sources for an outage (stale_after_outage):
// since when no source has been up (zero while one is), and since when the
// books have been marked stale for it (zero: no outage on). Supervisor
// goroutine only.
type outageWatch struct {
	downSince, outageAt time.Time
}

// watch runs one tick at now; up tells whether a source streams. Once no
// source has been up for grace, and no outage is on, it calls begin, which
// marks the books stale and reports whether it did (began). While an
// outage is on it calls end(up), which reports whether the books are valid
// again; ended is then how long they were stale for it (0: not ended).
func (o *outageWatch) watch(now time.Time, up bool, grace time.Duration, begin func() bool, end func(up bool) bool) (began bool, ended time.Duration) {
	switch {
	case up:
		o.downSince = time.Time{}
	case o.downSince.IsZero():
		o.downSince = now
	case o.outageAt.IsZero() && now.Sub(o.downSince) >= grace:
		if begin() {
			o.outageAt, began = now, true
		}
	}
	if !o.outageAt.IsZero() && end(up) {
		ended = max(now.Sub(o.outageAt), time.Nanosecond)
		o.outageAt = time.Time{}
	}
	return began, ended
}

// directoryReporter is what the ITCH decoder (ITCHDecoder) tells of
// Stock Directories missing, safe from any goroutine.
type directoryReporter interface {
	DirectoryMissed() bool
	BooksMissed() bool
	TakeMissingDirectories() ([]MissingDirectory, int)
	DecodeStats() DecodeStats
}

// reportDirectories logs, in one warning, the Stock Locates dirs found
// missing their Stock Directory since the last call (each once since
// the stream began): the instrument unknown, the books no directory
// mapped stale, and the feed rebuilt from sequence 1 at most once per
// missed_rebuild_interval while it is missing. Supervisor goroutine.
func (f *Feed) reportDirectories(dirs directoryReporter) {
	news, more := dirs.TakeMissingDirectories()
	if len(news) == 0 {
		return
	}
	locates := make([]string, len(news))
	for i, m := range news {
		locates[i] = strconv.Itoa(int(m.Locate))
		if m.Stock != "" {
			locates[i] += " (" + m.Stock + ")"
		}
	}
	f.log.Warn("feed: messages of ITCH Stock Locates no Stock Directory mapped (a relay or a rebuild's source lost it): their instrument is unknown, every book no directory mapped is stale, and the feed rebuilds from sequence 1 at most once per missed_rebuild_interval until a source sends the directory",
		"stock_locates", locates, "more", more, "missing_directories", dirs.DecodeStats().MissingDirectories,
		"metric", "gateway_feed_missing_directories", "missed_rebuild_interval", f.cfg.MissedRebuildInterval)
}

// enroll hands a connected socket to the event loop.
func (f *Feed) enroll(c net.Conn, s *source, gen uint64) error {
	f.mu.Lock()
	client := f.client
	if client != nil {
		f.enrolling.Add(1)
	}
	f.mu.Unlock()
	if client == nil {
		c.Close()
		return errNoClient
	}
	defer f.enrolling.Done()
	_, err := client.EnrollContext(c, &connCtx{s: s, gen: gen})
	return err
}

// Next returns the next sequence number the feed will deliver.
func (f *Feed) Next() uint64 { return f.arb.Next() }

// Stale reports whether the feed's books may be wrong: messages were lost
// or the sources diverged, and the rebuild from sequence 1 has not caught
// up yet, or no source was up for stale_after_outage and none has yet
// proven it replays what was missed.
func (f *Feed) Stale() bool { return f.arb.Rebuilding() }

// streaming reports whether at least one source is up and has been
// heard since its login (source.streaming): a login accepted alone does
// not end an outage or put one off. Supervisor goroutine.
func (f *Feed) streaming() bool { return f.anySource((*source).streaming) }

// Ready reports whether at least one source is up.
func (f *Feed) Ready() bool { return f.anySource((*source).isUp) }

// anySource reports whether is holds for a source, asked under its lock.
func (f *Feed) anySource(is func(*source) bool) bool {
	for _, s := range f.srcs {
		s.mu.Lock()
		ok := is(s)
		s.mu.Unlock()
		if ok {
			return true
		}
	}
	return false
}

// Status is a feed's state for operators and metrics.
type Status struct {
	Name       string         `json:"name"`
	Next       uint64         `json:"next"`
	Delivered  uint64         `json:"delivered"`
	Held       int            `json:"held"` // waiting in the window for a missing message
	Duplicates uint64         `json:"duplicates"`
	Gaps       uint64         `json:"gapsRecovered"`
	Lost       uint64         `json:"lost"`
	Diverged   uint64         `json:"divergences"`
	Rebuilds   uint64         `json:"rebuilds"`
	Stale      bool           `json:"stale"`
	Decode     *DecodeStats   `json:"decode,omitempty"`
	Overflow   uint64         `json:"overflow"`
	Rerequests uint64         `json:"rerequests"`
	SinkErrors uint64         `json:"sinkErrors"`
	Sources    []SourceStatus `json:"sources"`
	// Channels is the per-channel state of an SZSE feed, by channel number.
	Channels []ChannelStatus `json:"channels,omitempty"`
	// Capture counts what the feed's capture recorded (nil when off).
	Capture *capture.Stats `json:"capture,omitempty"`
	// MissedRebuilds counts the rebuilds (also in Rebuilds) begun because
	// a book found a message missing from the stream.
	MissedRebuilds uint64 `json:"missedRebuilds"`
	// Outages counts the times every book of the feed was marked stale
	// because no source had been up for stale_after_outage.
	Outages uint64 `json:"outages"`
}

// SourceStatus is one source's state.
type SourceStatus struct {
	Name     string            `json:"name"`
	Addr     string            `json:"addr"`
	State    string            `json:"state"`
	Up       bool              `json:"up"`
	Pos      uint64            `json:"pos"`
	Messages uint64            `json:"messages"`
	First    uint64            `json:"first"` // messages this source delivered first
	Bytes    uint64            `json:"bytes"`
	Errors   map[string]uint64 `json:"errors,omitempty"`
}

// Status returns the feed's counters and its sources' states.
func (f *Feed) Status() Status {
	st := f.arb.Stats()
	out := Status{
		Name: f.cfg.Name, Next: f.arb.Next(), Delivered: st.Delivered, Duplicates: st.Duplicates,
		Gaps: st.Gaps, Lost: st.Lost, Overflow: st.Overflow, Rerequests: st.Rerequests, SinkErrors: st.SinkErrors,
		Diverged: st.Divergences, Rebuilds: st.Rebuilds, MissedRebuilds: st.MissedRebuilds, Stale: f.arb.Rebuilding(), Held: f.arb.Held(),
		Outages: st.Outages,
	}
	if d, ok := f.arb.sink.(interface{ DecodeStats() DecodeStats }); ok {
		ds := d.DecodeStats()
		out.Decode = &ds
	}
	if f.rec != nil {
		cs := f.rec.Stats()
		out.Capture = &cs
	}
	for _, s := range f.srcs {
		ss := s.snapshot()
		ss.First = st.FirstSource[s.idx]
		out.Sources = append(out.Sources, ss)
	}
	return out
}

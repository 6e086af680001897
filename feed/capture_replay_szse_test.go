package feed_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/feed"
	"sgw/feed/capture"
	"sgw/feed/feedpeer"
	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/sim"
)

// szseStreamSink keeps what an SZSE feed delivered (each record and
// snapshot, in delivery order, as text) and passes it on to a reference
// L3 book (bookSink) and to the gateway's decoder.
type szseStreamSink struct {
	teeSink
	mu      sync.Mutex
	msgs    []string
	records []string // msgs without the snapshots
	snaps   int
	closing int // snapshots of the closed market (TradingPhaseCode E)
}

func (s *szseStreamSink) ApplySZSE(m *szse.Message, recv int64) error {
	var text string
	switch m.Type {
	case szse.TypeOrder:
		text = fmt.Sprintf("order %+v", m.Order)
	case szse.TypeTrade:
		text = fmt.Sprintf("trade %+v", m.Trade)
	case szse.TypeSnapshot:
		text = fmt.Sprintf("snapshot %+v", m.Snapshot)
	default:
		text = fmt.Sprintf("%s", m.Type)
	}
	s.mu.Lock()
	s.msgs = append(s.msgs, text)
	if m.Type == szse.TypeSnapshot {
		s.snaps++
		if m.Snapshot.TradingPhaseCode[0] == 'E' {
			s.closing++
		}
	} else {
		s.records = append(s.records, text)
	}
	s.mu.Unlock()
	return s.teeSink.ApplySZSE(m, recv)
}

func (s *szseStreamSink) ResetChannel(ch uint16) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, fmt.Sprintf("reset %d", ch))
	s.mu.Unlock()
	return s.teeSink.ResetChannel(ch)
}

func (s *szseStreamSink) ChannelLive(ch uint16) error {
	s.mu.Lock()
	s.msgs = append(s.msgs, fmt.Sprintf("live %d", ch))
	s.mu.Unlock()
	return s.teeSink.ChannelLive(ch)
}

// stream returns everything delivered, the records alone and the number
// of snapshots.
func (s *szseStreamSink) stream() (all, records []string, snapshots int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.msgs), slices.Clone(s.records), s.snaps
}

// szseGateway is the ingest side of a gateway on an SZSE feed: the feed
// into a reference L3 book and the gateway's decoder and books.
type szseGateway struct {
	books *orderbook.Engine
	feed  *feed.SZSEFeed
	sink  *szseStreamSink
	stop  func()
}

// startSZSEGateway runs an SZSE feed from the given sources into fresh
// books until the test ends or stop is called.
func startSZSEGateway(t *testing.T, primary, backup string, tune func(*feed.Config)) *szseGateway {
	t.Helper()
	books, err := orderbook.New(orderbook.Config{Instruments: szseSimInstruments, Shards: 2, MaxDepth: orderbook.MaxDepthLimit})
	if err != nil {
		t.Fatal(err)
	}
	src := func(addr string) feed.SourceConfig {
		if addr == "" {
			return feed.SourceConfig{}
		}
		return feed.SourceConfig{Addr: addr, SenderCompID: "GW01", TargetCompID: "MDGW", Password: "secret"}
	}
	cfg := feed.Config{
		Name:              "szse",
		Protocol:          feed.ProtocolSZSE,
		Primary:           src(primary),
		Backup:            src(backup),
		HeartbeatTimeout:  5 * time.Second, // a loaded machine must not reset the sources
		HeartbeatInterval: 200 * time.Millisecond,
		ReconnectMin:      20 * time.Millisecond,
		ReconnectMax:      200 * time.Millisecond,
		CheckInterval:     10 * time.Millisecond,
	}
	if tune != nil {
		tune(&cfg)
	}
	sink := &szseStreamSink{teeSink: teeSink{test: newBookSink(newSignal()), dec: feed.NewSZSEDecoder(books, books.NewInput("szse"), books)}}
	f, err := feed.NewSZSE(cfg, sink, testLogger(t).With("c", "feed"))
	if err != nil {
		t.Fatal(err)
	}
	g := &szseGateway{books: books, feed: f, sink: sink, stop: runComponents(t, books.Run, f.Run)}
	return g
}

// channel returns the feed's status of channel no (zero if unknown).
func (g *szseGateway) channel(no uint16) feed.ChannelStatus {
	for _, c := range g.feed.Status().Channels {
		if c.Channel == no {
			return c
		}
	}
	return feed.ChannelStatus{}
}

// delivered reports whether the feed delivered channel no up to last and
// the books applied everything it delivered.
func (g *szseGateway) delivered(no uint16, last int64) bool {
	if c := g.channel(no); c.Next != uint64(last)+1 {
		return false
	}
	return g.booksCaughtUp()
}

// booksCaughtUp reports whether the engine's views of the SZSE
// instruments show the reference book's levels.
func (g *szseGateway) booksCaughtUp() bool {
	for _, in := range szseSimInstruments[:2] {
		id, _ := g.books.Lookup(in.Symbol)
		var v orderbook.View
		g.books.View(id, orderbook.MaxDepthLimit, &v)
		code := in.Symbol[:len(in.Symbol)-3]
		for _, side := range []struct {
			got  []orderbook.Level
			want []feedpeer.Level
		}{{v.Bids, g.sink.test.levels(code, feedpeer.Buy)}, {v.Asks, g.sink.test.levels(code, feedpeer.Sell)}} {
			if len(side.got) != len(side.want) {
				return false
			}
			for i, l := range side.got {
				if w := side.want[i]; l.Price != w.Price || l.Qty != w.Qty || int(l.Orders) != w.Orders {
					return false
				}
			}
		}
	}
	return true
}

// bookState is every SZSE book in full, as a comparable string: every
// level of both sides of the reference L3 book, and the gateway engine's
// published view (levels, trade statistics, state, checksums). Seq and
// Time are left out when withSeq is false: they move with the snapshots
// checked, which a source stream holds more of than was delivered.
func (g *szseGateway) bookState(withSeq bool) map[string]string {
	out := map[string]string{}
	for _, in := range szseSimInstruments[:2] {
		code := in.Symbol[:len(in.Symbol)-3]
		id, _ := g.books.Lookup(in.Symbol)
		var v orderbook.View
		g.books.View(id, orderbook.MaxDepthLimit, &v)
		if !withSeq {
			v.Seq, v.Time = 0, 0
		}
		out[in.Symbol] = fmt.Sprintf("L3 bids=%v asks=%v\nview %+v", g.sink.test.levels(code, feedpeer.Buy), g.sink.test.levels(code, feedpeer.Sell), v)
	}
	return out
}

// TestSZSECaptureReplayRebuildsIdenticalBooks is
// TestCaptureReplayRebuildsIdenticalBooks for an SZSE feed: it records a
// simulated SZSE session through a gateway's SZSE feed (both sources and
// the arbitrated stream, across several files; the first records
// recovered by ReTransmit, the backup taken down and back mid-run,
// snapshots throughout), then replays the arbitrated stream
// and the primary's raw bytes in turn through sim.Player into a fresh
// gateway pointed at it: every book, in full, and the delivered sequence
// come out identical (from the primary's bytes, the sequence of records:
// a source sends snapshots the arbiter did not deliver).
func TestSZSECaptureReplayRebuildsIdenticalBooks(t *testing.T) {
	dir := t.TempDir()
	s, err := sim.New(sim.Config{Instruments: szseSimInstruments, Rate: -1, Seed: 11, HeartbeatInterval: 100 * time.Millisecond,
		Logger: testLogger(t).With("c", "sim"),
		SZSE: sim.SZSEConfig{Enabled: true, SenderCompID: "GW01", TargetCompID: "MDGW", Password: "secret",
			SnapshotInterval: 20 * time.Millisecond, ChannelHeartbeatInterval: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	sctx, scancel := context.WithCancel(context.Background())
	simDone := make(chan error, 1)
	go func() { simDone <- s.Run(sctx) }()
	t.Cleanup(func() { scancel(); <-simDone })
	ch := s.SZSEChannel()

	// The day starts before the gateway: the primary logs on first, at
	// the live end, and recovers the first records by ReTransmit, so that
	// its raw stream holds the whole session, those records inside the
	// ReTransmit answer; the backup joins once it is live.
	if err := s.Step(300); err != nil {
		t.Fatal(err)
	}
	if err := s.StopSource(sim.SZSEBackup); err != nil {
		t.Fatal(err)
	}
	orig := startSZSEGateway(t, s.Addr(sim.SZSEPrimary).String(), s.Addr(sim.SZSEBackup).String(), func(c *feed.Config) {
		c.Capture = capture.Config{Dir: dir, MaxFileBytes: 32 << 10} // several files per stream
	})
	step := func(n int) {
		t.Helper()
		if err := s.Step(n); err != nil {
			t.Fatal(err)
		}
		last := s.SZSELast()
		waitUntil(t, fmt.Sprintf("the feed to deliver up to %d", last), func() bool { return orig.delivered(ch, last) })
	}
	waitUntil(t, "the primary to recover the first records", func() bool { return orig.delivered(ch, s.SZSELast()) })
	if st := s.Stats(sim.SZSEPrimary); st.Resent == 0 {
		t.Fatalf("primary stats %+v: nothing resent", st)
	}
	bounceBackup(t, s, sim.SZSEBackup, step)
	// The last snapshots are of the closed market: wait until one of each
	// instrument was delivered.
	if err := s.EndSession(); err != nil {
		t.Fatal(err)
	}
	last := s.SZSELast()
	waitUntil(t, "the closing snapshots", func() bool {
		orig.sink.mu.Lock()
		defer orig.sink.mu.Unlock()
		return orig.sink.closing >= 2
	})
	orig.stop() // closes the capture files
	wantAll, wantRecords, wantSnaps := orig.sink.stream()
	wantBooks, wantViews := orig.bookState(true), orig.bookState(false)
	st := orig.feed.Status()
	if st.Capture == nil || st.Capture.Records == 0 || st.Capture.Dropped["arbitrated"] != 0 || st.Capture.Files < 3 || wantSnaps == 0 {
		t.Fatalf("capture stats %+v, %d snapshots delivered", st.Capture, wantSnaps)
	}
	t.Logf("recorded: %d delivered, %d snapshots; capture %+v", len(wantAll), wantSnaps, *st.Capture)
	reg := prometheus.NewRegistry()
	reg.MustRegister(feed.NewCollector().WithSZSE(orig.feed))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var records float64
	for _, mf := range mfs {
		if mf.GetName() == "gateway_capture_records_total" {
			records = mf.GetMetric()[0].GetCounter().GetValue()
		}
	}
	if records != float64(st.Capture.Records) {
		t.Errorf("gateway_capture_records_total = %v, status says %d", records, st.Capture.Records)
	}
	if _, _, _, _, _, problems := orig.sink.test.state(); len(problems) > 0 {
		t.Fatalf("the recorded feed's reference book saw %v", problems)
	}

	for _, stream := range []string{"arbitrated", "primary"} {
		t.Run(stream, func(t *testing.T) {
			files, err := capture.Files(dir, "", stream)
			if err != nil {
				t.Fatal(err)
			}
			p, err := sim.NewPlayer(sim.PlayerConfig{Protocol: capture.ProtocolSZSE, SenderCompID: "GW01", TargetCompID: "MDGW",
				Password: "secret", ChannelHeartbeatInterval: 50 * time.Millisecond, Logger: testLogger(t).With("c", "player")})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			runDone := make(chan error, 1)
			go func() { runDone <- p.Run(ctx) }()
			defer func() { cancel(); <-runDone }()
			// Played at once, before the gateway logs on: its session
			// opens with the ChannelHeartbeats of every channel, so the
			// first snapshots are placed as when they were recorded.
			ps, err := p.Play(ctx, files)
			if err != nil {
				t.Fatal(err)
			}
			if ps.Last != uint64(last) || ps.Holes != 0 || ps.Messages-ps.Snapshots != uint64(last) {
				t.Fatalf("played %+v, want %d records", ps, last)
			}
			t.Logf("played %+v", ps)
			replay := startSZSEGateway(t, p.Addr().String(), "", nil)
			waitUntil(t, "the replay to be delivered", func() bool {
				c := replay.channel(sim.DefaultSZSESnapshotChannel)
				// At least: a source that reconnects gets the recording again.
				return replay.delivered(ch, last) && c.Snapshots+c.SnapshotsDropped >= ps.Snapshots
			})
			gotAll, gotRecords, gotSnaps := replay.sink.stream()
			if len(gotRecords) != len(wantRecords) || digestText(gotRecords) != digestText(wantRecords) {
				t.Fatalf("records: %d delivered digest %s, want %d digest %s", len(gotRecords), digestText(gotRecords), len(wantRecords), digestText(wantRecords))
			}
			want := wantViews
			if stream == "arbitrated" {
				want = wantBooks
				// A source that reconnects gets the recording again, and
				// the snapshots after the last record are aligned again:
				// the same snapshot twice is the decoder's to ignore.
				gotAll, wantAll := firstSnapshots(gotAll), firstSnapshots(wantAll)
				if len(gotAll) != len(wantAll) || digestText(gotAll) != digestText(wantAll) {
					t.Fatalf("delivered sequence: %d (%d snapshots delivered) digest %s, want %d (%d) digest %s",
						len(gotAll), gotSnaps, digestText(gotAll), len(wantAll), wantSnaps, digestText(wantAll))
				}
			}
			got := replay.bookState(stream == "arbitrated")
			for sym, w := range want {
				if got[sym] != w {
					t.Errorf("%s differs after replay:\n got %s\nwant %s", sym, got[sym], w)
				}
			}
			if _, _, _, _, _, problems := replay.sink.test.state(); len(problems) > 0 {
				t.Errorf("the replay's reference book saw %v", problems)
			}
			if st := replay.feed.Status(); st.Lost != 0 || st.Rebuilds != 0 {
				t.Errorf("replay status %+v", st)
			}
		})
	}
}

// firstSnapshots returns the delivered sequence all without the snapshots
// delivered before (the other source's copy, a reconnected source's
// repeat), in the order of their first delivery.
func firstSnapshots(all []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range all {
		if strings.HasPrefix(m, "snapshot ") {
			if seen[m] {
				continue
			}
			seen[m] = true
		}
		out = append(out, m)
	}
	return out
}

// digestText is a SHA-256 of a sequence of texts.
func digestText(texts []string) string {
	h := sha256.New()
	for _, t := range texts {
		fmt.Fprintf(h, "%d:%s", len(t), t)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

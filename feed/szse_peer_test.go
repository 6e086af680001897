package feed_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"sgw/feed"
	"sgw/feed/feedpeer"
)

// TestSZSEIndependentPeer runs the SZSE feed against the independent peer
// (package feedpeer) in failure scenarios. Each ends with every record
// delivered once and in order per channel, every delivered snapshot equal
// to the sink's own book at that moment, every book equal to the peer's
// reference, and nothing lost.
func TestSZSEIndependentPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  szseRigOpts
		fault func(r *szseRig)
		check func(r *szseRig)
	}{
		// No source may show an error here: its heartbeat timeout is
		// long enough that a loaded machine does not trip it (1 s did,
		// once, at load 13).
		{name: "both live, the backup over TLS", opts: szseRigOpts{backupTLS: true,
			tune: func(c *feed.Config) { c.HeartbeatTimeout = 30 * time.Second }}, check: func(r *szseRig) {
			st := r.feed.Status()
			// Nothing is missing. The source whose copy of a channel's
			// first record came second may be asked for its copy of the
			// last record delivered, once a channel (firstDelivered).
			if st.Duplicates == 0 || st.Gaps != 0 || st.Rerequests > 2 || !r.feed.Ready() {
				t.Errorf("status %+v, ready %v", st, r.feed.Ready())
			}
			for _, s := range st.Sources {
				if len(s.Errors) != 0 || !s.Up {
					t.Errorf("source %+v", s)
				}
			}
			if _, _, _, _, snapshots, _ := r.sink.state(); snapshots == 0 {
				t.Error("no snapshot delivered")
			}
		}},
		{name: "primary killed mid-stream", fault: func(r *szseRig) { r.primary.Kill() }},
		{name: "range dropped on the primary", fault: func(r *szseRig) {
			l := r.pf.Last(2011)
			r.dropRange(r.primary, 2011, l+10, l+200)
		}},
		{name: "ranges dropped on both", fault: func(r *szseRig) {
			l, l2 := r.pf.Last(2011), r.pf.Last(2012)
			r.dropRange(r.primary, 2011, l+10, l+200)
			r.dropRange(r.backup, 2011, l+50, l+300)
			r.dropRange(r.primary, 2012, l2+20, l2+40)
			r.dropRange(r.backup, 2012, l2+20, l2+40)
		}, check: func(r *szseRig) {
			// Both sources dropped the range live: only a ReTransmit can
			// have filled it (the books equal the reference, nothing
			// lost). Gaps, the answers that completed a request, may
			// stay 0: an answer that comes after its request timed out
			// on a loaded machine fills the range all the same (seen
			// twice in about 60 runs under load).
			for _, ch := range []uint16{2011, 2012} {
				if c := r.channel(ch); c.Rerequests == 0 || c.Lost != 0 {
					t.Errorf("channel %+v: the range missing on both was not recovered by ReTransmit", c)
				}
			}
		}},
		{name: "backup slow to log in, then the primary killed", fault: func(r *szseRig) {
			r.backup.SetLoginDelay(500 * time.Millisecond)
			r.backup.Kill()
			if err := r.backup.Restart(); err != nil {
				t.Fatal(err)
			}
			r.primary.Kill()
		}},
		{name: "live start, partial ReTransmits", opts: szseRigOpts{prePublish: 800,
			server: feedpeer.SZSEServerConfig{LiveStart: true, MaxRetransmit: 100}}, check: func(r *szseRig) {
			if c := r.channel(2011); c.Gaps == 0 || c.Rerequests < 3 || c.Lost != 0 || c.Rebuilds != 0 {
				t.Errorf("channel %+v: the day before the login was not recovered from 1 in parts", c)
			}
		}},
		{name: "live start, backup slow, primary drops a range", opts: szseRigOpts{prePublish: 300,
			server: feedpeer.SZSEServerConfig{LiveStart: true}}, fault: func(r *szseRig) {
			r.backup.SetLoginDelay(500 * time.Millisecond)
			r.backup.Kill()
			if err := r.backup.Restart(); err != nil {
				t.Fatal(err)
			}
			l := r.pf.Last(2012)
			r.dropRange(r.primary, 2012, l+5, l+60)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newSZSERig(t, tc.opts)
			r.heartbeats()
			r.publish(500)
			r.caughtUp()
			if tc.fault != nil {
				tc.fault(r)
			}
			r.publish(1500)
			r.caughtUp()
			r.publish(300)
			r.caughtUp()
			if st := r.feed.Status(); st.Lost != 0 || st.SinkErrors != 0 {
				t.Errorf("status %+v", st)
			}
			_, _, resets, _, _, _ := r.sink.state()
			if len(resets) != 0 {
				t.Errorf("channels reset: %v", resets)
			}
			if tc.check != nil {
				tc.check(r)
			}
		})
	}
}

// TestSZSELostRangeRebuilt: a range missing on both sources that neither
// will resend is declared lost after the recovery attempts and time: the
// channel is reset and stale, the feed not ready; once the sources can
// resend it, the channel is rebuilt from ApplSeqNum 1 in partial answers,
// goes live again, and every book equals the reference. The other
// channel is not touched.
func TestSZSELostRangeRebuilt(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{server: feedpeer.SZSEServerConfig{MaxRetransmit: 300}, tune: func(c *feed.Config) {
		c.RecoveryTimeout = 300 * time.Millisecond
		c.MaxRecoveryAttempts = 2
	}})
	r.heartbeats()
	r.publish(500)
	r.caughtUp()
	l := r.pf.Last(2011)
	for _, s := range []*feedpeer.SZSEServer{r.primary, r.backup} {
		r.dropRange(s, 2011, l+20, l+40)
		s.RefuseRetransmit(2011, l+20, l+40)
	}
	r.publish(1000)
	r.waitFor("channel 2011 reset and stale", func() bool {
		_, _, resets, _, _, _ := r.sink.state()
		return resets[2011] > 0 && slices.Equal(r.feed.Stale(), []uint16{2011})
	})
	if r.feed.Ready() {
		t.Error("ready with a stale channel")
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(feed.NewCollector().WithSZSE(r.feed))
	if v := metricValue(t, reg, "gateway_feed_channel_stale", "2011"); v != 1 {
		t.Errorf("gateway_feed_channel_stale{channel=2011} = %v while stale", v)
	}
	if v := metricValue(t, reg, "gateway_feed_channel_lost_total", "2011"); v < 21 {
		t.Errorf("gateway_feed_channel_lost_total{channel=2011} = %v, want the 21 records at least", v)
	}
	if !r.logs.has("ERROR", "lost", "channel=2011", "from=", "to=") {
		t.Error("no error log naming the lost range")
	}
	for _, s := range []*feedpeer.SZSEServer{r.primary, r.backup} {
		s.ClearRefusals()
	}
	r.waitFor("channel 2011 live again", func() bool {
		_, _, _, lives, _, _ := r.sink.state()
		return lives[2011] > 0 && len(r.feed.Stale()) == 0
	})
	r.publish(500)
	r.caughtUp()
	if c := r.channel(2011); c.Lost == 0 || c.Rebuilds == 0 || c.Stale {
		t.Errorf("channel %+v", c)
	}
	if c := r.channel(2012); c.Lost != 0 || c.Rebuilds != 0 {
		t.Errorf("channel %+v was touched", c)
	}
	if _, _, resets, _, _, _ := r.sink.state(); resets[2012] != 0 {
		t.Errorf("channel 2012 reset: %v", resets)
	}
	r.waitFor("ready", r.feed.Ready)
	if v := metricValue(t, reg, "gateway_feed_channel_stale", "2011"); v != 0 {
		t.Errorf("gateway_feed_channel_stale{channel=2011} = %v once rebuilt", v)
	}
}

// TestSZSERebuildRequested: a sink that finds a channel's books wrong
// asks for a rebuild (as SZSEDecoder does when a snapshot differs): the
// channel is reset, delivered again from ApplSeqNum 1 in partial
// ReTransmits while the stream goes on, and goes live again; nothing is
// lost and the other channel is not touched.
func TestSZSERebuildRequested(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{server: feedpeer.SZSEServerConfig{MaxRetransmit: 200}})
	r.publish(800)
	r.caughtUp()
	r.sink.requestRebuild(2012)
	r.publish(500)
	r.waitFor("channel 2012 rebuilt", func() bool {
		_, _, resets, lives, _, _ := r.sink.state()
		return resets[2012] == 1 && lives[2012] == 1
	})
	r.publish(300)
	r.caughtUp()
	if c := r.channel(2012); c.Rebuilds != 1 || c.Lost != 0 || c.Rerequests < 2 {
		t.Errorf("channel %+v", c)
	}
	if _, _, resets, _, _, _ := r.sink.state(); resets[2011] != 0 {
		t.Errorf("channel 2011 reset: %v", resets)
	}
}

// metricValue returns the value of the SZSE channel metric name for
// channel, gathered from reg.
func metricValue(t *testing.T, reg *prometheus.Registry, name, channel string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "channel" && l.GetValue() == channel {
					if g := m.GetGauge(); g != nil {
						return g.GetValue()
					}
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{channel=%s}", name, channel)
	return 0
}

// TestSZSEIndependentPeerNextDay: the gateway runs across days against
// the independent peer. Day 1 is served and delivered; then both servers
// go away and come back on the same addresses serving day 2 (the next
// Date, another flow, every channel numbered from ApplSeqNum 1 again,
// fewer records than day 1): each channel begins the new day once,
// is rebuilt, and the books equal day 2's reference alone; nothing is
// declared lost.
func TestSZSEIndependentPeerNextDay(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{})
	r.heartbeats()
	r.publish(900)
	r.caughtUp()

	flow, err := feedpeer.NewFlow(29, szseSymbols, feedpeer.FlowConfig{Dialect: feedpeer.DialectSZSE})
	if err != nil {
		t.Fatal(err)
	}
	day2, err := feedpeer.NewSZSEFeed(feedpeer.SZSEConfig{Date: 20250103, Channels: []uint16{2011, 2012}, SnapshotEvery: 50}, flow)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var servers []*feedpeer.SZSEServer
	for _, old := range []*feedpeer.SZSEServer{r.primary, r.backup} {
		old.Kill()
		cfg := feedpeer.SZSEServerConfig{SenderCompID: "GW01", TargetCompID: "MDGW", Password: "secret",
			ChannelHeartbeatInterval: 100 * time.Millisecond}
		cfg.Addr, cfg.HeartbeatInterval = old.Addr(), 100*time.Millisecond
		s, err := feedpeer.NewSZSEServer(cfg, day2)
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		servers = append(servers, s)
	}
	errs := make(chan error, len(servers))
	for _, s := range servers {
		go func() { errs <- s.Run(ctx) }()
	}
	t.Cleanup(func() {
		cancel()
		for range servers {
			if err := <-errs; err != nil {
				t.Errorf("day 2's server: %v", err)
			}
		}
	})
	day1 := map[uint16]uint64{}
	for _, ch := range r.pf.Channels() {
		day1[ch] = r.pf.Last(ch)
	}
	r.renumbered()
	r.pf, r.primary, r.backup = day2, servers[0], servers[1]
	r.publish(300)
	r.caughtUp()
	for _, ch := range day2.Channels() {
		c := r.channel(ch)
		if day2.Last(ch) >= day1[ch] {
			t.Fatalf("channel %d: day 2 has %d records, day 1 %d: the test needs fewer", ch, day2.Last(ch), day1[ch])
		}
		if c.Lost != 0 || c.Rebuilds == 0 || c.Next != day2.Last(ch)+1 {
			t.Errorf("channel %+v: want day 2 delivered whole after one new day's rebuild, nothing lost", c)
		}
	}
	if !r.logs.has("new trading day", "channel=2011", "day=20250103", "previous=20250102") {
		t.Error("no log of channel 2011 beginning the new day")
	}
}

// TestSZSEIndependentPeerOwnBest: the independent peer streams a thin
// market in which about one order in five is own-best (OrdType U, 本方最优):
// it prices them by its own reading of the rule (the best price of the
// order's side when it arrives; with that side empty the venue cancels it,
// and its cancel follows). Through the gateway, every book equals the
// peer's reference at every catch-up, every snapshot of the peer agrees
// with the gateway's books (none counted as differing), and no channel is
// stale or rebuilt. Before the gateway modelled them (232750a), it did not
// rest own-best orders: its books lacked them and the snapshots showed
// them.
func TestSZSEIndependentPeerOwnBest(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{flow: feedpeer.FlowConfig{MaxOrders: 12,
		Mix: feedpeer.Mix{Add: 30, Delete: 30, Cross: 20, OwnBest: 25}}})
	r.heartbeats()
	for range 4 {
		r.publish(600)
		r.caughtUp()
	}
	// The stream must hold what the test is about: own-best orders that
	// rested, traded, and were cancelled for an empty side.
	ownBest := map[uint64]bool{}
	var orders, rested, traded, cancelled int
	var prev feedpeer.Event
	for _, rec := range r.pf.Records() {
		ev := rec.Event
		switch {
		case ev.Kind == feedpeer.KindAdd:
			orders++
			if ev.OwnBest {
				ownBest[ev.Order] = true
				rested++
			}
		case ev.Kind == feedpeer.KindDelete && prev.OwnBest && prev.Order == ev.Order:
			rested--
			cancelled++
		case ev.Kind == feedpeer.KindExecute && ownBest[ev.Order]:
			traded++
		}
		if rec.Seq != 0 {
			prev = ev
		}
	}
	if rested < orders/8 || traded < 50 || cancelled < 10 {
		t.Fatalf("of %d orders, own-best: %d rested, %d executions of them, %d cancelled for an empty side: want many of each", orders, rested, traded, cancelled)
	}
	if st := r.books.Stats(); st.Mismatch != 0 {
		t.Errorf("the gateway's books differed from %d snapshots", st.Mismatch)
	}
	_, _, resets, _, snapshots, _ := r.sink.state()
	if len(resets) != 0 || snapshots < 100 {
		t.Errorf("channels reset %v; snapshots delivered %d", resets, snapshots)
	}
	for _, ch := range r.pf.Channels() {
		if c := r.channel(ch); c.Rebuilds != 0 || c.Stale || c.Lost != 0 {
			t.Errorf("channel %+v", c)
		}
	}
	if st := r.dec.DecodeStats(); st.Ignored != 0 || st.DecodeErrors != 0 {
		t.Errorf("decoder %+v: an own-best order was not taken", st)
	}
	t.Logf("of %d orders, own-best: %d rested, %d executions of them, %d cancelled for an empty side", orders, rested, traded, cancelled)
}

package feed_test

import (
	"context"
	"log/slog"
	"slices"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/feedpeer"
	"sgw/refdata"
	"sgw/sim"
)

// szseSimInstruments are published over SZSE Binary by the simulator (the
// .SZ ones) and ITCH (the other).
var szseSimInstruments = []refdata.Instrument{
	{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 120000},
	{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: 2000000},
	{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000},
}

// TestSZSEAgainstSimulator runs the SZSE feed against the project's
// exchange simulator in SZSE mode, whose sessions start live, as an MDGW's
// do: the day is recovered by ReTransmit (in parts of max_retransmit), a
// range dropped on both sources by ReTransmit, a stopped primary is
// covered by the backup. Every record arrives once and in order, every
// snapshot delivered equals the sink's book at that moment, and every
// book ends equal to the matching engine's depth.
func TestSZSEAgainstSimulator(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fault      func(t *testing.T, s *sim.Sim)
		backupTLCP bool // the backup served and dialled over TLCP
	}{
		{name: "both live"},
		{name: "range dropped on both", fault: func(t *testing.T, s *sim.Sim) {
			last := uint64(s.SZSELast())
			for _, src := range []sim.Source{sim.SZSEPrimary, sim.SZSEBackup} {
				if err := s.DropRange(src, last+5, last+80); err != nil {
					t.Fatal(err)
				}
			}
		}},
		{name: "primary stopped", fault: func(t *testing.T, s *sim.Sim) {
			if err := s.StopSource(sim.SZSEPrimary); err != nil {
				t.Fatal(err)
			}
		}},
		{name: "primary stopped, the backup over TLCP", backupTLCP: true, fault: func(t *testing.T, s *sim.Sim) {
			if err := s.StopSource(sim.SZSEPrimary); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig := newSignal()
			scfg := sim.Config{Instruments: szseSimInstruments, Rate: -1, Seed: 9,
				HeartbeatInterval: 100 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
				SZSE: sim.SZSEConfig{Enabled: true, SenderCompID: "GW01", TargetCompID: "MDGW", Password: "secret",
					SnapshotInterval: 20 * time.Millisecond, ChannelHeartbeatInterval: 100 * time.Millisecond, MaxRetransmit: 150}}
			scfg.SZSE.Backup.TLCP.SelfSigned = tc.backupTLCP
			s, err := sim.New(scfg)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Step(300); err != nil { // before the feed logs in
				t.Fatal(err)
			}
			sink := newBookSink(sig)
			src := func(addr string) feed.SourceConfig {
				return feed.SourceConfig{Addr: addr, SenderCompID: "GW01", TargetCompID: "MDGW", Password: "secret"}
			}
			backup := src(s.Addr(sim.SZSEBackup).String())
			if tc.backupTLCP {
				backup.TLCP = &feed.TLCPConfig{CAPEM: string(s.TLCPCACertPEM())}
			}
			f, err := feed.NewSZSE(feed.Config{Name: "szse", Primary: src(s.Addr(sim.SZSEPrimary).String()), Backup: backup,
				HeartbeatTimeout: time.Second, HeartbeatInterval: 200 * time.Millisecond, ReconnectMin: 20 * time.Millisecond,
				ReconnectMax: 200 * time.Millisecond, CheckInterval: 10 * time.Millisecond}, sink, slog.New(newLogRecorder(sig)))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() {
				defer close(done)
				errs := make(chan error, 2)
				go func() { errs <- s.Run(ctx) }()
				go func() { errs <- f.Run(ctx) }()
				for range 2 {
					if err := <-errs; err != nil {
						t.Errorf("component stopped: %v", err)
					}
				}
			}()
			t.Cleanup(func() { cancel(); <-done })

			ch := s.SZSEChannel()
			waitFor := func(what string, cond func() bool) {
				t.Helper()
				deadline := time.NewTimer(30 * time.Second)
				defer deadline.Stop()
				for {
					changed := sig.changed()
					if cond() {
						return
					}
					select {
					case <-changed:
					case <-deadline.C:
						t.Fatalf("waiting for %s: %+v", what, f.Status())
					}
				}
			}
			caughtUp := func() {
				t.Helper()
				waitFor("every record", func() bool {
					last, _, _, _, _, _ := sink.state()
					return last[ch] == s.SZSELast() && len(f.Stale()) == 0
				})
				for _, in := range szseSimInstruments[:2] {
					bids, asks := s.Depth(in.Symbol, 0)
					code := in.Symbol[:len(in.Symbol)-3]
					for _, side := range []struct {
						name string
						got  []feedpeer.Level
						want []feedpeerLevel
					}{{"bids", sink.levels(code, feedpeer.Buy), levelsOf(bids)}, {"asks", sink.levels(code, feedpeer.Sell), levelsOf(asks)}} {
						if !slices.Equal(side.got, side.want) {
							t.Fatalf("%s %s differ from the engine's:\n got %v\nwant %v", in.Symbol, side.name, side.got, side.want)
						}
					}
				}
				sink.mu.Lock()
				problems, mismatches := slices.Clone(sink.problems), slices.Clone(sink.mismatches)
				sink.mu.Unlock()
				if len(problems) > 0 || len(mismatches) > 0 {
					t.Fatalf("the sink saw %v; snapshots out of alignment %v", problems, mismatches)
				}
			}
			caughtUp()
			if tc.fault != nil {
				tc.fault(t, s)
			}
			if err := s.Step(1000); err != nil {
				t.Fatal(err)
			}
			caughtUp()
			// Snapshots are recorded every 20 ms: one after this point
			// is aligned with everything above.
			_, _, _, _, before, _ := sink.state()
			waitFor("a snapshot", func() bool {
				_, _, _, _, n, _ := sink.state()
				return n > before+2
			})
			caughtUp()
			st := f.Status()
			if st.Lost != 0 || st.Gaps == 0 || st.Rebuilds != 0 {
				t.Errorf("status %+v", st)
			}
		})
	}
}

// feedpeerLevel is the level type the sink's book reports.
type feedpeerLevel = feedpeer.Level

// levelsOf converts the engine's levels.
func levelsOf[L ~struct {
	Price  refdata.Price
	Qty    int64
	Orders int
}](ls []L) []feedpeer.Level {
	out := make([]feedpeer.Level, len(ls))
	for i, l := range ls {
		out[i] = feedpeer.Level(l)
	}
	return out
}

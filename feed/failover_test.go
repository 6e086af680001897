package feed_test

import (
	"testing"
	"time"

	"sgw/feed"
	"sgw/sim"
	"sgw/sim/faultproxy"
)

func sourceStatus(f *feed.Feed, name string) feed.SourceStatus {
	for _, s := range f.Status().Sources {
		if s.Name == name {
			return s
		}
	}
	return feed.SourceStatus{}
}

func TestBothSourcesLive(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitFor("both sources up", func() bool {
		return sourceStatus(h.feed, "primary").Up && sourceStatus(h.feed, "backup").Up
	})
	for range 5 {
		h.step(400)
		h.caughtUp()
	}
	st := h.feed.Status()
	if st.Duplicates == 0 {
		t.Errorf("with both sources live the arbiter dropped no duplicate: %+v", st)
	}
}

func TestPrimaryKilledMidStream(t *testing.T) {
	h := newHarness(t, harnessOpts{backupTLS: true})
	h.waitFor("both sources up", func() bool {
		return sourceStatus(h.feed, "primary").Up && sourceStatus(h.feed, "backup").Up
	})
	h.step(300)
	// Kill the primary while the simulator keeps publishing.
	go func() { _ = h.sim.StopSource(sim.Primary) }()
	h.step(1000)
	h.caughtUp()
	h.waitFor("primary marked down", func() bool { return !sourceStatus(h.feed, "primary").Up })
	h.step(500)
	h.caughtUp()
	if err := h.sim.StartSource(sim.Primary); err != nil {
		t.Fatal(err)
	}
	h.waitFor("primary up again", func() bool { return sourceStatus(h.feed, "primary").Up })
	h.step(300)
	h.caughtUp()
}

// TestBackupKilledOverSecureLink: a backup over TLS, or over TLCP (the
// simulator's backup then serves only TLCP), killed and restarted, then
// carrying the feed alone.
func TestBackupKilledOverSecureLink(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts harnessOpts
	}{
		{name: "tls", opts: harnessOpts{backupTLS: true}},
		{name: "tlcp", opts: harnessOpts{backupTLCP: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.opts)
			h.waitFor("backup up", func() bool { return sourceStatus(h.feed, "backup").Up })
			if err := h.sim.StopSource(sim.Backup); err != nil {
				t.Fatal(err)
			}
			h.step(800)
			h.caughtUp()
			if err := h.sim.StartSource(sim.Backup); err != nil {
				t.Fatal(err)
			}
			h.waitFor("backup up again", func() bool { return sourceStatus(h.feed, "backup").Up })
			// Now only the backup (TLS or TLCP) carries the feed.
			if err := h.sim.StopSource(sim.Primary); err != nil {
				t.Fatal(err)
			}
			h.step(800)
			h.caughtUp()
		})
	}
}

func TestRangeDroppedOnOneSource(t *testing.T) {
	for _, src := range []sim.Source{sim.Primary, sim.Backup} {
		t.Run(src.String(), func(t *testing.T) {
			h := newHarness(t, harnessOpts{})
			h.waitFor("both sources up", func() bool {
				return sourceStatus(h.feed, "primary").Up && sourceStatus(h.feed, "backup").Up
			})
			h.step(100)
			h.caughtUp()
			next := h.sim.Next()
			if err := h.sim.DropRange(src, next+10, next+60); err != nil {
				t.Fatal(err)
			}
			h.step(400)
			h.caughtUp()
			if st := h.feed.Status(); st.Lost != 0 {
				t.Fatalf("lost %d", st.Lost)
			}
		})
	}
}

func TestRangeDroppedOnBothSources(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitFor("both sources up", func() bool {
		return sourceStatus(h.feed, "primary").Up && sourceStatus(h.feed, "backup").Up
	})
	h.step(100)
	h.caughtUp()
	next := h.sim.Next()
	for _, src := range []sim.Source{sim.Primary, sim.Backup} {
		if err := h.sim.DropRange(src, next+5, next+40); err != nil {
			t.Fatal(err)
		}
	}
	h.step(300)
	h.caughtUp()
	st := h.feed.Status()
	if st.Gaps == 0 || st.Rerequests == 0 {
		t.Fatalf("a range missing on both sources was not re-requested: %+v", st)
	}
}

func TestSourcesReordered(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	h.waitFor("both sources up", func() bool {
		return sourceStatus(h.feed, "primary").Up && sourceStatus(h.feed, "backup").Up
	})
	// The primary lags: the backup delivers first.
	if err := h.sim.Delay(sim.Primary, 30*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		h.step(30)
		time.Sleep(5 * time.Millisecond)
	}
	h.caughtUp()
	// Then the backup lags and the primary leads again.
	_ = h.sim.Delay(sim.Primary, 0)
	_ = h.sim.Delay(sim.Backup, 30*time.Millisecond)
	for range 10 {
		h.step(30)
		time.Sleep(5 * time.Millisecond)
	}
	h.caughtUp()
	st := h.feed.Status()
	if st.Sources[0].First == 0 || st.Sources[1].First == 0 {
		t.Fatalf("each source should have delivered some messages first: %+v", st.Sources)
	}
}

// TestSourceStalledSilently cuts the primary's path without closing it: the
// heartbeat timeout must mark it down while the backup carries on, and it
// must come back once the path heals.
func TestSourceStalledSilently(t *testing.T) {
	var proxy *faultproxy.Proxy
	h := newHarness(t, harnessOpts{primaryAddr: func(p, _ string) string {
		var err error
		if proxy, err = faultproxy.New(p); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { proxy.Close() })
		return proxy.Addr()
	}})
	h.waitFor("both sources up", func() bool {
		return sourceStatus(h.feed, "primary").Up && sourceStatus(h.feed, "backup").Up
	})
	h.step(200)
	h.caughtUp()
	proxy.Stall()
	h.step(300)
	h.caughtUp()
	h.waitFor("stalled primary marked down", func() bool { return !sourceStatus(h.feed, "primary").Up })
	if n := sourceStatus(h.feed, "primary").Errors["heartbeat_timeout"]; n == 0 {
		t.Fatalf("primary errors %v, want a heartbeat timeout", sourceStatus(h.feed, "primary").Errors)
	}
	h.step(300)
	h.caughtUp()
	proxy.Unstall()
	h.waitFor("primary up again", func() bool { return sourceStatus(h.feed, "primary").Up })
	h.step(100)
	h.caughtUp()
}

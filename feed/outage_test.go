package feed_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/feedpeer"
	"sgw/orderbook"
)

// outageGrace is the rigs' stale_after_outage: short, so that the tests
// do not wait the default 3 s for what they wait on.
const outageGrace = 200 * time.Millisecond

// staleBooks returns how many books of the rig are published as stale
// (the state REST, the WebSocket and the hub's snapshots show).
func (r *peerRig) staleBooks() int {
	var v orderbook.View
	n := 0
	for _, in := range testInstruments {
		id, _ := r.books.Lookup(in.Symbol)
		r.books.View(id, 1, &v)
		if v.State == orderbook.StateStale {
			n++
		}
	}
	return n
}

// allBooksStale reports whether every book of the rig is published as
// stale.
func (r *peerRig) allBooksStale() bool { return r.staleBooks() == len(testInstruments) }

// killBoth kills both sources (the simulator down, every feed source
// gone) and waits until the feed has marked every book stale for it.
func (r *peerRig) killBoth() {
	r.t.Helper()
	r.primary.Kill()
	r.backup.Kill()
	r.waitFeed("every book stale once no source was up for stale_after_outage", func() bool {
		return r.feed.Stale() && r.allBooksStale()
	})
	if st := r.feed.Status(); st.Outages != 1 {
		r.t.Fatalf("outages %d, want 1: %+v", st.Outages, st)
	}
}

// TestOutageStaleUntilReplayed: every source of a feed is killed (the
// operator drill: the simulator down). After stale_after_outage every
// book is published stale (the feed Stale, gateway_feed_stale 1) while
// the market moves on; a source returning logs in at the feed's next
// sequence and replays what was missed, its copy of the last message
// delivered equal to it: the books are valid again, right, without a
// rebuild (MarkStale, then Rebuilt, and no Restart). Before, the books
// were served valid, "state":"trading", for as long as the outage
// lasted.
func TestOutageStaleUntilReplayed(t *testing.T) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.StaleAfterOutage = outageGrace })
	r.check(r.publish(500))
	n := len(r.log.callsSince(0))
	r.killBoth()
	last := r.publish(800) // the market moves while the feed is blind
	if !r.allBooksStale() {
		t.Fatal("a book valid while no source is up")
	}
	if err := r.primary.Restart(); err != nil {
		t.Fatal(err)
	}
	r.check(last)
	if got, want := r.log.callsSince(n), []string{"stale", "rebuilt"}; !slices.Equal(got, want) {
		t.Fatalf("the books were told %v since the outage began, want %v (marked stale, valid once the gap was replayed, no rebuild)", got, want)
	}
	if st := r.feed.Status(); st.Rebuilds != 0 || st.Lost != 0 || st.Outages != 1 {
		t.Fatalf("rebuilds %d, lost %d, outages %d: want none, none, 1", st.Rebuilds, st.Lost, st.Outages)
	}
	if err := r.backup.Restart(); err != nil {
		t.Fatal(err)
	}
	r.check(r.publish(300))
}

// TestOutageReturnAboveNextStaleUntilRebuilt: after every source was
// down past stale_after_outage, the source that returns cannot replay
// (its login accepted above the sequence asked, SetJoinLive): nothing
// proves the books missed nothing, so they stay stale until the rebuild
// from sequence 1 that the gap it leaves begins has caught up (the
// first Rebuilt after the outage's MarkStale comes after a Restart), and
// are right then.
func TestOutageReturnAboveNextStaleUntilRebuilt(t *testing.T) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) {
		c.StaleAfterOutage = outageGrace
		c.RecoveryTimeout = 300 * time.Millisecond
	})
	r.lossy = true // what the returning source skipped is declared lost, then rebuilt
	r.check(r.publish(500))
	n := len(r.log.callsSince(0))
	r.killBoth()
	last := r.publish(800)
	r.primary.SetJoinLive(true)
	if err := r.primary.Restart(); err != nil {
		t.Fatal(err)
	}
	r.check(last)
	calls := r.log.callsSince(n)
	i := slices.Index(calls, "rebuilt")
	if len(calls) == 0 || calls[0] != "stale" || i < 0 || !slices.Contains(calls[:i], "restart") {
		t.Fatalf("the books were told %v since the outage began: want them marked stale, and valid only at the end of a rebuild from 1", calls)
	}
	if st := r.feed.Status(); st.Rebuilds == 0 || st.Outages != 1 {
		t.Fatalf("rebuilds %d, outages %d: want a rebuild, 1 outage", st.Rebuilds, st.Outages)
	}
}

// TestQuietMarketNoOutage: sources logged in and sending heartbeats
// while nothing is published (the lunch break) are up: no outage, the
// books valid, however long past stale_after_outage it lasts (here the
// gateway's client heartbeats show the time passing).
func TestQuietMarketNoOutage(t *testing.T) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.StaleAfterOutage = outageGrace })
	r.check(r.publish(300))
	hb := r.primary.Stats().ClientHeartbeats
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// The gateway heartbeats every 200 ms when it sends nothing: 4 more
	// span at least 3 grace periods.
	if err := r.primary.Wait(ctx, func(s feedpeer.ServerStats) bool { return s.ClientHeartbeats >= hb+4 }); err != nil {
		t.Fatal(err)
	}
	if st := r.feed.Status(); st.Stale || st.Outages != 0 || r.staleBooks() != 0 {
		t.Fatalf("a quiet market with its sources up taken for an outage: %+v", st)
	}
}

// TestStaleAfterOutageConfig: zero is the default, negative is refused,
// naming the key.
func TestStaleAfterOutageConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		grace time.Duration
		want  string // "" for valid
	}{
		{name: "default", grace: 0},
		{name: "set", grace: time.Second},
		{name: "negative", grace: -time.Second, want: "stale_after_outage -1s is negative"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := feed.Config{Name: "x", Primary: feed.SourceConfig{Addr: "127.0.0.1:9000"}, StaleAfterOutage: tc.grace}
			err := cfg.Check()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid config refused: %v", err)
			case tc.want != "" && (err == nil || !errors.Is(err, feed.ErrConfig) || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want ErrConfig naming %q", err, tc.want)
			}
		})
	}
}

// TestOutageHungSourcesNotUp: every source of a feed is lost, and each
// comes back as a hung distributor whose login handler still answers:
// its login is accepted and then nothing comes, not the copy of the last
// message delivered that the login asks for, not a heartbeat, until the
// feed resets it after heartbeat_timeout and logs in again at once. No
// source brings anything while the market moves: the books are marked
// stale after stale_after_outage. Then each sends the copy, equal to
// what was delivered, and nothing after it: the books stay stale, the
// messages missed still missing. Once a source serves the stream they
// are valid again, and right. Before, a source logged in counted as up
// whatever it sent: each hung login (a heartbeat_timeout long, the
// reconnects between far shorter than the grace) put the outage off
// again, the books served valid for as long as the sources stayed hung;
// and a login's copy alone ended an outage, the books valid, stuck
// where the feed stopped.
func TestOutageHungSourcesNotUp(t *testing.T) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.StaleAfterOutage = outageGrace })
	r.check(r.publish(500))
	next := r.feed.Next()
	srcs := []*feedpeer.ITCHServer{r.primary, r.backup}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// hungLogins waits until each source has been logged in twice more,
	// hung: two heartbeat timeouts, each many times the grace.
	hungLogins := func() {
		t.Helper()
		for _, s := range srcs {
			n := s.Stats().Logins
			if err := s.Wait(ctx, func(st feedpeer.ServerStats) bool { return st.Logins >= n+3 }); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, s := range srcs {
		s.SetHang(0)
		s.Kill()
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	last := r.publish(800) // the market moves while the feed is blind
	hungLogins()
	if st := r.feed.Status(); !st.Stale || st.Outages != 1 || st.Next != next {
		t.Fatalf("sources logged in that sent nothing for two heartbeat timeouts kept the books valid: %+v", st)
	}
	r.waitFeed("every book published stale", r.allBooksStale)
	for _, s := range srcs {
		s.SetHang(1) // the copy of the last message delivered, then nothing
	}
	hungLogins()
	if st := r.feed.Status(); !st.Stale || st.Outages != 1 || st.Next != next {
		t.Fatalf("sources that sent the copy their logins asked for and nothing after it ended the outage: %+v", st)
	}
	for _, s := range srcs {
		s.SetHang(-1)
	}
	r.check(last)
	if st := r.feed.Status(); st.Outages != 1 || st.Rebuilds != 0 {
		t.Fatalf("outages %d, rebuilds %d: want 1, none", st.Outages, st.Rebuilds)
	}
}

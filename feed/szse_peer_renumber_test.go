package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sgw/feed/feedpeer"
)

// TestSZSEIndependentPeerRenumbered: the independent peer's MDGW
// restarts without its records and numbers every channel from
// ApplSeqNum 1 again (another flow, stamped later): on the same day
// (outside the venue's rules: caught by records below a channel's next
// stamped after every one delivered) or on the next day (a new trading
// day), served by both sources at once or by the primary first while
// the backup still serves the old stream; with sessions that start at
// the beginning of the day, or live (as a real MDGW, the rest recovered
// by ReTransmit). Each channel is reset and rebuilt from ApplSeqNum 1 of
// the new stream: the test's sink sees every record of it once and in
// order after the reset, every book (the sink's and the gateway's)
// equals the peer's reference of the new stream alone, the gateway's
// books meet no order they do not expect, and nothing is lost.
func TestSZSEIndependentPeerRenumbered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		date    int64 // the new stream's; the old one's is 20250102
		stagger bool
		live    bool
	}{
		{name: "same day, both at once", date: 20250102},
		{name: "same day, the primary first", date: 20250102, stagger: true},
		{name: "same day, both at once, live sessions", date: 20250102, live: true},
		{name: "same day, the primary first, live sessions", date: 20250102, stagger: true, live: true},
		{name: "next day, the primary first", date: 20250103, stagger: true},
		{name: "next day, the primary first, live sessions", date: 20250103, stagger: true, live: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testSZSEPeerRenumbered(t, tc.date, tc.stagger, tc.live)
		})
	}
}

func testSZSEPeerRenumbered(t *testing.T, date int64, stagger, live bool) {
	r := newSZSERig(t, szseRigOpts{server: feedpeer.SZSEServerConfig{LiveStart: live}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.heartbeats()
	r.publish(900)
	r.caughtUp()
	old := map[uint16]uint64{}
	for _, ch := range r.pf.Channels() {
		old[ch] = r.pf.Last(ch)
	}

	flow, err := feedpeer.NewFlow(29, szseSymbols, feedpeer.FlowConfig{Dialect: feedpeer.DialectSZSE, StartTime: 10 * 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	nf, err := feedpeer.NewSZSEFeed(feedpeer.SZSEConfig{Date: date, Channels: r.pf.Channels(), SnapshotEvery: 50}, flow)
	if err != nil {
		t.Fatal(err)
	}
	// Some of the new stream is out before the sources log on to it.
	if err := nf.Publish(150); err != nil {
		t.Fatal(err)
	}
	restart := func(s *feedpeer.SZSEServer) error {
		logins := s.Stats().Logins
		if err := s.NewStream(nf); err != nil {
			return err
		}
		if err := s.Wait(ctx, func(st feedpeer.ServerStats) bool { return st.Logins > logins }); err != nil {
			return fmt.Errorf("the gateway did not log on to the new stream: %w", err)
		}
		return nil
	}
	if stagger {
		if err := restart(r.primary); err != nil {
			t.Fatal(err)
		}
		// (The counts published end between the peer's market actions:
		// a cut between a crossing order's add and its trades leaves the
		// reference book crossed, which the gateway's never is.)
		if err := nf.Publish(150); err != nil {
			t.Fatal(err)
		}
		if date != 20250102 {
			// A source on the next day is refused while the other
			// streams the channel's day (until it has been idle on it
			// for the heartbeat timeout): wait for the refusal.
			r.waitFor("the primary's new day refused", func() bool { return r.logs.has("session_mismatch", "source=primary") })
		}
		if err := restart(r.backup); err != nil {
			t.Fatal(err)
		}
	} else {
		errs := make(chan error, 2)
		for _, s := range []*feedpeer.SZSEServer{r.primary, r.backup} {
			go func() { errs <- restart(s) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	r.renumbered()
	r.pf = nf
	if err := nf.Publish(300); err != nil {
		t.Fatal(err)
	}
	r.waitFor("every channel reset", func() bool {
		_, _, resets, _, _, _ := r.sink.state()
		for _, ch := range nf.Channels() {
			if resets[ch] == 0 {
				return false
			}
		}
		return true
	})
	r.caughtUp()
	for _, ch := range nf.Channels() {
		if c := r.channel(ch); nf.Last(ch) >= old[ch] || c.Next != nf.Last(ch)+1 {
			t.Fatalf("channel %+v: the new stream has %d records, the old %d: want the new one, shorter", c, nf.Last(ch), old[ch])
		}
	}
	r.publish(300)
	r.caughtUp()

	st := r.feed.Status()
	_, _, resets, lives, _, _ := r.sink.state()
	t.Logf("status %+v; resets %v, lives %v", st, resets, lives)
	for _, ch := range nf.Channels() {
		if c := r.channel(ch); c.Lost != 0 || c.Rebuilds == 0 || c.Stale || c.Next != nf.Last(ch)+1 {
			t.Errorf("channel %+v: want the new stream delivered whole after a rebuild, nothing lost", c)
		}
	}
}

package feed_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"sgw/feed/feedpeer"
)

// TestSZSEIndependentPeerRenumberedPastTheOldEnd: the independent peer's
// MDGW restarts without its records and numbers every channel from
// ApplSeqNum 1 again on the same day, and by the time the gateway's
// sources log on to it the new stream already holds more records per
// channel than the gateway delivered. Sessions start live, so no record
// below a channel's next comes unasked (nothing stamped late shows the
// new numbering); the new session's ChannelHeartbeat claims more than was
// delivered, and the ReTransmit asked for it would bring the new stream's
// records at and beyond next. None of them may be applied to the old
// books: every channel is reset before the first record past the old
// stream's end is applied, and rebuilt from ApplSeqNum 1 of the new
// stream; every book (the sink's and the gateway's) ends equal to the
// peer's reference of the new stream, with no unknown order or error.
func TestSZSEIndependentPeerRenumberedPastTheOldEnd(t *testing.T) {
	for _, tc := range []struct {
		name    string
		stagger bool
	}{
		{name: "both at once"},
		{name: "the primary first", stagger: true},
	} {
		t.Run(tc.name, func(t *testing.T) { testSZSEPeerRenumberedLonger(t, tc.stagger) })
	}
}

func testSZSEPeerRenumberedLonger(t *testing.T, stagger bool) {
	r := newSZSERig(t, szseRigOpts{server: feedpeer.SZSEServerConfig{LiveStart: true}})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r.heartbeats()
	r.publish(600)
	r.caughtUp()
	old := map[uint16]int64{}
	for _, ch := range r.pf.Channels() {
		old[ch] = int64(r.pf.Last(ch))
	}
	_, _, resets0, _, _, _ := r.sink.state()
	// A record past the old stream's end applied with no reset since the
	// restart is the new stream's, applied to the old books.
	var mixed []string
	r.sink.mu.Lock()
	r.sink.onRecord = func(ch uint16, seq int64, resets int) {
		if seq > old[ch] && resets == resets0[ch] && len(mixed) < 10 {
			mixed = append(mixed, fmt.Sprintf("channel %d record %d (old end %d)", ch, seq, old[ch]))
		}
	}
	r.sink.mu.Unlock()

	flow, err := feedpeer.NewFlow(29, szseSymbols, feedpeer.FlowConfig{Dialect: feedpeer.DialectSZSE, StartTime: 10 * 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	nf, err := feedpeer.NewSZSEFeed(feedpeer.SZSEConfig{Date: 20250102, Channels: r.pf.Channels(), SnapshotEvery: 50}, flow)
	if err != nil {
		t.Fatal(err)
	}
	// The new stream is past the old one's end before the sources log on.
	if err := nf.Publish(900); err != nil {
		t.Fatal(err)
	}
	for _, ch := range nf.Channels() {
		if int64(nf.Last(ch)) <= old[ch] {
			t.Fatalf("channel %d: the new stream has %d records, the old %d: want it longer", ch, nf.Last(ch), old[ch])
		}
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
		if err := nf.Publish(150); err != nil {
			t.Fatal(err)
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
	r.waitFor("every record of the new stream delivered", func() bool {
		last, stale, _, _, _, _ := r.sink.state()
		for _, ch := range nf.Channels() {
			if last[ch] != int64(nf.Last(ch)) || stale[ch] {
				return false
			}
		}
		return true
	})
	_, _, resets, _, _, problems := r.sink.state()
	r.sink.mu.Lock()
	applied := mixed
	r.sink.onRecord = nil
	r.sink.mu.Unlock()
	st := r.books.Stats()
	t.Logf("resets %v (before %v); books %+v; status %+v", resets, resets0, st, r.feed.Status())
	if len(applied) > 0 || len(problems) > 0 || st.UnknownOrder != 0 {
		t.Fatalf("the new stream's records were applied to the old books: %v; the sink saw %v; the gateway's books counted %d unknown orders",
			applied, problems, st.UnknownOrder)
	}
	for _, ch := range nf.Channels() {
		if resets[ch] == resets0[ch] {
			t.Errorf("channel %d was not reset", ch)
		}
	}
	r.caughtUp()
	r.publish(300)
	r.caughtUp()
	for _, ch := range nf.Channels() {
		if c := r.channel(ch); c.Lost != 0 || c.Rebuilds == 0 || c.Stale || c.Next != nf.Last(ch)+1 {
			t.Errorf("channel %+v: want the new stream delivered whole after a rebuild, nothing lost", c)
		}
	}
}

package feed_test

import (
	"testing"

	"sgw/feed/feedpeer"
)

// Both SZSE sources come back from a restart replaying the day from its
// first record, far behind what the books already hold: they are logged in
// but neither is caught up (gateway_feed_source_up 0), so the feed is not
// ready either. /readyz and the metric say the same thing, and both turn
// once a source has caught up.
func TestSZSEReadyNeedsASourceCaughtUp(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{})
	r.heartbeats()
	r.publish(3000)
	r.caughtUp()
	if !r.feed.Ready() {
		t.Fatal("not ready with both sources caught up")
	}
	for _, s := range []*feedpeer.SZSEServer{r.primary, r.backup} {
		s.SetLag(1 << 20) // a new session replays nothing yet
		s.Kill()
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	r.waitFor("both sources logged in again", func() bool {
		return r.primary.Stats().Logins >= 2 && r.backup.Stats().Logins >= 2 &&
			r.source("primary").State == "live" && r.source("backup").State == "live"
	})
	p, b := r.source("primary"), r.source("backup")
	if p.Up || b.Up {
		t.Fatalf("a source replaying from the start is up: primary %+v, backup %+v", p, b)
	}
	if r.feed.Ready() {
		t.Fatal("ready while no source is caught up")
	}
	for _, s := range []*feedpeer.SZSEServer{r.primary, r.backup} {
		s.SetLag(0)
	}
	r.waitFor("a source caught up and the feed ready", func() bool {
		return (r.source("primary").Up || r.source("backup").Up) && r.feed.Ready()
	})
}

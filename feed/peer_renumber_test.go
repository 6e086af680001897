package feed_test

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/feedpeer"
)

// deliveryLog is the gateway's ITCH decoder with every message the feed
// delivered to it since the last Restart kept beside it, and its
// Restart, MarkStale and Rebuilt calls counted: the stream the books were
// built from, to hold against the peer's own. Its methods are called by
// the feed one at a time (the arbiter's lock held); the test reads it
// from its goroutine under mu.
type deliveryLog struct {
	*feed.ITCHDecoder

	mu                        sync.Mutex
	msgs                      [][]byte // delivered since the last Restart
	restarts, stales, rebuilt int
	// firstStale is how many messages had been delivered when the books
	// were first marked stale or restarted, once staleSeen.
	firstStale int
	staleSeen  bool
	// calls lists the calls of Restart, MarkStale and Rebuilt in order:
	// "restart", "stale", "rebuilt".
	calls []string
}

// callsSince returns the calls of Restart, MarkStale and Rebuilt from
// the nth on, in order.
func (d *deliveryLog) callsSince(n int) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.calls[min(n, len(d.calls)):])
}

// markedStale records the books' first staleness. mu held.
func (d *deliveryLog) markedStale() {
	if !d.staleSeen {
		d.staleSeen, d.firstStale = true, len(d.msgs)
	}
}

// staleAt returns how many messages had been delivered when the books
// were first marked stale or restarted, and whether they have been.
func (d *deliveryLog) staleAt() (int, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.firstStale, d.staleSeen
}

var (
	_ feed.Rebuilder = (*deliveryLog)(nil)
	_ feed.Staler    = (*deliveryLog)(nil)
	_ feed.Misser    = (*deliveryLog)(nil)
)

func (d *deliveryLog) Apply(msg []byte, recv int64) error {
	d.mu.Lock()
	d.msgs = append(d.msgs, bytes.Clone(msg))
	d.mu.Unlock()
	return d.ITCHDecoder.Apply(msg, recv)
}

func (d *deliveryLog) Restart() error {
	d.mu.Lock()
	d.markedStale()
	d.msgs = nil
	d.restarts++
	d.calls = append(d.calls, "restart")
	d.mu.Unlock()
	return d.ITCHDecoder.Restart()
}

func (d *deliveryLog) MarkStale() error {
	d.mu.Lock()
	d.markedStale()
	d.stales++
	d.calls = append(d.calls, "stale")
	d.mu.Unlock()
	return d.ITCHDecoder.MarkStale()
}

func (d *deliveryLog) Rebuilt() error {
	d.mu.Lock()
	d.rebuilt++
	d.calls = append(d.calls, "rebuilt")
	d.mu.Unlock()
	return d.ITCHDecoder.Rebuilt()
}

// counts returns how many messages were delivered since the last
// Restart, and the calls of Restart, MarkStale and Rebuilt.
func (d *deliveryLog) counts() (delivered, restarts, stales, rebuilt int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.msgs), d.restarts, d.stales, d.rebuilt
}

// checkStream waits until the feed has delivered, since the books' last
// restart, as many messages as the peer's feed has published, then
// checks that they are that feed's messages 1, 2, ... in order: nothing
// of another stream, nothing twice, nothing left out.
func (r *peerRig) checkStream() {
	r.t.Helper()
	last := r.pf.Last()
	r.waitFeed("the stream delivered since the last restart", func() bool {
		n, _, _, _ := r.log.counts()
		return uint64(n) >= last
	})
	r.log.mu.Lock()
	got := r.log.msgs
	r.log.mu.Unlock()
	if uint64(len(got)) != last {
		r.t.Fatalf("delivered %d messages since the last restart, the peer published %d", len(got), last)
	}
	for i, m := range got {
		want, _ := r.pf.Packet(uint64(i + 1))
		if !bytes.Equal(m, want[3:]) {
			r.t.Fatalf("message %d delivered since the last restart is not the peer's sequence %d: %x, want %x", i+1, i+1, m, want[3:])
		}
	}
	if n := r.feed.Next(); n != last+1 {
		r.t.Fatalf("the feed's next is %d, want %d", n, last+1)
	}
}

// waitFeed waits until cond holds, polling: the feed has no notification
// of its state. It fails the test after a generous deadline.
func (r *peerRig) waitFeed(what string, cond func() bool) {
	r.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			r.t.Fatalf("waiting for %s: status %+v", what, r.feed.Status())
		}
		time.Sleep(2 * time.Millisecond) // the feed has no state notification; poll it
	}
}

// renumberedFeed returns the peer feed of a venue restarted without its
// messages: another flow, numbered from 1, stamped from start (ns since
// midnight).
func renumberedFeed(t *testing.T, start int64) *feedpeer.ITCHFeed {
	t.Helper()
	var syms []string
	for _, in := range testInstruments {
		syms = append(syms, in.Symbol[:len(in.Symbol)-3])
	}
	flow, err := feedpeer.NewFlow(23, syms, feedpeer.FlowConfig{StartTime: start})
	if err != nil {
		t.Fatal(err)
	}
	pf, err := feedpeer.NewITCHFeed(feedpeer.ITCHConfig{Seed: 31}, flow)
	if err != nil {
		t.Fatal(err)
	}
	return pf
}

// TestIndependentITCHPeerRenumbered: the independent peer's venue
// restarts without its messages and numbers a new stream from 1 (a new
// flow, stamped later than the old one), served by both sources, either
// at once or the primary first while the backup still serves the old
// stream. Under the old SoupBinTCP session name (outside the protocol:
// caught by the copies stamped after every message delivered) the books
// are marked stale and rebuilt; under a new session name (a new day, a
// restart done by the book) a source of it is refused while the other
// streams the old session, and the stream switches once neither does.
// Each ends with the books built from the new stream alone: exactly its
// messages 1..last delivered since their last restart (nothing of the
// old numbering after it, nothing twice, nothing skipped), every book
// equal to the peer's reference of the new stream, nothing lost, and no
// order the books did not expect.
func TestIndependentITCHPeerRenumbered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		session string // the new stream's; empty: the old name
		stagger bool   // the primary first, the backup later
	}{
		{name: "same session, both at once"},
		{name: "same session, the primary first", stagger: true},
		{name: "new session, both at once", session: "DAY2"},
		{name: "new session, the primary first", session: "DAY2", stagger: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			testITCHPeerRenumbered(t, tc.session, tc.stagger)
		})
	}
}

func testITCHPeerRenumbered(t *testing.T, session string, stagger bool) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.RecoveryTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old := r.publish(2500)
	r.check(old)
	if _, restarts, _, _ := r.log.counts(); restarts != 0 {
		t.Fatalf("restarted %d times before the renumbering", restarts)
	}

	nf := renumberedFeed(t, 10*3600e9) // 10:00, the old stream ended about 09:30:01
	// Some of the new stream is out before the sources log in to it: a
	// login asking beyond its end is served from its next message, so
	// the gateway sees the renumbering only in what comes after, and
	// must rebuild to have what came before.
	if _, _, err := nf.Publish(200); err != nil {
		t.Fatal(err)
	}
	// restart serves the new stream on s and waits until the gateway
	// has logged in to it (when the stream may be its: a new session
	// streamed by the other source is refused at once).
	restart := func(s *feedpeer.ITCHServer) error {
		logins := s.Stats().Logins
		if err := s.NewStream(nf, session); err != nil {
			return err
		}
		if err := s.Wait(ctx, func(st feedpeer.ServerStats) bool { return st.Logins > logins }); err != nil {
			return fmt.Errorf("the gateway did not log in to the new stream: %w", err)
		}
		return nil
	}
	if stagger {
		logins := r.primary.Stats().Logins
		if err := restart(r.primary); err != nil {
			t.Fatal(err)
		}
		if session != "" {
			// The primary's new session is refused while the backup
			// streams the old one: the books go on from the backup.
			if err := r.primary.Wait(ctx, func(st feedpeer.ServerStats) bool { return st.Logins >= logins+3 }); err != nil {
				t.Fatalf("the gateway did not log in again on the new session: %v", err)
			}
			r.check(old)
			if st := r.feed.Status(); st.Rebuilds != 0 || st.Diverged != 0 || st.Stale {
				t.Fatalf("the old session's books disturbed by the new session's source: %+v", st)
			}
		} else {
			// The primary's copies below next, stamped after every
			// message delivered, show another stream: the books are
			// marked stale.
			if _, _, err := nf.Publish(100); err != nil {
				t.Fatal(err)
			}
			r.waitFeed("a divergence", func() bool { return r.feed.Status().Diverged > 0 })
			r.waitFeed("the books marked stale", func() bool { _, restarts, stales, _ := r.log.counts(); return restarts+stales > 0 })
		}
		if err := restart(r.backup); err != nil {
			t.Fatal(err)
		}
	} else {
		errs := make(chan error, 2)
		for _, s := range []*feedpeer.ITCHServer{r.primary, r.backup} {
			go func() { errs <- restart(s) }()
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, _, err := nf.Publish(300); err != nil {
		t.Fatal(err)
	}
	r.renumbered(r.pf.Last())
	r.pf = nf
	r.waitFeed("a restart of the books", func() bool { _, restarts, _, _ := r.log.counts(); return restarts > 0 })
	r.check(nf.Last())
	r.checkStream()
	r.check(r.publish(500))
	r.checkStream()

	st := r.feed.Status()
	_, restarts, stales, rebuilt := r.log.counts()
	t.Logf("status %+v; restarts %d, marked stale %d, rebuilt %d", st, restarts, stales, rebuilt)
	if st.Lost != 0 || st.Stale || st.Rebuilds == 0 || rebuilt == 0 {
		t.Errorf("status %+v, rebuilt %d: want a rebuild done, nothing lost", st, rebuilt)
	}
	if session == "" && st.Diverged == 0 {
		t.Errorf("status %+v: the renumbering was not seen as a divergence", st)
	}
	if bs := r.books.Stats(); bs.UnknownOrder+bs.DuplicateOrder != 0 {
		t.Errorf("the books met orders they did not expect (a message of one stream applied to the other's books): %+v", bs)
	}
	// The source a rebuild took nothing from rejoins once it is done.
	r.waitFeed("both sources live", func() bool {
		for _, s := range r.feed.Status().Sources {
			if s.State != "live" || !s.Up {
				return false
			}
		}
		return true
	})
}

// TestIndependentITCHPeerRenumberedPastTheOldEnd: the venue restarted
// without its messages under the old session name, and its new stream
// is already longer than the old one when the gateway logs in again: a
// login from the old stream's next would be accepted there, nothing below
// it would come, and no copy stamped late would show the renumbering.
// The sources log in asking for a copy of the last message delivered
// (Arbiter.LoginFrom); the new stream's message under that number
// differs, so the books are marked stale before any message of the new
// stream is applied to them, and rebuilt from its sequence 1: they end
// equal to the new stream's reference, nothing lost, no order they did
// not expect. Before, the login asked for the old stream's next, the new
// stream's messages were applied to the old books, which were served as
// valid until they met an order they did not expect (125 unknown orders,
// 11 duplicates and 5 over-executions in one run) and asked for a
// rebuild (Misser).
func TestIndependentITCHPeerRenumberedPastTheOldEnd(t *testing.T) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.RecoveryTimeout = 300 * time.Millisecond })
	old := r.publish(2500)
	r.check(old)
	if _, seen := r.log.staleAt(); seen {
		t.Fatal("the books were marked stale before the renumbering")
	}
	nf := renumberedFeed(t, 10*3600e9)
	if _, _, err := nf.Publish(3000); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*feedpeer.ITCHServer{r.primary, r.backup} {
		if err := s.NewStream(nf, ""); err != nil {
			t.Fatal(err)
		}
	}
	r.renumbered(r.pf.Last())
	r.pf = nf
	r.waitFeed("a restart of the books", func() bool { _, restarts, _, _ := r.log.counts(); return restarts > 0 })
	if n, _ := r.log.staleAt(); uint64(n) != old {
		t.Errorf("the books were first marked stale with %d messages delivered, want the old stream's %d: %d of the new stream applied to the old books", n, old, uint64(n)-old)
	}
	r.check(nf.Last())
	r.checkStream()
	r.check(r.publish(300))
	r.checkStream()
	st := r.feed.Status()
	bs := r.books.Stats()
	t.Logf("status %+v; books %+v", st, bs)
	if st.Lost != 0 || st.Stale || st.Diverged == 0 || st.MissedRebuilds != 0 {
		t.Errorf("status %+v: want the renumbering caught as a divergence at the login, not by the books; nothing lost", st)
	}
	if bs.UnknownOrder+bs.DuplicateOrder+bs.OverExecution != 0 {
		t.Errorf("the books met orders they did not expect (the new stream applied to the old books): %+v", bs)
	}
}

// TestIndependentITCHPeerRenumberedAcceptedAbove: the primary's venue
// restarted without its messages under the old session name, its new
// stream already longer than the old one, and its server cannot replay
// mid-stream: the login asking for a copy of the last message delivered
// is accepted above it (at the new stream's next message), so no copy
// is compared. The backup still serves the old stream and fills the gap
// below the primary's first message, up to where the old stream ends.
// The primary's messages are not taken before one of them is seen to
// equal the backup's message under that number; none is, the backup
// goes quiet, and the primary alone passes next: the books are rebuilt
// from it, from sequence 1 (what it can no longer replay declared lost),
// before any message of the new stream is applied to the old books,
// which end equal to the new stream's reference. Before, the primary's messages were applied
// to the old books once the backup had filled the gap, and served as
// valid.
func TestIndependentITCHPeerRenumberedAcceptedAbove(t *testing.T) {
	r := newPeerRigTuned(t, feedpeer.TrackingRandom, false, func(c *feed.Config) { c.RecoveryTimeout = 300 * time.Millisecond })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	old := r.publish(2500)
	r.check(old)
	end := old + 500 // where the old stream ends
	nf := renumberedFeed(t, 10*3600e9)
	if _, last, err := nf.Publish(int(end - nf.Last())); err != nil || last != end {
		t.Fatalf("the new stream published to %d (%v), want %d", last, err, end)
	}
	logins := r.primary.Stats().Logins
	r.primary.SetJoinLive(true)
	if err := r.primary.NewStream(nf, ""); err != nil {
		t.Fatal(err)
	}
	if err := r.primary.Wait(ctx, func(st feedpeer.ServerStats) bool { return st.Logins > logins }); err != nil {
		t.Fatal(err)
	}
	if st := r.primary.Stats(); st.LastLogin != end+1 {
		t.Fatalf("the primary's login accepted at %d, want %d (above the request)", st.LastLogin, end+1)
	}
	// The backup fills the gap with the old stream, up to its end.
	if last := r.publish(int(end - old)); last != end {
		t.Fatalf("the old stream published to %d, want %d", last, end)
	}
	r.check(end)
	// The new stream goes on, on the primary alone.
	if _, _, err := nf.Publish(300); err != nil {
		t.Fatal(err)
	}
	r.waitFeed("a restart of the books", func() bool { _, restarts, _, _ := r.log.counts(); return restarts > 0 })
	// The primary, asked again, could not replay what it had sent: that
	// is declared lost, and the rebuild from 1 brings it.
	r.lossy = true
	if n, _ := r.log.staleAt(); uint64(n) != end {
		t.Errorf("the books were first marked stale with %d messages delivered, want the old stream's %d: %d of the new stream applied to the old books", n, end, n-int(end))
	}
	// The backup's venue restarts too.
	if err := r.backup.NewStream(nf, ""); err != nil {
		t.Fatal(err)
	}
	r.renumbered(r.pf.Last())
	r.pf = nf
	r.check(nf.Last())
	r.checkStream()
	r.check(r.publish(300))
	r.checkStream()
	st := r.feed.Status()
	bs := r.books.Stats()
	t.Logf("status %+v; books %+v", st, bs)
	if st.Stale || st.MissedRebuilds != 0 || st.Rebuilds == 0 {
		t.Errorf("status %+v: want the unverified source's stream rebuilt, not found by the books", st)
	}
	if bs.UnknownOrder+bs.DuplicateOrder+bs.OverExecution != 0 {
		t.Errorf("the books met orders they did not expect (the new stream applied to the old books): %+v", bs)
	}
}

package feed_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/feed"
	"sgw/feed/feedpeer"
	"sgw/orderbook"
)

// callsSince returns the sink's ResetChannel, StaleChannel and
// ChannelLive calls from the nth on.
func (b *bookSink) callsSince(n int) []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.calls[min(n, len(b.calls)):])
}

// count returns how many logged lines contain every one of parts.
func (r *logRecorder) count(parts ...string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, l := range *r.lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			n++
		}
	}
	return n
}

// restartPrimary restarts the primary after killBoth and waits for its
// session's first ChannelHeartbeat (from then on its snapshots are
// delivered), then publishes more: snapshots, which prove the snapshot
// channel.
func (r *szseRig) restartPrimary() {
	r.t.Helper()
	hb := r.logs.count("first ChannelHeartbeat", "source=primary")
	if err := r.primary.Restart(); err != nil {
		r.t.Fatal(err)
	}
	r.waitFor("the primary's ChannelHeartbeat", func() bool {
		return r.logs.count("first ChannelHeartbeat", "source=primary") > hb
	})
	r.publish(200)
}

// killBoth kills both sources and waits until every channel is stale
// for the outage, in the test's sink, the feed and the gateway's books.
func (r *szseRig) killBoth() {
	r.t.Helper()
	r.primary.Kill()
	r.backup.Kill()
	r.waitFor("every channel stale once no source was up for stale_after_outage", func() bool {
		_, stale, _, _, _, _ := r.sink.state()
		for _, ch := range r.pf.Channels() {
			if !stale[ch] {
				return false
			}
		}
		stale = map[uint16]bool{}
		for _, ch := range r.feed.Stale() {
			stale[ch] = true
		}
		for _, ch := range r.pf.Channels() {
			if !stale[ch] {
				return false
			}
		}
		return true
	})
	deadline := time.Now().Add(30 * time.Second)
	var v orderbook.View
	for _, sym := range szseSymbols {
		id, _ := r.books.Lookup(sym + ".SZ")
		for r.books.View(id, 1, &v); v.State != orderbook.StateStale; r.books.View(id, 1, &v) {
			if time.Now().After(deadline) {
				r.t.Fatalf("%s published %v while no source is up", sym, v.State)
			}
			time.Sleep(2 * time.Millisecond) // the shards apply asynchronously; poll the book
		}
	}
	if st := r.feed.Status(); st.Outages != 1 {
		r.t.Fatalf("outages %d, want 1", st.Outages)
	}
}

// TestSZSEOutageStaleUntilRetransmitted: both sources of an SZSE feed
// killed; after stale_after_outage every channel is stale (its books
// kept, published stale); the market moves on. A source returning
// announces what it has (ChannelHeartbeat), the gap is retransmitted and
// its copy of the last record delivered verifies it: every channel of
// records is live again, its books right, without a rebuild (the
// snapshot channel once a snapshot is delivered). Before, the books were
// served valid for as long as every source was down.
func TestSZSEOutageStaleUntilRetransmitted(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{tune: func(c *feed.Config) { c.StaleAfterOutage = outageGrace }})
	r.heartbeats()
	r.publish(500)
	r.caughtUp()
	n := len(r.sink.callsSince(0))
	r.killBoth()
	r.publish(500)
	r.restartPrimary()
	r.caughtUp()
	calls := r.sink.callsSince(n)
	for _, ch := range r.pf.Channels() {
		var got []string
		for _, c := range calls {
			if c[len(c)-4:] == fmt.Sprint(ch) {
				got = append(got, c)
			}
		}
		if want := []string{fmt.Sprintf("stale %d", ch), fmt.Sprintf("live %d", ch)}; !slices.Equal(got, want) {
			t.Errorf("channel %d told %v since the outage began, want %v", ch, got, want)
		}
		if c := r.channel(ch); c.Rebuilds != 0 || c.Lost != 0 || c.Stale {
			t.Errorf("channel %+v: want no rebuild, no loss, not stale", c)
		}
	}
}

// TestSZSEOutageLossStaleUntilRebuilt: after the outage the returning
// source has lost what was missed on channel 2011 and refuses to resend
// it: the range is
// lost and the channel rebuilt from ApplSeqNum 1. It stays stale until
// then: ChannelLive comes only after the ResetChannel, once the rebuild
// has caught up and the source is verified.
func TestSZSEOutageLossStaleUntilRebuilt(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{server: feedpeer.SZSEServerConfig{MaxRetransmit: 300}, tune: func(c *feed.Config) {
		c.StaleAfterOutage = outageGrace
		c.RecoveryTimeout = 300 * time.Millisecond
		c.MaxRecoveryAttempts = 2
	}})
	r.heartbeats()
	r.publish(500)
	r.caughtUp()
	n := len(r.sink.callsSince(0))
	l := r.pf.Last(2011)
	r.killBoth()
	r.publish(500)
	// The returning source has lost what it sent while the gateway was
	// blind: its session leaves it out, and it cannot resend it.
	r.dropRange(r.primary, 2011, l+1, r.pf.Last(2011))
	r.primary.RefuseRetransmit(2011, l+1, r.pf.Last(2011))
	if err := r.primary.Restart(); err != nil {
		t.Fatal(err)
	}
	r.waitFor("channel 2011 reset", func() bool {
		_, _, resets, _, _, _ := r.sink.state()
		return resets[2011] > 0
	})
	r.primary.ClearRefusals()
	r.waitFor("the channels of records live again", func() bool {
		calls := r.sink.callsSince(n)
		return slices.Contains(calls, "live 2011") && slices.Contains(calls, "live 2012")
	})
	calls := r.sink.callsSince(n)
	reset, live := slices.Index(calls, "reset 2011"), slices.Index(calls, "live 2011")
	if len(calls) == 0 || reset < 0 || live < reset || !slices.Contains(calls[:reset], "stale 2011") {
		t.Fatalf("the sink was told %v since the outage began: want channel 2011 stale, reset, and live only after", calls)
	}
	r.publish(200) // snapshots, which prove the snapshot channel
	r.caughtUp()
	if c := r.channel(2011); c.Lost == 0 || c.Rebuilds == 0 {
		t.Errorf("channel %+v: want a loss and a rebuild", c)
	}
}

// TestSZSEOutageHungSourcesNotUp: both sources of an SZSE feed are lost
// and come back as hung MDGWs whose Logon handler still answers: the
// Logon is answered and then nothing comes, no record, no heartbeat,
// until the feed resets the source after heartbeat_timeout and logs on
// again at once. No source brings anything while the market moves:
// every channel is marked stale after stale_after_outage, and live again
// once a source serves the stream. Before, a source logged on counted as
// up whatever it sent: each hung Logon (a heartbeat_timeout long, the
// reconnects between far shorter than the grace) put the outage off
// again, the books served valid for as long as the sources stayed hung.
func TestSZSEOutageHungSourcesNotUp(t *testing.T) {
	r := newSZSERig(t, szseRigOpts{tune: func(c *feed.Config) { c.StaleAfterOutage = outageGrace }})
	r.heartbeats()
	r.publish(500)
	r.caughtUp()
	srcs := []*feedpeer.SZSEServer{r.primary, r.backup}
	var logins [2]int
	for i, s := range srcs {
		logins[i] = s.Stats().Logins
		s.SetHang(true)
		s.Kill()
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
	r.publish(500) // the market moves while the feed is blind
	// Three hung Logons on each source span two heartbeat timeouts,
	// each many times the grace.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i, s := range srcs {
		if err := s.Wait(ctx, func(st feedpeer.ServerStats) bool { return st.Logins >= logins[i]+3 }); err != nil {
			t.Fatal(err)
		}
	}
	st, stale := r.feed.Status(), r.feed.Stale()
	for _, ch := range r.pf.Channels() {
		if st.Outages != 1 || !slices.Contains(stale, ch) {
			t.Fatalf("sources logged on that sent nothing for two heartbeat timeouts kept channel %d live: stale %v, %+v", ch, stale, st)
		}
	}
	hb := r.logs.count("first ChannelHeartbeat", "source=primary")
	for _, s := range srcs {
		s.SetHang(false)
	}
	r.waitFor("the primary's ChannelHeartbeat", func() bool {
		return r.logs.count("first ChannelHeartbeat", "source=primary") > hb
	})
	r.publish(200) // snapshots, which prove the snapshot channel
	r.caughtUp()
	if st := r.feed.Status(); st.Outages != 1 || st.Rebuilds != 0 {
		t.Fatalf("outages %d, rebuilds %d: want 1, none", st.Outages, st.Rebuilds)
	}
}

package feed

import (
	"slices"
	"testing"
	"time"

	"sgw/feed/szse"
)

// TestSZSEWindowBudget: records far ahead on many channels grow their
// windows only within a feed-wide budget (szseGrowBudget windows); beyond
// it they are dropped as overflow, to be asked for again once delivery
// reaches them, and a window that empties gives its growth back. Before,
// one record per channel at ApplSeqNum Window pinned every channel's
// whole window: 1.5 GiB for 16 KB of input with the default window.
func TestSZSEWindowBudget(t *testing.T) {
	const window = 1 << 12
	r := newArbRig(t, func(c *Config) { c.Window = window })
	grownBy := window - szseFirstWindow
	for ch := range uint16(10) {
		r.mustOffer(Backup, 3000+ch, window, window)
	}
	var grown, overflowed int
	for _, ch := range r.a.channels() {
		grown += len(ch.win) - szseFirstWindow
		overflowed += int(ch.overflow.Load())
	}
	if fit := szseGrowBudget * window / grownBy; grown != fit*grownBy || grown != r.a.grown || overflowed != 10-fit {
		t.Fatalf("%d slots grown (counted %d), %d records overflowed; want %d channels' windows grown, the rest overflowed",
			grown, r.a.grown, overflowed, fit)
	}
	// Channel 3000's gap filled: its window empties. The backup's record
	// held at window waits (the primary's record 1 was delivered first:
	// firstDelivered) until the primary's copy is delivered in its place.
	r.mustOffer(Primary, 3000, 1, window)
	if c := r.channel(3000); c.Next != window+1 {
		t.Fatalf("channel 3000: %+v", c)
	}
	if ch := r.a.chans.get(3000); len(ch.win) != szseFirstWindow || r.a.grown != grown-grownBy {
		t.Fatalf("the emptied window kept %d slots; %d counted grown", len(ch.win), r.a.grown)
	}
	r.mustOffer(Primary, 3009, window, window) // an overflowed channel now fits
	if ch := r.a.chans.get(3009); len(ch.win) != window {
		t.Fatalf("channel 3009's window %d, want %d", len(ch.win), window)
	}
}

// TestSZSEChannelTableFull: a source cannot take the channel table's
// places that the other source's channels need. Each source brings at most
// half the table; one at its share gives up a channel of its own that
// showed neither records nor a delivered snapshot for a record of a new
// channel. Before, a source naming 256 ChannelNos, in heartbeats or in
// records, had a real channel's records dropped on both sources (counted
// as over the limit) while the feed stayed ready.
func TestSZSEChannelTableFull(t *testing.T) {
	const share = szseMaxChannels / 2
	for _, by := range []string{"heartbeats", "records"} {
		t.Run(by, func(t *testing.T) {
			r := newArbRig(t, nil)
			for ch := range uint16(szseMaxChannels) {
				if by == "heartbeats" {
					r.heartbeat(Backup, 3000+ch, 0)
				} else {
					r.mustOffer(Backup, 3000+ch, 1, 1)
				}
			}
			r.sink.take()
			if n, over := len(r.a.channels()), r.a.overLimit.Load(); n != share || over != szseMaxChannels-share {
				t.Fatalf("%d channels, %d over the limit; want the backup's share %d", n, over, share)
			}
			r.mustOffer(Primary, 2011, 1, 3)
			r.expect(seqs(2011, 1, 3)...)
			// The backup's own new channel: one of its idle channels gives
			// way, or, when all carry records, the record is dropped.
			over := r.a.overLimit.Load()
			r.mustOffer(Backup, 2012, 1, 1)
			got := r.sink.take()
			if by == "heartbeats" && (len(got) != 1 || r.a.overLimit.Load() != over || len(r.a.channels()) != share+1) {
				t.Fatalf("an idle channel did not give way: delivered %v, %d channels", got, len(r.a.channels()))
			}
			if by == "records" && (len(got) != 0 || r.a.overLimit.Load() != over+1) {
				t.Fatalf("a channel with records gave way: delivered %v", got)
			}
		})
	}
}

// TestSZSEShareReleased: when a source's session ends, the channels it
// named first that nothing but its claims showed leave the table and its
// share; one the other source names in its session passes to it; a channel
// with records stays the source's.
func TestSZSEShareReleased(t *testing.T) {
	r := newArbRig(t, nil)
	r.mustOffer(Backup, 2011, 1, 3)
	for ch := range uint16(szseMaxChannels) {
		r.heartbeat(Backup, 3000+ch, 0)
	}
	r.heartbeat(Primary, 3000, 0)
	if b := r.a.brought; b != [2]int{0, szseMaxChannels / 2} || !r.a.full[Backup] {
		t.Fatalf("brought %v, full %v", b, r.a.full)
	}
	r.a.SourceDown(Backup)
	if b := r.a.brought; b != [2]int{1, 1} || r.a.full[Backup] || len(r.a.channels()) != 2 {
		t.Fatalf("after the backup's session ended: brought %v, full %v, %d channels", b, r.a.full, len(r.a.channels()))
	}
	if ch := r.a.chans.get(3000); ch == nil || ch.by != Primary {
		t.Fatalf("channel 3000, which the primary names, is not the primary's: %+v", ch)
	}
	if ch := r.a.chans.get(2011); ch == nil || ch.by != Backup {
		t.Fatalf("channel 2011, with records, was released: %+v", ch)
	}
}

// primaryClaims returns a rig whose primary alone (the backup is down)
// delivered channel 2011's records 1..5 and claims 6..10 in a
// ChannelHeartbeat.
func primaryClaims(t *testing.T) *arbRig {
	t.Helper()
	r := newArbRig(t, nil)
	r.a.SourceDown(Backup)
	r.mustOffer(Primary, 2011, 1, 5)
	r.heartbeat(Primary, 2011, 10)
	r.expect(seqs(2011, 1, 5)...)
	return r
}

// bothSent returns a rig in which both sources sent channel 2011's records
// 1..5, delivered.
func bothSent(t *testing.T) *arbRig {
	t.Helper()
	r := newArbRig(t, nil)
	r.mustOffer(Primary, 2011, 1, 5)
	r.mustOffer(Backup, 2011, 1, 5)
	r.expect(seqs(2011, 1, 5)...)
	return r
}

// backupAskedAfterPrimary ends the primary's session and has the backup's
// new one claim channel 2011's 6..10 again: the backup is to be asked for
// them, nothing declared lost.
func backupAskedAfterPrimary(t *testing.T, r *arbRig) {
	t.Helper()
	r.a.SourceDown(Primary)
	r.a.SourceLive(Backup)
	r.heartbeat(Backup, 2011, 10)
	asks := r.nextAsks(200 * time.Millisecond)
	if c := r.channel(2011); c.Lost != 0 || len(asks) != 1 || asks[0].src != Backup || asks[0].from != 5 {
		t.Fatalf("asks %v, channel %+v; want 6..10 asked of the backup, from 5 (the last delivered, to verify it)", asks, c)
	}
}

// TestSZSEBogusChannelHeartbeat: a ChannelHeartbeat claiming records no
// source can bring does not keep the channel waiting for them. Far beyond
// any day's numbering it is malformed; within it, the claim ends with the
// session that made it, and a source whose own stream contradicts it is
// going backwards. Before, one ApplLastSeqNum of 2^62 kept the channel
// stale for the rest of the day and wrapped its lost count.
func TestSZSEBogusChannelHeartbeat(t *testing.T) {
	t.Run("beyond any day", func(t *testing.T) {
		r := newArbRig(t, nil)
		r.mustOffer(Primary, 2011, 1, 5)
		if err := r.sendHeartbeat(Backup, 2011, 1<<62); err == nil || err.reason != "malformed" {
			t.Fatalf("ApplLastSeqNum 2^62: %v", err)
		}
		if err := r.offer(Backup, 2011, 1<<40, 1<<40); err == nil || err.reason != "malformed" {
			t.Fatalf("ApplSeqNum 2^40: %v", err)
		}
		if c := r.channel(2011); c.Last != 5 || c.Stale {
			t.Fatalf("after the bogus numbers: %+v", c)
		}
	})
	t.Run("ended with its session", func(t *testing.T) {
		r := newArbRig(t, nil)
		r.mustOffer(Primary, 2011, 1, 5)
		r.heartbeat(Primary, 2011, 5)
		r.heartbeat(Backup, 2011, 1_000_000)
		r.expect(seqs(2011, 1, 5)...)
		// Nobody has 6..1,000,000: it is declared lost, the channel rebuilt.
		for range 10 {
			for _, a := range r.check(4 * time.Second) {
				if a.from <= 5 {
					r.answer(a.src, a.channel, int64(a.from), 5, szse.ResendStatusPartial)
					r.mustOffer(a.src, a.channel, int64(a.from), 5)
				} else {
					r.answer(a.src, a.channel, int64(a.from), int64(a.to), szse.ResendStatusUnavailable)
				}
			}
		}
		if c := r.channel(2011); !c.Stale || c.Lost == 0 {
			t.Fatalf("the claimed records were not declared lost: %+v", c)
		}
		r.sink.take()
		r.a.SourceDown(Backup) // the claim ends with the session
		if c := r.channel(2011); c.Stale || c.Last != 5 || c.Next != 6 {
			t.Fatalf("after the claiming session ended: %+v", c)
		}
		if got := r.sink.take(); !slices.Equal(got, []string{"live 2011"}) {
			t.Fatalf("sink got %v, want the channel live again", got)
		}
	})
	t.Run("contradicted by its own stream", func(t *testing.T) {
		r := newArbRig(t, nil)
		r.mustOffer(Backup, 2011, 1, 5)
		r.heartbeat(Backup, 2011, 1_000)
		if err := r.offer(Backup, 2011, 6, 6); err == nil || err.reason != "backwards" {
			t.Fatalf("a live record below the source's ChannelHeartbeat: %v", err)
		}
	})
	t.Run("a rebuild outlives the sessions", func(t *testing.T) {
		// 1..10 delivered, 11..15 claimed by both and resent by neither:
		// lost, the channel rebuilt from 1. Both sessions end and start
		// again during the rebuild: the records received before the loss
		// are still awaited, so the rebuild is not declared caught up with
		// nothing rebuilt.
		r := newArbRig(t, nil)
		r.mustOffer(Primary, 2011, 1, 10)
		r.mustOffer(Backup, 2011, 1, 10)
		r.heartbeat(Primary, 2011, 15)
		r.heartbeat(Backup, 2011, 15)
		r.expect(seqs(2011, 1, 10)...)
		for i := 0; i < 20 && !r.channel(2011).Stale; i++ {
			r.refuse(4 * time.Second)
		}
		if c := r.channel(2011); !c.Stale || c.Next != 1 || c.Lost == 0 {
			t.Fatalf("not rebuilding: %+v", c)
		}
		r.sink.take()
		r.a.SourceDown(Backup)
		r.a.SourceLive(Backup)
		r.a.SourceDown(Primary)
		r.a.SourceLive(Primary)
		if c := r.channel(2011); !c.Stale || c.Last != 10 {
			t.Fatalf("after both sessions ended during the rebuild: %+v, sink got %v; want stale, 1..10 awaited", c, r.sink.take())
		}
		r.mustOffer(Primary, 2011, 1, 10) // the new session's day, from 1
		r.expect(append(seqs(2011, 1, 10), "live 2011")...)
	})
	for _, turns := range []bool{false, true} {
		name := "a claimer that reconnects is still declared lost"
		if turns {
			name = "claimers taking turns are still declared lost"
		}
		t.Run(name, func(t *testing.T) {
			// The primary claims 6..10, refuses every ReTransmit and
			// reconnects faster than the recovery timeout, claiming them
			// again each time, alone or taking turns with the backup, which
			// claims and refuses them too: the gap keeps its attempts and
			// the sources it asked, and is declared lost.
			r := primaryClaims(t)
			for range 20 {
				for range 3 {
					r.refuse(300 * time.Millisecond)
				}
				r.a.SourceDown(Primary)
				if turns {
					r.a.SourceLive(Backup)
					r.heartbeat(Backup, 2011, 10)
					r.refuse(100 * time.Millisecond)
					r.a.SourceDown(Backup)
				}
				r.a.SourceLive(Primary)
				r.refuse(100 * time.Millisecond) // the supervisor runs meanwhile
				r.heartbeat(Primary, 2011, 10)
			}
			if c := r.channel(2011); c.Lost == 0 || !c.Stale {
				t.Fatalf("18 s of refused ReTransmits, never declared lost: %+v", c)
			}
		})
	}
	for _, tc := range []struct {
		name  string
		setup func(*testing.T) *arbRig
	}{
		// The primary alone claims 6..10 and refuses the ReTransmits; its
		// session ends. The backup, which has them, logs in and claims
		// them: it is asked, not declared lost on the primary's attempts.
		{"the other source's claim is asked afresh", primaryClaims},
		// The backup's claim opens 6..10 and its session ends before it
		// is asked; the primary refuses twice and its session ends; the
		// backup claims them again: it is asked, not declared lost on the
		// primary's refusals.
		{"a source that opened the gap is asked before it is lost", func(t *testing.T) *arbRig {
			r := bothSent(t)
			r.heartbeat(Backup, 2011, 10)
			r.heartbeat(Primary, 2011, 10)
			r.a.SourceDown(Backup)
			return r
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.setup(t)
			for range 2 {
				r.refuse(200 * time.Millisecond)
			}
			backupAskedAfterPrimary(t, r)
		})
	}
	t.Run("a source whose session ended before it answered is asked again", func(t *testing.T) {
		// The primary refuses; the backup is asked and its session ends
		// before it answers; the primary's ends too. The backup's next
		// session claims 6..10: it is asked, not declared lost on the
		// primary's refusal.
		r := bothSent(t)
		r.heartbeat(Primary, 2011, 10)
		if asks := r.check(200 * time.Millisecond); len(asks) != 1 || asks[0].src != Primary {
			t.Fatalf("first ask %v", asks)
		}
		r.answer(Primary, 2011, 6, 10, szse.ResendStatusUnavailable)
		if asks := r.check(200 * time.Millisecond); len(asks) != 1 || asks[0].src != Backup {
			t.Fatalf("second ask %v", asks)
		}
		r.a.SourceDown(Backup)
		r.a.SourceDown(Primary)
		r.now = r.now.Add(600 * time.Millisecond)
		r.a.SourceLive(Backup)
		r.heartbeat(Backup, 2011, 10)
		asks := r.nextAsks(100 * time.Millisecond)
		if c := r.channel(2011); c.Lost != 0 || len(asks) != 1 || asks[0].src != Backup {
			t.Fatalf("asks %v, channel %+v; want 6..10 asked of the backup's new session", asks, c)
		}
	})
	t.Run("a ReTransmit never handed over asks nobody", func(t *testing.T) {
		// One attempt; the primary refuses; the ReTransmit to the backup,
		// live throughout, cannot be handed to its connection, three times:
		// it is still asked before the records are declared lost.
		r := newArbRig(t, func(c *Config) { c.MaxRecoveryAttempts = 1 })
		r.mustOffer(Primary, 2011, 1, 5)
		r.mustOffer(Backup, 2011, 1, 5)
		r.expect(seqs(2011, 1, 5)...)
		r.heartbeat(Primary, 2011, 10)
		sent, unsent := map[int]int{}, 0
		for i := 0; i < 20 && r.channel(2011).Lost == 0; i++ {
			for _, a := range r.check(200 * time.Millisecond) {
				if a.src == Backup && unsent < 3 {
					unsent++
					r.a.Unsent(Backup, a.channel)
					continue
				}
				sent[a.src]++
				r.answer(a.src, a.channel, int64(a.from), int64(a.to), szse.ResendStatusUnavailable)
			}
		}
		if c := r.channel(2011); sent[Backup] == 0 || c.Lost == 0 {
			t.Fatalf("sent %v, channel %+v; want the backup asked, then the records declared lost", sent, c)
		}
	})
	t.Run("held records stay known", func(t *testing.T) {
		r := newArbRig(t, nil)
		r.mustOffer(Primary, 2011, 1, 3)
		r.mustOffer(Primary, 2011, 6, 8) // 4 and 5 missing
		r.heartbeat(Primary, 2011, 10)
		r.a.SourceDown(Primary)
		if c := r.channel(2011); c.Last != 8 || c.Next != 4 {
			t.Fatalf("after the session ended: %+v, want last 8 (held), next 4", c)
		}
	})
}

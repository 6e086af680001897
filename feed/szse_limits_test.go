package feed

import "testing"

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
	r.mustOffer(Primary, 3000, 1, window-1) // channel 3000's gap filled: its window empties
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

// TestSZSEChannelTableFull: a source that named ChannelNos to fill the
// channel table in heartbeats alone cannot make a real channel's records
// be dropped: a channel that shows neither records nor a delivered
// snapshot gives way. Before, the real channel's records were dropped on
// both sources (counted as overflow) while the feed stayed ready.
func TestSZSEChannelTableFull(t *testing.T) {
	r := newArbRig(t, nil)
	for ch := range uint16(szseMaxChannels) {
		r.heartbeat(Backup, 3000+ch, 0)
	}
	if n := len(r.a.channels()); n != szseMaxChannels {
		t.Fatalf("%d channels, want the table full", n)
	}
	r.mustOffer(Primary, 2011, 1, 3)
	r.expect(seqs(2011, 1, 3)...)
	if n, over := len(r.a.channels()), r.a.overLimit.Load(); n != szseMaxChannels || over != 0 {
		t.Fatalf("%d channels, %d records over the limit", n, over)
	}
	// A table full of channels with records has nothing to give.
	r2 := newArbRig(t, nil)
	for ch := range uint16(szseMaxChannels) {
		r2.mustOffer(Backup, 3000+ch, 1, 1)
	}
	r2.sink.take()
	r2.mustOffer(Primary, 2011, 1, 1)
	if got := r2.sink.take(); len(got) != 0 || r2.a.overLimit.Load() != 1 {
		t.Fatalf("delivered %v, %d over the limit", got, r2.a.overLimit.Load())
	}
}

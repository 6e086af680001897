package feed

// szseStaler is a sink that can mark a channel's books stale without
// clearing them (SZSEDecoder): every source of the feed was down past
// Config.StaleAfterOutage, and the market moved while the feed was
// blind. ChannelLive makes them valid again. It is called like
// ApplySZSE.
type szseStaler interface {
	StaleChannel(channel uint16) error
}

var _ szseStaler = (*SZSEDecoder)(nil)

// Outage says that no source has been up for the feed's outage grace:
// every channel that delivered a record or a snapshot is marked stale
// for it (szseArbChannel.outage, the sink's StaleChannel), until
// EndOutage proves its continuity. It reports whether it marked any.
// Supervisor goroutine.
func (a *szseArbiter) Outage() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	st, _ := a.sink.(szseStaler)
	marked := false
	for _, ch := range a.channels() {
		if ch.outage.Load() || ch.next.Load() == 1 && ch.snapshots.Load() == 0 {
			continue // marked already, or no book built from it
		}
		ch.outage.Store(true)
		ch.outageSnaps = ch.snapshots.Load()
		marked = true
		if st != nil {
			if err := st.StaleChannel(ch.no); err != nil {
				a.sinkErrors.Add(1)
				a.log.Error("feed: the sink refused StaleChannel", "channel", ch.no, "err", err)
			}
		}
	}
	if marked {
		a.outages.Add(1)
	}
	return marked
}

// EndOutage makes valid again (ChannelLive) each channel marked stale for
// an outage whose continuity is proven, and reports whether none is
// marked any more. A channel of records is proven when no rebuild is
// under way, nothing is known beyond what was delivered (no gap: what a
// returning source's ChannelHeartbeat claimed was retransmitted and
// delivered) and a live source is verified on it (its copy of the last
// record delivered equalled it, szseStream.verify) and a ChannelHeartbeat
// of its session claimed no record beyond what was delivered
// (szseStream.hbPos): a live record alone does not show the session has
// sent everything before its end. A
// snapshot channel is proven by a snapshot delivered since it was
// marked. A loss the returning sources cannot fill rebuilds the channel
// as any loss does; its end (caughtUp) leaves the telling to this.
// Supervisor goroutine.
func (a *szseArbiter) EndOutage() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	none := true
	for _, ch := range a.channels() {
		if !ch.outage.Load() {
			continue
		}
		if !a.continuous(ch) {
			none = false
			continue
		}
		ch.outage.Store(false)
		if err := a.sink.ChannelLive(ch.no); err != nil {
			a.sinkErrors.Add(1)
			a.log.Error("feed: the sink refused ChannelLive", "channel", ch.no, "err", err)
		}
	}
	return none
}

// continuous reports whether the channel's delivery is proven to go on
// from what was delivered before an outage (EndOutage). Lock held.
func (a *szseArbiter) continuous(ch *szseArbChannel) bool {
	if ch.stale.Load() || ch.held > 0 || ch.last.Load() >= ch.next.Load() {
		return false
	}
	if !ch.records {
		return ch.snapshots.Load() > ch.outageSnaps
	}
	for i, live := range a.live {
		if st := &ch.src[i]; live && !st.verify && !st.old && st.hbPos != 0 && st.hbPos <= ch.next.Load() {
			return true
		}
	}
	return false
}

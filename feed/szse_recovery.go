package feed

import "time"

// szseAsk is a ReTransmit for the supervisor to send: ApplSeqNum from
// through to of a channel, to source src. A plain value.
type szseAsk struct {
	src      int
	channel  uint16
	from, to uint64
}

// Check works on every channel's gap and returns out with the ReTransmits
// to send. The supervisor calls it periodically and when woken.
//
// A channel has a gap when a record it knows exists (from a record ahead
// or a ChannelHeartbeat) is not delivered. The gap is first left for
// GapWait to a live source that has not yet passed it; then its missing
// range (up to the first record held, or the last known) is asked for
// with a ReTransmit, from the primary and the backup alternately. A
// refused or unanswered request (no progress for the heartbeat timeout)
// counts as a failed attempt; a partial answer is progress, and what is
// still missing is asked for next. A gap that has had MaxRecoveryAttempts
// ReTransmits and no progress for RecoveryTimeout is declared lost: the
// channel is marked stale, the sink's ResetChannel is called (with the
// lock held, as every sink call is) and the channel starts again from
// ApplSeqNum 1, which is itself a gap recovered the same way, in as many
// ReTransmits as the sources' answers take. When delivery has caught up
// with everything known of the channel, the sink's ChannelLive is called.
func (a *szseArbiter) Check(now time.Time, out []szseAsk) []szseAsk {
	t := now.UnixNano()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ch := range a.channels() {
		if ask, ok := a.check(ch, t); ok {
			out = append(out, ask)
		}
	}
	return out
}

// check is Check for one channel. Lock held.
func (a *szseArbiter) check(ch *szseArbChannel, now int64) (szseAsk, bool) {
	if ch.req.src >= 0 {
		if now-ch.req.progress < int64(a.reqTimeout) {
			return szseAsk{}, false
		}
		a.log.Warn("feed: SZSE ReTransmit unanswered", "channel", ch.no, "from", ch.req.from, "to", ch.req.to,
			"source", sourceName(ch.req.src), "timeout", a.reqTimeout)
		ch.req.src = -1
	}
	if ch.oldSince != 0 && a.onlyOld(ch, now) {
		return szseAsk{}, false
	}
	next, last := ch.next.Load(), ch.last.Load()
	if next > last {
		// No gap. gapAt is kept: a gap that opens again at the same place
		// soon may go on where it was (gapOpened).
		return a.verifyAsk(ch, next, now)
	}
	if ch.gapAt != next {
		ch.newGap(next, now)
	}
	to := ch.missingTo(next, last, -1)
	if now-ch.gapSince < int64(a.gapWait) && a.mayBring(ch, next) {
		return szseAsk{}, false
	}
	// A live source not yet asked for this gap is asked before it may be
	// declared lost, beyond the attempts (at most one more per source): the
	// gap may have gone on from an earlier session's (gapOpened), whose
	// sources were the ones asked, or a source's session ended before it
	// answered (forget).
	unasked := a.unasked(ch)
	if ch.attempts < a.maxAttempts || unasked >= 0 && ch.attempts < a.maxAttempts+len(ch.asked) {
		src := unasked
		if src < 0 {
			src = a.pick(ch, ch.attempts)
		}
		if src < 0 {
			return szseAsk{}, false // nothing live: a source logging in will show where it is
		}
		ch.attempts++
		ch.asked[src] = true
		ch.rerequests.Add(1)
		to = ch.missingTo(next, last, src)
		ch.req = szseRequest{src: src, from: next, to: to, progress: now}
		a.log.Info("feed: SZSE ReTransmit", "channel", ch.no, "from", next, "to", to,
			"source", sourceName(src), "attempt", ch.attempts)
		from := next
		if ch.src[src].verify {
			from-- // from the last record delivered, to verify src (Offer)
		}
		return szseAsk{src: src, channel: ch.no, from: from, to: to}, true
	}
	if now-ch.gapSince >= int64(a.recovery) {
		a.declareLost(ch, next, to)
	}
	return szseAsk{}, false
}

// onlyOld rebuilds the channel when, for the recovery time, a source left
// on the old numbering (szseStream.old) has sent records and no live
// source streams the channel's numbering: the market moves, and the books
// no longer follow it. The rebuild marks the channel stale until a source
// streams its numbering again (the old one is not asked: streams).
// Before, the channel stayed where the other source left it, valid, for
// as long as that source was away. It reports whether it rebuilt. Lock
// held.
func (a *szseArbiter) onlyOld(ch *szseArbChannel, now int64) bool {
	for i, live := range a.live {
		if live && !ch.src[i].old {
			ch.oldSince = 0 // a source streams the channel's numbering
			return false
		}
	}
	if now-ch.oldSince < int64(a.recovery) || ch.stale.Load() {
		return false
	}
	ch.oldSince = 0
	a.log.Error("feed: only a source on an SZSE channel's old numbering streams it; rebuilding, stale until a source streams its numbering",
		"channel", ch.no, "next", ch.next.Load(), "recovery_timeout", a.recovery)
	a.restart(ch)
	return true
}

// verifyAsk returns a ReTransmit of the last record delivered (next-1)
// for a live source not verified on the channel (szseStream.verify),
// which has no gap, once in the source's session, again if no copy came
// within twice the heartbeat timeout (verifyAsked). Its copy verifies it
// (Offer). Without it, a source that logged in while the channel was
// quiet (its ChannelHeartbeats only) stayed unverified until a record
// opened a gap, and every snapshot it sent, of any channel, was dropped
// as not aligned: after both sources logged in again, none was delivered.
// The answer and its record are taken as any other (Answer, Offer); no
// request is registered, so a refusal or no answer only leaves the source
// unverified, as before. Lock held.
func (a *szseArbiter) verifyAsk(ch *szseArbChannel, next uint64, now int64) (szseAsk, bool) {
	if ch.req.src >= 0 || ch.lastRecN == 0 || next < 2 {
		return szseAsk{}, false
	}
	for src, live := range a.live {
		if st := &ch.src[src]; live && st.verify && (st.verifyAsked == 0 || st.verifyAsked > 0 && now-st.verifyAsked >= 2*int64(a.reqTimeout)) {
			st.verifyAsked = now
			ch.rerequests.Add(1)
			a.log.Info("feed: SZSE ReTransmit of the last record delivered, to verify a source", "channel", ch.no,
				"seq", next-1, "source", sourceName(src))
			return szseAsk{src: src, channel: ch.no, from: next - 1, to: next - 1}, true
		}
	}
	return szseAsk{}, false
}

// streams reports whether src is live and may be asked for the channel's
// records: a source left on the old numbering (szseStream.old) only once
// a record was delivered in the channel's, whose copy, which its
// ReTransmit starts with, verifies it (its other records are dropped
// until then). Lock held.
func (a *szseArbiter) streams(ch *szseArbChannel, src int) bool {
	return a.live[src] && (!ch.src[src].old || ch.lastRecN > 0)
}

// mayBring reports whether a live source has not yet passed next on the
// channel (or has not shown where it is), so may still bring it live.
// Lock held.
func (a *szseArbiter) mayBring(ch *szseArbChannel, next uint64) bool {
	for i, live := range a.live {
		if live && !ch.src[i].old && ch.src[i].pos.Load() <= next {
			return true
		}
	}
	return false
}

// unasked returns a live source not yet asked for the channel's gap, the
// primary first, or -1. Lock held.
func (a *szseArbiter) unasked(ch *szseArbChannel) int {
	for i := range a.live {
		if a.streams(ch, i) && !ch.asked[i] {
			return i
		}
	}
	return -1
}

// pick returns the source to ask on attempt k (from 0) for the channel's
// gap: the primary and the backup alternately when both stream the
// channel (streams), else the one that does, or -1. Lock held.
func (a *szseArbiter) pick(ch *szseArbChannel, k int) int {
	p, b := a.streams(ch, Primary), a.streams(ch, Backup)
	switch {
	case p && b:
		return k % 2
	case p:
		return Primary
	case b:
		return Backup
	}
	return -1
}

// retransmitted notes that src has resent everything it announced for
// the channel; if that answered the channel's request, the request is
// done. Lock held.
func (a *szseArbiter) retransmitted(ch *szseArbChannel, src int) {
	if ch.req.src == src {
		a.requestDone(ch)
	}
}

// requestDone ends the channel's request: answered in full or in part,
// or its range delivered anyway. Check asks for whatever is still
// missing. Lock held.
func (a *szseArbiter) requestDone(ch *szseArbChannel) {
	if ch.next.Load() > ch.req.from {
		ch.gaps.Add(1)
	}
	ch.req.src = -1
	a.wake()
}

// Unsent tells the arbiter that the ReTransmit for channel could not be
// handed to source src (not connected): the request has failed.
func (a *szseArbiter) Unsent(src int, channel uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ch := a.chans.get(channel); ch != nil && ch.req.src == src {
		// It never left: src was not asked, and the attempt is given back.
		ch.req.src, ch.asked[src] = -1, false
		ch.attempts = max(ch.attempts-1, 0)
		a.wake()
	}
}

// declareLost gives up on ApplSeqNum from through to of the channel and
// rebuilds it. Lock held.
func (a *szseArbiter) declareLost(ch *szseArbChannel, from, to uint64) {
	n := to - from + 1
	a.log.Error("feed: SZSE records lost on every source; rebuilding the channel from ApplSeqNum 1",
		"channel", ch.no, "from", from, "to", to, "count", n, "attempts", ch.attempts, "recovery_timeout", a.recovery)
	ch.lost.Add(n)
	a.restart(ch)
}

// Rebuild rebuilds channel no, as after a loss, because the sink found
// its books wrong (SZSEDecoder's RebuildRequests: a snapshot differed). A
// channel unknown or already rebuilding is left alone.
func (a *szseArbiter) Rebuild(no uint16) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.chans.get(no)
	if ch == nil || ch.stale.Load() {
		return
	}
	a.log.Warn("feed: the sink found an SZSE channel's books wrong; rebuilding the channel from ApplSeqNum 1",
		"channel", no, "next", ch.next.Load())
	a.restart(ch)
}

// restart makes the channel stale, tells the sink to clear its books
// (unless nothing was delivered since it was last told) and starts
// delivery again from ApplSeqNum 1: a gap that Check recovers like any
// other, until the channel has caught up and the sink is told it is live.
// Lock held.
func (a *szseArbiter) restart(ch *szseArbChannel) {
	ch.rebuilds.Add(1)
	wasStale := ch.stale.Swap(true)
	ch.clear()
	ch.printed = max(ch.printed, ch.next.Load()-1)
	ch.printedAt = max(ch.printedAt, ch.deliveredAt)
	ch.next.Store(1)
	ch.deliveredAt = 0 // the rebuild delivers the channel again
	ch.lastRecN = 0    // nothing to verify a source against
	ch.from = 0
	// A source left on the old numbering stays unverified: what the
	// rebuild delivers verifies it (szseStream.old). So does one whose
	// login was not verified yet while the other source is: it may
	// stream another numbering than the one delivered (its venue not
	// restarted, or restarted again), and is left on the old numbering
	// (its copy of a record the rebuild delivers takes it again). Before,
	// the rebuild took both, and records of two numberings were delivered
	// (found by TestSZSEArbiterAgainstModel). When neither is verified,
	// nothing tells which to trust: both are taken, until the rebuild
	// delivers a record, whose source is trusted (firstDelivered).
	trusted := [2]bool{!ch.src[0].verify, !ch.src[1].verify}
	for i := range ch.src {
		st := &ch.src[i]
		st.old = st.old || st.verify && trusted[1-i]
		st.verify = st.old
	}
	ch.newGap(0, 0)
	ch.req.src = -1
	if !wasStale || ch.sinceReset > 0 {
		ch.sinceReset = 0
		if err := a.sink.ResetChannel(ch.no); err != nil {
			a.sinkErrors.Add(1)
			a.log.Error("feed: the sink refused ResetChannel", "channel", ch.no, "err", err)
		}
	}
	a.replay(ch)
	if ch.next.Load() > ch.last.Load() {
		a.caughtUp(ch) // nothing to deliver again
	}
	a.wake()
}

// replay tells the sink, when it publishes prints (szseReplayer), up to
// which ApplSeqNum, and stamped no later than when, the records the
// channel delivers next were delivered before. Lock held.
func (a *szseArbiter) replay(ch *szseArbChannel) {
	if r, ok := a.sink.(szseReplayer); ok {
		r.ReplayChannel(ch.no, ch.printed, ch.printedAt)
	}
}

// caughtUp ends a rebuild: delivery has reached everything known of the
// channel. Lock held.
func (a *szseArbiter) caughtUp(ch *szseArbChannel) {
	ch.stale.Store(false)
	if ch.outage.Load() {
		// Marked stale for an outage (a loss declared meanwhile, or
		// what an ended session claimed no longer awaited: settle):
		// live once a source proves it streams on from here
		// (EndOutage), not while every source may still be down.
		a.log.Info("feed: SZSE channel rebuilt; stale until a source proves it streams on from here (outage)", "channel", ch.no, "next", ch.next.Load())
		return
	}
	a.log.Info("feed: SZSE channel rebuilt; live again", "channel", ch.no, "next", ch.next.Load())
	if err := a.sink.ChannelLive(ch.no); err != nil {
		a.sinkErrors.Add(1)
		a.log.Error("feed: the sink refused ChannelLive", "channel", ch.no, "err", err)
	}
}

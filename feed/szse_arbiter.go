package feed

import (
	"bytes"
	"cmp"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sgw/feed/capture"
	"sgw/feed/szse"
)

// szseMaxChannels bounds the channels an SZSE feed tracks: the exchange
// publishes a few dozen. Each source may bring half of them; records of
// further channels are dropped (counted as over the limit, logged once),
// so a source cannot make the arbiter allocate without limit, nor take
// the other source's places. A session's end gives back the places held by
// channels only its claims showed (release).
const szseMaxChannels = 256

// szseGrowBudget is how many whole windows (Config.Window) the channels
// may hold together beyond their first windows: a few channels recovering
// a long gap at once. A record that would need more is dropped (counted
// as overflow) and asked for again once delivery reaches it.
const szseGrowBudget = 4

// szseMaxSeqJump bounds how far beyond what a channel knows (its last
// known ApplSeqNum, or the next to deliver) a record or a
// ChannelHeartbeat may place the channel: a channel numbers a day's
// records from 1, a few hundred million at most. Further is a malformed
// ApplSeqNum, which would otherwise leave the channel waiting for records
// that will never exist (stale for the rest of the day) and wrap the lost
// count.
const szseMaxSeqJump = 1 << 32

// szseArbiter merges the primary and backup streams of an SZSE feed into
// one stream per channel in which every ApplSeqNum appears exactly once
// and in order, taken from whichever source has it first. Channels are
// independent. Records ahead of a missing one wait in the channel's
// bounded window; the supervisor's Check recovers what is missing with
// ReTransmit and, when that fails, declares it lost and rebuilds the
// channel from ApplSeqNum 1 (szse_recovery.go).
//
// Locks: mu serializes everything that arbitrates, and the sink is called
// with mu held, so the sink sees one caller at a time. The readers
// (status, Stale, Ready) never take mu: they read atomics and the
// copy-on-write channel list, so a sink may call them. No method that
// takes mu is reachable from the sink. Sources call Offer, Snapshot,
// Heartbeat, Answer, SourceLive and SourceDown from their reader
// goroutines without holding a lock of their own.
type szseArbiter struct {
	log         *slog.Logger
	sink        SZSESink
	maxWin      int           // window limit per channel, a power of two
	maxAttempts int           // ReTransmits of a gap before it may be declared lost
	gapWait     time.Duration // a gap left to a live source that may still bring it
	recovery    time.Duration // a gap worked on for this long may be declared lost
	reqTimeout  time.Duration // a ReTransmit without progress for this long has failed
	kick        chan struct{} // wakes the supervisor; capacity 1
	// rec records every frame delivered to the sink (the arbitrated
	// stream); nil records nothing. Its calls take only its leaf lock.
	rec *capture.Recorder

	mu    sync.Mutex
	chans szseChannelTable
	// grown counts the window slots the channels hold beyond their first
	// window; growBudget bounds it (szseGrowBudget windows), so that
	// records far ahead on many channels cannot pin every channel's whole
	// window: one record per channel at ApplSeqNum Window pinned 1.5 GiB.
	grown, growBudget int

	live [2]bool
	// hb says a source has sent a ChannelHeartbeat in its session: only
	// then does the arbiter know every channel the source carries.
	hb [2]bool
	m  szse.Message // decodes held records for the sink
	// brought counts the channels in the table each source named first;
	// full says a source hit the channel limit (logged once).
	brought [2]int
	full    [2]bool

	list       atomic.Pointer[[]*szseArbChannel] // by channel number; replaced when one is added
	first      [2]atomic.Uint64                  // records each source delivered first
	overLimit  atomic.Uint64                     // records of channels beyond szseMaxChannels
	sinkErrors atomic.Uint64
	outages    atomic.Uint64 // outages that marked channels stale (Outage)
}

func newSZSEArbiter(cfg Config, sink SZSESink, log *slog.Logger) *szseArbiter {
	n := 1
	for n < cfg.Window {
		n <<= 1
	}
	a := &szseArbiter{
		log: log, sink: sink, maxWin: n, growBudget: szseGrowBudget * n, maxAttempts: cfg.MaxRecoveryAttempts,
		gapWait: cfg.GapWait, recovery: cfg.RecoveryTimeout, reqTimeout: cfg.HeartbeatTimeout,
		kick: make(chan struct{}, 1),
	}
	a.list.Store(&[]*szseArbChannel{})
	return a
}

// channels returns every channel, by number. Safe without the lock; the
// slice must not be modified.
func (a *szseArbiter) channels() []*szseArbChannel { return *a.list.Load() }

// channel returns channel no, creating it for src, or nil when src has
// brought its share of channels. Each source may bring half the table
// (szseMaxChannels/2, several times what the exchange publishes): a
// source naming bogus ChannelNos cannot take the places the other
// source's channels need. For a record (forRecord), a source at its share
// first gives up one of its channels that has shown neither records nor a
// delivered snapshot: ChannelNos named only in heartbeats or in snapshots
// never aligned. Lock held.
func (a *szseArbiter) channel(no uint16, src int, forRecord bool) *szseArbChannel {
	if ch := a.chans.get(no); ch != nil {
		return ch
	}
	if a.brought[src] >= szseMaxChannels/2 && forRecord {
		a.evictIdle(no, src)
	}
	if a.brought[src] >= szseMaxChannels/2 {
		a.overLimit.Add(1)
		if !a.full[src] {
			a.full[src] = true
			a.log.Warn("feed: SZSE source brought its share of channels; further channels it names are dropped",
				"source", sourceName(src), "share", szseMaxChannels/2, "channel", no)
		}
		return nil
	}
	ch := newSZSEArbChannel(no, src, a.firstWindow())
	a.brought[src]++
	a.chans.put(ch)
	list := append(slices.Clone(a.channels()), ch)
	slices.SortFunc(list, func(x, y *szseArbChannel) int { return cmp.Compare(x.no, y.no) })
	a.list.Store(&list)
	return ch
}

// evictIdle removes one channel src brought that has shown no records and
// delivered no snapshot, if there is one, to make room for channel no's
// records. Lock held.
func (a *szseArbiter) evictIdle(no uint16, src int) {
	list := a.channels()
	i := slices.IndexFunc(list, func(ch *szseArbChannel) bool {
		return ch.by == src && !ch.records && ch.held == 0 && ch.snapshots.Load() == 0 && ch.req.src < 0
	})
	if i < 0 {
		return
	}
	idle := list[i]
	a.log.Warn("feed: SZSE source at its share of channels; a channel of it that carried no records gives way",
		"source", sourceName(src), "dropped", idle.no, "for", no, "heartbeat_last", idle.last.Load())
	a.chans.remove(idle.no)
	a.brought[src]--
	rest := slices.Delete(slices.Clone(list), i, i+1)
	a.list.Store(&rest)
}

// szseChannelTable finds a channel by number in two loads, without
// hashing: pages of 256 channels, allocated when a channel of the page is
// first seen. Guarded by the arbiter's mu.
type szseChannelTable [256]*[256]*szseArbChannel

// get returns channel no, or nil.
func (t *szseChannelTable) get(no uint16) *szseArbChannel {
	if p := t[no>>8]; p != nil {
		return p[no&0xff]
	}
	return nil
}

// remove forgets channel no.
func (t *szseChannelTable) remove(no uint16) {
	if p := t[no>>8]; p != nil {
		p[no&0xff] = nil
	}
}

// put adds ch.
func (t *szseChannelTable) put(ch *szseArbChannel) {
	p := t[ch.no>>8]
	if p == nil {
		p = new([256]*szseArbChannel)
		t[ch.no>>8] = p
	}
	p[ch.no&0xff] = ch
}

// wake asks the supervisor to run Check soon. It never blocks.
func (a *szseArbiter) wake() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// recordKey returns the channel and ApplSeqNum of an order or trade.
func recordKey(m *szse.Message) (uint16, int64) {
	if m.Type == szse.TypeOrder {
		return m.Order.ChannelNo, m.Order.ApplSeqNum
	}
	return m.Trade.ChannelNo, m.Trade.ApplSeqNum
}

// Offer takes an order or trade record that source src decoded into m
// from frame (copied if it must be held). It delivers the record if it is
// its channel's next, holds it if it is ahead, and drops it as a
// duplicate if it is behind. A record is part of the retransmission src
// announced if it is the next one of it; otherwise it is live, and a live
// record below the last one src sent on the channel is an error: the
// source is to be reset.
func (a *szseArbiter) Offer(src int, m *szse.Message, frame []byte, recv int64) *sourceError {
	no, seq := recordKey(m)
	if seq <= 0 {
		return protoErr("malformed", "%s of channel %d with ApplSeqNum %d", m.Type, no, seq)
	}
	s := uint64(seq)
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.channel(no, src, true)
	if ch == nil {
		return nil
	}
	if err := ch.jump("a record", s); err != nil {
		return err
	}
	ch.records = true
	st := &ch.src[src]
	if t := recordTime(m); t > 0 {
		// The day changes once a day: only a record of another day than
		// the channel's or its source's last is looked at further.
		if d := int64(t) / 1_000_000_000; d != ch.day || d != st.day {
			if err := a.day(ch, src, t, s, recv); err != nil {
				return err
			}
		}
		st.dayAt = recv
	}
	// A copy is stamped no later than the latest record delivered, which
	// the raw values' order shows (yyyymmddHHMMSSsss): only a record
	// stamped after it pays for the conversion.
	if rt := recordTime(m); s < ch.next.Load() && ch.deliveredAt != 0 && rt > ch.deliveredAt {
		t, ok := rt.Time(time.UTC)
		last, _ := ch.deliveredAt.Time(time.UTC)
		if ok && t.Sub(last) > szseRenumberSlack {
			a.renumber(ch, src, s, t, recv)
		}
	} else if rt > 0 && rt < ch.deliveredAt && s+1 >= ch.next.Load() && !st.old && stampedBefore(rt, ch.deliveredAt) {
		// At or after next, or a copy of the last record delivered (the
		// latest stamped), yet stamped well before a record delivered:
		// of an older numbering than the channel's. A copy of an earlier
		// record is a lagging source's (before, it left its source on an
		// old numbering, and the channel was rebuilt if that source had
		// delivered since the last rebuild).
		a.leaveOld(ch, src, s)
	}
	if st.verify && s+1 == ch.next.Load() {
		a.verify(ch, src, s, frame, recv)
	}
	resent := st.rtxEnd != 0 && s == st.rtxNext
	if resent {
		st.rtxNext++
		if ch.req.src == src {
			ch.req.progress = recv
		}
	} else if !st.old {
		if st.livePos != 0 && s < st.livePos {
			return protoErr("backwards", "channel %d went backwards: ApplSeqNum %d after %d", no, s, st.livePos-1)
		}
		st.livePos = s + 1
	}
	if st.old {
		// Of the numbering before the channel's (szseStream.old): its
		// stream may go back to 1 when its venue numbers again too.
		if ch.oldSince == 0 {
			ch.oldSince = recv // check sees whether a source streams the channel's numbering
		}
		if resent && st.rtxNext > st.rtxEnd {
			st.rtxEnd = 0
			a.retransmitted(ch, src)
		}
		return nil
	}
	if s >= st.pos.Load() {
		st.pos.Store(s + 1)
	}
	ch.recorded = max(ch.recorded, s)
	next, last := ch.next.Load(), ch.last.Load()
	if s > last {
		ch.last.Store(s)
	}
	switch {
	case s < next:
		ch.duplicates.Add(1)
	case s == next && !st.verify:
		var held *szseSlot
		if ch.held > 0 {
			// An unverified source's copy may wait in the window at
			// next (drain): this one is delivered in its place.
			if sl := ch.slot(s); sl.seq == s {
				sl.seq = 0
				ch.held--
				held = sl
			}
		}
		a.first[src].Add(1)
		a.deliver(ch, src, m, frame, recv)
		if held != nil && int(held.src) != src && ch.src[held.src].verify {
			a.compareHeld(ch, int(held.src), s, held.data[:held.n], recv)
		}
		a.drain(ch)
	default: // ahead, or at next from a source not verified yet
		a.hold(ch, src, s, frame, recv)
		if next > last { // the channel had no gap: one opens
			a.gapOpened(ch, next, recv)
		}
	}
	if resent && st.rtxNext > st.rtxEnd {
		st.rtxEnd = 0
		a.retransmitted(ch, src)
	}
	if ch.req.src >= 0 && ch.next.Load() > ch.req.to {
		a.requestDone(ch) // filled, whoever brought it
	}
	return nil
}

// recordTime returns the TransactTime (YYYYMMDDHHMMSSsss) of an order or
// trade; its trading day (yyyymmdd) is t / 10^9.
func recordTime(m *szse.Message) szse.Timestamp {
	if m.Type == szse.TypeOrder {
		return m.Order.TransactTime
	}
	return m.Trade.TransactTime
}

// szseMaxDayJump bounds how many days after the channel's a record may be
// dated and begin a new day: further is a malformed date, which would
// otherwise make every record of the true day look old.
const szseMaxDayJump = 14

// daysAfter returns how many days d2 is after d1 (both yyyymmdd).
func daysAfter(d1, d2 int64) int {
	at := func(d int64) time.Time {
		return time.Date(int(d/10000), time.Month(d/100%100), int(d%100), 0, 0, 0, 0, time.UTC)
	}
	return int(at(d2).Sub(at(d1)) / (24 * time.Hour))
}

// day checks the trading day of record s, of TransactTime t, that src
// sent on the channel; an invalid date and time dates nothing.
// The exchange numbers each channel's records from ApplSeqNum 1 every
// day, so a record of another day than the channel's belongs to another
// numbering. One of an earlier day, or of a later one while the other
// source streams the channel's day, is refused (session_mismatch: a
// source left on another day, which logs in again); a later day
// otherwise begins the channel's new day (newDay). Lock held.
func (a *szseArbiter) day(ch *szseArbChannel, src int, t szse.Timestamp, s uint64, recv int64) *sourceError {
	if _, ok := t.Time(time.UTC); !ok {
		return nil
	}
	d := int64(t) / 1_000_000_000
	switch {
	case ch.day == 0:
		ch.day = d
	case d < ch.day:
		return protoErr("session_mismatch", "channel %d: a record of %d after the channel's records of %d", ch.no, d, ch.day)
	case d > ch.day:
		if n := daysAfter(ch.day, d); n > szseMaxDayJump {
			return protoErr("malformed", "channel %d: a record dated %d, %d days after the channel's %d", ch.no, d, n, ch.day)
		}
		// Refused only while the other source streams the channel's day:
		// one idle on it for heartbeat_timeout (a session run on from
		// yesterday, a relay that starts the day later) does not hold
		// the new day back (before, it did, at every login of this
		// source, and the old day's books were served as valid).
		if o := &ch.src[1-src]; a.live[1-src] && o.day == ch.day && recv-o.dayAt < int64(a.reqTimeout) {
			return protoErr("session_mismatch", "channel %d: a record of %d while the other source streams the channel's %d",
				ch.no, d, ch.day)
		}
		a.newDay(ch, src, d, s, recv)
	}
	ch.src[src].day = d
	return nil
}

// newDay begins trading day d on the channel, whose first record seen is
// s, which src brought at recv: what was delivered of the day before says nothing of the new day's
// numbering. Both sources' places on the channel are forgotten (they were
// in the old numbering), and the channel is rebuilt from ApplSeqNum 1 as
// after a loss: stale, the sink's books of it cleared, until delivery
// reaches s. Before, the new day's records up to the old day's last were
// dropped as duplicates and the later ones applied to the old day's
// books. The capture numbers the channel afresh from here. Lock held.
func (a *szseArbiter) newDay(ch *szseArbChannel, src int, d int64, s uint64, recv int64) {
	a.log.Warn("feed: SZSE channel began a new trading day; rebuilding it from ApplSeqNum 1", "channel", ch.no,
		"day", d, "previous", ch.day, "delivered", ch.next.Load()-1)
	ch.day, ch.renumbered, ch.recorded = d, true, s
	for i := range ch.src {
		ch.src[i].reset()
	}
	a.restartNumbering(ch, src, s, recv)
}

// szseRenumberSlack is how much later than every record delivered a
// record below the channel's next must be stamped to show that the
// channel was renumbered: records are stamped in ApplSeqNum order, so a
// copy of one delivered is never later than the last one delivered.
const szseRenumberSlack = time.Second

// renumber begins the channel's numbering again at record s, which src
// sent below the channel's next (at recv) but stamped at t, after every record
// delivered: the venue numbers the channel from ApplSeqNum 1 again on the
// same day (an MDGW restarted without its records). As at a new day,
// both sources' places are forgotten and the channel is rebuilt from
// ApplSeqNum 1, stale until delivery reaches s. Before, the new records up
// to the old last were dropped as duplicates and the later ones applied
// to the old books, which were served as valid. The capture numbers the
// channel afresh from here. Lock held.
func (a *szseArbiter) renumber(ch *szseArbChannel, src int, s uint64, t time.Time, recv int64) {
	a.log.Error("feed: an SZSE source sent a record below the channel's next stamped after every record delivered: "+
		"the channel was numbered again; rebuilding it from ApplSeqNum 1", "channel", ch.no, "source", sourceName(src),
		"seq", s, "delivered", ch.next.Load()-1, "transact_time", t.Format("15:04:05.000"),
		"last_delivered_time", ch.deliveredAt)
	a.numberAgain(ch, src, s, recv)
}

// verify compares record s, which src sent at the channel's next-1 while
// it was not verified (szseStream.verify), with the record delivered
// there. The same frame shows that src streams the numbering delivered:
// its records are delivered from now on, those held first (drain).
// Another shows that the venue numbers the channel again (restarted
// without its records): as at renumber, the channel is rebuilt from
// ApplSeqNum 1, stale until delivery reaches s. Only this shows a new
// stream that was already longer than what was delivered when src logged
// in: a session that starts live sends nothing below next, and before,
// the new stream's records from next on were applied to the old books,
// which were served as valid. Lock held.
func (a *szseArbiter) verify(ch *szseArbChannel, src int, s uint64, frame []byte, recv int64) {
	st := &ch.src[src]
	st.verifyAsked = -1 // compared: not asked again in the session
	if bytes.Equal(frame, ch.lastRec[:ch.lastRecN]) {
		if st.old {
			a.log.Info("feed: an SZSE source left on the channel's old numbering streams its new one; taken again",
				"channel", ch.no, "source", sourceName(src), "seq", s)
		}
		st.verify, st.old = false, false
		a.drain(ch)
		return
	}
	if st.old {
		// Still the old numbering: the channel's is the other source's. A
		// ReTransmit asked of it has failed.
		if ch.req.src == src {
			ch.req.src = -1
			a.wake()
		}
		return
	}
	a.log.Error("feed: an SZSE source's copy of the last record delivered differs from it: "+
		"the channel was numbered again; rebuilding it from ApplSeqNum 1", "channel", ch.no, "source", sourceName(src),
		"seq", s)
	a.numberAgain(ch, src, s, recv)
}

// compareHeld compares o's copy of record s, which waited in the window
// while o was not verified (szseStream.verify), with the record just
// delivered in its place: o's copy of a record delivered, as verify
// takes one that comes after it. Without it, a source not verified whose
// stream leads the other's never sent a copy of the last record
// delivered until asked, and none of its records was taken meanwhile (at
// every start: firstDelivered). A copy stamped well before the record
// delivered is of an older numbering (leaveOld), as Offer finds it when
// it comes after. Lock held.
func (a *szseArbiter) compareHeld(ch *szseArbChannel, o int, s uint64, frame []byte, recv int64) {
	if !ch.src[o].old && !bytes.Equal(frame, ch.lastRec[:ch.lastRecN]) {
		if _, err := szse.Decode(frame, &a.m); err == nil {
			if rt := recordTime(&a.m); rt > 0 && rt < ch.deliveredAt && stampedBefore(rt, ch.deliveredAt) {
				a.leaveOld(ch, o, s)
				return
			}
		}
	}
	a.verify(ch, o, s, frame, recv)
}

// stampedBefore reports whether a record stamped at rt is of an older
// numbering than a record delivered stamped at last: stamped more than
// szseRenumberSlack before it, a record after it cannot be (records are
// stamped in ApplSeqNum order). Both are raw TransactTimes; rt < last.
func stampedBefore(rt, last szse.Timestamp) bool {
	t, ok := rt.Time(time.UTC)
	l, ok2 := last.Time(time.UTC)
	return ok && ok2 && l.Sub(t) > szseRenumberSlack
}

// leaveOld leaves src on a numbering older than the channel's
// (szseStream.old): record s, which src sent at or after the channel's
// next, is stamped well before a record delivered. This happens when a
// venue server numbered the channel again while the channel was being
// rebuilt (nothing delivered to verify against, or no record below next
// to show it) and the other source still streams the old numbering:
// before, its records were delivered after the new numbering's. What src
// holds in the window is dropped, and its place in the channel forgotten.
// If records of src were delivered since the channel was last rebuilt,
// the books hold both numberings: the channel is rebuilt. Lock held.
func (a *szseArbiter) leaveOld(ch *szseArbChannel, src int, s uint64) {
	a.log.Error("feed: an SZSE source sent a record stamped before records delivered: it streams an older numbering "+
		"of the channel; nothing more of it is taken there until its copy of a record delivered matches",
		"channel", ch.no, "source", sourceName(src), "seq", s, "delivered", ch.next.Load()-1)
	ch.dropUnverified(src)
	st := &ch.src[src]
	st.reset()
	st.old, st.verify = true, true
	if ch.req.src == src {
		ch.req.src = -1
		a.wake()
	}
	if ch.from&(1<<src) != 0 {
		// Records of both numberings were delivered since the channel
		// was last rebuilt: no record showed it before (both sources
		// were taken, nothing delivered to verify them against).
		a.log.Error("feed: SZSE records of two numberings were delivered; rebuilding the channel from ApplSeqNum 1",
			"channel", ch.no, "source", sourceName(src))
		a.restart(ch)
	}
}

// numberAgain begins the channel's numbering again at record s, which src
// sent at recv: both sources' places are forgotten (they were in the old
// numbering) and the channel is rebuilt from ApplSeqNum 1, stale until
// delivery reaches s. The other source is left on the old numbering
// (szseStream.old) until its copy of a record delivered shows the new
// one: its venue server may not have numbered the channel again yet. The
// capture numbers the channel afresh from here.
// Lock held.
func (a *szseArbiter) numberAgain(ch *szseArbChannel, src int, s uint64, recv int64) {
	ch.renumbered, ch.recorded = true, s
	for i := range ch.src {
		ch.src[i].reset()
	}
	o := &ch.src[1-src]
	o.old, o.verify = true, true
	a.log.Warn("feed: the other SZSE source is taken again on the channel once its copy of a record delivered shows the new numbering",
		"channel", ch.no, "source", sourceName(1-src))
	a.restartNumbering(ch, src, s, recv)
}

// restartNumbering rebuilds ch from ApplSeqNum 1 of a new numbering (a new
// day, or the same day numbered again) that src has shown up to s:
// nothing of it was delivered, so the rebuild publishes every print; the
// capture numbers the channel afresh. Lock held.
func (a *szseArbiter) restartNumbering(ch *szseArbChannel, src int, s uint64, recv int64) {
	ch.last.Store(s)
	a.restart(ch)
	// restart kept what the old numbering delivered; nothing of the new
	// one was.
	ch.printed, ch.printedAt = 0, 0
	a.replay(ch)
	a.rec.NewStream(uint8(src), recv, ch.no, nil)
}

// hold keeps record s, ahead of the channel's next, in the window, or
// drops it when it is beyond the window (it is asked for again once the
// window reaches it). Lock held.
func (a *szseArbiter) hold(ch *szseArbChannel, src int, s uint64, frame []byte, recv int64) {
	before := len(ch.win)
	if !ch.grow(s-ch.next.Load()+1, a.maxWin, a.growBudget-a.grown) {
		ch.overflow.Add(1)
		return
	}
	a.grown += len(ch.win) - before
	sl := ch.slot(s)
	if sl.seq == s {
		ch.duplicates.Add(1)
		if ch.src[sl.src].verify && !ch.src[src].verify {
			// The copy held is of a source not verified yet, which drain
			// stops at: a verified source's takes its place.
			sl.recv, sl.src, sl.n = recv, uint8(src), uint8(copy(sl.data[:], frame))
		}
		return
	}
	a.first[src].Add(1)
	sl.seq, sl.recv, sl.src, sl.n = s, recv, uint8(src), uint8(copy(sl.data[:], frame))
	ch.held++
}

// gapOpened notes that the channel's next record is missing. A gap at the
// same place that was worked on within the recovery timeout (its claim
// withdrawn when a session ended, and made again by the next) goes on
// with its time, attempts and the sources asked: sources that claim
// records they never bring and reconnect faster than the recovery timeout,
// one or both in turn, still have them declared lost, once every live
// source has been asked (check). Lock held.
func (a *szseArbiter) gapOpened(ch *szseArbChannel, next uint64, now int64) {
	if ch.gapAt != next || now-max(ch.gapSince, ch.req.progress) >= int64(a.recovery) {
		ch.newGap(next, now)
	}
	a.wake()
}

// deliver hands one record, decoded into m from frame, which came from
// src, to the sink (and the capture) and advances next. Lock held.
func (a *szseArbiter) deliver(ch *szseArbChannel, src int, m *szse.Message, frame []byte, recv int64) {
	a.rec.Message(uint8(src), ch.next.Load(), recv, frame)
	if err := a.sink.ApplySZSE(m, recv); err != nil {
		a.sinkErrors.Add(1)
	}
	ch.deliveredAt = max(ch.deliveredAt, recordTime(m))
	ch.lastRecN = uint8(copy(ch.lastRec[:], frame))
	if ch.from == 0 {
		a.firstDelivered(ch, src)
	}
	ch.from |= 1 << src
	ch.next.Add(1)
	ch.delivered.Add(1)
	ch.sinceReset++
}

// firstDelivered notes that src's record is the first delivered on the
// channel, ever or since it was last rebuilt (restart): the other source,
// taken with nothing delivered to verify it against, is verified now
// (szseStream.verify), its copy of a record delivered compared before its
// records are taken. Its stream may be another numbering than src's: a
// venue server numbered the channel again while nothing was delivered
// (before the process started, or during a rebuild). Before, both were
// taken, and a record of one numbering followed by the other's was
// rebuilt only if a later record of the first showed it: in a rebuild,
// after the channel was declared live (found by
// TestSZSEArbiterAgainstModel with MODEL_RENUMBER=1); on the channel's
// first records, the books served as valid meanwhile, for as long as the
// channel was quiet or the first source's records were not asked for
// (TestSZSETwoNumberingsOnFirstRecords). Lock held.
func (a *szseArbiter) firstDelivered(ch *szseArbChannel, src int) {
	if o := &ch.src[1-src]; !o.verify {
		o.verify, o.verifyAsked = true, 0
	}
}

// drain delivers the held records that are now in order, then tells the
// sink when a rebuilding channel has caught up. Lock held.
func (a *szseArbiter) drain(ch *szseArbChannel) {
	older := false
	for ch.held > 0 {
		next := ch.next.Load()
		sl := ch.slot(next)
		if sl.seq != next || ch.src[sl.src].verify {
			break // missing, or a source's not verified yet
		}
		sl.seq = 0
		ch.held--
		// The frame decoded when it arrived; it cannot fail now.
		if _, err := szse.Decode(sl.data[:sl.n], &a.m); err != nil {
			a.log.Error("feed: a held SZSE record does not decode", "channel", ch.no, "seq", next, "err", err)
			continue
		}
		if rt := recordTime(&a.m); rt > 0 && rt < ch.deliveredAt && stampedBefore(rt, ch.deliveredAt) {
			// Of an older numbering than records delivered since it
			// was held (its source's session may have ended since, the
			// next streaming the channel's numbering): dropped.
			if !older {
				older = true
				a.log.Warn("feed: a held SZSE record is stamped before records delivered, of an older numbering; dropped",
					"channel", ch.no, "seq", next, "source", sourceName(int(sl.src)))
			}
			continue
		}
		a.deliver(ch, int(sl.src), &a.m, sl.data[:sl.n], sl.recv)
	}
	if ch.held == 0 && len(ch.win) > a.firstWindow() {
		// Emptied: give back what the window grew by.
		a.grown -= len(ch.win) - a.firstWindow()
		ch.win = make([]szseSlot, a.firstWindow())
	}
	if ch.stale.Load() && ch.next.Load() > ch.last.Load() {
		a.caughtUp(ch)
	}
}

// firstWindow is the window a channel starts with.
func (a *szseArbiter) firstWindow() int { return min(szseFirstWindow, a.maxWin) }

// Snapshot takes a 300111 snapshot, decoded into m from frame, from src
// and delivers it (and records frame in the capture) if it is aligned
// with what was delivered: on every channel with records, src's live
// stream is exactly where delivery is and no gap is open, so every record src
// sent before the snapshot has been delivered and none after it. A
// snapshot's channel (1xxx) is not the channel of its security's records
// (2xxx), so every channel is checked, and only once src has sent a
// ChannelHeartbeat in its session: before that, a session that started
// live may carry channels the arbiter has not heard of. Otherwise the
// snapshot is dropped and counted.
func (a *szseArbiter) Snapshot(src int, m *szse.Message, frame []byte, recv int64) {
	a.mu.Lock()
	defer a.mu.Unlock()
	own := a.channel(m.Snapshot.ChannelNo, src, false)
	if own == nil {
		return
	}
	if !own.records && own.last.Load() != 0 {
		a.snapshotChannel(own)
	}
	if !a.hb[src] {
		own.dropped.Add(1)
		return
	}
	for _, ch := range a.channels() {
		next := ch.next.Load()
		if next == 1 && ch.last.Load() == 0 {
			continue // no records: nothing to be aligned with
		}
		if st := &ch.src[src]; st.livePos != next || ch.last.Load() >= next || st.verify {
			// src has not shown its live position on the channel
			// (livePos 0), its live stream (in which its snapshots
			// travel) is elsewhere, or a gap is open: records are known beyond what was
			// delivered, which the snapshot may show. Its position
			// counting what it resent is not where its snapshots are:
			// a source whose live stream is at 3, asked to resend 4..7,
			// sends snapshots of the books at 3.
			own.dropped.Add(1)
			return
		}
	}
	a.rec.Message(uint8(src), 0, recv, frame)
	if err := a.sink.ApplySZSE(m, recv); err != nil {
		a.sinkErrors.Add(1)
	}
	// Counted once the sink has it, as deliver advances next after the
	// sink call: status readers, who take no lock, never see a snapshot
	// counted as delivered that the sink does not have yet.
	own.snapshots.Add(1)
}

// snapshotChannel drops what ChannelHeartbeats made the arbiter expect of
// a channel that turns out to carry snapshots and no records: nothing of
// it can be asked for by ApplSeqNum. If it was declared lost meanwhile,
// it is live again. Lock held.
func (a *szseArbiter) snapshotChannel(ch *szseArbChannel) {
	a.log.Info("feed: SZSE channel carries snapshots, not records; its ChannelHeartbeat sequence is ignored",
		"channel", ch.no, "last", ch.last.Load())
	ch.last.Store(0)
	ch.newGap(0, 0)
	ch.req.src = -1
	if ch.stale.Load() {
		a.caughtUp(ch)
	}
}

// Heartbeat takes a ChannelHeartbeat from src: the channel's last
// ApplSeqNum, which src's stream has reached. A gap opens if it is beyond
// what was delivered.
func (a *szseArbiter) Heartbeat(src int, h *szse.ChannelHeartbeat, recv int64) *sourceError {
	if h.ApplLastSeqNum < 0 {
		return protoErr("malformed", "channel heartbeat of channel %d with ApplLastSeqNum %d", h.ChannelNo, h.ApplLastSeqNum)
	}
	s := uint64(h.ApplLastSeqNum)
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.hb[src] {
		a.hb[src] = true
		a.log.Debug("feed: the SZSE source's first ChannelHeartbeat of its session", "source", sourceName(src))
	}
	ch := a.channel(h.ChannelNo, src, false)
	if ch == nil {
		return nil
	}
	if err := ch.jump("a ChannelHeartbeat", s); err != nil {
		return err
	}
	st := &ch.src[src]
	if st.old {
		return nil // of the old numbering (szseStream.old)
	}
	if s+1 > st.pos.Load() {
		st.pos.Store(s + 1)
	}
	if !ch.records && ch.snapshots.Load()+ch.dropped.Load() > 0 {
		return nil // a snapshot channel
	}
	if ch.renumbered && st.day != ch.day {
		// Since the channel began a new day, a source's heartbeat counts
		// once it has sent a record of that day: until then its
		// ApplLastSeqNum may be the old day's.
		return nil
	}
	// The source's live stream has passed s: a live record at or below
	// it is the stream going backwards. A heartbeat below what the source
	// sent changes nothing: it may be a new day's, before the day's first
	// record shows the day.
	st.livePos = max(st.livePos, s+1)
	st.hbPos = max(st.hbPos, s+1)
	next, last := ch.next.Load(), ch.last.Load()
	if s > last {
		ch.last.Store(s)
		if next > last && next <= s {
			a.gapOpened(ch, next, recv)
		}
	}
	return nil
}

// Answer takes src's answer to a ReTransmit. Done (1) or partial (2)
// announces the records that follow: ApplBegSeqNum through ApplEndSeqNum
// (0: through everything below src's live position). Any other status
// refuses the request, which then counts as a failed attempt.
func (a *szseArbiter) Answer(src int, r *szse.ReTransmit, recv int64) *sourceError {
	if r.ResendType != szse.ResendTypeTick {
		return nil // announcements are not asked for
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	ch := a.chans.get(r.ChannelNo)
	if ch == nil {
		return nil // never asked for
	}
	st := &ch.src[src]
	switch r.ResendStatus {
	case szse.ResendStatusDone, szse.ResendStatusPartial:
		beg, end := r.ApplBegSeqNum, r.ApplEndSeqNum
		if beg <= 0 || end < 0 {
			return protoErr("malformed", "ReTransmit answer for channel %d with range %d-%d", r.ChannelNo, beg, end)
		}
		if end == 0 {
			end = int64(ch.last.Load())
			if st.livePos != 0 {
				end = int64(st.livePos) - 1
			}
		}
		if st.rtxEnd != 0 {
			a.log.Warn("feed: SZSE source answered a ReTransmit before resending all of the previous one", "channel", ch.no,
				"unsent_from", st.rtxNext, "unsent_to", st.rtxEnd)
		}
		st.rtxNext, st.rtxEnd = uint64(beg), uint64(end)
		if end < beg {
			st.rtxEnd = 0
		}
		if ch.req.src == src && !ch.req.answered {
			// The first answer is progress; answers repeated without
			// the records are not, or a source echoing its answer
			// would hold the request forever and the other source
			// would never be asked.
			ch.req.progress, ch.req.answered = recv, true
		}
		if st.rtxEnd == 0 {
			a.retransmitted(ch, src)
		}
	default:
		a.log.Warn("feed: SZSE ReTransmit refused", "channel", ch.no, "from", r.ApplBegSeqNum, "to", r.ApplEndSeqNum,
			"status", szse.ResendStatusName(r.ResendStatus), "text", string(szse.TrimString(r.RejectText[:])))
		if ch.req.src == src {
			ch.req.src = -1
			a.wake()
		}
	}
	return nil
}

// SourceLive records that src logged in: its streams start afresh.
func (a *szseArbiter) SourceLive(src int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.live[src] = true
	a.forget(src)
	// Its streams are verified on every channel with records delivered
	// before they are taken (szseStream.verify).
	for _, ch := range a.channels() {
		ch.src[src].verify = ch.lastRecN > 0 || ch.src[src].old
	}
}

// SourceDown records that src's session ended.
func (a *szseArbiter) SourceDown(src int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.live[src] = false
	a.forget(src)
}

// forget clears what is known of src's streams and fails the requests it
// was asked: src did not answer them, so its next session is asked again
// (check). The records src held in a window while not verified there are
// dropped: the reset clears the flag that keeps drain from them, and
// nothing showed they are of the numbering delivered. What only src's session had claimed of a channel is no longer
// known (settle), and the channels only its claims had brought are given
// back (release). Lock held.
func (a *szseArbiter) forget(src int) {
	a.hb[src] = false
	for _, ch := range a.channels() {
		st := &ch.src[src]
		if st.verify {
			ch.dropUnverified(src)
		}
		// A source left on the old numbering stays there: its next
		// session is verified as a login is, but one that shows the old
		// numbering still rebuilds nothing (szseStream.old).
		old := st.old
		st.reset()
		st.old, st.verify = old, old
		if ch.req.src == src {
			ch.req.src, ch.asked[src] = -1, false
			a.wake()
		}
		a.settle(ch)
	}
	a.release(src)
}

// release gives back src's share of the channel table held by channels
// that src named first and that nothing but its ended session's claims
// (ChannelHeartbeats, snapshots never delivered) ever showed: no record,
// nothing held or asked for, no snapshot delivered. One the other source
// names in its session passes to it, if its share has room; the others
// are forgotten, as evictIdle forgets them. Before, they kept counting
// against src's share for the rest of the process: a session that named
// its share of bogus ChannelNos (a relay's garbage) left every later
// session of src unable to bring a new channel by ChannelHeartbeat or
// snapshot (dropped as over the limit, the warning never logged again),
// so the records a new session's ChannelHeartbeat announced were never
// asked for. Lock held.
func (a *szseArbiter) release(src int) {
	other := 1 - src
	list := a.channels()
	kept := make([]*szseArbChannel, 0, len(list))
	var freed []uint16
	for _, ch := range list {
		if ch.by != src || ch.records || ch.held > 0 || ch.req.src >= 0 || ch.stale.Load() || ch.snapshots.Load() > 0 {
			kept = append(kept, ch)
			continue
		}
		if ch.src[other].pos.Load() > 0 || ch.src[other].livePos > 0 {
			if a.brought[other] < szseMaxChannels/2 {
				ch.by = other
				a.brought[other]++
				a.brought[src]--
			}
			kept = append(kept, ch)
			continue
		}
		a.chans.remove(ch.no)
		a.brought[src]--
		freed = append(freed, ch.no)
	}
	a.full[src] = a.brought[src] >= szseMaxChannels/2
	if len(freed) == 0 {
		return
	}
	a.list.Store(&kept)
	a.log.Info("feed: SZSE channels only an ended session named are forgotten", "source", sourceName(src),
		"count", len(freed), "first", freed[0])
}

// settle lowers the channel's last to what is still known once a source's
// session has ended: the highest record received in the channel's
// numbering (records are data; a ChannelHeartbeat is only a claim), the
// other source's position in its session, what was delivered. Before,
// last only grew, so a ChannelHeartbeat claiming records no source could
// bring (a relay's bogus ApplLastSeqNum) kept the channel waiting for
// them, stale after the loss was declared, for the rest of the day.
// Lowering it never makes the books wrong: delivery is in order, so they
// stay exactly the records through next-1, and a rebuild still redelivers
// every record received before it; a source that comes back and claims
// more opens the gap again, with the attempts it had (gapOpened). A
// rebuild that has delivered everything still known is caught up. Lock
// held.
func (a *szseArbiter) settle(ch *szseArbChannel) {
	next, last := ch.next.Load(), ch.last.Load()
	if next > last {
		return // nothing awaited
	}
	known := max(next-1, ch.recorded)
	for i := range ch.src {
		if p := ch.src[i].pos.Load(); p > 0 {
			known = max(known, p-1)
		}
	}
	if known >= last {
		return
	}
	a.log.Info("feed: SZSE records that only an ended session claimed are no longer awaited", "channel", ch.no,
		"next", next, "last", last, "known", known)
	ch.last.Store(known)
	if next > known && ch.stale.Load() {
		a.caughtUp(ch)
	}
}

// lag returns how far src's streams are behind delivery, at most over
// the channels with records: zero when src is at or ahead of it
// everywhere. A stream src has not shown its place in since it logged in
// counts as at the start. Safe without the lock.
func (a *szseArbiter) lag(src int) uint64 {
	var lag uint64
	for _, ch := range a.channels() {
		p, next := ch.src[src].pos.Load(), ch.next.Load()
		if p == 0 {
			p = 1
		}
		if p < next {
			lag = max(lag, next-p)
		}
	}
	return lag
}

// behind returns how many records known to exist are not yet delivered,
// at most over the channels. Safe without the lock.
func (a *szseArbiter) behind() uint64 {
	var n uint64
	for _, ch := range a.channels() {
		if next, last := ch.next.Load(), ch.last.Load(); last >= next {
			n = max(n, last-next+1)
		}
	}
	return n
}

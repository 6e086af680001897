package feed

import (
	"sync/atomic"

	"sgw/feed/szse"
)

// szseMaxRecord is the longest frame the arbiter holds out of order: a
// trade (300191) of 66 body bytes between its header and checksum; an
// order (300192) is shorter.
const szseMaxRecord = szse.HeaderLen + 66 + szse.TrailerLen

// szseFirstWindow is the window a channel starts with; it grows, by
// doubling, up to Config.Window when records arrive further ahead.
const szseFirstWindow = 1024

// szseSlot holds one record that arrived ahead of its channel's next
// ApplSeqNum: the frame as received, to be decoded again when delivered.
// Slots belong to their channel, guarded by the arbiter's mu.
type szseSlot struct {
	seq  uint64 // 0 = empty
	recv int64
	n    uint8
	src  uint8 // the source it came from
	data [szseMaxRecord]byte
}

// szseStream is what the arbiter knows of one source's stream on one
// channel during the source's current session. Guarded by the arbiter's
// mu, except pos, which status reads without it.
type szseStream struct {
	// livePos is the ApplSeqNum after the last record the source sent live
	// (not as a retransmission) or its ChannelHeartbeats claimed: where its
	// live stream, and its snapshots with it, are. 0 until the source has
	// shown it in this session; its snapshots cannot be placed until then.
	// A live record below it is the stream going backwards.
	livePos uint64
	// pos is the source's position in the channel's stream: the ApplSeqNum
	// after the last one its records or its ChannelHeartbeats reached,
	// whether or not it sent every record before (a source that skipped a
	// range has still passed it); 0 while unknown. Read without the lock
	// by status.
	pos atomic.Uint64
	// A retransmission the source announced (ReTransmit answer, status 1
	// or 2): the next ApplSeqNum it will resend and the last; rtxEnd 0
	// when none is under way.
	rtxNext, rtxEnd uint64
	// day is the trading day (yyyymmdd) of the last dated record the
	// source sent on the channel in this session; 0 before the first.
	// dayAt is when that record came (Unix ns).
	day, dayAt int64
	// verify says the source logged in after records were delivered on
	// the channel and has not yet shown that it streams their numbering:
	// its copy of the last record delivered (ApplSeqNum next-1, which a
	// ReTransmit asked of it starts with) has not been compared with
	// lastRec. Until then none of its records is delivered (Offer, drain)
	// nor its snapshots: a venue restarted without its records may number
	// a new stream from ApplSeqNum 1 that is already longer than what was
	// delivered, whose records at next would otherwise be applied to the
	// old books.
	verify bool
	// verifyAsked is when the source, not verified on a channel without
	// a gap, was last asked for its copy of the last record delivered
	// (verifyAsk, Unix ns): 0 not yet in its session, -1 once a copy
	// was compared (verify). An ask left unanswered is made again
	// (before, once a session: a source whose answer was lost stayed
	// unverified, the channel frozen, found by
	// TestSZSEArbiterAgainstModel).
	verifyAsked int64
	// old says the source streams an older numbering of the channel than
	// the one delivered: the venue numbered the channel again on the
	// other source (numberAgain) while this one's venue server may not
	// have restarted yet, or it sent a record at or after next stamped
	// well before one delivered (leaveOld). It is not verified (verify is
	// set with it); its records are dropped, not held, and count nowhere
	// (last, recorded, pos, livePos), its ChannelHeartbeats are ignored,
	// it cannot bring a gap live (mayBring), and it is asked for a gap
	// only once a record was delivered in the channel's numbering, from
	// that record (streams). Its copy of the last record delivered equal
	// to that record (its venue numbered the channel again too) clears it
	// and verify, as a login's; one that differs changes nothing (no
	// rebuild, a ReTransmit asked of it failed). It outlives the source's
	// session, so a new session on the old venue rebuilds nothing either;
	// a new day (newDay) or a numbering of its own that is later
	// (renumber) clears it. Before, the old numbering's records opened a
	// gap that the renumbered source could not fill, and this source's
	// old records filled it on top of the new stream's, served as valid.
	old bool
	// hbPos is the ApplSeqNum after the highest ApplLastSeqNum the
	// source's ChannelHeartbeats of the channel claimed in this session
	// (0: none yet): its live stream had reached it. Delivery at or past
	// it shows the source has had nothing more to bring, which a live
	// record does not (the session may still be sending what came before
	// the end): szseArbiter.EndOutage waits for it.
	hbPos uint64
}

// reset forgets the stream: a new session, or none.
func (s *szseStream) reset() {
	s.livePos, s.rtxNext, s.rtxEnd, s.day, s.dayAt, s.verify, s.verifyAsked, s.old = 0, 0, 0, 0, 0, false, 0, false
	s.hbPos = 0
	s.pos.Store(0)
}

// szseRequest is the ReTransmit a channel is waiting for. Guarded by the
// arbiter's mu.
type szseRequest struct {
	src      int    // the source asked; -1 when no request is under way
	from, to uint64 // the range asked for
	progress int64  // Unix ns of the request, its answer or its last record
	// answered says the source has answered the request: a later answer
	// (an echo repeated without records) is no progress.
	answered bool
}

// szseArbChannel is the arbiter's state of one SZSE channel. The fields
// before the atomics are guarded by the arbiter's mu; the atomics are
// written under mu and read by status without it.
type szseArbChannel struct {
	no uint16
	by int // the source that named the channel first

	win  []szseSlot // ring indexed by ApplSeqNum; len a power of two
	held int
	src  [2]szseStream

	// The gap being worked on: the next ApplSeqNum when it was seen, when,
	// how many ReTransmits it has had and the sources they asked. gapAt 0:
	// none.
	gapAt    uint64
	gapSince int64
	attempts int
	asked    [2]bool
	req      szseRequest
	// sinceReset counts records delivered since the last ResetChannel.
	sinceReset uint64
	// printed is the highest ApplSeqNum delivered in the channel's
	// numbering before its last rebuild: the rebuild delivers the
	// records up to it again, whose prints the sink does not publish
	// again (szseReplayer). printedAt is the latest TransactTime of a
	// record delivered then: a record stamped well after it was not
	// (a numbering begun during the rebuild, which nothing delivered
	// could show).
	printed   uint64
	printedAt szse.Timestamp
	// recorded is the highest ApplSeqNum of a record received on the
	// channel in its numbering (its day), from either source: records
	// known to exist whatever becomes of the sessions that claimed them.
	recorded uint64
	// records says an order or trade of the channel has been seen: a
	// channel without any that carries snapshots is a snapshot channel,
	// whose ChannelHeartbeats cannot open a gap (there is nothing to ask
	// for by ApplSeqNum).
	records bool
	// day is the trading day (yyyymmdd) of the channel's records, from
	// their TransactTime; 0 before the first dated one. renumbered is set
	// once the channel has begun a new day in this process (newDay).
	day        int64
	renumbered bool
	// deliveredAt is the latest TransactTime of a record delivered in
	// the channel's numbering (raw, yyyymmddHHMMSSsss, whose order is the
	// time's); 0 before one. A record below next is a copy of one
	// delivered, no later than it: one stamped well after it is of
	// another numbering (renumber).
	deliveredAt szse.Timestamp
	// lastRec holds the frame of the last record delivered (ApplSeqNum
	// next-1), lastRecN bytes of it; 0 when none was delivered in the
	// channel's numbering. A source's login is verified against it
	// (szseStream.verify).
	lastRec  [szseMaxRecord]byte
	lastRecN uint8
	// from has bit i set once source i has had a record delivered since
	// the channel was last rebuilt (restart): a source then found on an
	// older numbering (leaveOld) mixed two numberings in the books.
	from uint8
	// oldSince is when a source left on the old numbering
	// (szseStream.old) sent a record the channel dropped while no live
	// source streamed its numbering (Unix ns; 0: none since then). The
	// market moves and the books do not follow: after the recovery time
	// the channel is rebuilt, stale until a source streams its numbering
	// (check).
	oldSince int64

	// outageSnaps is how many snapshots the channel had delivered when
	// an outage marked it (EndOutage: a snapshot channel is proven by a
	// later one).
	outageSnaps uint64

	next  atomic.Uint64 // the next ApplSeqNum to deliver
	last  atomic.Uint64 // the highest ApplSeqNum known to exist
	stale atomic.Bool   // lost and not yet rebuilt
	// outage: marked stale because no source was up for the outage
	// grace, its continuity not yet proven (szseArbiter.EndOutage).
	outage     atomic.Bool
	delivered  atomic.Uint64
	duplicates atomic.Uint64
	overflow   atomic.Uint64
	gaps       atomic.Uint64
	lost       atomic.Uint64
	rerequests atomic.Uint64
	rebuilds   atomic.Uint64
	snapshots  atomic.Uint64
	dropped    atomic.Uint64 // snapshots not aligned with the delivered records
}

// newSZSEArbChannel returns a channel that src named first, with a window
// of win slots (a power of two), that expects ApplSeqNum 1.
func newSZSEArbChannel(no uint16, src, win int) *szseArbChannel {
	ch := &szseArbChannel{no: no, by: src, win: make([]szseSlot, win)}
	ch.req.src = -1
	ch.next.Store(1)
	return ch
}

// newGap starts the gap at next, seen at now: no attempts, no source
// asked.
func (ch *szseArbChannel) newGap(next uint64, now int64) {
	ch.gapAt, ch.gapSince, ch.attempts, ch.asked = next, now, 0, [2]bool{}
}

// slot returns the window slot of seq.
func (ch *szseArbChannel) slot(seq uint64) *szseSlot {
	return &ch.win[seq&uint64(len(ch.win)-1)]
}

// grow doubles the window until it holds span records from next, up to
// limit slots and adding at most spare slots, keeping what is held. It
// reports whether span fits.
func (ch *szseArbChannel) grow(span uint64, limit, spare int) bool {
	if span <= uint64(len(ch.win)) {
		return true
	}
	if span > uint64(limit) {
		return false
	}
	n := len(ch.win)
	for uint64(n) < span {
		n <<= 1
	}
	if n-len(ch.win) > spare {
		return false
	}
	old := ch.win
	ch.win = make([]szseSlot, n)
	for i := range old {
		if s := &old[i]; s.seq != 0 {
			*ch.slot(s.seq) = *s
		}
	}
	return true
}

// clear empties the window.
func (ch *szseArbChannel) clear() {
	if ch.held == 0 {
		return
	}
	for i := range ch.win {
		ch.win[i].seq = 0
	}
	ch.held = 0
}

// dropUnverified empties the slots holding records of src, a source not
// verified on the channel (szseStream.verify) whose session ends: none
// of them may be delivered.
func (ch *szseArbChannel) dropUnverified(src int) {
	for i := 0; i < len(ch.win) && ch.held > 0; i++ {
		if sl := &ch.win[i]; sl.seq != 0 && int(sl.src) == src {
			sl.seq = 0
			ch.held--
		}
	}
}

// missingTo returns the end of the missing range that starts at next, for
// source src (-1: any) to fill: the ApplSeqNum before the first record
// held, or last when none is held. A record held from another source not
// verified yet (szseStream.verify) counts as missing for src: drain stops
// at it until that source is verified, so src is asked through it in one
// ReTransmit, not one record per ReTransmit.
func (ch *szseArbChannel) missingTo(next, last uint64, src int) uint64 {
	if ch.held > 0 {
		end := min(last, next+uint64(len(ch.win))-1)
		for seq := next + 1; seq <= end; seq++ {
			sl := ch.slot(seq)
			if sl.seq == seq && (src < 0 || int(sl.src) == src || !ch.src[sl.src].verify) {
				return seq - 1
			}
		}
	}
	return last
}

// jump returns a malformed error if ApplSeqNum s, from what (a record or
// a ChannelHeartbeat), is more than szseMaxSeqJump beyond what the
// channel knows.
func (ch *szseArbChannel) jump(what string, s uint64) *sourceError {
	if base := max(ch.last.Load(), ch.next.Load()); s > base && s-base > szseMaxSeqJump {
		return protoErr("malformed", "channel %d: %s at ApplSeqNum %d, %d beyond the channel's %d", ch.no, what, s, s-base, base)
	}
	return nil
}

// status returns the channel's counters.
func (ch *szseArbChannel) status() ChannelStatus {
	return ChannelStatus{
		Channel:          ch.no,
		Next:             ch.next.Load(),
		Last:             ch.last.Load(),
		Delivered:        ch.delivered.Load(),
		Duplicates:       ch.duplicates.Load(),
		Overflow:         ch.overflow.Load(),
		Gaps:             ch.gaps.Load(),
		Lost:             ch.lost.Load(),
		Rerequests:       ch.rerequests.Load(),
		Rebuilds:         ch.rebuilds.Load(),
		Snapshots:        ch.snapshots.Load(),
		SnapshotsDropped: ch.dropped.Load(),
		Stale:            ch.stale.Load() || ch.outage.Load(),
	}
}

// ChannelStatus is one SZSE channel's state, for operators and metrics: a
// plain value, a copy of counters read at one moment.
type ChannelStatus struct {
	Channel uint16 `json:"channel"`
	// Next is the next ApplSeqNum the feed will deliver; Last the highest
	// known to exist (from records and ChannelHeartbeats).
	Next uint64 `json:"next"`
	Last uint64 `json:"last"`
	// Delivered counts records handed to the sink, rebuilds included.
	Delivered uint64 `json:"delivered"`
	// Duplicates counts copies dropped: a second source's, or a
	// retransmission of what was delivered.
	Duplicates uint64 `json:"duplicates"`
	// Overflow counts records dropped because they were beyond the window
	// (they are asked for again).
	Overflow uint64 `json:"overflow"`
	// Gaps counts ReTransmit answers that filled missing records, the
	// start of a live session included.
	Gaps uint64 `json:"gapsRecovered"`
	// Lost counts records declared lost (each declaration starts a
	// rebuild); Rebuilds the declarations.
	Lost     uint64 `json:"lost"`
	Rebuilds uint64 `json:"rebuilds"`
	// Rerequests counts ReTransmit requests sent.
	Rerequests uint64 `json:"rerequests"`
	// Snapshots and SnapshotsDropped count the channel's 300111 snapshots
	// delivered and dropped as not aligned with the delivered records.
	Snapshots        uint64 `json:"snapshots"`
	SnapshotsDropped uint64 `json:"snapshotsDropped"`
	// Stale says the channel's books may be wrong: records were lost and
	// the rebuild from ApplSeqNum 1 has not caught up yet.
	Stale bool `json:"stale"`
}

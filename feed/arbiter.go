package feed

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"sync"
	"time"

	"github.com/cespare/xxhash/v2"

	"sgw/feed/capture"
	"sgw/feed/itch"
)

// MaxMessage is the largest ITCH message the feed accepts in one SoupBinTCP
// Sequenced Data packet. The largest ITCH 5.0 message is 50 bytes; anything
// longer is a protocol error of the source that sent it.
const MaxMessage = 64

// Sink receives the feed's messages exactly once and in sequence order.
// orderbook.Input satisfies it.
type Sink interface {
	// Apply takes one raw ITCH message; msg is only valid during the call.
	// recv is the gateway's receive time in Unix nanoseconds.
	Apply(msg []byte, recv int64) error
}

// Rebuilder is implemented by a Sink that builds state from the stream
// (the books, through the feed's decoder). When messages are lost on every
// source, or the sources are found to disagree, the arbiter rebuilds: it
// calls Restart and delivers the stream again from sequence 1 (a source
// logs in again from 1), then calls Rebuilt once it has delivered
// everything it had seen before the restart. A Sink that is no Rebuilder
// has lost messages skipped instead. The methods are called like Apply:
// one at a time, with the arbiter's lock held.
type Rebuilder interface {
	// Restart says that what the sink built may be wrong and that the
	// stream will be delivered again from sequence 1: the sink discards
	// it and marks it stale.
	Restart() error
	// Rebuilt says the stream delivered again has caught up, or, after
	// an outage (Arbiter.Outage), that a returning source proved it
	// streams on from what was delivered: what the sink built is valid
	// again.
	Rebuilt() error
}

// Replayer is implemented by a Rebuilder that publishes what the stream
// prints (the books' trade prints): the next n messages delivered were
// delivered before in the stream's session: the sink builds from them as
// from any, but does not publish their prints again (a trades subscriber
// had them). Replay sets the count; it does not add to it. The arbiter
// calls it with 0 at each Restart and session switch, and during a
// rebuild before each message it delivers (1: delivered before, 0: not).
// It is called like Apply.
type Replayer interface {
	Replay(n uint64)
}

// Staler is implemented by a Rebuilder that can mark what it built as
// possibly wrong without discarding it: the arbiter calls MarkStale, like
// Apply, when the sources are first found to disagree, so the books are
// stale at once, not only when the rebuild starts (up to the recovery
// time later), and again just after a Restart that the divergence's own
// rebuild did not begin (it is still to come). The rebuild's Restart and
// Rebuilt follow. The arbiter also calls it when no source has been up
// for the outage grace (Outage); a Rebuilt ends that too.
type Staler interface {
	MarkStale() error
}

// Misser is implemented by a Rebuilder whose state shows when the stream
// missed a message although no sequence number was missing (a source
// that skipped messages and numbered the rest on, with no other source
// to compare with or the other skipping alike): the ITCH decoder's books
// found an event naming an order they do not hold, or adding one they
// hold. While Missed reports true the arbiter's Check rebuilds, as after
// a loss, at most once per Config.MissedRebuildInterval and only when no
// rebuild is under way, so Missed must report false for books a Restart
// already made will mend (and true again for books found wrong after
// it). The arbiter calls Missed with its lock held: it must not block or
// call back into the arbiter (the books answer from atomics).
type Misser interface {
	Missed() bool
}

// slot holds one out-of-order message in the arbiter's window.
type slot struct {
	seq  uint64 // 0 = empty
	recv int64
	n    uint8
	src  uint8 // the source it came from
	data [MaxMessage]byte
}

// sourcePos is what the arbiter knows of one source's stream.
type sourcePos struct {
	live bool   // logged in and streaming
	pos  uint64 // sequence number of the next message expected on its stream
	// verify: no copy of a message delivered has been compared with
	// what was delivered since it logged in (LoginFrom asks for a copy
	// of the last one). The first one compared shows whether it streams
	// the stream delivered: one that differs is another stream's. A
	// login accepted at or above next (a server that cannot replay the
	// copy) sends none: with a Rebuilder, its messages from next on are
	// not taken until one is compared (probe), lest another stream's be
	// applied to the books.
	verify bool
	// probe is the sequence number of the first message it offered at
	// or above next while verify (0: none), and probeSum its
	// fingerprint, compared with the message delivered under that
	// number (deliver).
	probe, probeSum uint64
	// Check's view of its progress: pos at the last Check, and since when
	// it has not moved (zero until a Check saw it live).
	checked    uint64
	stillSince time.Time
	// stalled: at the last Check, it had brought nothing for the stall
	// time while a gap was open and it was behind it.
	stalled bool
}

// arbiterStats counts what the arbiter did. All fields are guarded by the
// arbiter's mutex; read them with Arbiter.Stats.
type arbiterStats struct {
	Delivered   uint64 // messages handed to the sink
	Duplicates  uint64 // copies dropped because the sequence was already delivered or held
	Overflow    uint64 // messages dropped because they were beyond the window
	Gaps        uint64 // gaps recovered by re-requesting from a source
	Lost        uint64 // messages declared lost after recovery failed
	Divergences uint64 // copies of a sequence number that differed between the sources
	Rebuilds    uint64 // restarts from sequence 1 after a loss, a divergence or a missed message
	SinkErrors  uint64 // messages the sink refused
	Rerequests  uint64 // re-requests issued
	FirstSource [2]uint64
	// MissedRebuilds counts the rebuilds (also in Rebuilds) begun because
	// the sink's books found a message missing from the stream (Misser).
	MissedRebuilds uint64
	// Unverified counts the rebuilds (also in Rebuilds) begun because
	// only a source whose stream could not be checked against what was
	// delivered (its login accepted above the sequence asked) passed next.
	Unverified uint64
	// Outages counts the times the books were marked stale because no
	// source had been up for the outage grace (Arbiter.Outage).
	Outages uint64
}

// Arbiter merges the primary and backup streams of one feed into a single
// stream in which every sequence number appears exactly once and in order,
// taken from whichever source has it first. Messages that arrive ahead of a
// missing one are held in a bounded window; a message missing on every live
// source is recovered by asking one source to log in again from the next
// expected sequence number, and declared lost only after that fails
// MaxRecoveryAttempts times.
//
// Arbiter is safe for concurrent use: sources on different goroutines call
// Offer, and the sink is called with the arbiter's lock held, so it sees one
// caller at a time and must not call back into the arbiter.
type Arbiter struct {
	mu    sync.Mutex
	sink  Sink
	rb    Rebuilder // sink, when it is one
	next  uint64    // next sequence number to deliver
	win   []slot
	mask  uint64
	held  int
	srcs  [2]sourcePos
	stats arbiterStats
	rec   *capture.Recorder // records what is delivered; nil records nothing

	// rp is the sink when it is a Rebuilder and a Replayer. printed is
	// the highest sequence number delivered in the stream's session
	// before its last restart: the rebuild delivers the messages up to
	// it again, whose prints the sink does not publish again.
	rp      Replayer
	printed uint64
	// A rebuild may deliver under the numbers 1..printed messages other
	// than those delivered before under them: a source that skipped or
	// renumbered, found by a divergence, delivered them. prev holds the
	// fingerprints of the messages the window kept at each restart
	// (delivered before); [prevLo, prevHi) is the range of sequence
	// numbers they alone vouch for. A message the rebuild delivers was
	// delivered before when its fingerprint is in prev, or when it is
	// numbered outside [prevLo, prevHi) and at most printed (the streams
	// are taken to agree outside what the windows kept: a rebuild that is
	// itself interrupted delivered below its window what was delivered
	// before, and not yet what lies above it), unless stamped well after
	// printedAt, the latest timestamp
	// of a message delivered then (renumberSlack: another stream, begun
	// since). prev is dropped once delivery passes prevEnd (a window
	// beyond printed). nil: no rebuild since the session began.
	prev                    map[uint64]struct{}
	prevLo, prevHi, prevEnd uint64
	printedAt               uint64
	// otherStream: the rebuild under way delivered a message numbered
	// at most printed and stamped well after printedAt, of another
	// stream (begun since): at the next restart, only what the rebuild
	// delivered of it was delivered before, whatever the old stream's
	// mark says.
	otherStream bool

	// misser is the sink when it is a Rebuilder and a Misser. A rebuild
	// it asks for begins at most once per missedEvery: missedAt is when
	// the last one began (zero: none yet) and missedFrom the source it
	// came from (-1: none), the next one preferring the other source.
	// missedSince is when Check first saw the books wrong since the last
	// restart (zero: not yet), and missedNext the next sequence number
	// then: the live sources' copies up to it are compared first.
	misser      Misser
	missedEvery time.Duration
	missedAt    time.Time
	missedFrom  int
	missedSince time.Time
	missedNext  uint64
	// skipped is the set of sources (bit i: source i) known to have
	// skipped messages in the stream's session: a divergence named it, or
	// the books were found wrong when it alone had delivered since the
	// last restart. A missed-message rebuild comes from one of them only
	// when no other source is live. since counts the messages each source
	// delivered first since the last restart, and fromMissed is set while
	// the rebuild under way is a missed-message one.
	skipped    uint8
	since      [2]uint64
	fromMissed bool

	// sums[seq&mask] is the fingerprint of the message delivered as seq,
	// with bit 1 the source that brought it and bit 0 set (0: unknown), to compare
	// the other source's copy with: a standard ITCH feed numbers messages
	// only by counting, so a source that skipped or repeated messages
	// shows only as a copy that differs.
	sums []uint64
	// deliveredAt is the latest ITCH timestamp (ns since midnight) of a
	// message delivered since the stream started at 1; 0 before one. A
	// copy of a message delivered is no later than it: a copy below next
	// stamped well after it is of another stream (renumbered).
	deliveredAt uint64
	// A rebuild in progress delivers the stream again from 1 up to
	// rebuildTo. After a divergence the source that brought the differing
	// copy first is the suspect: the rebuild takes nothing from it
	// (exclude), and once it is done the suspect logs in again from the
	// current position. resync is the set of sources (bit i: source i)
	// the supervisor is to make log in again from Next.
	rebuilding bool
	rebuildTo  uint64
	exclude    int // the source a rebuild takes nothing from, -1 = none
	// trustedDown is since when the source a rebuild comes from (the one
	// not excluded) has not been live; zero while it is.
	trustedDown time.Time
	resync      uint8
	// A divergence seen and not yet acted on: since when (Unix ns, 0 =
	// none), the source whose copy came first at the first one, and the
	// source found to have skipped messages (-1 until found).
	divergedAt int64
	firstCopy  int
	skipper    int
	// renumbered says a divergence seen showed another stream under the
	// session's name: a copy stamped after every message delivered, or a
	// login's copy of the last message delivered that differs from it
	// (LoginFrom). stampedLate says it was the former, so the new stream
	// may be shorter than what was delivered: the rebuild need not reach
	// the old stream's extent, only what the source it comes from has
	// shown it holds. A login's copy shows a stream at least as long
	// (the source sent it at next-1), and a relay that skips or repeats
	// messages shows the same, so its rebuild still reaches the extent.
	renumbered, stampedLate bool
	// stopped is the set of sources (bit i: source i) whose copies showed
	// another stream (renumbered): the arbiter takes nothing more from
	// them (not live) until they log in again, which the divergence's
	// rebuild makes them do (Check).
	stopped uint8
	// probing is the set of sources (bit i: source i) with a probe to
	// compare (sourcePos.probe).
	probing uint8

	maxAttempts int
	gapAt       uint64    // the next value when the current recovery started
	gapSince    time.Time // when it started
	attempts    int
	// recovery is how long a gap is worked on before its messages are
	// declared lost: a source that is logging in or lagging may still
	// bring them.
	recovery time.Duration
	// lost is the last range declared lost, for the supervisor to report
	// (lostTo == 0: none pending).
	lostFrom, lostTo uint64

	// A re-request in flight: the source asked to log in again, and when
	// the arbiter stops waiting for it.
	pending     int
	pendingTill time.Time
	patience    time.Duration
	// single is a feed with a primary and no backup: a rebuild after a
	// divergence has no other source to come from.
	single bool
	// heldSince is when Check first saw messages held (a gap), zero while
	// none are.
	heldSince time.Time
	// session is the SoupBinTCP session the stream delivered belongs to
	// ("" until a source logged in): its sequence numbers count that
	// session's messages only.
	session string
	// claimed[i]: source i's session was accepted (Session) and it has
	// not gone down since. Session and SourceLive are separate calls, so
	// a source between them is not live yet but holds the session.
	claimed [2]bool
	// outage: the books were marked stale because no source was up for
	// the feed's outage grace (Outage): the market moved while the feed
	// was blind. A Rebuilt ends it: a rebuild's, or the one EndOutage
	// sends once a source proved it streams on from what was delivered.
	outage bool
}

// newArbiter returns an arbiter that delivers to sink starting at sequence 1,
// holding up to window messages out of order (rounded up to a power of two).
// It waits up to patience for a re-requested source to log in again, and
// declares a gap lost only after maxAttempts re-requests and recovery.
func newArbiter(sink Sink, window, maxAttempts int, patience, recovery time.Duration) *Arbiter {
	n := 1
	for n < window {
		n <<= 1
	}
	rb, _ := sink.(Rebuilder)
	var misser Misser
	var rp Replayer
	if rb != nil {
		misser, _ = sink.(Misser)
		rp, _ = sink.(Replayer)
	}
	return &Arbiter{
		sink:        sink,
		rb:          rb,
		rp:          rp,
		misser:      misser,
		missedEvery: defaultMissedRebuildInterval,
		missedFrom:  -1,
		next:        1,
		win:         make([]slot, n),
		sums:        make([]uint64, n),
		exclude:     -1,
		skipper:     -1,
		mask:        uint64(n - 1),
		maxAttempts: maxAttempts,
		pending:     -1,
		patience:    patience,
		recovery:    recovery,
	}
}

// Next returns the next sequence number the arbiter will deliver: the
// sequence a source logging in should request.
func (a *Arbiter) Next() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.next
}

// LoginFrom returns the sequence number a source logging in should
// request: Next, less one when a message has been delivered. The source
// then sends a copy of the last message delivered before anything new,
// and Offer compares it with what was delivered (the fingerprint kept for
// it): a venue that restarted without its messages and numbers a new
// stream under the session's name shows at once, even when the new stream
// is already longer than what was delivered (nothing else below next would
// come, and nothing stamped late). The copy is dropped as a duplicate (and
// counted in Duplicates) when it matches; when it differs the books are
// marked stale and rebuilt, as for a copy stamped late (Offer).
func (a *Arbiter) LoginFrom() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return max(a.next-1, 1)
}

// Stats returns a copy of the arbiter's counters.
func (a *Arbiter) Stats() arbiterStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.stats
}

// Held returns how many messages wait in the window for a missing one.
func (a *Arbiter) Held() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.held
}

// SourceLive records that src logged in and its stream starts at pos.
//
// A source whose stream starts at or above next after a message was
// delivered (its login accepted above the sequence asked, LoginFrom)
// sends no copy to compare: with a Rebuilder, its messages are not taken
// until the first of them at or above next equals the message delivered
// under that number (from the other source); one that differs shows
// another stream, as a login's copy that differs does (Offer). Until
// then it holds no message in the window, and a gap it alone passes is
// rebuilt from it (Check).
func (a *Arbiter) SourceLive(src int, pos uint64) {
	a.mu.Lock()
	a.srcs[src] = sourcePos{live: true, pos: pos, verify: pos < a.next || a.rb != nil && a.next > 1}
	a.probing &^= 1 << src
	a.stopped &^= 1 << src
	if a.pending == src {
		a.pending = -1
	}
	a.mu.Unlock()
}

// Session takes the session src's Login Accepted names, before SourceLive.
// The first sets the stream's. One that differs (the server began a new
// session: a new day, a restart) is refused (ok false) while the other
// source is live on the stream's session: the books go on from it, and
// src tries again later. With no source live on it, the stream switches:
// what was delivered belongs to the old session, so the sink rebuilds
// from sequence 1 of the new one (switched true; src must stream from 1,
// and the other source logs in again when it comes back). Like a cold
// start, the rebuild is done once the new session's first message is
// delivered; catching up is the feed's lag.
func (a *Arbiter) Session(src int, session string) (ok, switched bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.session == "":
		a.session = session
		a.claimed[src] = true
		return true, false
	case session == a.session:
		a.claimed[src] = true
		return true, false
	case a.srcs[1-src].live || a.claimed[1-src]:
		return false, false
	}
	a.session = session
	a.claimed[src] = true
	a.skipped = 0 // what a source skipped was in the old session
	if a.rb != nil {
		a.restart()
		a.rebuildTo = 0 // the old session's extent says nothing of the new one's
		a.printed = 0   // nor did it print any of the new one's messages
		a.prev, a.prevLo, a.prevHi, a.prevEnd, a.printedAt = nil, 0, 0, 0, 0
	} else {
		a.rewind()
	}
	// The capture numbers what follows afresh: a replay serves both
	// sessions, not the new one's messages beyond the old one's extent.
	a.rec.NewStream(uint8(src), time.Now().UnixNano(), 0, []byte(session))
	return true, true
}

// StreamSession returns the session of the stream delivered.
func (a *Arbiter) StreamSession() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.session
}

// SourceDown records that src's stream ended.
func (a *Arbiter) SourceDown(src int) {
	a.mu.Lock()
	a.srcs[src].live = false
	a.probing &^= 1 << src
	a.claimed[src] = false
	a.stopped &^= 1 << src // it logs in again by itself
	a.mu.Unlock()
}

// Lag returns how far src's stream is behind the arbiter: zero when it is at
// or ahead of the next sequence to deliver.
func (a *Arbiter) Lag(src int) uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if p := a.srcs[src].pos; p < a.next {
		return a.next - p
	}
	return 0
}

// Offer hands the arbiter message seq from src. msg is copied if it must be
// held. It reports whether the message was new (delivered or held) rather
// than a duplicate or beyond the window.
func (a *Arbiter) Offer(src int, seq uint64, msg []byte, recv int64) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if src == a.exclude || !a.srcs[src].live {
		// Excluded from a rebuild, or from a session the arbiter has
		// already given up on (asked to log in again): its messages may
		// be what the rebuild is to replace.
		return false
	}
	if seq >= a.srcs[src].pos {
		a.srcs[src].pos = seq + 1
	}
	switch {
	case seq < a.next:
		a.stats.Duplicates++
		// A copy stamped after every message delivered cannot be one of
		// them: the server numbers another stream under the session's
		// name (restarted without its messages). Its copy counts as the
		// suspect one, so that a rebuild comes from the other source.
		// Beyond the fingerprints kept, only this shows it: before, such
		// messages were dropped as duplicates up to the old extent, the
		// books served as valid, and the later ones applied to them.
		at, ok := itch.Timestamp(msg)
		later := ok && a.deliveredAt != 0 && at > a.deliveredAt+uint64(renumberSlack)
		//
		// The first copy compared after a login below next (LoginFrom:
		// a copy of the last message delivered) that differs shows the
		// same: the source streams another stream, even one already
		// longer than what was delivered, whose messages would otherwise
		// follow at next and be applied to the books.
		if a.next-seq <= a.mask {
			if sum := a.sums[seq&a.mask]; sum != 0 {
				p := &a.srcs[src]
				if h := fingerprint(msg); sum&^3 != h {
					first := int(sum >> 1 & 1)
					another := later || p.verify // another stream
					if another {
						first, a.renumbered = src, true
						a.stampedLate = a.stampedLate || later
					}
					a.diverge(src, seq, h, first, recv)
					if another {
						a.stop(src)
					}
				}
				p.verify = false
				return false
			}
		}
		if later {
			a.diverge(src, seq, fingerprint(msg), src, recv)
			a.renumbered, a.stampedLate = true, true
			a.stop(src)
		}
		return false
	case a.srcs[src].verify && a.rb != nil:
		// At or above next from a source not yet compared (a login
		// accepted above the request): not taken. Its first is kept to
		// compare with the message delivered under that number.
		if p := &a.srcs[src]; a.probing&(1<<src) == 0 {
			p.probe, p.probeSum = seq, fingerprint(msg)
			a.probing |= 1 << src
		}
		return false
	case seq == a.next:
		a.stats.FirstSource[src]++
		a.deliver(src, msg, recv)
		a.drain()
		return true
	case seq-a.next > a.mask:
		a.stats.Overflow++
		return false
	}
	s := &a.win[seq&a.mask]
	if s.seq == seq {
		a.stats.Duplicates++
		if !bytes.Equal(s.data[:s.n], msg) {
			a.diverge(src, seq, fingerprint(msg), int(s.src), recv)
		}
		return false
	}
	a.stats.FirstSource[src]++
	s.seq, s.recv, s.n, s.src = seq, recv, uint8(copy(s.data[:], msg)), uint8(src)
	a.held++
	return true
}

// stop takes nothing more from src, found streaming another stream than
// the one delivered (renumbered), until it logs in again: its messages
// beyond next are the other stream's, not to be applied to the books,
// which are stale until the divergence's rebuild (Check). A sink that is
// no Rebuilder cannot rebuild and goes on from it, as before. Lock held.
func (a *Arbiter) stop(src int) {
	if a.rb == nil {
		return
	}
	a.srcs[src].live = false
	a.stopped |= 1 << src
	a.probing &^= 1 << src
}

// fingerprint returns a 62-bit digest of an ITCH message (its low two bits
// are zero: sums keeps the delivering source and a "set" bit there), to
// tell two copies of one sequence number apart. It mixes the first 16
// bytes (type, Stock Locate, Tracking Number, timestamp, the start of the
// order reference), the last 8 and the length: two different messages
// agree on all of that only by an extraordinary coincidence, and it costs
// a few nanoseconds where a full hash of every message cost more than the
// rest of arbitration together. Messages shorter than 16 bytes are hashed
// whole.
func fingerprint(b []byte) uint64 {
	n := len(b)
	if n < 16 {
		return xxhash.Sum64(b) &^ 3
	}
	le := binary.LittleEndian
	hi, lo := bits.Mul64(le.Uint64(b)^0x9E3779B97F4A7C15, le.Uint64(b[8:])^0xC2B2AE3D27D4EB4F)
	hi2, lo2 := bits.Mul64(hi^lo, le.Uint64(b[n-8:])^uint64(n)<<56^0x165667B19E3779F9)
	return (hi2 ^ lo2) &^ 3
}

// renumberSlack is how much later than every message delivered a copy
// below next must be stamped to show another stream: ITCH messages are
// stamped in sequence order, so a copy of one delivered is never later
// than the last one delivered.
const renumberSlack = time.Second

// skipScan is how far from a differing copy diverge looks for the same
// message under another sequence number.
const skipScan = 4096

// diverge records that src's copy of seq (hash h) differs from the one
// first brought by source first: one source skipped or repeated
// messages, and what was delivered may be wrong. It looks for which: if
// the copy equals a message delivered k sequence numbers earlier, the
// source that delivered that one numbers the stream k lower (it skipped);
// if it equals one delivered k later, src did. (A source that repeated
// messages looks like the other one skipping; a relay losing messages is
// by far the likelier.) The supervisor's next Check rebuilds from the
// source that did not skip, or, if none is found within the recovery
// time, from the one whose copy came second. Lock held.
func (a *Arbiter) diverge(src int, seq, h uint64, first int, recv int64) {
	a.stats.Divergences++
	if a.divergedAt == 0 {
		a.divergedAt, a.firstCopy = max(recv, 1), first
		a.markStale()
	}
	if a.skipper >= 0 {
		return
	}
	for k := uint64(1); k <= skipScan; k++ {
		if e := seq - k; e >= 1 && a.next-e <= a.mask && a.sums[e&a.mask]&^3 == h {
			a.skipper = int(a.sums[e&a.mask] >> 1 & 1)
			a.skipped |= 1 << a.skipper
			return
		}
		if l := seq + k; l < a.next && a.sums[l&a.mask]&^3 == h {
			a.skipper = src
			a.skipped |= 1 << a.skipper
			return
		}
	}
}

// markStale tells a Staler sink that the sources disagree. Lock held.
func (a *Arbiter) markStale() {
	if st, ok := a.sink.(Staler); ok && a.rb != nil {
		if err := st.MarkStale(); err != nil {
			a.stats.SinkErrors++
		}
	}
}

// deliver hands one message from src to the sink and advances next. Lock
// held.
func (a *Arbiter) deliver(src int, msg []byte, recv int64) {
	a.rec.Message(uint8(src), a.next, recv, msg)
	h := fingerprint(msg)
	if a.rp != nil && a.printed > 0 {
		a.replayed(msg, h)
	}
	if err := a.sink.Apply(msg, recv); err != nil {
		a.stats.SinkErrors++
	}
	a.sums[a.next&a.mask] = h | uint64(src)<<1 | 1
	if at, ok := itch.Timestamp(msg); ok {
		a.deliveredAt = max(a.deliveredAt, at)
	}
	a.stats.Delivered++
	a.since[src]++
	a.next++
	if a.probing != 0 {
		a.compareProbes(a.next-1, h, recv)
	}
	// A missed-message rebuild that took messages from a source known to
	// have skipped while the other is live is not done: Check begins it
	// again from the other.
	if a.rebuilding && a.next > a.rebuildTo && a.trustedInstead() < 0 {
		a.rebuilding = false
		if a.exclude >= 0 {
			a.resync |= 1 << a.exclude
			a.srcs[a.exclude].live = false
			a.exclude = -1
		}
		// A divergence found meanwhile and not acted on yet leaves the
		// books stale: its own rebuild, which Check starts, ends it.
		if a.divergedAt == 0 {
			a.outage = false // the stream delivered again from 1: nothing missed
			if err := a.rb.Rebuilt(); err != nil {
				a.stats.SinkErrors++
			}
		}
	}
	if a.attempts > 0 && a.next > a.gapAt {
		a.stats.Gaps++
		a.attempts = 0
	}
}

// compareProbes compares the message just delivered as seq (fingerprint
// h) with the first message a source not yet compared offered under that
// number (sourcePos.probe): one that equals it shows the source streams
// the stream delivered, and its messages are taken from then on; one that
// differs shows another stream, as a login's copy that differs does: a
// divergence, its source the suspect, nothing more taken from it. Lock
// held.
func (a *Arbiter) compareProbes(seq, h uint64, recv int64) {
	for i := range a.srcs {
		p := &a.srcs[i]
		if a.probing&(1<<i) == 0 || p.probe != seq {
			continue
		}
		a.probing &^= 1 << i
		p.verify = false
		if p.probeSum != h {
			a.renumbered = true
			a.diverge(i, seq, p.probeSum, i, recv)
			a.stop(i)
		}
	}
}

// unverifiedAhead reports whether a source not yet compared (its login
// accepted above the request) has passed next, live or since gone: its
// messages are not taken, so, like messages held beyond a gap, it shows
// the stream has passed next. Lock held.
func (a *Arbiter) unverifiedAhead() bool {
	for i, s := range a.srcs {
		if s.verify && a.rb != nil && s.pos > a.next && i != a.exclude {
			return true
		}
	}
	return false
}

// rebuildUnverified begins a rebuild from a live source not yet compared
// (its logins accepted above the request) that passed next when nothing
// is held: no message beyond next was taken from a source compared, so
// only that source's stream shows the stream passed next, and it may be
// another stream's (the server renumbered). None of its messages is
// applied to these books: they are rebuilt from it, from sequence 1, and
// what no source sent (from next up to the first message it sent) is
// declared lost. It returns the source, or -1. Lock held.
func (a *Arbiter) rebuildUnverified(now time.Time) int {
	if a.held > 0 || a.rb == nil {
		return -1
	}
	pick, to := -1, uint64(0)
	for i, s := range a.srcs {
		if !s.live || s.stalled || i == a.exclude || s.pos <= a.next {
			continue
		}
		first := s.pos // the first message it sent or will send
		if a.probing&(1<<i) != 0 {
			first = s.probe
		}
		if to == 0 || first < to {
			to = first
		}
		if s.verify && pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		return -1
	}
	if to > a.next {
		a.stats.Lost += to - a.next
		a.lostFrom, a.lostTo = a.next, to-1
	}
	a.stats.Unverified++
	a.restart()
	// The other source streams what was delivered (or nothing): the
	// rebuild takes nothing from it, lest that stream's messages follow
	// this one's; it logs in again once the rebuild is done, its copy
	// compared then.
	a.rebuildOnlyFrom(pick, now)
	return pick
}

// rebuildOnlyFrom makes src the one source of the rebuild just begun: it
// logs in again from 1, and the other (in a feed of two) is excluded,
// logging in again once the rebuild is done. Lock held.
func (a *Arbiter) rebuildOnlyFrom(src int, now time.Time) {
	if !a.single {
		a.exclude = 1 - src
		a.srcs[1-src].live = false
	}
	a.srcs[src].live = false
	a.pending, a.pendingTill = src, now.Add(a.patience)
}

// drain delivers held messages that are now in sequence. Lock held.
func (a *Arbiter) drain() {
	for a.held > 0 {
		s := &a.win[a.next&a.mask]
		if s.seq != a.next {
			return
		}
		s.seq = 0
		a.held--
		a.deliver(int(s.src), s.data[:s.n], s.recv)
	}
}

// Check looks for a gap that no live source will fill from its stream:
// every live source has passed the next sequence to deliver. It returns
// the source that should log in again from Next (the primary when it is
// live), or -1. Re-requests alternate between the sources, up to
// maxAttempts; the missing messages are declared lost (and what is held
// is delivered) only once the gap has also been open for the recovery
// time, so a source that is still logging in, or lagging, has that long to
// bring them. Check is called periodically by the feed's supervisor.
// While a re-requested source has not logged in again, and for at most
// the arbiter's patience, it waits.
func (a *Arbiter) Check(now time.Time) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	// A divergence with nothing to rebuild is dropped. One seen during a
	// rebuild from one source is that source's copies disagreeing with
	// what the rebuild delivered (the excluded source's are refused), or
	// that source showing another stream (stopped): the rebuild under way
	// will not deliver those messages again, so it is acted on as any
	// other.
	if a.divergedAt != 0 && a.exclude >= 0 && a.stopped != 0 {
		// The source the rebuild comes from showed another stream (the
		// excluded one is not heard): what it delivered may be another
		// stream's, and the rebuild cannot finish from it. Acted on as
		// when no rebuild is under way (the rebuild from the other
		// source makes both log in again); left, the source stopped would
		// stay connected and ignored.
		a.exclude = -1
	}
	if a.divergedAt != 0 && a.rb == nil {
		a.divergedAt, a.skipper, a.renumbered, a.stampedLate = 0, -1, false, false
	}
	if a.divergedAt != 0 {
		suspect := a.skipper
		if suspect < 0 && now.Sub(time.Unix(0, a.divergedAt)) >= a.recovery {
			suspect = a.firstCopy
		}
		if suspect >= 0 && a.single {
			// No other source: rebuild from this one, logging in again
			// from 1 (what it serves now is all there is to trust).
			a.divergedAt, a.skipper, a.stopped = 0, -1, 0 // it logs in again (returned, or excluded and resynced)
			a.restart()
			if a.renumbered {
				if a.stampedLate && a.srcs[suspect].pos > 1 {
					a.rebuildTo = min(a.rebuildTo, a.srcs[suspect].pos-1) // as below
				}
				a.rec.NewStream(uint8(suspect), now.UnixNano(), 0, []byte(a.session)) // as below
			}
			a.renumbered, a.stampedLate = false, false
			a.srcs[suspect].live = false
			a.pending, a.pendingTill = suspect, now.Add(a.patience)
			return suspect
		}
		if suspect >= 0 {
			// Rebuild from the other source alone; the suspect rejoins
			// from the current position once the rebuild is done.
			other := 1 - suspect
			a.divergedAt, a.skipper, a.stopped = 0, -1, 0 // it logs in again (returned, or excluded and resynced)
			a.restart()
			if a.renumbered {
				if a.stampedLate && a.srcs[other].pos > 1 {
					// The old stream's extent says nothing of the new
					// one's: the rebuild is done where the other source's
					// stream has been seen to reach (the old extent if it
					// streams the old one), never later than before.
					a.rebuildTo = min(a.rebuildTo, a.srcs[other].pos-1)
				}
				// The capture numbers what the rebuild delivers afresh:
				// another stream, not copies of the old one's numbers.
				a.rec.NewStream(uint8(other), now.UnixNano(), 0, []byte(a.session))
			}
			a.renumbered, a.stampedLate = false, false
			a.exclude = suspect
			a.srcs[suspect].live = false
			a.srcs[other].live = false
			a.pending, a.pendingTill = other, now.Add(a.patience)
			return other
		}
	}
	if y := a.trustedInstead(); y >= 0 {
		// A missed-message rebuild taking messages from a source known
		// to have skipped (nothing else was live), and the other is now:
		// it comes from the other alone.
		a.restart()
		a.fromMissed = true
		a.missedFrom = y
		a.stats.MissedRebuilds++
		a.rebuildOnlyFrom(y, now)
		return y
	}
	if a.pending >= 0 {
		if now.Before(a.pendingTill) {
			return -1
		}
		a.pending = -1
	}
	if a.rebuilding && a.exclude >= 0 {
		// A rebuild from one source alone: if that source has not been
		// live for the patience (gone, refusing logins), the books would
		// stay stale for ever while the excluded one streams. Rebuild
		// from the excluded one instead, as a feed without a backup does.
		if a.srcs[1-a.exclude].live {
			a.trustedDown = time.Time{}
		} else if a.trustedDown.IsZero() {
			a.trustedDown = now
		} else if now.Sub(a.trustedDown) >= a.patience {
			suspect := a.exclude
			a.exclude, a.trustedDown = -1, time.Time{}
			missed := a.fromMissed
			a.restart()
			a.fromMissed = missed
			a.srcs[suspect].live = false
			a.pending, a.pendingTill = suspect, now.Add(a.patience)
			return suspect
		}
	}
	if src := a.rebuildMissed(now); src >= 0 {
		return src
	}
	// Messages held beyond next, or a source not yet compared ahead of
	// it, show the stream has passed next.
	ahead := a.held > 0 || a.unverifiedAhead()
	if !ahead {
		a.heldSince = time.Time{}
	} else if a.heldSince.IsZero() {
		a.heldSince = now
	}
	pick, stalled := -1, -1
	for i := range a.srcs {
		s := &a.srcs[i]
		if !s.live || i == a.exclude {
			continue
		}
		if s.pos != s.checked || s.stillSince.IsZero() {
			s.checked, s.stillSince = s.pos, now
		}
		// Behind the gap and bringing nothing for the recovery time (and
		// the patience given a re-requested source) while it was open,
		// the other source ahead: stalled (heartbeats only), not
		// lagging; it will not bring the gap.
		stall := max(a.recovery, a.patience)
		s.stalled = s.pos <= a.next && ahead && now.Sub(s.stillSince) >= stall && now.Sub(a.heldSince) >= stall
		if s.stalled {
			if stalled < 0 {
				stalled = i
			}
			continue
		}
		if s.pos <= a.next {
			return -1 // this source will bring the next message
		}
		if pick < 0 {
			pick = i
		}
	}
	if pick < 0 {
		// Every live source is stalled behind a gap that messages held
		// beyond it show the stream has passed (they came from a source
		// since gone): ask a stalled one again, a new login often gets
		// a stuck relay moving, and the gap is declared lost in time.
		pick = stalled
	}
	if pick < 0 {
		return -1 // nothing live: a reconnecting source asks for Next itself
	}
	if a.attempts == 0 || a.gapAt != a.next {
		a.gapAt, a.attempts, a.gapSince = a.next, 0, now
	}
	if a.attempts < a.maxAttempts {
		a.attempts++
		a.stats.Rerequests++
		// Alternate sources so a source that cannot serve the range is not
		// asked forever.
		if a.attempts%2 == 0 {
			for i := range a.srcs {
				if i != pick && a.srcs[i].live {
					pick = i
					break
				}
			}
		}
		// The source is not live until it has logged in again.
		a.srcs[pick].live = false
		a.pending, a.pendingTill = pick, now.Add(a.patience)
		return pick
	}
	if now.Sub(a.gapSince) < a.recovery {
		return -1 // a source logging in or lagging may still bring it
	}
	if src := a.rebuildUnverified(now); src >= 0 {
		return src
	}
	if lost := a.skipLost(); a.rb == nil {
		return -1
	} else if !lost {
		// A source not yet compared that passed next and is gone
		// (rebuilt from only while live) shows the stream passed next
		// as messages held do: the books are rebuilt from the source
		// left behind it, stale until it brings the stream, not frozen
		// as valid.
		if !a.unverifiedAhead() {
			return -1
		}
		a.stats.Unverified++
	}
	// Rebuild: the primary (or the live source) logs in again from 1.
	a.restart()
	a.srcs[pick].live = false
	a.pending, a.pendingTill = pick, now.Add(a.patience)
	return pick
}

// rebuildMissed begins a rebuild when the sink's books found a message
// missing from the stream (Misser), and returns the source to log in
// again from sequence 1, or -1. It waits while a rebuild or a divergence
// (whose rebuild follows) is under way: books that rebuild leaves wrong
// are still reported once it is done, and rebuilt then. A divergence is
// the better lead (comparing the copies names the source that skipped),
// so it also waits, up to the recovery time, for every live source to
// pass where the books were found wrong: one that skipped the message
// the other did not shows as a divergence before then. It begins at most
// one per missedEvery, so a source that diverges again after every
// rebuild does not have the day replayed over and over. Books found
// wrong when one source alone delivered since the last restart show that
// source skipped (skipped). Each rebuild comes from a live source not
// known to have skipped, the other one than last time when both are
// (when both skipped, from either: the books stay stale as long as they
// find the message missing, and each rebuild is counted), and takes
// nothing from the other source, as a divergence's rebuild: one that
// returns in its middle could replay the skip (and, delivering alone
// since the restart, the next books found wrong show who skipped). The
// other logs in again once it is done. With no source live it waits for
// one. Lock held.
func (a *Arbiter) rebuildMissed(now time.Time) int {
	if a.misser == nil || a.rebuilding || a.divergedAt != 0 {
		return -1
	}
	if !a.misser.Missed() {
		a.missedSince = time.Time{}
		return -1
	}
	if a.missedSince.IsZero() {
		a.missedSince, a.missedNext = now, a.next
	}
	switch {
	case a.since[Primary] != 0 && a.since[Backup] == 0:
		a.skipped |= 1 << Primary
	case a.since[Backup] != 0 && a.since[Primary] == 0:
		a.skipped |= 1 << Backup
	}
	if now.Sub(a.missedSince) < a.recovery {
		for _, s := range a.srcs {
			if s.live && s.pos < a.missedNext {
				return -1 // its copies are still to be compared
			}
		}
	}
	if !a.missedAt.IsZero() && now.Sub(a.missedAt) < a.missedEvery {
		return -1
	}
	first := Primary
	if a.missedFrom >= 0 {
		first = 1 - a.missedFrom
	}
	pick := -1
	for _, trusted := range [2]bool{true, false} {
		for _, i := range [2]int{first, 1 - first} {
			if a.srcs[i].live && (!trusted || a.skipped&(1<<i) == 0) {
				pick = i
				break
			}
		}
		if pick >= 0 {
			break
		}
	}
	if pick < 0 {
		return -1
	}
	a.missedAt, a.missedFrom = now, pick
	a.stats.MissedRebuilds++
	a.restart()
	a.fromMissed = true
	a.rebuildOnlyFrom(pick, now)
	return pick
}

// trustedInstead returns the source a missed-message rebuild under way
// is to come from instead, or -1: the rebuild may take messages from a
// source known to have skipped (nothing else was live when it began, or
// the source it came from went down) while the other source, not known
// to have, is live. Lock held.
func (a *Arbiter) trustedInstead() int {
	if !a.rebuilding || !a.fromMissed || a.single {
		return -1
	}
	for x := range a.srcs {
		y := 1 - x
		if a.skipped&(1<<x) != 0 && a.skipped&(1<<y) == 0 && a.exclude != x && a.srcs[y].live {
			return y
		}
	}
	return -1
}

// restart begins a rebuild: the sink is told to discard what it built,
// and the stream is delivered again from sequence 1 up to the furthest
// sequence any source or the window has reached. Lock held.
func (a *Arbiter) restart() {
	// Only what was received counts: a source's position may come from
	// its Login Accepted alone, which a buggy or hostile source can set
	// anywhere (2^40: the rebuild would never end, the books stale for
	// ever). Messages beyond the window were dropped and are caught up
	// as lag, as at a cold start. delivered is read before rewind
	// resets next: in one expression Go leaves the order of the two
	// unspecified (the compiler called rewind first).
	delivered := a.next - 1
	if a.otherStream {
		// A rebuild of another stream interrupted: it delivered that
		// stream's messages up to delivered, in order, and none beyond.
		// Kept, the old stream's mark would take the new stream's
		// messages numbered below it and stamped up to renumberSlack
		// after the last delivered for delivered before.
		a.printed, a.printedAt, a.otherStream = 0, 0, false
		a.prev, a.prevLo, a.prevHi, a.prevEnd = nil, 0, 0, 0
	}
	if a.rp != nil {
		a.keepDelivered()
	}
	a.printed = max(a.printed, delivered)
	a.printedAt = max(a.printedAt, a.deliveredAt)
	a.prevEnd = max(a.prevEnd, a.printed+a.mask+1)
	to := max(delivered, a.rewind())
	a.attempts = 0
	a.missedSince = time.Time{} // books found wrong after this restart are news
	a.since, a.fromMissed, a.trustedDown = [2]uint64{}, false, time.Time{}
	a.rebuilding = true
	a.rebuildTo = max(a.rebuildTo, to)
	a.stats.Rebuilds++
	if err := a.rb.Restart(); err != nil {
		a.stats.SinkErrors++
	}
	if a.divergedAt != 0 {
		// A divergence not acted on yet outlives this restart (a gap
		// lost meanwhile, a new session): the sources still disagree,
		// and the rebuild may take messages from both, one delivered
		// twice. The books are told so again after the Clear, which
		// ended the first telling: else they keep the print of a
		// second copy refused for the order its first removed, and
		// publish it again when the divergence's rebuild delivers the
		// message (TestPendingDivergenceRebuildPrints).
		a.markStale()
	}
	if a.rp != nil {
		a.rp.Replay(0) // deliver says, message by message (replayed)
	}
}

// keepDelivered adds the fingerprints of the messages delivered that the
// window holds to prev, before a restart forgets them. Lock held.
func (a *Arbiter) keepDelivered() {
	if a.next <= 1 {
		return
	}
	lo := uint64(1)
	if a.next > a.mask {
		lo = a.next - a.mask // as Offer: a.next-seq <= a.mask
	}
	switch {
	case a.prev == nil:
		a.prev = make(map[uint64]struct{}, a.next-lo)
		a.prevLo, a.prevHi = lo, a.next
	case len(a.prev) > 2*int(a.mask+1):
		// Rebuild after rebuild: what the earlier windows held is taken
		// as agreeing, lest prev grow without bound.
		clear(a.prev)
		a.prevLo, a.prevHi = lo, a.next
	case a.next < a.prevLo:
		// A rebuild interrupted below what the earlier windows held: it
		// delivered again only what goes by number. Their range stands.
	default:
		// What the rebuild delivered below lo goes by number; what it
		// has not delivered again above the earlier range's start still
		// goes by the earlier fingerprints.
		a.prevLo, a.prevHi = lo, max(a.prevHi, a.next)
	}
	for seq := lo; seq < a.next; seq++ {
		if sum := a.sums[seq&a.mask]; sum&1 != 0 {
			a.prev[sum&^3] = struct{}{}
		}
	}
}

// replayed tells the sink whether msg, of fingerprint h, about to be
// delivered as next was delivered before (see prev). Lock held.
func (a *Arbiter) replayed(msg []byte, h uint64) {
	if a.prev != nil && a.next > a.prevEnd {
		a.prev = nil // past what a divergence could have moved
	}
	if a.prev == nil && a.next > a.printed {
		return // the sink's count is 0: each message takes the 1 it was given
	}
	seen := a.next <= a.printed && (a.prev == nil || a.next < a.prevLo || a.next >= a.prevHi)
	if a.next <= a.printed && a.printedAt != 0 {
		if at, ok := itch.Timestamp(msg); ok && at > a.printedAt+uint64(renumberSlack) {
			seen = false // stamped after every message delivered before
			a.otherStream = true
		}
	}
	if !seen && a.prev != nil {
		_, seen = a.prev[h]
	}
	var n uint64
	if seen {
		n = 1
	}
	a.rp.Replay(n)
}

// rewind forgets what the window holds and the checksums kept, and sets
// the stream to start again at sequence 1; it returns the highest
// sequence number the window held (0: none). a.mu held.
func (a *Arbiter) rewind() uint64 {
	var top uint64
	for i := range a.win {
		if a.win[i].seq != 0 {
			top = max(top, a.win[i].seq)
			a.win[i].seq = 0
		}
	}
	clear(a.sums)
	a.held, a.next, a.deliveredAt = 0, 1, 0
	for i := range a.srcs {
		a.srcs[i].verify = false // what it would verify is gone
	}
	a.probing = 0
	return top
}

// Rebuilding reports whether what the sink built may be wrong: the
// sources diverged, a rebuild is in progress and has not caught up, the
// books found a message missing (Misser) and wait for their rebuild, or
// they were marked stale for an outage (Outage) not yet ended.
func (a *Arbiter) Rebuilding() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.rebuilding || a.divergedAt != 0 && a.rb != nil || a.misser != nil && a.misser.Missed() || a.outage
}

// Outage says that no source has been up for the feed's outage grace:
// the market moves while the feed is blind, so what a Rebuilder sink
// built may be wrong. The books are marked stale at once (a Staler's
// MarkStale, as when the sources disagree) and stay so until a Rebuilt:
// the end of a rebuild from sequence 1, or the one EndOutage sends once a
// source has proven that its stream goes on from what was delivered. It
// reports whether it began an outage (false while one is on, before
// anything was delivered, which built nothing, or for a sink that is no
// Rebuilder, which cannot be told). Supervisor goroutine.
func (a *Arbiter) Outage() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.outage || a.rb == nil || a.stats.Delivered == 0 {
		return false
	}
	a.outage = true
	a.stats.Outages++
	a.markStale()
	return true
}

// EndOutage ends an outage (Outage) once the stream's continuity is
// proven, and reports whether none is on any more (ended now, by a
// rebuild's Rebuilt, or never begun). Proven means: no rebuild under way
// and no divergence pending (their own Rebuilt ends it), and a live
// source the arbiter takes messages from has reached next with its
// stream compared: a login accepted at or below what was delivered
// whose copy of the last message delivered equalled it (LoginFrom), so
// the server replays in order everything from there, or, before
// anything was delivered, a stream from sequence 1. The sink is then
// told Rebuilt, which declares valid only the books no other cause keeps
// stale (a Stock Directory missing; a book that found a message missing
// stays stale by itself). A login accepted above the sequence asked
// proves nothing: its stream is not taken, and the gap it leaves is
// rebuilt from sequence 1 (Check), whose end ends the outage. heard
// says a source is up and heard since its login (Feed.streaming): a
// login's copy alone proves no more than its Login Accepted (a hung
// distributor sends it and nothing after), so without heard no outage
// ends now; one already ended by a rebuild is still reported (true).
// Supervisor goroutine.
func (a *Arbiter) EndOutage(heard bool) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.outage {
		return true
	}
	if !heard || a.rebuilding || a.divergedAt != 0 {
		return false
	}
	for i, s := range a.srcs {
		if s.live && !s.verify && i != a.exclude && s.pos >= a.next {
			a.outage = false
			if err := a.rb.Rebuilt(); err != nil {
				a.stats.SinkErrors++
			}
			return true
		}
	}
	return false
}

// takeResync returns, once, the set of sources (bit i: source i) that are
// to log in again from Next: a suspect source rejoining after a rebuild.
func (a *Arbiter) takeResync() uint8 {
	a.mu.Lock()
	defer a.mu.Unlock()
	r := a.resync
	a.resync = 0
	return r
}

// TakeLost returns the last range of sequence numbers declared lost since
// the previous call, or ok false.
func (a *Arbiter) TakeLost() (from, to uint64, ok bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.lostTo == 0 {
		return 0, 0, false
	}
	from, to = a.lostFrom, a.lostTo
	a.lostFrom, a.lostTo = 0, 0
	return from, to, true
}

// skipLost gives up on the messages from next up to the first message that
// some source will still bring or the window holds, and reports whether
// it declared any lost. Lock held.
func (a *Arbiter) skipLost() bool {
	to := uint64(0)
	for i, s := range a.srcs {
		// A source excluded from a rebuild will bring nothing: its
		// messages are refused, and its position stays where it logged in.
		if s.live && !s.stalled && i != a.exclude && (to == 0 || s.pos < to) {
			to = s.pos
		}
	}
	if a.held > 0 {
		for seq := a.next + 1; seq <= a.next+a.mask; seq++ {
			if a.win[seq&a.mask].seq == seq {
				if to == 0 || seq < to {
					to = seq
				}
				break
			}
		}
	}
	if to <= a.next {
		return false
	}
	a.stats.Lost += to - a.next
	a.lostFrom, a.lostTo = a.next, to-1
	a.attempts = 0
	if a.rb != nil {
		return true // the caller rebuilds from 1
	}
	// The fingerprints kept under the lost sequence numbers are of the
	// messages one window earlier: a late copy of a lost message (or the
	// copy a login asks for, LoginFrom) compared with one would count as
	// a divergence of the sources.
	if to-a.next > a.mask {
		clear(a.sums)
	} else {
		for seq := a.next; seq < to; seq++ {
			a.sums[seq&a.mask] = 0
		}
	}
	a.next = to
	a.drain()
	return true
}

package fix

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/journal"
)

// pacerStuck is how long the pacer waits for a message it handed to
// quickfix to appear on the wire before it logs and carries on. A healthy
// session writes within microseconds; a line that is slow to drain
// legitimately holds the pacer (back-pressure), so this is only a guard
// against a lost wake-up.
const pacerStuck = 5 * time.Second

// rttProbePrefix starts the TestReqID of the heartbeat round-trip probes.
const rttProbePrefix = "rtt:"

// pacer feeds one quickfix session's outgoing messages a few at a time.
//
// Why: quickfix hands each outgoing message from the session goroutine to
// the connection's writer goroutine over an unbuffered channel, with a
// non-blocking send when it is draining its queue (SendAppMessages ->
// sendQueued(false)). If the writer is not parked on that channel at that
// instant (it is writing the previous message, or has been woken but not
// yet scheduled), the session re-notifies itself and its loop comes round
// again at once: it spins, and the woken writer sits in the spinning
// goroutine's run queue. With two such sessions on two cores the writers
// wait for the scheduler's 10 ms preemption and throughput collapses.
//
// The pacer bounds what quickfix's queue holds: it submits a message
// (quickfix.SendToTarget, which assigns the MsgSeqNum and persists it) and
// goes on submitting while fewer than window of its messages have not yet
// been seen leaving (wrote, called by the line relay or the paced conn
// after the writer's Write returned); then it waits. With a window of one
// the session goroutine always finds the writer parked and hands each
// message over on the first try, but the session carries one message per
// hand-over chain (pacer, session, writer, relay: four goroutine
// wake-ups), which on a busy machine is a few hundred microseconds. A
// wider window lets the session drain several messages per chain; the
// turns of its loop that find the writer busy then yield the processor to
// it (YieldOnSpin, which every store the Upstream opens does) instead of
// spinning.
//
// The pacer only submits while the session is logged on (setUp), and
// takes requests (enqueueReq) only then: a request is accepted before the
// logout's setUp(false), and so is found by the reclaim that follows it,
// or refused with ErrNotLoggedOn. Messages without a request (probes, an
// acceptor's reports: enqueue) queued while it is down wait in the queue
// and go out, fresh, after the next logon. Messages submitted and not yet
// written when the session drops are in quickfix's store with their
// MsgSeqNums: the upstream asks for them again after the next logon and
// gets them as PossDup resends.
//
// Each message is in one place at a time: the queue, parked, or in run's
// hand while it holds sub (taken and submitted in one step); reclaim takes
// sub too, so a request is either submitted or reclaimed, never neither.
// A request whose submission quickfix refuses (its store failed to save
// the message; quickfix then numbered nothing) has not been handed: it is
// parked, the pacer submits nothing more until the next logon, so that
// nothing overtakes it, and failed is told, which ends the session: its
// reclaim gives the request back, first, with those queued behind it. A
// refused message without a request is dropped: nobody takes it back.
//
// The pacer also holds its submissions while quickfix serves the
// counterparty's ResendRequest (hold, from the Application's callbacks:
// received and sending). quickfix (Go) reads the last MsgSeqNum to resend
// before it takes the lock that keeps live messages out of the resend, so
// a message submitted in between was numbered past the resend's end but
// went out ahead of the resent ones. A QuickFIX/Go counterparty waiting for
// its resend drops such a message (its resendState loses what it stashed)
// and gets it only by another ResendRequest, after its next heartbeat. The
// hold ends at the first resent message (sent under quickfix's resend
// lock, which later submissions then wait for), at the session's next
// message received, at a logout, or after holdMax. A message taken from
// the queue just as a hold began is parked: submitted after it, or
// returned by reclaim.
type pacer struct {
	queue  chan outMsg
	log    *slog.Logger
	window int // most messages handed to quickfix and not yet seen written

	written atomic.Int64  // highest MsgSeqNum seen leaving since the last logon
	wake    chan struct{} // signalled when written advances

	mu       sync.Mutex
	loggedOn bool
	// broken is set by a failed submission of a request and cleared by
	// the next logon: the pacer submits nothing meanwhile (see open).
	broken  bool
	holdGen uint64        // counts holds, so that a past hold's timer ends no later one
	holdEnd *time.Timer   // ends the hold after holdMax
	up      chan struct{} // closed while logged on, not held and not broken
	down    chan struct{} // closed while not logged on
	// held is set while the counterparty's ResendRequest is being served
	// (hold); written under mu, read without it.
	held atomic.Bool
	// parked is a message taken from queue, then found held, or whose
	// submission failed: submitted next, or reclaimed. Changed with sub
	// locked (and, by a hold, mu).
	parked atomic.Pointer[outMsg]
	// heldCount, if set before run, counts the held pacers of an
	// AcceptorPacer (changed under mu with held).
	heldCount *atomic.Int64

	// sub is locked by run around each taking and submission of a
	// message, so that hold can wait for one under way and reclaim finds
	// every message in queue or parked.
	sub sync.Mutex

	// qmu makes a message's place in queue and the count queued one
	// step, so that queued read after an enqueue is at least that
	// message's place (see Queued), and makes enqueueReq's check of
	// accepting and its enqueue one step.
	qmu       sync.Mutex
	accepting bool          // requests are taken (logged on); changed by setUp, mu and qmu held
	queued    atomic.Uint64 // messages put in queue, ever
	// left counts the messages whose time in the queue is over: handed
	// to quickfix, reclaimed, or dropped (a message without a request
	// whose submission failed), ever. A parked message has not left.
	left atomic.Uint64
	// ready is signalled after each enqueue: run waits on it for the
	// queue.
	ready chan struct{}

	// submit hands a message to quickfix, which gives it its MsgSeqNum:
	// quickfix.SendToTarget to sid (tests replace it before run).
	submit func(*quickfix.Message) error
	// sentHook, if set before run, is called on the pacer goroutine after
	// each submission with the message and its MsgSeqNum (benchmarks).
	sentHook func(seq int, m *quickfix.Message)
	// taken, if set before run, is called on the pacer goroutine after it
	// takes a message from the queue, with sub locked (tests).
	taken func()
	// beforeSubmit, if set before run, is called on the pacer goroutine
	// just before each submission with the message and the request it
	// was made from (nil for probes and acceptor reports).
	beforeSubmit func(m *quickfix.Message, req any)
	// failed, if set before run, is called on the pacer goroutine, with
	// no lock held, after the submission of a request failed while logged
	// on (the Upstream ends the session).
	failed func(error)
	// enqueuing, if set before use, is called by enqueueReq before it
	// checks that the session is logged on (tests: a logout in between).
	enqueuing func()
}

// outMsg is a queued message and the request it encodes, if any.
type outMsg struct {
	m   *quickfix.Message
	req any
}

// newPacer returns a pacer with a queue of queueSize and the window
// (at least 1) of messages it may have handed to quickfix and not yet seen
// written.
func newPacer(sid quickfix.SessionID, queueSize, window int, log *slog.Logger) *pacer {
	p := &pacer{
		queue:  make(chan outMsg, queueSize),
		log:    log,
		window: max(window, 1),
		wake:   make(chan struct{}, 1),
		ready:  make(chan struct{}, 1),
		up:     make(chan struct{}),
		down:   make(chan struct{}),
	}
	p.submit = func(m *quickfix.Message) error { return quickfix.SendToTarget(m, sid) }
	close(p.down)
	return p
}

// enqueue queues m, which no sender takes back, for the session, also
// while it is down; it never blocks. Any goroutine.
func (p *pacer) enqueue(m *quickfix.Message) error {
	p.qmu.Lock()
	defer p.qmu.Unlock()
	return p.putLocked(outMsg{m: m})
}

// enqueueReq queues m, the encoding of req, for the session; it never
// blocks. It refuses with ErrNotLoggedOn while the session is not logged
// on: a request it accepts is in the queue before the logout's
// setUp(false), so the reclaim that follows that finds it if it has not
// been submitted. Any goroutine.
func (p *pacer) enqueueReq(m *quickfix.Message, req any) error {
	if p.enqueuing != nil {
		p.enqueuing()
	}
	p.qmu.Lock()
	defer p.qmu.Unlock()
	if !p.accepting {
		return ErrNotLoggedOn
	}
	return p.putLocked(outMsg{m: m, req: req})
}

// putLocked queues om. qmu held.
func (p *pacer) putLocked(om outMsg) error {
	select {
	case p.queue <- om:
		p.queued.Add(1)
	default:
		return ErrQueueFull
	}
	select {
	case p.ready <- struct{}{}:
	default:
	}
	return nil
}

// reclaim empties the queue and returns the requests of the messages in
// it, in order (messages without a request are dropped), after the one the
// pacer took and parked (found held, or its submission failed), if any.
// It waits for a submission under way: a message the pacer goroutine
// took is submitted to quickfix, and returned only if that failed. Each
// request is either reclaimed or handed to quickfix, never both, never
// neither. Call it after setUp(false) (the Upstream's logout), so that no
// request enters the queue behind it. Any goroutine.
func (p *pacer) reclaim() []any {
	p.sub.Lock()
	defer p.sub.Unlock()
	var out []any
	if om := p.parked.Swap(nil); om != nil {
		p.left.Add(1)
		if om.req != nil {
			out = append(out, om.req)
		}
	}
	for {
		select {
		case om := <-p.queue:
			p.left.Add(1)
			if om.req != nil {
				out = append(out, om.req)
			}
		default:
			return out
		}
	}
}

// setUp records a logon (true) or a logout/disconnect (false), which
// also ends a hold. Any goroutine; quickfix calls it from the session
// goroutine.
func (p *pacer) setUp(up bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case up && !p.loggedOn:
		p.written.Store(0)
		p.down = make(chan struct{})
	case !up && p.loggedOn:
		close(p.down)
	}
	p.loggedOn = up
	if up {
		p.broken = false
	}
	p.qmu.Lock()
	p.accepting = up
	p.qmu.Unlock()
	if !up {
		p.releaseLocked()
	}
	p.open()
}

// open makes up closed exactly while the pacer may submit: logged on, not
// held and no submission failed since the logon. mu held.
func (p *pacer) open() {
	may := p.loggedOn && !p.held.Load() && !p.broken
	select {
	case <-p.up:
		if !may {
			p.up = make(chan struct{})
		}
	default:
		if may {
			close(p.up)
		}
	}
}

// holdMax bounds a hold. quickfix sends nothing for a resend whose range
// it does not hold (past the last MsgSeqNum sent, or not stored), or for a
// ResendRequest it rejects, and the counterparty may then send nothing
// for its heartbeat interval; the order path must not wait that long. The
// hold matters only for the microseconds between the ResendRequest's
// arrival and quickfix's resend lock, on the session goroutine; once
// quickfix holds that lock, a submission waits for the resend anyway.
// (With PersistMessages=N quickfix gap-fills without that lock; the
// gateway's sessions always persist.)
const holdMax = 500 * time.Millisecond

// hold stops submissions until release, a logout or holdMax, and returns
// once a submission under way has ended: whatever is submitted after it
// returns is numbered after the hold's end. It reports whether the pacer
// was not held before. Called on the session goroutine (received), so
// that quickfix numbers nothing of the pacer's between the
// ResendRequest's arrival and its resend.
func (p *pacer) hold() bool {
	p.mu.Lock()
	was := p.held.Load()
	if !was {
		p.held.Store(true)
		p.holdGen++
		gen := p.holdGen
		p.holdEnd = time.AfterFunc(holdMax, func() { p.expire(gen) })
		if p.heldCount != nil {
			p.heldCount.Add(1)
		}
		p.open()
	}
	p.mu.Unlock()
	p.sub.Lock() // a submission under way ends first
	p.sub.Unlock()
	return !was
}

// expire ends hold number gen after holdMax, if it is still on.
func (p *pacer) expire(gen uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held.Load() && p.holdGen == gen {
		p.log.Info("fix: the counterparty's resend showed no message within the bound; releasing the session's messages", "bound", holdMax)
		p.releaseLocked()
		p.open()
	}
}

// release ends a hold; it reports whether the pacer was held. Any
// goroutine.
func (p *pacer) release() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	was := p.releaseLocked()
	p.open()
	return was
}

// releaseLocked ends a hold and reports whether there was one; the caller
// calls open. mu held.
func (p *pacer) releaseLocked() bool {
	if !p.held.Load() {
		return false
	}
	p.held.Store(false)
	p.holdEnd.Stop()
	if p.heldCount != nil {
		p.heldCount.Add(-1)
	}
	return true
}

// parkIfHeld keeps om, just taken, aside if the pacer is held: run
// submits it after the release; reclaim may take it first. It reports
// whether it did. Called by run with sub locked: a hold that begins after
// the first load waits for the submission. mu not held.
func (p *pacer) parkIfHeld(om outMsg) bool {
	if !p.held.Load() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.held.Load() {
		return false
	}
	p.parked.Store(&om)
	return true
}

// received is told of each message quickfix passes the Application
// (FromAdmin, FromApp), on the session goroutine, and whether it is a
// ResendRequest, which the caller has read: a ResendRequest holds the
// submissions until quickfix has begun to serve it; any later message
// shows it has served it, and releases them. It reports whether the
// pacer's hold changed (true: now held or released).
func (p *pacer) received(resendRequest bool) bool {
	if resendRequest {
		return p.hold()
	}
	return p.held.Load() && p.release()
}

// sending is told of each message quickfix is about to send (ToAdmin,
// ToApp): a resent one (PossDupFlag; the pacer submits none) shows that
// quickfix serves the resend, holding its resend lock, behind which later
// submissions wait: it releases them. It reports whether it did.
func (p *pacer) sending(m *quickfix.Message) bool {
	if !p.held.Load() {
		return false
	}
	if dup, _ := PossDup(m); !dup {
		return false
	}
	return p.release()
}

func (p *pacer) state() (up, down <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.up, p.down
}

// wrote reports that the frame with MsgSeqNum seq has been written to the
// connection. Called by the goroutine that observes the session's output.
func (p *pacer) wrote(seq int) {
	for {
		cur := p.written.Load()
		if int64(seq) <= cur {
			return
		}
		if p.written.CompareAndSwap(cur, int64(seq)) {
			break
		}
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// run submits queued messages until ctx ends. One goroutine.
func (p *pacer) run(ctx context.Context) {
	stuck := time.NewTimer(pacerStuck)
	defer stuck.Stop()
	for {
		up, down := p.state()
		select {
		case <-up:
		default:
			// Wait for the logon, then read the state again: down, read
			// before it, is the closed channel of the time logged out.
			select {
			case <-up:
			case <-ctx.Done():
				return
			}
			continue
		}
		// Taking and submitting are one step under sub, which reclaim
		// takes too: see pacer.
		p.sub.Lock()
		om, ok := p.take()
		if !ok {
			p.sub.Unlock()
			select {
			case <-p.ready:
			case <-down:
			case <-ctx.Done():
				return
			}
			continue
		}
		if p.parkIfHeld(om) { // held since it was taken
			p.sub.Unlock()
			continue
		}
		stampProbe(om.m)
		if p.beforeSubmit != nil {
			p.beforeSubmit(om.m, om.req)
		}
		if err := p.submit(om.m); err != nil {
			var end bool
			if om.req != nil && saveInDoubt(err) {
				end = p.inDoubt()
				p.sub.Unlock()
				id, _ := RequestID(om.req)
				p.log.Error("fix: the session's store failed to save a request and could not undo the save: the request is in doubt "+
					"(the next start counts it as sent if the store then holds it, and resends it; as never sent if not); "+
					"the store takes nothing more: fix the disk and restart the gateway", "err", err, "clordid", id)
			} else {
				end = p.refused(om)
				p.sub.Unlock()
				p.log.Error("fix: quickfix refused a message", "err", err, "request", om.req != nil)
			}
			if end && p.failed != nil {
				p.failed(err)
			}
			continue
		}
		p.left.Add(1) // handed to quickfix
		p.sub.Unlock()
		seq, err := om.m.Header.GetInt(tag.MsgSeqNum)
		if p.sentHook != nil && err == nil {
			p.sentHook(seq, om.m)
		}
		if err != nil {
			continue
		}
		stuck.Reset(pacerStuck)
	wait:
		for int64(seq)-p.written.Load() >= int64(p.window) {
			select {
			case <-p.wake:
			case <-down:
				break wait // dropped by quickfix; resent after logon
			case <-stuck.C:
				p.log.Warn("fix: message not seen on the wire; continuing", "seq", seq)
				break wait
			case <-ctx.Done():
				return
			}
		}
	}
}

// take returns the parked message, else the next in queue, if any. Called
// by run with sub locked.
func (p *pacer) take() (outMsg, bool) {
	if pm := p.parked.Swap(nil); pm != nil {
		return *pm, true
	}
	select {
	case om := <-p.queue:
		if p.taken != nil {
			p.taken()
		}
		return om, true
	default:
		return outMsg{}, false
	}
}

// refused records that quickfix refused om (SendToTarget failed: the
// session's store could not save it, or the session is not registered).
// quickfix then neither numbered nor queued it, so nothing will deliver
// it. A message without a request (a probe, an acceptor's report) is
// dropped, and it reports false. A request is parked, for reclaim to give
// back, and the pacer submits nothing more until the next logon, so that
// nothing overtakes it; it reports whether the session was logged on,
// which the caller then tells failed. Called by run with sub locked.
func (p *pacer) refused(om outMsg) (endSession bool) {
	if om.req == nil {
		p.left.Add(1)
		return false
	}
	p.parked.Store(&om)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = true
	p.open()
	return p.loggedOn
}

// saveInDoubt reports whether err, quickfix's refusal of a submission,
// says the store failed to save the message and could not undo the save
// either: a sealed store's journal.ErrRollback, a file store's
// errSaveNotUndone (its index entry not cut).
func saveInDoubt(err error) bool {
	return errors.Is(err, journal.ErrRollback) || errors.Is(err, errSaveNotUndone)
}

// inDoubt records that quickfix refused a request because its store failed
// to save it and could not undo the save either (saveInDoubt: the sealed
// store's journal.ErrRollback, the file store's errSaveNotUndone): the
// message, numbered, may be in the store at the next start, which then
// resends it when the upstream asks for its MsgSeqNum (and Handed counts
// the request as handed, or as unknown after a crash of the machine). Given back as never sent
// (reclaimed), the order manager would hold it for a session that cannot
// log on again (its store failed) and reject it once its hold ran out,
// and the next start would resend the stored copy: an order executed
// after its client was told it was rejected (or, should the session go
// on, sent twice). So it has left, as if handed: the
// order manager waits for its answer, and the next start's Handed decides
// from what the store holds. The store accepts nothing more (the
// journal's failure is sticky; the file store refuses every save after
// it, reservedStore.broken); the pacer submits nothing until the next
// logon, and reports whether the session was logged on, which the caller
// then tells failed. Called by run with sub locked.
func (p *pacer) inDoubt() (endSession bool) {
	p.left.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.broken = true
	p.open()
	return p.loggedOn
}

// newProbe builds a TestRequest whose TestReqID is stamped with the send
// time when the pacer submits it.
func newProbe() *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetField(tag.MsgType, quickfix.FIXString("1"))
	m.Body.SetField(tag.TestReqID, quickfix.FIXString(rttProbePrefix))
	return m
}

func stampProbe(m *quickfix.Message) {
	if v, err := m.Body.GetBytes(tag.TestReqID); err == nil && string(v) == rttProbePrefix {
		m.Body.SetField(tag.TestReqID, quickfix.FIXString(rttProbePrefix+strconv.FormatInt(time.Now().UnixNano(), 10)))
	}
}

// probeRTT returns the round-trip time of a Heartbeat answering one of our
// probes, or false.
func probeRTT(testReqID []byte, now time.Time) (time.Duration, bool) {
	s, ok := bytesCutPrefix(testReqID, rttProbePrefix)
	if !ok {
		return 0, false
	}
	ns, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, false
	}
	return now.Sub(time.Unix(0, ns)), true
}

func bytesCutPrefix(b []byte, prefix string) ([]byte, bool) {
	if len(b) < len(prefix) || string(b[:len(prefix)]) != prefix {
		return nil, false
	}
	return b[len(prefix):], true
}

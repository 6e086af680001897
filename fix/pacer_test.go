package fix

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"

	"sgw/journal"
)

// TestPacerWindow checks that the pacer keeps up to its window of
// messages in quickfix and never more: a stand-in for quickfix numbers
// the submissions and fails any that would make more than window
// outstanding, and the test marks a message written only once the window
// is full, so a pacer that waited for each message before the next would
// stall (until its stuck guard, pacerStuck, for every message).
func TestPacerWindow(t *testing.T) {
	for _, window := range []int{1, 3, 64} {
		t.Run(fmt.Sprintf("window=%d", window), func(t *testing.T) {
			const total = 200
			p := newPacer(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "A", TargetCompID: "B"}, total, window, testLogger(t))
			submitted := make(chan int, total)
			var mu sync.Mutex
			var next int
			var violation error
			p.submit = func(m *quickfix.Message) error {
				mu.Lock()
				defer mu.Unlock()
				next++
				if out := int64(next-1) - p.written.Load(); out >= int64(window) && violation == nil {
					violation = fmt.Errorf("message %d submitted with %d outstanding", next, out)
				}
				m.Header.SetInt(tag.MsgSeqNum, next)
				submitted <- next
				return nil
			}
			for range total {
				if err := p.enqueue(newProbe()); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { defer close(done); p.run(ctx) }()
			defer func() { cancel(); <-done }()
			p.setUp(true)

			written := 0
			deadline := time.After(10 * time.Second)
			for written < total {
				select {
				case seq := <-submitted:
					switch {
					case seq == total:
						for written < total {
							written++
							p.wrote(written)
						}
					case seq-written == window:
						written++
						p.wrote(written)
					}
				case <-deadline:
					t.Fatalf("stuck after 10 s: %d written of %d", written, total)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if violation != nil {
				t.Fatal(violation)
			}
			if next != total {
				t.Fatalf("submitted %d; want %d", next, total)
			}
		})
	}
}

// TestPacerCounts: Queued counts what enters the queue, Left what leaves
// it, submitted or reclaimed, and a message still in the queue is never
// counted as left.
func TestPacerCounts(t *testing.T) {
	p := newPacer(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "A", TargetCompID: "B"}, 16, 1, testLogger(t))
	submitted := make(chan int, 16)
	next := 0
	p.submit = func(m *quickfix.Message) error {
		next++
		m.Header.SetInt(tag.MsgSeqNum, next)
		submitted <- next
		return nil
	}
	if err := p.enqueueReq(newProbe(), "x"); !errors.Is(err, ErrNotLoggedOn) {
		t.Fatalf("a request queued before the logon: %v; want ErrNotLoggedOn", err)
	}
	p.setUp(true)
	for i := range 5 {
		if err := p.enqueueReq(newProbe(), i); err != nil {
			t.Fatal(err)
		}
	}
	// A message counts as left once its submission has returned, just
	// after the test's submit has seen it: wait for the count.
	check := func(when string, queued, left uint64) {
		t.Helper()
		eventually(t, 10*time.Second, when, func() bool { return p.queued.Load() == queued && p.left.Load() == left })
	}
	check("before the pacer runs", 5, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func(seq int) {
		t.Helper()
		select {
		case got := <-submitted:
			if got != seq {
				t.Fatalf("submitted %d; want %d", got, seq)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d never submitted", seq)
		}
	}
	wait(1) // the window of one is full: the other four stay queued
	check("one submitted", 5, 1)
	p.wrote(1)
	wait(2)
	check("two submitted", 5, 2)
	p.setUp(false)
	if got := p.reclaim(); fmt.Sprint(got) != "[2 3 4]" {
		t.Fatalf("reclaimed %v; want [2 3 4]", got)
	}
	check("the rest reclaimed", 5, 5)
}

// holdRig is a pacer with a window of one whose submissions a test sees
// on submitted, numbered from 1; the first blocks until proceed is closed
// (unblock), so that a hold can begin while it is under way. afterHold is
// set by the test while the pacer must submit nothing (a hold returned);
// a submission then is an error.
type holdRig struct {
	p         *pacer
	submitted chan int
	inSubmit  chan struct{}
	unblock   func()
	afterHold atomic.Bool
}

func newHoldRig(t *testing.T) *holdRig { return newHoldRigWith(t, nil) }

// newHoldRigWith is newHoldRig with the pacer's taken hook.
func newHoldRigWith(t *testing.T, taken func()) *holdRig {
	r := &holdRig{p: newPacer(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "A", TargetCompID: "B"}, 16, 1, testLogger(t)),
		submitted: make(chan int, 16), inSubmit: make(chan struct{})}
	r.p.taken = taken
	proceed := make(chan struct{})
	var once sync.Once
	r.unblock = func() { once.Do(func() { close(proceed) }) }
	next := 0
	r.p.submit = func(m *quickfix.Message) error {
		if next == 0 {
			close(r.inSubmit)
			<-proceed
		}
		if r.afterHold.Load() {
			t.Errorf("message %d submitted while held", next+1)
		}
		next++
		m.Header.SetInt(tag.MsgSeqNum, next)
		r.submitted <- next
		return nil
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.p.run(ctx) }()
	t.Cleanup(func() { r.unblock(); cancel(); <-done })
	return r
}

// wait waits for submission seq.
func (r *holdRig) wait(t *testing.T, seq int) {
	t.Helper()
	select {
	case got := <-r.submitted:
		if got != seq {
			t.Fatalf("submitted %d; want %d", got, seq)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("message %d never submitted", seq)
	}
}

// held runs f, which must start a hold, and marks the pacer held once it
// returns.
func (r *holdRig) held(t *testing.T, f func() bool) {
	t.Helper()
	if !f() {
		t.Fatal("no new hold")
	}
	r.afterHold.Store(true)
}

// released runs f, which must end the hold.
func (r *holdRig) released(t *testing.T, what string, f func() bool) {
	t.Helper()
	r.afterHold.Store(false)
	if !f() {
		t.Fatalf("%s did not release the hold", what)
	}
}

func msgOf(msgType string, possDup bool) *quickfix.Message {
	m := quickfix.NewMessage()
	m.Header.SetString(tag.MsgType, msgType)
	if possDup {
		m.Header.SetString(tag.PossDupFlag, "Y")
	}
	return m
}

// TestPacerHoldsForResend: a ResendRequest received holds the pacer's
// submissions, once a submission under way has ended, until quickfix
// shows it serves the resend (a PossDup message sent) or any later
// message arrives; a logout ends a hold too. quickfix (Go) reads the
// resend's last MsgSeqNum before it locks live messages out, so a message
// submitted between the ResendRequest's arrival and the resend goes out
// ahead of the resent ones, numbered past them. With a window of one,
// each message is submitted only after the test marks the previous one
// written, which it does once the next hold has begun.
func TestPacerHoldsForResend(t *testing.T) {
	r := newHoldRig(t)
	p := r.p
	p.setUp(true)
	for range 4 {
		if err := p.enqueue(newProbe()); err != nil {
			t.Fatal(err)
		}
	}
	<-r.inSubmit

	// The ResendRequest arrives while message 1 is being submitted: the
	// hold waits for that submission.
	held := make(chan bool)
	go func() { held <- p.received(true) }()
	for deadline := time.Now().Add(10 * time.Second); !p.held.Load(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("a ResendRequest received did not hold the pacer")
		}
	}
	select {
	case <-held:
		t.Fatal("hold returned while a submission was under way")
	default:
	}
	r.unblock()
	r.held(t, func() bool { return <-held })
	r.wait(t, 1)
	p.wrote(1)
	if p.sending(msgOf("8", false)) || p.received(true) {
		t.Fatal("a live message or a second ResendRequest changed the hold")
	}
	r.released(t, "a resent message", func() bool { return p.sending(msgOf("8", true)) })
	r.wait(t, 2)

	// Released by a later message received (a resend that sent nothing).
	r.held(t, func() bool { return p.received(true) })
	p.wrote(2)
	r.released(t, "a Heartbeat received", func() bool { return p.received(false) })
	r.wait(t, 3)

	// Ended by a logout: the next logon is not held.
	r.held(t, func() bool { return p.received(true) })
	p.wrote(3)
	r.released(t, "a logout", func() bool { p.setUp(false); return !p.held.Load() })
	p.setUp(true)
	r.wait(t, 4)
}

// TestPacerHoldEnds: a hold that nothing releases (quickfix sent nothing
// for the resend and the counterparty is silent) ends after holdMax; the
// order path does not wait for the counterparty's heartbeat.
func TestPacerHoldEnds(t *testing.T) {
	r := newHoldRig(t)
	r.unblock()
	r.p.setUp(true)
	r.held(t, func() bool { return r.p.received(true) })
	r.afterHold.Store(false) // the release is the pacer's own
	if err := r.p.enqueue(newProbe()); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 1)
	if r.p.held.Load() {
		t.Fatal("submitted while held")
	}
}

// TestPacerParkedIsReclaimed: a message the pacer took from the queue just
// as a hold began is parked, and a logout's reclaim returns it: each
// message is either reclaimed or submitted, never neither.
func TestPacerParkedIsReclaimed(t *testing.T) {
	took, go_ := make(chan struct{}), make(chan struct{})
	var first sync.Once
	r := newHoldRigWith(t, func() { first.Do(func() { took <- struct{}{}; <-go_ }) })
	r.unblock()
	p := r.p
	p.setUp(true)
	if err := p.enqueueReq(newProbe(), "a"); err != nil {
		t.Fatal(err)
	}
	<-took // the pacer has a, and is held before it submits it
	held := make(chan bool)
	go func() { held <- p.received(true) }() // returns once the pacer has done with a
	for deadline := time.Now().Add(10 * time.Second); !p.held.Load(); runtime.Gosched() {
		if time.Now().After(deadline) {
			t.Fatal("a ResendRequest received did not hold the pacer")
		}
	}
	r.afterHold.Store(true)
	close(go_)
	r.held(t, func() bool { return <-held })
	if p.parked.Load() == nil {
		t.Fatal("a, taken while held, not parked")
	}
	r.afterHold.Store(false)
	p.setUp(false)
	if got := p.reclaim(); fmt.Sprint(got) != "[a]" {
		t.Fatalf("reclaimed %v; want [a]", got)
	}
	// Reclaimed: the next logon submits what is queued next, not a.
	p.setUp(true)
	if err := p.enqueueReq(newProbe(), "b"); err != nil {
		t.Fatal(err)
	}
	r.wait(t, 1)
	// The rig sees b inside submit; the pacer counts it as left just
	// after submit returns.
	for deadline := time.Now().Add(10 * time.Second); p.left.Load() < 2 && time.Now().Before(deadline); runtime.Gosched() {
	}
	if q, l := p.queued.Load(), p.left.Load(); q != 2 || l != 2 {
		t.Fatalf("queued %d, left %d; want 2, 2", q, l)
	}
	select {
	case seq := <-r.submitted:
		t.Fatalf("message %d submitted; want only b", seq)
	default:
	}
}

// TestAcceptorPacerHoldsForResend: an acceptor's sessions are held and
// released by the Application's callbacks (Received, Sending, OnLogout),
// each session on its own, and the count of held sessions that lets the
// callbacks skip the lookup follows them.
func TestAcceptorPacerHoldsForResend(t *testing.T) {
	a := NewAcceptorPacer(16, testLogger(t))
	defer a.Close()
	s1 := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "B1"}
	s2 := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "B2"}
	check := func(when string, held1, held2 bool) {
		t.Helper()
		n := int64(0)
		for _, h := range []bool{held1, held2} {
			if h {
				n++
			}
		}
		if g1, g2 := a.pacerFor(s1).held.Load(), a.pacerFor(s2).held.Load(); g1 != held1 || g2 != held2 || a.held.Load() != n {
			t.Fatalf("%s: held %v, %v (count %d); want %v, %v", when, g1, g2, a.held.Load(), held1, held2)
		}
	}
	a.OnLogon(s1)
	a.OnLogon(s2)
	check("logged on", false, false)
	a.Received(s1, true)
	a.Received(s1, true)
	check("a ResendRequest from B1, twice", true, false)
	a.Received(s2, true)
	a.Sending(s1, msgOf("8", false))
	a.Received(s2, false) // B2's next message: its resend was served
	check("B2 released", true, false)
	a.Sending(s1, msgOf("4", true)) // a gap fill of B1's resend
	check("B1 released", false, false)
	a.Received(s2, true)
	a.OnLogout(s2)
	check("B2 logged out", false, false)
}

// refuseRig is a pacer with a wide window whose stand-in for quickfix
// refuses the submission of the request refuse, once (its store could not
// save it), and numbers the others from 1 on submitted; failed records
// the pacer's reports of a refusal while logged on.
type refuseRig struct {
	p         *pacer
	submitted chan string
	failed    chan error
}

func newRefuseRig(t *testing.T, refuse string, inSubmit func(req string)) *refuseRig {
	r := &refuseRig{p: newPacer(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "A", TargetCompID: "B"}, 16, 64, testLogger(t)),
		submitted: make(chan string, 16), failed: make(chan error, 16)}
	var refused bool
	next := 0
	r.p.beforeSubmit = func(m *quickfix.Message, req any) {
		m.Body.SetString(tag.ClOrdID, fmt.Sprint(req))
	}
	r.p.submit = func(m *quickfix.Message) error {
		id, _ := m.Body.GetString(tag.ClOrdID)
		if inSubmit != nil {
			inSubmit(id)
		}
		if id == refuse && !refused {
			refused = true
			return errors.New("store: no space left on device")
		}
		next++
		m.Header.SetInt(tag.MsgSeqNum, next)
		r.submitted <- id
		return nil
	}
	r.p.failed = func(err error) { r.failed <- err }
	return r
}

func (r *refuseRig) start(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); r.p.run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
}

// submittedSoFar drains what was submitted.
func (r *refuseRig) submittedSoFar() []string {
	var out []string
	for {
		select {
		case id := <-r.submitted:
			out = append(out, id)
		default:
			return out
		}
	}
}

// TestPacerRefusedSubmitIsReclaimed: a request quickfix refuses (its
// store failed to save it: it was neither numbered nor queued) has not
// reached the upstream. It must not count as left (the order manager
// would time the venue's answer to a request the venue never had), and
// it must come back, reclaimed, before what was queued behind it, none of
// which may overtake it: the pacer submits nothing more and reports the
// refusal (the Upstream then ends the session), and the logout's reclaim
// returns it first. After the next logon the pacer submits again. Before,
// it was counted as left and dropped with a log line, and the requests
// behind it went on: the order manager waited for an answer that never
// came.
func TestPacerRefusedSubmitIsReclaimed(t *testing.T) {
	r := newRefuseRig(t, "b", nil)
	p := r.p
	p.setUp(true)
	for _, id := range []string{"a", "b", "c", "d"} {
		if err := p.enqueueReq(newProbe(), id); err != nil {
			t.Fatal(err)
		}
	}
	r.start(t)
	select {
	case err := <-r.failed:
		t.Logf("refusal reported: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the refusal of b was never reported")
	}
	// The pacer stopped before reporting it: nothing more is submitted.
	if got := fmt.Sprint(r.submittedSoFar()); got != "[a]" {
		t.Fatalf("submitted %s; want only [a], the requests behind the refused b held back", got)
	}
	if q, l := p.queued.Load(), p.left.Load(); q != 4 || l != 1 {
		t.Fatalf("queued %d, left %d; want 4, 1: the refused b has not left", q, l)
	}
	p.setUp(false)
	if got := p.reclaim(); fmt.Sprint(got) != "[b c d]" {
		t.Fatalf("reclaimed %v; want [b c d]", got)
	}
	if q, l := p.queued.Load(), p.left.Load(); q != 4 || l != 4 {
		t.Fatalf("queued %d, left %d; want 4, 4", q, l)
	}
	p.setUp(true)
	if err := p.enqueueReq(newProbe(), "e"); err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-r.submitted:
		if id != "e" {
			t.Fatalf("submitted %s after the next logon; want e", id)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("nothing submitted after the next logon")
	}
}

// TestPacerRollbackFailedSubmitIsInDoubt: a request whose save failed and
// could not be undone (the sealed store's journal: an fsync failed, then
// the cut of the record too, journal.ErrRollback) may be in the store at
// the next start, which then counts it as handed and resends it when the
// upstream asks for its MsgSeqNum. It must not come back as never sent:
// the order manager would hold it for a session that cannot log on again
// (its store failed) and reject it once its hold ran out, while the next
// start resent the stored copy (executed after its client was told it
// was rejected). It has left, in doubt, as if handed: the session ends, the
// pacer submits nothing behind it, and the logout's reclaim gives back
// only the requests queued behind it. Before, it was reclaimed like a
// save that left nothing.
func TestPacerRollbackFailedSubmitIsInDoubt(t *testing.T) {
	r := newRefuseRig(t, "", nil) // refuses nothing itself
	p := r.p
	submit := p.submit
	var refused bool
	p.submit = func(m *quickfix.Message) error {
		if id, _ := m.Body.GetString(tag.ClOrdID); id == "b" && !refused {
			refused = true
			return fmt.Errorf("fix: store FIX.4.4-A-B.sealed: %w: fsync: input/output error (%w: input/output error)",
				journal.ErrFailed, journal.ErrRollback)
		}
		return submit(m)
	}
	p.setUp(true)
	for _, id := range []string{"a", "b", "c", "d"} {
		if err := p.enqueueReq(newProbe(), id); err != nil {
			t.Fatal(err)
		}
	}
	r.start(t)
	if err := <-r.failed; !errors.Is(err, journal.ErrRollback) { // (a hang is go test's -timeout)
		t.Fatalf("refusal reported as %v; want the store's ErrRollback", err)
	}
	if got := fmt.Sprint(r.submittedSoFar()); got != "[a]" {
		t.Fatalf("submitted %s; want only [a], nothing behind the failed b", got)
	}
	if q, l := p.queued.Load(), p.left.Load(); q != 4 || l != 2 {
		t.Fatalf("queued %d, left %d; want 4, 2: b, in doubt, has left", q, l)
	}
	p.setUp(false)
	if got := p.reclaim(); fmt.Sprint(got) != "[c d]" {
		t.Fatalf("reclaimed %v; want [c d]: b may be in the store, and is not given back as never sent", got)
	}
}

// TestPacerReclaimWaitsForSubmission: a logout's reclaim that comes while
// the pacer is submitting a request waits for the submission's outcome,
// and if quickfix refused it (the session had just gone), returns it
// with the rest. Before, reclaim did not wait: the request, neither in
// the queue nor handed to quickfix, was in nobody's hands. (The test
// lets reclaim run first for a while; a reclaim that did not wait
// returns meanwhile.)
func TestPacerReclaimWaitsForSubmission(t *testing.T) {
	inSubmit, proceed := make(chan struct{}), make(chan struct{})
	r := newRefuseRig(t, "a", func(id string) {
		if id == "a" {
			close(inSubmit)
			<-proceed
		}
	})
	p := r.p
	p.setUp(true)
	for _, id := range []string{"a", "b"} {
		if err := p.enqueueReq(newProbe(), id); err != nil {
			t.Fatal(err)
		}
	}
	r.start(t)
	<-inSubmit
	p.setUp(false)
	reclaimed := make(chan []any, 1)
	go func() { reclaimed <- p.reclaim() }()
	for range 1000 {
		runtime.Gosched()
	}
	close(proceed) // quickfix refuses a: the session is gone
	select {
	case got := <-reclaimed:
		if fmt.Sprint(got) != "[a b]" {
			t.Fatalf("reclaimed %v; want [a b]", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("reclaim never returned")
	}
	select {
	case err := <-r.failed:
		t.Fatalf("a refusal after the logout reported (%v): it would end the next session", err)
	default:
	}
	if q, l := p.queued.Load(), p.left.Load(); q != 2 || l != 2 {
		t.Fatalf("queued %d, left %d; want 2, 2", q, l)
	}
}

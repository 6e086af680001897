package fix

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
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
	for i := range 5 {
		if err := p.enqueueReq(newProbe(), i); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string, queued, left uint64) {
		t.Helper()
		if q, l := p.queued.Load(), p.left.Load(); q != queued || l != left {
			t.Fatalf("%s: queued %d, left %d; want %d, %d", when, q, l, queued, left)
		}
	}
	check("before the logon", 5, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx) }()
	defer func() { cancel(); <-done }()
	p.setUp(true)
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
	r.held(t, func() bool { return p.received(true) })
	close(go_)
	for parked, deadline := false, time.Now().Add(10*time.Second); !parked; {
		if time.Now().After(deadline) {
			t.Fatal("a, taken while held, never parked")
		}
		parked = p.parked.Load() != nil
		runtime.Gosched()
	}
	r.afterHold.Store(false)
	p.setUp(false)
	if got := p.reclaim(); fmt.Sprint(got) != "[a]" {
		t.Fatalf("reclaimed %v; want [a]", got)
	}
	// Reclaimed: the next logon submits what is queued next, not a.
	if err := p.enqueueReq(newProbe(), "b"); err != nil {
		t.Fatal(err)
	}
	p.setUp(true)
	r.wait(t, 1)
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

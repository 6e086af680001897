package fix

import (
	"context"
	"fmt"
	"runtime"
	"sync"
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

// TestPacerHoldsForResend: a ResendRequest received holds the pacer's
// submissions, once a submission under way has ended, until quickfix
// shows it serves the resend (a PossDup message sent) or any later
// message arrives; a logout ends a hold too. quickfix (Go) reads the
// resend's last MsgSeqNum before it locks live messages out, so a message
// submitted between the ResendRequest's arrival and the resend goes out
// ahead of the resent ones, numbered past them.
func TestPacerHoldsForResend(t *testing.T) {
	p := newPacer(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "A", TargetCompID: "B"}, 16, 16, testLogger(t))
	var (
		next      int
		submitted = make(chan int, 16)
		inSubmit  = make(chan struct{})
		proceed   = make(chan struct{})
	)
	p.submit = func(m *quickfix.Message) error {
		if next == 0 { // message 1 is under way when the hold begins
			close(inSubmit)
			<-proceed
		} else if p.isHeld.Load() {
			t.Errorf("message %d submitted while held", next+1)
		}
		next++
		m.Header.SetInt(tag.MsgSeqNum, next)
		submitted <- next
		return nil
	}
	msg := func(msgType string, possDup bool) *quickfix.Message {
		m := quickfix.NewMessage()
		m.Header.SetString(tag.MsgType, msgType)
		if possDup {
			m.Header.SetString(tag.PossDupFlag, "Y")
		}
		return m
	}
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.run(ctx) }()
	var once sync.Once
	unblock := func() { once.Do(func() { close(proceed) }) }
	defer func() { unblock(); cancel(); <-done }()
	p.setUp(true)
	if err := p.enqueue(newProbe()); err != nil {
		t.Fatal(err)
	}
	<-inSubmit

	// The ResendRequest arrives while message 1 is being submitted: the
	// hold waits for that submission.
	held := make(chan bool)
	go func() { held <- p.received(msg("2", false)) }()
	for !p.isHeld.Load() {
		runtime.Gosched()
	}
	select {
	case <-held:
		t.Fatal("hold returned while a submission was under way")
	default:
	}
	unblock()
	if !<-held {
		t.Fatal("received(ResendRequest) did not report a new hold")
	}
	wait(1)

	// Held: nothing is submitted until a resent message goes out.
	for range 3 {
		if err := p.enqueue(newProbe()); err != nil {
			t.Fatal(err)
		}
	}
	if p.sending(msg("8", false)) || p.received(msg("2", false)) {
		t.Fatal("a live message or a second ResendRequest changed the hold")
	}
	if !p.sending(msg("8", true)) {
		t.Fatal("a resent message did not release the hold")
	}
	wait(2)
	p.wrote(2)

	// Released by any later message received (a resend that sent nothing).
	p.received(msg("2", false))
	if !p.received(msg("0", false)) {
		t.Fatal("a Heartbeat received did not release the hold")
	}
	wait(3)

	// Ended by a logout: the next logon is not held.
	p.received(msg("2", false))
	p.setUp(false)
	p.setUp(true)
	if p.isHeld.Load() {
		t.Fatal("held after a logout and a new logon")
	}
	wait(4)
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
	msg := func(msgType string, possDup bool) *quickfix.Message {
		m := quickfix.NewMessage()
		m.Header.SetString(tag.MsgType, msgType)
		if possDup {
			m.Header.SetString(tag.PossDupFlag, "Y")
		}
		return m
	}
	check := func(when string, held1, held2 bool) {
		t.Helper()
		n := int64(0)
		for _, h := range []bool{held1, held2} {
			if h {
				n++
			}
		}
		if g1, g2 := a.pacerFor(s1).isHeld.Load(), a.pacerFor(s2).isHeld.Load(); g1 != held1 || g2 != held2 || a.held.Load() != n {
			t.Fatalf("%s: held %v, %v (count %d); want %v, %v", when, g1, g2, a.held.Load(), held1, held2)
		}
	}
	a.OnLogon(s1)
	a.OnLogon(s2)
	check("logged on", false, false)
	a.Received(s1, msg("2", false))
	a.Received(s1, msg("2", false))
	check("a ResendRequest from B1, twice", true, false)
	a.Received(s2, msg("2", false))
	a.Sending(s1, msg("8", false))
	a.Received(s2, msg("D", false)) // B2's next message: its resend was served
	check("B2 released", true, false)
	a.Sending(s1, msg("4", true)) // a gap fill of B1's resend
	check("B1 released", false, false)
	a.Received(s2, msg("2", false))
	a.OnLogout(s2)
	check("B2 logged out", false, false)
}

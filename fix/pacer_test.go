package fix

import (
	"context"
	"fmt"
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

// Package leakcheck lets a test check that what it started and stopped
// left no goroutine behind.
package leakcheck

import (
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"
)

// QuickfixTimers are the stacks of the goroutines quickfix (v0.9.11)
// leaves behind when a session stops: its logon and logout timeouts are
// time.AfterFunc timers, never stopped, whose function sends on the
// session's unbuffered event channel, which only the session's run loop
// reads (session_state.go:68, session.go:604). A timer that fires after
// the loop ended (Initiator.Stop, Acceptor.Stop) blocks for ever. Each
// keeps a goroutine (about 3 KB, stack included) and nothing else: the
// session is not reachable from it once the timer has fired (until then
// the timer keeps the session, its store and its Application).
var QuickfixTimers = []string{
	"quickfix.(*stateMachine).Connect.func1",
	"quickfix.(*session).initiateLogoutInReplyTo.func1",
}

// Wait waits, up to within, until no more goroutines run than before (a
// runtime.NumGoroutine taken before the test started what it stops), and
// otherwise fails t with the stacks of those left, the testing package's
// own left out. It polls: goroutines end on their own time.
func Wait(t testing.TB, before int, within time.Duration) {
	t.Helper()
	WaitExcept(t, before, within)
}

// Count returns how many goroutines run whose stack contains none of
// except, and how many contain one.
func Count(except ...string) (counted, excepted int) {
	for _, g := range stacks() {
		if containsAny(g, except) {
			excepted++
		} else {
			counted++
		}
	}
	return counted, excepted
}

// WaitExcept is Wait for the goroutines Count counts: those whose stack
// contains one of except (a dependency's known leak) are left out, of
// before (a Count taken before the test started what it stops) and of
// the check.
func WaitExcept(t testing.TB, before int, within time.Duration, except ...string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		n := runtime.NumGoroutine() // no stacks to read without except
		if len(except) > 0 {
			n, _ = Count(except...)
		}
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			var left []string
			for _, g := range stacks() {
				if !strings.Contains(g, "testing.") && !containsAny(g, except) {
					left = append(left, g)
				}
			}
			t.Fatalf("%d goroutines before, %d after the stop:\n%s", before, n, strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitCollected waits, up to within, until the garbage collector has
// freed every value ps point to, and otherwise fails t naming what and how
// many are still reachable. It runs the collector while it waits.
func WaitCollected[T any](t testing.TB, within time.Duration, what string, ps ...weak.Pointer[T]) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		runtime.GC()
		live := 0
		for _, p := range ps {
			if p.Value() != nil {
				live++
			}
		}
		if live == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d %s still reachable", live, len(ps), what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// stacks returns the stack of every goroutine.
func stacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Split(string(buf[:n]), "\n\n")
		}
		buf = make([]byte, 2*len(buf))
	}
}

func containsAny(s string, subs []string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

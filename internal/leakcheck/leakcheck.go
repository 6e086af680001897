// Package leakcheck lets a test check that what it started and stopped
// left no goroutine behind.
package leakcheck

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// Wait waits, up to within, until no more goroutines run than before (a
// runtime.NumGoroutine taken before the test started what it stops), and
// otherwise fails t with the stacks of those left, the testing package's
// own left out. It polls: goroutines end on their own time.
func Wait(t testing.TB, before int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			var left []string
			for _, g := range strings.Split(string(buf[:n]), "\n\n") {
				if !strings.Contains(g, "testing.") {
					left = append(left, g)
				}
			}
			t.Fatalf("%d goroutines before, %d after the stop:\n%s", before, runtime.NumGoroutine(), strings.Join(left, "\n\n"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

package qfcpp

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
)

// stubTB is a testing.TB whose Fatal, Skip and Cleanup are recorded
// instead of acting on the test: a test runs the code under test with it
// on a goroutine of its own (runTB), then its cleanups (runCleanups).
// TempDir, Helper and Log go to the real test. Safe for concurrent use.
type stubTB struct {
	testing.TB

	mu       sync.Mutex
	cleanups []func()
	fatal    string // the first Fatal's message
	skipped  string // the first Skip's message
	errors   []string
}

func (s *stubTB) Cleanup(f func()) { s.mu.Lock(); s.cleanups = append(s.cleanups, f); s.mu.Unlock() }
func (s *stubTB) Helper()          {}

func (s *stubTB) Errorf(format string, args ...any) {
	s.mu.Lock()
	s.errors = append(s.errors, fmt.Sprintf(format, args...))
	s.mu.Unlock()
}

func (s *stubTB) Fatal(args ...any) { s.stop(&s.fatal, fmt.Sprint(args...)) }
func (s *stubTB) Fatalf(format string, args ...any) {
	s.stop(&s.fatal, fmt.Sprintf(format, args...))
}
func (s *stubTB) Skip(args ...any) { s.stop(&s.skipped, fmt.Sprint(args...)) }
func (s *stubTB) Skipf(format string, args ...any) {
	s.stop(&s.skipped, fmt.Sprintf(format, args...))
}

func (s *stubTB) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.fatal != "" || len(s.errors) > 0
}

func (s *stubTB) stop(to *string, msg string) {
	s.mu.Lock()
	if *to == "" {
		*to = msg
	}
	s.mu.Unlock()
	runtime.Goexit()
}

// runTB runs f with s on a goroutine of its own and waits for it to
// return or stop (Fatal, Skip).
func (s *stubTB) runTB(f func(tb testing.TB)) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f(s)
	}()
	<-done
}

// runCleanups runs the recorded cleanups, last first, as testing does,
// and returns the panic of the first one that panicked (nil if none did).
func (s *stubTB) runCleanups() (panicked any) {
	s.mu.Lock()
	fs := s.cleanups
	s.cleanups = nil
	s.mu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		func() {
			defer func() {
				if r := recover(); r != nil && panicked == nil {
					panicked = r
				}
			}()
			fs[i]()
		}()
	}
	return panicked
}

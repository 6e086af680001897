package orderstest

import (
	"sync"
	"testing"
	"time"

	"sgw/fix"
	"sgw/orders"
)

// lineWait bounds Line.Wait: reaching it is a failure, never a pass.
const lineWait = 10 * time.Second

// Line is an orders.Upstream that records what the manager sends it, for
// a test or a Venue to read; it is always logged on, and hands nothing
// over on its own. Safe for concurrent use: mu guards sent and notify.
type Line struct {
	// handed holds the ids of the requests an earlier process's upstream
	// had (Handed says fix.HandedYes for them); read-only.
	handed map[string]bool

	mu     sync.Mutex
	sent   []any
	notify chan struct{} // closed and replaced at each request
}

var _ orders.Upstream = (*Line)(nil)

// NewLine returns a Line whose Handed says fix.HandedYes for the ids in
// handed (nil: none). The caller must not change handed while a manager
// uses the line.
func NewLine(handed map[string]bool) *Line {
	return &Line{handed: handed, notify: make(chan struct{})}
}

// Send implements orders.Upstream: it records req (a fix.Prepared as its
// request).
func (u *Line) Send(req any) error {
	if p, ok := req.(fix.Prepared); ok {
		req = p.Request()
	}
	u.mu.Lock()
	u.sent = append(u.sent, req)
	close(u.notify)
	u.notify = make(chan struct{})
	u.mu.Unlock()
	return nil
}

// Handed implements orders.Upstream.
func (u *Line) Handed(id string) fix.Handed {
	if u.handed[id] {
		return fix.HandedYes
	}
	return fix.HandedNo
}

// ResumeInboundAfter implements orders.Upstream.
func (u *Line) ResumeInboundAfter(int, int64) {}

// Queued implements orders.Upstream.
func (u *Line) Queued() uint64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return uint64(len(u.sent))
}

// Left implements orders.Upstream: whatever was queued has left.
func (u *Line) Left() uint64 { return u.Queued() }

// from returns the requests sent from the n-th on, how many were sent,
// and a channel closed at the next request.
func (u *Line) from(n int) ([]any, int, <-chan struct{}) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]any(nil), u.sent[n:]...), len(u.sent), u.notify
}

// Await waits until the line has been sent n requests, or for the time
// given. It returns every request sent, and whether they are n or more.
func (u *Line) Await(n int, within time.Duration) ([]any, bool) {
	deadline := time.After(within)
	for {
		got, _, ch := u.from(0)
		if len(got) >= n {
			return got, true
		}
		select {
		case <-ch:
		case <-deadline:
			return got, false
		}
	}
}

// Wait waits until the line has been sent n requests and returns every
// request sent, or fails the test after 10 seconds. Call it from the
// test's goroutine.
func (u *Line) Wait(t testing.TB, n int) []any {
	t.Helper()
	got, ok := u.Await(n, lineWait)
	if !ok {
		t.Fatalf("upstream got %d requests, want %d", len(got), n)
	}
	return got
}

// AddHanded adds the id of every request the line was sent to handed: the
// requests a restarted process's upstream finds in its store.
func (u *Line) AddHanded(handed map[string]bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, req := range u.sent {
		id, _ := fix.RequestID(req)
		handed[id] = true
	}
}

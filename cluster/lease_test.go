package cluster

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// TestFencerLease: within a lease the check answers without a round trip
// (a clock that does not move), past it the check confirms again, and an
// isolated leader's Fencer fails and stays failed even after the clock
// moves back into the lease.
func TestFencerLease(t *testing.T) {
	c := newTestCluster(t, true)
	leader := c.waitLeader("")
	f := leader.node.Fencer(leader.node.Epoch())
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	f.now = func() time.Time { return time.Unix(0, clock.Load()) }
	if err := f.Check(); err != nil {
		t.Fatalf("first check on the leader: %v", err)
	}

	// Cut the leader off. Inside the lease the cached answer stands.
	leader.inmem.DisconnectAll()
	for _, fl := range c.followers(leader) {
		fl.inmem.Disconnect(raft.ServerAddress(leader.addr))
	}
	if err := f.Check(); err != nil {
		t.Fatalf("check inside the lease: %v", err)
	}
	// Past the lease it must ask the quorum, which it cannot reach. A
	// heartbeat answered just before the cut may still confirm once or
	// twice (Raft counts answers that arrive after the question); the
	// leader steps down within its LeaderLeaseTimeout and the check fails.
	deadline := time.Now().Add(waitDeadline)
	var err error
	for err == nil {
		if time.Now().After(deadline) {
			t.Fatal("an isolated leader's fencer kept passing")
		}
		clock.Add(int64(f.lease) + 1)
		err = f.Check()
	}
	if !errors.Is(err, ErrFenced) {
		t.Fatalf("check past the lease on an isolated leader = %v; want ErrFenced", err)
	}
	clock.Store(0)
	if err2 := f.Check(); !errors.Is(err2, ErrFenced) {
		t.Fatalf("a failed Fencer answered %v; want it to stay fenced", err2)
	}
	next := c.waitLeader(leader.id)
	if err := next.node.Fencer(next.node.Epoch()).Check(); err != nil {
		t.Fatalf("new leader's fencer: %v", err)
	}
	if err := leader.node.Fencer(next.node.Epoch()).Check(); !errors.Is(err, ErrFenced) {
		t.Fatalf("the old leader with the new epoch = %v; want ErrFenced", err)
	}
}

// TestFencedLeadersNeverOverlap partitions the leader while a sender on it
// checks its Fencer before every "send", as the upstream relay does, and
// a sender on each follower does the same with the epoch it wins: the
// deposed leader's last permitted send comes before the new leader's
// first, so the venue never hears two leaders at once.
func TestFencedLeadersNeverOverlap(t *testing.T) {
	c := newTestCluster(t, true)
	old := c.waitLeader("")
	var lastOld atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	sending := make(chan struct{})
	go func() {
		defer close(done)
		f := old.node.Fencer(old.node.Epoch())
		for first := true; ; first = false {
			select {
			case <-stop:
				return
			default:
			}
			if f.Check() != nil {
				return // fenced for good
			}
			lastOld.Store(time.Now().UnixNano())
			if first {
				close(sending)
			}
		}
	}()
	select {
	case <-sending:
	case <-done:
		t.Fatal("the leader's fencer refused before the partition")
	}
	old.inmem.DisconnectAll()
	for _, fl := range c.followers(old) {
		fl.inmem.Disconnect(raft.ServerAddress(old.addr))
	}
	next := c.waitLeader(old.id)
	if err := next.node.Fencer(next.node.Epoch()).Check(); err != nil {
		t.Fatalf("the new leader's first check: %v", err)
	}
	firstNew := time.Now().UnixNano()
	select {
	case <-done:
	case <-time.After(waitDeadline):
		t.Fatal("the partitioned leader's fencer never failed")
	}
	close(stop)
	if last := lastOld.Load(); last >= firstNew {
		t.Fatalf("the old leader was allowed to send %v after the new leader's first send", time.Duration(last-firstNew))
	} else {
		t.Logf("the old leader's last permitted send came %v before the new leader's first", time.Duration(firstNew-last))
	}
}

package cluster

import (
	"sync"
	"time"
)

// Fencer is the fencing check of one leadership epoch, for the upstream
// relay: Check before every write to the venue. It confirms leadership
// with a quorum (Node.StillLeader) at most about twice per lease and
// answers from the last confirmation within it, so a relay writing
// thousands of messages a second costs a heartbeat round trip per half
// lease, not one per write. A confirmation starts in the background once
// half the lease has passed, so a busy relay finds the lease renewed and
// never waits for the round trip; only a relay idle for a lease waits.
//
// Why a lease is safe: a follower that acknowledged the confirmation
// started at t will neither stand for election nor vote for another
// candidate before t + HeartbeatTimeout (hashicorp/raft keeps a known
// leader until it has been silent that long). A quorum acknowledged it,
// and every new leader needs a vote from that quorum, so no other node can
// lead, let alone send, before t + HeartbeatTimeout. Raft counts a
// heartbeat answer that arrives after the question even if the heartbeat
// left up to HeartbeatTimeout/10 before it. The lease is half of
// HeartbeatTimeout, measured from the start of the confirmation (a
// confirmation slower than the lease grants nothing), which leaves the
// rest for that, the write itself and clock-rate differences.
//
// Once a check fails the Fencer stays failed: a deposed leader's sessions
// never send again in that epoch (a new leadership gets a new Fencer). A
// leader whose confirmation failed while it goes on leading can therefore
// send nothing for the rest of its epoch: its user must end its term and
// hand leadership over (the composition root does, at the first refusal).
//
// Check may be called from any goroutine; concurrent callers share one
// confirmation in flight. mu guards the fields below it and is never held
// while confirming (the confirming goroutine takes it to publish).
type Fencer struct {
	node  *Node
	epoch uint64
	lease time.Duration
	now   func() time.Time

	mu         sync.Mutex
	until      time.Time     // the lease's end; zero before the first confirmation
	failed     error         // sticky
	confirming chan struct{} // closed when the confirmation in flight ends; nil if none
}

// Fencer returns the fencing check for epoch, normally the Epoch of the
// Leadership event that started the upstream sessions.
func (n *Node) Fencer(epoch uint64) *Fencer {
	return &Fencer{node: n, epoch: epoch, lease: n.cfg.HeartbeatTimeout / 2, now: time.Now}
}

// Check returns nil if this node is leader in the Fencer's epoch, having
// been confirmed by a quorum less than a lease ago; otherwise an error
// wrapping ErrFenced, then and forever after. It waits for a confirmation
// only when the lease has run out; it returns within about ApplyTimeout
// of each confirmation it waits for.
func (f *Fencer) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for {
		if f.failed != nil {
			return f.failed
		}
		now := f.now()
		if now.Before(f.until) && f.node.epoch.Load() == f.epoch {
			if f.until.Sub(now) < f.lease/2 && f.confirming == nil {
				f.confirm(now)
			}
			return nil
		}
		if f.confirming == nil {
			f.confirm(now)
		}
		done := f.confirming
		f.mu.Unlock()
		<-done
		f.mu.Lock()
	}
}

// confirm starts a confirmation begun at start; f.mu held.
func (f *Fencer) confirm(start time.Time) {
	done := make(chan struct{})
	f.confirming = done
	go func() {
		err := f.node.StillLeader(f.epoch)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err != nil {
			f.failed = err
		} else if end := start.Add(f.lease); end.After(f.until) {
			f.until = end
		}
		f.confirming = nil
		close(done)
	}()
}

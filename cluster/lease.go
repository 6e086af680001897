package cluster

import (
	"sync"
	"time"
)

// Fencer is the fencing check of one leadership epoch, for the upstream
// relay: Check before every write to the venue. It confirms leadership
// with a quorum (Node.StillLeader) at most once per lease and answers from
// the last confirmation within it, so a relay writing thousands of
// messages a second costs one heartbeat round trip per lease, not one per
// write.
//
// Why a lease is safe: a follower that acknowledged the confirmation
// started at t will neither stand for election nor vote for another
// candidate before t + HeartbeatTimeout (hashicorp/raft keeps a known
// leader until it has been silent that long). A quorum acknowledged it,
// and every new leader needs a vote from that quorum, so no other node can
// lead, let alone send, before t + HeartbeatTimeout. Raft counts a
// heartbeat answer that arrives after the question even if the heartbeat
// left up to HeartbeatTimeout/10 before it. The lease is half of
// HeartbeatTimeout, measured from the start of the confirmation, which
// leaves the rest for that, the write itself and clock-rate differences.
//
// Once a check fails the Fencer stays failed: a deposed leader's sessions
// never send again in that epoch (a new leadership gets a new Fencer).
//
// Check may be called from any goroutine; concurrent callers share one
// confirmation in flight (they wait on the Fencer's mutex).
type Fencer struct {
	node  *Node
	epoch uint64
	lease time.Duration
	now   func() time.Time

	mu     sync.Mutex
	until  time.Time // the lease's end; zero before the first confirmation
	failed error     // sticky
}

// Fencer returns the fencing check for epoch, normally the Epoch of the
// Leadership event that started the upstream sessions.
func (n *Node) Fencer(epoch uint64) *Fencer {
	return &Fencer{node: n, epoch: epoch, lease: n.cfg.HeartbeatTimeout / 2, now: time.Now}
}

// Check returns nil if this node is leader in the Fencer's epoch, having
// been confirmed by a quorum less than a lease ago; otherwise an error
// wrapping ErrFenced, then and forever after.
func (f *Fencer) Check() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failed != nil {
		return f.failed
	}
	start := f.now()
	if start.Before(f.until) && f.node.epoch.Load() == f.epoch {
		return nil
	}
	if err := f.node.StillLeader(f.epoch); err != nil {
		f.failed = err
		return err
	}
	f.until = start.Add(f.lease)
	return nil
}

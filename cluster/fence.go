package cluster

import (
	"errors"
	"fmt"
	"time"
)

// ErrFenced is returned by StillLeader when the given epoch is no longer
// this node's current leadership.
var ErrFenced = errors.New("cluster: fenced, leadership epoch is stale")

// Epoch returns this node's leadership epoch: the Raft term in which it
// became leader (and finished applying every earlier committed entry), or 0
// while it is not leader. Epochs only grow: two leaderships, on this node or
// any other, never share one.
func (n *Node) Epoch() uint64 { return n.epoch.Load() }

// StillLeader is the fencing check made before every action with an effect
// outside the cluster, above all before each message sent to the venue. It
// returns nil only if this node is still leader in the given epoch, having
// just confirmed it with a quorum (raft.VerifyLeader, one heartbeat round
// trip); otherwise an error wrapping ErrFenced. It returns within about
// LeaderLeaseTimeout plus one round trip, and never later than
// Config.ApplyTimeout.
//
// How the upstream relay uses it: on Leadership{IsLeader: true, Epoch: e}
// it starts the FIX sessions and remembers e; before each send it calls
// StillLeader(e) and on error stops sending, logs the sessions out and waits
// for the next Leadership value. A follower that acknowledged the check will
// not stand for election until its HeartbeatTimeout has passed, so a send
// that leaves within HeartbeatTimeout of a successful check cannot overlap a
// new leader's sends. Sends may be batched behind one check.
func (n *Node) StillLeader(epoch uint64) error {
	if n.raft == nil {
		return fmt.Errorf("%w: %w", ErrFenced, ErrNotStarted)
	}
	if epoch == 0 || n.epoch.Load() != epoch {
		return fmt.Errorf("%w: epoch %d, current %d", ErrFenced, epoch, n.epoch.Load())
	}
	f := n.raft.VerifyLeader()
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	timer := time.NewTimer(n.cfg.ApplyTimeout)
	defer timer.Stop()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("%w: epoch %d: %w", ErrFenced, epoch, err)
		}
	case <-timer.C:
		return fmt.Errorf("%w: epoch %d: leadership not confirmed in %v", ErrFenced, epoch, n.cfg.ApplyTimeout)
	}
	if cur := n.raft.CurrentTerm(); cur != epoch || n.epoch.Load() != epoch {
		return fmt.Errorf("%w: epoch %d, term now %d", ErrFenced, epoch, cur)
	}
	return nil
}

package cluster

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Leadership is a leadership change of this node, delivered on LeaderCh.
type Leadership struct {
	// IsLeader reports whether this node is now the leader.
	IsLeader bool
	// Epoch is the term in which this node became leader (see Epoch); 0
	// when IsLeader is false.
	Epoch uint64
}

// LeaderCh returns the channel on which this node's leadership changes are
// delivered. It has one slot and the latest value replaces an unread one, so
// a slow reader never blocks Raft and always ends up with the current state.
// It is meant for one consumer (the component that starts and stops the
// upstream sessions). Values are sent from the Node's own goroutine, which
// holds no lock of this package; the consumer may call any Node method.
//
// {IsLeader: true} is sent only after the new leader has applied every entry
// committed before its term (a Raft barrier), so the StateMachine is complete
// when the consumer acts on it.
func (n *Node) LeaderCh() <-chan Leadership { return n.leaderCh }

// watchLeadership turns Raft's leadership signal into Leadership values and
// the epoch. It runs on its own goroutine until Close and holds no lock.
func (n *Node) watchLeadership(raftCh <-chan bool) {
	defer n.watchers.Done()
	for {
		select {
		case <-n.done:
			return
		case leader := <-raftCh:
			if !leader {
				n.epoch.Store(0)
				n.publish(Leadership{})
				continue
			}
			n.becomeLeader()
		}
	}
}

// becomeLeader waits, with a Raft barrier, until this term's first entry is
// committed and every earlier entry applied, then sets the epoch and
// publishes it. If leadership is lost meanwhile it publishes {IsLeader:
// false} (Raft's own false signal follows and is harmless); a barrier that
// only timed out is retried while this node stays leader in the same term.
func (n *Node) becomeLeader() {
	term := n.raft.CurrentTerm()
	for {
		// Raft may never answer a barrier queued as it shuts down, so
		// Close would wait for ever on this watcher: the answer is
		// awaited beside Close's signal.
		err := awaitFuture(n.raft.Barrier(n.cfg.ApplyTimeout), time.Time{}, n.done)
		if errors.Is(err, ErrClosed) {
			return
		}
		stillLeader := n.raft.State() == raft.Leader && n.raft.CurrentTerm() == term
		switch {
		case err == nil && stillLeader:
			n.epoch.Store(term)
			n.publish(Leadership{IsLeader: true, Epoch: term})
			return
		case stillLeader && errors.Is(err, raft.ErrEnqueueTimeout):
			select {
			case <-n.done:
				return
			default:
				continue
			}
		default:
			n.epoch.Store(0)
			n.publish(Leadership{})
			return
		}
	}
}

// publish replaces any unread value in leaderCh with ev. Only the watcher
// goroutine sends, so the drain-then-send cannot block.
func (n *Node) publish(ev Leadership) {
	select {
	case <-n.leaderCh:
	default:
	}
	n.leaderCh <- ev
}

// TransferLeadership hands leadership to the most up-to-date follower and
// waits until the transfer finished or failed; use it before a planned Close
// so that the cluster does not wait a heartbeat timeout. On success this
// node publishes {IsLeader: false} and the new leader publishes its epoch.
// It returns an error wrapping ErrNotLeader on a follower.
func (n *Node) TransferLeadership() error {
	if n.raft == nil {
		return ErrNotStarted
	}
	if err := n.raft.LeadershipTransfer().Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			id, addr := n.Leader()
			return &NotLeaderError{LeaderID: id, LeaderAddr: addr}
		}
		return fmt.Errorf("cluster: leadership transfer: %w", err)
	}
	return nil
}

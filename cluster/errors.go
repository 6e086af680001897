package cluster

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

var (
	// ErrNotLeader is returned by Apply on a node that is not the leader.
	// It wraps raft.ErrNotLeader. The returned error is a *NotLeaderError
	// naming the leader when one is known; the record was not appended.
	ErrNotLeader = fmt.Errorf("cluster: not the leader: %w", raft.ErrNotLeader)

	// ErrNoQuorum is returned by Apply when this node lost leadership (it
	// could not reach a quorum within the leader lease, or a newer leader
	// deposed it) after the record was appended to its log but before it
	// was known to be committed. The outcome is unknown: the record may
	// still be committed by the new leader. It wraps raft.ErrLeadershipLost.
	ErrNoQuorum = fmt.Errorf("cluster: no quorum, leadership lost before commit (outcome unknown): %w", raft.ErrLeadershipLost)

	// ErrTimeout is returned by Apply when the record was not committed and
	// applied within the caller's timeout. The outcome is unknown.
	ErrTimeout = errors.New("cluster: apply timed out (outcome unknown)")

	// ErrClosed is returned after Close, or while Raft is shutting down.
	ErrClosed = fmt.Errorf("cluster: node closed: %w", raft.ErrRaftShutdown)

	// ErrNotStarted is returned by methods that need Raft before Start.
	ErrNotStarted = errors.New("cluster: node not started")

	// ErrBusy is returned by ApplyAsync when Config.MaxInFlight records
	// stayed in flight for all of ApplyTimeout: nothing was appended.
	ErrBusy = errors.New("cluster: too many records in flight")

	// ErrBadRecord is the error State.Apply rejects a record with that does
	// not decode; the message says what is wrong.
	ErrBadRecord = errors.New("cluster: malformed state record")

	// ErrUnknownRecord is the error a State stops applying with (see
	// State.Err) at a record of a kind, or a session record of an op, this
	// build does not know: written by a leader of a newer version. Unlike a
	// malformed record, which every replica refuses alike, such a record is
	// applied by the members that know it; skipping it would leave this
	// replica's journal short of records the others hold, so it applies
	// nothing more and cannot lead (upgrade it).
	ErrUnknownRecord = errors.New("cluster: record this version does not know (written by a newer version)")

	// ErrReplayed is the error a sealed State stops applying with (see
	// State.Err) at a record written into the log again: an 'E' record
	// whose counter is not above the last one opened under the current
	// record key, or a record key ('K') applied before.
	ErrReplayed = errors.New("cluster: sealed record replayed")

	// ErrBadSnapshot is returned by State.Restore for an encoding it
	// cannot read: an unknown version, a bad checksum or a truncation.
	ErrBadSnapshot = errors.New("cluster: malformed state snapshot")

	// ErrRejected wraps an error returned by StateMachine.Apply: the record
	// is committed in the log but the state machine rejected it.
	ErrRejected = errors.New("cluster: record rejected by the state machine")
)

// NotLeaderError is the error Apply returns on a follower. LeaderID and
// LeaderAddr are empty when no leader is known (an election is running).
type NotLeaderError struct {
	LeaderID   string
	LeaderAddr string
}

// Error names the leader when known.
func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return "cluster: not the leader; no leader known"
	}
	return fmt.Sprintf("cluster: not the leader; leader is %s at %s", e.LeaderID, e.LeaderAddr)
}

// Unwrap returns ErrNotLeader, so errors.Is(err, ErrNotLeader) and
// errors.Is(err, raft.ErrNotLeader) both hold.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

package cluster

import (
	"fmt"
	"io"

	"github.com/hashicorp/raft"
)

// StateMachine is the replicated state, implemented by the order manager.
// Raft calls its methods one at a time from its FSM goroutine, in log
// order; they must not call into the Node (Apply from here would deadlock).
type StateMachine interface {
	// Apply applies one committed record at the given log index. It must be
	// deterministic: every replica applies the same records in the same
	// order and must reach the same state and return the same error. An
	// error rejects the record (it stays in the log) and is returned to the
	// Apply caller on the leader, wrapped in ErrRejected.
	Apply(index uint64, record []byte) error

	// Snapshot returns a self-contained encoding of the current state. No
	// Apply runs while it executes; the returned bytes must not alias state
	// that later Applies mutate, since they are written to disk
	// concurrently with further Applies.
	Snapshot() ([]byte, error)

	// Restore replaces the whole state with the one encoded in r, as
	// written from a Snapshot. It is called at start-up from the latest
	// local snapshot and when the leader installs a snapshot.
	Restore(r io.Reader) error
}

// fsm adapts a StateMachine to raft.FSM.
type fsm struct {
	sm StateMachine
}

var _ raft.FSM = (*fsm)(nil)

// Apply implements raft.FSM. Its return value becomes the ApplyFuture's
// response: nil or the StateMachine's error.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	if err := f.sm.Apply(l.Index, l.Data); err != nil {
		return err
	}
	return nil
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	b, err := f.sm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("cluster: state machine snapshot: %w", err)
	}
	return snapshotBytes(b), nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.sm.Restore(rc); err != nil {
		return fmt.Errorf("cluster: state machine restore: %w", err)
	}
	return nil
}

// snapshotBytes is a point-in-time encoding of the state.
type snapshotBytes []byte

// Persist writes the snapshot; Raft calls it off the FSM goroutine.
func (s snapshotBytes) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: write snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s snapshotBytes) Release() {}

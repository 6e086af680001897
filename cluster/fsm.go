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

	// Snapshot returns a point-in-time copy of the current state, whose
	// WriteTo writes its self-contained encoding. No Apply runs while
	// Snapshot executes, and none is applied until it returns (no record
	// is acknowledged meanwhile), so it should take a time that does not
	// grow with the state. WriteTo runs later on another goroutine,
	// concurrently with further Applies: the copy must not share anything
	// they change.
	Snapshot() (io.WriterTo, error)

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
	w, err := f.sm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("cluster: state machine snapshot: %w", err)
	}
	return fsmSnapshot{w}, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	if err := f.sm.Restore(rc); err != nil {
		return fmt.Errorf("cluster: state machine restore: %w", err)
	}
	return nil
}

// fsmSnapshot is a point-in-time copy of the state, encoded by Persist.
type fsmSnapshot struct {
	w io.WriterTo
}

// Persist writes the snapshot; Raft calls it off the FSM goroutine.
func (s fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := s.w.WriteTo(sink); err != nil {
		sink.Cancel()
		return fmt.Errorf("cluster: write snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s fsmSnapshot) Release() {}

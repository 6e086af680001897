package cluster

import (
	"errors"
	"fmt"
	"time"

	"sgw/journal"
)

// JournalConfig configures a Journal.
type JournalConfig struct {
	// Node is the cluster member the records are applied through.
	// Required.
	Node *Node
	// State is the StateMachine Node applies to (the one passed to New).
	// Required.
	State *State
	// MaxRecord bounds a record's body; a larger one is refused with an
	// error wrapping journal.ErrTooLarge. Zero means
	// journal.DefaultMaxRecord (64 KiB).
	MaxRecord int
	// Clock stamps each record's Time on the leader. Nil means time.Now.
	Clock func() time.Time
}

// Journal is the order journal kept in the replicated State: it
// implements the order manager's Journal interface (AppendAsync, Replay)
// on a cluster member. A record's seq is its position among the journal
// records of the State, dense from 1 (not its Raft index), so Replay on
// any replica yields the records, seqs and order the leader reported.
//
// AppendAsync and Replay may be called from any goroutine. Done callbacks
// run on the Node's completer goroutine (see Node.ApplyAsync).
type Journal struct {
	cfg JournalConfig
}

// NewJournal validates cfg and fills its defaults.
func NewJournal(cfg JournalConfig) (*Journal, error) {
	if cfg.Node == nil || cfg.State == nil {
		return nil, errors.New("cluster: JournalConfig.Node and State are required")
	}
	if cfg.MaxRecord == 0 {
		cfg.MaxRecord = journal.DefaultMaxRecord
	}
	if cfg.MaxRecord < 0 || cfg.MaxRecord > journal.MaxRecordLimit {
		return nil, fmt.Errorf("cluster: JournalConfig.MaxRecord %d is outside 1..%d", cfg.MaxRecord, journal.MaxRecordLimit)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &Journal{cfg: cfg}, nil
}

// AppendAsync appends a record of type typ through the Raft log and calls
// done once it is committed on a quorum and applied here, with its
// journal seq, or failed; done runs on the Node's completer goroutine, in
// append order, never synchronously.
//
// A record refused at once is the returned error and done is never
// called: on a node that is not the leader an error wrapping ErrNotLeader
// (a *NotLeaderError naming the leader), and ErrTooLarge, ErrClosed,
// ErrBusy, ErrNotStarted, and in a sealed cluster ErrNoRecordKey.
//
// done(0, err) reports a failure. With ErrNoQuorum, ErrTimeout or
// ErrClosed the outcome is unknown: the record may yet be committed by the
// next leader, and the caller must treat it as in doubt (stop taking
// orders on this node; the next leader's Replay settles it). With
// ErrNotLeader nothing was appended. ErrNoRecordKey may come through done
// too, nothing appended, for a record gathered into a journal group behind
// an entry in flight (pipeline.go) whose term's key ended before the group
// was submitted.
func (j *Journal) AppendAsync(typ byte, body []byte, done func(seq uint64, err error)) error {
	if len(body) > j.cfg.MaxRecord {
		return fmt.Errorf("cluster: journal: %w: body of %d bytes, limit %d", journal.ErrTooLarge, len(body), j.cfg.MaxRecord)
	}
	rec := appendJournalRecord(make([]byte, 0, journalHeader+len(body)), typ, j.cfg.Clock().UnixNano(), body)
	err := j.cfg.Node.applyAsync(rec, j.cfg.State.seal, true, func(index uint64, pos int, err error) {
		if err != nil {
			done(0, fmt.Errorf("cluster: journal: %w", err))
			return
		}
		seq, ok := j.cfg.State.journalSeq(index, pos)
		if !ok {
			done(0, fmt.Errorf("cluster: journal: record %d at index %d is not in the state (a State other than the Node's?)", pos, index))
			return
		}
		done(seq, nil)
	})
	if err != nil {
		return fmt.Errorf("cluster: journal: %w", err)
	}
	return nil
}

// Replay calls fn for every journal record applied on this node, in
// order, seqs dense from 1. On a leader that has published its epoch (see
// LeaderCh) that is every record committed before its term, and every
// record whose AppendAsync reported success. fn runs without any lock of
// this package.
func (j *Journal) Replay(fn func(journal.Record) error) error {
	return j.cfg.State.Replay(fn)
}

// ReplayAfter calls fn for every record applied here after seq, in order
// (State.ReplayAfter). A follower's standby order manager reads what
// committed since it last looked.
func (j *Journal) ReplayAfter(seq uint64, fn func(journal.Record) error) error {
	return j.cfg.State.ReplayAfter(seq, fn)
}

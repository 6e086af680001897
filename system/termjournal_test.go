package system

import (
	"errors"
	"fmt"
	"testing"

	"sgw/cluster"
	"sgw/journal"
	"sgw/orders"
)

// doneJournal completes every record at once with err.
type doneJournal struct{ err error }

func (j doneJournal) AppendAsync(_ byte, _ []byte, done func(uint64, error)) error {
	go done(1, j.err)
	return nil
}

func (doneJournal) Replay(func(journal.Record) error) error { return nil }

func (doneJournal) ReplayAfter(uint64, func(journal.Record) error) error { return nil }

// TestTermJournalOutcomes checks how a term's journal reports a record's
// end to the manager and whether the term must end: in doubt (quorum or
// leadership lost in flight, an apply timeout) ends the term, so that the
// next leader's recovery decides; refused for leadership already gone is
// orders.ErrNotLeader and leaves the ending to the leadership change.
func TestTermJournalOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		err      error
		want     error // what the manager's done gets (errors.Is); nil: success
		termEnds bool
	}{
		{"committed", nil, nil, false},
		{"apply timeout", fmt.Errorf("x: %w", cluster.ErrTimeout), orders.ErrInDoubt, true},
		{"quorum lost", cluster.ErrNoQuorum, orders.ErrInDoubt, true},
		{"not the leader", &cluster.NotLeaderError{}, orders.ErrNotLeader, false},
		{"sealing failed", errors.New("seal: no key"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			failed := make(chan error, 1)
			tj := &termJournal{replicatedJournal: doneJournal{tc.err}, onFail: func(err error) { failed <- err }}
			got := make(chan error, 1)
			if err := tj.AppendAsync('N', nil, func(_ uint64, err error) { got <- err }); err != nil {
				t.Fatal(err)
			}
			err := <-got
			switch {
			case tc.err == nil && err != nil:
				t.Fatalf("done(%v); want success", err)
			case tc.err != nil && err == nil:
				t.Fatal("done(nil); want an error")
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("done(%v); want %v", err, tc.want)
			}
			tj.close() // every completion delivered
			select {
			case ferr := <-failed:
				if !tc.termEnds {
					t.Fatalf("the term was told to end: %v", ferr)
				}
			default:
				if tc.termEnds {
					t.Fatal("the term was not told to end")
				}
			}
		})
	}
}

package orders

import (
	"errors"
	"fmt"
	"testing"

	"sgw/journal"
)

func TestJournalEndCodes(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{errors.New("disk full"), CodeJournal},
		{fmt.Errorf("%w: fsync: EIO (%w: EIO)", journal.ErrFailed, journal.ErrRollback), CodeInDoubt},
		{fmt.Errorf("%w: cluster: no quorum", ErrInDoubt), CodeInDoubt},
		{fmt.Errorf("%w: cluster: not the leader", ErrNotLeader), CodeNotLeader},
	} {
		if code, text := journalEnd(c.err, "order"); code != c.want || text == "" {
			t.Errorf("journalEnd(%v) = %s %q; want %s", c.err, code, text, c.want)
		}
	}
}

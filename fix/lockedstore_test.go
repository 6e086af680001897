package fix

import (
	"sync/atomic"
	"testing"

	"github.com/quickfixgo/quickfix"
)

// TestLockedStoreSpins counts idle turns of a session loop: a CreationTime
// call right after another, with no other store call between.
func TestLockedStoreSpins(t *testing.T) {
	var spins atomic.Uint64
	f := LockedStoreFactory(quickfix.NewMemoryStoreFactory(), CountSpins(&spins), YieldOnSpin(true))
	st, err := f.Create(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "A", TargetCompID: "B"})
	if err != nil {
		t.Fatal(err)
	}
	st.CreationTime() // a turn that did something before
	st.CreationTime() // idle
	st.CreationTime() // idle
	if err := st.IncrNextSenderMsgSeqNum(); err != nil {
		t.Fatal(err)
	}
	st.CreationTime() // did something
	if n := spins.Load(); n != 2 {
		t.Errorf("spins %d; want 2", n)
	}
	if got := st.NextSenderMsgSeqNum(); got != 2 {
		t.Errorf("NextSenderMsgSeqNum %d", got)
	}
}

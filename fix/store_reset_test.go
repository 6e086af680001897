package fix

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/quickfixgo/quickfix"
)

// errKilled stands for a process killed at the step that returns it.
var errKilled = errors.New("killed")

// heartbeatMsg is a stored Heartbeat with MsgSeqNum seq.
func heartbeatMsg(seq int) []byte {
	return withSum(fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=0\x0134=%d\x0110=000\x01", seq))
}

// openHanded opens the Upstream's store with open (a storeKinds entry) as
// the process of boot does, and returns it with an Upstream whose Handed
// reads what the store held.
func openHanded(t *testing.T, open func(*testing.T, string, *fakeSessions, string) (*storeFactory, quickfix.SessionID),
	dir string, fs *fakeSessions, boot string) (*storeFactory, *reservedStore, *Upstream) {
	t.Helper()
	f, sid := open(t, dir, fs, boot)
	u := &Upstream{}
	f.onScan = func(sc storeScan) { u.scan.Store(&sc) }
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	return f, st.(*reservedStore), u
}

// kill ends st as a killed process leaves it: its messages as they are,
// its reservation not marked clean.
func kill(t *testing.T, st *reservedStore) {
	t.Helper()
	if err := killStore(st); err != nil {
		t.Fatal(err)
	}
}

// TestStoreResetMarksBeforeItDiscards: a Reset within the session's period
// that keeps the orders handed before it in doubt writes the lost mark
// before it discards the store's messages. A process killed after the
// store was reset and before its new reservation (or whose reservation
// then failed) leaves a store its next start on the same boot counts
// whole: before, that start found the store empty and its reservation
// unmarked, answered HandedNo for the order whose NewOrderSingle went out
// before the reset, and the order manager sent it again as a new order.
func TestStoreResetMarksBeforeItDiscards(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir, fs := t.TempDir(), newFakeSessions("")
			_, st, _ := openHanded(t, kind.open, dir, fs, "boot-1")
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1)); err != nil {
				t.Fatal(err)
			}
			write := st.write
			st.write = func(n int, clean bool, owner string) error {
				if st.MessageStore.NextSenderMsgSeqNum() == 1 {
					return errKilled // the messages are gone; the process dies here
				}
				return write(n, clean, owner)
			}
			if err := st.Reset(); !errors.Is(err, errKilled) {
				t.Fatalf("Reset = %v, want it to die after the store was reset", err)
			}
			kill(t, st)

			f, _, u := openHanded(t, kind.open, dir, fs, "boot-1")
			defer f.close()
			if got := u.Handed("ord1"); got != HandedUnknown {
				t.Errorf("Handed(ord1), sent before the reset, = %s, want HandedUnknown", handedNames[got])
			}
		})
	}
}

// TestStoreResetRacingAnOrder: quickfix resets the store for the venue's
// Logon with ResetSeqNumFlag=Y (in the middle of a session) without the
// send lock under which the pacer's NewOrderSingle is numbered and saved.
// The order, numbered before the reset, is saved either during it (after
// the reset looked for orders, before it discarded the messages) or after
// it, under a number past the new store's next one, where no later scan
// finds it; either way it goes out to the venue. Before, nothing marked
// the store: the next start answered HandedNo for it, and the order
// manager sent it again as a new order. Now a save waits for a reset under
// way, and an order numbered before a reset marks the store lost before
// it is saved.
func TestStoreResetRacingAnOrder(t *testing.T) {
	for _, kind := range storeKinds {
		for _, during := range []bool{false, true} {
			name := kind.name + "/saved after the reset"
			if during {
				name = kind.name + "/saved during the reset"
			}
			t.Run(name, func(t *testing.T) {
				dir, fs := t.TempDir(), newFakeSessions("")
				_, st, _ := openHanded(t, kind.open, dir, fs, "boot-1")
				// The session's messages so far: no order.
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, heartbeatMsg(1)); err != nil {
					t.Fatal(err)
				}
				seq := st.NextSenderMsgSeqNum() // the pacer's order is numbered
				saved := false
				save := func() {
					t.Helper()
					saved = true
					if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, orderMsgID(seq, "ord2")); err != nil {
						t.Error(err)
					}
				}
				if during {
					// The pacer's save runs whenever nothing keeps it out:
					// here, as the reset is about to discard the messages.
					st.MessageStore = &hookedStore{MessageStore: st.MessageStore, beforeReset: func() {
						if st.mu.TryLock() {
							st.mu.Unlock()
							save()
						}
					}}
				}
				// The venue's Logon with ResetSeqNumFlag=Y, the same day.
				if err := st.Reset(); err != nil {
					t.Fatal(err)
				}
				if !saved {
					save()
				}
				kill(t, st)

				f, _, u := openHanded(t, kind.open, dir, fs, "boot-1")
				defer f.close()
				if got := u.Handed("ord2"); got != HandedUnknown {
					t.Errorf("Handed(ord2), sent as the store was reset, = %s, want HandedUnknown", handedNames[got])
				}
			})
		}
	}
}

// hookedStore calls beforeReset at the start of Reset.
type hookedStore struct {
	quickfix.MessageStore
	beforeReset func()
}

func (h *hookedStore) Reset() error {
	h.beforeReset()
	return h.MessageStore.Reset()
}

// TestStoreResendPastStaleMessage: a cancel the pacer numbered before a
// Reset (the venue's Logon with ResetSeqNumFlag=Y) and quickfix saved
// after it lies in quickfix's file store's index under its old, higher
// number, and the messages saved after it are indexed after it. quickfix's
// own read of the index stops at the first entry above the range asked
// for: before, the venue's resend request for the orders saved after the
// cancel got a gap fill, and the venue never had those orders; and a
// start's scan of the store read no further either, so those orders
// counted as never handed (HandedNo), to be sent again as new orders. A
// resend returns every message in the range, in sequence order, the last
// save of a number winning (the stale cancel's number used again later),
// with every store kind, at the next start too.
func TestStoreResendPastStaleMessage(t *testing.T) {
	for _, kind := range storeKinds {
		t.Run(kind.name, func(t *testing.T) {
			dir, fs := t.TempDir(), newFakeSessions("")
			_, st, _ := openHanded(t, kind.open, dir, fs, "boot-1")
			for i := 1; i <= 20; i++ {
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, heartbeatMsg(i)); err != nil {
					t.Fatal(err)
				}
			}
			seq := saveStaleCancel(t, st) // 21
			orders := func(st *reservedStore, to int) {
				t.Helper()
				for i := st.NextSenderMsgSeqNum(); i <= to; i++ {
					if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, orderMsgID(i, fmt.Sprintf("ord%d", i))); err != nil {
						t.Fatal(err)
					}
				}
			}
			ids := func(from, to int) (want []string) {
				for i := from; i <= to; i++ {
					want = append(want, fmt.Sprintf("ord%d", i))
				}
				return want
			}
			check := func(st *reservedStore, to int) {
				t.Helper()
				if got, want := storedAt(t, st, 3, to), ids(3, to); !slices.Equal(got, want) {
					t.Errorf("resend 3..%d = %q, want %q", to, got, want)
				}
				if got, want := storedAt(t, st, 4, 5), ids(4, 5); !slices.Equal(got, want) {
					t.Errorf("resend 4..5 = %q, want %q", got, want)
				}
				msgs, err := st.GetMessages(1, 6)
				if err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, m := range msgs {
					s, _, id := requestFields(m)
					got = append(got, string(s)+":"+string(id))
				}
				if want := []string{"1:", "3:ord3", "4:ord4", "5:ord5", "6:ord6"}; !slices.Equal(got, want) {
					t.Errorf("GetMessages(1, 6) = %q, want %q", got, want)
				}
			}
			orders(st, 6) // numbered 3 to 6
			check(st, 6)
			kill(t, st)

			f, st2, u := openHanded(t, kind.open, dir, fs, "boot-1")
			defer f.close()
			if got := st2.NextSenderMsgSeqNum(); got != 7 {
				t.Errorf("next sender after restart = %d, want 7", got)
			}
			for _, id := range ids(3, 6) {
				if got := u.Handed(id); got != HandedYes {
					t.Errorf("Handed(%s) after restart = %s, want HandedYes", id, handedNames[got])
				}
			}
			check(st2, 6)
			orders(st2, seq) // up to the cancel's number, saved again
			check(st2, seq)
		})
	}
}

// saveStaleCancel saves on st what a venue's Reset racing a cancel
// leaves: the cancel numbered (the store's next MsgSeqNum, returned), the
// store reset, the Logon saved as 1, then the cancel under its old number.
func saveStaleCancel(t *testing.T, st quickfix.MessageStore) int {
	t.Helper()
	seq := st.NextSenderMsgSeqNum()
	if err := st.Reset(); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, heartbeatMsg(1)); err != nil { // the Logon
		t.Fatal(err)
	}
	cancel := withSum(fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=F\x0134=%d\x0111=c1\x0141=o1\x0110=000\x01", seq))
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, cancel); err != nil {
		t.Fatal(err)
	}
	return seq
}

package fix

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"
)

// handedNames names Handed's answers in failures.
var handedNames = map[Handed]string{HandedUnknown: "HandedUnknown", HandedNo: "HandedNo", HandedYes: "HandedYes"}

// storeKinds are the stores an Upstream keeps: quickfix's file store, the
// sealed store and a SessionStores (the cluster's).
var storeKinds = []struct {
	name string
	// open returns a factory of the kind on the store of dir (or fs)
	// for a process of boot (or owner) boot.
	open func(t *testing.T, dir string, fs *fakeSessions, boot string) (*storeFactory, quickfix.SessionID)
}{
	{name: "files", open: func(t *testing.T, dir string, _ *fakeSessions, boot string) (*storeFactory, quickfix.SessionID) {
		f, sid := newTestStoreFactory(t, dir)
		f.boot = func() string { return boot }
		return f, sid
	}},
	{name: "sealed", open: func(t *testing.T, dir string, _ *fakeSessions, boot string) (*storeFactory, quickfix.SessionID) {
		f, sid := newSealedStoreFactory(t, dir, keyRing(t, "k1"))
		f.boot = func() string { return boot }
		return f, sid
	}},
	{name: "sessions", open: func(t *testing.T, _ string, fs *fakeSessions, boot string) (*storeFactory, quickfix.SessionID) {
		f, sid := newTestStoreFactory(t, t.TempDir())
		fs.owner = boot
		f.sessions = fs
		return f, sid
	}},
}

// TestStoreLostTailStaysLost: once a store may have lost its tail (an
// unclean stop and a new boot, or another owner), Handed answers
// HandedUnknown for what it does not hold at every later start until a
// reset of the store that starts a new period, however the start that
// found the loss ended: killed on the same boot (the store is then
// whole, but still lacks what the machine crash lost) or closed cleanly
// (a planned handover in a cluster). Before, the mark lived in that one
// start's memory: the next start answered HandedNo for an order whose
// NewOrderSingle the crash lost, and the order manager sent it again as
// a new order, while the venue may have accepted it.
func TestStoreLostTailStaysLost(t *testing.T) {
	for _, kind := range storeKinds {
		for _, stop := range []string{"killed", "closed"} {
			t.Run(kind.name+"/"+stop, func(t *testing.T) {
				dir, fs := t.TempDir(), newFakeSessions("")
				// start opens the store as the process of boot does, and
				// returns it with the Upstream's view of it.
				start := func(boot string) (*storeFactory, quickfix.MessageStore, *Upstream) {
					t.Helper()
					f, sid := kind.open(t, dir, fs, boot)
					u := &Upstream{}
					f.onScan = func(sc storeScan) { u.scan.Store(&sc) }
					st, err := f.Create(sid)
					if err != nil {
						t.Fatal(err)
					}
					return f, st, u
				}
				// kill stops the process without marking the store clean;
				// its files are closed as the kernel closes them.
				kill := func(st quickfix.MessageStore) {
					t.Helper()
					if err := killStore(st.(*reservedStore)); err != nil {
						t.Fatal(err)
					}
				}
				end := func(f *storeFactory, st quickfix.MessageStore) {
					t.Helper()
					if stop == "killed" {
						kill(st)
					} else if err := f.close(); err != nil {
						t.Fatal(err)
					}
				}
				handed := func(when string, u *Upstream, want map[string]Handed) {
					t.Helper()
					for id, w := range want {
						if got := u.Handed(id); got != w {
							t.Errorf("%s: Handed(%s) = %s, want %s", when, id, handedNames[got], handedNames[w])
						}
					}
				}

				_, st, _ := start("boot-1")
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1)); err != nil {
					t.Fatal(err)
				}
				// ord2 and ord3 were sent too, then the machine crashed and
				// the store lost them (the tail not yet written back).
				kill(st)
				lostTail := map[string]Handed{"ord1": HandedYes, "ord2": HandedUnknown, "ord3": HandedUnknown}

				f2, st2, u2 := start("boot-2")
				handed("the start after the crash", u2, lostTail)
				next := st2.NextSenderMsgSeqNum()
				if next != 1+reserveBlock {
					t.Fatalf("next sender after the crash = %d, want the reservation %d", next, 1+reserveBlock)
				}
				// It stops before the venue answered its status requests.
				end(f2, st2)

				f3, st3, u3 := start("boot-2")
				handed(fmt.Sprintf("the start after the one that found the loss was %s", stop), u3, lostTail)
				if got := st3.NextSenderMsgSeqNum(); got != next {
					t.Errorf("next sender = %d, want %d (no second skip: nothing was lost since)", got, next)
				}
				end(f3, st3)

				// And again: the mark lasts until a reset that starts a new
				// period of the schedule (TestStoreResetKeepsOrdersInDoubt
				// has a reset within the period).
				f4, st4, u4 := start("boot-2")
				handed("the third start", u4, lostTail)
				// A new period: the store starts empty, and nothing of the
				// old one is expected in it.
				st4.(*reservedStore).samePeriod = func(time.Time, time.Time) bool { return false }
				if err := st4.Reset(); err != nil {
					t.Fatal(err)
				}
				end(f4, st4)

				f5, _, u5 := start("boot-2")
				handed("the start after the reset", u5, map[string]Handed{"ord1": HandedNo, "ord2": HandedNo})
				if err := f5.close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// TestReservationForms reads reservation files as an earlier build wrote
// them (no mark) and as this one writes them (the owner marked lost), on
// the same machine's boot and on another's, and checks what the start
// writes back. The marked forms carry the clean flag 0 so that an earlier
// build reads an unclean stop by another boot: it skips to the reservation
// and counts the store as lossy.
func TestReservationForms(t *testing.T) {
	const reserved = "0000000000000004097"
	tests := []struct {
		name, file, boot string
		wantNext         int
		wantLost         bool
		wantWritten      string // after the start, the store open
	}{
		{name: "earlier build, clean", file: reserved + " 1 boot-1\n", boot: "boot-2", wantNext: 2,
			wantWritten: "0000000000000004098 0 boot-2\n"},
		{name: "earlier build, two fields", file: reserved + " 1\n", boot: "boot-2", wantNext: 2,
			wantWritten: "0000000000000004098 0 boot-2\n"},
		{name: "earlier build, killed", file: reserved + " 0 boot-1\n", boot: "boot-1", wantNext: 2,
			wantWritten: "0000000000000004098 0 boot-1\n"},
		{name: "earlier build, machine crashed", file: reserved + " 0 boot-1\n", boot: "boot-2", wantNext: 4097, wantLost: true,
			wantWritten: "0000000000000008193 0 lost:boot-2\n"},
		{name: "earlier build, no boot id", file: reserved + " 0 -\n", boot: "", wantNext: 4097, wantLost: true,
			wantWritten: "0000000000000008193 0 lost:\n"},
		{name: "lost, killed", file: reserved + " 0 lost:boot-1\n", boot: "boot-1", wantNext: 2, wantLost: true,
			wantWritten: "0000000000000004098 0 lost:boot-1\n"},
		{name: "lost, machine crashed", file: reserved + " 0 lost:boot-1\n", boot: "boot-2", wantNext: 4097, wantLost: true,
			wantWritten: "0000000000000008193 0 lost:boot-2\n"},
		{name: "lost, closed", file: reserved + " 0 lost,clean:boot-1\n", boot: "boot-2", wantNext: 2, wantLost: true,
			wantWritten: "0000000000000004098 0 lost:boot-2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			f, sid := newTestStoreFactory(t, dir)
			f.boot = func() string { return "boot-0" }
			st, err := f.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1)); err != nil {
				t.Fatal(err)
			}
			if err := f.close(); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, storePrefix(sid)+".reserve")
			if err := os.WriteFile(path, []byte(tt.file), 0o600); err != nil {
				t.Fatal(err)
			}
			st2, scan := reopenStore(t, dir, sid, tt.boot)
			if got := st2.NextSenderMsgSeqNum(); got != tt.wantNext || scan.lost != tt.wantLost || !scan.handed["ord1"] {
				t.Errorf("next sender %d, lost %v, handed %v; want %d, lost %v, ord1", got, scan.lost, scan.handed, tt.wantNext, tt.wantLost)
			}
			if b, _ := os.ReadFile(path); string(b) != tt.wantWritten {
				t.Errorf("reservation written %q, want %q", b, tt.wantWritten)
			}
		})
	}
}

// TestReservationAboveNextSender: the reservation stays above the store's
// next sender sequence number, even at a block's last number. An earlier
// build skips to a reservation (and so counts a store marked lost as
// lossy) only when it is above: at equality it read the marked store as
// whole and answered HandedNo for what it lost.
func TestReservationAboveNextSender(t *testing.T) {
	dir := t.TempDir()
	f, sid := newTestStoreFactory(t, dir)
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	saveN(t, st, reserveBlock) // next: 1+reserveBlock, the first reservation
	path := filepath.Join(dir, storePrefix(sid)+".reserve")
	reserved, _, _, _, err := readReservation(path, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if next := st.NextSenderMsgSeqNum(); reserved <= next {
		t.Errorf("reservation %d with the next sender sequence number %d: want it above", reserved, next)
	}
}

// TestUpstreamLostTailAcrossTerms runs the cluster's case through Run: a
// leader's store lost its tail (the leader died before it replicated an
// order), the next term found the loss and ended cleanly (a planned
// handover) before the order was resolved, and the term after it must
// still answer HandedUnknown for the lost order: before, it answered
// HandedNo, and the order manager sent the order to the venue again as a
// new one.
func TestUpstreamLostTailAcrossTerms(t *testing.T) {
	ss := &slowSessions{f: newFakeSessions("n1/5")}
	r := newRigWith(t, acceptorOpts{paced: true}, func(c *UpstreamConfig) { c.Sessions, c.StoreDir = ss, "" })
	r.rec.waitUp(t, 15*time.Second)
	if err := r.upstream().Send(orderN(1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 15*time.Second, "the ack of c000001", func() bool { return r.rec.ackCount("c000001") > 0 })
	r.stop()
	// n1's term dies after it sent c000002, which never reached the
	// replicated store: its reservation is not marked clean.
	ss.mu.Lock()
	for id, res := range ss.f.res {
		res.clean = false
		ss.f.res[id] = res
	}
	ss.mu.Unlock()

	for _, owner := range []string{"n2/7", "n3/9"} {
		ss.mu.Lock()
		ss.f.owner = owner
		ss.mu.Unlock()
		r.start(t)
		r.rec.waitUp(t, 15*time.Second)
		u := r.upstream()
		if got := u.Handed("c000001"); got != HandedYes {
			t.Errorf("term of %s: Handed(c000001) = %s, want HandedYes", owner, handedNames[got])
		}
		if got := u.Handed("c000002"); got != HandedUnknown {
			t.Errorf("term of %s: Handed(c000002), lost from the store, = %s, want HandedUnknown", owner, handedNames[got])
		}
		r.stop() // a planned handover: the store closed cleanly
	}
}

// failingSessions is a fakeSessions whose next WriteReservation fails
// when fail is set (a leader that lost its quorum while it opened the
// store): the store's other mutations, made before, stay.
type failingSessions struct {
	*fakeSessions
	fail bool
}

func (f *failingSessions) WriteReservation(sid quickfix.SessionID, reserved int, clean bool, owner string) error {
	if f.fail {
		f.fail = false
		return errors.New("not leader")
	}
	return f.fakeSessions.WriteReservation(sid, reserved, clean, owner)
}

// TestStoreLossFoundByAStartThatDiedBeforeItsReservation: a start that
// finds the loss moves the store's next sender sequence number up to the
// reservation, then writes the reservation marked lost. Stopped in
// between (killed, or, in a cluster, its reservation refused because the
// node lost its term), it leaves the store's next sender sequence number
// at the old reservation, which is not marked. The next start (another
// owner's term, or this machine's next run) must still count the store as
// lossy: before, it read an unclean stop whose reservation was not above
// the next sender sequence number as no loss, answered HandedNo for the
// orders the crash lost, and the order manager sent them to the venue
// again as new orders.
func TestStoreLossFoundByAStartThatDiedBeforeItsReservation(t *testing.T) {
	for _, kind := range []string{"files", "sessions"} {
		t.Run(kind, func(t *testing.T) {
			dir, fs := t.TempDir(), &failingSessions{fakeSessions: newFakeSessions("")}
			open := func(boot string) (*storeFactory, quickfix.SessionID) {
				f, sid := newTestStoreFactory(t, dir)
				if kind == "sessions" {
					fs.owner = boot
					f.sessions = fs
				} else {
					f.boot = func() string { return boot }
				}
				return f, sid
			}
			f, sid := open("boot-1")
			st, err := f.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1)); err != nil {
				t.Fatal(err)
			}
			// ord2 was sent too; the machine crashed (the leader died)
			// before the store kept it.
			if err := killStore(st.(*reservedStore)); err != nil {
				t.Fatal(err)
			}

			// The start that finds the loss stops after it moved the next
			// sender sequence number up, before its reservation.
			if kind == "sessions" {
				fs.fail = true
				f2, _ := open("boot-2")
				if _, err := f2.Create(sid); err == nil {
					t.Fatal("Create with its reservation refused succeeded")
				}
			} else {
				inner, err := file.NewStoreFactory(f.settings).Create(sid)
				if err != nil {
					t.Fatal(err)
				}
				if err := inner.SetNextSenderMsgSeqNum(1 + reserveBlock); err != nil {
					t.Fatal(err)
				}
				if err := inner.Close(); err != nil {
					t.Fatal(err)
				}
			}

			f3, _ := open("boot-3")
			u := &Upstream{}
			f3.onScan = func(sc storeScan) { u.scan.Store(&sc) }
			st3, err := f3.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			defer f3.close()
			if got := st3.NextSenderMsgSeqNum(); got != 1+reserveBlock {
				t.Errorf("next sender = %d, want the reservation %d", got, 1+reserveBlock)
			}
			for id, want := range map[string]Handed{"ord1": HandedYes, "ord2": HandedUnknown} {
				if got := u.Handed(id); got != want {
					t.Errorf("Handed(%s) = %s, want %s", id, handedNames[got], handedNames[want])
				}
			}
		})
	}
}

// orderMsgID is a stored NewOrderSingle with MsgSeqNum seq and ClOrdID id.
func orderMsgID(seq int, id string) []byte {
	return withSum(fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=D\x0134=%d\x0111=%s\x0155=600519.SH\x0110=000\x01", seq, id))
}

// TestStoreResetKeepsOrdersInDoubt: a Reset within the session's period
// (the venue's Logon with ResetSeqNumFlag=Y in the middle of the day, or
// reset_on_logon) discards the period's messages, which can then no
// longer be resent, and starts numbering from 1 again. The orders whose
// NewOrderSingle was handed before it, and those a machine crash lost
// from the store before it, are still in doubt: Handed answers
// HandedUnknown for what the store does not hold at every later start,
// until a reset that starts a new period of the schedule. Before, the
// Reset cleared the store's lost mark with its messages: a later start
// answered HandedNo for those orders, and the order manager sent them
// again as new orders, while the venue may have accepted them.
func TestStoreResetKeepsOrdersInDoubt(t *testing.T) {
	for _, kind := range storeKinds {
		for _, crash := range []bool{false, true} {
			for _, stop := range []string{"killed", "closed"} {
				name := kind.name + "/sent/" + stop
				if crash {
					name = kind.name + "/crash/" + stop
				}
				t.Run(name, func(t *testing.T) {
					dir, fs := t.TempDir(), newFakeSessions("")
					// start opens the store as the process of boot does; a
					// Reset it makes starts a new period of the schedule
					// when newPeriod is set.
					start := func(boot string, newPeriod bool) (*storeFactory, quickfix.MessageStore, *Upstream) {
						t.Helper()
						f, sid := kind.open(t, dir, fs, boot)
						if newPeriod {
							f.samePeriod = func(time.Time, time.Time) bool { return false }
						}
						u := &Upstream{}
						f.onScan = func(sc storeScan) { u.scan.Store(&sc) }
						st, err := f.Create(sid)
						if err != nil {
							t.Fatal(err)
						}
						return f, st, u
					}
					end := func(f *storeFactory, st quickfix.MessageStore) {
						t.Helper()
						if stop == "killed" {
							if err := killStore(st.(*reservedStore)); err != nil {
								t.Fatal(err)
							}
						} else if err := f.close(); err != nil {
							t.Fatal(err)
						}
					}
					save := func(st quickfix.MessageStore, id string) {
						t.Helper()
						if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), orderMsgID(st.NextSenderMsgSeqNum(), id)); err != nil {
							t.Fatal(err)
						}
					}
					handed := func(when string, u *Upstream, want map[string]Handed) {
						t.Helper()
						for id, w := range want {
							if got := u.Handed(id); got != w {
								t.Errorf("%s: Handed(%s) = %s, want %s", when, id, handedNames[got], handedNames[w])
							}
						}
					}

					boot := "boot-1"
					f, st, _ := start(boot, false)
					save(st, "ord1") // sent, not yet acknowledged
					inDoubt := map[string]Handed{"ord1": HandedUnknown}
					if crash {
						// ord2 was sent too; the machine crashed before the
						// store wrote it back.
						if err := killStore(st.(*reservedStore)); err != nil {
							t.Fatal(err)
						}
						boot = "boot-2"
						f, st, _ = start(boot, false)
						inDoubt["ord2"] = HandedUnknown
					}
					// The venue's Logon with ResetSeqNumFlag=Y, the same day.
					if err := st.Reset(); err != nil {
						t.Fatal(err)
					}
					save(st, "ord3")
					end(f, st)
					inDoubt["ord3"] = HandedYes
					if kind.name == "files" {
						// A form every earlier build reads as a store that lost
						// messages (TestReservationForms): the owner marked
						// lost, the clean flag 0.
						paths, err := filepath.Glob(filepath.Join(dir, "*.reserve"))
						if err != nil || len(paths) != 1 {
							t.Fatalf("reservation files %v, %v", paths, err)
						}
						_, clean, owner, _, err := readReservation(paths[0], nil, nil)
						if err != nil || clean || !strings.HasPrefix(owner, markLost) && !strings.HasPrefix(owner, markLostClean) {
							t.Errorf("reservation after the reset: clean %v, owner %q, %v; want the owner marked lost, clean 0", clean, owner, err)
						}
					}

					f, st, u := start(boot, false)
					handed("the start after the reset", u, inDoubt)
					end(f, st)
					f, st, u = start(boot, false)
					handed("the start after that", u, inDoubt)

					// A reset that starts a new period of the schedule: the
					// orders of the past one are not in doubt any longer
					// (the order manager ends a past day's orders).
					end(f, st)
					f, st, _ = start(boot, true)
					if err := st.Reset(); err != nil {
						t.Fatal(err)
					}
					end(f, st)
					f, _, u = start(boot, false)
					handed("the start after the next period's reset", u, map[string]Handed{"ord1": HandedNo, "ord2": HandedNo, "ord3": HandedNo})
					if err := f.close(); err != nil {
						t.Fatal(err)
					}
				})
			}
		}
	}
}

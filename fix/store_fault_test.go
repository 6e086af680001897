package fix

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/tag"
)

// idMsg is a stored NewOrderSingle numbered seq with ClOrdID id.
func idMsg(seq int, id string) []byte {
	return withSum(fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=D\x0134=%d\x0111=%s\x0110=000\x01", seq, id))
}

// storedAt returns the ClOrdIDs of the messages st returns for a resend of
// from..to, in order.
func storedAt(t *testing.T, st quickfix.MessageStore, from, to int) []string {
	t.Helper()
	var ids []string
	if err := st.IterateMessages(from, to, func(m []byte) error {
		_, _, id := requestFields(m)
		ids = append(ids, string(id))
		return nil
	}); err != nil {
		t.Fatalf("resend %d..%d from the store: %v", from, to, err)
	}
	return ids
}

// TestStoreKilledBetweenSaveAndIncr: quickfix's file store indexes a
// message, then advances the next sender sequence number, and quickfix
// sends the message only after both. A process killed in between (the
// machine kept running, or every write was fsynced) leaves the message
// indexed under the next number and never sent. Before, the restarted
// session indexed its next message under the same number, and a resend
// of it sent the unsent order first (PossDupFlag=Y: the venue took it as
// that number) and the other after a backwards gap fill.
func TestStoreKilledBetweenSaveAndIncr(t *testing.T) {
	for _, c := range []struct {
		name    string
		boot    string // of the restart; the first run's is boot-1
		syncAll bool
	}{
		{"process killed", "boot-1", false},
		{"machine crashed, every write fsynced", "boot-2", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f, sid := newTestStoreFactory(t, dir)
			f.boot = func() string { return "boot-1" }
			f.syncEach = c.syncAll
			st, err := f.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			saveOrders(t, st, 1, 3)
			// quickfix's SaveMessageAndIncrNextSenderMsgSeqNum: the save,
			// then the kill before the increment.
			if err := st.(*reservedStore).MessageStore.SaveMessage(4, idMsg(4, "never-sent")); err != nil {
				t.Fatal(err)
			}
			if err := killStore(st.(*reservedStore)); err != nil {
				t.Fatal(err)
			}
			f2, _ := newTestStoreFactory(t, dir)
			f2.boot = func() string { return c.boot }
			f2.syncEach = c.syncAll
			var scan storeScan
			f2.onScan = func(sc storeScan) { scan = sc }
			st2, err := f2.Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			defer f2.close()
			if got := st2.NextSenderMsgSeqNum(); got != 4 {
				t.Fatalf("next sender = %d, want 4", got)
			}
			if scan.handed["never-sent"] || scan.lost {
				t.Errorf("scan handed=%v lost=%v", scan.handed, scan.lost)
			}
			if err := st2.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "sent")); err != nil {
				t.Fatal(err)
			}
			if got := storedAt(t, st2, 1, 4); strings.Join(got, " ") != "ord1 ord2 ord3 sent" {
				t.Errorf("a resend of 1..4 sends %q, want ord1..ord3 and sent", got)
			}
		})
	}
}

// faultyStore is a quickfix.MessageStore whose next save of a message
// fails as quickfix's file store fails on a full or broken disk: fail is
// called with the inner store, the message's number and bytes, and
// returns the save's error.
type faultyStore struct {
	quickfix.MessageStore
	fail func(inner quickfix.MessageStore, seq int, msg []byte) error
}

func (s *faultyStore) SaveMessageAndIncrNextSenderMsgSeqNum(seq int, msg []byte) error {
	if fail := s.fail; fail != nil {
		s.fail = nil
		return fail(s.MessageStore, seq, msg)
	}
	return s.MessageStore.SaveMessageAndIncrNextSenderMsgSeqNum(seq, msg)
}

// TestStoreSaveFailureLeavesNoOrphan: a save that fails (ENOSPC on the
// body, EIO on the sequence number) is not sent by quickfix (persist fails
// before the message is queued) and the pacer resends the request later
// under a new number; the entry the failed save left in the file store's
// index is cut. Before, the next message was indexed under the same
// number, and a resend sent the failed one, an order then sent twice.
func TestStoreSaveFailureLeavesNoOrphan(t *testing.T) {
	for _, c := range []struct {
		name string
		fail func(t *testing.T, prefix string) func(quickfix.MessageStore, int, []byte) error
	}{
		{"sequence number write fails", func(t *testing.T, prefix string) func(quickfix.MessageStore, int, []byte) error {
			return func(inner quickfix.MessageStore, seq int, msg []byte) error {
				if err := inner.SaveMessage(seq, msg); err != nil {
					t.Fatal(err)
				}
				return fmt.Errorf("unable to write to file: %w", syscall.EIO)
			}
		}},
		{"body write fails", func(t *testing.T, prefix string) func(quickfix.MessageStore, int, []byte) error {
			return func(_ quickfix.MessageStore, seq int, msg []byte) error {
				// The index line is written, the body's write fails
				// after part of it.
				fi, err := os.Stat(prefix + ".body")
				if err != nil {
					t.Fatal(err)
				}
				appendFile(t, prefix+".header", fmt.Sprintf("%d,%d,%d\n", seq, fi.Size(), len(msg)))
				appendFile(t, prefix+".body", string(msg[:len(msg)/2]))
				return fmt.Errorf("unable to write to file: %w", syscall.ENOSPC)
			}
		}},
		{"index write torn", func(t *testing.T, prefix string) func(quickfix.MessageStore, int, []byte) error {
			return func(_ quickfix.MessageStore, seq int, msg []byte) error {
				appendFile(t, prefix+".header", fmt.Sprintf("%d,1", seq))
				return fmt.Errorf("unable to write to file: %w", syscall.ENOSPC)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			f, sid, st := bootedStore(t, dir, "")
			defer f.close()
			saveOrders(t, st, 1, 3)
			rs := st.(*reservedStore)
			rs.MessageStore = &faultyStore{MessageStore: rs.MessageStore, fail: c.fail(t, filepath.Join(dir, storePrefix(sid)))}
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "failed")); err == nil {
				t.Fatal("the failed save returned no error")
			}
			if got := st.NextSenderMsgSeqNum(); got != 4 {
				t.Fatalf("next sender after the failed save = %d, want 4", got)
			}
			if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "sent")); err != nil {
				t.Fatal(err)
			}
			if got := storedAt(t, st, 1, 4); strings.Join(got, " ") != "ord1 ord2 ord3 sent" {
				t.Errorf("a resend of 1..4 sends %q, want ord1..ord3 and sent", got)
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if _, err := fh.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

// killStore closes st as the kernel does when its process dies: the
// store's files (and lock) closed, the store not marked clean.
func killStore(st *reservedStore) error {
	err := st.MessageStore.Close()
	if st.lock != nil {
		st.lock.Close()
	}
	return err
}

// TestStoreTwoGatewaysRefused: a second gateway started on a store
// directory another one uses (a copied configuration, a process not yet
// dead) is refused at start, naming the lock. Before, both opened
// quickfix's file store, which has no lock, and numbered their messages
// from the same sequence number: the venue saw each number twice. The
// lock goes with the first one's close, or its death.
func TestStoreTwoGatewaysRefused(t *testing.T) {
	dir := t.TempDir()
	f1, sid, st1 := bootedStore(t, dir, "")
	f2, _ := newTestStoreFactory(t, dir)
	if st2, err := f2.Create(sid); !errors.Is(err, ErrStoreLocked) {
		if err == nil {
			saveN(t, st1, 1)
			saveN(t, st2, 1)
			f2.close()
		}
		f1.close()
		t.Fatalf("second gateway's Create: %v, want ErrStoreLocked", err)
	}
	// The first one dies: the kernel releases its lock.
	if err := killStore(st1.(*reservedStore)); err != nil {
		t.Fatal(err)
	}
	st2, err := f2.Create(sid)
	if err != nil {
		t.Fatalf("Create after the first gateway died: %v", err)
	}
	if err := f2.close(); err != nil {
		t.Fatal(err)
	}
	// And after a clean close.
	f3, _ := newTestStoreFactory(t, dir)
	if _, err := f3.Create(sid); err != nil {
		t.Fatalf("Create after the second gateway closed: %v", err)
	}
	f3.close()
	_ = st2
}

// TestStoreCreatesItsDirectory: the first start creates the store's
// directory, as quickfix's file store does, before it takes the lock.
func TestStoreCreatesItsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	f, sid := newTestStoreFactory(t, dir)
	if _, err := f.Create(sid); err != nil {
		t.Fatal(err)
	}
	f.close()
}

// TestStoreDamageIsNamed: bytes of the message file changed on disk (a
// bit flipped in the middle) would be resent by quickfix, which rebuilds
// the CheckSum of what it resends: an order with another quantity or
// price. A store whose damage no crash explains does not start, naming
// the message; damage found while running fails the resend; after a
// crash of the machine, a tail the disk never got is cut and counted as
// lost. Before, the changed message was read, scanned and resent.
func TestStoreDamageIsNamed(t *testing.T) {
	flip := func(t *testing.T, dir string, sid quickfix.SessionID, what string, change func([]byte, int)) {
		t.Helper()
		path := filepath.Join(dir, storePrefix(sid)+".body")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		i := strings.Index(string(b), what)
		if i < 0 {
			t.Fatalf("%q not in the message file", what)
		}
		change(b, i)
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	bit := func(b []byte, i int) { b[i] ^= 0x08 } // "ord2" -> "ord:"
	save := func(t *testing.T, st quickfix.MessageStore) {
		t.Helper()
		saveOrders(t, st, 1, 3)
	}

	t.Run("at start", func(t *testing.T) {
		dir := t.TempDir()
		f, sid, st := bootedStore(t, dir, "")
		save(t, st)
		if err := f.close(); err != nil {
			t.Fatal(err)
		}
		flip(t, dir, sid, "ord2", func(b []byte, i int) { bit(b, i+3) })
		f2, _ := newTestStoreFactory(t, dir)
		f2.onScan = func(storeScan) {}
		_, err := f2.Create(sid)
		if !errors.Is(err, ErrStoreDamaged) || !strings.Contains(err.Error(), `MsgSeqNum "2"`) {
			f2.close()
			t.Fatalf("Create over a damaged store: %v, want ErrStoreDamaged naming MsgSeqNum 2", err)
		}
	})
	t.Run("while running", func(t *testing.T) {
		dir := t.TempDir()
		f, sid, st := bootedStore(t, dir, "")
		defer f.close()
		save(t, st)
		flip(t, dir, sid, "ord2", func(b []byte, i int) { bit(b, i+3) })
		err := st.IterateMessages(1, 3, func(m []byte) error {
			if strings.Contains(string(m), "ord:") {
				t.Errorf("resent the changed message %q", m)
			}
			return nil
		})
		if !errors.Is(err, ErrStoreDamaged) {
			t.Fatalf("resend of a damaged message: %v, want ErrStoreDamaged", err)
		}
	})
	t.Run("machine crashed", func(t *testing.T) {
		dir := t.TempDir()
		_, sid, st := bootedStore(t, dir, "boot-1")
		save(t, st)
		if err := killStore(st.(*reservedStore)); err != nil {
			t.Fatal(err)
		}
		// The last message's blocks were never written back.
		flip(t, dir, sid, "8=FIX.4.4\x019=5\x0135=D\x0134=3", func(b []byte, i int) { clear(b[i:]) })
		st2, scan := reopenStore(t, dir, sid, "boot-2")
		if !scan.lost || scan.handed["ord3"] || !scan.handed["ord2"] {
			t.Errorf("scan lost=%v handed=%v", scan.lost, scan.handed)
		}
		if got := storedAt(t, st2, 1, st2.NextSenderMsgSeqNum()-1); strings.Join(got, " ") != "ord1 ord2" {
			t.Errorf("a resend sends %q, want ord1 ord2", got)
		}
	})
}

// TestStoreSeqFileDamage tears the sequence number files at each byte and
// flips bits in them. quickfix reads what does not parse as no number (the
// sender's next MsgSeqNum 1, which the venue has seen) and a torn prefix
// of the digits as a smaller number, and writes it back. A store that no
// crash of the machine explains refuses to start, naming the file (before,
// its sender MsgSeqNum went back silently: the venue refused the Logon, or
// took a reused number as a lost message); after a crash of the machine
// the sender's moves up to the reservation and the target's is at least 1.
func TestStoreSeqFileDamage(t *testing.T) {
	const next = "0000000000000000011" // after 10 messages
	type damage struct {
		name string
		file string
		b    []byte
	}
	var cases []damage
	for _, file := range []string{".senderseqnums", ".targetseqnums"} {
		for n := 1; n < len(next); n++ {
			cases = append(cases, damage{fmt.Sprintf("%s torn at %d", file, n), file, []byte(next[:n])})
		}
		cases = append(cases,
			damage{file + " digit flipped to a letter", file, []byte("00000p0000000000011")},
			damage{file + " zeros", file, []byte("0000000000000000000")},
			damage{file + " NULs", file, make([]byte, 19)})
	}
	cases = append(cases, damage{".senderseqnums 11 flipped to 1", ".senderseqnums", []byte("0000000000000000001")})
	for _, c := range cases {
		for _, boot := range []string{"boot-1", "boot-2"} {
			t.Run(c.name+"/"+boot, func(t *testing.T) {
				dir := t.TempDir()
				_, sid, st := bootedStore(t, dir, "boot-1")
				reserved := st.(*reservedStore).reserved
				saveOrders(t, st, 1, 10)
				if err := st.SetNextTargetMsgSeqNum(11); err != nil {
					t.Fatal(err)
				}
				if err := killStore(st.(*reservedStore)); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, storePrefix(sid)+c.file), c.b, 0o600); err != nil {
					t.Fatal(err)
				}
				f2, _ := newTestStoreFactory(t, dir)
				f2.boot = func() string { return boot }
				st2, err := f2.Create(sid)
				if boot == "boot-1" {
					// The process was killed, the machine kept running:
					// the files are as written, the damage is the disk's.
					if !errors.Is(err, ErrStoreDamaged) {
						if err == nil {
							t.Errorf("next sender %d, target %d", st2.NextSenderMsgSeqNum(), st2.NextTargetMsgSeqNum())
							f2.close()
						}
						t.Fatalf("Create over %q in %s: %v, want ErrStoreDamaged", c.b, c.file, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Create after a crash of the machine: %v", err)
				}
				defer f2.close()
				if got := st2.NextSenderMsgSeqNum(); got != reserved {
					t.Errorf("next sender = %d, want the reservation %d", got, reserved)
				}
				if got := st2.NextTargetMsgSeqNum(); got < 1 || got > 11 {
					t.Errorf("next target = %d, want 1 to 11", got)
				}
			})
		}
	}
}

// TestStoreTornMessageFiles tears the message index (.header) and the
// message file (.body) at each byte of their last entry. After a crash of
// the machine that is the tail the disk never got: cut, the store moved
// up to its reservation and the lost message's order asked about. A
// store that no such crash explains (the process was killed, the machine
// kept running) does not start, naming the file: before, the entry was cut
// silently, its order no longer counted as handed, and sent again.
func TestStoreTornMessageFiles(t *testing.T) {
	type tear struct {
		file string
		at   int
	}
	dir0 := t.TempDir()
	f0, sid, st0 := bootedStore(t, dir0, "")
	save := func(st quickfix.MessageStore) {
		saveOrders(t, st, 1, 10)
	}
	save(st0)
	f0.close()
	prefix0 := filepath.Join(dir0, storePrefix(sid))
	hdr, _ := os.ReadFile(prefix0 + ".header")
	body, _ := os.ReadFile(prefix0 + ".body")
	var tears []tear
	// Not at the start of the last entry: an index whole up to a message
	// below the next number is not told from one whose next number an
	// operator raised by hand (to the venue's expected MsgSeqNum).
	for at := strings.LastIndexByte(string(hdr[:len(hdr)-1]), '\n') + 2; at < len(hdr); at++ {
		tears = append(tears, tear{".header", at})
	}
	for at := len(body) - len(idMsg(10, "ord10")); at < len(body); at++ {
		tears = append(tears, tear{".body", at})
	}
	for _, c := range tears {
		for _, boot := range []string{"boot-1", "boot-2"} {
			t.Run(fmt.Sprintf("%s at %d/%s", c.file, c.at, boot), func(t *testing.T) {
				dir := t.TempDir()
				_, _, st := bootedStore(t, dir, "boot-1")
				reserved := st.(*reservedStore).reserved
				save(st)
				if err := killStore(st.(*reservedStore)); err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(filepath.Join(dir, storePrefix(sid)+c.file), int64(c.at)); err != nil {
					t.Fatal(err)
				}
				f2, _ := newTestStoreFactory(t, dir)
				f2.boot = func() string { return boot }
				var scan storeScan
				f2.onScan = func(sc storeScan) { scan = sc }
				st2, err := f2.Create(sid)
				if boot == "boot-1" {
					if !errors.Is(err, ErrStoreDamaged) {
						if err == nil {
							t.Errorf("handed ord10 %v, lost %v", scan.handed["ord10"], scan.lost)
							f2.close()
						}
						t.Fatalf("Create over a torn store on the same boot: %v, want ErrStoreDamaged", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Create after a crash of the machine: %v", err)
				}
				defer f2.close()
				if !scan.lost || scan.handed["ord10"] || !scan.handed["ord9"] {
					t.Errorf("scan lost=%v handed=%v", scan.lost, scan.handed)
				}
				if got := st2.NextSenderMsgSeqNum(); got != reserved {
					t.Errorf("next sender = %d, want the reservation %d", got, reserved)
				}
				if got := storedAt(t, st2, 1, reserved); len(got) != 9 || got[8] != "ord9" {
					t.Errorf("a resend sends %q, want ord1..ord9", got)
				}
			})
		}
	}
}

// failUncut makes st's next save write its message and then fail (EIO)
// with the index's file hdr no longer readable by name, so that the store
// cannot cut the entry the failed save left (a dying disk). mend kills
// the store and brings the disk back, for a start after it.
func failUncut(t *testing.T, st quickfix.MessageStore, hdr string) (mend func()) {
	t.Helper()
	rs := st.(*reservedStore)
	rs.MessageStore = &faultyStore{MessageStore: rs.MessageStore, fail: func(inner quickfix.MessageStore, seq int, msg []byte) error {
		if err := inner.SaveMessage(seq, msg); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(hdr, hdr+".away"); err != nil {
			t.Fatal(err)
		}
		if err := os.Mkdir(hdr, 0o700); err != nil {
			t.Fatal(err)
		}
		return fmt.Errorf("unable to write to file: %w", syscall.EIO)
	}}
	return func() {
		if err := killStore(rs); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(hdr); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(hdr+".away", hdr); err != nil {
			t.Fatal(err)
		}
	}
}

// TestStoreRefusesSavesAfterAnUndoneFailure: when the entry a failed save
// left cannot be cut (the index cannot be read or cut either: a dying
// disk), every later save fails, so that no message is indexed under the
// failed one's number; the start after it cuts the entry.
func TestStoreRefusesSavesAfterAnUndoneFailure(t *testing.T) {
	dir := t.TempDir()
	_, sid, st := bootedStore(t, dir, "boot-1")
	saveOrders(t, st, 1, 3)
	hdr := filepath.Join(dir, storePrefix(sid)+".header")
	mend := failUncut(t, st, hdr)
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "failed")); err == nil {
		t.Fatal("the failed save returned no error")
	}
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "next")); err == nil {
		t.Fatal("a save after a failure that could not be undone succeeded")
	}
	// The disk is back; the process is killed and started again.
	mend()
	st2, scan := reopenStore(t, dir, sid, "boot-1")
	if scan.handed["failed"] || st2.NextSenderMsgSeqNum() != 4 {
		t.Errorf("after the restart: handed %v, next %d", scan.handed, st2.NextSenderMsgSeqNum())
	}
	if err := st2.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "sent")); err != nil {
		t.Fatal(err)
	}
	if got := storedAt(t, st2, 1, 4); strings.Join(got, " ") != "ord1 ord2 ord3 sent" {
		t.Errorf("a resend of 1..4 sends %q, want ord1..ord3 and sent", got)
	}
}

// TestStoreUndoneSaveFailureIsInDoubt: a file store's save of a request
// that fails, and whose index entry cannot be cut either (a dying disk),
// may leave the message indexed, whole, under its number: the store
// refuses every later save, but a start after a crash of the machine keeps
// the entry (only a torn tail is cut then) and resends it when the venue
// asks for its MsgSeqNum. So the request is in doubt, as after a sealed
// store's journal.ErrRollback: the pacer counts it as handed and does not
// give it back; the session ends, and only what was queued behind it is
// reclaimed. Before, it was reclaimed as never sent: the order manager
// held it for a session that could not log on again and rejected it when
// its hold ran out, while the restart after the crash resent the stored
// order (executed after its client was told it was rejected). A later
// save the broken store refuses left nothing: it is not in doubt.
func TestStoreUndoneSaveFailureIsInDoubt(t *testing.T) {
	dir := t.TempDir()
	_, sid, st := bootedStore(t, dir, "boot-1")
	saveOrders(t, st, 1, 3)
	hdr := filepath.Join(dir, storePrefix(sid)+".header")
	mend := failUncut(t, st, hdr)

	r := newRefuseRig(t, "", nil)
	p := r.p
	submit := p.submit
	var later error
	p.submit = func(m *quickfix.Message) error {
		if id, _ := m.Body.GetString(tag.ClOrdID); id == "b" {
			err := st.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "b"))
			later = st.SaveMessageAndIncrNextSenderMsgSeqNum(4, idMsg(4, "x"))
			return err
		}
		return submit(m)
	}
	p.setUp(true)
	for _, id := range []string{"a", "b", "c"} {
		if err := p.enqueueReq(newProbe(), id); err != nil {
			t.Fatal(err)
		}
	}
	r.start(t)
	if err := <-r.failed; !errors.Is(err, errSaveNotUndone) {
		t.Fatalf("the failed save of b reported as %v; want errSaveNotUndone", err)
	}
	if later == nil || saveInDoubt(later) {
		t.Fatalf("a save after it: %v; want refused, and not in doubt (it left nothing)", later)
	}
	if got := fmt.Sprint(r.submittedSoFar()); got != "[a]" {
		t.Fatalf("submitted %s; want only [a], nothing behind the failed b", got)
	}
	if q, l := p.queued.Load(), p.left.Load(); q != 3 || l != 2 {
		t.Fatalf("queued %d, left %d; want 3, 2: b, in doubt, has left", q, l)
	}
	p.setUp(false)
	if got := p.reclaim(); fmt.Sprint(got) != "[c]" {
		t.Fatalf("reclaimed %v; want [c]: b may be in the store, and is not given back as never sent", got)
	}

	// The machine crashes; the disk is back at the next boot.
	mend()
	st2, scan := reopenStore(t, dir, sid, "boot-2")
	if got := storedAt(t, st2, 4, st2.NextSenderMsgSeqNum()); fmt.Sprint(got) != "[b]" {
		t.Fatalf("after the crash a resend from 4 sends %v; want [b], kept: that is why b is in doubt", got)
	}
	if !scan.lost && !scan.handed["b"] {
		t.Errorf("after the crash the store neither holds b as handed nor is marked lost: Handed would answer HandedNo, and b be sent twice")
	}
}

// TestStoreKilledMidSave builds each state a process killed inside
// quickfix's SaveMessage leaves (v0.9.11: one write() of the index entry
// "seq,offset,size\n", then one write() of the message, each of which a
// SIGKILL may cut between two pages): the entry torn at each byte with no
// message, or whole with the message torn at each byte. The message was
// never sent (its number was not advanced), so the restart on the same
// boot must start, cut it, and number the next message as it.
func TestStoreKilledMidSave(t *testing.T) {
	for _, orphan := range []bool{false, true} {
		dir0 := t.TempDir()
		f0, sid := newTestStoreFactory(t, dir0)
		prefix0 := filepath.Join(dir0, storePrefix(sid))
		st0, err := f0.Create(sid)
		if err != nil {
			t.Fatal(err)
		}
		saveOrders(t, st0, 1, 10)
		f0.close()
		hdr, _ := os.ReadFile(prefix0 + ".header")
		body, _ := os.ReadFile(prefix0 + ".body")
		seqs, _ := os.ReadFile(prefix0 + ".senderseqnums")
		if orphan {
			// An earlier kill between the save and the increment: its
			// restart cut the entry, its message stays in .body.
			body = append(body, idMsg(11, "orphan")...)
		}
		msg := idMsg(11, "never-sent")
		entry := fmt.Sprintf("11,%d,%d\n", len(body), len(msg))
		type state struct{ hdr, body []byte }
		var states []state
		for n := 1; n <= len(entry); n++ {
			states = append(states, state{append(slices.Clone(hdr), entry[:n]...), body})
		}
		for n := 1; n < len(msg); n++ {
			states = append(states, state{append(slices.Clone(hdr), entry...), append(slices.Clone(body), msg[:n]...)})
		}
		for i, s := range states {
			t.Run(fmt.Sprintf("orphan=%v/%d", orphan, i), func(t *testing.T) {
				dir := t.TempDir()
				prefix := filepath.Join(dir, storePrefix(sid))
				for suf, b := range map[string][]byte{".header": s.hdr, ".body": s.body, ".senderseqnums": seqs} {
					if err := os.WriteFile(prefix+suf, b, 0o600); err != nil {
						t.Fatal(err)
					}
				}
				f, _ := newTestStoreFactory(t, dir)
				var scan storeScan
				f.onScan = func(sc storeScan) { scan = sc }
				st, err := f.Create(sid)
				if err != nil {
					t.Fatalf("restart after a kill inside the save (index %q): %v", s.hdr[len(hdr):], err)
				}
				defer f.close()
				if got := st.NextSenderMsgSeqNum(); got != 11 {
					t.Errorf("next sender = %d, want 11", got)
				}
				if scan.handed["never-sent"] || !scan.handed["ord10"] {
					t.Errorf("scan handed=%v", scan.handed)
				}
				if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(11, idMsg(11, "sent")); err != nil {
					t.Fatal(err)
				}
				if got := storedAt(t, st, 10, 11); strings.Join(got, " ") != "ord10 sent" {
					t.Errorf("a resend of 10..11 sends %q, want ord10 sent", got)
				}
			})
		}
	}
}

// TestStoreKilledInReset builds each state a process killed inside
// quickfix's file store Reset leaves (v0.9.11: remove .body, .header,
// .session, .senderseqnums, .targetseqnums, then Refresh creates them
// empty in that order and writes the session time and the numbers): the
// restart on the same boot must start.
func TestStoreKilledInReset(t *testing.T) {
	steps := []string{"-.body", "-.header", "-.session", "-.senderseqnums", "-.targetseqnums",
		"+.body", "+.header", "+.session", "+.senderseqnums", "+.targetseqnums"}
	for k := 1; k <= len(steps); k++ {
		t.Run(strings.Join(steps[:k], " "), func(t *testing.T) {
			dir := t.TempDir()
			_, sid, st := bootedStore(t, dir, "")
			saveOrders(t, st, 1, 10)
			if err := killStore(st.(*reservedStore)); err != nil {
				t.Fatal(err)
			}
			prefix := filepath.Join(dir, storePrefix(sid))
			var err error
			for _, s := range steps[:k] {
				if s[0] == '-' {
					err = os.Remove(prefix + s[1:])
				} else {
					err = os.WriteFile(prefix+s[1:], nil, 0o660)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			f2, _ := newTestStoreFactory(t, dir)
			st2, err := f2.Create(sid)
			if err != nil {
				t.Fatalf("restart after a kill inside Reset: %v", err)
			}
			defer f2.close()
			next := st2.NextSenderMsgSeqNum()
			if err := st2.SaveMessageAndIncrNextSenderMsgSeqNum(next, idMsg(next, "after")); err != nil {
				t.Fatal(err)
			}
			if got := storedAt(t, st2, next, next); strings.Join(got, " ") != "after" {
				t.Errorf("a resend of %d sends %q, want after", next, got)
			}
		})
	}
}

// BenchmarkFileStoreOpen measures the start of an upstream session on
// quickfix's plain file store holding a day's messages: Create as the
// Upstream calls it (the sequence number files and the message index
// checked, the index cut of an unsent entry, every message read back and
// its CheckSum checked by scanStore), then a clean close. The store holds
// n messages, each a NewOrderSingle of about 230 bytes. "checksum" is the
// CheckSum check alone over the same messages in memory. "resend-last100"
// is a resend of the last 100 messages from the opened store.
//
//	go test -run '^$' -bench BenchmarkFileStoreOpen -benchmem -benchtime 3x ./fix/
func BenchmarkFileStoreOpen(b *testing.B) {
	const n = 500_000
	dir := b.TempDir()
	f, sid := newTestStoreFactory(b, dir)
	prefix := filepath.Join(dir, storePrefix(sid))
	const head = "8=FIX.4.4\x019=200\x0135=D\x0134=%d\x0149=GW\x0152=20261203-10:00:00.000\x0156=CORE\x01"
	var hdr, body []byte
	msgs := make([][]byte, 0, n)
	for seq := 1; seq <= n; seq++ {
		m := withSum(fmt.Appendf(nil, head+"11=GWx1a2b3c%07d\x011=A1\x0155=600519\x01207=XSHG\x0154=1\x0160=20261203-10:00:00.000\x0138=100\x0140=2\x0144=17.00\x0159=0\x0110=000\x01", seq, seq))
		hdr = fmt.Appendf(hdr, "%d,%d,%d\n", seq, len(body), len(m))
		body = append(body, m...)
		msgs = append(msgs, m)
	}
	for suf, d := range map[string][]byte{".header": hdr, ".body": body, ".senderseqnums": fmt.Appendf(nil, "%019d", n+1)} {
		if err := os.WriteFile(prefix+suf, d, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	b.Run(fmt.Sprintf("create/messages=%dk", n/1000), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var scan storeScan
			f.onScan = func(sc storeScan) { scan = sc }
			if _, err := f.Create(sid); err != nil {
				b.Fatal(err)
			}
			if len(scan.handed) != n {
				b.Fatalf("%d handed, want %d", len(scan.handed), n)
			}
			if err := f.close(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run(fmt.Sprintf("resend-last100/messages=%dk", n/1000), func(b *testing.B) {
		// A venue's resend request for the day's last 100 messages: the
		// store's lock is held while they are read.
		f.onScan = nil
		st, err := f.Create(sid)
		if err != nil {
			b.Fatal(err)
		}
		defer f.close()
		b.ReportAllocs()
		for b.Loop() {
			got := 0
			if err := st.IterateMessages(n-99, n, func([]byte) error { got++; return nil }); err != nil {
				b.Fatal(err)
			}
			if got != 100 {
				b.Fatalf("%d resent, want 100", got)
			}
		}
	})
	b.Run(fmt.Sprintf("checksum/messages=%dk", n/1000), func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, m := range msgs {
				if err := verifyStored(m); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}

// TestStoreKilledAfterStaleCancel: a cancel request the pacer numbered
// before a Reset (the venue's Logon with ResetSeqNumFlag=Y) and quickfix
// saved after it lies above the new store's next number; a process killed
// before the next save must still restart on the same boot.
func TestStoreKilledAfterStaleCancel(t *testing.T) {
	dir, fs := t.TempDir(), newFakeSessions("")
	open := storeKinds[0].open
	_, st, _ := openHanded(t, open, dir, fs, "boot-1")
	for i := 1; i <= 5; i++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, heartbeatMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	saveStaleCancel(t, st)
	kill(t, st)
	f, st2, _ := openHanded(t, open, dir, fs, "boot-1")
	defer f.close()
	if got := st2.NextSenderMsgSeqNum(); got != 3 {
		t.Errorf("next sender = %d, want 3", got)
	}
}

// TestStoreKilledMidIndexWrite: a process killed (SIGKILL) while quickfix
// wrote the index entry of its next message leaves that entry's first
// bytes, up to a page boundary of the file, and nothing of the message:
// the kernel stops a write there once a fatal signal is pending. Those
// bytes may cut the number short ("1" or "12" of "121,..."), which read
// below the next sender number; before, the start after such a kill was
// refused as a damaged store (ErrStoreDamaged) until an operator cut the
// index by hand. The message was never sent: the start cuts the fragment,
// keeps the next number and resends what was sent.
func TestStoreKilledMidIndexWrite(t *testing.T) {
	const sent = 120
	save := func(t *testing.T, st quickfix.MessageStore, from, to int) {
		t.Helper()
		saveOrders(t, st, from, to)
	}
	next := sent + 1
	for cut := 1; ; cut++ {
		var entry string
		done := false
		t.Run(fmt.Sprint("kept ", cut), func(t *testing.T) {
			dir := t.TempDir()
			_, sid, st := bootedStore(t, dir, "boot-1")
			save(t, st, 1, sent)
			if err := killStore(st.(*reservedStore)); err != nil {
				t.Fatal(err)
			}
			prefix := filepath.Join(dir, storePrefix(sid))
			body, err := os.Stat(prefix + ".body")
			if err != nil {
				t.Fatal(err)
			}
			// The entry quickfix writes before the message and before it
			// advances the number, torn after cut bytes.
			entry = fmt.Sprintf("%d,%d,%d", next, body.Size(), len(idMsg(next, fmt.Sprint("ord", next))))
			done = cut >= len(entry)
			hf, err := os.OpenFile(prefix+".header", os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := hf.WriteString(entry[:min(cut, len(entry))]); err != nil {
				t.Fatal(err)
			}
			hf.Close()
			f2, _ := newTestStoreFactory(t, dir)
			f2.boot = func() string { return "boot-1" }
			var scan storeScan
			f2.onScan = func(sc storeScan) { scan = sc }
			st2, err := f2.Create(sid)
			if err != nil {
				t.Fatalf("Create after a kill that tore the index entry %q to %q: %v", entry, entry[:min(cut, len(entry))], err)
			}
			defer f2.close()
			if scan.lost || !scan.handed[fmt.Sprint("ord", sent)] {
				t.Errorf("scan lost=%v, ord%d handed %v", scan.lost, sent, scan.handed[fmt.Sprint("ord", sent)])
			}
			if got := st2.NextSenderMsgSeqNum(); got != next {
				t.Errorf("next sender = %d, want %d", got, next)
			}
			save(t, st2, next, next+1)
			got := storedAt(t, st2, sent-1, next+1)
			want := []string{fmt.Sprint("ord", sent-1), fmt.Sprint("ord", sent), fmt.Sprint("ord", next), fmt.Sprint("ord", next+1)}
			if !slices.Equal(got, want) {
				t.Errorf("a resend of %d..%d sends %q, want %q", sent-1, next+1, got, want)
			}
		})
		if done || t.Failed() && cut > 20 {
			break
		}
	}
}

// bootedStore opens the store of a newTestStoreFactory on dir, the
// machine's boot id boot ("": this machine's), and fails t on an error.
func bootedStore(t *testing.T, dir, boot string) (*storeFactory, quickfix.SessionID, quickfix.MessageStore) {
	t.Helper()
	f, sid := newTestStoreFactory(t, dir)
	if boot != "" {
		f.boot = func() string { return boot }
	}
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	return f, sid, st
}

// saveOrders saves the orders "ord<i>" numbered from to to on st.
func saveOrders(t *testing.T, st quickfix.MessageStore, from, to int) {
	t.Helper()
	for i := from; i <= to; i++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, idMsg(i, fmt.Sprint("ord", i))); err != nil {
			t.Fatal(err)
		}
	}
}

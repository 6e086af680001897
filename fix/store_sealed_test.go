package fix

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"

	"sgw/atrest"
	"sgw/journal"
)

// Test master keys; never use them anywhere else.
var testKeys = map[string]string{
	"k1": "00112233445566778899aabbccddeeff",
	"k2": "0f0e0d0c0b0a09080706050403020100",
}

// keyRing returns a ring of the named test keys; the last is current.
func keyRing(tb testing.TB, ids ...string) *atrest.KeyRing {
	tb.Helper()
	keys := map[string][]byte{}
	for _, id := range ids {
		k, _ := hex.DecodeString(testKeys[id])
		keys[id] = k
	}
	r, err := atrest.NewKeyRing(keys, ids[len(ids)-1])
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// newSealedStoreFactory is newTestStoreFactory with a key ring.
func newSealedStoreFactory(t *testing.T, dir string, keys *atrest.KeyRing) (*storeFactory, quickfix.SessionID) {
	t.Helper()
	f, sid := newTestStoreFactory(t, dir)
	f.keys = keys
	return f, sid
}

// orderMsg is a stored NewOrderSingle with MsgSeqNum seq.
func orderMsg(seq int) []byte {
	return withSum(fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=D\x0134=%d\x0111=ord%d\x0155=600519.SH\x0110=000\x01", seq, seq))
}

// sealedFrames returns the offsets and record types of the frames of a
// sealed journal file (the layout of docs/SECURITY.md), read without
// package journal.
func sealedFrames(t *testing.T, data []byte) (offs []int, types []byte) {
	t.Helper()
	const hdr = 16 + atrest.HeaderSize
	for off := hdr; off < len(data); {
		n := int(binary.BigEndian.Uint32(data[off:]))
		offs = append(offs, off)
		types = append(types, data[off+8])
		off += 8 + n
	}
	return offs, types
}

// tamperFrame changes a ciphertext byte of the frame at off and fixes its
// checksum, as a careful attacker would.
func tamperFrame(data []byte, off int) {
	n := int(binary.BigEndian.Uint32(data[off:]))
	data[off+8+25] ^= 0x04 // first byte after type, seq, time, epoch, batch index
	binary.BigEndian.PutUint32(data[off+4:], crc32.Checksum(data[off+8:off+8+n], crc32.MakeTable(crc32.Castagnoli)))
}

func TestSealedStoreRoundTrip(t *testing.T) {
	dir := t.TempDir()
	keys := keyRing(t, "k1")
	f, sid := newSealedStoreFactory(t, dir, keys)
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	created := st.CreationTime()
	for i := 1; i <= 5; i++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, orderMsg(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.SetNextTargetMsgSeqNum(42); err != nil {
		t.Fatal(err)
	}
	if err := st.IncrNextTargetMsgSeqNum(); err != nil {
		t.Fatal(err)
	}
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{storePrefix(sid) + ".sealed", storePrefix(sid) + ".reserve"} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for _, leak := range []string{"35=D", "600519", "ord1", "0000000000000004"} {
			if bytes.Contains(b, []byte(leak)) {
				t.Fatalf("%s holds plaintext %q", name, leak)
			}
		}
	}
	for _, suf := range plainSuffixes {
		if _, err := os.Stat(filepath.Join(dir, storePrefix(sid)+suf)); err == nil {
			t.Fatalf("a sealed store wrote quickfix's plain %s", suf)
		}
	}

	f2, _ := newSealedStoreFactory(t, dir, keys)
	var scan storeScan
	f2.onScan = func(sc storeScan) { scan = sc }
	st2, err := f2.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.close()
	if st2.NextSenderMsgSeqNum() != 6 || st2.NextTargetMsgSeqNum() != 43 || !st2.CreationTime().Equal(created) {
		t.Fatalf("after restart: next sender %d, target %d, created %v; want 6, 43, %v",
			st2.NextSenderMsgSeqNum(), st2.NextTargetMsgSeqNum(), st2.CreationTime(), created)
	}
	if !scan.handed["ord1"] || !scan.handed["ord5"] || len(scan.sent) != 5 {
		t.Fatalf("scan = %+v, want ord1..ord5 handed", scan)
	}
	msgs, err := st2.GetMessages(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 || !bytes.Equal(msgs[0], orderMsg(2)) || !bytes.Equal(msgs[2], orderMsg(4)) {
		t.Fatalf("GetMessages(2, 4) = %q", msgs)
	}
	// Reset starts a new file: sequence numbers 1, no messages.
	if err := st2.Reset(); err != nil {
		t.Fatal(err)
	}
	if st2.NextSenderMsgSeqNum() != 1 || st2.NextTargetMsgSeqNum() != 1 {
		t.Fatalf("after Reset: %d, %d", st2.NextSenderMsgSeqNum(), st2.NextTargetMsgSeqNum())
	}
	if msgs, err := st2.GetMessages(1, 10); err != nil || len(msgs) != 0 {
		t.Fatalf("after Reset GetMessages = %d, %v", len(msgs), err)
	}
}

// TestSealedStoreRotation: a store reset after the current key changed
// moves to the new key; one that is not keeps its key, and needs it.
func TestSealedStoreRotation(t *testing.T) {
	dir := t.TempDir()
	sid := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "CORE"}
	path := filepath.Join(dir, storePrefix(sid)+".sealed")
	keyOf := func() string {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		id, _ := atrest.HeaderKeyID(b[16:])
		return id
	}
	st, err := OpenSealedStore(dir, sid, keyRing(t, "k1"), false)
	if err != nil {
		t.Fatal(err)
	}
	st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1))
	st.Close()
	both := keyRing(t, "k1", "k2")
	st, err = OpenSealedStore(dir, sid, both, false)
	if err != nil {
		t.Fatal(err)
	}
	if keyOf() != "k1" || st.NextSenderMsgSeqNum() != 2 {
		t.Fatalf("reopened store under %q, next %d", keyOf(), st.NextSenderMsgSeqNum())
	}
	st.Close()
	_, err = OpenSealedStore(dir, sid, keyRing(t, "k2"), false)
	var ke *atrest.KeyError
	if !errors.As(err, &ke) || ke.ID != "k1" || !strings.Contains(err.Error(), path) {
		t.Fatalf("open without k1: err = %v, want ErrKey naming k1 and the file", err)
	}
	st, _ = OpenSealedStore(dir, sid, both, false)
	if err := st.Reset(); err != nil {
		t.Fatal(err)
	}
	st.Close()
	if keyOf() != "k2" {
		t.Fatalf("store reset under %q, want the current key k2", keyOf())
	}
	st, err = OpenSealedStore(dir, sid, keyRing(t, "k2"), false)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}

// TestSealedStoreTampered: a stored message changed on disk (checksum
// fixed) stops the store from opening, naming the file and the record.
func TestSealedStoreTampered(t *testing.T) {
	dir := t.TempDir()
	keys := keyRing(t, "k1")
	f, sid := newSealedStoreFactory(t, dir, keys)
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, orderMsg(i)); err != nil {
			t.Fatal(err)
		}
		if err := st.IncrNextTargetMsgSeqNum(); err != nil {
			t.Fatal(err)
		}
	}
	f.close()
	path := filepath.Join(dir, storePrefix(sid)+".sealed")
	orig, _ := os.ReadFile(path)
	offs, types := sealedFrames(t, orig)
	for i, typ := range types {
		data := bytes.Clone(orig)
		tamperFrame(data, offs[i])
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f2, _ := newSealedStoreFactory(t, dir, keys)
		_, err := f2.Create(sid)
		var te *journal.TamperedError
		if !errors.Is(err, atrest.ErrTampered) || !errors.As(err, &te) || te.Seq != uint64(i+1) || !strings.Contains(err.Error(), path) {
			t.Fatalf("record %d (%c) tampered: Create err = %v, want ErrTampered naming %s and record %d", i+1, typ, err, path, i+1)
		}
	}
	// The reservation file too.
	if err := os.WriteFile(path, orig, 0o600); err != nil {
		t.Fatal(err)
	}
	rpath := filepath.Join(dir, storePrefix(sid)+".reserve")
	r, _ := os.ReadFile(rpath)
	r[len(r)-3] ^= 1
	os.WriteFile(rpath, r, 0o600)
	f3, _ := newSealedStoreFactory(t, dir, keys)
	if _, err := f3.Create(sid); !errors.Is(err, atrest.ErrTampered) || !strings.Contains(err.Error(), rpath) {
		t.Fatalf("reservation tampered: Create err = %v, want ErrTampered naming it", err)
	}
}

// TestSealedStoreModeSwitchRefused: a plain store is not opened as sealed
// and a sealed store is not opened (or shadowed by a new plain one)
// without its key.
func TestSealedStoreModeSwitchRefused(t *testing.T) {
	t.Run("plain store, encryption configured", func(t *testing.T) {
		dir := t.TempDir()
		f, sid := newTestStoreFactory(t, dir)
		st, err := f.Create(sid)
		if err != nil {
			t.Fatal(err)
		}
		saveN(t, st, 2)
		f.close()
		f2, _ := newSealedStoreFactory(t, dir, keyRing(t, "k1"))
		if _, err := f2.Create(sid); !errors.Is(err, atrest.ErrPlain) {
			t.Fatalf("Create err = %v, want ErrPlain", err)
		}
	})
	t.Run("sealed store, no encryption configured", func(t *testing.T) {
		dir := t.TempDir()
		f, sid := newSealedStoreFactory(t, dir, keyRing(t, "k1"))
		st, err := f.Create(sid)
		if err != nil {
			t.Fatal(err)
		}
		saveN(t, st, 2)
		f.close()
		f2, _ := newTestStoreFactory(t, dir)
		if _, err := f2.Create(sid); !errors.Is(err, atrest.ErrKey) || !strings.Contains(err.Error(), `"k1"`) {
			t.Fatalf("Create err = %v, want ErrKey naming k1", err)
		}
		for _, suf := range plainSuffixes {
			if _, err := os.Stat(filepath.Join(dir, storePrefix(sid)+suf)); err == nil {
				t.Fatalf("a plain %s was created beside the sealed store", suf)
			}
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		dir := t.TempDir()
		f, sid := newSealedStoreFactory(t, dir, keyRing(t, "k1"))
		if _, err := f.Create(sid); err != nil {
			t.Fatal(err)
		}
		f.close()
		k2, _ := hex.DecodeString(testKeys["k2"])
		wrong, _ := atrest.NewKeyRing(map[string][]byte{"k1": k2}, "k1")
		f2, _ := newSealedStoreFactory(t, dir, wrong)
		if _, err := f2.Create(sid); !errors.Is(err, atrest.ErrKey) {
			t.Fatalf("Create err = %v, want ErrKey", err)
		}
	})
}

// TestSealedStoreUncleanRestart: the reservation logic works on a sealed
// store as on a plain one: after an unclean stop and a machine restart the
// next sender sequence number moves up to the (sealed) reservation, and a
// torn tail of the store is cut.
func TestSealedStoreUncleanRestart(t *testing.T) {
	dir := t.TempDir()
	keys := keyRing(t, "k1")
	f, sid := newSealedStoreFactory(t, dir, keys)
	f.boot = func() string { return "boot-1" }
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	saveN(t, st, 10)
	reserved := st.(*reservedStore).reserved
	// Killed without Close; the machine lost power mid-write: a torn
	// record at the end of the store.
	inner := st.(*reservedStore).MessageStore.(*LockedStore)
	inner.Close()
	path := filepath.Join(dir, storePrefix(sid)+".sealed")
	fh, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.Write([]byte{0, 0, 0, 60, 1, 2, 3})
	fh.Close()

	f2, _ := newSealedStoreFactory(t, dir, keys)
	f2.boot = func() string { return "boot-2" }
	var scan storeScan
	f2.onScan = func(sc storeScan) { scan = sc }
	st2, err := f2.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.close()
	if !scan.lost || st2.NextSenderMsgSeqNum() != reserved {
		t.Fatalf("lost %v, next sender %d; want the reservation %d", scan.lost, st2.NextSenderMsgSeqNum(), reserved)
	}
	if msgs, err := st2.GetMessages(1, 10); err != nil || len(msgs) != 10 {
		t.Fatalf("GetMessages = %d, %v; want 10", len(msgs), err)
	}
}

// TestUpstreamSealedStoreResend runs a real session on a sealed store:
// orders sent, the gateway restarted, and the venue, having lost them,
// asks for a resend, which the restarted session serves from the sealed
// store (PossDup). Then a stored message is changed on disk: the next
// start refuses the store, naming the file and record.
func TestUpstreamSealedStoreResend(t *testing.T) {
	var accStore atomic.Pointer[quickfix.MessageStore]
	keys := keyRing(t, "k1")
	r := newRigWith(t, acceptorOpts{paced: true, onStore: func(st quickfix.MessageStore) { accStore.Store(&st) }},
		func(c *UpstreamConfig) { c.Keys = keys })
	first := r.rec
	first.waitUp(t, 10*time.Second)
	const n = 10
	for i := range n {
		if err := r.upstream().Send(orderN(i)); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 10*time.Second, "orders acknowledged", func() bool {
		for i := range n {
			if first.ackCount(orderN(i).ClOrdID) == 0 {
				return false
			}
		}
		return true
	})
	r.stop()
	sid := quickfix.SessionID{BeginString: quickfix.BeginStringFIX44, SenderCompID: r.cfg.SenderCompID, TargetCompID: r.cfg.TargetCompID}
	path := filepath.Join(r.cfg.StoreDir, storePrefix(sid)+".sealed")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no sealed store: %v", err)
	}
	if bytes.Contains(data, []byte("c000001")) {
		t.Fatal("the sealed store holds a ClOrdID in plaintext")
	}

	// The venue forgets everything after the gateway's first logon.
	if err := (*accStore.Load()).SetNextTargetMsgSeqNum(2); err != nil {
		t.Fatal(err)
	}
	r.start(t)
	second := r.rec
	second.waitUp(t, 10*time.Second)
	eventually(t, 10*time.Second, "orders resent from the sealed store", func() bool {
		_, resends, _ := r.acc.received()
		return resends >= n
	})
	if _, _, dups := r.acc.received(); len(dups) > 0 {
		t.Fatalf("orders received twice without PossDup: %v", dups)
	}
	r.stop()

	// A stored order changed on disk: the session does not start.
	data, _ = os.ReadFile(path)
	offs, types := sealedFrames(t, data)
	tampered := -1
	for i, typ := range types {
		if typ == recSent {
			tampered = i
		}
	}
	if tampered < 0 {
		t.Fatal("no stored message in the sealed store")
	}
	tamperFrame(data, offs[tampered])
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	u := newTestUpstream(t, r.cfg, newRecorder())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err = u.Run(ctx)
	var te *journal.TamperedError
	if !errors.Is(err, ErrTampered) || !errors.As(err, &te) || te.Seq != uint64(tampered+1) || !strings.Contains(err.Error(), path) {
		t.Fatalf("Run on a tampered store: %v, want ErrTampered naming %s and record %d", err, path, tampered+1)
	}
}

// TestSealedStoreBoundToSession: a session's sealed store copied or moved
// to another session's name (a broker's execution reports, a venue's
// orders and sequence numbers) is refused with ErrTampered, not resent to
// the other counterparty; a store written before stores named their
// session opens and is bound to its session from then on.
func TestSealedStoreBoundToSession(t *testing.T) {
	keys := keyRing(t, "k1")
	a := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "BROKERA"}
	b := quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "BROKERB"}
	pathOf := func(dir string, sid quickfix.SessionID) string {
		return filepath.Join(dir, storePrefix(sid)+sealedSuffix)
	}
	moved := func(t *testing.T, dir string) {
		t.Helper()
		data, err := os.ReadFile(pathOf(dir, a))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(pathOf(dir, b), data, 0o600); err != nil {
			t.Fatal(err)
		}
		st, err := OpenSealedStore(dir, b, keys, false)
		if err == nil {
			msgs, _ := st.GetMessages(1, 10)
			st.Close()
			t.Fatalf("session %s opened session %s's store (messages %q)", b, a, msgs)
		}
		if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), pathOf(dir, b)) {
			t.Fatalf("a moved store = %v; want ErrTampered naming %s", err, pathOf(dir, b))
		}
	}

	t.Run("new store", func(t *testing.T) {
		dir := t.TempDir()
		st, err := OpenSealedStore(dir, a, keys, false)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, orderMsg(1)); err != nil {
			t.Fatal(err)
		}
		st.Close()
		moved(t, dir)
		// Its own session still opens it.
		st, err = OpenSealedStore(dir, a, keys, false)
		if err != nil {
			t.Fatal(err)
		}
		if msgs, err := st.GetMessages(1, 1); err != nil || len(msgs) != 1 {
			t.Errorf("own store: messages %q, %v", msgs, err)
		}
		st.Close()
	})

	t.Run("store naming no session", func(t *testing.T) {
		dir := t.TempDir()
		j, err := journal.Open(journal.Config{Path: pathOf(dir, a), NoSync: true, Keys: keys})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range []struct {
			typ  byte
			body []byte
		}{
			{typ: recCreated, body: binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano()))},
			{typ: recSent, body: append(binary.BigEndian.AppendUint64(nil, 1), orderMsg(1)...)},
		} {
			if _, err := j.Append(r.typ, r.body); err != nil {
				t.Fatal(err)
			}
		}
		j.Close()
		st, err := OpenSealedStore(dir, a, keys, false)
		if err != nil {
			t.Fatalf("a store naming no session: %v", err)
		}
		if st.NextSenderMsgSeqNum() != 2 {
			t.Errorf("next sender %d; want 2", st.NextSenderMsgSeqNum())
		}
		st.Close()
		moved(t, dir)
	})
}

package broker

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
	"github.com/quickfixgo/quickfix/store/file"

	"sgw/atrest"
	"sgw/fix"
)

// TestStoresSealed: with a key ring the acceptor's stores are sealed files
// that keep sequence numbers across a restart; the same directory without
// the ring is refused, naming the key.
func TestStoresSealed(t *testing.T) {
	dir := t.TempDir()
	k, _ := hex.DecodeString("00112233445566778899aabbccddeeff")
	keys, err := atrest.NewKeyRing(map[string][]byte{"k1": k}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	settings, sid := fileStoreSettings(t, dir)
	sealed := newStores(settings, Config{StoreDir: dir, Keys: keys}, nil)
	st, err := sealed.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, []byte("8=FIX.4.4\x0135=8\x0134=1\x0111=ord1\x0110=235\x01")); err != nil {
		t.Fatal(err)
	}
	if err := sealed.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "FIX.4.4-SGW-BROKER1.sealed")); err != nil {
		t.Fatalf("no sealed store: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.body")); len(m) > 0 {
		t.Fatalf("plain store files beside the sealed one: %v", m)
	}
	again := newStores(settings, Config{StoreDir: dir, Keys: keys}, nil)
	st, err = again.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	if st.NextSenderMsgSeqNum() != 2 {
		t.Fatalf("next sender after restart %d, want 2", st.NextSenderMsgSeqNum())
	}
	again.Close()
	if _, err := newStores(settings, Config{StoreDir: dir}, nil).Create(sid); !errors.Is(err, fix.ErrKey) {
		t.Fatalf("plain acceptor on a sealed store: %v, want ErrKey", err)
	}
}

// TestStoresLockedAndReserved: the acceptor's plain file stores are the
// upstream's (fix.FileStores). A second gateway on the same store_dir is
// refused while the first runs (before, both numbered their reports from
// one store); a store left unclean by another boot of the machine, whose
// sequence number file lost its last writes, resumes at its reservation
// (before, quickfix's file store had no reservation: the broker's session
// went back to numbers the broker had seen, and its Logon was refused or
// the reports under reused numbers were lost).
func TestStoresLockedAndReserved(t *testing.T) {
	dir := t.TempDir()
	settings, sid := fileStoreSettings(t, dir)
	first := newStores(settings, Config{StoreDir: dir}, nil)
	st, err := first.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 3; seq++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, []byte("8=FIX.4.4\x0135=0\x0110=000\x01")); err != nil {
			t.Fatal(err)
		}
	}
	second := newStores(settings, Config{StoreDir: dir}, nil)
	if _, err := second.Create(sid); !errors.Is(err, fix.ErrStoreLocked) {
		second.Close()
		first.Close()
		t.Fatalf("second acceptor on the store: %v, want ErrStoreLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	// A crash of the machine as it leaves the files: the reservation
	// unclean, written on another boot; the sequence number file behind.
	prefix := filepath.Join(dir, "FIX.4.4-SGW-BROKER1")
	b, err := os.ReadFile(prefix + ".reserve")
	if err != nil {
		t.Fatalf("no reservation: %v", err)
	}
	var reserved int
	if _, err := fmt.Sscanf(string(b), "%d", &reserved); err != nil || reserved <= 4 {
		t.Fatalf("reservation %q", b)
	}
	if err := os.WriteFile(prefix+".reserve", fmt.Appendf(nil, "%019d 0 another-boot\n", reserved), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(prefix+".senderseqnums", []byte("0000000000000000002"), 0o600); err != nil {
		t.Fatal(err)
	}
	again := newStores(settings, Config{StoreDir: dir}, nil)
	defer again.Close()
	st, err = again.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.NextSenderMsgSeqNum(); got != reserved {
		t.Fatalf("next sender after the crash = %d, want the reservation %d", got, reserved)
	}
}

// TestStoresDamageRefusedAtStart: a report changed on disk in the
// acceptor's store (a bit flipped) refuses the store's opening, which the
// acceptor does when it starts, naming the session's files and the
// message, as an upstream session's store does. Before, only an Upstream's
// stores were checked when opened: the broker's damage was found when the
// broker asked for a resend, or not at all.
func TestStoresDamageRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	settings, sid := fileStoreSettings(t, dir)
	first := newStores(settings, Config{StoreDir: dir}, nil)
	st, err := first.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	for seq := 1; seq <= 3; seq++ {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, storedReport(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	flipStoredExecID(t, dir)
	again := newStores(settings, Config{StoreDir: dir}, nil)
	defer again.Close()
	_, err = again.Create(sid)
	if !errors.Is(err, fix.ErrStoreDamaged) || !strings.Contains(err.Error(), `MsgSeqNum "2"`) ||
		!strings.Contains(err.Error(), filepath.Join(dir, "FIX.4.4-SGW-BROKER1")) {
		t.Fatalf("open a store holding a changed report: %v, want ErrStoreDamaged naming the files and MsgSeqNum 2", err)
	}
}

// TestStoresOpenPreviousVersion: a plain store the previous version wrote
// (quickfix's file store, no reservation, no lock file), closed cleanly or
// left by a killed process, opens with its sequence numbers and messages.
func TestStoresOpenPreviousVersion(t *testing.T) {
	for _, closed := range []bool{true, false} {
		t.Run(fmt.Sprintf("closed=%v", closed), func(t *testing.T) {
			dir := t.TempDir()
			settings, sid := fileStoreSettings(t, dir)
			old, err := file.NewStoreFactory(settings).Create(sid)
			if err != nil {
				t.Fatal(err)
			}
			msg := func(seq int) []byte {
				b := fmt.Appendf(nil, "8=FIX.4.4\x019=20\x0135=8\x0134=%d\x0117=e%d\x01", seq, seq)
				sum := 0
				for _, c := range b {
					sum += int(c)
				}
				return fmt.Appendf(b, "10=%03d\x01", sum%256)
			}
			for i := 1; i <= 3; i++ {
				if err := old.SaveMessageAndIncrNextSenderMsgSeqNum(i, msg(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := old.SetNextTargetMsgSeqNum(7); err != nil {
				t.Fatal(err)
			}
			if closed {
				old.Close()
			}
			stores := newStores(settings, Config{StoreDir: dir}, nil)
			st, err := stores.Create(sid)
			if err != nil {
				t.Fatalf("open the previous version's store: %v", err)
			}
			defer stores.Close()
			if st.NextSenderMsgSeqNum() != 4 || st.NextTargetMsgSeqNum() != 7 {
				t.Fatalf("next sender %d target %d, want 4 and 7", st.NextSenderMsgSeqNum(), st.NextTargetMsgSeqNum())
			}
			msgs, err := st.GetMessages(1, 3)
			if err != nil || len(msgs) != 3 {
				t.Fatalf("resend 1..3: %d messages, %v", len(msgs), err)
			}
		})
	}
}

// fileStoreSettings is the settings of one FIX 4.4 session, SGW to
// BROKER1, whose file store is in dir, and the session's id.
func fileStoreSettings(t *testing.T, dir string) (*quickfix.Settings, quickfix.SessionID) {
	t.Helper()
	settings := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, "FIX.4.4")
	ss.Set(config.SenderCompID, "SGW")
	ss.Set(config.TargetCompID, "BROKER1")
	ss.Set(config.FileStorePath, dir)
	ss.Set(config.FileStoreSync, "N")
	sid, err := settings.AddSession(ss)
	if err != nil {
		t.Fatal(err)
	}
	return settings, sid
}

// storedReport is a minimal ExecutionReport of MsgSeqNum seq (ClOrdID
// o<seq>, ExecID e<seq>) as BROKER1's store holds it, CheckSum included.
func storedReport(seq int) []byte {
	b := fmt.Appendf(nil, "8=FIX.4.4\x019=20\x0135=8\x0134=%d\x0111=o%d\x0139=0\x0117=e%d\x01", seq, seq, seq)
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	return fmt.Appendf(b, "10=%03d\x01", sum%256)
}

// flipStoredExecID flips a bit of report 2 in BROKER1's store under dir
// (ExecID e2 becomes e3), as a disk might: its CheckSum no longer holds.
func flipStoredExecID(t *testing.T, dir string) {
	t.Helper()
	body := filepath.Join(dir, "FIX.4.4-SGW-BROKER1.body")
	b, err := os.ReadFile(body)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(b, []byte("17=e2"))
	if i < 0 {
		t.Fatalf("report 2 not in %q", b)
	}
	b[i+4] ^= 0x01 // e2 -> e3
	if err := os.WriteFile(body, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

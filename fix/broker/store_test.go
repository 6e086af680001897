package broker

import (
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"

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
	settings := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, "FIX.4.4")
	ss.Set(config.SenderCompID, "SGW")
	ss.Set(config.TargetCompID, "BROKER1")
	ss.Set(config.FileStorePath, dir)
	sid, err := settings.AddSession(ss)
	if err != nil {
		t.Fatal(err)
	}
	sealed := newStores(settings, Config{StoreDir: dir, Keys: keys})
	st, err := sealed.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(1, []byte("8=FIX.4.4\x0135=8\x0134=1\x0111=ord1\x01")); err != nil {
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
	again := newStores(settings, Config{StoreDir: dir, Keys: keys})
	st, err = again.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	if st.NextSenderMsgSeqNum() != 2 {
		t.Fatalf("next sender after restart %d, want 2", st.NextSenderMsgSeqNum())
	}
	again.Close()
	if _, err := newStores(settings, Config{StoreDir: dir}).Create(sid); !errors.Is(err, fix.ErrKey) {
		t.Fatalf("plain acceptor on a sealed store: %v, want ErrKey", err)
	}
}

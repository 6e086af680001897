package broker

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quickfixgo/quickfix"

	"sgw/fix"
)

// TestRestateReadFailureNotCounted: the restatement's reads of a store
// whose message changed on disk since it was opened fail, and are neither
// counted nor logged as a resend not made (gateway_broker_store_read_errors_total,
// alert FIXStoreReadFailed, "the session drops at each resend"): the
// restatement goes on without the store's reports, and says so itself. A
// resend that meets the damage still is. Before, each restatement read
// (the scan, then the whole store again) was counted and logged as a
// failed resend.
func TestRestateReadFailureNotCounted(t *testing.T) {
	dir := t.TempDir()
	settings, sid := fileStoreSettings(t, dir)
	var logged bytes.Buffer
	stores := newStores(settings, Config{StoreDir: dir}, slog.New(slog.NewTextHandler(&logged, nil)))
	var told []error
	stores.OnReadError(func(_ quickfix.SessionID, err error) { told = append(told, err) })
	k := newKeptStores(stores)
	st, err := k.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	ks := st.(*keptStore)
	<-ks.scanned // the scan of the empty store
	for seq := 1; seq <= 3; seq++ {
		b := fmt.Appendf(nil, "8=FIX.4.4\x019=20\x0135=8\x0134=%d\x0111=o%d\x0139=0\x0117=e%d\x01", seq, seq, seq)
		sum := 0
		for _, c := range b {
			sum += int(c)
		}
		if err := ks.SaveMessageAndIncrNextSenderMsgSeqNum(seq, fmt.Appendf(b, "10=%03d\x01", sum%256)); err != nil {
			t.Fatal(err)
		}
	}
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
	// The scan's result completed with the messages since; then, taken,
	// a read of the whole store.
	for range 2 {
		if _, err := ks.storedReports(); !errors.Is(err, fix.ErrStoreDamaged) {
			t.Fatalf("restatement read of a changed report: %v, want ErrStoreDamaged", err)
		}
	}
	if len(told) != 0 || strings.Contains(logged.String(), "resend") {
		t.Fatalf("restatement reads told %v, logged %q; want neither counted nor logged as a resend", told, logged.String())
	}
	if _, err := ks.GetMessages(1, 3); !errors.Is(err, fix.ErrStoreDamaged) || len(told) != 1 {
		t.Fatalf("resend read: %v, told %v; want ErrStoreDamaged, told once", err, told)
	}
}

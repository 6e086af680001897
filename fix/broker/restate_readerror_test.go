package broker

import (
	"bytes"
	"errors"
	"log/slog"
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
		if err := ks.SaveMessageAndIncrNextSenderMsgSeqNum(seq, storedReport(seq)); err != nil {
			t.Fatal(err)
		}
	}
	flipStoredExecID(t, dir)
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

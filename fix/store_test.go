package fix

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/config"
)

func newTestStoreFactory(t testing.TB, dir string) (*storeFactory, quickfix.SessionID) {
	t.Helper()
	s := quickfix.NewSettings()
	ss := quickfix.NewSessionSettings()
	ss.Set(config.BeginString, "FIX.4.4")
	ss.Set(config.SenderCompID, "GW")
	ss.Set(config.TargetCompID, "CORE")
	ss.Set(config.FileStorePath, dir)
	ss.Set(config.FileStoreSync, "N")
	sid, err := s.AddSession(ss)
	if err != nil {
		t.Fatal(err)
	}
	return &storeFactory{settings: s, dir: dir, log: slog.New(slog.DiscardHandler)}, sid
}

func saveN(t *testing.T, st quickfix.MessageStore, n int) {
	t.Helper()
	for range n {
		seq := st.NextSenderMsgSeqNum()
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, withSum([]byte("8=FIX.4.4\x019=5\x0135=0\x0110=000\x01"))); err != nil {
			t.Fatal(err)
		}
	}
}

func TestStoreCleanRestartKeepsSequence(t *testing.T) {
	dir := t.TempDir()
	f, sid := newTestStoreFactory(t, dir)
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	saveN(t, st, 10)
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	f2, _ := newTestStoreFactory(t, dir)
	st2, err := f2.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.close()
	if got := st2.NextSenderMsgSeqNum(); got != 11 {
		t.Errorf("next sender after a clean restart = %d, want 11", got)
	}
}

func TestStoreUncleanRestartSkipsToReservation(t *testing.T) {
	dir := t.TempDir()
	f, sid := newTestStoreFactory(t, dir)
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	saveN(t, st, reserveBlock+5) // crosses one reservation
	reserved := st.(*reservedStore).reserved
	// Simulate a power loss that lost the store's last writes: no Close,
	// and the sequence number file rolled back.
	if err := st.(*reservedStore).MessageStore.SetNextSenderMsgSeqNum(3); err != nil {
		t.Fatal(err)
	}
	// And a torn index entry.
	hdr := filepath.Join(dir, storePrefix(sid)+".header")
	fh, err := os.OpenFile(hdr, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fh.WriteString("99999,123")
	fh.Close()

	if err := killStore(st.(*reservedStore)); err != nil {
		t.Fatal(err)
	}
	st2, scan := reopenStore(t, dir, sid, "another-boot") // the machine restarted
	if !scan.lost {
		t.Error("the scan of a store that may have lost its tail does not say so")
	}
	if got := st2.NextSenderMsgSeqNum(); got != reserved {
		t.Errorf("next sender after an unclean stop = %d, want the reservation %d", got, reserved)
	}
	b, _ := os.ReadFile(hdr)
	if bytes.Contains(b, []byte("99999")) || len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("torn index entry not repaired: ...%q", b[max(0, len(b)-40):])
	}
	n := 0
	if err := st2.IterateMessages(1, reserveBlock+5, func([]byte) error { n++; return nil }); err != nil {
		t.Fatalf("resend from the repaired store: %v", err)
	}
	if n != reserveBlock+5 {
		t.Errorf("repaired store holds %d messages, want %d", n, reserveBlock+5)
	}
}

// TestStoreProcessCrashKeepsSequence: a process killed (no Close) on a
// machine that kept running leaves a whole store: no skip, and what it
// held counts as handed.
func TestStoreProcessCrashKeepsSequence(t *testing.T) {
	dir := t.TempDir()
	f, sid := newTestStoreFactory(t, dir)
	f.boot = func() string { return "boot-1" }
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 3; i++ {
		msg := string(withSum(fmt.Appendf(nil, "8=FIX.4.4\x019=5\x0135=D\x0134=%d\x0111=ord%d\x0110=000\x01", i, i)))
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(i, []byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// A status request (a recovery probe) of ord4, which never left: it
	// does not hand ord4 over.
	if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(4, withSum([]byte("8=FIX.4.4\x019=5\x0135=H\x0134=4\x0111=ord4\x0110=000\x01"))); err != nil {
		t.Fatal(err)
	}
	// Killed: no Close. The same machine starts the process again.
	if err := killStore(st.(*reservedStore)); err != nil {
		t.Fatal(err)
	}
	st2, scan := reopenStore(t, dir, sid, "boot-1")
	if got := st2.NextSenderMsgSeqNum(); got != 5 {
		t.Errorf("next sender = %d, want 5 (no skip after a process crash)", got)
	}
	if scan.lost || !scan.handed["ord1"] || !scan.handed["ord3"] || scan.handed["ord4"] || len(scan.sent) != 4 {
		t.Errorf("scan lost=%v handed=%v", scan.lost, scan.handed)
	}
}

// TestStoreDamagedReservationRefused: a reservation that does not parse
// stops the session from starting rather than being read as "nothing
// reserved".
func TestStoreDamagedReservationRefused(t *testing.T) {
	dir := t.TempDir()
	f, sid := newTestStoreFactory(t, dir)
	if err := os.WriteFile(filepath.Join(dir, storePrefix(sid)+".reserve"), []byte("00000000000000"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Create(sid); !errors.Is(err, ErrReservation) {
		t.Fatalf("Create with a damaged reservation: %v, want ErrReservation", err)
	}
}

// TestStoreResumeInbound: a store that counted messages from the upstream
// the journal lacks expects them again; one that did not is left alone. A
// store reset since the journal's last message (a new period) has none of
// its messages in the journal and expects them all again; before, the old
// period's last number was compared with the new period's.
func TestStoreResumeInbound(t *testing.T) {
	// period: the journal's period relative to the store's: "same",
	// "older" (the store was reset since, by its schedule), or "" unknown
	// (a journal written before periods were journaled).
	for _, tc := range []struct {
		after  int
		period string
		want   int
	}{
		{5, "", 6}, {9, "", 10}, {20, "", 10}, {0, "", 10},
		{5, "same", 6}, {20, "same", 10}, {0, "same", 1},
		// A new period's store at 10 and the journal's last message the
		// old period's 500: the journal holds none of the new period's.
		{500, "older", 1}, {5, "older", 1},
	} {
		dir := t.TempDir()
		f, sid := newTestStoreFactory(t, dir)
		var periods []int64
		f.onPeriod = func(p int64) { periods = append(periods, p) }
		st, err := f.Create(sid)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.SetNextTargetMsgSeqNum(10); err != nil {
			t.Fatal(err)
		}
		created := st.CreationTime().UnixNano()
		if len(periods) != 1 || periods[0] != created {
			t.Fatalf("periods told %v, want the store's creation %d", periods, created)
		}
		f.close()
		f2, _ := newTestStoreFactory(t, dir)
		f2.resumeAfter = tc.after
		switch tc.period {
		case "same":
			f2.resumePeriod = created
		case "older":
			f2.resumePeriod = created - int64(24*time.Hour)
		}
		st2, err := f2.Create(sid)
		if err != nil {
			t.Fatal(err)
		}
		if got := st2.NextTargetMsgSeqNum(); got != tc.want {
			t.Errorf("resume after %d of period %q: next target %d, want %d", tc.after, tc.period, got, tc.want)
		}
		f2.close()
	}
}

// TestStoreResetTellsPeriod: each Reset tells the session's new period,
// the store's new creation time, whether or not it moved a number.
func TestStoreResetTellsPeriod(t *testing.T) {
	f, sid := newTestStoreFactory(t, t.TempDir())
	var periods []int64
	f.onPeriod = func(p int64) { periods = append(periods, p) }
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	for range 2 {
		if err := st.Reset(); err != nil {
			t.Fatal(err)
		}
		if got, want := periods[len(periods)-1], st.CreationTime().UnixNano(); got != want || len(periods) < 2 {
			t.Fatalf("periods told %v, want the store's creation %d last", periods, want)
		}
	}
	if len(periods) != 3 || periods[1] == periods[2] {
		t.Fatalf("periods told %v: want one at Create and one per Reset, each its own (two resets in one second are two periods)", periods)
	}
	// A reset whose reservation cannot be written fails, but quickfix
	// goes on with the store's new creation time: it is told all the same
	// (Upstream.mayDial would otherwise wait for a reset that never
	// comes).
	rs := st.(*reservedStore)
	write := rs.write
	rs.write = func(int, bool, string) error { return errors.New("no space left on device") }
	if err := st.Reset(); err == nil {
		t.Fatal("the reset with a failing reservation write succeeded")
	}
	rs.write = write
	if got, want := periods[len(periods)-1], st.CreationTime().UnixNano(); len(periods) != 4 || got != want {
		t.Fatalf("after a failed reset, periods told %v, want the store's creation %d last", periods, want)
	}
}

// TestStoredReports checks that the last report of each ClOrdID wins,
// that the ExecIDs of the trades (FIX 4.4 ExecType F, FIX 4.2 1 or 2 sent
// as new) are kept apart from those of the trade cancels and corrections
// (FIX 4.4 ExecType H or G, FIX 4.2 D sent as new), and those of other
// reports (a FIX 4.2 status, whose ExecType is its OrdStatus) are not,
// that a rejection's ExecID is kept with its ClOrdID's last report,
// and that other messages, and messages at or above the next sender sequence number, are ignored.
func TestStoredReports(t *testing.T) {
	f, sid := newTestStoreFactory(t, t.TempDir())
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	msgs := []string{
		"8=FIX.4.4\x0135=8\x0134=1\x0111=a\x0139=A\x0114=0\x0117=e1\x01150=A\x01",
		"8=FIX.4.4\x0135=D\x0134=2\x0111=b\x0117=d\x01150=F\x01",
		"8=FIX.4.4\x0135=8\x0134=3\x0111=a\x0139=1\x0114=100\x0117=core:V1\x01150=F\x01",
		"8=FIX.4.4\x0135=8\x0134=4\x0111=c\x0139=0\x01",
		"8=FIX.4.2\x0135=8\x0134=5\x0111=d\x0139=1\x0114=5\x0117=core:V2\x0120=0\x01150=1\x01",
		"8=FIX.4.2\x0135=8\x0134=6\x0111=d\x0139=2\x0114=9\x0117=core:V3\x0120=0\x01150=2\x01",
		"8=FIX.4.2\x0135=8\x0134=7\x0111=d\x0139=2\x0114=9\x0117=s1\x0120=3\x01150=2\x01",
		"8=FIX.4.4\x0135=8\x0134=8\x0111=e\x0139=0\x0114=0\x0117=core:X1\x0119=core:V4\x01150=H\x01",
		"8=FIX.4.4\x0135=8\x0134=9\x0111=e\x0139=1\x0114=5\x0117=core:X2\x0119=core:V5\x01150=G\x01",
		"8=FIX.4.2\x0135=8\x0134=10\x0111=f\x0139=0\x0114=0\x0117=core:X3\x0119=core:V6\x0120=0\x01150=D\x01",
		"8=FIX.4.4\x0135=8\x0134=11\x0111=g\x0139=8\x0114=0\x0117=core:V7\x01150=8\x01",
		"8=FIX.4.4\x0135=8\x0134=12\x0111=h\x0139=8\x0114=0\x0117=B1.5\x01150=8\x01103=6\x01",
	}
	for i, m := range msgs {
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(st.NextSenderMsgSeqNum(), withSum([]byte(m+"10=000\x01"))); err != nil {
			t.Fatal(i, err)
		}
	}
	// Saved but not counted as sent: ignored.
	if err := st.SaveMessage(st.NextSenderMsgSeqNum(), withSum([]byte("8=FIX.4.4\x0135=8\x0134=13\x0111=a\x0139=2\x0114=200\x0117=core:V9\x01150=F\x0110=000\x01"))); err != nil {
		t.Fatal(err)
	}
	got, err := ReadStoredReports(st)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]StoredReport{"a": {'1', 100, ""}, "c": {'0', -1, ""}, "d": {'2', 9, ""}, "e": {'1', 5, ""}, "f": {'0', 0, ""},
		"g": {'8', 0, "core:V7"}, "h": {'8', 0, "B1.5"}}
	if !maps.Equal(got.Last, want) {
		t.Fatalf("Last = %v, want %v", got.Last, want)
	}
	wantTrades := map[string]struct{}{"core:V1": {}, "core:V2": {}, "core:V3": {}}
	if !maps.Equal(got.Trades, wantTrades) {
		t.Fatalf("Trades = %v, want %v", got.Trades, wantTrades)
	}
	wantAmends := map[string]struct{}{"core:X1": {}, "core:X2": {}, "core:X3": {}}
	if !maps.Equal(got.Amends, wantAmends) {
		t.Fatalf("Amends = %v, want %v", got.Amends, wantAmends)
	}
}

// TestScanStore checks what opening a store reads of it: the orders,
// cancels and replaces sent are handed (a status request is not: it
// carries its order's ClOrdID), other messages and those at or above the
// next sender sequence number are not, each field's first occurrence
// counts, and the Reject index gets the last sentIndexSize requests.
func TestScanStore(t *testing.T) {
	st, err := quickfix.NewMemoryStoreFactory().Create(quickfix.SessionID{BeginString: "FIX.4.4", SenderCompID: "GW", TargetCompID: "CORE"})
	if err != nil {
		t.Fatal(err)
	}
	send := func(m string) {
		t.Helper()
		seq := st.NextSenderMsgSeqNum()
		// Stored as quickfix stores a message: with its CheckSum.
		if err := st.SaveMessageAndIncrNextSenderMsgSeqNum(seq, withSum(fmt.Appendf(nil, m+"10=000\x01", seq))); err != nil {
			t.Fatal(err)
		}
	}
	send("8=FIX.4.4\x0111=new\x0111=second\x0135=D\x0134=%d\x01")
	send("8=FIX.4.4\x0135=8\x0134=%d\x0111=report\x01")
	send("8=FIX.4.4\x0135=F\x0134=%d\x0111=cancel\x0141=new\x01")
	send("8=FIX.4.4\x0135=H\x0134=%d\x0111=asked\x01")
	send("8=FIX.4.4\x0135=G\x0134=%d\x0111=replace\x0141=new\x01")
	send("8=FIX.4.4\x0135=D\x0134=%d\x01") // no ClOrdID
	send("8=FIX.4.4\x0134=%d\x0135=D\x0111=tags out of order\x01")
	// Saved but not counted as sent: not handed.
	if err := st.SaveMessage(st.NextSenderMsgSeqNum(), []byte("8=FIX.4.4\x0135=D\x0134=8\x0111=unsent\x01")); err != nil {
		t.Fatal(err)
	}
	sc, err := scanStore(st)
	if err != nil {
		t.Fatal(err)
	}
	handed := map[string]bool{"new": true, "cancel": true, "replace": true, "tags out of order": true}
	if !maps.Equal(sc.handed, handed) {
		t.Errorf("handed %v; want %v", sc.handed, handed)
	}
	sent := []sentMsg{{1, 'D', "new", nil}, {3, 'F', "cancel", nil}, {4, 'H', "asked", nil}, {5, 'G', "replace", nil}, {7, 'D', "tags out of order", nil}}
	if !slices.Equal(sc.sent, sent) {
		t.Errorf("sent %v; want %v", sc.sent, sent)
	}

	for range sentIndexSize {
		send("8=FIX.4.4\x0135=D\x0134=%[1]d\x0111=o%[1]d\x01")
	}
	if sc, err = scanStore(st); err != nil {
		t.Fatal(err)
	}
	if len(sc.handed) != len(handed)+sentIndexSize || !sc.handed["new"] {
		t.Errorf("%d handed, new=%v; want %d, new among them", len(sc.handed), sc.handed["new"], len(handed)+sentIndexSize)
	}
	if n := len(sc.sent); n != sentIndexSize || sc.sent[0].seq != 8 || sc.sent[n-1].seq != 7+sentIndexSize {
		t.Errorf("sent holds %d, %v to %v; want the last %d (seqs 8 to %d)", n, sc.sent[0], sc.sent[n-1], sentIndexSize, 7+sentIndexSize)
	}
}

// reopenStore opens sid's store in dir again, as a start on the machine
// whose boot id is boot, and returns it with the scan its factory made.
// The factory is closed at the test's end.
func reopenStore(t *testing.T, dir string, sid quickfix.SessionID, boot string) (quickfix.MessageStore, storeScan) {
	t.Helper()
	f, _ := newTestStoreFactory(t, dir)
	f.boot = func() string { return boot }
	var scan storeScan
	f.onScan = func(sc storeScan) { scan = sc }
	st, err := f.Create(sid)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.close() })
	return st, scan
}

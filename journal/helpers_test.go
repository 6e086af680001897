package journal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// tempPath returns a journal path in a fresh temporary directory.
func tempPath(t testing.TB) string {
	t.Helper()
	return filepath.Join(t.TempDir(), "orders.jrnl")
}

// mustOpen opens cfg or fails the test.
func mustOpen(t testing.TB, cfg Config) *Journal {
	t.Helper()
	j, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return j
}

// testBody is the body of the test record with sequence number seq.
func testBody(seq uint64) []byte {
	return fmt.Appendf(nil, `{"op":"order.new","clOrdId":"c%d","qty":%d}`, seq, 100*seq)
}

// writeRecords opens path, appends testBody records until the journal
// holds n, and closes it.
func writeRecords(t testing.TB, path string, n int) {
	t.Helper()
	j := mustOpen(t, Config{Path: path, NoSync: true})
	for j.LastSeq() < uint64(n) {
		want := j.LastSeq() + 1
		seq, err := j.Append(byte(want%7), testBody(want))
		if err != nil || seq != want {
			t.Fatalf("Append = %d, %v; want %d, nil", seq, err, want)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// collect returns copies of the records a replay function delivers.
func collect(t testing.TB, replay func(func(Record) error) error) ([]Record, error) {
	t.Helper()
	var recs []Record
	err := replay(func(r Record) error {
		r.Body = bytes.Clone(r.Body)
		recs = append(recs, r)
		return nil
	})
	return recs, err
}

// checkTestRecords fails unless recs are testBody records 1..n.
func checkTestRecords(t testing.TB, recs []Record, n int) {
	t.Helper()
	if len(recs) != n {
		t.Fatalf("got %d records, want %d", len(recs), n)
	}
	for i, r := range recs {
		seq := uint64(i + 1)
		if r.Seq != seq || r.Type != byte(seq%7) || !bytes.Equal(r.Body, testBody(seq)) {
			t.Fatalf("record %d = {Seq:%d Type:%d Body:%q}, want {Seq:%d Type:%d Body:%q}",
				i, r.Seq, r.Type, r.Body, seq, seq%7, testBody(seq))
		}
	}
}

// frameSize is the size on disk of testBody(seq)'s frame.
func frameSize(seq uint64) int { return minFrameSize + len(testBody(seq)) }

// readAll reads a file or fails the test.
func readAll(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// writeAll writes a file or fails the test.
func writeAll(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// corruptOffset returns the offset of a *CorruptError, or fails the test.
func corruptOffset(t testing.TB, err error) int64 {
	t.Helper()
	var ce *CorruptError
	if !errors.As(err, &ce) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("err = %v, want a *CorruptError", err)
	}
	return ce.Offset
}

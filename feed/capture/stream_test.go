package capture

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"sgw/feed/soupbin"
)

// TestReaderVersions: a version-2 reader reads version-1 files (the
// testdata seeds were written by a version-1 build) as before, stream
// records only in version 2, and refuses a later version with ErrFormat.
func TestReaderVersions(t *testing.T) {
	for _, name := range []string{"testdata/arbitrated.cap", "testdata/szse-arbitrated.cap", "testdata/primary.cap"} {
		h, recs := readAll(t, name)
		if h.Version != 1 || len(recs) == 0 {
			t.Fatalf("%s: version %d, %d records", name, h.Version, len(recs))
		}
	}
	file := func(version uint16, t RecordType) []byte {
		b, _ := AppendHeader(nil, Header{Kind: KindArbitrated, Source: Arbitrated, Feed: "x", Stream: "arbitrated", Protocol: ProtocolITCH})
		binary.BigEndian.PutUint16(b[6:], version)
		return AppendRecord(b, t, Primary, 1, 0, nil)
	}
	r, err := NewReader(bytes.NewReader(file(1, TypeStream)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a stream record in a version-1 file: %v, want ErrCorrupt", err)
	}
	r, err = NewReader(bytes.NewReader(file(2, TypeStream)))
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := r.Next(); err != nil || rec.Type != TypeStream {
		t.Fatalf("a stream record in a version-2 file: %+v, %v", rec, err)
	}
	if _, err := NewReader(bytes.NewReader(file(3, TypeData))); !errors.Is(err, ErrFormat) {
		t.Fatalf("version 3: %v, want ErrFormat", err)
	}
}

// TestRecorderStreamAfterOverflow: a stream record that a full queue
// drops is written after the gap record that marks the drop, so that
// what follows is still numbered afresh (a new trading day comes with a
// burst: the rebuild).
func TestRecorderStreamAfterOverflow(t *testing.T) {
	hold := make(chan struct{})
	r := newTestRecorder(t, Config{QueueBytes: 1, Record: []string{RecordArbitrated}, Hold: hold})
	r.Start()
	msg := make([]byte, 40)
	seq := uint64(0)
	for r.Stats().Dropped["arbitrated"] < 10 {
		seq++
		r.Message(Primary, seq, int64(seq), msg)
	}
	r.NewStream(Backup, 1, 0, []byte("S2")) // dropped
	close(hold)                             // the writer may go on
	// Until the writer frees a batch, records are still dropped: offer the
	// new stream's messages until three in a row are kept.
	var kept []uint64
	for s := uint64(1); len(kept) < 3 || kept[len(kept)-3] != s-3; s++ {
		if s > 1<<20 {
			t.Fatal("the writer never freed a batch")
		}
		before := r.Stats().Dropped["arbitrated"]
		r.Message(Backup, s, 1, msg)
		if r.Stats().Dropped["arbitrated"] == before {
			kept = append(kept, s)
		} else {
			runtime.Gosched()
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "*.cap"))
	var got []uint64
	var streams []uint32
	if _, err := Scan(files, func(m Message) error {
		got, streams = append(got, m.Seq), append(streams, m.Stream)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var second []uint64
	for i, st := range streams {
		if st == 1 {
			second = append(second, got[i])
		}
	}
	if !slices.Equal(second, kept) {
		t.Fatalf("scanned the new stream's %v, want %v (kept)", second, kept)
	}
	_, recs := readAll(t, files[0])
	var gapAt, streamAt int
	for i, rec := range recs {
		switch rec.Type {
		case TypeGap:
			gapAt = i
		case TypeStream:
			streamAt = i
			if rec.Source != Backup || string(rec.Data) != "S2" {
				t.Fatalf("stream record %+v", rec)
			}
		}
	}
	if streamAt != gapAt+1 {
		t.Fatalf("stream record at %d, gap at %d", streamAt, gapAt)
	}
}

// TestScanSourceNewSession: an ITCH source stream whose connection logs
// into another session (a new day) begins a new stream: its messages are
// played from 1 again. Before, they were skipped up to the old session's
// extent.
func TestScanSourceNewSession(t *testing.T) {
	b, _ := AppendHeader(nil, Header{Kind: KindSource, Source: Primary, Feed: "x", Stream: "primary", Protocol: ProtocolITCH})
	conn := func(b []byte, session string, n int) []byte {
		b = AppendRecord(b, TypeOpen, Primary, 1, 1, nil)
		raw := soupbin.AppendLoginAccepted(nil, session, 1)
		for i := range n {
			raw = soupbin.AppendSequenced(raw, []byte{'X', byte(i)})
		}
		return AppendRecord(b, TypeData, Primary, 1, 0, raw)
	}
	b = conn(b, "S1", 5)
	b = conn(b, "S1", 5) // a reconnect: copies
	b = conn(b, "S2", 3)
	name := filepath.Join(t.TempDir(), "x-primary-1.cap")
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
	var got []uint64
	if _, err := Scan([]string{name}, func(m Message) error { got = append(got, uint64(m.Stream)<<32|m.Seq); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []uint64{1, 2, 3, 4, 5, 1<<32 | 1, 1<<32 | 2, 1<<32 | 3}
	if !slices.Equal(got, want) {
		t.Fatalf("scanned %x, want %x", got, want)
	}
}

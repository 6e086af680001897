package capture

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"sgw/feed/szse"
)

// readAll returns the header and records of one file, the data copied.
func readAll(t *testing.T, name string) (Header, []Record) {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var recs []Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return r.Header(), recs
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rec.Data = slices.Clone(rec.Data)
		recs = append(recs, rec)
	}
}

func newTestRecorder(t *testing.T, cfg Config) *Recorder {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	r, err := New(cfg, "sse", "itch", nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRecorderStreams(t *testing.T) {
	r := newTestRecorder(t, Config{})
	r.Start()
	r.Open(Primary, 10, 1)
	r.Raw(Primary, 11, []byte("abc"))
	r.Raw(Backup, 12, make([]byte, MaxPayload+5)) // split in two records
	r.Message(Backup, 1, 12, []byte("msg1"))
	r.Message(Primary, 2, 13, []byte("msg2"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		stream string
		want   []Record
	}{
		{"primary", []Record{{Type: TypeOpen, Source: Primary, Recv: 10, Seq: 1, Data: []byte{}}, {Type: TypeData, Source: Primary, Recv: 11, Data: []byte("abc")}}},
		{"backup", []Record{{Type: TypeData, Source: Backup, Recv: 12, Data: make([]byte, MaxPayload)}, {Type: TypeData, Source: Backup, Recv: 12, Data: make([]byte, 5)}}},
		{"arbitrated", []Record{{Type: TypeData, Source: Backup, Recv: 12, Seq: 1, Data: []byte("msg1")}, {Type: TypeData, Source: Primary, Recv: 13, Seq: 2, Data: []byte("msg2")}}},
	} {
		t.Run(tc.stream, func(t *testing.T) {
			files, err := filepath.Glob(filepath.Join(r.cfg.Dir, "sse-"+tc.stream+"-*.cap"))
			if err != nil || len(files) != 1 {
				t.Fatalf("files %v, %v", files, err)
			}
			h, recs := readAll(t, files[0])
			if h.Feed != "sse" || h.Stream != tc.stream || h.Protocol != "itch" || h.Version != Version {
				t.Errorf("header %+v", h)
			}
			if len(recs) != len(tc.want) {
				t.Fatalf("%d records, want %d", len(recs), len(tc.want))
			}
			for i, w := range tc.want {
				g := recs[i]
				if g.Type != w.Type || g.Source != w.Source || g.Recv != w.Recv || g.Seq != w.Seq || string(g.Data) != string(w.Data) {
					t.Errorf("record %d: %v %d %d %d %d bytes, want %v %d %d %d %d bytes", i, g.Type, g.Source, g.Recv, g.Seq, len(g.Data),
						w.Type, w.Source, w.Recv, w.Seq, len(w.Data))
				}
			}
		})
	}
}

// TestRecorderOversizeMessage: an arbitrated message longer than a record
// can hold is dropped, counted and marked by a gap record before the next
// one, not cut.
func TestRecorderOversizeMessage(t *testing.T) {
	r := newTestRecorder(t, Config{Record: []string{RecordArbitrated}})
	r.Start()
	r.Message(Primary, 0, 1, make([]byte, MaxPayload+1))
	r.Message(Primary, 2, 2, []byte("next"))
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if d := r.Stats().Dropped["arbitrated"]; d != 1 {
		t.Errorf("%d dropped, want 1", d)
	}
	files, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "*.cap"))
	_, recs := readAll(t, files[0])
	if len(recs) != 2 || recs[0].Type != TypeGap || recs[0].Seq != 1 || recs[1].Type != TypeData || string(recs[1].Data) != "next" {
		t.Errorf("records %+v, want a gap of 1 and the next message", recs)
	}
}

// TestRecorderOverflow keeps the writer busy while the feed goes on
// recording: every call returns at once (the test would hang otherwise),
// the records that do not fit are counted, and the file marks them with
// one gap record where they are missing.
func TestRecorderOverflow(t *testing.T) {
	hold := make(chan struct{})
	r := newTestRecorder(t, Config{QueueBytes: 1, Record: []string{RecordArbitrated}, Hold: hold})
	r.Start()
	msg := make([]byte, 40)
	seq := uint64(0)
	// Fill the only batch; the next record hands it to the writer, which
	// holds it, and from then on every record is dropped.
	for r.Stats().Dropped["arbitrated"] < 100 {
		seq++
		r.Message(Primary, seq, int64(seq), msg)
	}
	close(hold) // the writer may go on
	for range 10 {
		seq++
		r.Message(Primary, seq, int64(seq), msg) // dropped or kept, as the writer catches up
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	dropped := r.Stats().Dropped["arbitrated"]
	files, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "*.cap"))
	_, recs := readAll(t, files[0])
	var gaps, data uint64
	want := uint64(1)
	for _, rec := range recs {
		switch rec.Type {
		case TypeGap:
			gaps += rec.Seq
			want += rec.Seq
		case TypeData:
			data++
			if rec.Seq != want {
				t.Fatalf("record seq %d, want %d (gap misplaced)", rec.Seq, want)
			}
			want++
		}
	}
	if gaps != dropped || data+dropped != seq || dropped < 100 {
		t.Errorf("gaps mark %d records, %d data records + %d dropped, want %d dropped (>= 100) and %d", gaps, data, dropped, dropped, seq)
	}
}

func TestRecorderRotation(t *testing.T) {
	r := newTestRecorder(t, Config{MaxFileBytes: 1000, MaxFiles: 3, Record: []string{RecordArbitrated}})
	r.Start()
	for seq := uint64(1); seq <= 200; seq++ {
		r.Message(Primary, seq, int64(seq), make([]byte, 40))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(r.cfg.Dir, "*.cap"))
	if len(files) != 3 {
		t.Fatalf("%d files kept, want 3", len(files))
	}
	if st := r.Stats(); st.Files < 10 {
		t.Errorf("%d files opened, want many", st.Files)
	}
	// The files kept are the newest: the last one ends at 200, and they
	// follow each other.
	next := uint64(0)
	for _, f := range files {
		fi, _ := os.Stat(f)
		if fi.Size() > 1000 {
			t.Errorf("%s: %d bytes > max_file_bytes", f, fi.Size())
		}
		_, recs := readAll(t, f)
		for _, rec := range recs {
			if next != 0 && rec.Seq != next {
				t.Fatalf("seq %d after %d", rec.Seq, next-1)
			}
			next = rec.Seq + 1
		}
	}
	if next != 201 {
		t.Errorf("last seq %d, want 200", next-1)
	}
}

func TestReaderErrors(t *testing.T) {
	hdr, _ := AppendHeader(nil, Header{Feed: "f", Stream: "arbitrated", Protocol: "itch", Kind: KindArbitrated, Source: Arbitrated})
	rec := AppendRecord(nil, TypeData, Primary, 1, 1, []byte("hello"))
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"bad magic", append([]byte("XXXCAP"), hdr[6:]...), ErrFormat},
		{"bad version", append(append([]byte(Magic), 0, 9), hdr[8:]...), ErrFormat},
		{"short header", hdr[:12], ErrFormat},
		{"truncated", append(slices.Clone(hdr), rec[:len(rec)-1]...), ErrTruncated},
		{"bad checksum", append(slices.Clone(hdr), append(slices.Clone(rec[:len(rec)-1]), rec[len(rec)-1]^1)...), ErrCorrupt},
		{"bad length", append(slices.Clone(hdr), 0, 0, 0, 3), ErrCorrupt},
		{"clean", append(slices.Clone(hdr), rec...), io.EOF},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytesReader(tc.b))
			for err == nil {
				_, err = r.Next()
			}
			if !errors.Is(err, tc.want) {
				t.Errorf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"record", Config{Dir: "x", Record: []string{"books"}}},
		{"fsync", Config{Dir: "x", Fsync: "always"}},
		{"negative", Config{Dir: "x", MaxFiles: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := tc.cfg.WithDefaults(); !errors.Is(err, ErrConfig) {
				t.Errorf("error %v, want ErrConfig", err)
			}
		})
	}
	if r, err := New(Config{}, "f", "itch", nil); r != nil || err != nil {
		t.Errorf("zero config: %v, %v; want nil, nil", r, err)
	}
	var r *Recorder // a nil recorder records nothing and does not panic
	r.Start()
	r.Raw(Primary, 1, []byte("x"))
	r.Message(Primary, 1, 1, []byte("x"))
	if err := r.Close(); err != nil {
		t.Error(err)
	}
}

// TestScanSZSE scans the SZSE seed captures (real frames recorded by an
// SZSE feed from the simulator; the arbitrated seed holds the first
// records and those around the first snapshot): each stream yields whole
// frames of orders, trades and snapshots, the records' numbers rising in
// their channel, the snapshots unnumbered.
func TestScanSZSE(t *testing.T) {
	var snapshots int
	for _, stream := range []string{"primary", "backup", "arbitrated"} {
		t.Run(stream, func(t *testing.T) {
			var records int
			next := map[uint16]uint64{}
			var m szse.Message
			h, err := Scan([]string{"testdata/szse-" + stream + ".cap"}, func(msg Message) error {
				n, err := szse.Decode(msg.Data, &m)
				if err != nil || n != len(msg.Data) {
					t.Fatalf("message is not one frame: %d of %d bytes, %v", n, len(msg.Data), err)
				}
				if msg.Seq == 0 {
					if m.Type != szse.TypeSnapshot || m.Snapshot.ChannelNo != msg.Channel {
						t.Fatalf("unnumbered %s of channel %d", m.Type, msg.Channel)
					}
					snapshots++
					return nil
				}
				if msg.Seq < next[msg.Channel] || m.Type == szse.TypeSnapshot {
					t.Fatalf("channel %d: %s %d after %d", msg.Channel, m.Type, msg.Seq, next[msg.Channel]-1)
				}
				next[msg.Channel] = msg.Seq + 1
				records++
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if h.Protocol != ProtocolSZSE || h.Stream != stream {
				t.Errorf("header %+v", h)
			}
			if records == 0 {
				t.Errorf("no records")
			}
		})
	}
	if snapshots == 0 {
		t.Errorf("no snapshots")
	}
}

// TestScanFillsHoles: in an SZSE stream a message below what was passed
// is passed on when it fills a hole, once; in an ITCH stream never.
func TestScanFillsHoles(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fills bool
		in    []uint64
		want  []uint64
	}{
		{"szse resend after live", true, []uint64{5, 6, 1, 2, 3, 4, 2, 7}, []uint64{5, 6, 1, 2, 3, 4, 7}},
		{"szse split hole", true, []uint64{1, 9, 5, 5, 4, 6, 2, 8, 3, 7, 1}, []uint64{1, 9, 5, 4, 6, 2, 8, 3, 7}},
		{"szse rebuild", true, []uint64{1, 2, 4, 1, 2, 3, 4, 5}, []uint64{1, 2, 4, 3, 5}},
		{"itch", false, []uint64{5, 6, 1, 2, 7}, []uint64{5, 6, 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &passed{next: 1}
			var got []uint64
			for _, seq := range tc.in {
				if p.take(seq, tc.fills) {
					got = append(got, seq)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("passed %v, want %v", got, tc.want)
			}
		})
	}
}

// TestScanRefusesMixedStreams: files of another protocol or stream than
// the first are an error before any of their messages is passed on.
func TestScanRefusesMixedStreams(t *testing.T) {
	for _, files := range [][]string{
		{"testdata/arbitrated.cap", "testdata/szse-arbitrated.cap"},
		{"testdata/szse-primary.cap", "testdata/szse-arbitrated.cap"},
	} {
		t.Run(files[0]+"+"+files[1], func(t *testing.T) {
			count := func(files []string) (int, error) {
				n := 0
				_, err := Scan(files, func(Message) error { n++; return nil })
				return n, err
			}
			alone, err := count(files[:1])
			if err != nil {
				t.Fatal(err)
			}
			mixed, err := count(files)
			if err == nil || mixed != alone {
				t.Fatalf("%d messages (the first file alone: %d), error %v", mixed, alone, err)
			}
		})
	}
}

package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// FuzzReader decodes arbitrary bytes as a capture file. Seeds are real
// captures of the simulator's feed (testdata: the first records of a
// primary, a backup and an arbitrated stream, recorded by the feed) and
// variants of them. The reader must never panic; every record it accepts
// must encode back to the bytes it was read from, and the SoupBinTCP
// cutter Scan uses must take whatever a source stream holds.
func FuzzReader(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.cap")
	if len(files) == 0 {
		f.Fatal("no seed captures in testdata")
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-3]) // torn last record
	}
	hdr, _ := AppendHeader(nil, Header{Kind: KindSource, Source: Primary, Feed: "x", Stream: "primary", Protocol: "itch"})
	f.Add(AppendRecord(bytes.Clone(hdr), TypeGap, Primary, 1, 7, nil))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("header error %v is not ErrFormat", err)
			}
			return
		}
		var raw rawState
		off := int(r.off)
		for {
			rec, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) {
					t.Fatalf("record error %v is neither ErrCorrupt nor ErrTruncated", err)
				}
				return
			}
			enc := AppendRecord(nil, rec.Type, rec.Source, rec.Recv, rec.Seq, rec.Data)
			if !bytes.Equal(enc, b[off:off+len(enc)]) {
				t.Fatalf("record at %d does not encode back to its bytes", off)
			}
			off += len(enc)
			if r.Header().Kind == KindSource {
				_ = raw.record(rec, func(m Message) error {
					if len(m.Data) > maxPacket {
						t.Fatalf("message of %d bytes", len(m.Data))
					}
					return nil
				})
			}
		}
	})
}

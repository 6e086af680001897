package capture

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"sgw/feed/szse"
)

// FuzzReader decodes arbitrary bytes as a capture file. Seeds are real
// captures of the simulator's feeds (testdata: the first records of a
// primary, a backup and an arbitrated stream of an ITCH feed and of an
// SZSE feed, recorded by the gateway's feed) and variants of them. The
// reader must never panic; every record it accepts must encode back to
// the bytes it was read from, and the cutter Scan uses for the file's
// protocol and kind must take whatever the stream holds: an ITCH message
// is at most one packet, an SZSE message exactly one whole frame of an
// order, a trade or a snapshot.
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
	// Version 2: each arbitrated seed again with a stream record (a new
	// session, a channel's new day) after its first half.
	for _, name := range []string{"testdata/arbitrated.cap", "testdata/szse-arbitrated.cap"} {
		f.Add(withStream(f, name))
	}
	for _, p := range []string{ProtocolITCH, ProtocolSZSE} {
		hdr, _ := AppendHeader(nil, Header{Kind: KindSource, Source: Primary, Feed: "x", Stream: "primary", Protocol: p})
		f.Add(AppendRecord(bytes.Clone(hdr), TypeGap, Primary, 1, 7, nil))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := NewReader(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("header error %v is not ErrFormat", err)
			}
			return
		}
		h := r.Header()
		cut := newCutter(h)
		var m szse.Message
		check := func(msg Message) error {
			if h.Protocol != ProtocolSZSE {
				if h.Kind == KindSource && len(msg.Data) > maxPacket {
					t.Fatalf("message of %d bytes", len(msg.Data))
				}
				return nil
			}
			n, err := szse.Decode(msg.Data, &m)
			switch {
			case err != nil || n != len(msg.Data):
				t.Fatalf("message of %d bytes is not one SZSE frame: %d, %v", len(msg.Data), n, err)
			case m.Type != szse.TypeOrder && m.Type != szse.TypeTrade && m.Type != szse.TypeSnapshot:
				t.Fatalf("message of type %s", m.Type)
			case (m.Type == szse.TypeSnapshot) != (msg.Seq == 0):
				t.Fatalf("%s with sequence number %d", m.Type, msg.Seq)
			}
			return nil
		}
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
			if err := cut.record(rec, check, func(uint16) {}); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("cutting record at %d: %v is not ErrCorrupt", off, err)
			}
		}
	})
}

// withStream returns capture file name as version 2 with a stream record
// (channel: the first record's, session "S2") inserted after half of its
// records.
func withStream(f *testing.F, name string) []byte {
	b, err := os.ReadFile(name)
	if err != nil {
		f.Fatal(err)
	}
	r, err := NewReader(bytes.NewReader(b))
	if err != nil {
		f.Fatal(err)
	}
	h := r.Header()
	var recs [][]byte
	var channel uint16
	for {
		rec, err := r.Next()
		if err != nil {
			break
		}
		if len(recs) == 0 && h.Protocol == ProtocolSZSE && len(rec.Data) >= 10 {
			channel = uint16(rec.Data[8])<<8 | uint16(rec.Data[9]) // the ChannelNo after the 8-byte header
		}
		recs = append(recs, AppendRecord(nil, rec.Type, rec.Source, rec.Recv, rec.Seq, rec.Data))
	}
	out, err := AppendHeader(nil, h)
	if err != nil {
		f.Fatal(err)
	}
	for i, rec := range recs {
		if i == len(recs)/2 {
			var session []byte
			if h.Protocol == ProtocolITCH {
				session = []byte("S2")
			}
			out = AppendRecord(out, TypeStream, Primary, 1, uint64(channel), session)
		}
		out = append(out, rec...)
	}
	return out
}

package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpen opens arbitrary file contents. Open must not panic; it either
// refuses the file with one of its documented errors, leaving it alone, or
// recovers a prefix of it whose records all verify, keeps appending after
// it and reopens cleanly.
func FuzzOpen(f *testing.F) {
	golden, err := os.ReadFile("testdata/golden.jrnl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)-3])                           // torn tail
	f.Add(append(bytes.Clone(golden), 0, 0, 0, 0x7e, 1, 2)) // garbage tail
	f.Add(golden[:headerSize])                              // header only
	f.Add([]byte{})                                         // empty file
	mid := bytes.Clone(golden)
	mid[headerSize+frameHeaderSize+20] ^= 1 // damage in record 1 of 4
	f.Add(mid)
	v3, err := os.ReadFile("testdata/golden-v3.jrnl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v3)
	f.Add(v3[:len(v3)-3])
	r1 := headerSize + frameHeaderSize + payloadHeaderSize + len(goldenRecords[0].Body)
	r3 := r1 + frameHeaderSize + payloadHeaderSize + len(goldenRecords[1].Body)
	tornBatch := bytes.Clone(v3)
	tornBatch[r3+frameHeaderSize+3] ^= 1 // record 3 of batch {3, 4} damaged: a torn batch
	f.Add(tornBatch)
	laterBatch := bytes.Clone(v3)
	laterBatch[r1+frameHeaderSize+3] ^= 1 // record 2 damaged, batch {3, 4} after it
	f.Add(laterBatch)

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.jrnl")
		writeAll(t, path, data)
		j, err := Open(Config{Path: path, NoSync: true})
		if err != nil {
			// A sealed header (version 2 or 4) without a key ring is
			// ErrKey, or ErrTampered when not even its key id reads.
			if !errors.Is(err, ErrBadHeader) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrCorrupt) &&
				!errors.Is(err, ErrKey) && !errors.Is(err, ErrTampered) {
				t.Fatalf("Open: unexpected error %v", err)
			}
			if got := readAll(t, path); !bytes.Equal(got, data) {
				t.Fatalf("Open changed a file it refused")
			}
			return
		}
		rec := j.Recovered()
		var n int64
		if err := j.Replay(func(r Record) error {
			n++
			if r.Seq != uint64(n) {
				t.Fatalf("Replay: record %d has Seq %d", n, r.Seq)
			}
			return nil
		}); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if n != rec.Records {
			t.Fatalf("Replay delivered %d records, Recovered says %d", n, rec.Records)
		}
		if seq, err := j.Append(9, []byte("after")); err != nil || seq != uint64(n+1) {
			t.Fatalf("Append = %d, %v; want %d", seq, err, n+1)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}

		got := readAll(t, path)
		kept := int64(len(data)) - rec.TruncatedBytes
		if len(data) > 0 && (kept < headerSize || !bytes.Equal(got[:kept], data[:kept])) {
			t.Fatalf("recovery kept %d bytes that are not a prefix of the input", kept)
		}
		if seq := walkFrames(t, got); seq != uint64(n+1) {
			t.Fatalf("file holds %d records, want %d", seq, n+1)
		}
		if rec.TruncatedBytes > 0 && got[9] == formatVersion {
			checkCutIsTorn(t, data, kept, uint64(n), 17, 21)
		}
		j, err = Open(Config{Path: path, NoSync: true})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if r := j.Recovered(); r != (Recovered{Records: n + 1}) {
			t.Fatalf("reopen Recovered = %+v, want %d records, nothing truncated", r, n+1)
		}
		j.Close()
	})
}

// walkFrames walks a plain file independently of the scanner: every
// frame's CRC verifies, the sequence numbers are dense from 1 and, in
// format 3, each batch index is 0 (a new batch) or one more than the last.
// It returns the number of records.
func walkFrames(t *testing.T, data []byte) uint64 {
	t.Helper()
	version := binary.BigEndian.Uint16(data[8:])
	minPayload := 17
	if version == 3 {
		minPayload = 21
	}
	tab := crc32.MakeTable(crc32.Castagnoli)
	off, seq, idx := headerSize, uint64(0), int64(-1)
	for off < len(data) {
		if len(data)-off < 8 {
			t.Fatalf("%d stray bytes at offset %d", len(data)-off, off)
		}
		l := int(binary.BigEndian.Uint32(data[off:]))
		if l < minPayload || l > len(data)-off-8 {
			t.Fatalf("bad length %d at offset %d", l, off)
		}
		p := data[off+8 : off+8+l]
		if crc32.Checksum(p, tab) != binary.BigEndian.Uint32(data[off+4:]) {
			t.Fatalf("recovered record at offset %d fails its CRC", off)
		}
		if s := binary.BigEndian.Uint64(p[1:]); s != seq+1 {
			t.Fatalf("record at offset %d has seq %d, want %d", off, s, seq+1)
		}
		if version == 3 {
			i := int64(binary.BigEndian.Uint32(p[17:]))
			if i != 0 && i != idx+1 {
				t.Fatalf("record at offset %d has batch index %d after %d", off, i, idx)
			}
			idx = i
		}
		seq++
		off += 8 + l
	}
	return seq
}

// checkCutIsTorn fails if the bytes Open cut from a format 3 or 4 file
// (data from kept on, after record after) hold a whole frame, at any
// offset, of a later batch than the one holding record after+1: that
// batch was acknowledged, so the damage was not a torn write. It is the
// rule of doc.go written naively (every offset, every checksum). A frame's
// batch index is at idxOff in its payload of at least minPayload bytes; a
// sequence number too high for the frames that fit in the cut cannot be a
// record.
func checkCutIsTorn(t *testing.T, data []byte, kept int64, after uint64, idxOff, minPayload int) {
	t.Helper()
	tab := crc32.MakeTable(crc32.Castagnoli)
	maxSeq := after + uint64((int64(len(data))-kept-1)/int64(8+minPayload)) + 1
	for off := int(kept) + 1; off+8+minPayload <= len(data); off++ {
		l := int(binary.BigEndian.Uint32(data[off:]))
		if l < minPayload || l > len(data)-off-8 {
			continue
		}
		p := data[off+8 : off+8+l]
		if crc32.Checksum(p, tab) != binary.BigEndian.Uint32(data[off+4:]) {
			continue
		}
		seq, idx := binary.BigEndian.Uint64(p[1:]), uint64(binary.BigEndian.Uint32(p[idxOff:]))
		if seq > after && seq <= maxSeq && (idx > seq || seq-idx > after+1 || idx == 1<<32-1) {
			t.Fatalf("Open cut a record of a later batch (seq %d, batch index %d) at offset %d after the damage at %d",
				seq, idx, off, kept)
		}
	}
}

// FuzzOpenSealed opens arbitrary file contents with a key ring, seeded
// with a real sealed file (testdata/golden-sealed.jrnl, test key k1) and
// its torn, tampered and damaged variants. Open must not panic; it either
// refuses the file with one of its documented errors, leaving it alone, or
// recovers a prefix of it whose records all authenticate, keeps appending
// after it and reopens cleanly.
func FuzzOpenSealed(f *testing.F) {
	golden, err := os.ReadFile("testdata/golden-sealed.jrnl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(golden)
	f.Add(golden[:len(golden)-3])                           // torn tail
	f.Add(append(bytes.Clone(golden), 0, 0, 0, 0x7e, 1, 2)) // garbage tail
	f.Add(golden[:sealedHeaderSize])                        // header only
	f.Add(golden[:sealedHeaderSize-1])                      // header cut
	tampered := bytes.Clone(golden)
	first := sealedHeaderSize
	tampered[first+frameHeaderSize+sealedPayloadHeaderSize] ^= 1 // body of record 1, checksum fixed
	recrc(tampered, first)
	f.Add(tampered)
	hdr := bytes.Clone(golden)
	hdr[headerSize+40] ^= 1 // the salt
	f.Add(hdr)
	plain, err := os.ReadFile("testdata/golden.jrnl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(plain)
	v4, err := os.ReadFile("testdata/golden-sealed-v4.jrnl")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(v4)
	f.Add(v4[:len(v4)-3])
	r1 := sealedHeaderSize + sealedFrameSizeOf(goldenRecords[0].Body)
	r3 := r1 + sealedFrameSizeOf(goldenRecords[1].Body)
	tornBatch := bytes.Clone(v4)
	tornBatch[r3+frameHeaderSize+3] ^= 1 // record 3 of batch {3, 4} damaged: a torn batch
	f.Add(tornBatch)
	laterBatch := bytes.Clone(v4)
	laterBatch[r1+frameHeaderSize+3] ^= 1 // record 2 damaged, batch {3, 4} after it
	f.Add(laterBatch)
	tamperedTail := bytes.Clone(tornBatch)
	tamperedTail[len(v4)-1] ^= 1 // and record 4's tag changed, checksum fixed
	recrc(tamperedTail, len(v4)-sealedFrameSizeOf(goldenRecords[3].Body))
	f.Add(tamperedTail)

	keys := keyRing(f, "k1")
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.jrnl")
		writeAll(t, path, data)
		j, err := Open(Config{Path: path, NoSync: true, Keys: keys})
		if err != nil {
			if !errors.Is(err, ErrBadHeader) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrCorrupt) &&
				!errors.Is(err, ErrTampered) && !errors.Is(err, ErrKey) && !errors.Is(err, ErrPlain) {
				t.Fatalf("Open: unexpected error %v", err)
			}
			if got := readAll(t, path); !bytes.Equal(got, data) {
				t.Fatalf("Open changed a file it refused")
			}
			return
		}
		rec := j.Recovered()
		var n int64
		if err := j.Replay(func(r Record) error {
			n++
			if r.Seq != uint64(n) {
				t.Fatalf("Replay: record %d has Seq %d", n, r.Seq)
			}
			return nil
		}); err != nil {
			t.Fatalf("Replay: %v", err)
		}
		if n != rec.Records {
			t.Fatalf("Replay delivered %d records, Recovered says %d", n, rec.Records)
		}
		if seq, err := j.Append(9, []byte("after")); err != nil || seq != uint64(n+1) {
			t.Fatalf("Append = %d, %v; want %d", seq, err, n+1)
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
		got := readAll(t, path)
		kept := int64(len(data)) - rec.TruncatedBytes
		if len(data) > 0 && (kept < sealedHeaderSize || !bytes.Equal(got[:kept], data[:kept])) {
			t.Fatalf("recovery kept %d bytes that are not a prefix of the input", kept)
		}
		if rec.TruncatedBytes > 0 && got[9] == formatSealed {
			checkCutIsTorn(t, data, kept, uint64(n), 21, 25+16)
		}
		var m int64
		if err := ReadFileKeys(path, keys, func(r Record) error {
			m++
			if r.Seq != uint64(m) {
				t.Fatalf("ReadFileKeys: record %d has Seq %d", m, r.Seq)
			}
			return nil
		}); err != nil || m != n+1 {
			t.Fatalf("ReadFileKeys read %d records, %v; want %d, nil", m, err, n+1)
		}
		j, err = Open(Config{Path: path, NoSync: true, Keys: keys})
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		if r := j.Recovered(); r != (Recovered{Records: n + 1}) {
			t.Fatalf("reopen Recovered = %+v, want %d records, nothing truncated", r, n+1)
		}
		j.Close()
	})
}

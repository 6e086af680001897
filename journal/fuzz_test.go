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

	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.jrnl")
		writeAll(t, path, data)
		j, err := Open(Config{Path: path, NoSync: true})
		if err != nil {
			if !errors.Is(err, ErrBadHeader) && !errors.Is(err, ErrVersion) && !errors.Is(err, ErrCorrupt) {
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
		// An independent walk: every frame's CRC verifies and the sequence
		// numbers are dense, through the appended record.
		tab := crc32.MakeTable(crc32.Castagnoli)
		off, seq := headerSize, uint64(0)
		for off < len(got) {
			if len(got)-off < 8 {
				t.Fatalf("%d stray bytes at offset %d", len(got)-off, off)
			}
			l := int(binary.BigEndian.Uint32(got[off:]))
			if l < payloadHeaderSize || l > len(got)-off-8 {
				t.Fatalf("bad length %d at offset %d", l, off)
			}
			p := got[off+8 : off+8+l]
			if crc32.Checksum(p, tab) != binary.BigEndian.Uint32(got[off+4:]) {
				t.Fatalf("recovered record at offset %d fails its CRC", off)
			}
			if s := binary.BigEndian.Uint64(p[1:]); s != seq+1 {
				t.Fatalf("record at offset %d has seq %d, want %d", off, s, seq+1)
			}
			seq++
			off += 8 + l
		}
		if seq != uint64(n+1) {
			t.Fatalf("file holds %d records, want %d", seq, n+1)
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

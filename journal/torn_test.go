package journal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
	"time"

	"sgw/atrest"
)

// Torn batches (doc.go): a crash while a batch spanning several pages is
// written, before its fsync, may leave any of its pages unwritten (zeros)
// or garbled, in any order. These tests make such files deterministically:
// they write batches with the real writer, then damage chosen 4 KiB pages
// of the file.

const pageSize = 4096

// writeBatches appends testBody records to the journal at path, batch by
// batch: sizes[i] records in batch i, each batch one commit (the records
// wait for Close, which commits them with one write). It returns the file
// offset where each batch starts and where the last ends.
func writeBatches(t *testing.T, path string, keys *atrest.KeyRing, sizes ...int) []int {
	t.Helper()
	var starts []int
	for _, n := range sizes {
		j := mustOpen(t, Config{Path: path, NoSync: true, Keys: keys, CommitInterval: time.Hour})
		starts = append(starts, int(j.durable.Load()))
		for range n {
			seq := j.LastSeq() + 1
			if err := j.AppendAsync(byte(seq%7), testBody(seq), func(uint64, error) {}); err != nil {
				t.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return append(starts, len(readAll(t, path)))
}

// frameEnds returns the end offset of each frame of an undamaged file.
func frameEnds(data []byte, lay layout) []int {
	var ends []int
	for off := int(lay.hdr); off < len(data); {
		off += frameHeaderSize + int(binary.BigEndian.Uint32(data[off:]))
		ends = append(ends, off)
	}
	return ends
}

// checkBatchIndexes fails unless the file's frames carry the batch index
// of the batches that start at starts: 0, 1, 2, ... within each.
func checkBatchIndexes(t *testing.T, data []byte, lay layout, starts []int) {
	t.Helper()
	off, b, idx := int(lay.hdr), 0, uint32(0)
	for off < len(data) {
		if off == starts[b+1] {
			b, idx = b+1, 0
		}
		p := data[off+frameHeaderSize:]
		if got := lay.batchIndex(p); got != idx {
			t.Fatalf("frame at offset %d has batch index %d, want %d", off, got, idx)
		}
		off += frameHeaderSize + int(binary.BigEndian.Uint32(data[off:]))
		idx++
	}
}

// damage returns full with the bytes of each page in pages from from on
// zeroed (a page never written back) or garbled, and the file cut at cut.
func damage(full []byte, from int, pages []int, garble bool, cut int, rng *rand.Rand) []byte {
	data := bytes.Clone(full[:cut])
	for _, p := range pages {
		lo, hi := max(p*pageSize, from), min((p+1)*pageSize, len(data))
		for i := lo; i < hi; i++ {
			if garble {
				data[i] = byte(rng.Uint32())
			} else {
				data[i] = 0
			}
		}
	}
	return data
}

// intactFrames returns how many frames at the start of data are exactly
// those of full, and where they end.
func intactFrames(full, data []byte, ends []int, hdr int) (int, int) {
	start := hdr
	for i, end := range ends {
		if end > len(data) || !bytes.Equal(data[start:end], full[start:end]) {
			return i, start
		}
		start = end
	}
	return len(ends), start
}

// pagesOf returns the numbers of the pages that hold bytes of [from, to).
func pagesOf(from, to int) []int {
	var ps []int
	for p := from / pageSize; p*pageSize < to; p++ {
		ps = append(ps, p)
	}
	return ps
}

// subset returns the elements of ps that mask selects.
func subset(ps []int, mask int) []int {
	var s []int
	for i, p := range ps {
		if mask&(1<<i) != 0 {
			s = append(s, p)
		}
	}
	return s
}

// TestRecoverTornBatch writes an acknowledged batch, then a batch of five
// pages, and simulates a crash before the second batch's fsync: every
// subset of its pages lost (zeros) or garbled, with the file also cut at
// each page boundary (its size update lost). Open must cut the file at
// the first damaged record, keep every record before it (the whole first
// batch, acknowledged, always), report the cut in Recovered and append
// after it; ReadFile must report a torn tail. Before the batch index,
// damage with a valid record after it was refused as corruption.
// forBatches runs fn on a plain and on a sealed journal file at path
// written in batches of the given sizes (writeBatches: starts), whose
// bytes are full and layout lay.
func forBatches(t *testing.T, sizes []int, fn func(t *testing.T, path string, keys *atrest.KeyRing, starts []int, full []byte, lay layout)) {
	for _, sealed := range []bool{false, true} {
		name := "plain"
		var keys *atrest.KeyRing
		if sealed {
			name, keys = "sealed", keyRing(t, "k1")
		}
		t.Run(name, func(t *testing.T) {
			path := tempPath(t)
			starts := writeBatches(t, path, keys, sizes...)
			full := readAll(t, path)
			lay, err := readHeader(bytes.NewReader(full), int64(len(full)), keys, path)
			if err != nil {
				t.Fatal(err)
			}
			fn(t, path, keys, starts, full, lay)
		})
	}
}

func TestRecoverTornBatch(t *testing.T) {
	forBatches(t, []int{30, 250}, func(t *testing.T, path string, keys *atrest.KeyRing, starts []int, full []byte, lay layout) {
		checkBatchIndexes(t, full, lay, starts)
		ends := frameEnds(full, lay)
		first, last := starts[1], starts[2] // the torn batch
		pages := pagesOf(first, last)
		if len(pages) < 5 {
			t.Fatalf("the last batch spans %d pages, want 5 or more", len(pages))
		}
		rng := rand.New(rand.NewPCG(5, 6))
		dir := t.TempDir()
		cases := 0
		var cuts []int // the file ends at the start of a page of the batch, or whole
		for _, pg := range pages[1:] {
			cuts = append(cuts, pg*pageSize)
		}
		for _, end := range append(cuts, len(full)) {
			inFile := pagesOf(first, end)
			for mask := range 1 << len(inFile) {
				for _, garble := range []bool{false, true} {
					if mask == 0 && (garble || end == len(full)) {
						continue // nothing damaged
					}
					data := damage(full, first, subset(inFile, mask), garble, end, rng)
					wantRecords, wantEnd := intactFrames(full, data, ends, int(lay.hdr))
					if wantRecords < 30 {
						t.Fatalf("test damages the acknowledged batch")
					}
					cases++
					p := dir + "/torn.jrnl"
					writeAll(t, p, data)
					_, err := collect(t, func(fn func(Record) error) error { return ReadFileKeys(p, keys, fn) })
					if wantEnd < len(data) && !errors.Is(err, ErrTornTail) {
						t.Fatalf("cut %d, pages %v, garble %v: ReadFile err = %v, want ErrTornTail", end, subset(inFile, mask), garble, err)
					}
					j, err := Open(Config{Path: p, NoSync: true, Keys: keys})
					if err != nil {
						t.Fatalf("cut %d, pages %v, garble %v: Open: %v", end, subset(inFile, mask), garble, err)
					}
					if got, want := j.Recovered(), (Recovered{Records: int64(wantRecords), TruncatedBytes: int64(len(data) - wantEnd)}); got != want {
						t.Fatalf("cut %d, pages %v, garble %v: Recovered = %+v, want %+v", end, subset(inFile, mask), garble, got, want)
					}
					recs, err := collect(t, j.Replay)
					if err != nil {
						t.Fatal(err)
					}
					checkTestRecords(t, recs, wantRecords)
					next := uint64(wantRecords + 1)
					if seq, err := j.Append(byte(next%7), testBody(next)); err != nil || seq != next {
						t.Fatalf("Append = %d, %v; want %d", seq, err, next)
					}
					if err := j.Close(); err != nil {
						t.Fatal(err)
					}
					if got := readAll(t, p); !bytes.Equal(got[:wantEnd], full[:wantEnd]) {
						t.Fatalf("cut %d, pages %v: the kept records changed", end, subset(inFile, mask))
					}
				}
			}
		}
		t.Logf("%d torn files recovered", cases)
	})
}

// TestCorruptBatchBeforeLaterBatch: damage in a batch that a later batch
// follows is not a torn write (the later batch was written only after
// the earlier one's fsync returned, so both were acknowledged): Open
// refuses the file with the offset of the first damaged record and leaves
// it alone, whatever pages of the earlier batch are damaged.
func TestCorruptBatchBeforeLaterBatch(t *testing.T) {
	forBatches(t, []int{250, 120}, func(t *testing.T, path string, keys *atrest.KeyRing, starts []int, full []byte, lay layout) {
		ends := frameEnds(full, lay)
		pages := pagesOf(starts[0], starts[1]) // the pages of the earlier batch
		if len(pagesOf(starts[1], starts[2])) < 3 {
			t.Fatal("the later batch must reach past the page it shares with the earlier one")
		}
		rng := rand.New(rand.NewPCG(7, 8))
		p := t.TempDir() + "/corrupt.jrnl"
		for mask := 1; mask < 1<<len(pages); mask++ {
			for _, garble := range []bool{false, true} {
				data := damage(full, starts[0], subset(pages, mask), garble, len(full), rng)
				_, wantOff := intactFrames(full, data, ends, int(lay.hdr))
				writeAll(t, p, data)
				_, err := Open(Config{Path: p, NoSync: true, Keys: keys})
				if off := corruptOffset(t, err); off != int64(wantOff) {
					t.Fatalf("pages %v, garble %v: CorruptError offset %d, want %d (%v)", subset(pages, mask), garble, off, wantOff, err)
				}
				if !bytes.Equal(readAll(t, p), data) {
					t.Fatalf("pages %v: Open changed the file it refused", subset(pages, mask))
				}
			}
		}
	})
}

// TestTornBatchTampered: in a sealed file, a record of the torn batch
// after the damage whose checksum verifies and whose tag does not was
// changed on purpose: Open refuses the file (ErrTampered) rather than cut
// it as a torn tail.
func TestTornBatchTampered(t *testing.T) {
	keys := keyRing(t, "k1")
	path := tempPath(t)
	writeBatches(t, path, keys, 3, 6)
	full := readAll(t, path)
	lay, err := readHeader(bytes.NewReader(full), int64(len(full)), keys, path)
	if err != nil {
		t.Fatal(err)
	}
	ends := frameEnds(full, lay)
	data := bytes.Clone(full)
	data[ends[3]+frameHeaderSize+2] ^= 1 // record 5's sequence number: damage
	data[ends[6]+frameHeaderSize+sealedPayloadHeaderSize] ^= 1
	recrc(data, ends[6]) // record 8's ciphertext changed, checksum fixed
	writeAll(t, path, data)
	_, err = Open(Config{Path: path, NoSync: true, Keys: keys})
	var te *TamperedError
	if !errors.As(err, &te) || te.Seq != 8 || te.Offset != int64(ends[6]) || te.Path != path {
		t.Fatalf("Open err = %v, want a *TamperedError for record 8 at %d", err, ends[6])
	}
	if !bytes.Equal(readAll(t, path), data) {
		t.Fatal("Open changed the file it refused")
	}
}

// TestTornBatchRule pins the rule on files made frame by frame: after
// damage following record s, frames whose batch began at s+1 or before
// (sequence number less batch index) are the torn batch; one of a later
// batch, or with a saturated index, makes the damage corruption. A whole
// frame whose batch index does not follow the one before is corrupt.
func TestTornBatchRule(t *testing.T) {
	lay := plainLayout(formatVersion)
	tests := []struct {
		name    string
		index   []uint32 // batch index of records 1, 2, ...
		damaged int      // record damaged (1-based); 0 for none
		want    int      // records kept; -1: refused at record wantBad
		wantBad int
	}{
		{name: "damage inside the last batch", index: []uint32{0, 1, 2, 0, 1, 2, 3, 4, 5}, damaged: 5, want: 4},
		{name: "damage in the first record of the last batch", index: []uint32{0, 1, 2, 0, 1, 2, 3, 4, 5}, damaged: 4, want: 3},
		{name: "damage in the last record of the last batch", index: []uint32{0, 1, 2, 0, 1, 2, 3, 4, 5}, damaged: 9, want: 8},
		{name: "damage at the end of a batch a later one follows", index: []uint32{0, 1, 2, 0, 1, 2, 3, 4, 5}, damaged: 3, want: -1, wantBad: 3},
		{name: "damage before a later batch's frames", index: []uint32{0, 1, 2, 3, 0, 1, 0, 1, 2}, damaged: 5, want: -1, wantBad: 5},
		{name: "damage in the first batch", index: []uint32{0, 1, 2, 0, 1}, damaged: 1, want: -1, wantBad: 1},
		{name: "damage in a one-record batch before the last", index: []uint32{0, 0, 0, 1}, damaged: 2, want: -1, wantBad: 2},
		{name: "saturated index after damage", index: []uint32{0, 1, 2, 3, maxBatchIndex}, damaged: 3, want: -1, wantBad: 3},
		{name: "index skips", index: []uint32{0, 1, 3}, want: -1, wantBad: 3},
		{name: "first record not first of its batch", index: []uint32{1, 2}, want: -1, wantBad: 1},
		{name: "index after a saturated one", index: []uint32{0, maxBatchIndex}, want: -1, wantBad: 2},
		{name: "new batches", index: []uint32{0, 0, 1, 0, 0}, want: 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := appendHeader(nil, time.Now())
			offs := []int{}
			for i, idx := range tt.index {
				seq := uint64(i + 1)
				offs = append(offs, len(data))
				data = appendFrame(data, lay, idx, byte(seq%7), seq, 0, testBody(seq))
			}
			if tt.damaged > 0 {
				data[offs[tt.damaged-1]+frameHeaderSize+9] ^= 0x40 // its time
			}
			p := tempPath(t)
			writeAll(t, p, data)
			j, err := Open(Config{Path: p, NoSync: true})
			if tt.want < 0 {
				if off := corruptOffset(t, err); off != int64(offs[tt.wantBad-1]) {
					t.Fatalf("CorruptError offset %d, want %d (record %d)", off, offs[tt.wantBad-1], tt.wantBad)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer j.Close()
			if got := j.Recovered().Records; got != int64(tt.want) {
				t.Fatalf("Recovered.Records = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestFormat1KeepsItsFormat: a file of format 1 (an earlier version's)
// opens, is appended to in format 1 and keeps its header; a torn
// multi-page batch in it is still refused, since its frames do not name
// their batch (the limit doc.go states for formats 1 and 2).
func TestFormat1KeepsItsFormat(t *testing.T) {
	path := tempPath(t)
	writeAll(t, path, appendHeaderVersion(nil, formatV1, time.Now()))
	starts := writeBatches(t, path, nil, 30, 250)
	full := readAll(t, path)
	if v := binary.BigEndian.Uint16(full[8:]); v != formatV1 {
		t.Fatalf("format version %d after appends, want 1", v)
	}
	want := headerSize
	for seq := uint64(1); seq <= 280; seq++ {
		want += frameHeaderSize + v1PayloadHeaderSize + len(testBody(seq))
	}
	if len(full) != want {
		t.Fatalf("file is %d bytes, want %d (format 1 frames)", len(full), want)
	}
	recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(path, fn) })
	if err != nil {
		t.Fatal(err)
	}
	checkTestRecords(t, recs, 280)
	pages := pagesOf(starts[1], starts[2])
	data := damage(full, starts[1], pages[1:2], false, len(full), nil)
	writeAll(t, path, data)
	if _, err := Open(Config{Path: path, NoSync: true}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Open err = %v, want ErrCorrupt", err)
	}
}

package journal

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestRecoverTornTail simulates a crash during the last write: the file is
// cut at every byte offset inside the last record, with and without
// garbage after the cut, and Open must recover exactly the earlier records
// and truncate the rest.
func TestRecoverTornTail(t *testing.T) {
	const n = 4
	path := tempPath(t)
	writeRecords(t, path, n)
	full := readAll(t, path)
	lastStart := len(full) - frameSize(n)

	garbage := []struct {
		name  string
		bytes []byte
	}{
		{name: "none"},
		{name: "zeros", bytes: make([]byte, 4096)}, // a file extended but not written
		{name: "ones", bytes: bytes.Repeat([]byte{0xFF}, 37)},
		{name: "random", bytes: randomBytes(rand.New(rand.NewPCG(1, 2)), 300)},
		{name: "frame header", bytes: full[lastStart : lastStart+frameHeaderSize]},
	}
	dir := t.TempDir()
	for cut := lastStart; cut <= len(full); cut++ {
		for _, g := range garbage {
			data := append(bytes.Clone(full[:cut]), g.bytes...)
			wantRecords, wantEnd := n-1, lastStart
			if cut == len(full) {
				wantRecords, wantEnd = n, len(full)
			}
			wantTorn := int64(len(data) - wantEnd)

			p := dir + "/cut.jrnl"
			writeAll(t, p, data)

			// ReadFile reports the torn tail and leaves the file alone.
			recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(p, fn) })
			if wantTorn == 0 && err != nil || wantTorn != 0 && !errors.Is(err, ErrTornTail) {
				t.Fatalf("cut %d, garbage %s: ReadFile err = %v, want torn: %v", cut, g.name, err, wantTorn != 0)
			}
			checkTestRecords(t, recs, wantRecords)

			j, err := Open(Config{Path: p, NoSync: true})
			if err != nil {
				t.Fatalf("cut %d, garbage %s: Open: %v", cut, g.name, err)
			}
			if got, want := j.Recovered(), (Recovered{Records: int64(wantRecords), TruncatedBytes: wantTorn}); got != want {
				t.Errorf("cut %d, garbage %s: Recovered = %+v, want %+v", cut, g.name, got, want)
			}
			recs, err = collect(t, j.Replay)
			if err != nil {
				t.Fatalf("cut %d, garbage %s: Replay: %v", cut, g.name, err)
			}
			checkTestRecords(t, recs, wantRecords)
			next := uint64(wantRecords + 1)
			if seq, err := j.Append(byte(next%7), testBody(next)); err != nil || seq != next {
				t.Fatalf("cut %d, garbage %s: Append = %d, %v; want %d", cut, g.name, seq, err, next)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, p); !bytes.Equal(got[:wantEnd], full[:wantEnd]) || len(got) != wantEnd+frameSize(next) {
				t.Fatalf("cut %d, garbage %s: file after recovery and one append is %d bytes, want %d with the good prefix intact",
					cut, g.name, len(got), wantEnd+frameSize(next))
			}
		}
	}
}

// TestCorruptMiddle damages each byte of a record that valid records follow:
// Open must refuse the file with the record's offset and leave it alone.
func TestCorruptMiddle(t *testing.T) {
	const n = 5
	path := tempPath(t)
	writeRecords(t, path, n)
	full := readAll(t, path)
	start := headerSize + frameSize(1) // record 2
	dir := t.TempDir()
	for i := start; i < start+frameSize(2); i++ {
		data := bytes.Clone(full)
		data[i] ^= 0x5A
		p := dir + "/corrupt.jrnl"
		writeAll(t, p, data)

		_, err := Open(Config{Path: p, NoSync: true})
		if off := corruptOffset(t, err); off != int64(start) {
			t.Fatalf("byte %d flipped: CorruptError offset %d, want %d (%v)", i, off, start, err)
		}
		if got := readAll(t, p); !bytes.Equal(got, data) {
			t.Fatalf("byte %d flipped: Open changed the corrupt file", i)
		}

		recs, err := collect(t, func(fn func(Record) error) error { return ReadFile(p, fn) })
		if off := corruptOffset(t, err); off != int64(start) {
			t.Fatalf("byte %d flipped: ReadFile CorruptError offset %d, want %d", i, off, start)
		}
		checkTestRecords(t, recs, 1)
	}
}

// TestCorruptMiddleZeroed covers a block of zeros (a lost page) in the
// middle of the file.
func TestCorruptMiddleZeroed(t *testing.T) {
	path := tempPath(t)
	writeRecords(t, path, 200)
	data := readAll(t, path)
	clear(data[4096 : 2*4096])
	writeAll(t, path, data)
	_, err := Open(Config{Path: path, NoSync: true})
	if off := corruptOffset(t, err); off > 4096 {
		t.Errorf("CorruptError offset %d, want the record straddling 4096", off)
	}
}

func TestSequenceErrors(t *testing.T) {
	tests := []struct {
		name    string
		seqs    []uint64
		wantOff int // index of the record reported
	}{
		{name: "does not start at 1", seqs: []uint64{2, 3}, wantOff: 0},
		{name: "gap", seqs: []uint64{1, 2, 4, 5}, wantOff: 2},
		{name: "repeat", seqs: []uint64{1, 2, 2}, wantOff: 2},
		{name: "gap in last record", seqs: []uint64{1, 3}, wantOff: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := appendHeader(nil, time.Now())
			var wantOff int
			for i, s := range tt.seqs {
				if i == tt.wantOff {
					wantOff = len(data)
				}
				data = appendFrame(data, plainLayout(formatVersion), 0, 1, s, 0, testBody(s))
			}
			p := tempPath(t)
			writeAll(t, p, data)
			_, err := Open(Config{Path: p, NoSync: true})
			if off := corruptOffset(t, err); off != int64(wantOff) {
				t.Errorf("CorruptError offset %d, want %d", off, wantOff)
			}
		})
	}
}

// TestUnknownVersionNamed: a header of a version this package does not
// read (a later version's file, or a flipped bit) is refused naming the
// version and the file, which the operator needs to tell the two apart.
// Before, the error named the file only.
func TestUnknownVersionNamed(t *testing.T) {
	for _, v := range []uint16{0, 5, 7, 0x0103} {
		t.Run(fmt.Sprint(v), func(t *testing.T) {
			data := appendHeaderVersion(nil, v, time.Now())
			p := tempPath(t)
			writeAll(t, p, data)
			_, err := Open(Config{Path: p, NoSync: true})
			want := fmt.Sprintf("journal: unsupported format version %d in %s (", v, p)
			if !errors.Is(err, ErrVersion) || !strings.HasPrefix(err.Error(), want) {
				t.Fatalf("Open err = %v, want ErrVersion starting %q", err, want)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	good := appendHeader(nil, time.Now())
	v5 := bytes.Clone(good)
	v5[9] = 5
	sealedShort := bytes.Clone(good)
	sealedShort[9] = formatSealed // a sealed header cut short
	tests := []struct {
		name    string
		data    []byte
		wantErr error
	}{
		{name: "empty file gets a header", data: nil},
		{name: "header only", data: good},
		{name: "not a journal", data: []byte("order_id,account,symbol,qty\n1,A1,600519.SH,100\n"), wantErr: ErrBadHeader},
		{name: "short", data: good[:10], wantErr: ErrBadHeader},
		{name: "future version", data: v5, wantErr: ErrVersion},
		{name: "sealed header cut short", data: sealedShort, wantErr: ErrBadHeader},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tempPath(t)
			writeAll(t, p, tt.data)
			j, err := Open(Config{Path: p, NoSync: true})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Open err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				if got := readAll(t, p); !bytes.Equal(got, tt.data) {
					t.Errorf("Open changed a file it refused")
				}
				return
			}
			if seq, err := j.Append(1, nil); seq != 1 || err != nil {
				t.Errorf("Append = %d, %v; want 1, nil", seq, err)
			}
			if err := j.Close(); err != nil {
				t.Fatal(err)
			}
			if got := readAll(t, p); checkHeader(got) != nil {
				t.Errorf("file header %q invalid", got[:min(len(got), headerSize)])
			}
		})
	}
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

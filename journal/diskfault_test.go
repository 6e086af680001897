package journal

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"testing"

	"sgw/atrest"
)

// diskFile wraps the journal file as a failing disk does: a write can
// stop part way with ENOSPC, an fsync fail with EIO. It counts the
// fsyncs that follow a failed one, to show none is a retry of the data.
type diskFile struct {
	f           *os.File
	failWrite   atomic.Bool // the next write writes half and fails ENOSPC
	failSync    atomic.Bool // every fsync fails EIO until a truncate
	truncated   atomic.Bool
	syncsAfter  atomic.Int64 // fsyncs after a failed one, before a truncate
	syncFailed  atomic.Bool
	writesAfter atomic.Int64 // writes after a failed write or fsync
	failed      atomic.Bool
}

var _ syncWriter = (*diskFile)(nil)

func (d *diskFile) Write(p []byte) (int, error) {
	if d.failed.Load() {
		d.writesAfter.Add(1)
	}
	if d.failWrite.Load() {
		d.failed.Store(true)
		n, _ := d.f.Write(p[:len(p)/2])
		return n, &os.PathError{Op: "write", Path: d.f.Name(), Err: syscall.ENOSPC}
	}
	return d.f.Write(p)
}

func (d *diskFile) Sync() error {
	if d.syncFailed.Load() && !d.truncated.Load() {
		d.syncsAfter.Add(1)
	}
	if d.failSync.Load() && !d.truncated.Load() {
		d.syncFailed.Store(true)
		d.failed.Store(true)
		return &os.PathError{Op: "sync", Path: d.f.Name(), Err: syscall.EIO}
	}
	return d.f.Sync()
}

func (d *diskFile) Truncate(n int64) error {
	d.truncated.Store(true)
	return d.f.Truncate(n)
}

// TestDiskFaults drills ENOSPC on write and EIO on fsync, plain and
// sealed: the failed record is never acknowledged, the fsync is never
// retried for its data, every later append is refused, the file holds
// exactly the records acknowledged, and it reopens clean.
func TestDiskFaults(t *testing.T) {
	for _, sealed := range []bool{false, true} {
		for _, fault := range []string{"write ENOSPC", "fsync EIO"} {
			t.Run(fmt.Sprintf("sealed %v, %s", sealed, fault), func(t *testing.T) {
				var keys *atrest.KeyRing
				if sealed {
					keys = keyRing(t, "k1")
				}
				path := tempPath(t)
				d := &diskFile{}
				j, err := open(Config{Path: path, Keys: keys}, func(f *os.File) syncWriter { d.f = f; return d })
				if err != nil {
					t.Fatal(err)
				}
				for i := uint64(1); i <= 3; i++ {
					if _, err := j.Append(byte(i%7), testBody(i)); err != nil {
						t.Fatal(err)
					}
				}
				if fault == "write ENOSPC" {
					d.failWrite.Store(true)
				} else {
					d.failSync.Store(true)
				}
				want := syscall.ENOSPC
				if fault == "fsync EIO" {
					want = syscall.EIO
				}
				asyncErr := make(chan error, 1)
				if err := j.AppendAsync(1, testBody(4), func(_ uint64, err error) { asyncErr <- err }); err != nil {
					t.Fatal(err)
				}
				if err := <-asyncErr; !errors.Is(err, ErrFailed) || !errors.Is(err, want) || errors.Is(err, ErrRollback) {
					t.Fatalf("failed append's callback err = %v, want ErrFailed wrapping %v", err, want)
				}
				if _, err := j.Append(1, testBody(4)); !errors.Is(err, ErrFailed) {
					t.Errorf("later Append err = %v, want the sticky ErrFailed", err)
				}
				if err := j.AppendAsync(1, testBody(4), func(uint64, error) { t.Error("callback of a refused append") }); !errors.Is(err, ErrFailed) {
					t.Errorf("later AppendAsync err = %v, want the sticky ErrFailed", err)
				}
				if err := j.Close(); !errors.Is(err, ErrFailed) {
					t.Errorf("Close err = %v, want ErrFailed", err)
				}
				if n := d.syncsAfter.Load(); n != 0 {
					t.Errorf("%d fsyncs after the failed one before the rollback's truncate: a retry of the failed data", n)
				}
				if n := d.writesAfter.Load(); n != 0 {
					t.Errorf("%d writes after the failure", n)
				}

				j = mustOpen(t, Config{Path: path, Keys: keys})
				if rec := j.Recovered(); rec != (Recovered{Records: 3}) {
					t.Errorf("reopened: Recovered = %+v, want the 3 acknowledged records and nothing cut", rec)
				}
				recs, err := collect(t, j.Replay)
				if err != nil {
					t.Fatal(err)
				}
				checkTestRecords(t, recs, 3)
				if seq, err := j.Append(4, testBody(4)); err != nil || seq != 4 {
					t.Errorf("Append after reopening = %d, %v; want 4", seq, err)
				}
				if err := j.Close(); err != nil {
					t.Fatal(err)
				}
			})
		}
	}
}

// eioReader reads f as a disk with a bad sector at offset bad does: a
// read reaching it returns the bytes before it and EIO.
type eioReader struct {
	f   *os.File
	bad int64
}

func (r eioReader) ReadAt(p []byte, off int64) (int, error) {
	if off+int64(len(p)) <= r.bad {
		return r.f.ReadAt(p, off)
	}
	n := 0
	if off < r.bad {
		n, _ = r.f.ReadAt(p[:r.bad-off], off)
	}
	return n, &os.PathError{Op: "read", Path: r.f.Name(), Err: syscall.EIO}
}

// TestReadFaultNamesOffset: an I/O error reading the journal at start
// (EIO: a bad sector) names the file and the offset of the record being
// read, and wraps the error, so that the operator knows where the disk
// fails and how much of the journal reads. Before, it said "journal:
// read: read <file>: input/output error", with no offset.
func TestReadFaultNamesOffset(t *testing.T) {
	path := tempPath(t)
	writeRecords(t, path, 100)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		t.Fatal(err)
	}
	lay := plainLayout(formatVersion)
	var offs []int64 // each record's frame offset
	s := newScanner(f, fi.Size(), lay)
	for off := s.off; ; off = s.off {
		if _, err := s.next(); err != nil {
			break
		}
		offs = append(offs, off)
	}
	for _, tt := range []struct {
		name string
		bad  int64 // where the disk fails
		off  int64 // the offset the error names
	}{
		{name: "header", bad: 9},
		{name: "third record", bad: offs[2] + 3, off: offs[2]}, // past the header's read (90 bytes)
		{name: "record 50's frame header", bad: offs[49] + 2, off: offs[49]},
		{name: "record 50's payload", bad: offs[49] + 20, off: offs[49]},
		{name: "last record", bad: offs[99] + 30, off: offs[99]},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := eioReader{f: f, bad: tt.bad}
			lay, err := readHeader(r, fi.Size(), nil, path)
			if err == nil {
				_, err = scanFile(r, fi.Size(), lay, path, nil)
			}
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("err = %v, want EIO", err)
			}
			want := fmt.Sprintf("journal: %s: reading the record at offset %d: ", path, tt.off)
			if tt.off == 0 {
				want = fmt.Sprintf("journal: %s: reading the header: ", path)
			}
			if got := err.Error(); len(got) < len(want) || got[:len(want)] != want {
				t.Fatalf("err = %q, want it to start %q", got, want)
			}
		})
	}
}

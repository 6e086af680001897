package journal

import (
	"errors"
	"os"
	"sync/atomic"
	"syscall"
	"testing"
)

// hungRollbackFile is a disk whose fsync, once gated, waits for the test
// and then fails EIO, and whose truncate fails too: the failed batch
// cannot be cut from the file (ErrRollback).
type hungRollbackFile struct {
	f       *os.File
	entered chan struct{} // a gated fsync began
	release chan struct{} // closed: the gated fsync fails
	gated   atomic.Bool
}

func (d *hungRollbackFile) Write(p []byte) (int, error) { return d.f.Write(p) }

func (d *hungRollbackFile) Sync() error {
	if !d.gated.Load() {
		return d.f.Sync()
	}
	d.entered <- struct{}{}
	<-d.release
	return &os.PathError{Op: "sync", Path: d.f.Name(), Err: syscall.EIO}
}

func (d *hungRollbackFile) Truncate(int64) error {
	return &os.PathError{Op: "truncate", Path: d.f.Name(), Err: syscall.EIO}
}

// TestRollbackFailedOnlyTheFailedBatch: when a failed commit cannot be
// cut from the file either, only the failed batch's records are in doubt
// (ErrRollback: they may reappear after a restart). A batch queued behind
// it was never written, and neither was a later append: their errors wrap
// ErrFailed, not ErrRollback, so the gateway tells their clients they
// were not sent (orders.journal_failed), not that a restart may send
// them (orders.in_doubt). Before, the sticky error of the failed batch,
// ErrRollback and all, went to every record behind it.
func TestRollbackFailedOnlyTheFailedBatch(t *testing.T) {
	path := tempPath(t)
	d := &hungRollbackFile{entered: make(chan struct{}), release: make(chan struct{})}
	j, err := open(Config{Path: path}, func(f *os.File) syncWriter { d.f = f; return d })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.Append(1, testBody(1)); err != nil {
		t.Fatal(err)
	}
	d.gated.Store(true) // the writer is idle: the next fsync is gated
	first, behind := make(chan error, 1), make(chan error, 1)
	if err := j.AppendAsync(1, testBody(2), func(_ uint64, err error) { first <- err }); err != nil {
		t.Fatal(err)
	}
	<-d.entered // the batch holding record 2 is written, its fsync hangs
	if err := j.AppendAsync(1, testBody(3), func(_ uint64, err error) { behind <- err }); err != nil {
		t.Fatal(err)
	}
	close(d.release)
	if err := <-first; !errors.Is(err, ErrFailed) || !errors.Is(err, ErrRollback) || !errors.Is(err, syscall.EIO) {
		t.Fatalf("the failed batch's record: %v, want ErrFailed and ErrRollback wrapping EIO", err)
	}
	if err := <-behind; !errors.Is(err, ErrFailed) || !errors.Is(err, syscall.EIO) || errors.Is(err, ErrRollback) {
		t.Errorf("the record of the batch behind it, never written: %v, want ErrFailed wrapping EIO, not ErrRollback", err)
	}
	if _, err := j.Append(1, testBody(4)); !errors.Is(err, ErrFailed) || errors.Is(err, ErrRollback) {
		t.Errorf("a later Append: %v, want ErrFailed, not ErrRollback", err)
	}
	if err := j.AppendAsync(1, testBody(4), func(uint64, error) { t.Error("callback of a refused append") }); !errors.Is(err, ErrFailed) || errors.Is(err, ErrRollback) {
		t.Errorf("a later AppendAsync: %v, want ErrFailed, not ErrRollback", err)
	}
	if err := j.Close(); !errors.Is(err, ErrRollback) {
		t.Errorf("Close: %v, want the failure itself, ErrRollback", err)
	}
}

package journal

import (
	"errors"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultyFile wraps the journal file: a Sync can be made to block until
// released and to fail.
type faultyFile struct {
	f        *os.File
	writes   atomic.Int64
	failSync atomic.Bool
	hold     chan struct{} // when non-nil, Sync waits for it to close
	entered  chan struct{} // Sync sends here when it is held
}

var _ syncWriter = (*faultyFile)(nil)

var errInjected = errors.New("injected I/O error")

func (w *faultyFile) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.f.Write(p)
}

func (w *faultyFile) Sync() error {
	if w.hold != nil {
		w.entered <- struct{}{}
		<-w.hold
	}
	if w.failSync.Load() {
		return errInjected
	}
	return w.f.Sync()
}

func openFaulty(t *testing.T, path string, w *faultyFile) *Journal {
	t.Helper()
	j, err := open(Config{Path: path}, func(f *os.File) syncWriter { w.f = f; return w })
	if err != nil {
		t.Fatal(err)
	}
	return j
}

// TestStickyError fails an fsync while a second batch is pending behind
// it: both batches, and every later append, get the error, and the second
// batch is never written.
func TestStickyError(t *testing.T) {
	path := tempPath(t)
	w := &faultyFile{}
	j := openFaulty(t, path, w)
	if _, err := j.Append(1, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	w.entered, w.hold = make(chan struct{}), make(chan struct{})
	w.failSync.Store(true)
	writesBefore := w.writes.Load()

	errs := make(chan error, 10)
	go func() { _, err := j.Append(1, []byte("batch 1")); errs <- err }()
	<-w.entered // batch 1 is in fsync
	var wg sync.WaitGroup
	for range 5 {
		wg.Go(func() { _, err := j.Append(1, []byte("batch 2")); errs <- err })
	}
	var asyncErr atomic.Value
	j.AppendAsync(1, []byte("batch 2 async"), func(_ uint64, err error) { asyncErr.Store(err) })
	for j.LastSeq() < 1+1+5+1 {
		time.Sleep(time.Millisecond)
	}
	close(w.hold)
	wg.Wait()
	for range 6 {
		if err := <-errs; !errors.Is(err, ErrFailed) || !errors.Is(err, errInjected) {
			t.Errorf("pending Append err = %v, want ErrFailed wrapping the injected error", err)
		}
	}
	if err, _ := asyncErr.Load().(error); !errors.Is(err, ErrFailed) {
		t.Errorf("pending AppendAsync err = %v, want ErrFailed", err)
	}
	if got := w.writes.Load() - writesBefore; got != 1 {
		t.Errorf("%d writes after the failing one began, want 1: a batch behind a failed fsync must not be written", got)
	}

	// Later appends fail at once and use no sequence number.
	last := j.LastSeq()
	if _, err := j.Append(1, []byte("later")); !errors.Is(err, ErrFailed) {
		t.Errorf("later Append err = %v, want ErrFailed", err)
	}
	var laterErr error
	j.AppendAsync(1, []byte("later"), func(_ uint64, err error) { laterErr = err })
	if !errors.Is(laterErr, ErrFailed) {
		t.Errorf("later AppendAsync err = %v, want ErrFailed (synchronously)", laterErr)
	}
	if j.LastSeq() != last {
		t.Errorf("refused appends moved LastSeq from %d to %d", last, j.LastSeq())
	}
	if err := j.Close(); !errors.Is(err, ErrFailed) {
		t.Errorf("Close err = %v, want the sticky ErrFailed", err)
	}
}

// TestFileClosedUnderneath makes the write itself fail.
func TestFileClosedUnderneath(t *testing.T) {
	j := mustOpen(t, Config{Path: tempPath(t)})
	if _, err := j.Append(1, []byte("ok")); err != nil {
		t.Fatal(err)
	}
	j.f.Close()
	if _, err := j.Append(1, []byte("lost")); !errors.Is(err, ErrFailed) || !errors.Is(err, os.ErrClosed) {
		t.Errorf("Append err = %v, want ErrFailed wrapping os.ErrClosed", err)
	}
	if _, err := j.Append(1, []byte("later")); !errors.Is(err, ErrFailed) {
		t.Errorf("later Append err = %v, want ErrFailed", err)
	}
	if err := j.Close(); !errors.Is(err, ErrFailed) {
		t.Errorf("Close err = %v, want ErrFailed", err)
	}
}

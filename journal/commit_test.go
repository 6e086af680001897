package journal

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faultyFile wraps the journal file: a Sync can be made to block until
// released and to fail.
type faultyFile struct {
	f            *os.File
	writes       atomic.Int64
	failSync     atomic.Bool
	failTruncate atomic.Bool
	hold         chan struct{} // when non-nil, Sync waits for it to close
	entered      chan struct{} // Sync sends here when it is held
}

var _ syncWriter = (*faultyFile)(nil)

var errInjected = errors.New("injected I/O error")

func (w *faultyFile) Write(p []byte) (int, error) {
	w.writes.Add(1)
	return w.f.Write(p)
}

func (w *faultyFile) Truncate(n int64) error {
	if w.failTruncate.Load() {
		return errInjected
	}
	// The rollback works: so does the fsync after it.
	w.failSync.Store(false)
	return w.f.Truncate(n)
}

func (w *faultyFile) Sync() error {
	if w.hold != nil {
		select {
		case w.entered <- struct{}{}:
		case <-w.hold: // released: the rollback's fsync passes by
		}
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
	// The writer releases Append's waiters before it makes AppendAsync's
	// callbacks: the test waits for the callback itself.
	asyncErr := make(chan error, 1)
	if err := j.AppendAsync(1, []byte("batch 2 async"), func(_ uint64, err error) { asyncErr <- err }); err != nil {
		t.Fatal(err)
	}
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
	if err := <-asyncErr; !errors.Is(err, ErrFailed) {
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
	called := false
	laterErr := j.AppendAsync(1, []byte("later"), func(uint64, error) { called = true })
	if !errors.Is(laterErr, ErrFailed) || called {
		t.Errorf("later AppendAsync err = %v (callback made: %v), want ErrFailed returned and no callback", laterErr, called)
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

// TestFailedCommitRolledBack checks that the records of a batch whose
// fsync failed are cut from the file, so a restart cannot find records
// whose appenders were told they failed; and that a rollback that fails
// too is reported as such.
func TestFailedCommitRolledBack(t *testing.T) {
	for _, truncateFails := range []bool{false, true} {
		t.Run(fmt.Sprintf("truncate fails %v", truncateFails), func(t *testing.T) {
			path := tempPath(t)
			w := &faultyFile{}
			j := openFaulty(t, path, w)
			if _, err := j.Append(1, []byte("durable")); err != nil {
				t.Fatal(err)
			}
			w.failSync.Store(true)
			w.failTruncate.Store(truncateFails)
			_, err := j.Append(1, []byte("failed"))
			if !errors.Is(err, ErrFailed) || errors.Is(err, ErrRollback) != truncateFails {
				t.Fatalf("Append err = %v; want ErrFailed, and ErrRollback only when the truncate fails", err)
			}
			j.Close()
			var bodies []string
			if err := ReadFile(path, func(r Record) error { bodies = append(bodies, string(r.Body)); return nil }); err != nil && !errors.Is(err, ErrTornTail) {
				t.Fatal(err)
			}
			want := []string{"durable"}
			if truncateFails {
				want = append(want, "failed") // the page cache still has it: the double fault the error names
			}
			if fmt.Sprint(bodies) != fmt.Sprint(want) {
				t.Errorf("file holds %q, want %q", bodies, want)
			}
		})
	}
}

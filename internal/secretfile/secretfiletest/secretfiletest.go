// Package secretfiletest holds test helpers for code that reads files
// through package secretfile: a named pipe at a path, and the check that
// a read refuses it without opening it for reading (an open that would
// wait for a writer, and the gateway's start with it).
package secretfiletest

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// Mkfifo makes a named pipe at path and returns path.
func Mkfifo(t testing.TB, path string) string {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// RefusesPipe runs read, which reads the named pipe fifo, and fails t
// unless read refuses it as not a regular file without opening it for
// reading. It cannot hang if read does open it: while read runs, it opens
// the pipe for writing without waiting, which succeeds only once a reader
// has it open (else ENXIO), and then closes its end, which lets that
// reader on, and fails t. Call it from the test's goroutine.
func RefusesPipe(t testing.TB, fifo string, read func() error) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- read() }()
	for {
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "is not a regular file") {
				t.Fatalf("error %v; want one saying %s is not a regular file", err, fifo)
			}
			return
		default:
		}
		w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			w.Close()
			<-done
			t.Fatalf("the pipe %s was opened for reading: the read waits for a writer", fifo)
		}
		if !errors.Is(err, syscall.ENXIO) {
			t.Fatal(err)
		}
		runtime.Gosched()
	}
}

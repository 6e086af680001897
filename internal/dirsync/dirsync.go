// Package dirsync makes a new directory entry durable: a file created or
// renamed into a directory, or a directory created, survives a machine
// crash only once the directory holding the entry is fsynced. The order
// journal (its file and the directories on the way to it) and a cluster
// node's data directory (DataDir, its wal/ and snapshots/) are made with
// it; a store that acknowledges what it wrote must not lose the directory
// that holds it.
//
// The functions are safe for concurrent use; they keep no state. MkdirAll
// tolerates a directory made meanwhile by another process.
package dirsync

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Sync fsyncs the directory dir so that a new entry in it (a file created
// or renamed, a directory made) is durable.
func Sync(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// MkdirAll creates dir and the directories above it that do not exist
// (mode 0700), and, unless sync is nil, fsyncs the parent of each one it
// creates, from the top down, with sync (Sync, or a test's count of it).
// Nothing is synced when dir exists; an error names the path that is not
// a directory (a file, a symbolic link to nothing). Unlike os.MkdirAll, a
// crash after MkdirAll returns cannot lose the directories it made, so
// what is then written and fsynced into dir is durable.
func MkdirAll(dir string, sync func(dir string) error) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("%s is not a directory", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	parent := filepath.Dir(dir)
	if parent != dir {
		if err := MkdirAll(parent, sync); err != nil {
			return err
		}
	}
	// Made meanwhile by someone else: its entry is synced all the same.
	// Something else in its place (a symbolic link to nothing, which
	// Stat took for nothing, or a file made meanwhile) is not.
	if err := os.Mkdir(dir, 0o700); errors.Is(err, fs.ErrExist) {
		if fi, serr := os.Stat(dir); serr != nil || !fi.IsDir() {
			return fmt.Errorf("%s is not a directory (a symbolic link to nothing?): %w", dir, err)
		}
	} else if err != nil {
		return err
	}
	if sync == nil {
		return nil
	}
	return sync(parent)
}

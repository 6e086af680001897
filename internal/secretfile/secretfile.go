// Package secretfile reads the files that hold the gateway's secrets: TLS
// and TLCP private keys, token secrets and signing keys, the storage key
// ring; and, with ReadPublic, the files that are not secret: public keys,
// certificates and CA bundles.
//
// Like ssh with a private key, it refuses a file that is not a regular
// file (a directory, a device, a named pipe) or whose mode gives its
// group or others any access (chmod 600 or 400): whoever reads the secret
// can pass for the gateway, mint tokens or read what was sealed. Symbolic
// links are followed (a Kubernetes secret's key -> ..data/key) and the
// file they lead to is judged. Errors name the file and its mode, never
// its contents.
//
// A file that is not regular is refused before it is opened: opening a
// named pipe for reading waits for a writer, and the gateway's start
// would wait with it; opening a device may act on it. The open itself
// does not wait (O_NONBLOCK) and what was opened is judged again, so a
// file swapped for a pipe between the two is refused too.
//
// Read and ReadPublic are safe for concurrent use; they keep no state.
package secretfile

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// Read returns the contents of the secret file at path, refused as the
// package says. max > 0 bounds its size: a longer file is an error.
func Read(path string, max int64) ([]byte, error) {
	return read(path, max, true)
}

// ReadPublic returns the contents of the file at path, which need not be
// secret (a public key, a certificate): it is refused, as Read refuses
// it, only if it is not a regular file or (max > 0) longer than max.
func ReadPublic(path string, max int64) ([]byte, error) {
	return read(path, max, false)
}

// read is Read, with the mode check only if secret.
func read(path string, max int64, secret bool) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := check(path, fi, secret); err != nil {
		return nil, err
	}
	// O_NONBLOCK: should path have become a pipe since the Stat, the
	// open returns at once and the check below refuses it. A regular
	// file's reads ignore the flag.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := check(path, fi, secret); err != nil {
		return nil, err
	}
	if max <= 0 {
		return io.ReadAll(f)
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s is over %d bytes", path, max)
	}
	return b, nil
}

// check refuses fi, the file at path, if it is not a regular file or
// (secret) its group or others may access it.
func check(path string, fi fs.FileInfo, secret bool) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	if p := fi.Mode().Perm(); secret && p&0o077 != 0 {
		return fmt.Errorf("%s has permissions %04o: group and others must have no access (chmod 600 %s)", path, p, path)
	}
	return nil
}

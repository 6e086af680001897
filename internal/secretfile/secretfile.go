// Package secretfile reads the files that hold the gateway's secrets: TLS
// and TLCP private keys, token secrets, the storage key ring.
//
// Like ssh with a private key, it refuses a file that is not a regular
// file (a directory, a device, a named pipe once opened) or whose mode
// gives its group or others any access (chmod 600 or 400): whoever reads
// the secret can pass for the gateway, mint tokens or read what was
// sealed. Symbolic links are followed (a Kubernetes secret's key ->
// ..data/key) and the file they lead to is judged. Errors name the file
// and its mode, never its contents.
//
// Read is safe for concurrent use; it keeps no state.
package secretfile

import (
	"fmt"
	"io"
	"os"
)

// Read returns the contents of the secret file at path, refused as the
// package says. max > 0 bounds its size: a longer file is an error.
func Read(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if p := fi.Mode().Perm(); p&0o077 != 0 {
		return nil, fmt.Errorf("%s has permissions %04o: group and others must have no access (chmod 600 %s)", path, p, path)
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

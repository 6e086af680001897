//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package journal

import "os"

// LockFile does nothing on systems without flock: there, nothing stops two
// processes from opening one file.
func LockFile(*os.File) error { return nil }

//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package journal

import "os"

// lockFile does nothing on systems without flock: there, nothing stops two
// journals from opening one file.
func lockFile(*os.File) error { return nil }

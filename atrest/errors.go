package atrest

import (
	"errors"
	"fmt"
)

// Errors of encryption at rest. The journal and the FIX stores wrap them,
// so one errors.Is covers both.
var (
	// ErrKey reports a file sealed under a key the key ring lacks, a key
	// that is not the one the file was sealed under, or a sealed file
	// opened without a key ring. Errors wrapping it are *KeyError values
	// naming the key id.
	ErrKey = errors.New("atrest: key unavailable")
	// ErrTampered reports sealed data whose authentication tag does not
	// verify under the right key: the bytes were changed after they were
	// written (a crash cannot produce it: a torn write fails its checksum
	// first).
	ErrTampered = errors.New("atrest: authentication failed (tampered)")
	// ErrKeyFile reports a key file that cannot be used: unreadable,
	// accessible by group or others, or not in the key file format.
	ErrKeyFile = errors.New("atrest: bad key file")
	// ErrPlain reports a plain (unencrypted) file where encryption is
	// configured. Converting a store between plain and sealed is an
	// explicit operator step, never a side effect of a restart.
	ErrPlain = errors.New("atrest: file is not encrypted but encryption is configured")
)

// KeyError names the key that is missing or wrong. It wraps ErrKey.
type KeyError struct {
	// ID is the key id the file names (or the configured one).
	ID string
	// Reason says what is wrong.
	Reason string
}

// Error returns the message, naming the key id.
func (e *KeyError) Error() string {
	return fmt.Sprintf("atrest: key %q: %s", e.ID, e.Reason)
}

// Unwrap returns ErrKey.
func (e *KeyError) Unwrap() error { return ErrKey }

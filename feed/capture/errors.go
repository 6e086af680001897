package capture

import "errors"

// Errors reported by the package.
var (
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("capture: invalid config")
	// ErrFormat reports bytes that are not a capture file of a known
	// version: a bad magic, version or header.
	ErrFormat = errors.New("capture: not a capture file")
	// ErrCorrupt reports a record whose length or checksum is wrong.
	ErrCorrupt = errors.New("capture: corrupt record")
	// ErrTruncated reports a file that ends inside a record (a writer
	// that stopped mid-write, typically a crash).
	ErrTruncated = errors.New("capture: truncated record")
	// ErrWrite reports a Recorder that closed after failing to write
	// some records.
	ErrWrite = errors.New("capture: records could not be written")
)

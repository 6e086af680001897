package journal

import (
	"errors"
	"fmt"

	"sgw/atrest"
)

// Errors of the journal.
var (
	// ErrConfig reports an invalid Config; Open wraps it with the reason.
	ErrConfig = errors.New("journal: invalid config")
	// ErrClosed reports an Append, AppendAsync, Replay or second Close on a
	// Journal that Close has closed.
	ErrClosed = errors.New("journal: closed")
	// ErrTooLarge reports a record body longer than Config.MaxRecord.
	ErrTooLarge = errors.New("journal: record too large")
	// ErrFailed reports that a write or fsync of the journal failed. It is
	// sticky: the failed batch, every batch pending behind it and every
	// later append get an error wrapping both ErrFailed and the I/O error.
	// A gateway that sees it must stop accepting orders: it can no longer
	// make them durable, and records of the failed batch may or may not
	// survive a restart.
	ErrFailed = errors.New("journal: write failed, journal stopped")
	// ErrRollback reports, together with ErrFailed, that a failed commit
	// could not be cut from the file either: the failed batch's records
	// may reappear after a restart. Only that batch's records get it (and
	// Close): those of the batches behind it, and later appends, were
	// never written and get ErrFailed alone.
	ErrRollback = errors.New("journal: rollback of the failed batch failed")
	// ErrCorrupt reports damage that recovery must not repair silently: a
	// record whose checksum or length is bad but which is followed by a
	// valid record of a later batch (in formats 1 and 2, any valid record;
	// doc.go, Torn batches), or a valid record out of sequence or out of
	// its batch. Errors wrapping it are *CorruptError values and carry the
	// offset.
	ErrCorrupt = errors.New("journal: corrupt record")
	// ErrTornTail reports, from ReadFile, a file whose last batch is
	// partly written (a damaged record followed by nothing or only by
	// records of its own batch): what a crash during a write leaves. Open
	// repairs such a file by truncating it; ReadFile leaves the file alone
	// and reports it after delivering the good records.
	ErrTornTail = errors.New("journal: torn record at end of file")
	// ErrBadHeader reports a file that does not start with the journal's
	// 16-byte header (magic "SGWJRNL1"): most likely not a journal file.
	ErrBadHeader = errors.New("journal: bad file header")
	// ErrVersion reports a journal file written in a format version this
	// package does not read.
	ErrVersion = errors.New("journal: unsupported format version")
	// ErrLocked reports that another process (or another Journal in this
	// process) has the file open.
	ErrLocked = errors.New("journal: file locked by another journal")

	// ErrTampered reports a sealed file whose header or a record fails
	// authentication: its bytes were changed after they were written (a
	// careful edit that kept the record's checksum valid, so not a torn
	// write). It is atrest.ErrTampered, which the FIX stores report too.
	// A record's errors are *TamperedError values naming the file and the
	// sequence number. Open refuses the file and never repairs it.
	ErrTampered = atrest.ErrTampered
	// ErrKey reports a sealed file whose key is not available: the key
	// ring lacks the key id its header names, holds a different key under
	// that id, or no key ring is configured. The error names the key id
	// (an *atrest.KeyError). It is atrest.ErrKey.
	ErrKey = atrest.ErrKey
	// ErrPlain reports a plain file opened with encryption configured.
	// Open refuses it rather than mix plain and sealed records or convert
	// the file behind the operator's back. It is atrest.ErrPlain.
	ErrPlain = atrest.ErrPlain
)

// TamperedError describes a record of a sealed journal file that fails
// authentication. It wraps ErrTampered.
type TamperedError struct {
	// Path is the file, when known.
	Path string
	// Offset is the byte offset of the record's frame.
	Offset int64
	// Seq is the sequence number the record holds at that place.
	Seq uint64
	// Reason says what failed.
	Reason string
}

// Error returns the message, naming the file, sequence number and offset.
func (e *TamperedError) Error() string {
	return fmt.Sprintf("journal: %s: record %d at offset %d fails authentication (tampered): %s", e.Path, e.Seq, e.Offset, e.Reason)
}

// Unwrap returns ErrTampered.
func (e *TamperedError) Unwrap() error { return ErrTampered }

// CorruptError describes damage found at a byte offset of a journal file.
// It wraps ErrCorrupt.
type CorruptError struct {
	// Path is the file, when known.
	Path string
	// Offset is the byte offset of the damaged record's frame.
	Offset int64
	// Reason says what is wrong with it.
	Reason string
}

// Error returns the message, naming the file, offset and reason.
func (e *CorruptError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("journal: corrupt record at offset %d: %s", e.Offset, e.Reason)
	}
	return fmt.Sprintf("journal: %s: corrupt record at offset %d: %s", e.Path, e.Offset, e.Reason)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

package szse

import (
	"errors"
	"strconv"
)

// Sentinel errors. ErrTruncated and ErrUnknownType are returned as they
// are, not wrapped, because a reader meets them in steady state (every
// read that ends inside a frame, every message type it does not use) and
// reporting them must not allocate. The others are the typed errors below,
// which match these with errors.Is.
var (
	// ErrTruncated reports that b does not yet hold a whole frame: the
	// caller reads more bytes and calls Decode again.
	ErrTruncated = errors.New("szse: truncated frame")
	// ErrUnknownType reports a whole, intact frame of a type this package
	// does not handle. Decode sets Message.Type to the type and returns
	// the frame's length, so the caller can count it and skip it.
	ErrUnknownType = errors.New("szse: unknown message type")
	// ErrBodyLength reports a BodyLength that does not fit the message
	// type, or is over MaxBodyLength; the concrete error is a
	// *LengthError.
	ErrBodyLength = errors.New("szse: bad body length")
	// ErrChecksum reports a frame whose Checksum does not match its bytes;
	// the concrete error is a *ChecksumError.
	ErrChecksum = errors.New("szse: bad checksum")
	// ErrBadField reports a value a field cannot hold; the concrete error
	// is a *FieldError.
	ErrBadField = errors.New("szse: bad field")
)

// LengthError reports a BodyLength the message type does not allow.
// errors.Is(err, ErrBodyLength) holds for it.
type LengthError struct {
	Type       MsgType
	BodyLength int // the body length the header gives
	// Rule is how Want bounds BodyLength: "want" (the type's fixed
	// length), "want at least" (the fixed part of a type with repeating
	// groups), "limit" (MaxBodyLength), "groups need" (the repeating
	// groups run past the body) or "groups end at" (bytes left over after
	// them).
	Rule string
	Want int
}

// Error formats the error as "szse: order (300192): body length 40, want 51".
func (e *LengthError) Error() string {
	return "szse: " + e.Type.title() + ": body length " + strconv.Itoa(e.BodyLength) + ", " +
		e.Rule + " " + strconv.Itoa(e.Want)
}

// Is reports whether target is ErrBodyLength.
func (e *LengthError) Is(target error) bool { return target == ErrBodyLength }

// ChecksumError reports a frame whose Checksum field differs from the sum
// of its other bytes modulo 256. errors.Is(err, ErrChecksum) holds for it.
type ChecksumError struct {
	Type MsgType
	Got  uint32 // the Checksum field
	Want uint32 // the checksum of the header and body
}

// Error formats the error as "szse: order (300192): checksum 18, computed 52".
func (e *ChecksumError) Error() string {
	return "szse: " + e.Type.title() + ": checksum " + strconv.FormatUint(uint64(e.Got), 10) +
		", computed " + strconv.FormatUint(uint64(e.Want), 10)
}

// Is reports whether target is ErrChecksum.
func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// FieldError reports a value that does not fit its field.
// errors.Is(err, ErrBadField) holds for it.
type FieldError struct {
	Field  string // the field, such as "char[8]" or "Snapshot.Entries"
	Value  string // the offending value
	Reason string // what is wrong, such as "longer than 8 bytes"
}

// Error formats the error as `szse: char[8] "0000011234" longer than 8 bytes`.
func (e *FieldError) Error() string {
	return "szse: " + e.Field + " " + strconv.Quote(e.Value) + " " + e.Reason
}

// Is reports whether target is ErrBadField.
func (e *FieldError) Is(target error) bool { return target == ErrBadField }

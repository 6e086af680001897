package soupbin

import (
	"errors"
	"strconv"
)

// Sentinel errors. Errors from Parse mean the stream can no longer be framed
// and the caller should close the connection.
var (
	// ErrEmptyPacket reports a packet whose length field is zero, so it has
	// not even a type byte.
	ErrEmptyPacket = errors.New("soupbin: empty packet")
	// ErrTooLarge reports a packet whose length field exceeds the limit
	// given to Parse.
	ErrTooLarge = errors.New("soupbin: packet too large")
	// ErrLength reports a fixed-size payload of the wrong length; the
	// concrete error is a *LengthError.
	ErrLength = errors.New("soupbin: bad payload length")
	// ErrBadField reports a field that does not hold a valid value; the
	// concrete error is a *FieldError.
	ErrBadField = errors.New("soupbin: bad field")
)

// LengthError reports a packet payload whose length does not match its
// fixed layout. errors.Is(err, ErrLength) holds for it.
type LengthError struct {
	Packet string // packet name, e.g. "login request"
	Len    int    // payload length received
	Want   int    // payload length the layout requires
}

// Error formats the error as "soupbin: login request: payload length 45, want 46".
func (e *LengthError) Error() string {
	return "soupbin: " + e.Packet + ": payload length " + strconv.Itoa(e.Len) +
		", want " + strconv.Itoa(e.Want)
}

// Is reports whether target is ErrLength.
func (e *LengthError) Is(target error) bool { return target == ErrLength }

// FieldError reports a field holding a value the protocol does not allow,
// or a value too long for its field. errors.Is(err, ErrBadField) holds for it.
type FieldError struct {
	Packet string // packet name, e.g. "login accepted"
	Field  string // field name, e.g. "sequence number"
	Value  string // the offending value as received or given
	Reason string // what is wrong, e.g. "not numeric"
}

// Error formats the error as
// `soupbin: login accepted: sequence number "12a" not numeric`.
func (e *FieldError) Error() string {
	return "soupbin: " + e.Packet + ": " + e.Field + " " + strconv.Quote(e.Value) + " " + e.Reason
}

// Is reports whether target is ErrBadField.
func (e *FieldError) Is(target error) bool { return target == ErrBadField }

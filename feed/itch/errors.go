package itch

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Decode and Append return the typed errors below, which
// match these with errors.Is.
var (
	// ErrEmpty reports an empty message: no type byte.
	ErrEmpty = errors.New("itch: empty message")
	// ErrUnknownType reports a message type this package does not handle;
	// the concrete error is an *UnknownTypeError.
	ErrUnknownType = errors.New("itch: unknown message type")
	// ErrLength reports a message whose length does not match its type;
	// the concrete error is a *LengthError.
	ErrLength = errors.New("itch: bad message length")
	// ErrBadField reports a field whose value the encoding does not allow;
	// the concrete error is a *FieldError.
	ErrBadField = errors.New("itch: bad field")
)

// UnknownTypeError reports a message type byte this package does not
// handle. errors.Is(err, ErrUnknownType) holds for it.
type UnknownTypeError struct {
	Type byte
}

// Error formats the error as "itch: unknown message type 'z' (0x7a)".
func (e *UnknownTypeError) Error() string {
	return fmt.Sprintf("itch: unknown message type %q (0x%02x)", e.Type, e.Type)
}

// Is reports whether target is ErrUnknownType.
func (e *UnknownTypeError) Is(target error) bool { return target == ErrUnknownType }

// LengthError reports a message whose length differs from the fixed length
// of its type. errors.Is(err, ErrLength) holds for it.
type LengthError struct {
	Type byte // message type
	Len  int  // length received
	Want int  // length the type requires
}

// Error formats the error as "itch: add order: length 30, want 36".
func (e *LengthError) Error() string {
	return "itch: " + title(e.Type) + ": length " + strconv.Itoa(e.Len) + ", want " + strconv.Itoa(e.Want)
}

// Is reports whether target is ErrLength.
func (e *LengthError) Is(target error) bool { return target == ErrLength }

// FieldError reports a field holding a value the encoding does not allow.
// errors.Is(err, ErrBadField) holds for it.
type FieldError struct {
	Type   byte   // message type; 0 when no message is involved (StockOf)
	Field  string // field name, e.g. "side"
	Value  string // the offending value
	Reason string // what is wrong, e.g. "not B or S"
}

// Error formats the error as `itch: add order: side "X" not B or S`.
func (e *FieldError) Error() string {
	s := "itch: "
	if e.Type != 0 {
		s += title(e.Type) + ": "
	}
	return s + e.Field + " " + strconv.Quote(e.Value) + " " + e.Reason
}

// Is reports whether target is ErrBadField.
func (e *FieldError) Is(target error) bool { return target == ErrBadField }

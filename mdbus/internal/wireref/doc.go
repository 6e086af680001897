// Package wireref is a reference implementation of the mdbus wire
// format, version 1, for tests only: an encoder, a decoder and a
// generator of valid and refused frames, written from the specification
// in mdbus's package documentation and from nothing else.
//
// It shares no code with mdbus/wire.go and imports nothing of this
// module: it has its own types and constants, writes frames field by
// field into a bytes.Buffer, reads them back from a bytes.Reader, and
// codes varints by hand rather than with encoding/binary's varint
// functions. A test that finds the two implementations disagreeing has
// found a mistake in one of them or an ambiguity in the specification.
//
// Nothing here is safe to share between goroutines except the constants;
// a Generator belongs to its caller.
package wireref

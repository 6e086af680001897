// Package binread reads the gateway's own binary encodings front to back:
// single bytes, byte strings, fixed-width integers and varints, keeping
// the first failure. A decoder reads field after field without checking
// each one, and checks Err where a value it read decides what follows
// (a count, a length, a type) and once at the end.
//
// The encodings read through it are the market-data bus's messages
// (mdbus), the order journal's record bodies (orders) and the cluster
// state's snapshots (cluster). Protocols of others with fixed layouts
// (ITCH, SZSE Binary, SoupBinTCP) are read at fixed offsets by their own
// packages instead, after one check of the length.
//
// Varints are those of encoding/binary, and only in their one shortest
// form: a varint with a redundant last group (0x80 0x00 for 0) is refused
// as an overlong encoding, so that a value has one encoding and a message
// one meaning.
package binread

import (
	"encoding/binary"
	"fmt"
)

// Reader reads one encoding. The zero Reader has nothing to read; New
// makes one over b. After the first failure every read returns the zero
// value (nil for Bytes and Prefixed) and consumes nothing, and Err
// reports that first failure: what was being read, why it failed, and at
// which byte of b (a decoder gives New the whole encoding, so that the
// offset is the encoding's). Its errors carry no package prefix: each
// decoder wraps them in its own. A Reader is owned by one goroutine; it
// only reads b, and Bytes and Prefixed return slices of it.
type Reader struct {
	b   []byte
	pos int
	err error
}

// New returns a Reader over b.
func New(b []byte) Reader { return Reader{b: b} }

// Err returns the first failure, or nil.
func (r *Reader) Err() error { return r.err }

// Len returns how many bytes are left to read; none after a failure.
func (r *Reader) Len() int { return len(r.b) - r.pos }

// Offset returns how many bytes were read: all of them after a failure.
func (r *Reader) Offset() int { return r.pos }

// Fail records a failure found by the caller in what it read (a value out
// of range, bytes left over) unless one is recorded already; what says
// what is wrong. Nothing more is read after it.
func (r *Reader) Fail(what string) { r.failAt(r.pos, what) }

func (r *Reader) failAt(off int, what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%s at byte %d", what, off)
	}
	r.pos = len(r.b)
}

// short records a read of n bytes past the end.
func (r *Reader) short(what string, n int) {
	if r.err == nil {
		r.failAt(r.pos, fmt.Sprintf("%s: %d bytes wanted, %d left", what, n, r.Len()))
	}
}

// Byte reads one byte.
func (r *Reader) Byte(what string) byte {
	if r.pos >= len(r.b) {
		r.short(what, 1)
		return 0
	}
	c := r.b[r.pos]
	r.pos++
	return c
}

// Bytes reads n bytes, returned as a slice of the Reader's input whose
// capacity ends with it (an append to it copies). A negative n, or one
// past the end, fails.
func (r *Reader) Bytes(n int, what string) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > r.Len() {
		r.short(what, n)
		return nil
	}
	v := r.b[r.pos : r.pos+n : r.pos+n]
	r.pos += n
	return v
}

// Prefixed reads a length (a uvarint) and that many bytes, returned as
// Bytes returns them.
func (r *Reader) Prefixed(what string) []byte {
	l := r.Uvarint(what)
	if r.err != nil {
		return nil
	}
	if l > uint64(r.Len()) {
		r.Fail(fmt.Sprintf("%s: length %d, %d bytes left", what, l, r.Len()))
		return nil
	}
	start := r.pos
	r.pos += int(l)
	return r.b[start:r.pos:r.pos]
}

// Count checks n, a count of items read before them, against what is
// left: each item takes at least size bytes, so a count the remaining
// bytes cannot hold fails, and a forged count never sizes an allocation.
// It returns n as an int, or 0 on failure. A size below 1 is the
// caller's bug and panics.
func (r *Reader) Count(n uint64, size int, what string) int {
	if size < 1 {
		panic(fmt.Sprintf("binread: Count of %s with item size %d", what, size))
	}
	if r.err == nil && n > uint64(r.Len()/size) {
		r.Fail(fmt.Sprintf("%s: count %d exceeds what %d bytes hold", what, n, r.Len()))
	}
	if r.err != nil {
		return 0
	}
	return int(n)
}

// Uvarint reads an unsigned varint.
func (r *Reader) Uvarint(what string) uint64 {
	if r.pos < len(r.b) && r.b[r.pos] < 0x80 { // one byte, the common case
		r.pos++
		return uint64(r.b[r.pos-1])
	}
	return r.uvarintLong(what)
}

// Varint reads a signed (zig-zag) varint: a uvarint whose lowest bit is
// the sign, as encoding/binary writes it.
func (r *Reader) Varint(what string) int64 {
	var ux uint64
	if r.pos < len(r.b) && r.b[r.pos] < 0x80 {
		ux = uint64(r.b[r.pos])
		r.pos++
	} else {
		ux = r.uvarintLong(what)
	}
	return int64(ux>>1) ^ -int64(ux&1)
}

// uvarintLong reads a uvarint of more than one byte, or fails.
func (r *Reader) uvarintLong(what string) uint64 {
	x, n := binary.Uvarint(r.b[r.pos:])
	if n <= 0 || overlong(r.b[r.pos:r.pos+n]) {
		r.badVarint(what, n)
		return 0
	}
	r.pos += n
	return x
}

// overlong reports whether v, a whole varint, is longer than the shortest
// encoding of its value: it ends in a zero group.
func overlong(v []byte) bool { return len(v) > 1 && v[len(v)-1] == 0 }

// badVarint records a varint that failed; n is what encoding/binary
// returned.
func (r *Reader) badVarint(what string, n int) {
	if r.err != nil {
		return
	}
	switch {
	case n == 0:
		r.failAt(r.pos, what+": truncated varint")
	case n < 0:
		r.failAt(r.pos, what+": varint overflows 64 bits")
	default:
		r.failAt(r.pos, what+": overlong varint")
	}
}

// Uint16BE reads a big-endian uint16.
func (r *Reader) Uint16BE(what string) uint16 {
	if b := r.Bytes(2, what); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

// Uint32BE reads a big-endian uint32.
func (r *Reader) Uint32BE(what string) uint32 {
	if b := r.Bytes(4, what); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

// Uint64BE reads a big-endian uint64.
func (r *Reader) Uint64BE(what string) uint64 {
	if b := r.Bytes(8, what); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// Uint32LE reads a little-endian uint32.
func (r *Reader) Uint32LE(what string) uint32 {
	if b := r.Bytes(4, what); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

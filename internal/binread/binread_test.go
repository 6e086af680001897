package binread

import (
	"bytes"
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

func TestReaderReads(t *testing.T) {
	var b []byte
	b = append(b, 7)
	b = binary.AppendUvarint(b, math.MaxUint64)
	b = binary.AppendVarint(b, math.MinInt64)
	b = binary.AppendVarint(b, -1)
	b = binary.BigEndian.AppendUint16(b, 0xBEEF)
	b = binary.BigEndian.AppendUint32(b, 0xDEADBEEF)
	b = binary.BigEndian.AppendUint64(b, 1<<63|5)
	b = binary.LittleEndian.AppendUint32(b, 0x01020304)
	b = append(b, "abc"...)
	b = append(b, 2, 'x', 'y')

	r := New(b)
	if got := r.Byte("b"); got != 7 {
		t.Errorf("Byte = %d", got)
	}
	if got := r.Uvarint("u"); got != math.MaxUint64 {
		t.Errorf("Uvarint = %d", got)
	}
	if got := r.Varint("v"); got != math.MinInt64 {
		t.Errorf("Varint = %d", got)
	}
	if got := r.Varint("v"); got != -1 {
		t.Errorf("Varint = %d", got)
	}
	if got := r.Uint16BE("16"); got != 0xBEEF {
		t.Errorf("Uint16BE = %#x", got)
	}
	if got := r.Uint32BE("32"); got != 0xDEADBEEF {
		t.Errorf("Uint32BE = %#x", got)
	}
	if got := r.Uint64BE("64"); got != 1<<63|5 {
		t.Errorf("Uint64BE = %#x", got)
	}
	if got := r.Uint32LE("le"); got != 0x01020304 {
		t.Errorf("Uint32LE = %#x", got)
	}
	if n := r.Count(3, 1, "count"); n != 3 {
		t.Errorf("Count = %d", n)
	}
	s := r.Bytes(3, "s")
	if string(s) != "abc" || cap(s) != 3 {
		t.Errorf("Bytes = %q (cap %d)", s, cap(s))
	}
	p := r.Prefixed("p")
	if string(p) != "xy" || cap(p) != 2 {
		t.Errorf("Prefixed = %q (cap %d)", p, cap(p))
	}
	if r.Len() != 0 || r.Offset() != len(b) || r.Err() != nil {
		t.Errorf("at the end: Len %d, Offset %d of %d, Err %v", r.Len(), r.Offset(), len(b), r.Err())
	}
}

// TestReaderFails checks each way a read fails, that the error names the
// field, the reason and the offset, and that the first failure sticks:
// every later read returns zero and consumes nothing.
func TestReaderFails(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		read func(r *Reader)
		want string // the error
	}{
		{"byte at the end", nil, func(r *Reader) { r.Byte("kind") }, "kind: 1 bytes wanted, 0 left at byte 0"},
		{"bytes past the end", []byte{1, 2}, func(r *Reader) { r.Byte("a"); r.Bytes(2, "name") }, "name: 2 bytes wanted, 1 left at byte 1"},
		{"negative length", []byte{1}, func(r *Reader) { r.Bytes(-1, "name") }, "name: -1 bytes wanted, 1 left at byte 0"},
		{"uint16 short", []byte{1}, func(r *Reader) { r.Uint16BE("len") }, "len: 2 bytes wanted, 1 left at byte 0"},
		{"uint32 short", []byte{1, 2, 3}, func(r *Reader) { r.Uint32BE("n") }, "n: 4 bytes wanted, 3 left at byte 0"},
		{"uint64 short", make([]byte, 7), func(r *Reader) { r.Uint64BE("n") }, "n: 8 bytes wanted, 7 left at byte 0"},
		{"uint32le short", []byte{}, func(r *Reader) { r.Uint32LE("sum") }, "sum: 4 bytes wanted, 0 left at byte 0"},
		{"uvarint truncated", []byte{9, 0x80, 0x80}, func(r *Reader) { r.Byte("x"); r.Uvarint("seq") }, "seq: truncated varint at byte 1"},
		{"varint empty", nil, func(r *Reader) { r.Varint("price") }, "price: truncated varint at byte 0"},
		{"uvarint overflow", append(bytes.Repeat([]byte{0xff}, 9), 0x02), func(r *Reader) { r.Uvarint("seq") }, "seq: varint overflows 64 bits at byte 0"},
		{"uvarint eleven bytes", append(bytes.Repeat([]byte{0x80}, 10), 0x01), func(r *Reader) { r.Uvarint("seq") }, "seq: varint overflows 64 bits at byte 0"},
		{"uvarint overlong zero", []byte{0x80, 0x00}, func(r *Reader) { r.Uvarint("seq") }, "seq: overlong varint at byte 0"},
		{"uvarint overlong one", []byte{0x81, 0x80, 0x00}, func(r *Reader) { r.Uvarint("seq") }, "seq: overlong varint at byte 0"},
		{"varint overlong", []byte{0x82, 0x00}, func(r *Reader) { r.Varint("qty") }, "qty: overlong varint at byte 0"},
		{"prefixed past the end", []byte{3, 'a', 'b'}, func(r *Reader) { r.Prefixed("symbol") }, "symbol: length 3, 2 bytes left at byte 1"},
		{"prefixed length huge", append(bytes.Repeat([]byte{0xff}, 9), 1), func(r *Reader) { r.Prefixed("symbol") }, "symbol: length 18446744073709551615, 0 bytes left at byte 10"},
		{"prefixed length truncated", []byte{0x80}, func(r *Reader) { r.Prefixed("symbol") }, "symbol: truncated varint at byte 0"},
		{"count over what is left", []byte{1, 2, 3, 4, 5}, func(r *Reader) { r.Count(2, 3, "levels") }, "levels: count 2 exceeds what 5 bytes hold at byte 0"},
		{"count huge", []byte{1}, func(r *Reader) { r.Count(math.MaxUint64, 1, "records") }, "records: count 18446744073709551615 exceeds what 1 bytes hold at byte 0"},
		{"caller's failure", []byte{1, 2}, func(r *Reader) { r.Byte("a"); r.Fail("1 byte after the message") }, "1 byte after the message at byte 1"},
		{"first failure sticks", []byte{1, 2, 3}, func(r *Reader) { r.Uint32BE("first"); r.Fail("second"); r.Byte("third") }, "first: 4 bytes wanted, 3 left at byte 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := New(tt.in)
			tt.read(&r)
			if r.Err() == nil || r.Err().Error() != tt.want {
				t.Fatalf("Err = %v, want %q", r.Err(), tt.want)
			}
			if r.Len() != 0 {
				t.Errorf("Len = %d after a failure, want 0", r.Len())
			}
			// Every read after the failure is zero and keeps the error.
			if r.Byte("b") != 0 || r.Bytes(1, "s") != nil || r.Uvarint("u") != 0 || r.Varint("v") != 0 ||
				r.Uint16BE("16") != 0 || r.Uint32BE("32") != 0 || r.Uint64BE("64") != 0 || r.Uint32LE("le") != 0 ||
				r.Count(0, 1, "c") != 0 || r.Prefixed("p") != nil || r.Bytes(0, "empty") != nil {
				t.Error("a read after the failure returned a value")
			}
			if r.Err().Error() != tt.want {
				t.Errorf("Err after more reads = %v, want %q", r.Err(), tt.want)
			}
		})
	}
}

// TestReaderVarintsCanonical: every value's shortest encoding reads back,
// and each one padded with a zero group is refused.
func TestReaderVarintsCanonical(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 255, 16383, 16384, 1<<35 + 3, 1<<63 - 1, 1 << 63, math.MaxUint64} {
		b := binary.AppendUvarint(nil, v)
		r := New(b)
		if got := r.Uvarint("u"); got != v || r.Err() != nil || r.Len() != 0 {
			t.Errorf("Uvarint(%x) = %d, %v; want %d", b, got, r.Err(), v)
		}
		if len(b) < binary.MaxVarintLen64 {
			pad := append(bytes.Clone(b), 0)
			pad[len(b)-1] |= 0x80
			r := New(pad)
			if r.Uvarint("u"); r.Err() == nil || !strings.Contains(r.Err().Error(), "overlong") {
				t.Errorf("Uvarint(%x) = %v, want overlong", pad, r.Err())
			}
		}
		s := int64(v)
		b = binary.AppendVarint(nil, s)
		r = New(b)
		if got := r.Varint("v"); got != s || r.Err() != nil {
			t.Errorf("Varint(%x) = %d, %v; want %d", b, got, r.Err(), s)
		}
	}
}

// FuzzReader reads arbitrary bytes as a program of reads (each read's
// kind taken from the input): no panic, no read past the end, Offset and
// Len always add up, and every varint accepted is the shortest encoding
// of its value.
func FuzzReader(f *testing.F) {
	f.Add([]byte{0, 5, 1, 0x80, 0x01, 2, 0x80, 0x00})
	f.Add([]byte{3, 1, 2, 4, 1, 2, 3, 4, 5, 5, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 7, 3, 1, 8, 2, 2})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := New(in)
		for range 64 {
			if r.Len() == 0 {
				break
			}
			start := r.Offset()
			switch r.Byte("op") % 10 {
			case 0:
				r.Byte("byte")
			case 1:
				at := r.Offset()
				if v := r.Uvarint("u"); r.Err() == nil && !bytes.Equal(binary.AppendUvarint(nil, v), in[at:r.Offset()]) {
					t.Fatalf("Uvarint accepted %x for %d", in[at:r.Offset()], v)
				}
			case 2:
				at := r.Offset()
				if v := r.Varint("v"); r.Err() == nil && !bytes.Equal(binary.AppendVarint(nil, v), in[at:r.Offset()]) {
					t.Fatalf("Varint accepted %x for %d", in[at:r.Offset()], v)
				}
			case 3:
				r.Uint16BE("16")
			case 4:
				r.Uint32BE("32")
			case 5:
				r.Uint64BE("64")
			case 6:
				r.Uint32LE("le")
			case 7:
				n := r.Count(uint64(r.Byte("count")), 1, "count")
				if s := r.Bytes(n, "bytes"); len(s) != n {
					t.Fatalf("Bytes(%d) = %d bytes", n, len(s))
				}
			case 8:
				r.Bytes(int(int8(r.Byte("len"))), "bytes")
			case 9:
				if p := r.Prefixed("p"); cap(p) != len(p) || r.Err() == nil && !bytes.Equal(p, in[r.Offset()-len(p):r.Offset()]) {
					t.Fatalf("Prefixed = %x (cap %d), not the input's bytes before offset %d", p, cap(p), r.Offset())
				}
			}
			if r.Offset()+r.Len() != len(in) || r.Offset() < start {
				t.Fatalf("Offset %d + Len %d != %d (started at %d)", r.Offset(), r.Len(), len(in), start)
			}
		}
	})
}

// TestCountSizeBelowOne: an item size below 1 is the caller's bug, and
// panics rather than disabling the check.
func TestCountSizeBelowOne(t *testing.T) {
	for _, size := range []int{0, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Count with size %d did not panic", size)
				}
			}()
			r := New([]byte{1})
			r.Count(1<<62, size, "items")
		}()
	}
}

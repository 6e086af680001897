package itch_test

import (
	"bytes"
	"errors"
	"testing"

	"sgw/feed/itch"
)

// FuzzDecode checks Decode never panics, returns only its documented
// errors, and that whatever it accepts Append re-encodes to the same bytes.
func FuzzDecode(f *testing.F) {
	for _, s := range samples(f) {
		b, err := itch.Append(nil, &s.m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	// Hand-written frames from the spec layout.
	for _, h := range []string{
		"53 0000 0001 1f1aced9f07b 4f",                                                                      // system event 'O'
		"44 0007 0009 1f1aced9f07b 00000000000003e9",                                                        // order delete
		"58 0007 0008 1f1aced9f07b 00000000000003e9 00000032",                                               // order cancel
		"50 0007 000b 1f1aced9f07b 0000000000000000 42 0000000a 3630303030302020 00019a28 0000000000000003", // trade
		"48 0007 0003 1f1aced9f07b 3630303030302020 54 20 49504f31",                                         // trading action
		"41 0007 0004 1f1aced9f07b 00000000000003e9 58 0000012c 3630303030302020 00019a28",                  // add order, side 'X'
		"41 0007 0004 1f1aced9f07b 00000000000003e9 42 0000012c",                                            // truncated add order
	} {
		f.Add(unhex(f, h))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m itch.Message
		if err := itch.Decode(b, &m); err != nil {
			if !errors.Is(err, itch.ErrEmpty) && !errors.Is(err, itch.ErrUnknownType) &&
				!errors.Is(err, itch.ErrLength) && !errors.Is(err, itch.ErrBadField) {
				t.Fatalf("undocumented error %v", err)
			}
			return
		}
		if m.Type != b[0] {
			t.Fatalf("type %q, want %q", m.Type, b[0])
		}
		enc, err := itch.Append(nil, &m)
		if err != nil {
			t.Fatalf("Append of decoded %+v: %v", m, err)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("re-encoded\n% x\nwant\n% x", enc, b)
		}
	})
}

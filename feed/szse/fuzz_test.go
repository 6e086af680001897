package szse_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"sgw/feed/szse"
)

// FuzzDecode checks Decode never panics, returns only its documented
// errors with the documented byte counts, and that every frame it accepts
// Append re-encodes to the same bytes. It is seeded with the hand-assembled
// frames in testdata, the samples, and broken and concatenated frames.
func FuzzDecode(f *testing.F) {
	var all []byte
	for _, name := range frameFiles(f) {
		b := readFrame(f, name)
		f.Add(b)
		all = append(all, b...)
	}
	f.Add(all)
	for _, s := range samples() {
		b, err := szse.Append(nil, &s.m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)-1])
	}
	snapshot := readFrame(f, "snapshot.hex")
	cut := bytes.Clone(snapshot)
	binary.BigEndian.PutUint32(cut[8+65:], 5) // NoMDEntries past the body
	f.Add(cut)
	f.Add(frame(szse.TypeSnapshot, snapshotBody(1, entry(0xffffffff)...)))
	f.Add(frame(szse.TypeOrder, make([]byte, 50)))
	f.Add([]byte{0, 0, 0, 3, 0, 0, 0, 0})

	// A message that decoded a snapshot first, so the fuzzer exercises
	// reuse of its repeating-group storage.
	var warm szse.Message
	if _, err := szse.Decode(snapshot, &warm); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m := warm
		n, err := szse.Decode(b, &m)
		if n < 0 || n > len(b) {
			t.Fatalf("n = %d of %d bytes", n, len(b))
		}
		frameLen := -1
		if len(b) >= szse.HeaderLen {
			frameLen = szse.HeaderLen + int(binary.BigEndian.Uint32(b[4:])) + szse.TrailerLen
		}
		switch {
		case err == nil:
			if n != frameLen {
				t.Fatalf("n = %d, frame is %d bytes", n, frameLen)
			}
			enc, err := szse.Append(nil, &m)
			if err != nil {
				t.Fatalf("Append of decoded %s: %v", show(&m), err)
			}
			if !bytes.Equal(enc, b[:n]) {
				t.Fatalf("re-encoded\n% x\nwant\n% x", enc, b[:n])
			}
		case err == szse.ErrTruncated:
			if n != 0 || (frameLen >= 0 && frameLen <= len(b) && frameLen <= szse.MaxFrameLen) {
				t.Fatalf("ErrTruncated with n = %d, frame of %d bytes, %d bytes given", n, frameLen, len(b))
			}
		case err == szse.ErrUnknownType:
			if n != frameLen || m.Type != szse.MsgType(binary.BigEndian.Uint32(b)) {
				t.Fatalf("ErrUnknownType: n = %d, type %d; frame of %d bytes", n, m.Type, frameLen)
			}
			if _, err := szse.Append(nil, &m); !errors.Is(err, szse.ErrUnknownType) {
				t.Fatalf("type %d is unknown to Decode but Append encodes it", m.Type)
			}
		case errors.Is(err, szse.ErrChecksum):
			if n != 0 {
				t.Fatalf("%v with n = %d", err, n)
			}
		case errors.Is(err, szse.ErrBodyLength):
			if n != 0 && (n != frameLen || binary.BigEndian.Uint32(b) != uint32(szse.TypeSnapshot)) {
				t.Fatalf("%v with n = %d", err, n)
			}
		default:
			t.Fatalf("undocumented error %v", err)
		}
	})
}

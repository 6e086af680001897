package qfcpp

import (
	"bytes"
	"os"
	"testing"
)

// TestRecordedFrames splits the frames of sessions quickfix (Go)
// recorded, parses them and frames their fields again: the same bytes.
func TestRecordedFrames(t *testing.T) {
	for _, name := range []string{"session_in.fix", "session_out.fix"} {
		b, err := os.ReadFile("../testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		frames := 0
		for len(b) > 0 {
			n, err := SplitFrame(b)
			if err != nil || n == 0 {
				t.Fatalf("%s: SplitFrame = %d, %v at %q", name, n, err, b)
			}
			m, err := ParseMessage(string(b[:n]), 1)
			f := m.Fields()
			if err != nil || len(f) < 4 || f[0].Tag != 8 || f[1].Tag != 9 || f[len(f)-1].Tag != 10 {
				t.Fatalf("%s: ParseMessage = %v, %v", name, m, err)
			}
			if again := Frame(f[0].Value, f[2:len(f)-1]...); !bytes.Equal(again, b[:n]) {
				t.Fatalf("%s: framed %q; recorded %q", name, again, b[:n])
			}
			b = b[n:]
			frames++
		}
		if frames < 2 {
			t.Fatalf("%s: %d frames", name, frames)
		}
	}
}

func TestSplitFrame(t *testing.T) {
	f := Frame(FIX44, Field{Tag: 35, Value: "0"}, Field{Tag: 34, Value: "7"}, Field{Tag: 49, Value: "A"})
	bad := append([]byte(nil), f...)
	bad[len(bad)-3]++ // the CheckSum's last digit
	for _, tc := range []struct {
		name    string
		in      []byte
		n       int
		garbled bool
	}{
		{name: "a frame", in: f, n: len(f)},
		{name: "a frame and more", in: append(append([]byte(nil), f...), f[:5]...), n: len(f)},
		{name: "empty", in: nil},
		{name: "a prefix", in: f[:3]},
		{name: "all but the last byte", in: f[:len(f)-1]},
		{name: "bad checksum", in: bad, garbled: true},
		{name: "junk", in: []byte("hello"), garbled: true},
		{name: "BodyLength not a number", in: []byte("8=FIX.4.4\x019=x\x0135=0\x01"), garbled: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n, err := SplitFrame(tc.in)
			if n != tc.n || (err != nil) != tc.garbled {
				t.Fatalf("SplitFrame = %d, %v; want %d, garbled %v", n, err, tc.n, tc.garbled)
			}
		})
	}
}

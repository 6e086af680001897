package fix

import (
	"bytes"
	"os"
	"testing"
)

// readFrames returns the frames of a recorded session in testdata, split
// on "8=FIX" (each file holds whole frames back to back).
func readFrames(tb testing.TB, name string) [][]byte {
	tb.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	var frames [][]byte
	for len(b) > 0 {
		i := bytes.Index(b[1:], []byte("8=FIX"))
		if i < 0 {
			frames = append(frames, b)
			break
		}
		frames = append(frames, b[:i+1])
		b = b[i+1:]
	}
	return frames
}

type scanned struct {
	size, seq int
}

func scanAll(chunks ...[]byte) []scanned {
	sc := newFrameScanner()
	var got []scanned
	for _, c := range chunks {
		sc.Scan(c, func(f frame) { got = append(got, scanned{f.Size, f.SeqNum()}) })
	}
	return got
}

func TestFrameScanner(t *testing.T) {
	out := readFrames(t, "session_out.fix")
	in := readFrames(t, "session_in.fix")
	all := bytes.Join(out, nil)
	var want []scanned
	for i, f := range out {
		want = append(want, scanned{len(f), i + 1})
	}
	for _, c := range []struct {
		name   string
		chunks [][]byte
		want   []scanned
	}{
		{name: "one frame", chunks: [][]byte{out[1]}, want: want[1:2]},
		{name: "whole stream in one read", chunks: [][]byte{all}, want: want},
		{name: "byte by byte", chunks: bytesOf(all), want: want},
		{name: "garbage before a frame", chunks: [][]byte{[]byte("88=FI8=FIX\x01junk"), out[0]}, want: want[:1]},
		{name: "body length not a number", chunks: [][]byte{[]byte("8=FIX.4.4\x019=1x\x01"), out[0]}, want: want[:1]},
		{name: "body length too large", chunks: [][]byte{[]byte("8=FIX.4.4\x019=99999999\x01"), out[0]}, want: want[:1]},
		{name: "incomplete frame", chunks: [][]byte{out[0][:len(out[0])-1]}, want: nil},
		{name: "inbound", chunks: [][]byte{bytes.Join(in, nil)}, want: func() (w []scanned) {
			for i, f := range in {
				w = append(w, scanned{len(f), i + 1})
			}
			return w
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := scanAll(c.chunks...)
			if len(got) != len(c.want) {
				t.Fatalf("got %d frames %v, want %d %v", len(got), got, len(c.want), c.want)
			}
			for i := range got {
				if got[i] != c.want[i] {
					t.Errorf("frame %d: got %+v, want %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestFrameFields(t *testing.T) {
	f := frame{Head: readFrames(t, "session_out.fix")[1]}
	for _, c := range []struct{ prefix, want string }{
		{"\x0149=", "GATEWAY"},
		{"\x0156=", "CORE"},
		{"\x0135=", "D"},
		{"\x01999=", ""},
	} {
		if got := string(f.Field(c.prefix)); got != c.want {
			t.Errorf("Field(%q) = %q, want %q", c.prefix, got, c.want)
		}
	}
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = b[i : i+1]
	}
	return out
}

// FuzzFrameScanner feeds arbitrary bytes, split at an arbitrary point, and
// checks that the scanner never panics, reports only frames that fit in
// what it was given, and finds the same frames however the input is split.
func FuzzFrameScanner(f *testing.F) {
	for _, name := range []string{"session_out.fix", "session_in.fix"} {
		b, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint16(len(b)/2))
		for _, fr := range readFrames(f, name) {
			f.Add(fr, uint16(7))
		}
	}
	f.Add([]byte("8=FIX.4.4\x019=5\x0135=0\x0110=000\x01"), uint16(3))
	f.Fuzz(func(t *testing.T, b []byte, split uint16) {
		s := int(split) % (len(b) + 1)
		whole := scanAll(b)
		parts := scanAll(b[:s], b[s:])
		total := 0
		for _, f := range whole {
			total += f.size
		}
		if total > len(b) {
			t.Fatalf("frames total %d bytes of %d", total, len(b))
		}
		if len(whole) != len(parts) {
			t.Fatalf("whole: %v, split at %d: %v", whole, s, parts)
		}
		for i := range whole {
			if whole[i] != parts[i] {
				t.Fatalf("frame %d: whole %+v, split %+v", i, whole[i], parts[i])
			}
		}
	})
}

// TestFrameCounter counts the frames of a recorded session fed in pieces
// of every size.
func TestFrameCounter(t *testing.T) {
	frames := readFrames(t, "session_out.fix")
	all := bytes.Join(frames, nil)
	for size := 1; size <= len(all); size += 37 {
		c, n := NewFrameCounter(), 0
		for p := all; len(p) > 0; {
			k := min(size, len(p))
			n += c.Count(p[:k])
			p = p[k:]
		}
		if n != len(frames) {
			t.Fatalf("pieces of %d: counted %d frames; want %d", size, n, len(frames))
		}
	}
}

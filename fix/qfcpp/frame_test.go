package qfcpp

import (
	"strings"
	"testing"
)

func TestSplitFIX(t *testing.T) {
	const hb = "8=FIX.4.4\x019=5\x0135=0\x0110=123\x01"
	for _, tc := range []struct {
		name string
		in   string
		want int
	}{
		{name: "frame", in: hb, want: len(hb)},
		{name: "two frames", in: hb + hb, want: len(hb)},
		{name: "trailer missing", in: hb[:len(hb)-1], want: 0},
		{name: "body length missing", in: "8=FIX.4.4\x019", want: 0},
		{name: "begin only", in: "8=FI", want: 0},
		{name: "empty", in: "", want: 0},
		{name: "garbage before a frame", in: "xx" + hb, want: 2},
		{name: "garbage alone", in: "garbage", want: 3},
		{name: "short garbage", in: "ab", want: 2},
		{name: "no body length", in: "8=FIX.4.4\x0135=0\x01" + hb, want: len("8=FIX.4.4\x0135=0\x01")},
		{name: "bad body length", in: "8=FIX.4.4\x019=x\x01" + hb, want: len("8=FIX.4.4\x019=x\x01")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := SplitFIX([]byte(tc.in)); got != tc.want {
				t.Errorf("SplitFIX(%q) = %d, want %d", strings.ReplaceAll(tc.in, "\x01", "|"), got, tc.want)
			}
		})
	}
}

func TestFrameIs(t *testing.T) {
	er := []byte("8=FIX.4.4\x019=20\x0135=8\x0111=c1\x0139=0\x0110=123\x01")
	if !FrameIs("8", map[int]string{11: "c1"})(er) {
		t.Error("the report of c1 is not matched")
	}
	if FrameIs("8", map[int]string{11: "c2"})(er) || FrameIs("D", nil)(er) || FrameIs("8", nil)([]byte("garbage")) {
		t.Error("a match of another frame")
	}
}

package wireref

import (
	"bytes"
	"errors"
	"go/parser"
	"go/token"
	"math"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// TestImportsNothingOfTheModule keeps the reference independent: it may
// use the standard library only, never mdbus, orderbook or refdata.
func TestImportsNothingOfTheModule(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range files {
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if path, _ := strconv.Unquote(imp.Path.Value); path == "sgw" || strings.HasPrefix(path, "sgw/") {
				t.Errorf("%s imports %s", name, path)
			}
		}
	}
}

// TestExamples checks the reference against the specification's worked
// frames, computed by hand.
func TestExamples(t *testing.T) {
	for _, e := range Examples() {
		t.Run(e.Name, func(t *testing.T) {
			b := e.Bytes()
			if got := Encode(e.Frame); !bytes.Equal(got, b) {
				t.Fatalf("Encode: % x\nspec:   % x", got, b)
			}
			got, err := Decode(b)
			if err != nil || !reflect.DeepEqual(got, e.Frame) {
				t.Fatalf("Decode: %v %+v", err, got)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	frames := EdgeCases()
	g := NewGenerator(1)
	for i := range 2000 {
		frames["random "+strconv.Itoa(i)] = g.Frame()
	}
	for name, f := range frames {
		got, err := Decode(Encode(f))
		if err != nil || !reflect.DeepEqual(got, f) {
			t.Fatalf("%s: %v\ngot  %+v\nwant %+v", name, err, got, f)
		}
	}
}

func TestRefused(t *testing.T) {
	for _, c := range Refused() {
		_, err := Decode(c.Bytes)
		want := ErrRefused
		if c.Version {
			want = ErrVersion
		}
		if !errors.Is(err, want) {
			t.Errorf("%s (% x): %v, want %v", c.Name, c.Bytes, err, want)
		}
	}
}

// TestGeneratorCoversHeartbeats: among its frames the Generator makes
// heartbeats at the limits of the specification: one entry and 4096,
// some hundreds, symbols of 1 and 16 bytes and of bytes beyond ASCII,
// seqs 0 and 2^64-1, and a symbol named twice.
func TestGeneratorCoversHeartbeats(t *testing.T) {
	seen := map[string]bool{}
	g := NewGenerator(1)
	for range 2000 {
		f := g.Frame()
		if f.Type != TypeHeartbeat {
			if f.Beats != nil {
				t.Fatalf("%c frame with beats %v", f.Type, f.Beats)
			}
			continue
		}
		if f.Symbol != HeartbeatSymbol {
			t.Fatalf("heartbeat about %q", f.Symbol)
		}
		n := len(f.Beats)
		seen["1 entry"] = seen["1 entry"] || n == 1
		seen["100 to 4095 entries"] = seen["100 to 4095 entries"] || n >= 100 && n < MaxBeats
		seen["4096 entries"] = seen["4096 entries"] || n == MaxBeats
		named := map[string]bool{}
		for _, b := range f.Beats {
			if n := len(b.Symbol); n == 0 || n > MaxSymbol {
				t.Fatalf("entry symbol %q", b.Symbol)
			}
			seen["symbol of 1 byte"] = seen["symbol of 1 byte"] || len(b.Symbol) == 1
			seen["symbol of 16 bytes"] = seen["symbol of 16 bytes"] || len(b.Symbol) == MaxSymbol
			seen["byte above 0x7f"] = seen["byte above 0x7f"] || strings.ContainsFunc(b.Symbol, func(r rune) bool { return r > 0x7f })
			seen["seq 0"] = seen["seq 0"] || b.Seq == 0
			seen["seq 2^64-1"] = seen["seq 2^64-1"] || b.Seq == math.MaxUint64
			seen["symbol twice"] = seen["symbol twice"] || named[b.Symbol]
			named[b.Symbol] = true
		}
	}
	for _, want := range []string{"1 entry", "100 to 4095 entries", "4096 entries", "symbol of 1 byte",
		"symbol of 16 bytes", "byte above 0x7f", "seq 0", "seq 2^64-1", "symbol twice"} {
		if !seen[want] {
			t.Errorf("no heartbeat with %s", want)
		}
	}
}

// TestEncodeHeartbeat: EncodeHeartbeat writes the count it is given,
// which Encode takes from the entries.
func TestEncodeHeartbeat(t *testing.T) {
	beats := []Beat{{Symbol: "600519.SH", Seq: 7}, {Symbol: "000001.SZ"}}
	f := &Frame{Type: TypeHeartbeat, Epoch: 300, Symbol: HeartbeatSymbol, Beats: beats}
	tests := []struct {
		name  string
		count uint64
		beats []Beat
		want  string
	}{
		{name: "count of its entries", count: 2, beats: beats, want: string(Encode(f))},
		{name: "count 0 without entries", count: 0, want: "\x01H\xac\x02\x01*\x00"},
		{name: "count 300 of one entry", count: 300, beats: beats[:1], want: "\x01H\xac\x02\x01*\xac\x02\x09600519.SH\x07"},
	}
	for _, tc := range tests {
		if got := EncodeHeartbeat(300, HeartbeatSymbol, tc.count, tc.beats); string(got) != tc.want {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
}

// TestRefusedCutsEveryType: the refused prefixes include frames of every
// type but errors (whose every prefix past the symbol is a shorter text).
func TestRefusedCutsEveryType(t *testing.T) {
	cut := map[byte]bool{}
	for _, c := range Refused() {
		if strings.Contains(c.Name, " cut to ") && len(c.Bytes) > 1 {
			cut[c.Bytes[1]] = true
		}
	}
	for _, typ := range []byte{TypeUpdate, TypeSnapshot, TypeHeartbeat} {
		if !cut[typ] {
			t.Errorf("no prefix of a %c frame among the refused", typ)
		}
	}
}

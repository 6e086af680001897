package wireref

import (
	"bytes"
	"errors"
	"go/parser"
	"go/token"
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

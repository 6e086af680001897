package jsonkey

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strconv"
	"testing"
)

// probe is a struct field that records, in log, each value
// encoding/json decodes into it: which field a name matched is
// encoding/json's own decision.
type probe struct {
	log *[]int
	k   int
}

func (p *probe) UnmarshalJSON([]byte) error {
	*p.log = append(*p.log, p.k)
	return nil
}

// oracleFields are the fields FuzzRepeatedFieldOracle checks against.
var oracleFields = []string{"op", "id", "kid", "sub", "clOrdId", "symbol", "symbols", "qty", "s", "k"}

// matchOracle returns the index in oracleFields of the field
// encoding/json decodes the quoted name q into, or -1.
func matchOracle(typ reflect.Type, q []byte) int {
	var log []int
	v := reflect.New(typ).Elem()
	for k := range oracleFields {
		v.Field(k).Set(reflect.ValueOf(probe{&log, k}))
	}
	obj := append(append([]byte("{"), q...), ":0}"...)
	if err := json.Unmarshal(obj, v.Addr().Interface()); err != nil || len(log) == 0 {
		return -1
	}
	return log[0]
}

// repeatedFieldOracle is RepeatedField as encoding/json decides it: each
// top-level name (json.Decoder's tokens) decoded into a struct whose
// fields record what they are given.
func repeatedFieldOracle(typ reflect.Type, b []byte, strict bool) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	var seen [64]bool
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		q, _ := json.Marshal(tok.(string))
		k := matchOracle(typ, q)
		switch {
		case k < 0 && strict && tok == "":
			return "", false // unknown and empty: the answer "" cannot tell it
		case k < 0 && strict:
			return "?", true // unknown: RepeatedField returns it cut
		case k < 0:
		case seen[k]:
			return oracleFields[k], true
		default:
			seen[k] = true
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
	}
	return "", true
}

// FuzzRepeatedFieldOracle checks RepeatedField against encoding/json's
// own matching of names to struct fields, strict and not.
func FuzzRepeatedFieldOracle(f *testing.F) {
	var sf []reflect.StructField
	for k, n := range oracleFields {
		sf = append(sf, reflect.StructField{Name: "F" + strconv.Itoa(k), Type: reflect.TypeFor[probe](), Tag: reflect.StructTag(`json:"` + n + `"`)})
	}
	typ := reflect.StructOf(sf)
	for _, s := range []string{`{"op":"ping","OP":"x"}`, `{"kid":"a","\u212aid":"b"}`, `{"sub":"a","ſub":"b"}`,
		`{"s":1,"ſ":2}`, `{"k":1,"\u212a":2}`, `{"clOrdId":"a","CLORDID":"b"}`, `{"symbol":"a","symbols":["b"],"Symbol":"c"}`,
		`{"x":{"op":1},"op":2}`, "{\"\xff\":1,\"\\ufffd\":2,\"id\":3}", `{"\ud800":1,"\udc00":2,"id":1,"i\u0064":2}`} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, strict bool) {
		got := RepeatedField(b, oracleFields, strict)
		if !json.Valid(b) {
			return
		}
		want, ok := repeatedFieldOracle(typ, b, strict)
		if !ok {
			return
		}
		if want == "?" {
			if got == "" || slices.Contains(oracleFields, got) {
				t.Fatalf("RepeatedField(%q, strict) = %q, want an unknown name", b, got)
			}
			return
		}
		if got != want {
			t.Fatalf("RepeatedField(%q, %v) = %q, want %q", b, strict, got, want)
		}
	})
}

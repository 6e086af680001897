package jsonkey

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestRepeated: a name given twice, exactly, in another case, or as
// encoding/json folds it (the Kelvin sign K is k, the long s ſ is s, the
// dotless ı is not i), escaped or not, is found; names inside nested
// values or strings are not top-level names.
func TestRepeated(t *testing.T) {
	many := func(n int, extra string) string {
		var sb strings.Builder
		sb.WriteString("{")
		for i := range n {
			fmt.Fprintf(&sb, `"c%d":%d,`, i, i)
		}
		sb.WriteString(extra + `}`)
		return sb.String()
	}
	for _, tc := range []struct{ name, in, want string }{
		{"none", `{"sub":"A1","exp":1,"accounts":["A1"]}`, ""},
		{"empty", `{}`, ""},
		{"exact", `{"sub":"A1","exp":1,"sub":"A2"}`, "sub"},
		{"other case", `{"sub":"A1","SUB":"A2"}`, "SUB"},
		{"escaped", `{"sub":"A1","\u0073ub":"A2"}`, "sub"},
		{"escaped first", `{"\u0073ub":"A1","sub":"A2"}`, "sub"},
		{"Kelvin sign", `{"kid":"a","\u212aid":"b"}`, "\u212aid"},
		{"long s", `{"sub":"a","ſub":"b"}`, "ſub"},
		{"dotless i is not i", `{"kid":"a","kıd":"b"}`, ""},
		{"names inside a nested object", `{"ent":{"SH":"L2","sh":"L1"},"sub":"A1"}`, ""},
		{"names inside an array", `{"aud":[{"a":1},{"a":2},["a","a"]],"a":1}`, ""},
		{"a name in a string", `{"sub":"\",\"sub\":","x":1}`, ""},
		{"escaped backslash then a name", `{"sub":"\\","sub":1}`, "sub"},
		{"white space", "{ \"sub\" : 1 ,\n\t\"Sub\" : 2 }", "Sub"},
		{"after a nested duplicate", `{"ent":{"a":1},"accounts":[],"accounts":["A2"]}`, "accounts"},
		{"40 names", many(40, `"x":1`), ""},
		{"40 names and one twice", many(40, `"C7":1`), "C7"},
		{"bytes not UTF-8, named as encoding/json reads them", "{\"\x80\":1,\"\xff\":2}", "\ufffd"},
		{"not JSON: unterminated", `{"sub":"A1","sub`, ""},
		{"not JSON: no object", `"sub"`, ""},
		{"not JSON: bad escape", `{"\x":1,"\x":2}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Repeated([]byte(tc.in)); got != tc.want {
				t.Fatalf("Repeated(%s) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestRepeatedField: a field named twice, in any case, is found; an
// unknown name is returned if strict, else skipped.
func TestRepeatedField(t *testing.T) {
	fields := []string{"account", "on"}
	for _, tc := range []struct {
		name, in string
		strict   bool
		want     string
	}{
		{"once each", `{"account":"A1","on":true}`, true, ""},
		{"twice", `{"account":"A1","on":true,"account":""}`, true, "account"},
		{"other case", `{"account":"A1","ON":true,"on":false}`, true, "on"},
		{"unknown, strict", `{"account":"A1","x":1}`, true, "x"},
		{"unknown cut to 32 bytes", `{"` + strings.Repeat("y", 40) + `":1}`, true, strings.Repeat("y", 32)},
		{"unknown twice, lenient", `{"x":1,"x":2,"on":true}`, false, ""},
		{"nested", `{"account":{"on":1,"on":2},"on":true}`, true, ""},
		{"not JSON", `{"on":true,"on`, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := RepeatedField([]byte(tc.in), fields, tc.strict); got != tc.want {
				t.Fatalf("RepeatedField(%s) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// repeatedRef is Repeated written apart: json.Decoder's tokens, every
// pair of names compared with strings.EqualFold.
func repeatedRef(b []byte) (string, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return "", false
	}
	var names []string
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return "", false
		}
		k := tok.(string)
		for _, n := range names {
			if strings.EqualFold(n, k) {
				return k, true
			}
		}
		names = append(names, k)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return "", false
		}
	}
	return "", true
}

// FuzzRepeated checks Repeated against repeatedRef on every valid JSON
// object, and that it does not fail on anything else.
func FuzzRepeated(f *testing.F) {
	for _, s := range []string{`{"sub":"A1","SUB":"A2"}`, `{"a":{"a":1},"b":"\"a\"","\u0061":2}`,
		`{"kid":"a","\u212aid":"b"}`, `{"alg":"EdDSA","kid":"ed-a","typ":"JWT"}`, `{"x":[1,{"x":2}],"y":"}"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got := Repeated(b)
		if !json.Valid(b) {
			return
		}
		want, ok := repeatedRef(b)
		if ok && got != want {
			t.Fatalf("Repeated(%s) = %q, want %q", b, got, want)
		}
	})
}

// BenchmarkRepeated measures the scan of a token's payload.
func BenchmarkRepeated(b *testing.B) {
	payload := []byte(`{"sub":"u1","iat":1767222000,"exp":1767225600,"accounts":["ACC-001","ACC-002","ACC-003"],"ent":{"SH":"L2","SZ":"L1"},"adm":true}`)
	b.ReportAllocs()
	for b.Loop() {
		if Repeated(payload) != "" {
			b.Fatal("repeated")
		}
	}
}

// BenchmarkRepeatedField measures the scan of a WebSocket order request.
func BenchmarkRepeatedField(b *testing.B) {
	fields := []string{"op", "id", "token", "channel", "symbols", "depth", "resume", "checksums",
		"accounts", "clOrdId", "origClOrdId", "account", "symbol", "side", "type", "price", "qty", "cursor", "limit"}
	req := []byte(`{"op":"order.new","id":7,"clOrdId":"c1","account":"A1","symbol":"600519.SH","side":"buy","type":"limit","price":"1700.00","qty":100}`)
	b.ReportAllocs()
	for b.Loop() {
		if RepeatedField(req, fields, true) != "" {
			b.Fatal("repeated")
		}
	}
}

package auth

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestVerifyRepeatedNames: a signed token whose header or payload gives a
// name twice (exactly, in another case, escaped, or as encoding/json folds
// it: the Kelvin sign K is k) is refused ErrMalformed, naming the part and
// the name; before, the last was taken ({"sub":"A1",...,"sub":"A2"}
// verified as A2, which an audit reading the first took for A1). Names
// inside a nested value are not the token's names, but a market given
// twice in ent, which grants market data, is refused as a claim given
// twice is ({"SH":"none",...,"SH":"L2"} granted L2 while an audit reading
// the first saw none); a token whose names are all different verifies.
func TestVerifyRepeatedNames(t *testing.T) {
	v := newTestVerifier(t)
	const hdr = `{"alg":"HS256","kid":"hs","typ":"JWT"}`
	times := fmt.Sprintf(`"iat":%d,"exp":%d`, testNow.Unix()-60, testExp)
	for _, tc := range []struct {
		name, header, payload string
		want                  string // "" = valid; else in the error
	}{
		{"distinct names", hdr, `{"sub":"u1",` + times + `,"accounts":["A1"],"jti":"x"}`, ""},
		{"names inside ent", hdr, `{"sub":"u1",` + times + `,"ent":{"SH":"L2","SZ":"L1"},"x":{"sub":"u2","sub":"u3"}}`, ""},
		{"a name inside a string", hdr, `{"sub":"u1","jti":"\",\"sub\":\"u2",` + times + `}`, ""},
		{"sub twice", hdr, `{"sub":"A1",` + times + `,"sub":"u1"}`, `payload has name "sub" more than once`},
		{"sub in another case", hdr, `{"sub":"u1",` + times + `,"SUB":"admin"}`, `payload has name "SUB" more than once`},
		{"sub escaped", hdr, `{"\u0073ub":"A1",` + times + `,"sub":"u1"}`, `payload has name "sub" more than once`},
		{"accounts twice", hdr, `{"sub":"u1",` + times + `,"accounts":["A1"],"accounts":["A2"]}`, `payload has name "accounts" more than once`},
		{"adm twice", hdr, `{"sub":"u1",` + times + `,"adm":false,"adm":true}`, `"adm"`},
		{"exp twice", hdr, `{"sub":"u1",` + times + `,"exp":4102444800}`, `"exp"`},
		{"an unused claim twice", hdr, `{"sub":"u1",` + times + `,"jti":"a","jti":"b"}`, `"jti"`},
		{"a market twice in ent", hdr, `{"sub":"u1",` + times + `,"ent":{"SH":"none","SZ":"L1","SH":"L2"}}`, `ent has market "SH" more than once`},
		{"a market escaped in ent", hdr, `{"sub":"u1",` + times + `,"ent":{"SH":"none","\u0053H":"L2"}}`, `ent has market "SH" more than once`},
		{"kid twice", `{"alg":"HS256","kid":"other","kid":"hs"}`, `{"sub":"u1",` + times + `}`, `header has name "kid" more than once`},
		{"alg twice", `{"alg":"none","kid":"hs","alg":"HS256"}`, `{"sub":"u1",` + times + `}`, `header has name "alg"`},
		{"kid and a Kelvin kid", `{"alg":"HS256","kid":"hs","\u212aid":"other"}`, `{"sub":"u1",` + times + `}`, "header has name \"\u212aid\""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(hsToken(tc.header, tc.payload, []byte(testSecret)), testNow)
			if tc.want == "" {
				if err != nil || c.Subject != "u1" {
					t.Fatalf("Verify = %+v, %v", c, err)
				}
				return
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Verify error = %v; want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// verifyErrors are the errors Verify may report.
var verifyErrors = []error{ErrMalformed, ErrUnknownKey, ErrAlgorithm, ErrSignature, ErrExpired,
	ErrNotYetValid, ErrIssuer, ErrAudience}

// checkVerified holds for anything Verify accepts: the claims are valid and
// unexpired, named a configured key, and signing them again (at now) gives
// a token that verifies to the same claims.
func checkVerified(t *testing.T, v *Verifier, token string, c Claims, now time.Time) {
	t.Helper()
	if len(token) > MaxTokenBytes {
		t.Fatalf("verified a %d-byte token", len(token))
	}
	if err := c.validate(); err != nil {
		t.Fatalf("verified invalid claims %+v: %v", c, err)
	}
	if !now.Before(c.ValidUntil) || c.Entitlements == nil {
		t.Fatalf("verified claims %+v at %v", c, now)
	}
	if _, ok := v.keys[c.KeyID]; !ok {
		t.Fatalf("verified with kid %q, not configured", c.KeyID)
	}
	s, err := NewSigner(SignerConfig{Key: keyHS, MaxTTL: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	want := c
	if want.IssuedAt == 0 {
		want.IssuedAt = now.Unix() // Sign's zero iat means now
	}
	again, err := s.Sign(c, now)
	if err != nil {
		// Claims beyond Sign's own checks (a ttl over max_ttl, a
		// re-encoding over the size limit) are fine to have verified.
		if !errors.Is(err, ErrClaims) {
			t.Fatalf("re-signing %+v: %v", c, err)
		}
		return
	}
	c2, err := v.Verify(again, now)
	if err != nil || !sameClaims(want, c2) {
		t.Fatalf("re-signed %+v verifies to %+v, %v", want, c2, err)
	}
}

func checkError(t *testing.T, c Claims, err error) {
	t.Helper()
	known := false
	for _, e := range verifyErrors {
		known = known || errors.Is(err, e)
	}
	if !known {
		t.Fatalf("error %v is none of Verify's", err)
	}
	if !sameClaims(c, Claims{}) || c.KeyID != "" {
		t.Fatalf("claims %+v returned with error %v", c, err)
	}
}

// FuzzVerify feeds arbitrary tokens to Verify, seeded with real tokens of
// each algorithm (signed here, and by OpenSSL) and their mutations: it must
// not panic, must fail with one of its errors, and whatever it accepts must
// be valid.
func FuzzVerify(f *testing.F) {
	v := newTestVerifier(f)
	var seeds []string
	for _, k := range allKeys {
		seeds = append(seeds, sign(f, k, testClaims()))
	}
	for _, tok := range goldenTokens(f) {
		seeds = append(seeds, tok)
	}
	for _, tok := range seeds {
		parts := strings.Split(tok, ".")
		h, p, sig := parts[0], parts[1], parts[2]
		for _, s := range []string{
			tok,
			"B" + tok[1:],
			h + "." + p + ".B" + sig[1:],
			tok[:len(tok)-1],
			h + "." + p,
			h + "." + p + ".",
			tok + ".",
			tok + "." + sig,
			h + "=." + p + "." + sig,
			h + "." + p[:4] + "\n" + p[4:] + "." + sig,
			p + "." + h + "." + sig,
		} {
			f.Add(s)
		}
	}
	for _, s := range []string{
		hsToken(`{"alg":"none","kid":"hs"}`, payloadJSON(nil), nil),
		hsToken(`{"alg":"HS256","kid":"ed-a"}`, payloadJSON(nil), []byte(testSecret)),
		hsToken(`{"alg":"HS256","kid":"hs","crit":["b64"]}`, payloadJSON(nil), []byte(testSecret)),
		hsPayload(`{"sub":"u1","iat":1767222000,"exp":1767225600,"ent":{"SH":"L2"},"adm":true,"aud":["a","b"],"nbf":1}`),
		"",
		".",
		"..",
		strings.Repeat("A", MaxTokenBytes+1),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, token string) {
		c, err := v.Verify(token, testNow)
		if err != nil {
			checkError(t, c, err)
			return
		}
		checkVerified(t, v, token, c, testNow)
	})
}

// FuzzVerifyPayload signs arbitrary payloads with the HS256 key, so that
// the JSON and claims checks behind the signature are reached.
func FuzzVerifyPayload(f *testing.F) {
	v := newTestVerifier(f)
	for _, s := range []string{
		`{"sub":"u1","accounts":["A1","A2"],"iat":1767222000,"exp":1767225600}`,
		`{"sub":"u1","iat":1767222000,"exp":1767225600,"ent":{"SH":"L2","*":"L1"},"adm":true}`,
		`{"sub":"u1","iat":1767222000,"exp":1767225600,"ent":{}}`,
		`{"sub":"u1","iat":1767222000.5,"exp":1767225600.25,"nbf":1767222000}`,
		`{"sub":"u1","iat":1767222000,"exp":1767225600,"aud":"sgw","iss":"login"}`,
		`{"SUB":"u1","Iat":1767222000,"exp":1767225600}`,
		`{"sub":"u1","sub":"u2","accounts":null,"iat":1767222000,"exp":1767225600}`,
		`{"sub":"u1","iat":1767222000,"exp":1767225600,"ent":{"SH":"none","SZ":"L1","SH":"L2"}}`,
		`{"sub":"u\u00e9","iat":1767222000,"exp":1767225600}`,
		`{"sub":"u1","iat":1767222000,"exp":9223372036854775807}`,
		`{"sub":"u1","iat":1767222000,"exp":-9223372036854775808}`,
		`{"sub":"u1","iat":1767222000,"exp":1e300}`,
		`{"sub":"u1","iat":1767222000,"exp":"1767225600"}`,
		`{"sub":"u1","iat":1767222000,"exp":1767225600} x`,
		`null`,
		`[]`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		token := hsPayload(string(payload))
		c, err := v.Verify(token, testNow)
		if err != nil {
			checkError(t, c, err)
			for _, e := range []error{ErrSignature, ErrUnknownKey, ErrAlgorithm} {
				if errors.Is(err, e) {
					t.Fatalf("a correctly signed token failed with %v", err)
				}
			}
			return
		}
		checkVerified(t, v, token, c, testNow)
		if name := givenTwice(payload); name != "" {
			t.Fatalf("verified %s, which gives %q twice", payload, name)
		}
	})
}

// givenTwice returns a name that the JSON object b gives twice at its top
// level, or that its "ent" object gives twice, without regard to case;
// or "". It reads json.Decoder's tokens, apart from internal/jsonkey.
func givenTwice(b []byte) string {
	var names func(dec *json.Decoder, nested bool) string
	names = func(dec *json.Decoder, nested bool) string {
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return ""
		}
		var seen []string
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return ""
			}
			k := tok.(string)
			for _, n := range seen {
				if strings.EqualFold(n, k) {
					return k
				}
			}
			seen = append(seen, k)
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return ""
			}
			if k == "ent" && !nested {
				if m := names(json.NewDecoder(bytes.NewReader(raw)), true); m != "" {
					return m
				}
			}
		}
		return ""
	}
	return names(json.NewDecoder(bytes.NewReader(b)), false)
}

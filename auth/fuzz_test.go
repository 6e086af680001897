package auth

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// checkVerified holds for anything Verify accepts: the claims are valid and
// unexpired, and issuing them again gives a token that verifies to the same
// claims.
func checkVerified(t *testing.T, v *Verifier, token string, c Claims, now time.Time) {
	t.Helper()
	if len(token) > MaxTokenBytes {
		t.Fatalf("verified a %d-byte token", len(token))
	}
	if err := c.validate(); err != nil {
		t.Fatalf("verified invalid claims %+v: %v", c, err)
	}
	if now.Add(-v.leeway).Unix() >= c.Expires {
		t.Fatalf("verified expired claims %+v at %d", c, now.Unix())
	}
	again, err := v.issue(c, time.Unix(c.Expires-1, 0))
	if err != nil {
		t.Fatalf("verified claims %+v that do not issue: %v", c, err)
	}
	c2, err := v.Verify(again, now)
	if err != nil || !sameClaims(c, c2) {
		t.Fatalf("re-issued %+v verifies to %+v, %v", c, c2, err)
	}
}

func checkError(t *testing.T, c Claims, err error) {
	t.Helper()
	if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrSignature) && !errors.Is(err, ErrExpired) {
		t.Fatalf("error %v is none of ErrMalformed, ErrSignature, ErrExpired", err)
	}
	if !sameClaims(c, Claims{}) {
		t.Fatalf("claims %+v returned with error %v", c, err)
	}
}

// FuzzVerify feeds arbitrary tokens to Verify, seeded with a real token and
// its mutations: it must not panic, must fail with one of its errors, and
// whatever it accepts must be valid.
func FuzzVerify(f *testing.F) {
	v := newTestVerifier(f, testSecret)
	tok, err := v.IssueFor("u1", []string{"A1", "A2"}, time.Hour, testNow)
	if err != nil {
		f.Fatal(err)
	}
	body, sig, _ := strings.Cut(tok, ".")
	for _, s := range []string{
		tok,
		goldenToken,
		"B" + tok[1:],
		body + ".B" + sig[1:],
		tok[:len(tok)-1],
		body,
		body + ".",
		tok + ".",
		tok + "." + sig,
		body + "=." + sig,
		body[:4] + "\n" + body[4:] + "." + sig,
		signRaw([]byte(`{"sub":"u1","acc":["A1"],"exp":1767225600,"x":1}`)),
		"",
		".",
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

// FuzzVerifyPayload signs arbitrary payloads with the secret, so that the
// JSON and claims checks behind the MAC are reached.
func FuzzVerifyPayload(f *testing.F) {
	v := newTestVerifier(f, testSecret)
	for _, s := range []string{
		`{"sub":"u1","acc":["A1","A2"],"exp":1767225600}`,
		`{"sub":"u1","exp":1767225600}`,
		`{"SUB":"u1","Acc":["A1"],"exp":1767225600}`,
		`{"sub":"u1","sub":"u2","acc":null,"exp":1767225600}`,
		`{"sub":"u\u00e9","acc":["A1"],"exp":1767225600}`,
		`{"sub":"u1","acc":["A1"],"exp":1767225600,"x":1}`,
		`{"sub":"u1","acc":["A1"],"exp":9223372036854775807}`,
		`{"sub":"u1","acc":["A1"],"exp":-9223372036854775808}`,
		`{"sub":"u1","acc":["A1"],"exp":1.7e9}`,
		`{"sub":"u1","acc":["A1"],"exp":1767225600} x`,
		`null`,
		`[]`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		token := signRaw(payload)
		c, err := v.Verify(token, testNow)
		if err != nil {
			checkError(t, c, err)
			if errors.Is(err, ErrSignature) {
				t.Fatalf("a correctly signed token failed with %v", err)
			}
			return
		}
		checkVerified(t, v, token, c, testNow)
	})
}

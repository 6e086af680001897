package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"testing"
	"time"
)

const (
	testSecret = "0123456789abcdef0123456789abcdef"
	// testExp is the exp of the tokens the tests issue; testNow is an hour
	// before it.
	testExp = 1767225600
)

var testNow = time.Unix(testExp-3600, 0)

func newTestVerifier(tb testing.TB, secret string) *Verifier {
	tb.Helper()
	v, err := New(Config{Secret: secret})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// signRaw builds a token around payload with the test secret, independently
// of the code under test.
func signRaw(payload []byte) string {
	body := base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, []byte(testSecret))
	m.Write([]byte(body))
	return body + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func sameClaims(a, b Claims) bool {
	return a.Subject == b.Subject && a.Expires == b.Expires && slices.Equal(a.Accounts, b.Accounts)
}

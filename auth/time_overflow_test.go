package auth

import (
	"errors"
	"math"
	"testing"
)

// TestFarFutureNbfIatNotAccepted: a token whose nbf (or iat) lies
// billions of years ahead is not valid now. Before, time.Unix overflowed
// on such a value, the instant wrapped into the far past, and the token
// was accepted at once.
func TestFarFutureNbfIatNotAccepted(t *testing.T) {
	v := newTestVerifier(t, keyHS)
	for _, tc := range []struct {
		name    string
		payload map[string]any
	}{
		{"nbf", map[string]any{"nbf": int64(math.MaxInt64)}},
		{"iat", map[string]any{"iat": int64(math.MaxInt64)}},
		{"nbf just past time's range", map[string]any{"nbf": int64(math.MaxInt64 - 62135596800 + 10)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Verify(hsPayload(payloadJSON(tc.payload)), testNow)
			if err == nil {
				t.Fatalf("token with %v accepted at %v", tc.payload, testNow)
			}
			if !errors.Is(err, ErrNotYetValid) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("err %v, want ErrNotYetValid or ErrMalformed", err)
			}
		})
	}
}

package auth

import (
	"encoding/json"
	"errors"
	"testing"
)

// TestEntNullNotDefault: a token whose ent claim is present but null (what
// an issuer's nil map encodes to) is malformed, as a null exp is. Before,
// null decoded as an absent ent and the token got
// Config.DefaultEntitlements, by default level 2 on every market: an
// issuer that meant "no market data" granted all of it.
func TestEntNullNotDefault(t *testing.T) {
	v := newTestVerifier(t, keyHS)
	for _, tc := range []struct {
		name string
		ent  any
		want error // nil: valid
	}{
		{"ent null", json.RawMessage("null"), ErrMalformed},
		{"control: ent empty", map[string]string{}, nil},
		{"control: ent absent", nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(hsPayload(payloadJSON(map[string]any{"ent": tc.ent})), testNow)
			if !errors.Is(err, tc.want) || (tc.want != nil) != (err != nil) {
				t.Fatalf("Verify = %v (ent %v), want %v", err, c.Entitlements, tc.want)
			}
		})
	}
}

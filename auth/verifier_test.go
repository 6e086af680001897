package auth

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// signWith signs header.payload with k's key and method, so that a test
// can put anything in the header.
func signWith(tb testing.TB, k KeyConfig, header, payload string) string {
	tb.Helper()
	kk, err := k.load()
	if err != nil {
		tb.Fatal(err)
	}
	in := b64([]byte(header)) + "." + b64([]byte(payload))
	sig, err := kk.method.Sign(in, kk.sign)
	if err != nil {
		tb.Fatal(err)
	}
	return in + "." + b64(sig)
}

// header returns a JOSE header of alg and kid.
func header(alg, kid string) string {
	return fmt.Sprintf(`{"alg":%q,"kid":%q,"typ":"JWT"}`, alg, kid)
}

// decodePart decodes part i of token.
func decodePart(t *testing.T, token string, i int) []byte {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignVerifyEveryAlgorithm(t *testing.T) {
	v := newTestVerifier(t)
	for _, k := range allKeys {
		t.Run(k.Alg, func(t *testing.T) {
			want := testClaims()
			want.Admin = true
			want.NotBefore = testNow.Unix() - 10
			// Every account an order may name (refdata.ValidID, 20
			// characters) a token may grant: before, [A-Za-z0-9_-] only.
			want.Accounts = append(want.Accounts, "ACC.9:SH/#1@x", strings.Repeat("Z", MaxAccountLen))
			tok := sign(t, k, want)
			var h map[string]any
			if err := json.Unmarshal(decodePart(t, tok, 0), &h); err != nil {
				t.Fatal(err)
			}
			if h["alg"] != k.Alg || h["kid"] != k.ID || h["typ"] != "JWT" || len(h) != 3 {
				t.Fatalf("header %v, want alg %s kid %s typ JWT", h, k.Alg, k.ID)
			}
			got, err := v.Verify(tok, testNow)
			if err != nil {
				t.Fatal(err)
			}
			want.IssuedAt = testNow.Unix()
			if !sameClaims(got, want) || got.KeyID != k.ID {
				t.Fatalf("Verify = %+v\nwant %+v (kid %s)", got, want, k.ID)
			}
			if !got.ValidUntil.Equal(time.Unix(testExp, 0).Add(5 * time.Second)) {
				t.Fatalf("ValidUntil %v, want exp+5s", got.ValidUntil)
			}
		})
	}
}

// TestGoldenTokens verifies tokens that OpenSSL signed (testdata/golden.py):
// the signing input, the signature layouts (r || s for ES256 and SM2SM3) and
// SM2's UID are the standard ones, not only this package's own.
func TestGoldenTokens(t *testing.T) {
	v := newTestVerifier(t)
	golden := goldenTokens(t)
	for _, k := range allKeys {
		t.Run(k.Alg, func(t *testing.T) {
			tok, ok := golden[k.ID]
			if !ok {
				t.Fatalf("golden.txt has no token of kid %s", k.ID)
			}
			c, err := v.Verify(tok, testNow)
			if err != nil {
				t.Fatal(err)
			}
			want := Claims{Subject: "golden-" + k.ID, Accounts: []string{"A1", "A2"}, Admin: true,
				Entitlements: Entitlements{"SH": L2, "SZ": L1}, IssuedAt: testNow.Unix() - 60, Expires: testExp}
			if !sameClaims(c, want) {
				t.Fatalf("Verify = %+v, want %+v", c, want)
			}
			// One bit of the signature flipped: refused.
			sig := decodePart(t, tok, 2)
			sig[len(sig)/2] ^= 1
			forged := tok[:strings.LastIndexByte(tok, '.')+1] + b64(sig)
			if _, err := v.Verify(forged, testNow); !errors.Is(err, ErrSignature) {
				t.Fatalf("forged golden token: %v, want ErrSignature", err)
			}
		})
	}
}

func TestKeyRotation(t *testing.T) {
	both := newTestVerifier(t, keyEdA, keyEdB)
	onlyB := newTestVerifier(t, keyEdB)
	tokA := sign(t, keyEdA, testClaims())
	tokB := sign(t, keyEdB, testClaims())
	// Key a's private key under kid ed-b: the kid's key does not verify it.
	aAsB := sign(t, KeyConfig{ID: "ed-b", Alg: AlgEdDSA, PrivateKeyFile: keyEdA.PrivateKeyFile}, testClaims())
	tests := []struct {
		name  string
		v     *Verifier
		token string
		want  error
	}{
		{name: "old key, both configured", v: both, token: tokA},
		{name: "new key, both configured", v: both, token: tokB},
		{name: "old key removed", v: onlyB, token: tokA, want: ErrUnknownKey},
		{name: "new key after removal", v: onlyB, token: tokB},
		{name: "kid of the new key, signed by the old", v: both, token: aAsB, want: ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.v.Verify(tt.token, testNow)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
			if err == nil && c.Subject != "u1" {
				t.Fatalf("Verify = %+v", c)
			}
		})
	}
}

// TestAlgConfusion: a token is verified only with its kid's key and only
// under that key's algorithm.
func TestAlgConfusion(t *testing.T) {
	v := newTestVerifier(t)
	payload := payloadJSON(nil)
	pubPEM, err := os.ReadFile(keyEdA.PublicKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	edKey, err := keyEdA.load()
	if err != nil {
		t.Fatal(err)
	}
	rawPub := []byte(edKey.verify.(ed25519.PublicKey))
	none := b64([]byte(`{"alg":"none","kid":"hs"}`)) + "." + b64([]byte(payload))
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{name: "HS256 MACed with the PEM of an EdDSA kid's public key", token: hsToken(header("HS256", "ed-a"), payload, pubPEM), want: ErrAlgorithm},
		{name: "HS256 MACed with the raw bytes of an EdDSA kid's public key", token: hsToken(header("HS256", "ed-a"), payload, rawPub), want: ErrAlgorithm},
		{name: "HS256 on an ES256 kid", token: hsToken(header("HS256", "es"), payload, []byte(testSecret)), want: ErrAlgorithm},
		{name: "none with no signature", token: none + ".", want: ErrMalformed},
		{name: "none with a signature", token: none + ".AAAA", want: ErrAlgorithm},
		{name: "None", token: hsToken(`{"alg":"None","kid":"hs"}`, payload, []byte(testSecret)), want: ErrAlgorithm},
		{name: "HS512 on an HS256 kid", token: hsToken(header("HS512", "hs"), payload, []byte(testSecret)), want: ErrAlgorithm},
		{name: "ES256 signature on an SM2 kid", token: signWith(t, keyES, header("ES256", "sm2"), payload), want: ErrAlgorithm},
		{name: "SM2SM3 signature on an ES256 kid", token: signWith(t, keySM2, header("SM2SM3", "es"), payload), want: ErrAlgorithm},
		{name: "EdDSA on an HS256 kid", token: signWith(t, keyEdA, header("EdDSA", "hs"), payload), want: ErrAlgorithm},
		{name: "unknown alg", token: hsToken(`{"alg":"XS256","kid":"hs"}`, payload, []byte(testSecret)), want: ErrAlgorithm},
		{name: "alg missing", token: hsToken(`{"kid":"hs"}`, payload, []byte(testSecret)), want: ErrAlgorithm},
		{name: "alg not a string", token: hsToken(`{"alg":1,"kid":"hs"}`, payload, []byte(testSecret)), want: ErrAlgorithm},
		{name: "kid missing", token: hsToken(`{"alg":"HS256"}`, payload, []byte(testSecret)), want: ErrUnknownKey},
		{name: "kid not a string", token: hsToken(`{"alg":"HS256","kid":7}`, payload, []byte(testSecret)), want: ErrUnknownKey},
		{name: "kid unknown", token: hsToken(header("HS256", "hs2"), payload, []byte(testSecret)), want: ErrUnknownKey},
		{name: "kid differs in case", token: hsToken(header("HS256", "HS"), payload, []byte(testSecret)), want: ErrUnknownKey},
		{name: "crit header", token: hsToken(`{"alg":"HS256","kid":"hs","crit":["exp"],"exp":1}`, payload, []byte(testSecret)), want: ErrMalformed},
		{name: "control: HS256 on its kid", token: hsToken(header("HS256", "hs"), payload, []byte(testSecret))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token, testNow)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
			if !sameClaims(c, Claims{}) {
				t.Fatalf("claims %+v returned with an error", c)
			}
		})
	}
}

func TestTimeClaims(t *testing.T) {
	v := newTestVerifier(t)
	exp := time.Unix(testExp, 0)
	nbf := testNow.Add(time.Minute)
	tok := sign(t, keyHS, testClaims())
	withNbf := testClaims()
	withNbf.NotBefore = nbf.Unix()
	nbfTok := sign(t, keyHS, withNbf)
	future := testClaims()
	future.IssuedAt = nbf.Unix()
	iatTok := sign(t, keyHS, future)
	tests := []struct {
		name  string
		token string
		now   time.Time
		want  error
	}{
		{name: "valid", token: tok, now: testNow},
		{name: "a second before exp", token: tok, now: exp.Add(-time.Second)},
		{name: "at exp, within leeway", token: tok, now: exp},
		{name: "past exp, within leeway", token: tok, now: exp.Add(5*time.Second - time.Nanosecond)},
		{name: "at the leeway's end", token: tok, now: exp.Add(5 * time.Second), want: ErrExpired},
		{name: "expired", token: tok, now: exp.Add(time.Hour), want: ErrExpired},
		{name: "before nbf, past leeway", token: nbfTok, now: testNow, want: ErrNotYetValid},
		{name: "before nbf, within leeway", token: nbfTok, now: nbf.Add(-5 * time.Second)},
		{name: "just before nbf's leeway", token: nbfTok, now: nbf.Add(-5*time.Second - time.Nanosecond), want: ErrNotYetValid},
		{name: "at nbf", token: nbfTok, now: nbf},
		{name: "iat in the future", token: iatTok, now: testNow, want: ErrNotYetValid},
		{name: "iat in the future, within leeway", token: iatTok, now: nbf.Add(-5 * time.Second)},
		{name: "exp missing", token: hsPayload(payloadJSON(map[string]any{"exp": nil})), now: testNow, want: ErrMalformed},
		{name: "iat missing", token: hsPayload(payloadJSON(map[string]any{"iat": nil})), now: testNow, want: ErrMalformed},
		{name: "exp null", token: hsPayload(payloadJSON(map[string]any{"exp": json.RawMessage("null")})), now: testNow, want: ErrMalformed},
		{name: "exp a string", token: hsPayload(payloadJSON(map[string]any{"exp": "1767225600"})), now: testNow, want: ErrMalformed},
		{name: "exp huge", token: hsPayload(payloadJSON(map[string]any{"exp": json.RawMessage("1e300")})), now: testNow, want: ErrMalformed},
		{name: "exp fraction", token: hsPayload(payloadJSON(map[string]any{"exp": 1767225600.75})), now: exp.Add(5*time.Second - time.Nanosecond)},
		{name: "exp fraction rounded down", token: hsPayload(payloadJSON(map[string]any{"exp": 1767225600.75})), now: exp.Add(5 * time.Second), want: ErrExpired},
		{name: "nbf fraction rounded up", token: hsPayload(payloadJSON(map[string]any{"nbf": float64(nbf.Unix()) + 0.25})), now: nbf.Add(-4500 * time.Millisecond), want: ErrNotYetValid},
		{name: "exp negative", token: hsPayload(payloadJSON(map[string]any{"exp": -1})), now: testNow, want: ErrExpired},
		{name: "nbf negative", token: hsPayload(payloadJSON(map[string]any{"nbf": -1})), now: testNow, want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token, tt.now)
			if tt.want == nil {
				if err != nil {
					t.Fatal(err)
				}
				// Whatever Verify accepts, it accepts until ValidUntil.
				if !tt.now.Before(c.ValidUntil) {
					t.Fatalf("accepted at %v, but ValidUntil is %v", tt.now, c.ValidUntil)
				}
				if _, err := v.Verify(tt.token, c.ValidUntil.Add(-time.Nanosecond)); err != nil {
					t.Fatalf("refused just before ValidUntil: %v", err)
				}
				if _, err := v.Verify(tt.token, c.ValidUntil); !errors.Is(err, ErrExpired) {
					t.Fatalf("at ValidUntil: %v, want ErrExpired", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
		})
	}

	// A configured leeway applies to every time claim alike.
	v, err := New(Config{Keys: []KeyConfig{keyHS}, Leeway: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		token string
		now   time.Time
		ok    bool
	}{
		{tok, exp.Add(time.Minute - time.Nanosecond), true},
		{tok, exp.Add(time.Minute), false},
		{nbfTok, nbf.Add(-time.Minute), true},
		{nbfTok, nbf.Add(-time.Minute - time.Nanosecond), false},
		{iatTok, nbf.Add(-time.Minute), true},
		{iatTok, nbf.Add(-time.Minute - time.Nanosecond), false},
	} {
		if _, err := v.Verify(tc.token, tc.now); (err == nil) != tc.ok {
			t.Errorf("leeway 1m, now %v: %v, want ok=%v", tc.now, err, tc.ok)
		}
	}
}

func TestIssuerAudience(t *testing.T) {
	cfg := Config{Keys: []KeyConfig{keyHS}, Issuer: "login.example", Audience: "sgw"}
	v, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s, err := cfg.Signer("")
	if err != nil {
		t.Fatal(err)
	}
	own, err := s.Sign(testClaims(), testNow)
	if err != nil {
		t.Fatal(err)
	}
	var p map[string]any
	if err := json.Unmarshal(decodePart(t, own, 1), &p); err != nil {
		t.Fatal(err)
	}
	if p["iss"] != "login.example" || fmt.Sprint(p["aud"]) != "[sgw]" {
		t.Fatalf("the config's signer wrote iss %v aud %v", p["iss"], p["aud"])
	}
	loose := newTestVerifier(t, keyHS)
	tests := []struct {
		name  string
		token string
		want  error
	}{
		{name: "the config's signer", token: own},
		{name: "aud a string", token: hsPayload(payloadJSON(map[string]any{"iss": "login.example", "aud": "sgw"}))},
		{name: "aud among others", token: hsPayload(payloadJSON(map[string]any{"iss": "login.example", "aud": []string{"web", "sgw"}}))},
		{name: "wrong iss", token: hsPayload(payloadJSON(map[string]any{"iss": "evil.example", "aud": "sgw"})), want: ErrIssuer},
		{name: "iss differs in case", token: hsPayload(payloadJSON(map[string]any{"iss": "Login.example", "aud": "sgw"})), want: ErrIssuer},
		{name: "no iss", token: hsPayload(payloadJSON(map[string]any{"aud": "sgw"})), want: ErrIssuer},
		{name: "wrong aud", token: hsPayload(payloadJSON(map[string]any{"iss": "login.example", "aud": "web"})), want: ErrAudience},
		{name: "no aud", token: hsPayload(payloadJSON(map[string]any{"iss": "login.example"})), want: ErrAudience},
		{name: "empty aud", token: hsPayload(payloadJSON(map[string]any{"iss": "login.example", "aud": []string{}})), want: ErrAudience},
		{name: "aud not strings", token: hsPayload(payloadJSON(map[string]any{"iss": "login.example", "aud": []int{1}})), want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := v.Verify(tt.token, testNow)
			if !errors.Is(err, tt.want) || (err == nil) != (tt.want == nil) {
				t.Fatalf("Verify: %v, want %v", err, tt.want)
			}
			// Without issuer and audience configured, neither is checked.
			if _, err := loose.Verify(tt.token, testNow); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("without issuer/audience: %v", err)
			}
		})
	}
}

func TestVerifyMalformed(t *testing.T) {
	v := newTestVerifier(t)
	tok := sign(t, keyHS, testClaims())
	parts := strings.Split(tok, ".")
	h, p, sig := parts[0], parts[1], parts[2]
	admin := testClaims()
	admin.Admin = true
	adminPayload := strings.Split(sign(t, keyHS, admin), ".")[1]
	// flip replaces the first byte of s with another base64url character.
	flip := func(s string) string {
		if s[0] == 'e' {
			return "f" + s[1:]
		}
		return "e" + s[1:]
	}
	many := make([]string, MaxAccounts)
	for i := range many {
		many[i] = fmt.Sprintf("%032d", i)
	}
	markets := map[string]string{}
	for i := range MaxMarkets + 1 {
		markets[fmt.Sprintf("M%d", i)] = "L1"
	}
	tests := []struct {
		name  string
		token string
		want  error // nil: valid
	}{
		{name: "valid", token: tok},
		{name: "unknown claims ignored", token: hsPayload(payloadJSON(map[string]any{"jti": "x", "scope": []int{1}}))},
		{name: "empty", token: "", want: ErrMalformed},
		{name: "dots", token: "..", want: ErrMalformed},
		{name: "one part", token: h, want: ErrMalformed},
		{name: "two parts", token: h + "." + p, want: ErrMalformed},
		{name: "four parts", token: tok + "." + sig, want: ErrMalformed},
		{name: "empty signature", token: h + "." + p + ".", want: ErrMalformed},
		{name: "empty payload", token: h + ".." + sig, want: ErrMalformed},
		{name: "empty header", token: "." + p + "." + sig, want: ErrMalformed},
		{name: "padded", token: tok + "=", want: ErrMalformed},
		{name: "newline", token: h + "." + p[:4] + "\n" + p[4:] + "." + sig, want: ErrMalformed},
		{name: "CRLF in signature", token: h + "." + p + "." + sig[:4] + "\r\n" + sig[4:], want: ErrMalformed},
		{name: "space", token: " " + tok, want: ErrMalformed},
		{name: "std base64", token: h + "." + "+/" + p[2:] + "." + sig, want: ErrMalformed},
		{name: "non-canonical signature", token: tok[:len(tok)-1] + string(tok[len(tok)-1]+1), want: ErrMalformed},
		{name: "truncated signature", token: tok[:len(tok)-3], want: ErrSignature},
		{name: "signature of an impossible length", token: tok[:len(tok)-2], want: ErrMalformed},
		{name: "tampered payload", token: h + "." + flip(p) + "." + sig, want: ErrMalformed},
		{name: "tampered signature", token: h + "." + p + "." + flip(sig), want: ErrSignature},
		{name: "swapped payload", token: h + "." + adminPayload + "." + sig, want: ErrSignature},
		{name: "header not JSON", token: hsToken(`alg=HS256`, payloadJSON(nil), []byte(testSecret)), want: ErrMalformed},
		{name: "header an array", token: hsToken(`["HS256"]`, payloadJSON(nil), []byte(testSecret)), want: ErrMalformed},
		{name: "payload not JSON", token: hsPayload(`sub=u1`), want: ErrMalformed},
		{name: "payload an array", token: hsPayload(`["u1"]`), want: ErrMalformed},
		{name: "payload null", token: hsPayload(`null`), want: ErrMalformed},
		{name: "payload with data after it", token: hsPayload(payloadJSON(nil) + `{}`), want: ErrMalformed},
		{name: "claim names differ in case", token: hsPayload(`{"SUB":"u1","IAT":1767222000,"Exp":1767225600}`), want: ErrMalformed},
		{name: "sub missing", token: hsPayload(payloadJSON(map[string]any{"sub": nil})), want: ErrMalformed},
		{name: "sub empty", token: hsPayload(payloadJSON(map[string]any{"sub": ""})), want: ErrMalformed},
		{name: "sub with a control character", token: hsPayload(payloadJSON(map[string]any{"sub": "u1\n"})), want: ErrMalformed},
		{name: "sub not ASCII", token: hsPayload(payloadJSON(map[string]any{"sub": "用户"})), want: ErrMalformed},
		{name: "sub too long", token: hsPayload(payloadJSON(map[string]any{"sub": strings.Repeat("u", MaxSubjectLen+1)})), want: ErrMalformed},
		{name: "sub a number", token: hsPayload(payloadJSON(map[string]any{"sub": 1})), want: ErrMalformed},
		{name: "account with a space", token: hsPayload(payloadJSON(map[string]any{"accounts": []string{"A 1"}})), want: ErrMalformed},
		{name: "accounts a string", token: hsPayload(payloadJSON(map[string]any{"accounts": "A1"})), want: ErrMalformed},
		{name: "too many accounts", token: hsPayload(payloadJSON(map[string]any{"accounts": append(many, "X")})), want: ErrMalformed},
		{name: "adm a string", token: hsPayload(payloadJSON(map[string]any{"adm": "true"})), want: ErrMalformed},
		{name: "ent market lower case", token: hsPayload(payloadJSON(map[string]any{"ent": map[string]string{"sh": "L2"}})), want: ErrMalformed},
		{name: "ent level unknown", token: hsPayload(payloadJSON(map[string]any{"ent": map[string]string{"SH": "L3"}})), want: ErrMalformed},
		{name: "ent level a number", token: hsPayload(payloadJSON(map[string]any{"ent": map[string]int{"SH": 2}})), want: ErrMalformed},
		{name: "ent a string", token: hsPayload(payloadJSON(map[string]any{"ent": "SH:L2"})), want: ErrMalformed},
		{name: "ent too many markets", token: hsPayload(payloadJSON(map[string]any{"ent": markets})), want: ErrMalformed},
		{name: "oversized", token: strings.Repeat("a", MaxTokenBytes+1), want: ErrMalformed},
		{name: "oversized but signed", token: hsPayload(payloadJSON(map[string]any{"accounts": many, "x": strings.Repeat("y", 1000)})), want: ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(tt.token, testNow)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				if c.Subject != "u1" || c.Expires != testExp {
					t.Fatalf("Verify = %+v", c)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if !sameClaims(c, Claims{}) || c.KeyID != "" {
				t.Fatalf("Verify returned claims %+v with an error", c)
			}
			if strings.Contains(err.Error(), sig) || strings.Contains(err.Error(), testSecret) {
				t.Fatalf("error %q leaks the token or the secret", err)
			}
		})
	}
}

func TestDefaultEntitlements(t *testing.T) {
	v := newTestVerifier(t)
	noEnt := testClaims()
	noEnt.Entitlements = nil
	tokNone := sign(t, keyHS, noEnt)
	empty := testClaims()
	empty.Entitlements = Entitlements{}
	tokEmpty := sign(t, keyHS, empty)
	if p := string(decodePart(t, tokNone, 1)); strings.Contains(p, `"ent"`) {
		t.Fatalf("nil Entitlements signed as %s", p)
	}
	if p := string(decodePart(t, tokEmpty, 1)); !strings.Contains(p, `"ent":{}`) {
		t.Fatalf("empty Entitlements signed as %s", p)
	}
	c, err := v.Verify(tokNone, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(c.Entitlements, Entitlements{"*": L2}) {
		t.Fatalf("a token without ent: %v, want *:L2", c.Entitlements)
	}
	// The caller's copy: changing it changes nothing for the next token.
	c.Entitlements["*"] = LevelNone
	if c, _ := v.Verify(tokNone, testNow); c.Entitlements["*"] != L2 {
		t.Fatalf("the default was changed through a returned map: %v", c.Entitlements)
	}
	c, err = v.Verify(tokEmpty, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if c.Entitlements == nil || len(c.Entitlements) != 0 || c.MayView("600519.SH", ChannelQuote, 0) == nil {
		t.Fatalf("ent {} gives %v", c.Entitlements)
	}
	// Configured: a token without ent sees nothing.
	strict, err := New(Config{Keys: []KeyConfig{keyHS}, DefaultEntitlements: Entitlements{}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := strict.Verify(tokNone, testNow); err != nil || len(c.Entitlements) != 0 {
		t.Fatalf("default_entitlements none: %v, %v", c.Entitlements, err)
	}
}

func TestIssue(t *testing.T) {
	// The demo's configuration: one secret, kid "default".
	v, err := New(Config{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	now := testNow.Add(999 * time.Millisecond)
	for _, ttl := range []time.Duration{time.Second, time.Hour, 24 * time.Hour} {
		tok, err := v.IssueFor("u1", []string{"A1"}, ttl, now)
		if err != nil {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
		c, err := v.Verify(tok, now)
		if err != nil {
			t.Fatalf("ttl %v: %v", ttl, err)
		}
		if want := now.Add(ttl).Unix(); c.Expires != want || c.IssuedAt != now.Unix() || c.KeyID != DefaultKeyID {
			t.Fatalf("ttl %v: %+v, want exp %d, iat %d, kid default", ttl, c, want, now.Unix())
		}
	}
	for _, ttl := range []time.Duration{0, -time.Hour, 24*time.Hour + time.Second} {
		if _, err := v.IssueFor("u1", nil, ttl, now); !errors.Is(err, ErrClaims) {
			t.Fatalf("ttl %v: %v, want ErrClaims", ttl, err)
		}
	}
	wall, err := v.Issue(Claims{Subject: "demo", Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(wall, time.Now()); err != nil {
		t.Fatal(err)
	}

	// Public keys only: nothing to issue with.
	pubOnly := KeyConfig{ID: "ed", Alg: AlgEdDSA, PublicKeyFile: keyEdA.PublicKeyFile}
	v = newTestVerifier(t, pubOnly)
	if _, err := v.IssueFor("u1", nil, time.Hour, now); !errors.Is(err, ErrNoSigner) {
		t.Fatalf("IssueFor without a signing key: %v", err)
	}
	if v.Signer() != nil {
		t.Fatal("Signer() of a public-key-only verifier")
	}

	// signing_key picks the key; zero picks the first that can sign.
	keys := []KeyConfig{pubOnly, keyEdB, keySM2}
	for _, tc := range []struct{ signing, want string }{{"", "ed-b"}, {"sm2", "sm2"}} {
		v, err := New(Config{Keys: keys, SigningKey: tc.signing})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := v.IssueFor("u1", nil, time.Hour, now)
		if err != nil {
			t.Fatal(err)
		}
		if c, err := v.Verify(tok, now); err != nil || c.KeyID != tc.want {
			t.Fatalf("signing_key %q: kid %q, %v; want %s", tc.signing, c.KeyID, err, tc.want)
		}
	}
}

func TestSignRejects(t *testing.T) {
	s := newTestSigner(t, keyHS)
	tooMany := make([]string, MaxAccounts+1)
	for i := range tooMany {
		tooMany[i] = fmt.Sprint("A", i)
	}
	long := make([]string, MaxAccounts)
	for i := range long {
		long[i] = fmt.Sprintf("%0*d", MaxAccountLen, i)
	}
	auds := make([]string, MaxAudiences)
	for i := range auds {
		auds[i] = strings.Repeat("a", MaxNameLen)
	}
	now := testNow.Add(300 * time.Millisecond)
	tests := []struct {
		name   string
		claims Claims
	}{
		{name: "empty subject", claims: Claims{Expires: testExp}},
		{name: "long subject", claims: Claims{Subject: strings.Repeat("u", MaxSubjectLen+1), Expires: testExp}},
		{name: "control char subject", claims: Claims{Subject: "u\x001", Expires: testExp}},
		{name: "DEL subject", claims: Claims{Subject: "u\x7f", Expires: testExp}},
		{name: "non-ASCII subject", claims: Claims{Subject: "用户", Expires: testExp}},
		{name: "too many accounts", claims: Claims{Subject: "u1", Accounts: tooMany, Expires: testExp}},
		{name: "empty account", claims: Claims{Subject: "u1", Accounts: []string{"A1", ""}, Expires: testExp}},
		{name: "long account", claims: Claims{Subject: "u1", Accounts: []string{strings.Repeat("A", MaxAccountLen+1)}, Expires: testExp}},
		{name: "account with a space", claims: Claims{Subject: "u1", Accounts: []string{"A 1"}, Expires: testExp}},
		{name: "account of 21 characters", claims: Claims{Subject: "u1", Accounts: []string{strings.Repeat("A", 21)}, Expires: testExp}},
		{name: "bad market", claims: Claims{Subject: "u1", Entitlements: Entitlements{"S-H": L1}, Expires: testExp}},
		{name: "bad level", claims: Claims{Subject: "u1", Entitlements: Entitlements{"SH": 3}, Expires: testExp}},
		{name: "iss with newline", claims: Claims{Subject: "u1", Issuer: "a\nb", Expires: testExp}},
		{name: "too many audiences", claims: Claims{Subject: "u1", Audience: append(auds, "x"), Expires: testExp}},
		{name: "too long a token", claims: Claims{Subject: "u1", Accounts: long, Audience: auds, Expires: testExp}},
		{name: "nbf after exp", claims: Claims{Subject: "u1", NotBefore: testExp, Expires: testExp}},
		{name: "exp in the past", claims: Claims{Subject: "u1", Expires: now.Unix() - 1}},
		{name: "exp now", claims: Claims{Subject: "u1", Expires: now.Unix()}},
		{name: "exp past max_ttl", claims: Claims{Subject: "u1", Expires: now.Add(24*time.Hour).Unix() + 1}},
		{name: "exp far in the future", claims: Claims{Subject: "u1", Expires: 1<<63 - 1}},
		{name: "exp far in the past", claims: Claims{Subject: "u1", Expires: -1 << 63}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := s.Sign(tt.claims, now)
			if !errors.Is(err, ErrClaims) || tok != "" {
				t.Fatalf("Sign = %q, %v; want ErrClaims", tok, err)
			}
		})
	}
}

// TestConcurrent shares one Verifier and its Signers between goroutines;
// run with -race.
func TestConcurrent(t *testing.T) {
	v := newTestVerifier(t)
	var wg sync.WaitGroup
	for g, k := range allKeys {
		s := newTestSigner(t, k)
		wg.Go(func() {
			for i := range 50 {
				c := testClaims()
				c.Subject = fmt.Sprintf("u%d-%d", g, i)
				tok, err := s.Sign(c, testNow)
				if err != nil {
					t.Error(err)
					return
				}
				got, err := v.Verify(tok, testNow)
				if err != nil || got.Subject != c.Subject {
					t.Errorf("Verify = %+v, %v; want subject %s", got, err, c.Subject)
					return
				}
				i := strings.LastIndexByte(tok, '.') + 5 // a character of the signature
				other := byte('A')
				if tok[i] == 'A' {
					other = 'B'
				}
				if _, err := v.Verify(tok[:i]+string(other)+tok[i+1:], testNow); err == nil {
					t.Error("a forged token verified")
					return
				}
			}
		})
	}
	wg.Wait()
}

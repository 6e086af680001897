package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
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

// The keys of testdata: one of each algorithm, and a second Ed25519 key for
// rotation. Every key can sign.
var (
	keyHS  = KeyConfig{ID: "hs", Alg: AlgHS256, Secret: testSecret}
	keyEdA = KeyConfig{ID: "ed-a", Alg: AlgEdDSA, PublicKeyFile: "testdata/ed25519-a.pub", PrivateKeyFile: "testdata/ed25519-a.key"}
	keyEdB = KeyConfig{ID: "ed-b", Alg: AlgEdDSA, PublicKeyFile: "testdata/ed25519-b.pub", PrivateKeyFile: "testdata/ed25519-b.key"}
	keyES  = KeyConfig{ID: "es", Alg: AlgES256, PublicKeyFile: "testdata/es256.pub", PrivateKeyFile: "testdata/es256.key"}
	keySM2 = KeyConfig{ID: "sm2", Alg: AlgSM2SM3, PublicKeyFile: "testdata/sm2.pub", PrivateKeyFile: "testdata/sm2.key"}
)

// allKeys are the keys of every algorithm, in a fixed order.
var allKeys []KeyConfig

// testKeyDir holds TestMain's copies of testdata's private keys.
var testKeyDir string

// TestMain copies testdata's keys (.key, .pub), which git keeps
// world-readable, to a directory of its own with mode 600, as New requires
// of a private_key_file, and points the test keys' private_key_file at the
// copies.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "auth-keys-")
	if err != nil {
		panic(err)
	}
	testKeyDir = dir
	files, err := filepath.Glob("testdata/*.[kp][eu][yb]")
	if err != nil || len(files) == 0 {
		panic(fmt.Sprintf("testdata keys: %v, %v", files, err))
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err == nil {
			err = os.WriteFile(testKey(filepath.Base(f)), b, 0o600)
		}
		if err != nil {
			panic(err)
		}
	}
	for _, k := range []*KeyConfig{&keyEdA, &keyEdB, &keyES, &keySM2} {
		k.PrivateKeyFile = testKey(filepath.Base(k.PrivateKeyFile))
	}
	allKeys = []KeyConfig{keyHS, keyEdA, keyES, keySM2}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testKey returns the path of TestMain's copy of testdata's key file
// name.
func testKey(name string) string { return filepath.Join(testKeyDir, name) }

// newTestVerifier returns a Verifier of the given keys (all of allKeys
// when none are given).
func newTestVerifier(tb testing.TB, keys ...KeyConfig) *Verifier {
	tb.Helper()
	if len(keys) == 0 {
		keys = allKeys
	}
	v, err := New(Config{Keys: keys})
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// newTestSigner returns a Signer of k.
func newTestSigner(tb testing.TB, k KeyConfig) *Signer {
	tb.Helper()
	s, err := NewSigner(SignerConfig{Key: k})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// testClaims are what the tests sign unless they say otherwise.
func testClaims() Claims {
	return Claims{Subject: "u1", Accounts: []string{"A1", "A2"}, Expires: testExp,
		Entitlements: Entitlements{"SH": L2, "SZ": L1}}
}

// sign signs c with k at testNow.
func sign(tb testing.TB, k KeyConfig, c Claims) string {
	tb.Helper()
	tok, err := newTestSigner(tb, k).Sign(c, testNow)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// b64 is base64url without padding, the JWS encoding.
func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// hsToken builds an HS256-style token around header and payload, MACed
// with secret, independently of the code under test.
func hsToken(header, payload string, secret []byte) string {
	in := b64([]byte(header)) + "." + b64([]byte(payload))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + b64(m.Sum(nil))
}

// hsPayload builds an HS256 token of kid "hs" around payload.
func hsPayload(payload string) string {
	return hsToken(`{"alg":"HS256","kid":"hs","typ":"JWT"}`, payload, []byte(testSecret))
}

// payloadJSON returns the JSON of the claims m, with iat and exp filled
// in (relative to testNow) unless m has them.
func payloadJSON(m map[string]any) string {
	out := map[string]any{"sub": "u1", "iat": testNow.Unix() - 60, "exp": testExp}
	maps.Copy(out, m)
	for k, v := range out {
		if v == nil {
			delete(out, k)
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// goldenTokens reads testdata/golden.txt: tokens signed by OpenSSL
// (testdata/golden.py), by kid.
func goldenTokens(tb testing.TB) map[string]string {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "golden.txt"))
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]string{}
	for line := range strings.Lines(string(b)) {
		kid, tok, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			tb.Fatalf("golden.txt: bad line %q", line)
		}
		out[kid] = tok
	}
	return out
}

// sameClaims compares what a token carries (not KeyID or ValidUntil).
func sameClaims(a, b Claims) bool {
	return a.Subject == b.Subject && a.Expires == b.Expires && a.IssuedAt == b.IssuedAt &&
		a.NotBefore == b.NotBefore && a.Admin == b.Admin && a.Issuer == b.Issuer &&
		slices.Equal(a.Accounts, b.Accounts) && slices.Equal(a.Audience, b.Audience) &&
		maps.Equal(a.Entitlements, b.Entitlements)
}

// writeFile writes content to name in dir and returns its path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

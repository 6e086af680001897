package auth

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"sgw/internal/jsonkey"
)

// MaxTokenBytes is the longest token Verify accepts. Sign refuses to make a
// longer one.
const MaxTokenBytes = 4096

// Verifier verifies tokens signed with any of its configured keys, and
// issues tokens with its signing key if it has one. It is immutable after
// New and safe for concurrent use.
type Verifier struct {
	keys      map[string]*key // by kid; never printed: see Format
	parser    *jwt.Parser
	keyfunc   jwt.Keyfunc
	leeway    time.Duration
	issuer    string
	audience  string
	anonymous Entitlements
	noEnt     Entitlements
	signer    *Signer // nil: no key can sign
}

// New loads every key of cfg and returns a Verifier, or an error wrapping
// ErrConfig.
func New(cfg Config) (*Verifier, error) {
	registerSM2()
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Verifier{keys: map[string]*key{}, leeway: cfg.Leeway, issuer: cfg.Issuer, audience: cfg.Audience,
		anonymous: cfg.Anonymous, noEnt: cfg.DefaultEntitlements}
	for _, kc := range cfg.keyConfigs() {
		k, err := kc.load()
		if err != nil {
			return nil, err
		}
		v.keys[k.id] = k
		if k.id == cfg.SigningKey {
			v.signer = &Signer{kid: k.id, method: k.method, key: k.sign, issuer: cfg.Issuer, audience: cfg.Audience, maxTTL: cfg.MaxTTL}
		}
	}
	// Strict base64 gives each token one spelling; claims are checked by
	// Verify against the time it is given, not by the parser's clock; the
	// alg is checked against the kid's key in keyFor.
	v.parser = jwt.NewParser(jwt.WithStrictDecoding(), jwt.WithoutClaimsValidation())
	v.keyfunc = v.keyFor
	return v, nil
}

// Format prints the Verifier's key ids and algorithms, never a key.
func (v *Verifier) Format(f fmt.State, _ rune) {
	ids := slices.Sorted(maps.Keys(v.keys))
	fmt.Fprint(f, "auth.Verifier{keys:")
	for _, id := range ids {
		fmt.Fprintf(f, " %s(%s)", id, v.keys[id].method.Alg())
	}
	fmt.Fprint(f, "}")
}

// Signer returns the Verifier's signing key (Config.SigningKey), or nil
// when no key can sign.
func (v *Verifier) Signer() *Signer { return v.signer }

// Anonymous returns the claims of a viewer without a token: no subject, no
// accounts, Config.Anonymous as entitlements. Each call returns a fresh
// copy.
func (v *Verifier) Anonymous() Claims {
	return Claims{Entitlements: maps.Clone(v.anonymous)}
}

// Issue signs c with the signing key, checking it against the wall clock:
// see Signer.Sign. It fails with ErrNoSigner when no key can sign.
func (v *Verifier) Issue(c Claims) (string, error) {
	if v.signer == nil {
		return "", ErrNoSigner
	}
	return v.signer.Sign(c, time.Now())
}

// IssueFor signs a token for subject and accounts, with no ent claim (so
// Config.DefaultEntitlements), issued at now and expiring ttl after it
// (rounded down to the second). It fails as Issue does.
func (v *Verifier) IssueFor(subject string, accounts []string, ttl time.Duration, now time.Time) (string, error) {
	if v.signer == nil {
		return "", ErrNoSigner
	}
	return v.signer.Sign(Claims{Subject: subject, Accounts: accounts, Expires: now.Add(ttl).Unix()}, now)
}

// keyFor is the parser's Keyfunc: the key the token's kid names, provided
// the token's alg is that key's.
func (v *Verifier) keyFor(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, keyError{fmt.Errorf("%w: header has crit: no extension is understood", ErrMalformed)}
	}
	kid, ok := t.Header["kid"].(string)
	if !ok {
		return nil, keyError{fmt.Errorf("%w: no kid in the header", ErrUnknownKey)}
	}
	k, ok := v.keys[kid]
	if !ok {
		return nil, keyError{fmt.Errorf("%w: kid %q", ErrUnknownKey, clip(kid))}
	}
	if alg := t.Method.Alg(); alg != k.method.Alg() {
		return nil, keyError{fmt.Errorf("%w: alg %q on key %s, which is %s", ErrAlgorithm, clip(alg), kid, k.method.Alg())}
	}
	return k.verify, nil
}

// clip shortens an attacker's string for an error.
func clip(s string) string {
	if len(s) > 32 {
		return s[:32] + "..."
	}
	return s
}

// Verify checks token and returns its claims. It reports, wrapped with a
// detail: ErrMalformed, ErrUnknownKey, ErrAlgorithm, ErrSignature, then
// (for an authentic token) ErrExpired, ErrNotYetValid, ErrIssuer,
// ErrAudience, or ErrMalformed for claims that break the limits or a
// header or payload that gives a name twice (exactly, or without regard to
// case).
//
// The token must be at most MaxTokenBytes of the base64url alphabet in
// three parts; its header must name a configured kid and that key's alg.
// With leeway L (Config.Leeway) a token is valid while now < exp+L, from
// nbf-L, and when iat <= now+L; Claims.ValidUntil is exp+L. Verify does
// not read the clock.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: %d bytes, over %d", ErrMalformed, len(token), MaxTokenBytes)
	}
	if err := checkShape(token); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var w wireClaims
	t, err := v.parser.ParseWithClaims(token, &w, v.keyfunc)
	if err != nil {
		return Claims{}, mapError(err)
	}
	// Authentic from here on: what fails is the issuer's fault, or the
	// clock's.
	if err := checkNames(token); err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// ent's markets are names too, and grant market data: the map took
	// the last of {"SH":"none",...,"SH":"L2"}, an audit the first.
	if m := jsonkey.Repeated(w.entJSON); m != "" {
		return Claims{}, fmt.Errorf("%w: claims: ent has market %q more than once: a token must have one reading", ErrMalformed, clip(m))
	}
	c := w.claims()
	c.KeyID, _ = t.Header["kid"].(string)
	if !w.hasExp || !w.hasIat {
		return Claims{}, fmt.Errorf("%w: claims: exp and iat are required", ErrMalformed)
	}
	if err := c.validate(); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	c.ValidUntil = time.Unix(c.Expires, 0).Add(v.leeway)
	if !now.Before(c.ValidUntil) {
		return Claims{}, fmt.Errorf("%w: exp %d, now %d, leeway %v", ErrExpired, c.Expires, now.Unix(), v.leeway)
	}
	if c.NotBefore != 0 && now.Before(time.Unix(c.NotBefore, 0).Add(-v.leeway)) {
		return Claims{}, fmt.Errorf("%w: nbf %d, now %d, leeway %v", ErrNotYetValid, c.NotBefore, now.Unix(), v.leeway)
	}
	if now.Before(time.Unix(c.IssuedAt, 0).Add(-v.leeway)) {
		return Claims{}, fmt.Errorf("%w: iat %d is in the future: now %d, leeway %v", ErrNotYetValid, c.IssuedAt, now.Unix(), v.leeway)
	}
	if v.issuer != "" && c.Issuer != v.issuer {
		return Claims{}, fmt.Errorf("%w: iss %q, want %q", ErrIssuer, c.Issuer, v.issuer)
	}
	if v.audience != "" && !slices.Contains(c.Audience, v.audience) {
		return Claims{}, fmt.Errorf("%w: aud %q does not name %q", ErrAudience, c.Audience, v.audience)
	}
	if c.Entitlements == nil {
		c.Entitlements = maps.Clone(v.noEnt)
	}
	return c, nil
}

// checkShape checks that token is three non-empty parts of the base64url
// alphabet: the decoder would skip CR and LF, and the parser would try to
// decode a token of the wrong shape.
func checkShape(token string) error {
	dots := 0
	start := 0
	for i := 0; i < len(token); i++ {
		b := token[i]
		if b == '.' {
			if i == start {
				return fmt.Errorf("part %d is empty", dots+1)
			}
			dots++
			start = i + 1
			continue
		}
		if !isURLByte(b) {
			return fmt.Errorf("byte %#04x at %d is not base64url", b, i)
		}
	}
	if dots != 2 {
		return fmt.Errorf("%d parts, want 3", dots+1)
	}
	if start == len(token) {
		return errors.New("part 3 is empty")
	}
	return nil
}

// checkNames refuses a token whose header or payload gives a name twice:
// the same name, or names equal without regard to case (as encoding/json
// matches names to a struct's fields). The parser, as RFC 7519 allows,
// took the last: {"sub":"A1",...,"sub":"A2"} verified as A2, while an
// audit or a log that reads the first saw A1 (an issuer that builds the
// JSON from a user's input can be made to write such a token). It runs
// on a token the parser has decoded, base64 and JSON, and its signature
// verified; it decodes the two parts again into a buffer on the stack.
// It takes about 1 µs and allocates nothing for a typical token
// (BenchmarkCheckNames); a payload of 3 KB of distinct one-byte names,
// which only a configured key's holder can sign, about 1 ms.
func checkNames(token string) error {
	var buf [MaxTokenBytes * 3 / 4]byte
	part := [2]string{"header", "payload"}
	rest := token
	for i := range part {
		dot := strings.IndexByte(rest, '.')
		if dot < 0 {
			return fmt.Errorf("%s: no part", part[i])
		}
		n, err := decodeB64(buf[:], rest[:dot])
		if err != nil {
			return fmt.Errorf("%s: %w", part[i], err)
		}
		if name := jsonkey.Repeated(buf[:n]); name != "" {
			return fmt.Errorf("%s has name %q more than once (names match without regard to case): a token must have one reading", part[i], clip(name))
		}
		rest = rest[dot+1:]
	}
	return nil
}

// decodeB64 decodes the base64url part s of a token into dst, without
// allocating, and returns the length decoded.
func decodeB64(dst []byte, s string) (int, error) {
	var src [256]byte // a multiple of 4: each chunk decodes alone
	n := 0
	for s != "" {
		c := copy(src[:], s)
		m, err := base64.RawURLEncoding.Decode(dst[n:], src[:c])
		if err != nil {
			return 0, err
		}
		n += m
		s = s[c:]
	}
	return n, nil
}

// keyError carries an error of keyFor through the parser's wrapping.
type keyError struct{ err error }

func (e keyError) Error() string { return e.err.Error() }
func (e keyError) Unwrap() error { return e.err }

// mapError turns a parser error into the package's errors: keyFor's own,
// or what the parser found itself: a malformed part, an alg it does not
// know, or a bad signature.
func mapError(err error) error {
	if ke, ok := errors.AsType[keyError](err); ok {
		return ke.err
	}
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return fmt.Errorf("%w: %s", ErrMalformed, strings.TrimPrefix(err.Error(), jwt.ErrTokenMalformed.Error()+": "))
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return ErrSignature
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		// The alg names no registered method, or is missing.
		return fmt.Errorf("%w: %s", ErrAlgorithm, strings.TrimPrefix(err.Error(), jwt.ErrTokenUnverifiable.Error()+": "))
	}
	return fmt.Errorf("%w: %w", ErrMalformed, err)
}

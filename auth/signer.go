package auth

import (
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// SignerConfig configures a Signer.
type SignerConfig struct {
	// Key is the key to sign with: HS256 with Secret or SecretFile, or
	// EdDSA, ES256 or SM2SM3 with PrivateKeyFile. Its ID is written as the
	// tokens' kid. Required.
	Key KeyConfig
	// Issuer is the iss written into tokens whose Claims.Issuer is empty.
	// Zero means none.
	Issuer string
	// Audience is the aud written into tokens whose Claims.Audience is
	// empty. Zero means none.
	Audience string
	// MaxTTL caps exp - now, in whole seconds. Zero means 24h.
	MaxTTL time.Duration
}

// Signer mints tokens with one key: for operators (the token command),
// tests and the demo; in production the login service issues tokens. It is
// immutable after NewSigner and safe for concurrent use.
type Signer struct {
	kid      string
	method   jwt.SigningMethod
	key      any // never printed: see Format
	issuer   string
	audience string
	maxTTL   time.Duration
}

// NewSigner loads cfg.Key's signing material and returns a Signer, or an
// error wrapping ErrConfig.
func NewSigner(cfg SignerConfig) (*Signer, error) {
	registerSM2()
	if !cfg.Key.canSign() {
		if err := cfg.Key.check(); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return nil, fmt.Errorf("%w: key %s: no private_key_file to sign with", ErrConfig, cfg.Key.ID)
	}
	k, err := cfg.Key.load()
	if err != nil {
		return nil, err
	}
	if cfg.MaxTTL == 0 {
		cfg.MaxTTL = 24 * time.Hour
	}
	if cfg.MaxTTL < time.Second {
		return nil, fmt.Errorf("%w: max_ttl %v must be at least 1s", ErrConfig, cfg.MaxTTL)
	}
	c := Claims{Subject: "x", Issuer: cfg.Issuer}
	if cfg.Audience != "" {
		c.Audience = []string{cfg.Audience}
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%w: issuer or audience: %w", ErrConfig, err)
	}
	return &Signer{kid: k.id, method: k.method, key: k.sign, issuer: cfg.Issuer, audience: cfg.Audience, maxTTL: cfg.MaxTTL}, nil
}

// KeyID returns the kid the Signer writes.
func (s *Signer) KeyID() string { return s.kid }

// Alg returns the alg the Signer writes.
func (s *Signer) Alg() string { return s.method.Alg() }

// Format prints the Signer without its key, so that logging one (%v, %+v,
// %#v) never shows a secret.
func (s *Signer) Format(f fmt.State, _ rune) {
	if s == nil {
		fmt.Fprint(f, "<nil>")
		return
	}
	fmt.Fprintf(f, "auth.Signer{kid: %q, alg: %s}", s.kid, s.method.Alg())
}

// Sign returns the token of c, with header {"alg", "kid", "typ":"JWT"}. now
// is the issuing time: iat when c.IssuedAt is zero, and the base of the
// checks. It fails, wrapping ErrClaims, when c breaks the limits on Claims,
// when exp is not after now or is more than MaxTTL after it, or when the
// token would be longer than MaxTokenBytes.
func (s *Signer) Sign(c Claims, now time.Time) (string, error) {
	if c.Issuer == "" {
		c.Issuer = s.issuer
	}
	if len(c.Audience) == 0 && s.audience != "" {
		c.Audience = []string{s.audience}
	}
	if err := c.validate(); err != nil {
		return "", fmt.Errorf("%w: %w", ErrClaims, err)
	}
	// exp is whole seconds, so exp > floor(now) means exp is after now.
	// Once it is, exp-floor(now) lies in (0, 2^64) and uint64 holds it
	// exactly, whatever the two values.
	nowSec := now.Unix()
	if c.Expires <= nowSec {
		return "", fmt.Errorf("%w: exp %d is not after now (%d)", ErrClaims, c.Expires, nowSec)
	}
	if uint64(c.Expires)-uint64(nowSec) > uint64(s.maxTTL/time.Second) {
		return "", fmt.Errorf("%w: exp %d is more than max_ttl %v after now (%d)", ErrClaims, c.Expires, s.maxTTL, nowSec)
	}
	if c.IssuedAt == 0 {
		c.IssuedAt = nowSec
	}
	if c.NotBefore != 0 && c.NotBefore >= c.Expires {
		return "", fmt.Errorf("%w: nbf %d is not before exp %d", ErrClaims, c.NotBefore, c.Expires)
	}
	w := wireClaims{Subject: c.Subject, Issuer: c.Issuer, Audience: c.Audience, Expires: c.Expires,
		IssuedAt: c.IssuedAt, NotBefore: c.NotBefore, Accounts: c.Accounts, Ent: c.Entitlements, Admin: c.Admin}
	t := jwt.NewWithClaims(s.method, &w)
	t.Header["kid"] = s.kid
	tok, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("auth: signing with key %s: %w", s.kid, err)
	}
	if len(tok) > MaxTokenBytes {
		return "", fmt.Errorf("%w: the token is %d bytes, over %d", ErrClaims, len(tok), MaxTokenBytes)
	}
	return tok, nil
}

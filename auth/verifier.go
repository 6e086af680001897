package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"
)

// MaxTokenBytes is the longest token Verify accepts. Any Claims that Issue
// accepts make a shorter one.
const MaxTokenBytes = 4096

// sigChars is the length of an unpadded base64url HMAC-SHA256.
var sigChars = b64.EncodedLen(sha256.Size)

// b64 is the token encoding. Strict rejects non-zero trailing bits, so each
// MAC has exactly one spelling; checkAlphabet rejects the CR and LF that the
// decoder would otherwise skip.
var b64 = base64.RawURLEncoding.Strict()

// Verifier issues and verifies tokens signed with one secret. It is
// immutable after New and safe for concurrent use.
type Verifier struct {
	// macs holds keyed HMAC-SHA256 states; the key lives only inside them,
	// so printing a Verifier does not print the secret.
	macs   sync.Pool
	maxTTL time.Duration
	leeway time.Duration
}

// New returns a Verifier for cfg, or an error wrapping ErrConfig.
func New(cfg Config) (*Verifier, error) {
	cfg, key, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	v := &Verifier{maxTTL: cfg.MaxTTL, leeway: cfg.Leeway}
	v.macs.New = func() any { return hmac.New(sha256.New, key) }
	return v, nil
}

// sign appends the MAC of msg to dst.
func (v *Verifier) sign(dst, msg []byte) []byte {
	m := v.macs.Get().(hash.Hash)
	m.Reset()
	m.Write(msg)
	dst = m.Sum(dst)
	v.macs.Put(m)
	return dst
}

// Issue signs c, checking it against the wall clock: see IssueFor.
func (v *Verifier) Issue(c Claims) (string, error) {
	return v.issue(c, time.Now())
}

// IssueFor signs a token for subject and accounts that expires ttl after
// now (rounded down to the second). It fails, wrapping ErrClaims, when the
// claims break the limits on Claims, or when exp is not after now or is
// more than MaxTTL after it.
func (v *Verifier) IssueFor(subject string, accounts []string, ttl time.Duration, now time.Time) (string, error) {
	return v.issue(Claims{Subject: subject, Accounts: accounts, Expires: now.Add(ttl).Unix()}, now)
}

func (v *Verifier) issue(c Claims, now time.Time) (string, error) {
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
	if uint64(c.Expires)-uint64(nowSec) > uint64(v.maxTTL/time.Second) {
		return "", fmt.Errorf("%w: exp %d is more than max_ttl %v after now (%d)", ErrClaims, c.Expires, v.maxTTL, nowSec)
	}
	if c.Accounts == nil {
		c.Accounts = []string{} // "acc":[] rather than null
	}
	payload, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrClaims, err)
	}
	tok := make([]byte, 0, b64.EncodedLen(len(payload))+1+sigChars)
	tok = b64.AppendEncode(tok, payload)
	var sum [sha256.Size]byte
	tok = append(tok, '.')
	tok = b64.AppendEncode(tok, v.sign(sum[:0], tok[:len(tok)-1]))
	return string(tok), nil
}

// Verify checks token and returns its claims. It reports ErrMalformed,
// ErrSignature or ErrExpired, wrapped with a detail. The MAC is checked, in
// constant time, before the payload is parsed. A token is expired when now
// is at or past exp plus the leeway. Verify does not read the clock.
func (v *Verifier) Verify(token string, now time.Time) (Claims, error) {
	if token == "" {
		return Claims{}, fmt.Errorf("%w: empty", ErrMalformed)
	}
	if len(token) > MaxTokenBytes {
		return Claims{}, fmt.Errorf("%w: %d bytes, over %d", ErrMalformed, len(token), MaxTokenBytes)
	}
	body, sig, ok := strings.Cut(token, ".")
	if !ok {
		return Claims{}, fmt.Errorf("%w: no '.'", ErrMalformed)
	}
	if strings.Contains(sig, ".") {
		return Claims{}, fmt.Errorf("%w: more than one '.'", ErrMalformed)
	}
	if body == "" {
		return Claims{}, fmt.Errorf("%w: empty payload", ErrMalformed)
	}
	if err := checkAlphabet(body); err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	if err := checkAlphabet(sig); err != nil {
		return Claims{}, fmt.Errorf("%w: signature: %w", ErrMalformed, err)
	}
	if len(sig) != sigChars {
		return Claims{}, fmt.Errorf("%w: signature is %d characters, want %d", ErrMalformed, len(sig), sigChars)
	}
	var got [sha256.Size]byte
	if n, err := b64.Decode(got[:], []byte(sig)); err != nil || n != len(got) {
		return Claims{}, fmt.Errorf("%w: signature is not base64url", ErrMalformed)
	}
	payload, err := b64.DecodeString(body)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: payload is not base64url", ErrMalformed)
	}
	var want [sha256.Size]byte
	if !hmac.Equal(got[:], v.sign(want[:0], []byte(body))) {
		return Claims{}, ErrSignature
	}

	// Authentic from here on: what fails is the issuer's fault.
	var c Claims
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Claims{}, fmt.Errorf("%w: payload: %w", ErrMalformed, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Claims{}, fmt.Errorf("%w: payload: data after the JSON object", ErrMalformed)
	}
	if err := c.validate(); err != nil {
		return Claims{}, fmt.Errorf("%w: claims: %w", ErrMalformed, err)
	}
	if now.Add(-v.leeway).Unix() >= c.Expires {
		return Claims{}, fmt.Errorf("%w: exp %d, now %d, leeway %v", ErrExpired, c.Expires, now.Unix(), v.leeway)
	}
	return c, nil
}

// checkAlphabet reports a byte outside the base64url alphabet.
func checkAlphabet(s string) error {
	for i := 0; i < len(s); i++ {
		if b := s[i]; !isURLByte(b) {
			return fmt.Errorf("byte %#04x at %d is not base64url", b, i)
		}
	}
	return nil
}

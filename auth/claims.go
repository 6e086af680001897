package auth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"sgw/refdata"
)

// Limits on Claims, checked when signing and by Verify.
const (
	// MaxSubjectLen is the longest subject, in bytes of printable ASCII.
	MaxSubjectLen = 64
	// MaxAccounts is the most accounts one token may grant.
	MaxAccounts = 64
	// MaxAccountLen is the longest account id: refdata's, as orders name
	// accounts (refdata.ValidID's alphabet).
	MaxAccountLen = refdata.MaxAccountLen
	// MaxNameLen is the longest iss, and each aud entry, in bytes of
	// printable ASCII.
	MaxNameLen = 256
	// MaxAudiences is the most entries of aud.
	MaxAudiences = 8
)

// Claims are what a token grants. The JSON names in the token are given
// with each field (docs/SECURITY.md, "Tokens (JWT) and entitlements").
type Claims struct {
	// Subject (sub, required) names the user: 1 to MaxSubjectLen printable
	// ASCII characters (0x20 to 0x7e).
	Subject string
	// Accounts (accounts) are the accounts the token may trade: at most
	// MaxAccounts ids of 1 to MaxAccountLen characters of the identifier
	// rule orders follow (refdata.ValidID: A-Z a-z 0-9 - _ . : / # @), so
	// that every account a token may name is one an order may name, and
	// the other way round.
	// Empty means market data only.
	Accounts []string
	// Admin (adm) marks an operator's token: the gateway's admin endpoints
	// need it. False (or absent) means not an operator.
	Admin bool
	// Entitlements (ent) are the market data the token may view. Verify
	// never returns nil: a token without ent gets Config.DefaultEntitlements
	// (zero: L2 on every market). When signing, nil writes no ent claim.
	Entitlements Entitlements
	// Expires (exp, required) is when the token stops being valid, in Unix
	// seconds.
	Expires int64
	// IssuedAt (iat, required) is when the token was issued, in Unix
	// seconds. When signing, zero means the time given to Sign.
	IssuedAt int64
	// NotBefore (nbf, optional) is when the token starts being valid, in
	// Unix seconds. Zero means no nbf claim.
	NotBefore int64
	// Issuer (iss) names who issued the token. Verify checks it when
	// Config.Issuer is set; when signing, empty means the Signer's issuer.
	Issuer string
	// Audience (aud) names the services the token is for. Verify checks it
	// names Config.Audience when that is set; when signing, empty means the
	// Signer's audience.
	Audience []string
	// KeyID is the kid of the key that verified the token. Verify sets it;
	// signing ignores it.
	KeyID string
	// ValidUntil is the instant from which Verify refuses these claims as
	// expired: exp plus the verifier's leeway. Verify sets it; signing
	// ignores it. A server that keeps a connection open on a token should
	// end it at ValidUntil, not at exp, so that a token accepted within the
	// leeway stays usable for as long as it would be accepted.
	ValidUntil time.Time
}

// CanTrade reports whether c grants trading on account. It does not look at
// expiry: Verify has done that.
func (c Claims) CanTrade(account string) bool {
	return account != "" && slices.Contains(c.Accounts, account)
}

// ExpiresAt returns Expires as a time.
func (c Claims) ExpiresAt() time.Time {
	return time.Unix(c.Expires, 0)
}

// validate checks the limits that hold whatever the time.
func (c Claims) validate() error {
	if c.Subject == "" {
		return errors.New("sub is empty")
	}
	if len(c.Subject) > MaxSubjectLen {
		return fmt.Errorf("sub is %d bytes, over %d", len(c.Subject), MaxSubjectLen)
	}
	if err := printable("sub", c.Subject); err != nil {
		return err
	}
	if len(c.Accounts) > MaxAccounts {
		return fmt.Errorf("accounts has %d entries, over %d", len(c.Accounts), MaxAccounts)
	}
	for i, a := range c.Accounts {
		// The rule of the accounts orders name (refdata.ValidID). Before,
		// a token's were [A-Za-z0-9_-], up to 32: no token could name an
		// account such as A.1 that the configuration and orders accept,
		// and one of 21 to 32 characters verified but every order of it
		// was refused orders.bad_id.
		if err := refdata.CheckID(fmt.Sprintf("accounts[%d]", i), a, MaxAccountLen); err != nil {
			var ie *refdata.IDError
			if errors.As(err, &ie) {
				return errors.New(ie.Text())
			}
			return err
		}
	}
	if err := c.Entitlements.validate(); err != nil {
		return err
	}
	if len(c.Issuer) > MaxNameLen {
		return fmt.Errorf("iss is %d bytes, over %d", len(c.Issuer), MaxNameLen)
	}
	if err := printable("iss", c.Issuer); err != nil {
		return err
	}
	if len(c.Audience) > MaxAudiences {
		return fmt.Errorf("aud has %d entries, over %d", len(c.Audience), MaxAudiences)
	}
	for _, a := range c.Audience {
		if a == "" || len(a) > MaxNameLen {
			return fmt.Errorf("aud entry is %d bytes, not 1..%d", len(a), MaxNameLen)
		}
		if err := printable("aud", a); err != nil {
			return err
		}
	}
	if c.NotBefore < 0 || c.IssuedAt < 0 {
		return errors.New("nbf and iat must not be negative")
	}
	// time.Unix overflows beyond its range and wraps into the far past: a
	// far-future nbf or iat would then be taken as passed.
	if c.Expires > maxTime || c.NotBefore > maxTime || c.IssuedAt > maxTime {
		return fmt.Errorf("exp, nbf and iat must not be after %d (year 9999)", int64(maxTime))
	}
	return nil
}

// maxTime bounds exp, nbf and iat: 9999-12-31T23:59:59Z, far inside the
// range time.Unix represents.
const maxTime = 253402300799

// printable reports a byte of s outside printable ASCII.
func printable(what, s string) error {
	for i := 0; i < len(s); i++ {
		if b := s[i]; b < 0x20 || b > 0x7e {
			return fmt.Errorf("%s has byte %#04x at %d, not printable ASCII", what, b, i)
		}
	}
	return nil
}

// isURLByte reports whether b is in [A-Za-z0-9_-]: the base64url alphabet,
// and the characters of an account id.
func isURLByte(b byte) bool {
	return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || b == '_' || b == '-'
}

// wireClaims is the JSON payload of a token. Claim names match exactly
// (encoding/json alone would match "SUB" to sub); claims this gateway does
// not use (jti, ...) are ignored, as RFC 7519 asks. exp, iat and nbf are
// NumericDates: integers, or (from other issuers) fractions, rounded so
// that the token is valid for no longer (exp down, iat and nbf up).
type wireClaims struct {
	Subject   string       `json:"sub"`
	Issuer    string       `json:"iss,omitempty"`
	Audience  []string     `json:"aud,omitempty"`
	Expires   int64        `json:"exp"`
	IssuedAt  int64        `json:"iat"`
	NotBefore int64        `json:"nbf,omitempty"`
	Accounts  []string     `json:"accounts,omitempty"`
	Ent       Entitlements `json:"ent,omitzero"` // nil: no claim; empty: {}, nothing granted
	Admin     bool         `json:"adm,omitempty"`

	// has records which of the required claims were present when decoded.
	hasExp, hasIat bool
	// entJSON is the ent claim as decoded, for Verify to refuse a market
	// given twice once the signature is good.
	entJSON json.RawMessage
}

// UnmarshalJSON decodes a payload, matching claim names exactly.
func (w *wireClaims) UnmarshalJSON(b []byte) error {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	if m == nil {
		return errors.New("payload is null, not an object")
	}
	for name, raw := range m {
		var err error
		switch name {
		case "sub":
			err = json.Unmarshal(raw, &w.Subject)
		case "iss":
			err = json.Unmarshal(raw, &w.Issuer)
		case "aud":
			w.Audience, err = decodeAudience(raw)
		case "exp":
			w.Expires, err = decodeNumericDate(raw, math.Floor)
			w.hasExp = true
		case "iat":
			w.IssuedAt, err = decodeNumericDate(raw, math.Ceil)
			w.hasIat = true
		case "nbf":
			w.NotBefore, err = decodeNumericDate(raw, math.Ceil)
		case "accounts":
			err = json.Unmarshal(raw, &w.Accounts)
		case "ent":
			// null is not an absent ent: absent gets the default
			// entitlements (all market data unless configured), and an
			// issuer's nil map, which encodes as null, means none.
			if string(raw) == "null" {
				err = errors.New("null, not an object")
				break
			}
			err = json.Unmarshal(raw, &w.Ent)
			w.entJSON = raw
		case "adm":
			err = json.Unmarshal(raw, &w.Admin)
		}
		if err != nil {
			return fmt.Errorf("claim %s: %w", name, err)
		}
	}
	return nil
}

// decodeAudience reads aud: a string or an array of strings (RFC 7519
// 4.1.3).
func decodeAudience(raw json.RawMessage) ([]string, error) {
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, nil
	}
	var many []string
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, errors.New("not a string or an array of strings")
	}
	return many, nil
}

// decodeNumericDate reads a NumericDate, rounding a fraction with round.
// null is refused: a time claim that is present must be a number.
func decodeNumericDate(raw json.RawMessage, round func(float64) float64) (int64, error) {
	var n json.Number
	if len(raw) == 0 || raw[0] == '"' {
		return 0, errors.New("not a number") // json.Number would take "123"
	}
	if err := json.Unmarshal(raw, &n); err != nil || n == "" {
		return 0, errors.New("not a number")
	}
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || math.Abs(f) >= 1<<62 {
		return 0, errors.New("out of range")
	}
	return int64(round(f)), nil
}

// claims returns the public form of w.
func (w *wireClaims) claims() Claims {
	return Claims{Subject: w.Subject, Accounts: w.Accounts, Admin: w.Admin, Entitlements: w.Ent,
		Expires: w.Expires, IssuedAt: w.IssuedAt, NotBefore: w.NotBefore, Issuer: w.Issuer, Audience: w.Audience}
}

// The jwt.Claims methods. The parser is told not to validate claims
// (Verify checks them against the time it is given), so these only satisfy
// the interface.
var _ jwt.Claims = (*wireClaims)(nil)

func (w *wireClaims) GetExpirationTime() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.Expires, 0)), nil
}

func (w *wireClaims) GetIssuedAt() (*jwt.NumericDate, error) {
	return jwt.NewNumericDate(time.Unix(w.IssuedAt, 0)), nil
}

func (w *wireClaims) GetNotBefore() (*jwt.NumericDate, error) {
	if w.NotBefore == 0 {
		return nil, nil
	}
	return jwt.NewNumericDate(time.Unix(w.NotBefore, 0)), nil
}

func (w *wireClaims) GetIssuer() (string, error)             { return w.Issuer, nil }
func (w *wireClaims) GetSubject() (string, error)            { return w.Subject, nil }
func (w *wireClaims) GetAudience() (jwt.ClaimStrings, error) { return w.Audience, nil }

package auth

import "errors"

// Errors reported by the package. Each is wrapped with a detail that never
// contains the token, a secret or a private key; test with errors.Is.
var (
	// ErrMalformed reports a token that is not a well-formed JWT of this
	// gateway: empty, over MaxTokenBytes, not three base64url parts, a
	// header or payload that is not JSON of the expected types, a "crit"
	// header, a required claim (sub, exp, iat) missing, or (once its
	// signature is good) claims that break the limits on Claims or a
	// header or payload that gives a name twice (in any case).
	ErrMalformed = errors.New("auth: malformed token")
	// ErrUnknownKey reports a token whose "kid" header is missing or names
	// no configured key (a key removed by rotation, or another issuer's).
	ErrUnknownKey = errors.New("auth: unknown key")
	// ErrAlgorithm reports a token whose "alg" is not the algorithm of the
	// key its kid names: "none", an HMAC alg on a public key, or an alg
	// this package does not know.
	ErrAlgorithm = errors.New("auth: algorithm not allowed")
	// ErrSignature reports a well-formed token whose signature does not
	// verify with its key: it was altered or signed with another key.
	ErrSignature = errors.New("auth: bad signature")
	// ErrExpired reports a genuine token at or past its exp plus the
	// leeway.
	ErrExpired = errors.New("auth: token expired")
	// ErrNotYetValid reports a genuine token before its nbf, or issued
	// (iat) in the future, by more than the leeway.
	ErrNotYetValid = errors.New("auth: token not yet valid")
	// ErrIssuer reports a genuine token whose iss is not Config.Issuer.
	ErrIssuer = errors.New("auth: wrong issuer")
	// ErrAudience reports a genuine token whose aud does not name
	// Config.Audience.
	ErrAudience = errors.New("auth: wrong audience")
	// ErrEntitlement reports market data that Claims.MayView refuses; the
	// wrapped detail is the reason, for the client.
	ErrEntitlement = errors.New("auth: entitlement")
	// ErrClaims reports Claims that a Signer refuses to sign.
	ErrClaims = errors.New("auth: invalid claims")
	// ErrNoSigner reports Issue or IssueFor on a Verifier whose
	// configuration has no key that can sign (only public keys).
	ErrNoSigner = errors.New("auth: no signing key")
	// ErrConfig reports an invalid Config, KeyConfig or key file.
	ErrConfig = errors.New("auth: invalid config")
)

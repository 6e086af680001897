package auth

import "errors"

// Errors reported by the package. Each is wrapped with a detail that never
// contains the token or the secret; test with errors.Is.
var (
	// ErrMalformed reports a token that is not well-formed: empty, over
	// MaxTokenBytes, not two base64url parts, or (once its MAC is good) a
	// payload that is not strict JSON of valid Claims.
	ErrMalformed = errors.New("auth: malformed token")
	// ErrSignature reports a well-formed token whose MAC does not match: it
	// was altered or signed with another secret.
	ErrSignature = errors.New("auth: bad signature")
	// ErrExpired reports a genuine token past its exp, leeway included.
	ErrExpired = errors.New("auth: token expired")
	// ErrClaims reports Claims that Issue refuses to sign.
	ErrClaims = errors.New("auth: invalid claims")
	// ErrConfig reports an invalid Config.
	ErrConfig = errors.New("auth: invalid config")
)

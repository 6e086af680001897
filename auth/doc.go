// Package auth verifies the bearer tokens that WebSocket and REST clients
// present to the gateway, and says what market data they may view. The
// firm's login service issues the tokens; the gateway verifies them. The
// demo, which has no login service, issues one token at start, and
// operators mint tokens with `gateway token` (a Signer).
//
// A token is a JWT (RFC 7519) in JWS compact form, header.payload.signature,
// each part unpadded base64url. Its header names the key, "kid", and the
// algorithm, "alg", which must be the algorithm configured for that kid:
// HS256 (shared secret), EdDSA (Ed25519), ES256 (ECDSA P-256) or SM2SM3
// (SM2 with SM3 and the default UID, signature r || s; the name is this
// gateway's, no JOSE registry has one). "none", an unknown kid, or an alg
// other than the kid's is refused before any signature is checked. The
// payload carries sub, iat and exp (required), nbf, iss and aud
// (optional; iss and aud checked when configured), and the gateway's own
// claims: accounts (what the subject may trade), ent (market-data
// Entitlements) and adm (an operator's token). docs/SECURITY.md, "Tokens
// (JWT) and entitlements", is the reference.
//
// Verify checks the size, the shape and the alphabet first, then (through
// github.com/golang-jwt/jwt/v5) the header and the signature, then that
// no name of the header or payload, nor a market of ent, is given twice
// (internal/jsonkey), then the claims against the time it is given, with
// one leeway for exp, nbf and iat. Claims.MayView answers whether a client
// may receive a channel of a symbol at a depth.
//
// golang-jwt finds signing methods by alg in a process-wide registry of its
// own; New and NewSigner add SM2SM3 to it once. Nothing else is global.
//
// Concurrency: a Verifier and a Signer are immutable after New and
// NewSigner and safe for concurrent use by any number of goroutines; they
// hold no locks that callers can observe. Claims returned by Verify and
// Anonymous are the caller's own copy.
package auth

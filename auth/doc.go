// Package auth verifies the bearer tokens that WebSocket and REST clients
// present to the gateway. The firm's login service issues them, signed with
// a secret it shares with the gateway; the gateway only verifies them. The
// demo, which has no login service, issues one token at start.
//
// A token is base64url(payload) "." base64url(HMAC-SHA256(secret,
// base64url(payload))), both parts unpadded, where payload is the JSON of
// Claims: {"sub":"u1","acc":["A1","A2"],"exp":1767225600} (docs/PROTOCOL.md,
// "Authentication"). Verify checks the size, the structure and the MAC, in
// constant time, before it parses the payload, then the claims and the
// expiry against the time it is given.
//
// Concurrency: a Verifier is immutable after New and safe for concurrent use
// by any number of goroutines; it holds no locks that callers can observe.
// Claims returned by Verify are the caller's own copy.
package auth

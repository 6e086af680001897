// Package atrest is encryption at rest for the gateway's own files: the
// order journal (package journal) and the FIX session stores (package
// fix). It holds the key ring, loaded from a key file an operator keeps
// beside the gateway's other secrets, and the SM4-GCM sealing both
// stores share.
//
//	key file ─> LoadKeyFile ─> KeyRing ─┬─> journal.Config.Keys ─> sealed journal files
//	                                    └─> fix store factories  ─> sealed FIX stores
//
// # Keys and files
//
// A key ring maps key ids to 16-byte SM4 master keys and names the current
// key, the one new files are sealed under. A master key never seals
// anything itself: every file gets its own SM4 key, derived from the
// master key and a 16-byte random salt with HKDF-SM3 (RFC 5869 over SM3).
// The file's header (NewHeader, 74 bytes) records the cipher, the key id,
// the salt, a key check value (the first 8 bytes of HMAC-SM3 of a fixed
// label under the master key) and a GCM tag over the header and the
// caller's context (the bytes of its own header in front of it). OpenHeader
// tells a key that is missing or wrong (ErrKey, naming the id) from a
// header that was altered (ErrTampered).
//
// # Nonces
//
// A GCM nonce is 12 bytes: a 32-bit epoch and a 64-bit counter, big
// endian. Under one file key, (epoch 0, counter 0) is the header's tag and
// the caller gives every record a distinct (epoch, counter) pair; the
// journal uses its record sequence number as the counter and draws a
// random epoch each time it opens a file (NewEpoch), so a sequence number
// reused after a torn tail was cut still gets a fresh nonce. Two files
// never share a key unless their random 128-bit salts collide.
//
// # Concurrency
//
// A KeyRing is immutable after it is built and may be shared. A Sealer is
// safe for concurrent use (cipher.AEAD is stateless per call).
package atrest

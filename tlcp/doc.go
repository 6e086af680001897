// Package tlcp is the national-crypto transport of the public listener:
// TLCP, the dual-certificate protocol of GB/T 38636-2020 (record version
// 0x0101), with SM2 signature and encryption certificates, SM3 and SM4.
//
// Its layout follows Go's crypto/tls: the record layer is conn.go, the
// handshakes are handshake_server.go and handshake_client.go, the suites
// are the table of cipher_suites.go, key_agreement.go holds the two key
// exchanges and prf.go the TLS 1.2 PRF with HMAC-SM3. The spec section of
// each message is named beside it.
//
// Four suites are implemented: ECC_SM4_GCM_SM3 (0xE053), ECC_SM4_CBC_SM3
// (0xE013), ECDHE_SM4_GCM_SM3 (0xE051) and ECDHE_SM4_CBC_SM3 (0xE011).
// ECC suites carry the pre-master secret SM2-encrypted to the server's
// encryption certificate; ECDHE suites run the SM2 key exchange between
// both sides' encryption keys and ephemeral keys, so they need a client
// certificate pair: a server offers them only when it asks for client
// certificates. Resumption is by session ID (TLCP has no tickets).
//
// A Conn is safe for concurrent use the way a crypto/tls Conn is: one
// goroutine may Read while another Writes, and Close, SetDeadline and
// the other deadline setters may be called from any goroutine at any time.
// Two concurrent Reads (or Writes) are serialised by a lock and keep no
// ordering between them. The handshake runs once, on the first Read or
// Write or an explicit Handshake, under its own lock; it is bounded by
// Config.HandshakeTimeout. The callbacks of Config (GetCertificates, Time,
// and the Rand reader) run during the handshake, under the
// Conn's handshake lock and its read lock: they must not call the Conn's
// Read, Write or Handshake.
//
// The package keeps no package-level state: session caches and
// certificates are fields of Config.
package tlcp

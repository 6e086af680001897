// Package interop tests package tlcp against an implementation that
// shares no code with it: github.com/tjfoc/gmsm's gmtls (GM/T 0024
// "GMSSL", version 0x0101), in both directions, handshakes, HTTP and
// WebSocket. It is its own module so that the peer stays out of the
// gateway's go.mod; run it with
//
//	cd tlcp/interop && go test -race ./...
//
// gmtls v1.4.1 implements ECC_SM4_CBC_SM3 (0xE013) only: its ECDHE
// server panics and its ECDHE client runs plain ECDH, not the SM2 key
// exchange; it has no GCM suite.
package interop

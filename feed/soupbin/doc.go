// Package soupbin encodes and decodes SoupBinTCP 3.0 packets.
//
// A SoupBinTCP stream is a sequence of packets, each a two-byte big-endian
// length, a one-byte packet type and a payload. The gateway's feed sessions
// use Parse to cut packets out of the bytes read from the connection and the
// ParseLogin* functions to follow the login handshake; the Sequenced Data
// payloads they yield carry one ITCH 5.0 message each, which package
// sgw/feed/itch decodes. The exchange simulator builds its side of the
// conversation with the Append* functions.
//
// The package is a pure codec: it does no I/O, keeps no state and allocates
// nothing in Parse or the Append functions (given a buffer with room), so
// every function is safe to call from any goroutine.
package soupbin

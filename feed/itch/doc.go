// Package itch decodes and encodes the Nasdaq TotalView-ITCH 5.0 messages
// the gateway's market data feed uses.
//
// The gateway's feed sessions take each SoupBinTCP Sequenced Data payload
// from package sgw/feed/soupbin (one ITCH message per packet) and call
// Decode into a Message they reuse, then hand the decoded order events to
// the order books. The exchange simulator builds the same messages with
// Append and frames them with soupbin.
//
// The package is a pure codec with no state: Decode and Append never
// allocate on success, and every function is safe to call from any
// goroutine as long as each goroutine uses its own Message and buffers.
// Prices are Price(4) as on the wire: unsigned integers with four implied
// decimals, the scale of sgw/refdata.Price; no float is involved.
package itch

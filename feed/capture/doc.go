// Package capture records what a feed received and reads it back.
//
// A Recorder, one per feed, writes up to three streams to rotating files:
// the raw bytes each source sent (primary, backup), exactly as read from
// the connection with their receive times, and the arbitrated stream, the
// sequenced messages the arbiter handed to the books. The feed calls the
// Recorder on its ingest goroutines (a source's transport, the arbiter);
// those calls only copy into a bounded in-memory queue and never block or
// do I/O. One writer goroutine drains the queue to disk. When the queue is
// full a record is dropped, counted (Stats.Dropped) and marked in its file
// by a gap record before the next record of that stream, so a reader knows
// where data is missing.
//
// The files of an ITCH feed (SoupBinTCP) and of an SZSE Binary feed share
// the format; the header names the protocol, which says how payloads are
// framed. Reader decodes one file (docs/CAPTURE.md is the format); Scan
// walks a stream's files in order and yields the sequenced messages it
// holds (ITCH messages; SZSE orders, trades and snapshots), which is what
// gw replay serves again (sgw/sim.Player).
package capture

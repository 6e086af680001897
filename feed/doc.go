// Package feed ingests market data. Each feed has a primary and a backup
// source, each a SoupBinTCP 3.0 session carrying Nasdaq ITCH 5.0 (framed by
// feed/soupbin, decoded by feed/itch). Plain-text sources run on a gnet event
// loop; TLS and TLCP sources, which gnet cannot carry, run on a reader goroutine each.
// Both sources feed one Arbiter, which hands every sequence number to the
// Sink (the order books) exactly once and in order, from whichever source
// has it first.
//
// A source logs in with the arbiter's next expected sequence number, so a
// reconnect replays exactly what was missed. A source silent past its
// heartbeat timeout is marked down and reconnected with backoff; the other
// carries on. A gap missing on every live source is recovered by asking one
// source to log in again from the next expected sequence number. A message
// missing with no gap (a source that left it out and numbered the rest
// on) shows only in the books; the supervisor reads that from them
// (Misser, orderbook.Input.Missed) and rebuilds from sequence 1, at most
// once per Config.MissedRebuildInterval. With no source up for
// Config.StaleAfterOutage every book is marked stale, and valid again
// only once a returning source has proven it replays what was missed
// (its login's copy of the last message delivered equal to it) or a
// rebuild from sequence 1 has caught up.
//
// Goroutines: the event loop (or a TLS or TLCP reader) delivers a source's bytes;
// one supervisor goroutine per Feed runs timers, reconnects and gap checks;
// dials run on short-lived goroutines. A source's state is guarded by its
// own mutex, taken before the arbiter's, never after.
//
// With Config.Capture set, a feed records each source's raw bytes and the
// arbitrated stream through a capture.Recorder (package sgw/feed/capture):
// the transport and the arbiter only copy into its bounded queue, taking
// its leaf mutex after their own locks; a full queue drops and counts. An
// SZSE feed records the same way: each source's reader goroutine its raw
// bytes, its arbiter every frame it delivers.
//
// SZSEFeed reads SZSE Binary market data (feed/szse) the same way, channel
// by channel: a gap is recovered by ReTransmit rather than a new login,
// and a range lost on both sources makes the channel stale and rebuilds it
// from ApplSeqNum 1 (docs/PROTOCOL.md). Its sources run on one reader
// goroutine each, and its arbiter delivers to an SZSESink. With no
// source up for Config.StaleAfterOutage its channels are marked stale
// (StaleChannel) until each is proven again (EndOutage).
package feed

// Package sim is the exchange simulator: it stands in for the exchange and
// the market-data vendor so the gateway can run, be tested and be load
// tested on one machine.
//
// Data flow: order flow (synthetic, from a seeded random walk, or entered
// with Submit/Cancel/Replace, later by a FIX acceptor) goes into the
// price-time matching engine of package sgw/sim/match; each book change it
// reports becomes one ITCH 5.0 message appended to the Sim's record, the
// day's feed, numbered from 1 (the SoupBinTCP sequence number; each
// message's Tracking Number holds its low 16 bits). Two listeners, the
// primary and the backup source, serve that one record over SoupBinTCP
// 3.0, optionally over TLS, so both sources carry the same messages under
// the same sequence numbers. Faults are injected per source: StopSource,
// DropRange, Delay and Garbage.
//
// The feed opens with System Event 'O' (start of messages) and 'S' (start
// of system hours), one Stock Directory per instrument (Stock Locate 1..n
// in configuration order, Stock = FeedSymbol, Round Lot Size = Lot), one
// Trading Action 'T' per instrument, then System Event 'Q' (start of
// market hours). Order messages are Add Order 'A', Order Executed 'E'
// (only resting orders appear; trades carry day-unique match numbers),
// Order Cancel 'X', Order Delete 'D' and Order Replace 'U'. Halt publishes
// Trading Action 'H'/'T'; EndSession publishes System Events 'M', 'E',
// 'C' and then sends End of Session.
//
// Sessions: a client has LoginTimeout to send its Login Request. Wrong
// credentials get Login Rejected 'A', a session name other than blank or
// the configured one gets 'S'. The requested sequence number is where the
// stream starts; 0, or one beyond the end of the record, starts at the next
// message to be recorded (Login Accepted carries the actual start). The
// server sends a Server Heartbeat after HeartbeatInterval without a packet,
// closes a client silent for ClientTimeout or sending Logout, and answers a
// malformed or unexpected packet with a Debug packet naming the problem
// before closing.
//
// # SZSE Binary mode
//
// With Config.SZSE.Enabled, the instruments whose symbol ends in ".SZ" are
// published as SZSE Binary market data (package sgw/feed/szse) on two more
// listeners, the sources SZSEPrimary and SZSEBackup, and are absent from
// ITCH (Stock Directory and Trading Action included; the other instruments
// keep their Stock Locates). Both views come from the one matching engine,
// so orders entered over FIX for a ".SZ" symbol appear on the SZSE feed.
// With Enabled false nothing of this exists and every instrument is on
// ITCH.
//
// Data: every ".SZ" instrument is on one order-by-order channel
// (SZSEConfig.Channel, 2011), whose records, orders (300192) and trades
// (300191), share one ApplSeqNum sequence from 1. An order accepted by the
// engine is an Order (limit, MDStreamID "011", SecurityID = FeedSymbol,
// SecurityIDSource "102") published before its trades; each trade is a
// Trade with ExecType 'F' naming both orders' ApplSeqNums, LastPx the
// resting order's price. A cancel, full or partial, and the IOC remainder
// that does not rest are a Trade with ExecType '4', LastPx 0, LastQty the
// quantity cancelled, naming the order on its side and 0 on the other. A
// replace that only reduces the size at the same price is a partial
// cancel; any other replace is the cancel of the old order and a new
// Order. Every SnapshotInterval while Run runs, and once more at
// EndSession, the Sim records one snapshot (300111) per ".SZ" instrument
// in the channel's stream, built from the engine's books at that point
// (so it agrees with the records before it): 10 levels a side, the best
// level's first 50 order quantities, the day's trade statistics and, once
// traded, last, open, high and low. Snapshots are not sequenced and not
// retransmitted.
//
// Sessions: the client sends a Logon within LoginTimeout; wrong CompIDs or
// password get Logout SessionStatus 5, a malformed, unknown or unexpected
// message (or one announcing more than 4 KiB) Logout 102, and either
// closes the connection. The Logon answer swaps the CompIDs and echoes
// HeartBtInt and DefaultApplVerID. A session starts at the live end of the
// stream (SZSEConfig.StreamFromStart: at the first record) and recovers
// what came before with ReTransmit (ResendType 1; ApplEndSeqNum 0 means
// the latest), answered by the request echoed with ResendStatus 1 (done),
// 2 (cut at MaxRetransmit or at what the session has reached) or 4
// (unavailable, RejectText saying why), then the records. The server sends
// a Heartbeat after HeartbeatInterval without another frame (a
// ChannelHeartbeat does not count), a ChannelHeartbeat
// every ChannelHeartbeatInterval with the last ApplSeqNum the session's
// stream has passed (EndOfChannel 1 once the channel has ended and the
// session passed all of it), answers Logout with Logout 4 and closes a
// client silent for ClientTimeout.
//
// Faults: StopSource, StartSource, DropRange (ApplSeqNums, live stream
// only: a ReTransmit still delivers them), Delay and Garbage take the SZSE
// sources like the ITCH ones.
//
// Executions and deletes of resting orders are also logged apart from
// either feed (Sim.Changes), so package sgw/sim/fixsim reports the trades
// that other flow makes against its parties' resting orders on both.
//
// Replay: a Player (NewPlayer) serves a feed capture (package
// sgw/feed/capture) on one listener with the same session code and accept
// loop as the Sim's sources: the SoupBinTCP session (feedServer) for an
// ITCH capture, the SZSE Binary session (szseServer) for an SZSE one, its
// record filled by Play at the recorded pace, N times faster or at once;
// sequence numbers the capture lacks are holes, never sent. The SZSE
// record holds as many channels as the capture. `gateway replay` runs it.
//
// Lifecycle: New binds the listeners (Addr works at once); Run serves them
// and generates the synthetic flow (and the SZSE snapshots) until its
// context is cancelled; Close (also done by Run on return) closes listeners
// and connections.
//
// Concurrency: every exported method of Sim is safe to call from any
// goroutine. Book-changing calls, the synthetic flow and the SZSE
// snapshots are serialised by the Sim's mutex and append to the records
// while holding it, so each record's order is the engine's order. Each
// connection has a goroutine that writes (it sleeps on its record's
// wake-up channel when caught up, never spinning) and one that reads the
// client's frames; a slow client holds up only its own writer.
package sim

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
// DropRange and Delay.
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
// Lifecycle: New binds both listeners (Addr works at once); Run serves them
// and generates the synthetic flow until its context is cancelled; Close
// (also done by Run on return) closes listeners and connections.
//
// Concurrency: every exported method of Sim is safe to call from any
// goroutine. Book-changing calls and the synthetic flow are serialised by
// the Sim's mutex and append to the record while holding it, so the
// record's order is the engine's order. Each connection has a goroutine
// that writes (it sleeps on the record's wake-up channel when caught up,
// never spinning) and one that reads the client's packets.
package sim

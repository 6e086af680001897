// Package fixsim is the exchange simulator's FIX order acceptor: the
// upstream that the gateway's FIX initiators (core trading and margin
// trading) connect to in tests, demos and load tests, so that orders trade
// against the live book of a sim.Sim and the fills show up in its ITCH
// feed.
//
// Data flow: each counterparty (TargetCompID) has one FIX session (4.4, or
// 4.2) served by a quickfix acceptor on an internal loopback address. The
// counterparty reaches it over any of several lines, TCP proxies standing
// in for carriers' leased lines, so one logical session survives the loss
// of a line: the initiator reconnects over another line and quickfix's
// sequence numbers and resend recovery (stores kept across reconnects and
// Restart) deliver what was in flight.
//
//	initiator ─> line 0 ─┐
//	          ─> line 1 ─┴─> internal address ─> quickfix session ─> venue ─> sim.Sim (engine, change log)
//	                                                           <─ execution reports <─┘
//
// The venue maps NewOrderSingle, OrderCancelRequest,
// OrderCancelReplaceRequest and OrderStatusRequest to Sim.Submit,
// CancelAt, Amend and its own order state, and answers with ExecutionReports (New,
// Trade, Canceled, Replaced, Rejected, Order Status) and
// OrderCancelRejects. Executions of a resting FIX order by another FIX
// order are reported at once; those caused outside the acceptor
// (synthetic flow, direct Sim calls) are found in the Sim's log of
// resting-order changes (Sim.Changes, whichever feed publishes the
// instrument) within a few milliseconds. A NewOrderSingle flagged PossDupFlag or
// PossResend whose ClOrdID the session already used is answered with the
// order's status and never entered twice: with resend recovery, that makes
// the gateway's failover exactly-once. Faults: CutLine, StallLine (and
// their reverses) and Restart.
//
// Concurrency: every exported method is safe from any goroutine. quickfix
// runs one goroutine per session and calls the venue from it (FromApp);
// the venue serialises all order handling, feed polling and sending under
// one mutex, so each session's reports follow the engine's order. Reports
// are queued on sessions from whichever goroutine produced them, so the
// sessions' message stores are wrapped in a lock (quickfix's are not safe
// for that). quickfix's session event loop busy-waits while its
// connection writer is busy; two things keep the acceptor's sessions from
// spinning: connections write into a buffer drained by a goroutine per
// connection (fixConn), and the store yields the processor on a turn of
// the loop that did nothing (fix.YieldOnSpin). Each line runs an
// accept goroutine and two copy goroutines per connection; a poller looks
// at the feed every 2ms.
//
// quickfix keeps sessions in a process-wide registry and offers no other
// way to send an application message (SendToTarget); the acceptor uses it
// in one place, and two Acceptors in one process need distinct session
// identities.
package fixsim

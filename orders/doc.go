// Package orders owns the life of every order: entrustment orders from
// trading apps (WebSocket) and brokers (FIX) pass pre-trade risk (package
// risk), are journaled (package journal) and relayed to the upstream that
// serves the account (the core trading system for cash accounts, the
// margin-trading system for credit accounts); execution reports come back
// through it to the client that sent the order.
//
//	client ─> Manager.New ─(intake.go: ids, risk)─> journal ──(durable)──> route (route.go) ─> fix.Upstream ─> venue
//	                                                                   └─> "accepted" to the client
//	venue ─> fix.Upstream ─> Manager.OnExecReport (state.go) ─> risk ─> journal ──(durable)──> client
//
// Files by role: intake.go (requests: identifiers, risk, journal),
// state.go (the order state machine: execution reports, cancel rejects,
// upstream rejects), route.go (per upstream: the one hold queue, requests
// awaiting answers, session up and down), recover.go (journal replay and
// the recovery rule), run.go (timers, drain), records.go (journal
// records).
//
// # Promises
//
// Journal first, then the wire: nothing leaves for the upstream and
// nothing reaches a client before its journal record is durable, so a
// request the upstream saw is always in the journal, and "accepted" means
// the request will reach the venue exactly once or end in a definite,
// journaled state:
//
//   - While an upstream's session is down (a carrier failover), accepted
//     requests are held, in order, and sent after the next logon; none is
//     refused because of the failover. The hold is bounded: Config.HoldQueue
//     requests (a new order beyond it is refused with
//     orders.upstream_unavailable) and Config.HoldTimeout (a request held
//     longer ends: the order is rejected, a cancel or replace refused,
//     orders.upstream_unavailable; it never left). The hold time runs from
//     when a request was first held, through a session that flaps. A
//     cancel the gateway made itself (kill switch, cancel-on-disconnect)
//     never expires: it is held until the next logon.
//   - A request the upstream refuses as a message (BusinessMessageReject,
//     e.g. an unsupported message type, or a session Reject) ends with
//     the upstream's reason (orders.upstream_reject). A request with no
//     answer after Config.AckTimeout (of the session's logged-on time,
//     summed across drops) gets a status request; a cancel or
//     replace still unanswered then is refused, a new order stays pending
//     and is counted (gateway_orders_unanswered_total). The venue may
//     still take a replace so refused: its first report under the
//     replace's id (a fill too, told as the replace's) makes the replace
//     the order's terms, in risk too, and with cancel_on_disconnect
//     cancels an order it makes a session's that has ended. So does a
//     replace that a report ending the order (a fill) overtook, which
//     the venue takes after working the order again (a trade cancel).
//   - After a crash or a stop, the recovery rule (see Recover) sends every
//     accepted request that never left, and only those.
//
// Exactly once inward: executions are applied once per upstream. ExecIDs
// are unique per upstream session, so the key is the upstream's name and
// the ExecID; a repeat is dropped when flagged PossDupFlag or PossResend.
//
// A journal failure fails closed: the failed records are rolled back from
// the file, their clients are told (orders.journal_failed), every later
// request is refused with that code, and gateway_orders_journal_failed
// turns 1. Nothing hangs: the journal never calls back on the caller's
// goroutine.
//
// # Concurrency
//
// Manager is safe for concurrent use. Its state is guarded by one mutex,
// held only for in-memory work and non-blocking hand-overs (never across
// I/O or an fsync). Nothing outside the package is called back under it:
// sinks are called after it is released, from the manager's dispatcher
// goroutine in journal order (or from the calling goroutine when the
// journal has failed). The journal's writer only hands each durable
// record's completion to the dispatcher, so the manager's lock never
// holds up a group commit. Lock order: Manager.mu, then risk's mutex, then the
// journal's; the journal calls its callbacks holding none. The fix.Handler
// methods run on the upstream sessions' goroutines; Run drives the timers
// on its own.
package orders

// Package orders is the gateway's order manager: entrustment orders from
// trading apps (WebSocket) and brokers (FIX) pass its pre-trade risk checks
// (package risk), are journaled (package journal) and relayed to the
// upstream that serves the account (the core trading system for cash
// accounts, the margin-trading system for credit accounts); execution
// reports come back through it to the client that sent the order.
//
//	client ─> Manager.New ─> risk ─┬─> Journal.AppendAsync ──(durable)──> ack to the client
//	                               └─> Upstream.NewOrder (FIX out, at once)
//	upstream ExecReport ─> Manager.OnExecReport ─> risk fills ─> journal ──(durable)──> client
//
// Durability. An accepted order is journaled before its client is
// acknowledged, and every execution is journaled before the client hears of
// it. The order goes to the upstream as soon as risk accepts it, in
// parallel with the journal's fsync, so that a slow fsync does not delay
// the market; the FIX session's own store (which persists every outgoing
// message) covers the window in which an order has left but its journal
// record is not yet durable: after a crash the gateway rebuilds from the
// journal and resolves every order whose state it does not know with an
// OrderStatusRequest (Manager.Recover, Manager.Reconcile).
//
// Exactly once. A client order id is accepted once per account per day
// (risk). Executions are applied once: an execution id seen before (a
// PossDup resend after a line failover) is ignored.
//
// Concurrency. Manager is safe for concurrent use: its state is guarded by
// one mutex, held only for in-memory work (never across I/O or an fsync).
// Sinks are called from the journal's writer goroutine, in journal order,
// and must not block.
package orders

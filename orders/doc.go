// Package orders is the gateway's order manager: entrustment orders from
// trading apps (WebSocket) and brokers (FIX) pass its pre-trade risk checks
// (package risk), are journaled (package journal) and relayed to the
// upstream that serves the account (the core trading system for cash
// accounts, the margin-trading system for credit accounts); execution
// reports come back through it to the client that sent the order.
//
//	client ─> Manager.New ─> risk ─> Journal.AppendAsync ──(durable)──> Upstream.NewOrder (FIX out)
//	                                                                 └─> "accepted" to the client
//	upstream ExecReport ─> Manager.OnExecReport ─> risk fills ─> journal ──(durable)──> client
//
// Durability. Nothing leaves for the upstream and nothing reaches a client
// before its journal record is durable: a request the upstream saw is
// always in the journal. After a crash the gateway rebuilds from the
// journal and resolves every open order with an OrderStatusRequest
// (Manager.Recover, Manager.Reconcile); an order the journal holds but the
// upstream never received is answered "unknown order" and closed as
// rejected, so it has exactly one outcome. The journal's group commit keeps
// the fsync off the throughput budget; its latency is the disk's fsync
// latency (docs/PERFORMANCE.md).
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

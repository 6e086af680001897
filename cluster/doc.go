// Package cluster replicates the gateway's order state across three nodes
// with Raft (issue 11), so that losing one machine loses no acknowledged
// order and a standby takes over within about two seconds.
//
// The plan, of which this package is the foundation:
//
//   - The order journal becomes the Raft log. Every record the order manager
//     journals today is passed to Node.Apply instead; Apply returns once the
//     record is committed on a quorum and applied to the local StateMachine,
//     which the order manager implements. An acknowledged order is therefore
//     on at least two disks (RPO 0), and every replica rebuilds the same order
//     table by applying the same records in the same order.
//   - Only the leader runs the upstream FIX sessions to the venue. When a node
//     becomes leader it records its epoch (the Raft term in which it won);
//     the upstream relay calls Node.StillLeader(epoch) before each send, so a
//     deposed leader that has not yet noticed cannot send a second copy of an
//     order that the new leader also sends. A false answer means: stop
//     sending, log out the sessions, and wait for the next leadership event.
//   - Followers keep their broker acceptors open and forward order entry to
//     the leader (Node.Leader names it); a follower never applies a record on
//     its own.
//
// What is built (issue 11, part 1): Node.ApplyAsync pipelines records
// (many in flight, completions in log order on one goroutine); State is
// the StateMachine holding the order journal's records and the upstream
// FIX sessions' stores, one byte of kind tagging each record (record.go),
// with a versioned snapshot (state_snapshot.go); Journal implements the
// order manager's Journal on it (seq = position among journal records,
// dense from 1); SessionStores implements fix.SessionStores on it, so the
// upstream sessions' sequence numbers, messages and reservation follow
// leadership. The order manager itself is not yet the StateMachine: it
// replays the State's journal records when it starts on the leader.
//
// Concurrency: Node's methods may be called from any goroutine. The
// StateMachine's Apply, Snapshot and Restore are called one at a time from
// Raft's FSM goroutine and must not call back into the Node. Leadership
// changes are delivered on a channel from the Node's own goroutine, never
// under a lock of this package.
package cluster

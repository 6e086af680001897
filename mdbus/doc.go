// Package mdbus carries market data from the ingest node to stateless
// edges over NATS.
//
//	ingest node                                   edge nodes (any number)
//	orderbook.Engine ─ring─> Publisher ──NATS──> Edge ─> orderbook.Mirror ─> gateway (WebSocket, REST)
//	                  View <─ snapshot request <── (per symbol, request/reply)
//
// The Publisher reads every shard's Updates from the ingest Engine and
// publishes each, encoded compactly (wire.go: versioned binary carrying
// the ingest Seq, the ingest receive time Recv and the checksums), on the
// symbol's subject <prefix>.d.<symbol>. It answers snapshot requests on
// <prefix>.snap.<symbol> with the symbol's depth-20 View.
//
// An Edge subscribes to <prefix>.d.> and keeps an orderbook.Mirror, whose
// Engine the unchanged gateway fan-out serves from: the Seq a client sees
// is the ingest's, the same on every edge, so a client that reconnects to
// another edge resumes where it was. A symbol is stale (published as such,
// never served as valid) from the edge's start, after a gap in its Seq, a
// checksum mismatch, a NATS disconnection or a new ingest epoch, until a
// snapshot reply rebuilds it; the deltas that arrived meanwhile are
// applied after the snapshot.
//
// Goroutines: a Publisher runs one goroutine per shard (Run) plus the
// NATS subscription's for snapshot requests; an Edge runs one loop that
// owns the Mirror and every per-symbol state (Run), and a fixed number of
// snapshot requesters. NATS callbacks only hand events to the loop.
package mdbus

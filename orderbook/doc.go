// Package orderbook keeps the gateway's order books and publishes them to
// readers without locks.
//
// In the data flow it sits between the feed (sgw/feed: sessions and the
// A/B arbiter, which deliver each ITCH 5.0 message once and in order) and
// everything that reads market data: WebSocket fan-out, REST snapshots and
// pre-trade risk.
//
//	feed goroutine ──Input.Apply──> SPSC queue per shard ──> shard writer
//	                                                          │ decode, Book.Apply
//	                      readers <── View / Top (seqlock) <──┤ publish view
//	                      readers <── Reader.Next (ring)   <──┘ append Update
//
// A Book is the order-by-order (L3) book of one instrument with aggregated
// price levels (L2), fixed-point prices (refdata.Price), trade statistics
// and trading state. An Engine owns one Book per configured instrument and
// splits the instruments into shards by xxhash of the gateway symbol; each
// shard has exactly one writer goroutine, started by Engine.Run, which is
// the only goroutine that touches the shard's books.
//
// Goroutine contracts:
//
//   - Each feed gets its own Input from Engine.NewInput, and only one
//     goroutine (the feed's delivering goroutine) may call its Apply. Apply
//     copies the message into a single-producer single-consumer queue of the
//     instrument's shard; when that queue is full it spins briefly, then
//     parks until the shard drains it, so a slow shard slows its feed
//     (backpressure) rather than dropping messages.
//   - A shard writer counts, in the Input whose event found it, a book
//     that missed a message (ErrUnknownOrder, ErrDuplicateOrder) until a
//     Clear mends it; Input.Missed reads those atomics from any goroutine
//     (the feed's supervisor), taking no lock the writer could wait on.
//   - Shard writers park when all their queues are empty; an Input wakes a
//     parked writer with one atomic flag check and a channel send.
//   - Readers never lock and never block the writer, and may call
//     Engine.Top and Engine.View from any goroutine. Top copies a symbol's
//     best bid and ask from one cache line under a seqlock. View copies a
//     double-buffered, seqlocked view (header and top MaxDepth levels per
//     side): the writer alternates buffers, so a reader retries only if the
//     writer published that symbol twice while it was copying. A View is
//     the symbol's current publication at some moment of the call, so the
//     Views a goroutine takes, or takes after another's, never go back to
//     an earlier publication (a Mirror's Load may lower Seq: a new ingest
//     epoch). A Reader follows a shard's broadcast ring of Updates from one goroutine; one
//     that falls a whole ring behind gets ErrLapped and must resnapshot
//     with View. Engine.Stale and Engine.Differs (a book known to differ
//     from the venue's until a Clear, published in the view's header)
//     read the view the same way.
//   - The view and the Update stream agree: the View of a symbol at Seq S is
//     the state after applying that symbol's Updates up to S. A writer
//     publishes the view before the Update enters the ring, so a client
//     that positions a Reader and then takes a View drops Updates with
//     Seq <= View.Seq and applies the rest.
//
// Published data is copied word by word between the writer and readers.
// Those copies race by design (the seqlock versions detect torn reads), so
// under the race detector, and on architectures without x86's ordered
// stores, the copies use sync/atomic per word (copy_atomic.go); amd64
// builds without -race use plain copies (copy_plain.go).
package orderbook

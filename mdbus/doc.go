// Package mdbus carries market data from the ingest node to stateless
// edges over NATS.
//
//	ingest node                                   edge nodes (any number)
//	orderbook.Engine ─ring─> Publisher ──NATS──> Edge ─> orderbook.Mirror ─> gateway (WebSocket, REST)
//	                  View <─ snapshot request <── (per symbol, request/reply)
//
// The Publisher reads every shard's Updates from the ingest Engine and
// publishes each, encoded compactly (the wire format below: versioned
// binary carrying the ingest Seq, the ingest receive time Recv and the
// checksums), on the symbol's subject <prefix>.d.<symbol>. It answers
// snapshot requests on <prefix>.snap.<symbol> with the symbol's depth-20
// View, except those naming a newer epoch than its own (below). Every second it publishes on <prefix>.hb a heartbeat: each
// symbol's last Seq it published or lost.
//
// An Edge subscribes to <prefix>.d.> and <prefix>.hb and keeps an orderbook.Mirror, whose
// Engine the unchanged gateway fan-out serves from: the Seq a client sees
// is the ingest's, the same on every edge, so a client that reconnects to
// another edge resumes where it was. A symbol is stale (published as such,
// never served as valid) from the edge's start, after a gap in its Seq, a
// checksum mismatch, a heartbeat ahead of its Seq (its last updates were
// lost), a NATS disconnection or updates NATS dropped, a new ingest epoch,
// or the publisher's silence (no heartbeat for EdgeConfig.Silence), until a
// snapshot reply rebuilds it; the deltas that arrived while it was asked
// for are applied after the snapshot (only those: one that came before
// the request is in the snapshot). A snapshot that, with those deltas, falls
// short of a seq the edge heard of (a delta kept, a heartbeat's) since it
// asked is not loaded, and asked for again; a seq heard of before it asked,
// which a snapshot of the publisher would hold, is not the publisher's and
// is forgotten.
//
// Goroutines: a Publisher runs one goroutine per shard (Run), one for
// heartbeats, plus the NATS subscription's for snapshot requests; an Edge runs one loop that
// owns the Mirror and every per-symbol state (Run), one that hands it the
// bus messages within its byte bound (forward), and a fixed number of
// snapshot requesters. NATS callbacks only hand events to the loop.
//
// What each side does on NATS, and nothing more: a Publisher publishes on
// <prefix>.d.> and <prefix>.hb, subscribes to <prefix>.snap.> and replies
// to each request; an Edge subscribes to <prefix>.d.>, <prefix>.hb and its
// inbox (the replies: under NATS's _INBOX, or the inbox prefix its
// connection was given) and publishes on <prefix>.snap.>. The NATS
// permissions of docs/SECURITY.md ("Market-data bus") hold each to that.
//
// # Wire format, version 1
//
// This section is the whole specification of the bytes on the bus.
// wire.go implements it (AppendUpdate, AppendSnapshot, AppendError,
// Decode); internal/wireref is a second implementation written from this
// text alone, and the tests check each against the other.
//
// A NATS message's payload is exactly one frame: nothing precedes it and
// nothing may follow its last field. A frame is an update (published on
// <prefix>.d.<symbol>), a heartbeat (published on <prefix>.hb), a
// snapshot or an error (both replies to a snapshot request).
//
// Fields are encoded in one of four ways:
//
//   - u8: one byte.
//   - u32le: an unsigned 32-bit integer in 4 bytes, least significant
//     byte first.
//   - uvarint: an unsigned 64-bit integer in 1 to 10 bytes, 7 bits per
//     byte, least significant group first; the top bit (0x80) of a byte
//     is set when another byte follows (Go's binary.AppendUvarint, the
//     Protocol Buffers varint). The encoding is always the shortest: a
//     final byte 0x00 in a uvarint of two bytes or more is refused, and
//     so is a 10th byte above 0x01 (a value past 64 bits).
//   - varint: a signed 64-bit integer x, mapped to the unsigned
//     (x << 1) ^ (x >> 63) with an arithmetic shift (zigzag: 0, -1, 1,
//     -2, 2 become 0, 1, 2, 3, 4) and encoded as a uvarint.
//
// Prices are refdata.Price fixed-point integers (units of 1/10000 of the
// currency) carried as varints, as are quantities, volumes and turnovers
// (turnover in Price units times shares); any int64 is carried, zero and
// negative values included.
//
// Every frame starts with the header (offsets in bytes; e is 2 plus the
// size of the epoch, L the symbol length):
//
//	offset  encoding  field
//	0       u8        version: 1
//	1       u8        type: 'U' (0x55) update, 'H' (0x48) heartbeat,
//	                  'S' (0x53) snapshot, 'E' (0x45) error
//	2       uvarint   epoch: the publisher's run, above every earlier run's
//	                  (the Raft leadership epoch in a cluster), never 0 from a
//	                  Publisher; an Edge drops frames of an older epoch and
//	                  marks every symbol stale on a newer one
//	e       u8        L: symbol length, 1 to 16 (refdata.MaxSymbolLen)
//	e+1     L bytes   symbol: the gateway symbol, such as "600519.SH";
//	                  "*" in a heartbeat
//
// and its body follows at offset e+1+L. The body of an update ('U'), one
// orderbook.Update, is, in order:
//
//	seq         uvarint  Update.Seq: per symbol, +1 per update, from 1
//	time        uvarint  Update.Time: exchange time, ns since midnight
//	recv        varint   Update.Recv: ingest receive time, unix ns
//	kind        u8       Update.Kind: 1 book, 2 trade, 3 status, 4 reset
//	state       u8       Update.State: trading state (0, 'H', 'P', 'Q', 'T', 's')
//	n           u8       number of changes, 0 to 2
//	n × change:
//	  side      u8       1 bid, 2 ask
//	  rank      u8       the int8 rank, two's complement (0xff is -1: beyond the depth)
//	  level              the level's new state (below); qty 0 for a removal
//	enterSide   u8       Update.EnterSide: 0 none, 1 bid, 2 ask
//	only if enterSide is not 0:
//	  3 × level          Update.Enter: the side's levels at ranks 4, 9 and 19
//	only if kind is 2 (trade):
//	  tradePrice varint  Update.TradePrice
//	  tradeQty   varint  Update.TradeQty
//	last        varint   Update.Last: last trade price of the day
//	volume      varint   Update.Volume: shares traded today
//	turnover    varint   Update.Turnover
//	checksum    u32le    Update.Checksum: of the top 10 levels (docs/CONTRACTS.md)
//	checksum5   u32le    Update.Checksum5: of the top 5 levels
//
// A book update (kind 1) whose volume is above the previous update's
// carries a print that a feed's rebuild delivered again (published as a
// trade update before the rebuild, not again): a receiver counts it in the
// day's open, high and low at price last (orderbook.Mirror does), and
// does not publish it as a print. The encoding is the same as before.
//
// where a level, one orderbook.Level, is
//
//	price       varint   Level.Price
//	qty         varint   Level.Qty
//	orders      uvarint  Level.Orders: 0 to 2^31-1
//
// The body of a snapshot ('S'), one orderbook.View of depth 20, is
//
//	seq         uvarint  View.Seq: of the last update included, 0 before any
//	time        uvarint  View.Time
//	state       u8       View.State
//	last        varint   View.Last
//	lastQty     varint   View.LastQty
//	volume      varint   View.Volume
//	turnover    varint   View.Turnover
//	open        varint   View.Open
//	high        varint   View.High
//	low         varint   View.Low
//	checksum    u32le    View.Checksum
//	checksum5   u32le    View.Checksum5
//	nBids       u8       0 to 20
//	nBids × level        View.Bids, best first
//	nAsks       u8       0 to 20
//	nAsks × level        View.Asks, best first
//
// The body of a heartbeat ('H') is
//
//	count       uvarint  number of entries, 1 to 4096
//	count × entry:
//	  L         u8       symbol length, 1 to 16
//	  symbol    L bytes  a gateway symbol
//	  seq       uvarint  the Seq of the symbol's last update the publisher
//	                     has published or lost (failed to publish, or
//	                     skipped when it fell behind), 0 before any
//
// A Publisher sends, every second, heartbeats covering every symbol it
// publishes (several in a row when it has more than 4096), each after the
// updates it accounts for (after it fell a ring behind its books, a seq
// may also name updates it publishes next: an edge then asks for a
// snapshot it did not need). An edge that has applied less than a
// heartbeat's seq of a symbol has lost updates the stream will not bring
// again; one that hears no heartbeat of its epoch for a while has lost
// its publisher. Both mark the symbols concerned stale.
//
// A snapshot request (published on <prefix>.snap.<symbol>) is not a
// frame: its payload is empty, or the uvarint epoch the edge follows and
// nothing after it. A Publisher of an older epoch does not answer a
// request naming a newer one: NATS hands the requester the first reply
// only, and the edge would refuse it, so an older ingest node still on the
// bus (a deposed leader, the other of an active pair) could keep an edge
// stale. Any other payload is answered.
//
// The body of an error ('E'), the reply to a snapshot request for a
// symbol the publisher does not know, is its text: every remaining byte,
// 0 to 256 of them ("unknown symbol"). Its header carries the symbol
// requested, or "?" when that is not 1 to 16 bytes.
//
// Decode refuses, with an error wrapping ErrVersion, a frame of 2 bytes
// or more whose version is not 1, and with an error wrapping ErrMalformed
// a frame
//
//   - of fewer than 2 bytes (whatever its first byte);
//   - of a type other than 'U', 'H', 'S' and 'E';
//   - that ends inside a field, or with bytes after its last field;
//   - with a uvarint or varint that is not the shortest encoding of its
//     value, or exceeds 64 bits;
//   - with a symbol length of 0 or above 16 (or past the frame's end);
//   - of an update whose kind is not 1 to 4 (5, a Mirror's reload, is
//     never sent), whose n is above 2, a change's side not 1 or 2, or
//     enterSide not 0, 1 or 2;
//   - with a level whose orders exceed 2^31-1;
//   - of a snapshot with nBids or nAsks above 20;
//   - of a heartbeat whose header symbol is not "*", whose count is 0 or
//     above 4096, or with an entry's symbol length of 0 or above 16;
//   - of an error whose text exceeds 256 bytes.
//
// It does not check the symbol's bytes (an entry's included, nor whether
// a heartbeat names a symbol twice), the epoch, seq, time, state or
// rank values, the signs of prices and quantities, the order of levels,
// nor the checksums against the levels (an Edge's Mirror does). A decoded
// Update has Symbol 0 (the receiver maps the symbol to its own SymbolID),
// a zero Enter when enterSide is 0 and zero TradePrice and TradeQty
// unless it is a trade.
//
// The encoders write n = min(Update.N, 2) changes, the first 20 levels of
// a side and the first 256 bytes of an error text; a heartbeat is written
// as its header and count, then each entry, as given. They do not check the
// symbol (one of 0 or more than 16 bytes makes a frame Decode refuses) nor
// the values Decode refuses (an Orders below 0, a kind or side out of
// range, a heartbeat's count out of range or unlike its entries). Each message has one encoding: a frame Decode accepts encodes
// back to the same bytes.
//
// For example, the trade update of "600519.SH" in epoch 300 with seq 7,
// time 0, recv -1, state 'T', the ask level at 170.0000 removed (rank 0),
// no enter levels, 100 shares at 170.0000, last 170.0000, volume 100,
// turnover 170000000 and checksums 0x11223344 and 0xaabbccdd is
//
//	01 55 ac 02 09 36 30 30 35 31 39 2e 53 48    header
//	07 00 01 02 54 01                            seq time recv kind state n
//	02 00 c0 c2 cf 01 00 00                      side rank price qty orders
//	00                                           enterSide
//	c0 c2 cf 01 c8 01                            tradePrice tradeQty
//	c0 c2 cf 01 c8 01 80 fa 8f a2 01             last volume turnover
//	44 33 22 11 dd cc bb aa                      checksum checksum5
//
// the heartbeat in epoch 300 of "600519.SH" at seq 7 and "000001.SZ"
// before any update is
//
//	01 48 ac 02 01 2a                            header
//	02                                           count
//	09 36 30 30 35 31 39 2e 53 48 07             L symbol seq
//	09 30 30 30 30 30 31 2e 53 5a 00             L symbol seq
//
// and the error reply "unknown symbol" about "?" in epoch 1 is
//
//	01 45 01 01 3f 75 6e 6b 6e 6f 77 6e 20 73 79 6d 62 6f 6c
package mdbus

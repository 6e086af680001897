// Package szse decodes and encodes the Shenzhen Stock Exchange Binary
// market data protocol (深圳证券交易所Binary行情数据接口规范, version 1.0x),
// the A-share native feed of SZSE's market data gateway (MDGW).
//
// It is one decoder behind the gateway's feed decoder seam: a feed source
// reading an SZSE channel calls Decode on the bytes it has read, one frame
// at a time, into a Message it reuses; package sgw/feed normalises the
// decoded orders (300192) and trades and cancels (300191) into
// order-by-order book events, uses ChannelHeartbeat to detect gaps in a
// channel's ApplSeqNum and ReTransmit to recover them. The exchange
// simulator and the tests build frames with the Append functions.
//
// The package is a pure codec with no state: Decode and the Append
// functions do no I/O and do not allocate in steady state, and every
// function is safe to call from any goroutine as long as each goroutine
// uses its own Message and buffers.
//
// # Frames
//
// Every integer is big-endian. A frame is
//
//	MsgType    uint32
//	BodyLength uint32  bytes of body
//	body       BodyLength bytes, laid out per MsgType
//	Checksum   uint32  sum of every preceding byte of the frame (header and body) mod 256
//
// Field types: char[n] is n bytes of text, left-justified and padded with
// spaces; Price is int64 N13(4) (four implied decimals, see Price4); Qty
// is int64 N15(2) (Qty2); Amt is int64 N18(4) (Amount4); MDEntryPx is
// int64 N18(6) (Price6); SeqNum is int64; LocalTimeStamp is int64
// YYYYMMDDHHMMSSsss (Timestamp); Boolean is uint16; NumInGroup is uint32,
// the count of a repeating group that follows.
//
// # Bodies
//
// Offsets are from the start of the body.
//
//	Logon 1, 92 bytes: SenderCompID char[20] @0, TargetCompID char[20] @20,
//	  HeartBtInt int32 @40, Password char[16] @44, DefaultApplVerID char[32] @60
//	Logout 2, 204 bytes: SessionStatus int32 @0, Text char[200] @4
//	Heartbeat 3, 0 bytes
//	ChannelHeartbeat 390095, 12 bytes: ChannelNo uint16 @0,
//	  ApplLastSeqNum SeqNum @2, EndOfChannel Boolean @10
//	ReTransmit 390094, 44 bytes: ResendType uint8 @0, ChannelNo uint16 @1,
//	  ApplBegSeqNum SeqNum @3, ApplEndSeqNum SeqNum @11, NewsID char[8] @19,
//	  ResendStatus uint8 @27, RejectText char[16] @28
//	Order 300192, 51 bytes: ChannelNo uint16 @0, ApplSeqNum SeqNum @2,
//	  MDStreamID char[3] @10, SecurityID char[8] @13, SecurityIDSource char[4] @21,
//	  Price Price @25, OrderQty Qty @33, Side char @41, TransactTime LocalTimeStamp @42,
//	  then its extended field OrdType char @50
//	Trade 300191, 66 bytes: ChannelNo uint16 @0, ApplSeqNum SeqNum @2,
//	  MDStreamID char[3] @10, BidApplSeqNum SeqNum @13, OfferApplSeqNum SeqNum @21,
//	  SecurityID char[8] @29, SecurityIDSource char[4] @37, LastPx Price @41,
//	  LastQty Qty @49, ExecType char @57, TransactTime LocalTimeStamp @58
//	  (no extended fields)
//	Snapshot 300111, 69 bytes and the groups: OrigTime LocalTimeStamp @0,
//	  ChannelNo uint16 @8, MDStreamID char[3] @10, SecurityID char[8] @13,
//	  SecurityIDSource char[4] @21, TradingPhaseCode char[8] @25,
//	  PrevClosePx Price @33, NumTrades int64 @41, TotalVolumeTrade Qty @49,
//	  TotalValueTrade Amt @57, NoMDEntries NumInGroup @65, then NoMDEntries
//	  entries of 32 bytes and their orders: MDEntryType char[2] @0,
//	  MDEntryPx N18(6) @2, MDEntrySize Qty @10, MDPriceLevel uint16 @18,
//	  NumberOfOrders int64 @20, NoOrders NumInGroup @28, then NoOrders
//	  OrderQty Qty of 8 bytes each
//
// Other versions of the order and trade messages (300592 and 300792,
// 300591 and 300791: negotiated trades, securities lending) have their own
// MsgTypes and are skipped as unknown.
//
// # Numbers
//
// Prices and quantities stay scaled integers end to end. Order and trade
// prices are N13(4), the scale of refdata.Price: Price4.Price converts
// 1:1. Snapshot entry prices are N18(6): Price6.Price divides by 100 and
// reports whether sub-tick digits were lost (it rounds them half away from
// zero); real A-share prices have ticks of 0.01 or 0.001 and always convert
// exactly. Quantities are N15(2), hundredths of a share: Qty2.Shares
// divides by 100 and reports whether a fraction was dropped.
//
// # Sources
//
// The exchange's PDF was not available to this work; the layouts above
// were assembled from public material and cross-checked between sources:
//
//   - github.com/yzcpleo/szse_v5_parser (szse_binary_md_field.hpp,
//     szse_binary_type.hpp, szse_binary_packet.hpp), written against
//     "深圳证券交易所Binary行情数据接口规范1.00": the envelope, the data
//     types, the checksum routine and every body above.
//   - github.com/xinchentechnote/fin-proto, szse/binary/szse_bin_v1.29.pdsl,
//     which describes the SZSE Binary *trading* interface v1.29: the same
//     envelope (MsgType, BodyLength, body, Checksum), data types and
//     session messages (Logon, Logout, Heartbeat), which the market data
//     interface shares.
//   - The revision history of the spec version 1.01 (2016), published in
//     an excerpt on wenku365.com: the checksum covers header and body, and
//     MDStreamID follows ApplSeqNum in the trade message.
//   - A CSDN article with an SZSE MDGW client (blog.csdn.net/u010972055,
//     article 130752241): a Logon body of 20+20+4+16+32 bytes,
//     DefaultApplVerID "1.02", big-endian integers, the checksum.
//   - Packed wire structs of another public C++ decoder that the code
//     search found without naming its repository (md::Order, md::Trade,
//     md::MarketDataEntry): the byte order of Order, Trade and the 32-byte
//     snapshot entry, whose MDEntryType "0" reads as the bytes "0 ".
//
// # Inferred
//
//   - OrdType: szse_v5_parser declares it a 2-byte string; the packed
//     C++ wire struct makes it one char after TransactTime, two vendor
//     headers hold it in one char, and its values (1, 2, U) are single
//     characters. This package uses one byte (Order body 51 bytes).
//   - ReTransmit: from szse_v5_parser alone; ResendType and ResendStatus
//     are one byte each.
//   - Char padding: spaces (szse_v5_parser's String type, the MDGW client,
//     the "0 " entry type). Decode accepts any bytes; TrimString also drops
//     NULs.
//   - MDEntryPx as N18(6) rests on szse_v5_parser's "multiplier 1000000"
//     and two vendor headers; the spec's own table was not seen.
//   - Later spec versions (the exchange lists 1.13 to 1.17) were not
//     available; their layouts of these messages were not checked.
package szse

package szse

import "strconv"

// MsgType is the message type in a frame's header.
type MsgType uint32

// Message types this package decodes and encodes. The channel carries many
// more (index snapshots 309011, security status 390013, announcements
// 390012, ...); Decode reports those as ErrUnknownType so the caller can
// count and skip them.
const (
	TypeLogon            MsgType = 1      // session: logon, both directions
	TypeLogout           MsgType = 2      // session: logout, both directions
	TypeHeartbeat        MsgType = 3      // session: heartbeat, empty body
	TypeReTransmit       MsgType = 390094 // retransmission request and its answer
	TypeChannelHeartbeat MsgType = 390095 // a channel's last ApplSeqNum
	TypeSnapshot         MsgType = 300111 // 集中竞价 snapshot with repeating groups
	TypeTrade            MsgType = 300191 // 逐笔成交: a trade or a cancel
	TypeOrder            MsgType = 300192 // 逐笔委托: a new order
)

// Frame sizes. A frame is a header (MsgType, BodyLength), BodyLength bytes
// of body and a trailer (Checksum), all integers big-endian.
const (
	HeaderLen  = 8 // MsgType uint32, BodyLength uint32
	TrailerLen = 4 // Checksum uint32

	// MaxBodyLength bounds the BodyLength Decode accepts, so that a length
	// that lies cannot make a reader buffer without limit. It is generous
	// because the channel carries messages this package only skips, such
	// as announcements (390012) with raw data of variable length; the
	// types decoded here are far smaller.
	MaxBodyLength = 1 << 20

	// MaxFrameLen is the longest frame Decode accepts.
	MaxFrameLen = HeaderLen + MaxBodyLength + TrailerLen
)

// Body lengths of the types, from the field tables in the package
// documentation.
const (
	lenLogon            = 20 + 20 + 4 + 16 + 32
	lenLogout           = 4 + 200
	lenHeartbeat        = 0
	lenChannelHeartbeat = 2 + 8 + 2
	lenReTransmit       = 1 + 2 + 8 + 8 + 8 + 1 + 16
	lenOrder            = 2 + 8 + 3 + 8 + 4 + 8 + 8 + 1 + 8 + 1
	lenTrade            = 2 + 8 + 3 + 8 + 8 + 8 + 4 + 8 + 8 + 1 + 8

	// lenSnapshotFixed is the snapshot's body up to and including
	// NoMDEntries; lenEntryFixed is one MDEntry up to and including
	// NoOrders; each order quantity adds lenOrderQty.
	lenSnapshotFixed = 8 + 2 + 3 + 8 + 4 + 8 + 8 + 8 + 8 + 8 + 4
	lenEntryFixed    = 2 + 8 + 8 + 2 + 8 + 4
	lenOrderQty      = 8
)

// String returns a short name for t, such as "order", or "unknown(309011)"
// for a type this package does not handle. It is meant for logs and metric
// labels.
func (t MsgType) String() string {
	switch t {
	case TypeLogon:
		return "logon"
	case TypeLogout:
		return "logout"
	case TypeHeartbeat:
		return "heartbeat"
	case TypeReTransmit:
		return "retransmit"
	case TypeChannelHeartbeat:
		return "channel-heartbeat"
	case TypeSnapshot:
		return "snapshot"
	case TypeTrade:
		return "trade"
	case TypeOrder:
		return "order"
	}
	return "unknown(" + strconv.FormatUint(uint64(t), 10) + ")"
}

// title names t in error messages: "order (300192)", "message type 7".
func (t MsgType) title() string {
	n := strconv.FormatUint(uint64(t), 10)
	if t.known() {
		return t.String() + " (" + n + ")"
	}
	return "message type " + n
}

// known reports whether this package handles t.
func (t MsgType) known() bool {
	switch t {
	case TypeLogon, TypeLogout, TypeHeartbeat, TypeReTransmit, TypeChannelHeartbeat,
		TypeSnapshot, TypeTrade, TypeOrder:
		return true
	}
	return false
}

// fixedBodyLen returns the body length of t when t has a fixed layout, and
// -1 when it has repeating groups (Snapshot) or is unknown.
func fixedBodyLen(t MsgType) int {
	switch t {
	case TypeOrder:
		return lenOrder
	case TypeTrade:
		return lenTrade
	case TypeChannelHeartbeat:
		return lenChannelHeartbeat
	case TypeHeartbeat:
		return lenHeartbeat
	case TypeLogon:
		return lenLogon
	case TypeLogout:
		return lenLogout
	case TypeReTransmit:
		return lenReTransmit
	}
	return -1
}

// Side values of Order.Side.
const (
	SideBuy    byte = '1'
	SideSell   byte = '2'
	SideBorrow byte = 'G' // securities lending streams
	SideLend   byte = 'F' // securities lending streams
)

// OrdType values of Order.OrdType.
const (
	OrdTypeMarket  byte = '1' // 市价
	OrdTypeLimit   byte = '2' // 限价
	OrdTypeOwnBest byte = 'U' // 本方最优: priced at the best on the order's own side
)

// ExecType values of Trade.ExecType. On SZSE a cancel is published as a
// trade record with ExecType '4' that names the cancelled order in
// BidApplSeqNum or OfferApplSeqNum (the other is 0).
const (
	ExecTypeTrade  byte = 'F'
	ExecTypeCancel byte = '4'
)

// SecurityIDSourceSZSE is the SecurityIDSource of Shenzhen securities,
// before space padding to its 4-byte field.
const SecurityIDSourceSZSE = "102"

// MDEntryType values of MDEntry.MDEntryType, space-padded to the field's
// two bytes so that string(e.MDEntryType[:]) == EntryBid compares without
// allocating.
const (
	EntryBid        = "0 " // a bid level: MDPriceLevel, price, size, orders
	EntryOffer      = "1 " // an offer level
	EntryLast       = "2 " // last trade price
	EntryOpen       = "4 " // opening price
	EntryHigh       = "7 " // highest price
	EntryLow        = "8 " // lowest price
	EntryBidTotal   = "x3" // bid total: size and weighted average price
	EntryOfferTotal = "x4" // offer total: size and weighted average price
	EntryUpperLimit = "xe" // upper price limit
	EntryLowerLimit = "xf" // lower price limit
)

// ResendType values of ReTransmit.ResendType.
const (
	ResendTypeTick uint8 = 1 // order-by-order data of a channel, by ApplSeqNum range
	ResendTypeNews uint8 = 2 // announcements, by NewsID
)

// ResendStatus values of ReTransmit.ResendStatus, set only in the gateway's
// answer.
const (
	ResendStatusDone        uint8 = 1 // complete
	ResendStatusPartial     uint8 = 2 // some of the range is not returned
	ResendStatusDenied      uint8 = 3 // no permission
	ResendStatusUnavailable uint8 = 4 // data unavailable
)

// ResendStatusName names a ResendStatus value for logs: "done",
// "partial", "denied", "unavailable", or "status(N)" for another.
func ResendStatusName(v uint8) string {
	switch v {
	case ResendStatusDone:
		return "done"
	case ResendStatusPartial:
		return "partial"
	case ResendStatusDenied:
		return "denied"
	case ResendStatusUnavailable:
		return "unavailable"
	}
	return "status(" + strconv.FormatUint(uint64(v), 10) + ")"
}

// Message is one decoded message, meant to be reused across Decode calls.
// Decode sets Type and the field named for the type (Order for TypeOrder,
// and so on; a Heartbeat has no body); the other fields keep what they
// held before, so a reader looks only at the field Type names. Append
// encodes the field Type names.
type Message struct {
	Type MsgType

	Logon            Logon
	Logout           Logout
	ChannelHeartbeat ChannelHeartbeat
	ReTransmit       ReTransmit
	Order            Order
	Trade            Trade
	Snapshot         Snapshot

	// entries and orders back Snapshot.Entries and its entries' Orders
	// after Decode, which reuses them.
	entries []MDEntry
	orders  []Qty2
}

// Logon (MsgType 1) opens a session. Char fields are left-justified and
// space-padded (see PutString).
type Logon struct {
	SenderCompID     [20]byte
	TargetCompID     [20]byte
	HeartBtInt       int32 // heartbeat interval, seconds
	Password         [16]byte
	DefaultApplVerID [32]byte // protocol version "n.xy", such as "1.02"
}

// Logout (MsgType 2) closes a session.
type Logout struct {
	SessionStatus int32     // why: 0 active, 4 logout complete, 5 bad user or password, 101 other, ...
	Text          [200]byte // free text, possibly GBK-encoded Chinese
}

// ChannelHeartbeat (MsgType 390095) reports a channel's last order-by-order
// record number. A reader that has seen fewer records of the channel has a
// gap to recover with ReTransmit.
type ChannelHeartbeat struct {
	ChannelNo      uint16
	ApplLastSeqNum int64  // ApplSeqNum of the channel's last record
	EndOfChannel   uint16 // Boolean: 1 once the channel has ended for the day
}

// ReTransmit (MsgType 390094) asks the gateway to send a range of a
// channel's records (ResendType 1) or announcements (ResendType 2) again.
// The gateway answers with the same message, ResendStatus and RejectText
// filled in.
type ReTransmit struct {
	ResendType    uint8 // ResendTypeTick or ResendTypeNews
	ChannelNo     uint16
	ApplBegSeqNum int64    // first ApplSeqNum wanted (ResendType 1)
	ApplEndSeqNum int64    // last ApplSeqNum wanted, 0 for the latest the gateway holds (ResendType 1)
	NewsID        [8]byte  // announcement wanted, blank for a summary (ResendType 2)
	ResendStatus  uint8    // in the answer: a ResendStatus* value
	RejectText    [16]byte // in the answer: why the request was refused
}

// Order (MsgType 300192, 逐笔委托) is a new order of a centralized auction
// (集中竞价) stream: MDStreamID "011" for shares, funds and bonds, "021"
// pledged repo, "041" options. Orders and trades of a channel share one
// ApplSeqNum sequence, starting at 1.
type Order struct {
	ChannelNo        uint16
	ApplSeqNum       int64
	MDStreamID       [3]byte
	SecurityID       [8]byte
	SecurityIDSource [4]byte // "102 " for Shenzhen
	Price            Price4  // N13(4); the limit price of an OrdTypeLimit order
	OrderQty         Qty2    // N15(2)
	Side             byte    // SideBuy or SideSell (SideBorrow, SideLend on lending streams)
	TransactTime     Timestamp
	OrdType          byte // extended field: OrdTypeMarket, OrdTypeLimit or OrdTypeOwnBest
}

// Trade (MsgType 300191, 逐笔成交) is a trade between two orders, named by
// their ApplSeqNum, or (ExecType '4') the cancel of one order, which
// leaves the other sequence number 0.
type Trade struct {
	ChannelNo        uint16
	ApplSeqNum       int64
	MDStreamID       [3]byte
	BidApplSeqNum    int64 // the buy order's ApplSeqNum, 0 if none
	OfferApplSeqNum  int64 // the sell order's ApplSeqNum, 0 if none
	SecurityID       [8]byte
	SecurityIDSource [4]byte
	LastPx           Price4 // N13(4); 0 for a cancel
	LastQty          Qty2   // N15(2); for a cancel, the quantity cancelled
	ExecType         byte   // ExecTypeTrade or ExecTypeCancel
	TransactTime     Timestamp
}

// Snapshot (MsgType 300111, 集中竞价快照) is a security's snapshot:
// statistics, then repeating groups of entries (book levels, prices,
// totals), each with its own repeating group of order quantities.
type Snapshot struct {
	OrigTime         Timestamp
	ChannelNo        uint16
	MDStreamID       [3]byte // "010" for shares, funds and bonds
	SecurityID       [8]byte
	SecurityIDSource [4]byte
	// TradingPhaseCode is the trading phase. Byte 0: S start, O opening
	// call, T continuous, B break, C closing call, E closed, H halted,
	// A after hours, V volatility interruption; byte 1: 0 normal, 1
	// suspended all day.
	TradingPhaseCode [8]byte
	PrevClosePx      Price4 // N13(4)
	NumTrades        int64
	TotalVolumeTrade Qty2    // N15(2)
	TotalValueTrade  Amount4 // N18(4)

	// Entries is the NoMDEntries group. After Decode, it and the entries'
	// Orders share storage with the Message and are overwritten by the
	// next Decode into it; copy what must outlive that.
	Entries []MDEntry
}

// MDEntry is one entry of a Snapshot.
type MDEntry struct {
	MDEntryType    [2]byte // one of the Entry* constants
	MDEntryPx      Price6  // N18(6)
	MDEntrySize    Qty2    // N15(2)
	MDPriceLevel   uint16  // book level, from 1, for EntryBid and EntryOffer
	NumberOfOrders int64   // orders at the level; 0 when not published
	Orders         []Qty2  // the NoOrders group: quantities of the orders published at the level
}

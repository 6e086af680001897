package feedpeer

import (
	"encoding/binary"
	"fmt"
	"strings"

	"sgw/refdata"
)

// SZSE Binary market-data message types (MsgType).
const (
	szseLogon      = 1
	szseLogout     = 2
	szseHeartbeat  = 3
	szseSnapshot   = 300111 // 集中竞价交易业务行情快照
	szseTrade      = 300191 // 集中竞价业务逐笔成交
	szseOrder      = 300192 // 集中竞价业务逐笔委托
	szseReTransmit = 390094
	szseChannelHB  = 390095
)

// SZSE body lengths of the fixed-size messages.
const (
	szseLenLogon      = 20 + 20 + 4 + 16 + 32
	szseLenLogout     = 4 + 200
	szseLenOrder      = 2 + 8 + 3 + 8 + 4 + 8 + 8 + 1 + 8 + 1
	szseLenTrade      = 2 + 8 + 3 + 8 + 8 + 8 + 4 + 8 + 8 + 1 + 8
	szseLenChannelHB  = 2 + 8 + 2
	szseLenReTransmit = 1 + 2 + 8 + 8 + 8 + 1 + 16
	szseHeaderLen     = 8
	szseTrailerLen    = 4
)

// SZSE Logout SessionStatus values used by the peer.
const (
	szseStatusLogoutDone = 4   // 会话退登完成
	szseStatusBadLogon   = 5   // 不合法的用户名或口令
	szseStatusBadMessage = 102 // 无效消息
)

// SZSE ReTransmit ResendStatus values.
const (
	resendDone        = 1 // 完成
	resendPartial     = 2 // 部分完成
	resendUnavailable = 4 // 数据不可用
)

// szseChecksum is the SZSE Binary checksum: the sum of every byte of the
// header and body, modulo 256.
func szseChecksum(b []byte) uint32 {
	var sum uint32
	for _, c := range b {
		sum += uint32(c)
	}
	return sum % 256
}

// appendSZSE appends one SZSE Binary message: MsgType (u32), BodyLength
// (u32), the body, Checksum (u32), all big-endian.
func appendSZSE(dst []byte, msgType uint32, body []byte) []byte {
	start := len(dst)
	dst = binary.BigEndian.AppendUint32(dst, msgType)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	dst = append(dst, body...)
	return binary.BigEndian.AppendUint32(dst, szseChecksum(dst[start:]))
}

// appendChar appends s left-justified in a fixed n-byte character field
// padded with pad.
func appendChar(dst []byte, s string, n int, pad byte) []byte {
	if len(s) > n {
		s = s[:n]
	}
	dst = append(dst, s...)
	for i := len(s); i < n; i++ {
		dst = append(dst, pad)
	}
	return dst
}

// trimChar returns a fixed character field without its padding (spaces or
// NULs).
func trimChar(b []byte) string {
	return strings.TrimRight(string(b), " \x00")
}

// szseTime returns the LocalTimeStamp YYYYMMDDHHMMSSsss of date (YYYYMMDD)
// and ns nanoseconds since midnight.
func szseTime(date int64, ns int64) int64 {
	ms := ns / 1_000_000
	h, m, s, milli := ms/3_600_000, ms/60_000%60, ms/1000%60, ms%1000
	return date*1_000_000_000 + h*10_000_000 + m*100_000 + s*1000 + milli
}

// szseSide is the SZSE Side: 1 buy, 2 sell.
func szseSide(s Side) byte {
	if s == Buy {
		return '1'
	}
	return '2'
}

// szseWire holds what every SZSE data message of one feed shares.
type szseWire struct {
	date int64
	pad  byte
}

// orderBody returns the body of an order (300192): ChannelNo, ApplSeqNum,
// MDStreamID "011", SecurityID, SecurityIDSource "102", Price N13(4),
// OrderQty N15(2), Side, TransactTime, OrdType: '2' (limit), or 'U'
// (own-best) for an own-best add, whose Price is 0.
func (w szseWire) orderBody(channel uint16, seq uint64, ev Event) []byte {
	be := binary.BigEndian
	b := make([]byte, 0, szseLenOrder)
	b = be.AppendUint16(b, channel)
	b = be.AppendUint64(b, seq)
	b = append(b, "011"...)
	b = appendChar(b, ev.Symbol, 8, w.pad)
	b = appendChar(b, "102", 4, w.pad)
	b = be.AppendUint64(b, uint64(ev.Price))
	b = be.AppendUint64(b, uint64(ev.Qty*100))
	b = append(b, szseSide(ev.Side))
	b = be.AppendUint64(b, uint64(szseTime(w.date, ev.Time)))
	if ev.OwnBest {
		return append(b, 'U')
	}
	return append(b, '2')
}

// tradeBody returns the body of a trade (300191): ChannelNo, ApplSeqNum,
// MDStreamID "011", BidApplSeqNum, OfferApplSeqNum, SecurityID,
// SecurityIDSource "102", LastPx N13(4), LastQty N15(2), ExecType,
// TransactTime. A cancel (ExecType '4') has LastPx 0 and names only the
// cancelled order.
func (w szseWire) tradeBody(channel uint16, seq, bid, offer uint64, execType byte, ev Event) []byte {
	be := binary.BigEndian
	b := make([]byte, 0, szseLenTrade)
	b = be.AppendUint16(b, channel)
	b = be.AppendUint64(b, seq)
	b = append(b, "011"...)
	b = be.AppendUint64(b, bid)
	b = be.AppendUint64(b, offer)
	b = appendChar(b, ev.Symbol, 8, w.pad)
	b = appendChar(b, "102", 4, w.pad)
	px := ev.Price
	if execType == '4' {
		px = 0
	}
	b = be.AppendUint64(b, uint64(px))
	b = be.AppendUint64(b, uint64(ev.Qty*100))
	b = append(b, execType)
	return be.AppendUint64(b, uint64(szseTime(w.date, ev.Time)))
}

// snapshotInput is what a 300111 snapshot reports of one symbol.
type snapshotInput struct {
	symbol    string
	channel   uint16
	time      int64 // ns since midnight
	prevClose refdata.Price
	stats     Stats
	bids      []Level
	asks      []Level
	bidQueue  []int64 // order quantities at the best bid, oldest first
	askQueue  []int64
}

// maxQueue is the most order quantities a snapshot discloses at the best
// price of a side.
const maxQueue = 50

// snapshotBody returns the body of a 300111 snapshot: OrigTime, ChannelNo,
// MDStreamID "010", SecurityID, SecurityIDSource "102", TradingPhaseCode
// "T0" (continuous trading, normal), PrevClosePx N13(4), NumTrades,
// TotalVolumeTrade N15(2), TotalValueTrade N18(4), then NoMDEntries and the
// entries: MDEntryType, MDEntryPx N18(6), MDEntrySize N15(2),
// MDPriceLevel, NumberOfOrders, NoOrders and NoOrders × OrderQty N15(2).
// Entries: "0" bids and "1" asks by level (1 = best; the best level lists
// its order queue, up to 50), then, once the symbol has traded, "2" last,
// "4" open, "7" high and "8" low with size 0 and level 0.
func (w szseWire) snapshotBody(in snapshotInput) []byte {
	be := binary.BigEndian
	b := make([]byte, 0, 256)
	b = be.AppendUint64(b, uint64(szseTime(w.date, in.time)))
	b = be.AppendUint16(b, in.channel)
	b = append(b, "010"...)
	b = appendChar(b, in.symbol, 8, w.pad)
	b = appendChar(b, "102", 4, w.pad)
	b = appendChar(b, "T0", 8, w.pad)
	b = be.AppendUint64(b, uint64(in.prevClose))
	b = be.AppendUint64(b, uint64(in.stats.Trades))
	b = be.AppendUint64(b, uint64(in.stats.Volume*100))
	b = be.AppendUint64(b, uint64(in.stats.Value))
	n := len(in.bids) + len(in.asks)
	if in.stats.Trades > 0 {
		n += 4
	}
	b = be.AppendUint32(b, uint32(n))
	entry := func(typ string, px refdata.Price, size int64, level uint16, orders int64, queue []int64) {
		b = appendChar(b, typ, 2, w.pad)
		b = be.AppendUint64(b, uint64(px)*100)
		b = be.AppendUint64(b, uint64(size*100))
		b = be.AppendUint16(b, level)
		b = be.AppendUint64(b, uint64(orders))
		if len(queue) > maxQueue {
			queue = queue[:maxQueue]
		}
		b = be.AppendUint32(b, uint32(len(queue)))
		for _, q := range queue {
			b = be.AppendUint64(b, uint64(q*100))
		}
	}
	for i, l := range in.bids {
		var q []int64
		if i == 0 {
			q = in.bidQueue
		}
		entry("0", l.Price, l.Qty, uint16(i+1), int64(l.Orders), q)
	}
	for i, l := range in.asks {
		var q []int64
		if i == 0 {
			q = in.askQueue
		}
		entry("1", l.Price, l.Qty, uint16(i+1), int64(l.Orders), q)
	}
	if in.stats.Trades > 0 {
		entry("2", in.stats.Last, 0, 0, 0, nil)
		entry("4", in.stats.Open, 0, 0, 0, nil)
		entry("7", in.stats.High, 0, 0, 0, nil)
		entry("8", in.stats.Low, 0, 0, 0, nil)
	}
	return b
}

// logonBody returns a Logon body: SenderCompID (20), TargetCompID (20),
// HeartBtInt (i32, seconds), Password (16), DefaultApplVerID (32).
func logonBody(sender, target string, heartBtInt int32, password, version string, pad byte) []byte {
	b := make([]byte, 0, szseLenLogon)
	b = appendChar(b, sender, 20, pad)
	b = appendChar(b, target, 20, pad)
	b = binary.BigEndian.AppendUint32(b, uint32(heartBtInt))
	b = appendChar(b, password, 16, pad)
	return appendChar(b, version, 32, pad)
}

// szseLogonMsg is a parsed Logon body.
type szseLogonMsg struct {
	sender, target, password, version string
	heartBtInt                        int32
}

func parseLogon(body []byte) (szseLogonMsg, error) {
	if len(body) != szseLenLogon {
		return szseLogonMsg{}, fmt.Errorf("%w: logon body of %d bytes, want %d", ErrProtocol, len(body), szseLenLogon)
	}
	return szseLogonMsg{
		sender:     trimChar(body[0:20]),
		target:     trimChar(body[20:40]),
		heartBtInt: int32(binary.BigEndian.Uint32(body[40:44])),
		password:   trimChar(body[44:60]),
		version:    trimChar(body[60:92]),
	}, nil
}

// logoutBody returns a Logout body: SessionStatus (i32), Text (200).
func logoutBody(status int32, text string, pad byte) []byte {
	b := binary.BigEndian.AppendUint32(make([]byte, 0, szseLenLogout), uint32(status))
	return appendChar(b, text, 200, pad)
}

// channelHeartbeatBody returns a ChannelHeartbeat body: ChannelNo (u16),
// ApplLastSeqNum (i64), EndOfChannel (u16 Boolean).
func channelHeartbeatBody(channel uint16, last uint64, end bool) []byte {
	be := binary.BigEndian
	b := be.AppendUint16(make([]byte, 0, szseLenChannelHB), channel)
	b = be.AppendUint64(b, last)
	var e uint16
	if end {
		e = 1
	}
	return be.AppendUint16(b, e)
}

// reTransmit is a ReTransmit (390094) body.
type reTransmit struct {
	resendType   uint8
	channel      uint16
	beg, end     uint64
	newsID       string
	resendStatus uint8
	rejectText   string
}

func (r reTransmit) body(pad byte) []byte {
	be := binary.BigEndian
	b := append(make([]byte, 0, szseLenReTransmit), r.resendType)
	b = be.AppendUint16(b, r.channel)
	b = be.AppendUint64(b, r.beg)
	b = be.AppendUint64(b, r.end)
	b = appendChar(b, r.newsID, 8, pad)
	b = append(b, r.resendStatus)
	return appendChar(b, r.rejectText, 16, pad)
}

func parseReTransmit(body []byte) (reTransmit, error) {
	if len(body) != szseLenReTransmit {
		return reTransmit{}, fmt.Errorf("%w: retransmit body of %d bytes, want %d", ErrProtocol, len(body), szseLenReTransmit)
	}
	be := binary.BigEndian
	return reTransmit{
		resendType:   body[0],
		channel:      be.Uint16(body[1:3]),
		beg:          be.Uint64(body[3:11]),
		end:          be.Uint64(body[11:19]),
		newsID:       trimChar(body[19:27]),
		resendStatus: body[27],
		rejectText:   trimChar(body[28:44]),
	}, nil
}

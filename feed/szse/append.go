package szse

import (
	"encoding/binary"
	"slices"
	"strconv"
)

// The Append functions append one whole frame (header, body, checksum) to
// b and return the extended buffer. Char fields are written as they are:
// fill them with PutString. None allocates when b has room for the frame.

// Append appends m as a frame of type m.Type, encoding the field of m that
// m.Type names; the other fields are ignored. It returns b unchanged and
// an error wrapping ErrUnknownType for a type this package does not
// handle, or AppendSnapshot's error.
func Append(b []byte, m *Message) ([]byte, error) {
	switch m.Type {
	case TypeOrder:
		return AppendOrder(b, &m.Order), nil
	case TypeTrade:
		return AppendTrade(b, &m.Trade), nil
	case TypeSnapshot:
		return AppendSnapshot(b, &m.Snapshot)
	case TypeChannelHeartbeat:
		return AppendChannelHeartbeat(b, &m.ChannelHeartbeat), nil
	case TypeHeartbeat:
		return AppendHeartbeat(b), nil
	case TypeLogon:
		return AppendLogon(b, &m.Logon), nil
	case TypeLogout:
		return AppendLogout(b, &m.Logout), nil
	case TypeReTransmit:
		return AppendReTransmit(b, &m.ReTransmit), nil
	}
	return b, &unknownTypeError{t: m.Type}
}

// unknownTypeError is Append's error for a type it cannot encode.
type unknownTypeError struct{ t MsgType }

func (e *unknownTypeError) Error() string {
	return ErrUnknownType.Error() + " " + strconv.FormatUint(uint64(e.t), 10)
}

func (e *unknownTypeError) Unwrap() error { return ErrUnknownType }

// AppendOrder appends o as an Order frame (300192).
func AppendOrder(b []byte, o *Order) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+lenOrder+TrailerLen)
	b = appendHeader(b, TypeOrder, lenOrder)
	b = binary.BigEndian.AppendUint16(b, o.ChannelNo)
	b = binary.BigEndian.AppendUint64(b, uint64(o.ApplSeqNum))
	b = append(b, o.MDStreamID[:]...)
	b = append(b, o.SecurityID[:]...)
	b = append(b, o.SecurityIDSource[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(o.Price))
	b = binary.BigEndian.AppendUint64(b, uint64(o.OrderQty))
	b = append(b, o.Side)
	b = binary.BigEndian.AppendUint64(b, uint64(o.TransactTime))
	b = append(b, o.OrdType)
	return appendChecksum(b, start)
}

// AppendTrade appends t as a Trade frame (300191).
func AppendTrade(b []byte, t *Trade) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+lenTrade+TrailerLen)
	b = appendHeader(b, TypeTrade, lenTrade)
	b = binary.BigEndian.AppendUint16(b, t.ChannelNo)
	b = binary.BigEndian.AppendUint64(b, uint64(t.ApplSeqNum))
	b = append(b, t.MDStreamID[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.BidApplSeqNum))
	b = binary.BigEndian.AppendUint64(b, uint64(t.OfferApplSeqNum))
	b = append(b, t.SecurityID[:]...)
	b = append(b, t.SecurityIDSource[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(t.LastPx))
	b = binary.BigEndian.AppendUint64(b, uint64(t.LastQty))
	b = append(b, t.ExecType)
	b = binary.BigEndian.AppendUint64(b, uint64(t.TransactTime))
	return appendChecksum(b, start)
}

// AppendChannelHeartbeat appends h as a ChannelHeartbeat frame (390095).
func AppendChannelHeartbeat(b []byte, h *ChannelHeartbeat) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+lenChannelHeartbeat+TrailerLen)
	b = appendHeader(b, TypeChannelHeartbeat, lenChannelHeartbeat)
	b = binary.BigEndian.AppendUint16(b, h.ChannelNo)
	b = binary.BigEndian.AppendUint64(b, uint64(h.ApplLastSeqNum))
	b = binary.BigEndian.AppendUint16(b, h.EndOfChannel)
	return appendChecksum(b, start)
}

// AppendHeartbeat appends a Heartbeat frame (3), which has no body.
func AppendHeartbeat(b []byte) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+TrailerLen)
	b = appendHeader(b, TypeHeartbeat, lenHeartbeat)
	return appendChecksum(b, start)
}

// AppendLogon appends l as a Logon frame (1).
func AppendLogon(b []byte, l *Logon) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+lenLogon+TrailerLen)
	b = appendHeader(b, TypeLogon, lenLogon)
	b = append(b, l.SenderCompID[:]...)
	b = append(b, l.TargetCompID[:]...)
	b = binary.BigEndian.AppendUint32(b, uint32(l.HeartBtInt))
	b = append(b, l.Password[:]...)
	b = append(b, l.DefaultApplVerID[:]...)
	return appendChecksum(b, start)
}

// AppendLogout appends l as a Logout frame (2).
func AppendLogout(b []byte, l *Logout) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+lenLogout+TrailerLen)
	b = appendHeader(b, TypeLogout, lenLogout)
	b = binary.BigEndian.AppendUint32(b, uint32(l.SessionStatus))
	b = append(b, l.Text[:]...)
	return appendChecksum(b, start)
}

// AppendReTransmit appends r as a ReTransmit frame (390094).
func AppendReTransmit(b []byte, r *ReTransmit) []byte {
	start := len(b)
	b = slices.Grow(b, HeaderLen+lenReTransmit+TrailerLen)
	b = appendHeader(b, TypeReTransmit, lenReTransmit)
	b = append(b, r.ResendType)
	b = binary.BigEndian.AppendUint16(b, r.ChannelNo)
	b = binary.BigEndian.AppendUint64(b, uint64(r.ApplBegSeqNum))
	b = binary.BigEndian.AppendUint64(b, uint64(r.ApplEndSeqNum))
	b = append(b, r.NewsID[:]...)
	b = append(b, r.ResendStatus)
	b = append(b, r.RejectText[:]...)
	return appendChecksum(b, start)
}

// appendHeader appends a frame header.
func appendHeader(b []byte, t MsgType, bodyLen int) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(t))
	return binary.BigEndian.AppendUint32(b, uint32(bodyLen))
}

// appendChecksum appends the checksum of the frame that starts at
// b[start:].
func appendChecksum(b []byte, start int) []byte {
	return binary.BigEndian.AppendUint32(b, Checksum(b[start:]))
}

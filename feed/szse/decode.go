package szse

import "encoding/binary"

// Decode decodes the frame at the front of b into m and returns n, the
// number of bytes the frame occupies. b may hold more than one frame (or
// the start of the next): the caller decodes b[n:] next.
//
// On success m.Type is the frame's type and the field of m named for the
// type holds its body; see Message. Decode checks, in this order:
//
//   - ErrTruncated, n == 0: b does not yet hold a whole frame (not even a
//     header, or not the BodyLength it announces). Read more and call
//     again. A header whose BodyLength is wrong for its type is reported
//     as soon as the header is in, without waiting for the body.
//   - *LengthError (ErrBodyLength), n == 0: a BodyLength over
//     MaxBodyLength, or one that differs from the fixed length of a type
//     this package handles (Snapshot: shorter than its fixed part).
//   - *ChecksumError (ErrChecksum), n == 0: the frame's bytes do not sum
//     to its Checksum.
//   - ErrUnknownType, n > 0: a whole, intact frame of a type this package
//     does not handle. m.Type is set to the type; nothing else changes.
//   - *LengthError (ErrBodyLength), n > 0: an intact Snapshot whose
//     repeating groups overrun its body or leave bytes over.
//
// An error with n > 0 concerns one intact frame, which the caller may
// count and skip. An error with n == 0, other than ErrTruncated, means the
// stream cannot be framed any further: the lengths or bytes cannot be
// trusted and the caller should close the connection. On any error other
// than ErrUnknownType, m is left unchanged.
//
// Decode checks the layout, not the values: enumerations (Side, OrdType,
// ExecType, ...) and char fields are returned as received, so every frame
// Decode accepts re-encodes with Append to the same bytes. Judging values
// is the job of the code that normalises messages into book events.
//
// Decode keeps no reference to b. It does not allocate on success, on
// ErrTruncated or on ErrUnknownType, except to grow the storage of a
// Snapshot's repeating groups past the largest it has decoded into m.
func Decode(b []byte, m *Message) (n int, err error) {
	if len(b) < HeaderLen {
		return 0, ErrTruncated
	}
	t := MsgType(binary.BigEndian.Uint32(b))
	bodyLen := binary.BigEndian.Uint32(b[4:])
	if bodyLen > MaxBodyLength {
		return 0, &LengthError{Type: t, BodyLength: int(bodyLen), Rule: "limit", Want: MaxBodyLength}
	}
	if want := fixedBodyLen(t); want >= 0 && int(bodyLen) != want {
		return 0, &LengthError{Type: t, BodyLength: int(bodyLen), Rule: "want", Want: want}
	}
	if t == TypeSnapshot && bodyLen < lenSnapshotFixed {
		return 0, &LengthError{Type: t, BodyLength: int(bodyLen), Rule: "want at least", Want: lenSnapshotFixed}
	}
	end := HeaderLen + int(bodyLen)
	n = end + TrailerLen
	if len(b) < n {
		return 0, ErrTruncated
	}
	if got, want := binary.BigEndian.Uint32(b[end:]), Checksum(b[:end]); got != want {
		return 0, &ChecksumError{Type: t, Got: got, Want: want}
	}
	body := b[HeaderLen:end]
	switch t {
	case TypeOrder:
		decodeOrder(body, &m.Order)
	case TypeTrade:
		decodeTrade(body, &m.Trade)
	case TypeSnapshot:
		if err := m.decodeSnapshot(body); err != nil {
			return n, err
		}
	case TypeChannelHeartbeat:
		_ = body[lenChannelHeartbeat-1]
		m.ChannelHeartbeat = ChannelHeartbeat{
			ChannelNo:      binary.BigEndian.Uint16(body[0:]),
			ApplLastSeqNum: int64(binary.BigEndian.Uint64(body[2:])),
			EndOfChannel:   binary.BigEndian.Uint16(body[10:]),
		}
	case TypeHeartbeat:
	case TypeLogon:
		_ = body[lenLogon-1]
		m.Logon = Logon{
			SenderCompID:     [20]byte(body[0:20]),
			TargetCompID:     [20]byte(body[20:40]),
			HeartBtInt:       int32(binary.BigEndian.Uint32(body[40:])),
			Password:         [16]byte(body[44:60]),
			DefaultApplVerID: [32]byte(body[60:92]),
		}
	case TypeLogout:
		_ = body[lenLogout-1]
		m.Logout.SessionStatus = int32(binary.BigEndian.Uint32(body[0:]))
		m.Logout.Text = [200]byte(body[4:204])
	case TypeReTransmit:
		_ = body[lenReTransmit-1]
		m.ReTransmit = ReTransmit{
			ResendType:    body[0],
			ChannelNo:     binary.BigEndian.Uint16(body[1:]),
			ApplBegSeqNum: int64(binary.BigEndian.Uint64(body[3:])),
			ApplEndSeqNum: int64(binary.BigEndian.Uint64(body[11:])),
			NewsID:        [8]byte(body[19:27]),
			ResendStatus:  body[27],
			RejectText:    [16]byte(body[28:44]),
		}
	default:
		m.Type = t
		return n, ErrUnknownType
	}
	m.Type = t
	return n, nil
}

// decodeOrder decodes the body of an Order, which has lenOrder bytes.
func decodeOrder(b []byte, o *Order) {
	_ = b[lenOrder-1]
	*o = Order{
		ChannelNo:        binary.BigEndian.Uint16(b[0:]),
		ApplSeqNum:       int64(binary.BigEndian.Uint64(b[2:])),
		MDStreamID:       [3]byte(b[10:13]),
		SecurityID:       [8]byte(b[13:21]),
		SecurityIDSource: [4]byte(b[21:25]),
		Price:            Price4(binary.BigEndian.Uint64(b[25:])),
		OrderQty:         Qty2(binary.BigEndian.Uint64(b[33:])),
		Side:             b[41],
		TransactTime:     Timestamp(binary.BigEndian.Uint64(b[42:])),
		OrdType:          b[50],
	}
}

// decodeTrade decodes the body of a Trade, which has lenTrade bytes.
func decodeTrade(b []byte, t *Trade) {
	_ = b[lenTrade-1]
	*t = Trade{
		ChannelNo:        binary.BigEndian.Uint16(b[0:]),
		ApplSeqNum:       int64(binary.BigEndian.Uint64(b[2:])),
		MDStreamID:       [3]byte(b[10:13]),
		BidApplSeqNum:    int64(binary.BigEndian.Uint64(b[13:])),
		OfferApplSeqNum:  int64(binary.BigEndian.Uint64(b[21:])),
		SecurityID:       [8]byte(b[29:37]),
		SecurityIDSource: [4]byte(b[37:41]),
		LastPx:           Price4(binary.BigEndian.Uint64(b[41:])),
		LastQty:          Qty2(binary.BigEndian.Uint64(b[49:])),
		ExecType:         b[57],
		TransactTime:     Timestamp(binary.BigEndian.Uint64(b[58:])),
	}
}

// Checksum returns the checksum of b as the spec defines it: the sum of
// its bytes modulo 256. A frame's Checksum field holds the checksum of the
// header and body, everything before the field.
//
// (The spec's reference C routine sums through a char pointer, which is
// signed on most platforms; a byte b >= 0x80 then adds b - 256 modulo
// 2^32, which leaves the sum modulo 256 unchanged, so the unsigned sum
// here agrees with it.)
func Checksum(b []byte) uint32 {
	var sum uint64
	for len(b) >= 8 {
		// Fold eight bytes into one sum: pairs, then quads, then halves.
		w := binary.LittleEndian.Uint64(b)
		w = w&0x00ff00ff00ff00ff + w>>8&0x00ff00ff00ff00ff
		w = w&0x0000ffff0000ffff + w>>16&0x0000ffff0000ffff
		sum += w&0xffffffff + w>>32
		b = b[8:]
	}
	for _, c := range b {
		sum += uint64(c)
	}
	return uint32(sum % 256)
}

package itch

import "encoding/binary"

// Field offsets shared by every message: the header.
const (
	offLocate    = 1
	offTracking  = 3
	offTimestamp = 5
	headerLen    = 11
)

// Decode decodes b, which must hold exactly one message, into m. On
// success every field of m that the message's type lacks is zero. On error
// m is left unchanged.
//
// The errors are ErrEmpty, an *UnknownTypeError for a type this package
// does not handle, a *LengthError when len(b) differs from Length of the
// type, and a *FieldError when a Side is not B or S or a Stock is not a
// left-justified, space-padded printable symbol (the checks Append makes,
// so every message Decode accepts re-encodes to the same bytes).
//
// Decode does not allocate on success and keeps no reference to b.
func Decode(b []byte, m *Message) error {
	if len(b) == 0 {
		return ErrEmpty
	}
	t := b[0]
	want := Length(t)
	if want == 0 {
		return &UnknownTypeError{Type: t}
	}
	if len(b) != want {
		return &LengthError{Type: t, Len: len(b), Want: want}
	}
	locate := binary.BigEndian.Uint16(b[offLocate:])
	tracking := binary.BigEndian.Uint16(b[offTracking:])
	ts := uint48(b[offTimestamp:])
	switch t {
	case TypeSystemEvent:
		_ = b[11]
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			EventCode: b[11]}
	case TypeStockDirectory:
		_ = b[38]
		stock := [8]byte(b[11:19])
		if err := checkSideStock(t, 0, false, &stock); err != nil {
			return err
		}
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			Stock:               stock,
			MarketCategory:      b[19],
			FinancialStatus:     b[20],
			RoundLotSize:        binary.BigEndian.Uint32(b[21:25]),
			RoundLotsOnly:       b[25],
			IssueClassification: b[26],
			IssueSubType:        [2]byte(b[27:29]),
			Authenticity:        b[29],
			ShortSaleThreshold:  b[30],
			IPOFlag:             b[31],
			LULDRefPriceTier:    b[32],
			ETPFlag:             b[33],
			ETPLeverageFactor:   binary.BigEndian.Uint32(b[34:38]),
			InverseIndicator:    b[38],
		}
	case TypeTradingAction:
		_ = b[24]
		stock := [8]byte(b[11:19])
		if err := checkSideStock(t, 0, false, &stock); err != nil {
			return err
		}
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			Stock: stock, TradingState: b[19], Reserved: b[20], Reason: [4]byte(b[21:25])}
	case TypeAddOrder, TypeAddOrderMPID:
		_ = b[35]
		stock := [8]byte(b[24:32])
		if err := checkSideStock(t, b[19], true, &stock); err != nil {
			return err
		}
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef: binary.BigEndian.Uint64(b[11:19]),
			Side:     b[19],
			Shares:   uint64(binary.BigEndian.Uint32(b[20:24])),
			Stock:    stock,
			Price:    binary.BigEndian.Uint32(b[32:36]),
		}
		if t == TypeAddOrderMPID {
			m.MPID = [4]byte(b[36:40])
		}
	case TypeOrderExecuted:
		_ = b[30]
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef:    binary.BigEndian.Uint64(b[11:19]),
			Shares:      uint64(binary.BigEndian.Uint32(b[19:23])),
			MatchNumber: binary.BigEndian.Uint64(b[23:31]),
		}
	case TypeOrderExecutedPrice:
		_ = b[35]
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef:    binary.BigEndian.Uint64(b[11:19]),
			Shares:      uint64(binary.BigEndian.Uint32(b[19:23])),
			MatchNumber: binary.BigEndian.Uint64(b[23:31]),
			Printable:   b[31],
			Price:       binary.BigEndian.Uint32(b[32:36]),
		}
	case TypeOrderCancel:
		_ = b[22]
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef: binary.BigEndian.Uint64(b[11:19]),
			Shares:   uint64(binary.BigEndian.Uint32(b[19:23])),
		}
	case TypeOrderDelete:
		_ = b[18]
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef: binary.BigEndian.Uint64(b[11:19]),
		}
	case TypeOrderReplace:
		_ = b[34]
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef:    binary.BigEndian.Uint64(b[11:19]),
			NewOrderRef: binary.BigEndian.Uint64(b[19:27]),
			Shares:      uint64(binary.BigEndian.Uint32(b[27:31])),
			Price:       binary.BigEndian.Uint32(b[31:35]),
		}
	case TypeTrade:
		_ = b[43]
		stock := [8]byte(b[24:32])
		if err := checkSideStock(t, b[19], true, &stock); err != nil {
			return err
		}
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			OrderRef:    binary.BigEndian.Uint64(b[11:19]),
			Side:        b[19],
			Shares:      uint64(binary.BigEndian.Uint32(b[20:24])),
			Stock:       stock,
			Price:       binary.BigEndian.Uint32(b[32:36]),
			MatchNumber: binary.BigEndian.Uint64(b[36:44]),
		}
	case TypeCrossTrade:
		_ = b[39]
		stock := [8]byte(b[19:27])
		if err := checkSideStock(t, 0, false, &stock); err != nil {
			return err
		}
		*m = Message{Type: t, StockLocate: locate, TrackingNumber: tracking, Timestamp: ts,
			Shares:      binary.BigEndian.Uint64(b[11:19]),
			Stock:       stock,
			Price:       binary.BigEndian.Uint32(b[27:31]),
			MatchNumber: binary.BigEndian.Uint64(b[31:39]),
			CrossType:   b[39],
		}
	}
	return nil
}

// uint48 reads a 6-byte big-endian integer.
// Timestamp returns the Timestamp (ns since midnight) of ITCH 5.0 message
// b, which every message type carries at the same place, without decoding
// the rest; false when b is too short to hold it.
func Timestamp(b []byte) (uint64, bool) {
	if len(b) < offTimestamp+6 {
		return 0, false
	}
	return uint48(b[offTimestamp:]), true
}

func uint48(b []byte) uint64 {
	_ = b[5]
	return uint64(b[0])<<40 | uint64(b[1])<<32 | uint64(b[2])<<24 |
		uint64(b[3])<<16 | uint64(b[4])<<8 | uint64(b[5])
}

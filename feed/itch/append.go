package itch

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
)

// Append appends the wire encoding of m, a message of type m.Type, to b.
// Fields the type lacks are ignored.
//
// It returns b unchanged and an error for a type this package does not
// handle (*UnknownTypeError) or a field the wire cannot carry
// (*FieldError): a Side other than B or S, a malformed Stock (see StockOf),
// a Timestamp of 2^48 or more, or Shares over 2^32-1 where the wire field
// is 4 bytes. Append does not allocate when b has room for the message.
func Append(b []byte, m *Message) ([]byte, error) {
	t := m.Type
	n := Length(t)
	if n == 0 {
		return b, &UnknownTypeError{Type: t}
	}
	if err := check(m); err != nil {
		return b, err
	}
	b = slices.Grow(b, n)
	b = append(b, t)
	b = binary.BigEndian.AppendUint16(b, m.StockLocate)
	b = binary.BigEndian.AppendUint16(b, m.TrackingNumber)
	ts := m.Timestamp
	b = append(b, byte(ts>>40), byte(ts>>32), byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts))
	switch t {
	case TypeSystemEvent:
		b = append(b, m.EventCode)
	case TypeStockDirectory:
		b = append(b, m.Stock[:]...)
		b = append(b, m.MarketCategory, m.FinancialStatus)
		b = binary.BigEndian.AppendUint32(b, m.RoundLotSize)
		b = append(b, m.RoundLotsOnly, m.IssueClassification, m.IssueSubType[0], m.IssueSubType[1],
			m.Authenticity, m.ShortSaleThreshold, m.IPOFlag, m.LULDRefPriceTier, m.ETPFlag)
		b = binary.BigEndian.AppendUint32(b, m.ETPLeverageFactor)
		b = append(b, m.InverseIndicator)
	case TypeTradingAction:
		b = append(b, m.Stock[:]...)
		b = append(b, m.TradingState, m.Reserved)
		b = append(b, m.Reason[:]...)
	case TypeAddOrder, TypeAddOrderMPID:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
		b = append(b, m.Side)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Shares))
		b = append(b, m.Stock[:]...)
		b = binary.BigEndian.AppendUint32(b, m.Price)
		if t == TypeAddOrderMPID {
			b = append(b, m.MPID[:]...)
		}
	case TypeOrderExecuted:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Shares))
		b = binary.BigEndian.AppendUint64(b, m.MatchNumber)
	case TypeOrderExecutedPrice:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Shares))
		b = binary.BigEndian.AppendUint64(b, m.MatchNumber)
		b = append(b, m.Printable)
		b = binary.BigEndian.AppendUint32(b, m.Price)
	case TypeOrderCancel:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Shares))
	case TypeOrderDelete:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
	case TypeOrderReplace:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
		b = binary.BigEndian.AppendUint64(b, m.NewOrderRef)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Shares))
		b = binary.BigEndian.AppendUint32(b, m.Price)
	case TypeTrade:
		b = binary.BigEndian.AppendUint64(b, m.OrderRef)
		b = append(b, m.Side)
		b = binary.BigEndian.AppendUint32(b, uint32(m.Shares))
		b = append(b, m.Stock[:]...)
		b = binary.BigEndian.AppendUint32(b, m.Price)
		b = binary.BigEndian.AppendUint64(b, m.MatchNumber)
	case TypeCrossTrade:
		b = binary.BigEndian.AppendUint64(b, m.Shares)
		b = append(b, m.Stock[:]...)
		b = binary.BigEndian.AppendUint32(b, m.Price)
		b = binary.BigEndian.AppendUint64(b, m.MatchNumber)
		b = append(b, m.CrossType)
	}
	return b, nil
}

// check validates the fields of m that Append writes and the wire could
// not carry faithfully.
func check(m *Message) error {
	t := m.Type
	if m.Timestamp > maxTimestamp {
		return &FieldError{Type: t, Field: "timestamp", Value: strconv.FormatUint(m.Timestamp, 10),
			Reason: "does not fit in 6 bytes"}
	}
	switch t {
	case TypeAddOrder, TypeAddOrderMPID, TypeOrderExecuted, TypeOrderExecutedPrice,
		TypeOrderCancel, TypeOrderReplace, TypeTrade:
		if m.Shares > math.MaxUint32 {
			return &FieldError{Type: t, Field: "shares", Value: strconv.FormatUint(m.Shares, 10),
				Reason: "does not fit in 4 bytes"}
		}
	}
	switch t {
	case TypeAddOrder, TypeAddOrderMPID, TypeTrade:
		return checkSideStock(t, m.Side, true, &m.Stock)
	case TypeStockDirectory, TypeTradingAction, TypeCrossTrade:
		return checkSideStock(t, 0, false, &m.Stock)
	}
	return nil
}

package szse

import (
	"encoding/binary"
	"slices"
)

// Offsets in a Snapshot body and in one of its entries.
const (
	offSnapNoMDEntries = lenSnapshotFixed - 4
	offEntryNoOrders   = lenEntryFixed - 4
)

// decodeSnapshot decodes the body of a Snapshot, at least lenSnapshotFixed
// bytes long, into m.Snapshot. It walks the repeating groups once to check
// that they fill the body exactly, then fills m, so m is unchanged on
// error. Entries and their Orders reuse the storage of earlier decodes,
// kept in m (never a slice the caller put in m.Snapshot.Entries).
func (m *Message) decodeSnapshot(b []byte) error {
	count := binary.BigEndian.Uint32(b[offSnapNoMDEntries:])
	off := lenSnapshotFixed
	total := 0 // order quantities in all entries
	for range count {
		if len(b)-off < lenEntryFixed {
			return &LengthError{Type: TypeSnapshot, BodyLength: len(b), Rule: "groups need", Want: off + lenEntryFixed}
		}
		k := binary.BigEndian.Uint32(b[off+offEntryNoOrders:])
		off += lenEntryFixed
		if uint64(k) > uint64(len(b)-off)/lenOrderQty {
			need := uint64(off) + uint64(k)*lenOrderQty
			return &LengthError{Type: TypeSnapshot, BodyLength: len(b), Rule: "groups need", Want: clampInt(need)}
		}
		off += int(k) * lenOrderQty
		total += int(k)
	}
	if off != len(b) {
		return &LengthError{Type: TypeSnapshot, BodyLength: len(b), Rule: "groups end at", Want: off}
	}

	// The walk bounded count by len(b)/lenEntryFixed and total by
	// len(b)/lenOrderQty, so these sizes are small.
	entries := slices.Grow(m.entries[:0], int(count))[:count]
	orders := slices.Grow(m.orders[:0], total)[:total]
	off = lenSnapshotFixed
	next := 0 // next free slot of orders
	for i := range entries {
		e := b[off : off+lenEntryFixed]
		k := int(binary.BigEndian.Uint32(e[offEntryNoOrders:]))
		entries[i] = MDEntry{
			MDEntryType:    [2]byte(e[0:2]),
			MDEntryPx:      Price6(binary.BigEndian.Uint64(e[2:])),
			MDEntrySize:    Qty2(binary.BigEndian.Uint64(e[10:])),
			MDPriceLevel:   binary.BigEndian.Uint16(e[18:]),
			NumberOfOrders: int64(binary.BigEndian.Uint64(e[20:])),
		}
		off += lenEntryFixed
		if k > 0 {
			qs := orders[next : next+k : next+k]
			for j := range qs {
				qs[j] = Qty2(binary.BigEndian.Uint64(b[off:]))
				off += lenOrderQty
			}
			entries[i].Orders = qs
			next += k
		}
	}
	m.entries, m.orders = entries, orders
	m.Snapshot = Snapshot{
		OrigTime:         Timestamp(binary.BigEndian.Uint64(b[0:])),
		ChannelNo:        binary.BigEndian.Uint16(b[8:]),
		MDStreamID:       [3]byte(b[10:13]),
		SecurityID:       [8]byte(b[13:21]),
		SecurityIDSource: [4]byte(b[21:25]),
		TradingPhaseCode: [8]byte(b[25:33]),
		PrevClosePx:      Price4(binary.BigEndian.Uint64(b[33:])),
		NumTrades:        int64(binary.BigEndian.Uint64(b[41:])),
		TotalVolumeTrade: Qty2(binary.BigEndian.Uint64(b[49:])),
		TotalValueTrade:  Amount4(binary.BigEndian.Uint64(b[57:])),
		Entries:          entries[:len(entries):len(entries)],
	}
	return nil
}

// clampInt returns v as an int, or the largest int if it does not fit.
func clampInt(v uint64) int {
	if v > uint64(int(^uint(0)>>1)) {
		return int(^uint(0) >> 1)
	}
	return int(v)
}

// snapshotBodyLen returns the body length of s on the wire.
func snapshotBodyLen(s *Snapshot) int {
	n := lenSnapshotFixed + len(s.Entries)*lenEntryFixed
	for i := range s.Entries {
		n += len(s.Entries[i].Orders) * lenOrderQty
	}
	return n
}

// AppendSnapshot appends s as a Snapshot frame to b. NoMDEntries and each
// entry's NoOrders are the lengths of s.Entries and of the entry's Orders.
//
// It returns b unchanged and a *LengthError if the body would be longer
// than MaxBodyLength, which Decode refuses. It does not allocate when b
// has room for the frame.
func AppendSnapshot(b []byte, s *Snapshot) ([]byte, error) {
	bodyLen := snapshotBodyLen(s)
	if bodyLen > MaxBodyLength {
		return b, &LengthError{Type: TypeSnapshot, BodyLength: bodyLen, Rule: "limit", Want: MaxBodyLength}
	}
	start := len(b)
	b = slices.Grow(b, HeaderLen+bodyLen+TrailerLen)
	b = appendHeader(b, TypeSnapshot, bodyLen)
	b = binary.BigEndian.AppendUint64(b, uint64(s.OrigTime))
	b = binary.BigEndian.AppendUint16(b, s.ChannelNo)
	b = append(b, s.MDStreamID[:]...)
	b = append(b, s.SecurityID[:]...)
	b = append(b, s.SecurityIDSource[:]...)
	b = append(b, s.TradingPhaseCode[:]...)
	b = binary.BigEndian.AppendUint64(b, uint64(s.PrevClosePx))
	b = binary.BigEndian.AppendUint64(b, uint64(s.NumTrades))
	b = binary.BigEndian.AppendUint64(b, uint64(s.TotalVolumeTrade))
	b = binary.BigEndian.AppendUint64(b, uint64(s.TotalValueTrade))
	b = binary.BigEndian.AppendUint32(b, uint32(len(s.Entries)))
	for i := range s.Entries {
		e := &s.Entries[i]
		b = append(b, e.MDEntryType[:]...)
		b = binary.BigEndian.AppendUint64(b, uint64(e.MDEntryPx))
		b = binary.BigEndian.AppendUint64(b, uint64(e.MDEntrySize))
		b = binary.BigEndian.AppendUint16(b, e.MDPriceLevel)
		b = binary.BigEndian.AppendUint64(b, uint64(e.NumberOfOrders))
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Orders)))
		for _, q := range e.Orders {
			b = binary.BigEndian.AppendUint64(b, uint64(q))
		}
	}
	return appendChecksum(b, start), nil
}

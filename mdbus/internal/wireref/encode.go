package wireref

import (
	"bytes"
	"encoding/binary"
)

// Encode writes f as the specification lays it out, field by field, in
// version 1. It checks nothing: a Frame with values out of range gives
// the frame a decoder must refuse.
func Encode(f *Frame) []byte {
	var w bytes.Buffer
	w.WriteByte(Version)
	w.WriteByte(f.Type)
	putUvarint(&w, f.Epoch)
	w.WriteByte(byte(len(f.Symbol)))
	w.WriteString(f.Symbol)
	switch {
	case f.Type == TypeUpdate && f.Update != nil:
		encodeUpdate(&w, f.Update)
	case f.Type == TypeSnapshot && f.Snapshot != nil:
		encodeSnapshot(&w, f.Snapshot)
	case f.Type == TypeError:
		w.WriteString(f.Text)
	}
	return w.Bytes()
}

func encodeUpdate(w *bytes.Buffer, u *Update) {
	putUvarint(w, u.Seq)
	putUvarint(w, u.Time)
	putVarint(w, u.Recv)
	w.WriteByte(u.Kind)
	w.WriteByte(u.State)
	w.WriteByte(byte(len(u.Changes)))
	for _, c := range u.Changes {
		w.WriteByte(c.Side)
		w.WriteByte(uint8(c.Rank))
		putLevel(w, c.Level)
	}
	w.WriteByte(u.EnterSide)
	if u.EnterSide != 0 {
		for _, l := range u.Enter {
			putLevel(w, l)
		}
	}
	if u.Kind == KindTrade {
		putVarint(w, u.TradePrice)
		putVarint(w, u.TradeQty)
	}
	putVarint(w, u.Last)
	putVarint(w, u.Volume)
	putVarint(w, u.Turnover)
	putU32le(w, u.Checksum)
	putU32le(w, u.Checksum5)
}

func encodeSnapshot(w *bytes.Buffer, s *Snapshot) {
	putUvarint(w, s.Seq)
	putUvarint(w, s.Time)
	w.WriteByte(s.State)
	putVarint(w, s.Last)
	putVarint(w, s.LastQty)
	putVarint(w, s.Volume)
	putVarint(w, s.Turnover)
	putVarint(w, s.Open)
	putVarint(w, s.High)
	putVarint(w, s.Low)
	putU32le(w, s.Checksum)
	putU32le(w, s.Checksum5)
	w.WriteByte(byte(len(s.Bids)))
	for _, l := range s.Bids {
		putLevel(w, l)
	}
	w.WriteByte(byte(len(s.Asks)))
	for _, l := range s.Asks {
		putLevel(w, l)
	}
}

func putLevel(w *bytes.Buffer, l Level) {
	putVarint(w, l.Price)
	putVarint(w, l.Qty)
	putUvarint(w, l.Orders)
}

// putUvarint writes x in 7-bit groups, least significant first, with the
// top bit set on every byte but the last.
func putUvarint(w *bytes.Buffer, x uint64) {
	for {
		group := byte(x & 0x7f)
		x >>= 7
		if x == 0 {
			w.WriteByte(group)
			return
		}
		w.WriteByte(group | 0x80)
	}
}

// putVarint writes x zigzag-mapped: (x << 1) ^ (x >> 63), the shift
// arithmetic.
func putVarint(w *bytes.Buffer, x int64) {
	putUvarint(w, uint64(x<<1)^uint64(x>>63))
}

func putU32le(w *bytes.Buffer, x uint32) {
	// bytes.Buffer's Write never fails.
	_ = binary.Write(w, binary.LittleEndian, x)
}

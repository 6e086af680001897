package wireref

import (
	"bytes"
	"encoding/binary"
)

// Encode writes f as the specification lays it out, field by field, in
// version 1. It checks nothing: a Frame with values out of range gives
// the frame a decoder must refuse. A heartbeat's count is the number of
// its Beats (see EncodeHeartbeat for any other).
func Encode(f *Frame) []byte {
	var w bytes.Buffer
	putHeader(&w, f.Type, f.Epoch, f.Symbol)
	switch {
	case f.Type == TypeUpdate && f.Update != nil:
		encodeUpdate(&w, f.Update)
	case f.Type == TypeSnapshot && f.Snapshot != nil:
		encodeSnapshot(&w, f.Snapshot)
	case f.Type == TypeHeartbeat:
		encodeBeats(&w, uint64(len(f.Beats)), f.Beats)
	case f.Type == TypeError:
		w.WriteString(f.Text)
	}
	return w.Bytes()
}

// EncodeHeartbeat writes a heartbeat with the given header symbol and
// count, then the given entries, as the specification says the encoders
// do: whatever the count, the symbols and the number of entries.
func EncodeHeartbeat(epoch uint64, symbol string, count uint64, beats []Beat) []byte {
	var w bytes.Buffer
	putHeader(&w, TypeHeartbeat, epoch, symbol)
	encodeBeats(&w, count, beats)
	return w.Bytes()
}

// putHeader writes the version, type, epoch, symbol length and symbol.
func putHeader(w *bytes.Buffer, typ byte, epoch uint64, symbol string) {
	w.WriteByte(Version)
	w.WriteByte(typ)
	putUvarint(w, epoch)
	w.WriteByte(byte(len(symbol)))
	w.WriteString(symbol)
}

// encodeBeats writes a heartbeat's body: count, then each entry's
// symbol length, symbol and seq.
func encodeBeats(w *bytes.Buffer, count uint64, beats []Beat) {
	putUvarint(w, count)
	for _, b := range beats {
		w.WriteByte(byte(len(b.Symbol)))
		w.WriteString(b.Symbol)
		putUvarint(w, b.Seq)
	}
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

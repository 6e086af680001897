package capture

import (
	"errors"
	"fmt"

	"sgw/feed/szse"
)

// szseArbitrated passes on the frames of an SZSE arbitrated stream, each
// a record (Seq its ApplSeqNum) or a snapshot (Seq 0).
type szseArbitrated struct {
	m szse.Message
}

func (s *szseArbitrated) record(rec Record, emit func(Message) error, _ func(uint16)) error {
	if rec.Type != TypeData {
		return nil
	}
	n, err := szse.Decode(rec.Data, &s.m)
	if err == nil && n != len(rec.Data) {
		err = fmt.Errorf("%d bytes after the frame", len(rec.Data)-n)
	}
	if err != nil {
		return fmt.Errorf("%w: an arbitrated record is not one SZSE frame: %w", ErrCorrupt, err)
	}
	m, ok := szseMessage(&s.m, rec, rec.Data)
	if !ok {
		return fmt.Errorf("%w: an arbitrated record is a %s, not an order, a trade or a snapshot", ErrCorrupt, s.m.Type)
	}
	return emit(m)
}

// szseRaw cuts one SZSE source's raw bytes into frames and passes on its
// orders, trades and snapshots: the live ones and those a ReTransmit
// answer resent, in the order they came.
type szseRaw struct {
	buf []byte
	bad bool // framing lost until the next connection
	m   szse.Message
}

func (s *szseRaw) record(rec Record, emit func(Message) error, _ func(uint16)) error {
	switch rec.Type {
	case TypeOpen:
		*s = szseRaw{buf: s.buf[:0]}
		return nil
	case TypeGap:
		s.bad = true
		return nil
	}
	if s.bad {
		return nil
	}
	s.buf = append(s.buf, rec.Data...)
	used := 0
	defer func() { s.buf = s.buf[:copy(s.buf, s.buf[used:])] }()
	for {
		n, err := szse.Decode(s.buf[used:], &s.m)
		switch {
		case errors.Is(err, szse.ErrTruncated):
			return nil
		case n == 0:
			s.bad = true // as the feed would, which resets the source
			return nil
		}
		frame := s.buf[used : used+n]
		used += n
		if err != nil {
			continue // an intact frame of a type not decoded, or a malformed snapshot
		}
		if m, ok := szseMessage(&s.m, rec, frame); ok {
			if err := emit(m); err != nil {
				return err
			}
		}
	}
}

// szseMessage returns the Message of an order, a trade or a snapshot
// decoded into m from frame, received in rec; false for other types.
func szseMessage(m *szse.Message, rec Record, frame []byte) (Message, bool) {
	out := Message{Recv: rec.Recv, Source: rec.Source, Data: frame}
	var seq int64
	switch m.Type {
	case szse.TypeOrder:
		out.Channel, seq = m.Order.ChannelNo, m.Order.ApplSeqNum
	case szse.TypeTrade:
		out.Channel, seq = m.Trade.ChannelNo, m.Trade.ApplSeqNum
	case szse.TypeSnapshot:
		out.Channel = m.Snapshot.ChannelNo
		return out, true
	default:
		return Message{}, false
	}
	if seq <= 0 {
		return Message{}, false // the feed refuses it; it was never delivered
	}
	out.Seq = uint64(seq)
	return out, true
}

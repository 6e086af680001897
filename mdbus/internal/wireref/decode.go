package wireref

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors of Decode: a frame of an unknown version, and every other
// refusal of the specification.
var (
	ErrVersion = errors.New("wireref: unknown version")
	ErrRefused = errors.New("wireref: refused frame")
)

// Decode reads one whole frame, or says which rule of the specification
// it breaks with an error wrapping ErrVersion or ErrRefused.
func Decode(b []byte) (*Frame, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: only %d bytes", ErrRefused, len(b))
	}
	if b[0] != Version {
		return nil, fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	r := bytes.NewReader(b)
	f := &Frame{}
	var version byte
	err := readFields(r, u8("version", &version), u8("type", &f.Type), uvarint("epoch", &f.Epoch))
	if err != nil {
		return nil, err
	}
	if f.Symbol, err = getSymbol(r); err != nil {
		return nil, err
	}
	switch f.Type {
	case TypeUpdate:
		f.Update, err = decodeUpdate(r)
	case TypeSnapshot:
		f.Snapshot, err = decodeSnapshot(r)
	case TypeHeartbeat:
		if f.Symbol != HeartbeatSymbol {
			return nil, fmt.Errorf("%w: heartbeat about %q", ErrRefused, f.Symbol)
		}
		f.Beats, err = decodeBeats(r)
	case TypeError:
		f.Text, err = getText(r)
	default:
		err = fmt.Errorf("%w: type 0x%02x", ErrRefused, f.Type)
	}
	if err != nil {
		return nil, err
	}
	if r.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the last field", ErrRefused, r.Len())
	}
	return f, nil
}

func getSymbol(r *bytes.Reader) (string, error) {
	n, err := getU8(r, "symbol length")
	if err != nil {
		return "", err
	}
	if n == 0 || n > MaxSymbol {
		return "", fmt.Errorf("%w: symbol length %d", ErrRefused, n)
	}
	sym := make([]byte, n)
	if _, err := io.ReadFull(r, sym); err != nil {
		return "", fmt.Errorf("%w: symbol cut short", ErrRefused)
	}
	return string(sym), nil
}

func getText(r *bytes.Reader) (string, error) {
	if r.Len() > MaxErrorText {
		return "", fmt.Errorf("%w: error text of %d bytes", ErrRefused, r.Len())
	}
	text, _ := io.ReadAll(r)
	return string(text), nil
}

// A field reads one field of the specification from r into its
// destination.
type field func(r *bytes.Reader) error

func u8(what string, dst *byte) field {
	return func(r *bytes.Reader) (err error) { *dst, err = getU8(r, what); return err }
}

func u32le(what string, dst *uint32) field {
	return func(r *bytes.Reader) (err error) { *dst, err = getU32le(r, what); return err }
}

func uvarint(what string, dst *uint64) field {
	return func(r *bytes.Reader) (err error) { *dst, err = getUvarint(r, what); return err }
}

func varint(what string, dst *int64) field {
	return func(r *bytes.Reader) (err error) { *dst, err = getVarint(r, what); return err }
}

func level(dst *Level) field {
	return func(r *bytes.Reader) (err error) { *dst, err = getLevel(r); return err }
}

// readFields reads fields in order, stopping at the first refusal.
func readFields(r *bytes.Reader, fields ...field) error {
	for _, f := range fields {
		if err := f(r); err != nil {
			return err
		}
	}
	return nil
}

func decodeUpdate(r *bytes.Reader) (*Update, error) {
	u := &Update{}
	var n byte
	err := readFields(r, uvarint("seq", &u.Seq), uvarint("time", &u.Time), varint("recv", &u.Recv),
		u8("kind", &u.Kind), u8("state", &u.State), u8("n", &n))
	if err != nil {
		return nil, err
	}
	if u.Kind < KindBook || u.Kind > KindReset {
		return nil, fmt.Errorf("%w: kind %d", ErrRefused, u.Kind)
	}
	if n > MaxChanges {
		return nil, fmt.Errorf("%w: %d changes", ErrRefused, n)
	}
	for range n {
		var c Change
		var rank byte
		if err := readFields(r, u8("side", &c.Side), u8("rank", &rank), level(&c.Level)); err != nil {
			return nil, err
		}
		if c.Side != SideBid && c.Side != SideAsk {
			return nil, fmt.Errorf("%w: side %d", ErrRefused, c.Side)
		}
		c.Rank = int8(rank)
		u.Changes = append(u.Changes, c)
	}
	if err := readFields(r, u8("enterSide", &u.EnterSide)); err != nil {
		return nil, err
	}
	var tail []field
	switch u.EnterSide {
	case 0:
	case SideBid, SideAsk:
		tail = append(tail, level(&u.Enter[0]), level(&u.Enter[1]), level(&u.Enter[2]))
	default:
		return nil, fmt.Errorf("%w: enterSide %d", ErrRefused, u.EnterSide)
	}
	if u.Kind == KindTrade {
		tail = append(tail, varint("tradePrice", &u.TradePrice), varint("tradeQty", &u.TradeQty))
	}
	tail = append(tail, varint("last", &u.Last), varint("volume", &u.Volume), varint("turnover", &u.Turnover),
		u32le("checksum", &u.Checksum), u32le("checksum5", &u.Checksum5))
	if err := readFields(r, tail...); err != nil {
		return nil, err
	}
	return u, nil
}

func decodeSnapshot(r *bytes.Reader) (*Snapshot, error) {
	s := &Snapshot{}
	err := readFields(r, uvarint("seq", &s.Seq), uvarint("time", &s.Time), u8("state", &s.State),
		varint("last", &s.Last), varint("lastQty", &s.LastQty), varint("volume", &s.Volume),
		varint("turnover", &s.Turnover), varint("open", &s.Open), varint("high", &s.High), varint("low", &s.Low),
		u32le("checksum", &s.Checksum), u32le("checksum5", &s.Checksum5))
	if err != nil {
		return nil, err
	}
	if s.Bids, err = getLevels(r, "nBids"); err != nil {
		return nil, err
	}
	if s.Asks, err = getLevels(r, "nAsks"); err != nil {
		return nil, err
	}
	return s, nil
}

// decodeBeats reads a heartbeat's count, refusing 0 and above MaxBeats
// before reading any entry, then the entries.
func decodeBeats(r *bytes.Reader) ([]Beat, error) {
	count, err := getUvarint(r, "count")
	if err != nil {
		return nil, err
	}
	if count == 0 || count > MaxBeats {
		return nil, fmt.Errorf("%w: heartbeat of %d entries", ErrRefused, count)
	}
	beats := make([]Beat, count)
	for i := range beats {
		if beats[i].Symbol, err = getSymbol(r); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if beats[i].Seq, err = getUvarint(r, "entry seq"); err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
	}
	return beats, nil
}

func getLevels(r *bytes.Reader, what string) ([]Level, error) {
	n, err := getU8(r, what)
	if err != nil {
		return nil, err
	}
	if n > MaxLevels {
		return nil, fmt.Errorf("%w: %s %d", ErrRefused, what, n)
	}
	var ls []Level
	for range n {
		l, err := getLevel(r)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func getLevel(r *bytes.Reader) (Level, error) {
	var l Level
	var err error
	if l.Price, err = getVarint(r, "price"); err != nil {
		return l, err
	}
	if l.Qty, err = getVarint(r, "qty"); err != nil {
		return l, err
	}
	if l.Orders, err = getUvarint(r, "orders"); err != nil {
		return l, err
	}
	if l.Orders > MaxOrders {
		return l, fmt.Errorf("%w: orders %d", ErrRefused, l.Orders)
	}
	return l, nil
}

func getU8(r *bytes.Reader, what string) (byte, error) {
	c, err := r.ReadByte()
	if err != nil {
		return 0, fmt.Errorf("%w: %s cut short", ErrRefused, what)
	}
	return c, nil
}

func getU32le(r *bytes.Reader, what string) (uint32, error) {
	var x uint32
	if err := binary.Read(r, binary.LittleEndian, &x); err != nil {
		return 0, fmt.Errorf("%w: %s cut short", ErrRefused, what)
	}
	return x, nil
}

// getUvarint reads 1 to 10 bytes of 7-bit groups, least significant
// first, refusing a longer one, a 10th byte above 1 and a final zero
// group after the first byte (not the shortest encoding).
func getUvarint(r *bytes.Reader, what string) (uint64, error) {
	var x uint64
	for i := 0; ; i++ {
		c, err := r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("%w: %s cut short", ErrRefused, what)
		}
		if i == 9 && c > 1 {
			return 0, fmt.Errorf("%w: %s past 64 bits", ErrRefused, what)
		}
		x |= uint64(c&0x7f) << (7 * i)
		if c&0x80 != 0 {
			continue
		}
		if i > 0 && c == 0 {
			return 0, fmt.Errorf("%w: %s not in its shortest encoding", ErrRefused, what)
		}
		return x, nil
	}
}

// getVarint reads a uvarint and undoes the zigzag mapping: even values
// are x/2, odd ones -(x+1)/2.
func getVarint(r *bytes.Reader, what string) (int64, error) {
	z, err := getUvarint(r, what)
	if err != nil {
		return 0, err
	}
	if z%2 == 0 {
		return int64(z / 2), nil
	}
	return -int64(z/2) - 1, nil
}

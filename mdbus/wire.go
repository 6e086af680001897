package mdbus

import (
	"encoding/binary"
	"fmt"

	"sgw/orderbook"
	"sgw/refdata"
)

// The wire format, version 1, is specified in the package documentation
// (doc.go): that text is the contract, which internal/wireref implements
// independently of this file.
const (
	wireVersion = 1

	// TypeUpdate, TypeSnapshot and TypeError are Message.Type values.
	TypeUpdate   = 'U'
	TypeSnapshot = 'S'
	TypeError    = 'E'

	// maxLevels is the depth of a snapshot: the gateway's book depth.
	maxLevels = orderbook.DefaultMaxDepth
	// maxErrorText bounds an error reply's text.
	maxErrorText = 256
)

// Message is one decoded bus message. Decode fills it; a Message reused
// across calls makes decoding allocation-free. Symbol and Text alias the
// decoded bytes. A Message is owned by the goroutine that decodes into it.
type Message struct {
	Type   byte
	Epoch  uint64
	Symbol []byte
	// Update is the update of a TypeUpdate, Symbol field zero (the
	// receiver maps Symbol to its own SymbolID).
	Update orderbook.Update
	// View is the snapshot of a TypeSnapshot; its Symbol field is zero,
	// and Bids and Asks are reused.
	View orderbook.View
	// Text is a TypeError's reason.
	Text []byte
}

// appendHeader appends the common header.
func appendHeader(b []byte, typ byte, epoch uint64, sym string) []byte {
	b = append(b, wireVersion, typ)
	b = binary.AppendUvarint(b, epoch)
	b = append(b, byte(len(sym)))
	return append(b, sym...)
}

func appendLevel(b []byte, l orderbook.Level) []byte {
	b = binary.AppendVarint(b, int64(l.Price))
	b = binary.AppendVarint(b, l.Qty)
	return binary.AppendUvarint(b, uint64(uint32(l.Orders)))
}

// AppendUpdate appends the encoding of u, an Update of symbol sym, to b.
// sym must be a valid gateway symbol (at most refdata.MaxSymbolLen
// bytes). It does not allocate when b has room.
func AppendUpdate(b []byte, epoch uint64, sym string, u *orderbook.Update) []byte {
	b = appendHeader(b, TypeUpdate, epoch, sym)
	b = binary.AppendUvarint(b, u.Seq)
	b = binary.AppendUvarint(b, u.Time)
	b = binary.AppendVarint(b, u.Recv)
	n := min(u.N, uint8(len(u.Changes)))
	b = append(b, byte(u.Kind), byte(u.State), n)
	for _, c := range u.Changes[:n] {
		b = append(b, byte(c.Side), byte(c.Rank))
		b = appendLevel(b, c.Level)
	}
	b = append(b, byte(u.EnterSide))
	if u.EnterSide != 0 {
		for _, l := range u.Enter {
			b = appendLevel(b, l)
		}
	}
	if u.Kind == orderbook.KindTrade {
		b = binary.AppendVarint(b, int64(u.TradePrice))
		b = binary.AppendVarint(b, u.TradeQty)
	}
	b = binary.AppendVarint(b, int64(u.Last))
	b = binary.AppendVarint(b, u.Volume)
	b = binary.AppendVarint(b, u.Turnover)
	b = binary.LittleEndian.AppendUint32(b, u.Checksum)
	return binary.LittleEndian.AppendUint32(b, u.Checksum5)
}

// AppendSnapshot appends the encoding of v, the View of symbol sym, to b:
// at most 20 levels per side.
func AppendSnapshot(b []byte, epoch uint64, sym string, v *orderbook.View) []byte {
	b = appendHeader(b, TypeSnapshot, epoch, sym)
	b = binary.AppendUvarint(b, v.Seq)
	b = binary.AppendUvarint(b, v.Time)
	b = append(b, byte(v.State))
	for _, x := range [...]int64{int64(v.Last), v.LastQty, v.Volume, v.Turnover, int64(v.Open), int64(v.High), int64(v.Low)} {
		b = binary.AppendVarint(b, x)
	}
	b = binary.LittleEndian.AppendUint32(b, v.Checksum)
	b = binary.LittleEndian.AppendUint32(b, v.Checksum5)
	for _, side := range [2][]orderbook.Level{v.Bids, v.Asks} {
		side = side[:min(len(side), maxLevels)]
		b = append(b, byte(len(side)))
		for _, l := range side {
			b = appendLevel(b, l)
		}
	}
	return b
}

// AppendError appends an error reply about symbol sym to b; text is cut
// to 256 bytes.
func AppendError(b []byte, epoch uint64, sym, text string) []byte {
	b = appendHeader(b, TypeError, epoch, sym)
	return append(b, text[:min(len(text), maxErrorText)]...)
}

// reader consumes a message, remembering the first error.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, what)
	}
}

func (r *reader) byte(what string) byte {
	if len(r.b) == 0 {
		r.fail(what)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint(what string) uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 || overlong(r.b[:n]) {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) varint(what string) int64 {
	x, n := binary.Varint(r.b)
	if n <= 0 || overlong(r.b[:n]) {
		r.fail(what)
		return 0
	}
	r.b = r.b[n:]
	return x
}

// overlong reports whether v, a whole uvarint, is longer than the
// shortest encoding of its value (it ends in a zero group): one value has
// one encoding.
func overlong(v []byte) bool { return len(v) > 1 && v[len(v)-1] == 0 }

func (r *reader) uint32(what string) uint32 {
	if len(r.b) < 4 {
		r.fail(what)
		return 0
	}
	x := binary.LittleEndian.Uint32(r.b)
	r.b = r.b[4:]
	return x
}

func (r *reader) level(what string) orderbook.Level {
	p := r.varint(what)
	q := r.varint(what)
	o := r.uvarint(what)
	if o > 1<<31-1 {
		r.fail(what + " orders")
	}
	return orderbook.Level{Price: refdata.Price(p), Qty: q, Orders: int32(o)}
}

// Decode decodes one message into m. On error m holds a partial decoding.
// Errors wrap ErrVersion or ErrMalformed. Decode only reads b (m.Symbol
// and m.Text alias it) and allocates only to grow m.View's levels.
func Decode(b []byte, m *Message) error {
	if len(b) < 2 {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != wireVersion {
		return fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	r := reader{b: b[2:]}
	m.Type = b[1]
	m.Epoch = r.uvarint("epoch")
	n := int(r.byte("symbol length"))
	if r.err == nil && (n == 0 || n > refdata.MaxSymbolLen || n > len(r.b)) {
		r.fail("symbol length")
	}
	if r.err != nil {
		return r.err
	}
	m.Symbol, r.b = r.b[:n:n], r.b[n:]
	switch m.Type {
	case TypeUpdate:
		decodeUpdate(&r, &m.Update)
	case TypeSnapshot:
		decodeSnapshot(&r, &m.View)
	case TypeError:
		if len(r.b) > maxErrorText {
			r.fail("error text")
		}
		m.Text, r.b = r.b, nil
	default:
		r.fail(fmt.Sprintf("type %q", m.Type))
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail(fmt.Sprintf("%d bytes after the message", len(r.b)))
	}
	return r.err
}

func decodeUpdate(r *reader, u *orderbook.Update) {
	*u = orderbook.Update{}
	u.Seq = r.uvarint("seq")
	u.Time = r.uvarint("time")
	u.Recv = r.varint("recv")
	u.Kind = orderbook.UpdateKind(r.byte("kind"))
	u.State = orderbook.TradingState(r.byte("state"))
	u.N = r.byte("changes")
	if u.Kind < orderbook.KindBook || u.Kind > orderbook.KindReset {
		r.fail("kind")
	}
	if int(u.N) > len(u.Changes) {
		r.fail("changes")
		return
	}
	for i := range u.Changes[:u.N] {
		c := &u.Changes[i]
		c.Side = orderbook.Side(r.byte("side"))
		c.Rank = int8(r.byte("rank"))
		c.Level = r.level("change")
		if c.Side != orderbook.Bid && c.Side != orderbook.Ask {
			r.fail("side")
		}
	}
	u.EnterSide = orderbook.Side(r.byte("enter side"))
	switch u.EnterSide {
	case 0:
	case orderbook.Bid, orderbook.Ask:
		for i := range u.Enter {
			u.Enter[i] = r.level("enter")
		}
	default:
		r.fail("enter side")
	}
	if u.Kind == orderbook.KindTrade {
		u.TradePrice = refdata.Price(r.varint("trade price"))
		u.TradeQty = r.varint("trade qty")
	}
	u.Last = refdata.Price(r.varint("last"))
	u.Volume = r.varint("volume")
	u.Turnover = r.varint("turnover")
	u.Checksum = r.uint32("checksum")
	u.Checksum5 = r.uint32("checksum5")
}

func decodeSnapshot(r *reader, v *orderbook.View) {
	bids, asks := v.Bids[:0], v.Asks[:0]
	*v = orderbook.View{}
	v.Seq = r.uvarint("seq")
	v.Time = r.uvarint("time")
	v.State = orderbook.TradingState(r.byte("state"))
	v.Last = refdata.Price(r.varint("last"))
	v.LastQty = r.varint("last qty")
	v.Volume = r.varint("volume")
	v.Turnover = r.varint("turnover")
	v.Open = refdata.Price(r.varint("open"))
	v.High = refdata.Price(r.varint("high"))
	v.Low = refdata.Price(r.varint("low"))
	v.Checksum = r.uint32("checksum")
	v.Checksum5 = r.uint32("checksum5")
	for _, side := range []*[]orderbook.Level{&bids, &asks} {
		n := int(r.byte("levels"))
		if n > maxLevels {
			r.fail("levels")
			break
		}
		for range n {
			if r.err != nil {
				break
			}
			*side = append(*side, r.level("level"))
		}
	}
	v.Bids, v.Asks = bids, asks
}

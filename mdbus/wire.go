package mdbus

import (
	"encoding/binary"
	"fmt"

	"sgw/internal/binread"
	"sgw/orderbook"
	"sgw/refdata"
)

// The wire format, version 1, is specified in the package documentation
// (doc.go): that text is the contract, which internal/wireref implements
// independently of this file.
const (
	wireVersion = 1

	// TypeUpdate, TypeSnapshot and TypeError are Message.Type values.
	TypeUpdate    = 'U'
	TypeHeartbeat = 'H'
	TypeSnapshot  = 'S'
	TypeError     = 'E'

	// maxLevels is the depth of a snapshot: the gateway's book depth.
	maxLevels = orderbook.DefaultMaxDepth
	// maxErrorText bounds an error reply's text.
	maxErrorText = 256
	// MaxBeats bounds a heartbeat's entries; a publisher of more symbols
	// sends several heartbeats.
	MaxBeats = 4096
	// beatSymbol is a heartbeat's header symbol.
	beatSymbol = "*"
	// maxStreamFrame is the size of the largest update or heartbeat
	// Decode accepts: a heartbeat of MaxBeats entries, each of a 16-byte
	// symbol and a 10-byte seq, in an epoch of 10 bytes (an update is
	// at most a few hundred bytes). A longer message on an edge's
	// subjects cannot decode.
	maxStreamFrame = 2 + binary.MaxVarintLen64 + 1 + len(beatSymbol) + 2 +
		MaxBeats*(1+refdata.MaxSymbolLen+binary.MaxVarintLen64)
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
	// Beats are a TypeHeartbeat's entries, reused (left as they were by
	// a message of another type).
	Beats []Beat
}

// Beat is one entry of a heartbeat: the Seq of the symbol's last update
// the publisher published or lost. Symbol aliases the decoded bytes.
type Beat struct {
	Symbol []byte
	Seq    uint64
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

// AppendHeartbeat appends the header and entry count of a heartbeat of
// count entries; append each with AppendBeat. A count outside 1 to
// MaxBeats, or unlike the entries appended, makes a frame Decode refuses.
// It does not allocate when b has room.
func AppendHeartbeat(b []byte, epoch uint64, count int) []byte {
	b = appendHeader(b, TypeHeartbeat, epoch, beatSymbol)
	return binary.AppendUvarint(b, uint64(count))
}

// AppendBeat appends one heartbeat entry: symbol sym (a valid gateway
// symbol) at seq.
func AppendBeat(b []byte, sym string, seq uint64) []byte {
	b = append(b, byte(len(sym)))
	b = append(b, sym...)
	return binary.AppendUvarint(b, seq)
}

func readLevel(r *binread.Reader, what string) orderbook.Level {
	p := r.Varint(what)
	q := r.Varint(what)
	o := r.Uvarint(what)
	if o > 1<<31-1 {
		r.Fail(what + " orders out of range")
	}
	return orderbook.Level{Price: refdata.Price(p), Qty: q, Orders: int32(o)}
}

// Decode decodes one message into m. On error m holds a partial decoding.
// Errors wrap ErrVersion or ErrMalformed. Decode only reads b (m.Symbol,
// m.Text and the Symbols of m.Beats alias it) and allocates only to grow
// m.View's levels and m.Beats.
func Decode(b []byte, m *Message) error {
	if len(b) < 2 {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if b[0] != wireVersion {
		return fmt.Errorf("%w: %d", ErrVersion, b[0])
	}
	r := binread.New(b)
	r.Bytes(2, "header")
	m.Type = b[1]
	m.Epoch = r.Uvarint("epoch")
	n := int(r.Byte("symbol length"))
	if r.Err() == nil && (n == 0 || n > refdata.MaxSymbolLen) {
		r.Fail(fmt.Sprintf("symbol length %d", n))
	}
	m.Symbol = r.Bytes(n, "symbol")
	if r.Err() != nil {
		return malformed(&r)
	}
	switch m.Type {
	case TypeUpdate:
		decodeUpdate(&r, &m.Update)
	case TypeSnapshot:
		decodeSnapshot(&r, &m.View)
	case TypeHeartbeat:
		m.Beats = decodeBeats(&r, m.Symbol, m.Beats[:0])
	case TypeError:
		if r.Len() > maxErrorText {
			r.Fail(fmt.Sprintf("error text of %d bytes", r.Len()))
		}
		m.Text = r.Bytes(r.Len(), "error text")
	default:
		r.Fail(fmt.Sprintf("type %q", m.Type))
	}
	if r.Err() == nil && r.Len() > 0 {
		r.Fail(fmt.Sprintf("%d bytes after the message", r.Len()))
	}
	if r.Err() != nil {
		return malformed(&r)
	}
	return nil
}

// malformed wraps r's failure in ErrMalformed.
func malformed(r *binread.Reader) error { return fmt.Errorf("%w: %w", ErrMalformed, r.Err()) }

// decodeBeats decodes a heartbeat's body into beats and returns it.
func decodeBeats(r *binread.Reader, header []byte, beats []Beat) []Beat {
	if string(header) != beatSymbol {
		r.Fail(fmt.Sprintf("heartbeat symbol %q", header))
		return beats
	}
	n := r.Uvarint("heartbeat count")
	if r.Err() == nil && (n == 0 || n > MaxBeats) {
		r.Fail(fmt.Sprintf("heartbeat count %d", n))
	}
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		l := int(r.Byte("beat symbol length"))
		if r.Err() == nil && (l == 0 || l > refdata.MaxSymbolLen) {
			r.Fail(fmt.Sprintf("beat symbol length %d", l))
		}
		sym := r.Bytes(l, "beat symbol")
		beats = append(beats, Beat{Symbol: sym, Seq: r.Uvarint("beat seq")})
	}
	return beats
}

func decodeUpdate(r *binread.Reader, u *orderbook.Update) {
	*u = orderbook.Update{}
	u.Seq = r.Uvarint("seq")
	u.Time = r.Uvarint("time")
	u.Recv = r.Varint("recv")
	u.Kind = orderbook.UpdateKind(r.Byte("kind"))
	u.State = orderbook.TradingState(r.Byte("state"))
	u.N = r.Byte("changes")
	if u.Kind < orderbook.KindBook || u.Kind > orderbook.KindReset {
		r.Fail(fmt.Sprintf("kind %d", u.Kind))
	}
	if int(u.N) > len(u.Changes) {
		r.Fail(fmt.Sprintf("%d changes", u.N))
		return
	}
	for i := range u.Changes[:u.N] {
		c := &u.Changes[i]
		c.Side = orderbook.Side(r.Byte("side"))
		c.Rank = int8(r.Byte("rank"))
		c.Level = readLevel(r, "change")
		if c.Side != orderbook.Bid && c.Side != orderbook.Ask {
			r.Fail(fmt.Sprintf("change side %d", c.Side))
		}
	}
	u.EnterSide = orderbook.Side(r.Byte("enter side"))
	switch u.EnterSide {
	case 0:
	case orderbook.Bid, orderbook.Ask:
		for i := range u.Enter {
			u.Enter[i] = readLevel(r, "enter")
		}
	default:
		r.Fail(fmt.Sprintf("enter side %d", u.EnterSide))
	}
	if u.Kind == orderbook.KindTrade {
		u.TradePrice = refdata.Price(r.Varint("trade price"))
		u.TradeQty = r.Varint("trade qty")
	}
	u.Last = refdata.Price(r.Varint("last"))
	u.Volume = r.Varint("volume")
	u.Turnover = r.Varint("turnover")
	u.Checksum = r.Uint32LE("checksum")
	u.Checksum5 = r.Uint32LE("checksum5")
}

func decodeSnapshot(r *binread.Reader, v *orderbook.View) {
	bids, asks := v.Bids[:0], v.Asks[:0]
	*v = orderbook.View{}
	v.Seq = r.Uvarint("seq")
	v.Time = r.Uvarint("time")
	v.State = orderbook.TradingState(r.Byte("state"))
	v.Last = refdata.Price(r.Varint("last"))
	v.LastQty = r.Varint("last qty")
	v.Volume = r.Varint("volume")
	v.Turnover = r.Varint("turnover")
	v.Open = refdata.Price(r.Varint("open"))
	v.High = refdata.Price(r.Varint("high"))
	v.Low = refdata.Price(r.Varint("low"))
	v.Checksum = r.Uint32LE("checksum")
	v.Checksum5 = r.Uint32LE("checksum5")
	for _, side := range []*[]orderbook.Level{&bids, &asks} {
		n := int(r.Byte("levels"))
		if n > maxLevels {
			r.Fail(fmt.Sprintf("%d levels", n))
			break
		}
		for range n {
			if r.Err() != nil {
				break
			}
			*side = append(*side, readLevel(r, "level"))
		}
	}
	v.Bids, v.Asks = bids, asks
}

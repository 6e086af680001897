package feedpeer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"sgw/refdata"
)

// szseClient is a minimal SZSE Binary market-data client written for the
// tests from the specification.
type szseClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

type szseMsg struct {
	typ  uint32
	body []byte
}

func dialSZSE(t *testing.T, addr string) *szseClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &szseClient{t: t, c: c, r: bufio.NewReader(c)}
}

func (s *szseClient) send(typ uint32, body []byte) {
	s.t.Helper()
	b := binary.BigEndian.AppendUint32(nil, typ)
	b = binary.BigEndian.AppendUint32(b, uint32(len(body)))
	b = append(b, body...)
	var sum uint32
	for _, c := range b {
		sum += uint32(c)
	}
	b = binary.BigEndian.AppendUint32(b, sum%256)
	if _, err := s.c.Write(b); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

func fixed(s string, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = ' '
	}
	copy(b, s)
	return b
}

func (s *szseClient) logon(sender, target, password string) {
	s.t.Helper()
	var b []byte
	b = append(b, fixed(sender, 20)...)
	b = append(b, fixed(target, 20)...)
	b = binary.BigEndian.AppendUint32(b, 3)
	b = append(b, fixed(password, 16)...)
	b = append(b, fixed("1.00", 32)...)
	s.send(1, b)
}

func (s *szseClient) retransmit(channel uint16, beg, end uint64) {
	s.t.Helper()
	b := []byte{1}
	b = binary.BigEndian.AppendUint16(b, channel)
	b = binary.BigEndian.AppendUint64(b, beg)
	b = binary.BigEndian.AppendUint64(b, end)
	b = append(b, fixed("", 8)...)
	b = append(b, 0)
	b = append(b, fixed("", 16)...)
	s.send(390094, b)
}

func (s *szseClient) read() (szseMsg, error) {
	s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var h [8]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return szseMsg{}, err
	}
	n := binary.BigEndian.Uint32(h[4:])
	b := make([]byte, n+4)
	if _, err := io.ReadFull(s.r, b); err != nil {
		return szseMsg{}, err
	}
	var sum uint32
	for _, c := range h {
		sum += uint32(c)
	}
	for _, c := range b[:n] {
		sum += uint32(c)
	}
	if got := binary.BigEndian.Uint32(b[n:]); got != sum%256 {
		return szseMsg{}, fmt.Errorf("checksum %d, want %d", got, sum%256)
	}
	return szseMsg{typ: binary.BigEndian.Uint32(h[:4]), body: b[:n]}, nil
}

func (s *szseClient) mustRead() szseMsg {
	s.t.Helper()
	m, err := s.read()
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return m
}

// data reads n data messages (orders, trades, snapshots, retransmit
// answers), skipping heartbeats and channel heartbeats.
func (s *szseClient) data(n int) []szseMsg {
	s.t.Helper()
	var out []szseMsg
	for len(out) < n {
		m := s.mustRead()
		switch m.typ {
		case 3, 390095:
		case 300111, 300191, 300192, 390094:
			out = append(out, m)
		default:
			s.t.Fatalf("after %d messages: type %d", len(out), m.typ)
		}
	}
	return out
}

// szseDecoded is what the test decoder makes of an order or trade.
type szseDecoded struct {
	channel         uint16
	seq             uint64
	symbol          string
	price           refdata.Price
	qty             int64 // shares
	side            Side
	bid, offer      uint64
	execType, ordTp byte
	time            int64
}

func trimSZSE(b []byte) string {
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == 0) {
		b = b[:len(b)-1]
	}
	return string(b)
}

func decodeSZSE(t *testing.T, m szseMsg) szseDecoded {
	t.Helper()
	be := binary.BigEndian
	b := m.body
	switch m.typ {
	case 300192:
		if len(b) != 51 || string(b[10:13]) != "011" || trimSZSE(b[21:25]) != "102" {
			t.Fatalf("order body %x", b)
		}
		side := Buy
		if b[41] == '2' {
			side = Sell
		}
		qty := int64(be.Uint64(b[33:41]))
		if qty%100 != 0 {
			t.Fatalf("order quantity %d is not whole shares", qty)
		}
		return szseDecoded{channel: be.Uint16(b[0:2]), seq: be.Uint64(b[2:10]), symbol: trimSZSE(b[13:21]), price: refdata.Price(be.Uint64(b[25:33])), qty: qty / 100, side: side, time: int64(be.Uint64(b[42:50])), ordTp: b[50]}
	case 300191:
		if len(b) != 66 {
			t.Fatalf("trade body %x", b)
		}
		return szseDecoded{channel: be.Uint16(b[0:2]), seq: be.Uint64(b[2:10]), bid: be.Uint64(b[13:21]), offer: be.Uint64(b[21:29]), symbol: trimSZSE(b[29:37]), price: refdata.Price(be.Uint64(b[41:49])), qty: int64(be.Uint64(b[49:57])) / 100, execType: b[57], time: int64(be.Uint64(b[58:66]))}
	}
	t.Fatalf("not an order or trade: %d", m.typ)
	return szseDecoded{}
}

// szseApply applies a decoded order or trade to a test book whose order ids
// are channel<<48 | ApplSeqNum.
func szseApply(t *testing.T, b *Book, d szseDecoded) {
	t.Helper()
	id := func(seq uint64) uint64 { return uint64(d.channel)<<48 | seq }
	var ev Event
	switch {
	case d.ordTp != 0:
		ev = Event{Kind: KindAdd, Symbol: d.symbol, Order: id(d.seq), Side: d.side, Price: d.price, Qty: d.qty, OwnBest: d.ordTp == 'U'}
	case d.execType == 'F':
		ev = Event{Kind: KindExecute, Symbol: d.symbol, Order: id(d.bid), Contra: id(d.offer), Price: d.price, Qty: d.qty}
	case d.execType == '4':
		o := d.bid
		if o == 0 {
			o = d.offer
		}
		ev = Event{Kind: KindDelete, Symbol: d.symbol, Order: id(o), Qty: d.qty}
	default:
		t.Fatalf("decoded %+v", d)
	}
	if err := b.Apply(ev); err != nil {
		t.Fatalf("the stream does not apply: %v", err)
	}
}

// decodedSnapshot is what the test decoder makes of a 300111.
type decodedSnapshot struct {
	symbol     string
	bids, asks []Level
	bidQueue   []int64
	trades     int64
	volume     int64
}

func decodeSnapshot(t *testing.T, m szseMsg) decodedSnapshot {
	t.Helper()
	be := binary.BigEndian
	b := m.body
	s := decodedSnapshot{symbol: trimSZSE(b[13:21]), trades: int64(be.Uint64(b[41:49])), volume: int64(be.Uint64(b[49:57])) / 100}
	n := int(be.Uint32(b[65:69]))
	b = b[69:]
	for range n {
		typ := trimSZSE(b[0:2])
		px := int64(be.Uint64(b[2:10]))
		size := int64(be.Uint64(b[10:18]))
		orders := int64(be.Uint64(b[20:28]))
		nq := int(be.Uint32(b[28:32]))
		var queue []int64
		for i := range nq {
			queue = append(queue, int64(be.Uint64(b[32+8*i:]))/100)
		}
		b = b[32+8*nq:]
		if px%100 != 0 {
			t.Fatalf("snapshot price %d is finer than 0.0001", px)
		}
		l := Level{Price: refdata.Price(px / 100), Qty: size / 100, Orders: int(orders)}
		switch typ {
		case "0":
			if len(s.bids) == 0 {
				s.bidQueue = queue
			}
			s.bids = append(s.bids, l)
		case "1":
			s.asks = append(s.asks, l)
		}
	}
	if len(b) != 0 {
		t.Fatalf("%d bytes after the snapshot's entries", len(b))
	}
	return s
}

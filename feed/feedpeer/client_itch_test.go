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

// soupClient is a minimal SoupBinTCP client written for the tests, from the
// specification, sharing nothing with the server's code paths beyond the
// constants.
type soupClient struct {
	t *testing.T
	c net.Conn
	r *bufio.Reader
}

func dialSoup(t *testing.T, addr string) *soupClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return &soupClient{t: t, c: c, r: bufio.NewReader(c)}
}

func (s *soupClient) send(typ byte, payload string) {
	s.t.Helper()
	b := binary.BigEndian.AppendUint16(nil, uint16(1+len(payload)))
	b = append(b, typ)
	b = append(b, payload...)
	if _, err := s.c.Write(b); err != nil {
		s.t.Fatalf("write: %v", err)
	}
}

func (s *soupClient) login(user, pass, session string, seq uint64) {
	s.t.Helper()
	s.send('L', fmt.Sprintf("%-6s%-10s%-10s%20d", user, pass, session, seq))
}

// read returns the next packet, or an error (EOF when the server closed).
func (s *soupClient) read() (byte, []byte, error) {
	s.c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var h [2]byte
	if _, err := io.ReadFull(s.r, h[:]); err != nil {
		return 0, nil, err
	}
	p := make([]byte, binary.BigEndian.Uint16(h[:]))
	if _, err := io.ReadFull(s.r, p); err != nil {
		return 0, nil, err
	}
	if len(p) == 0 {
		return 0, nil, fmt.Errorf("empty packet")
	}
	return p[0], p[1:], nil
}

func (s *soupClient) mustRead() (byte, []byte) {
	s.t.Helper()
	typ, p, err := s.read()
	if err != nil {
		s.t.Fatalf("read: %v", err)
	}
	return typ, p
}

// accepted reads a Login Accepted and returns its sequence number.
func (s *soupClient) accepted() uint64 {
	s.t.Helper()
	typ, p := s.mustRead()
	if typ != 'A' || len(p) != 30 {
		s.t.Fatalf("want Login Accepted, got %q %q", typ, p)
	}
	var seq uint64
	fmt.Sscan(string(p[10:]), &seq)
	return seq
}

// data reads n Sequenced Data payloads, skipping Server Heartbeats.
func (s *soupClient) data(n int) [][]byte {
	s.t.Helper()
	var out [][]byte
	for len(out) < n {
		typ, p := s.mustRead()
		switch typ {
		case 'S':
			out = append(out, p)
		case 'H':
		default:
			s.t.Fatalf("after %d messages: packet %q %x", len(out), typ, p)
		}
	}
	return out
}

// decodeITCH decodes the ITCH messages the tests check into the Event they
// carry (Time, Symbol of order messages named by the locate table).
func decodeITCH(t *testing.T, m []byte, symbols map[uint16]string) (Event, uint16) {
	t.Helper()
	be := binary.BigEndian
	lens := map[byte]int{'S': 12, 'R': 39, 'H': 25, 'A': 36, 'F': 40, 'E': 31, 'C': 36, 'X': 23, 'D': 19, 'U': 35, 'P': 44}
	if len(m) == 0 || lens[m[0]] != len(m) {
		t.Fatalf("ITCH message %q of %d bytes", m[:1], len(m))
	}
	locate, tracking := be.Uint16(m[1:3]), be.Uint16(m[3:5])
	ts := int64(m[5])<<40 | int64(m[6])<<32 | int64(be.Uint32(m[7:11]))
	sym := func(b []byte) string {
		s := string(b)
		for len(s) > 0 && s[len(s)-1] == ' ' {
			s = s[:len(s)-1]
		}
		return s
	}
	ev := Event{Time: ts, Symbol: symbols[locate]}
	switch m[0] {
	case 'S':
		ev = Event{Kind: KindSystem, Code: m[11], Time: ts}
	case 'R':
		ev = Event{Kind: KindDirectory, Symbol: sym(m[11:19]), Locate: locate, Qty: int64(be.Uint32(m[21:25])), Time: ts}
		symbols[locate] = ev.Symbol
	case 'H':
		ev = Event{Kind: KindTradingAction, Symbol: sym(m[11:19]), Code: m[19], Time: ts}
	case 'A', 'F':
		ev.Kind, ev.Order, ev.Side, ev.Qty, ev.Price = KindAdd, be.Uint64(m[11:19]), Side(m[19]), int64(be.Uint32(m[20:24])), refdata.Price(be.Uint32(m[32:36]))
		if sym(m[24:32]) != ev.Symbol {
			t.Fatalf("add names stock %q under locate %d of %q", m[24:32], locate, ev.Symbol)
		}
		if m[0] == 'F' {
			ev.MPID = string(m[36:40])
		}
	case 'E', 'C':
		ev.Kind, ev.Order, ev.Qty, ev.Match = KindExecute, be.Uint64(m[11:19]), int64(be.Uint32(m[19:23])), be.Uint64(m[23:31])
		if m[0] == 'C' {
			ev.WithPrice, ev.Price = true, refdata.Price(be.Uint32(m[32:36]))
		}
	case 'X':
		ev.Kind, ev.Order, ev.Qty = KindCancel, be.Uint64(m[11:19]), int64(be.Uint32(m[19:23]))
	case 'D':
		ev.Kind, ev.Order = KindDelete, be.Uint64(m[11:19])
	case 'U':
		ev.Kind, ev.Order, ev.NewOrder, ev.Qty, ev.Price = KindReplace, be.Uint64(m[11:19]), be.Uint64(m[19:27]), int64(be.Uint32(m[27:31])), refdata.Price(be.Uint32(m[31:35]))
	case 'P':
		ev.Kind, ev.Qty, ev.Price, ev.Match = KindTrade, int64(be.Uint32(m[20:24])), refdata.Price(be.Uint32(m[32:36])), be.Uint64(m[36:44])
	}
	return ev, tracking
}

// sameEvent compares what the wire carries of a recorded event.
func sameEvent(got, rec Event) bool {
	want := Event{Kind: rec.Kind, Symbol: rec.Symbol, Time: rec.Time}
	switch rec.Kind {
	case KindSystem, KindTradingAction:
		want.Code = rec.Code
	case KindDirectory:
		want.Locate, want.Qty = rec.Locate, rec.Qty
	case KindAdd:
		want.Order, want.Side, want.Qty, want.Price, want.MPID = rec.Order, rec.Side, rec.Qty, rec.Price, rec.MPID
	case KindExecute:
		want.Order, want.Qty, want.Match, want.WithPrice = rec.Order, rec.Qty, rec.Match, rec.WithPrice
		if rec.WithPrice {
			want.Price = rec.Price
		}
	case KindCancel:
		want.Order, want.Qty = rec.Order, rec.Qty
	case KindDelete:
		want.Order = rec.Order
	case KindReplace:
		want.Order, want.NewOrder, want.Qty, want.Price = rec.Order, rec.NewOrder, rec.Qty, rec.Price
	case KindTrade:
		want.Qty, want.Price, want.Match = rec.Qty, rec.Price, rec.Match
	}
	return got == want
}

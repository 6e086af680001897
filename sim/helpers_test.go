package sim

import (
	"context"
	"errors"
	"io"
	"net"
	"sort"
	"testing"
	"time"

	"sgw/feed/itch"
	"sgw/feed/soupbin"
	"sgw/refdata"
	"sgw/sim/match"
)

// ioTimeout only keeps a broken test from hanging; no test relies on it.
const ioTimeout = 10 * time.Second

func testInstruments() []refdata.Instrument {
	return []refdata.Instrument{
		{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: 17000000},
		{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: 2000000},
		{Symbol: "600001.SH", FeedSymbol: "ST0001", Board: refdata.BoardST, PrevClose: 33300},
	}
}

// testConfig stamps the feeds from 10:00 in Shanghai on, as the time
// passes: the wall clock's ITCH stamps (ns since midnight CST) would go
// back to 0 in a test running across 16:00 UTC, and the books' checks
// would fail it.
func testConfig() Config {
	base, start := time.Date(2025, 11, 21, 10, 0, 0, 0, time.FixedZone("CST", 8*3600)), time.Now()
	return Config{Instruments: testInstruments(), Rate: -1, Seed: 7,
		Clock: func() time.Time { return base.Add(time.Since(start)) }}
}

// startSim creates a Sim and runs it until the test ends.
func startSim(t *testing.T, cfg Config) *Sim {
	t.Helper()
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return s
}

// client is a raw SoupBinTCP client for tests.
type client struct {
	t    *testing.T
	nc   net.Conn
	buf  []byte
	r, w int
}

func dial(t *testing.T, addr net.Addr) *client {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, buf: make([]byte, 1<<16+2)}
}

func (c *client) send(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func (c *client) login(user, pass, session string, seq uint64) {
	c.t.Helper()
	b, err := soupbin.AppendLoginRequest(nil, soupbin.LoginRequest{Username: user, Password: pass, Session: session, Sequence: seq})
	if err != nil {
		c.t.Fatal(err)
	}
	c.send(b)
}

// next returns the next packet, or an error (io.EOF when the server
// closed). The payload is a copy.
func (c *client) next() (soupbin.Packet, error) {
	for {
		p, n, err := soupbin.Parse(c.buf[c.r:c.w], soupbin.MaxPacket)
		if err != nil {
			return p, err
		}
		if n > 0 {
			c.r += n
			p.Payload = append([]byte(nil), p.Payload...)
			return p, nil
		}
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
		k, err := c.nc.Read(c.buf[c.w:])
		c.w += k
		if err != nil && k == 0 {
			return p, err
		}
	}
}

func (c *client) must() soupbin.Packet {
	c.t.Helper()
	p, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return p
}

// accepted reads the Login Accepted and returns its sequence number.
func (c *client) accepted(session string) uint64 {
	c.t.Helper()
	p := c.must()
	if p.Type != soupbin.TypeLoginAccepted {
		c.t.Fatalf("got %s %q, want login accepted", soupbin.TypeName(p.Type), p.Payload)
	}
	sess, seq, err := soupbin.ParseLoginAccepted(p.Payload)
	if err != nil || sess != session {
		c.t.Fatalf("login accepted %q: %q, %v", p.Payload, sess, err)
	}
	return seq
}

// sequenced reads sequenced packets, skipping heartbeats, until it has
// read the message with tracking number uint16(last), and returns them.
func (c *client) sequenced(last uint64) [][]byte {
	c.t.Helper()
	var out [][]byte
	for {
		p := c.must()
		switch p.Type {
		case soupbin.TypeServerHeartbeat:
			continue
		case soupbin.TypeSequenced:
		default:
			c.t.Fatalf("got %s %q, want sequenced data", soupbin.TypeName(p.Type), p.Payload)
		}
		out = append(out, p.Payload)
		if tracking(c.t, p.Payload) == uint16(last) {
			return out
		}
	}
}

// toEnd reads until End of Session and returns the sequenced data it
// read, skipping everything else.
func (c *client) toEnd() [][]byte {
	c.t.Helper()
	var out [][]byte
	for {
		p := c.must()
		switch p.Type {
		case soupbin.TypeEndOfSession:
			return out
		case soupbin.TypeSequenced:
			out = append(out, p.Payload)
		}
	}
}

// closed reads until the server closes, failing on sequenced data.
func (c *client) closed() {
	c.t.Helper()
	for {
		p, err := c.next()
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return
		}
		if err != nil {
			c.t.Fatalf("waiting for close: %v", err)
		}
		if p.Type == soupbin.TypeSequenced {
			c.t.Fatalf("sequenced data while waiting for close")
		}
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

func tracking(t testing.TB, msg []byte) uint16 {
	t.Helper()
	var m itch.Message
	if err := itch.Decode(msg, &m); err != nil {
		t.Fatalf("decode %x: %v", msg, err)
	}
	return m.TrackingNumber
}

// feedBook is a naive order-by-order book rebuilt from ITCH messages.
type feedBook struct {
	t       testing.TB
	orders  map[uint64]*feedOrder
	refs    map[uint64]bool
	match   uint64
	lastTS  uint64
	locates map[uint16]string
}

type feedOrder struct {
	locate uint16
	side   byte
	price  uint32
	shares uint64
}

func newFeedBook(t testing.TB) *feedBook {
	return &feedBook{t: t, orders: map[uint64]*feedOrder{}, refs: map[uint64]bool{}, locates: map[uint16]string{}}
}

// apply applies message seq; it checks the tracking number, timestamps,
// unique order refs and increasing match numbers on the way.
func (b *feedBook) apply(seq uint64, raw []byte) *itch.Message {
	t := b.t
	t.Helper()
	m := new(itch.Message)
	if err := itch.Decode(raw, m); err != nil {
		t.Fatalf("seq %d: %v", seq, err)
	}
	if m.TrackingNumber != uint16(seq) {
		t.Fatalf("seq %d: tracking %d", seq, m.TrackingNumber)
	}
	if m.Timestamp < b.lastTS {
		t.Fatalf("seq %d: timestamp went back", seq)
	}
	b.lastTS = m.Timestamp
	newOrder := func(ref uint64, o *feedOrder) {
		if b.refs[ref] {
			t.Fatalf("seq %d: order ref %d reused", seq, ref)
		}
		b.refs[ref] = true
		b.orders[ref] = o
	}
	get := func(ref uint64) *feedOrder {
		o, ok := b.orders[ref]
		if !ok || o.locate != m.StockLocate {
			t.Fatalf("seq %d: %c for unknown ref %d", seq, m.Type, ref)
		}
		return o
	}
	switch m.Type {
	case itch.TypeStockDirectory:
		b.locates[m.StockLocate] = m.Symbol()
	case itch.TypeAddOrder:
		if _, ok := b.locates[m.StockLocate]; !ok {
			t.Fatalf("seq %d: add before stock directory of locate %d", seq, m.StockLocate)
		}
		newOrder(m.OrderRef, &feedOrder{locate: m.StockLocate, side: m.Side, price: m.Price, shares: m.Shares})
	case itch.TypeOrderExecuted, itch.TypeOrderCancel:
		o := get(m.OrderRef)
		if m.Shares == 0 || m.Shares > o.shares {
			t.Fatalf("seq %d: %c of %d from %d", seq, m.Type, m.Shares, o.shares)
		}
		o.shares -= m.Shares
		if m.Type == itch.TypeOrderExecuted {
			if m.MatchNumber <= b.match {
				t.Fatalf("seq %d: match number %d after %d", seq, m.MatchNumber, b.match)
			}
			b.match = m.MatchNumber
		}
		if o.shares == 0 {
			delete(b.orders, m.OrderRef)
		}
	case itch.TypeOrderDelete:
		get(m.OrderRef)
		delete(b.orders, m.OrderRef)
	case itch.TypeOrderReplace:
		o := get(m.OrderRef)
		delete(b.orders, m.OrderRef)
		newOrder(m.NewOrderRef, &feedOrder{locate: o.locate, side: o.side, price: m.Price, shares: m.Shares})
	}
	return m
}

// depth aggregates the book of locate into levels, best first.
func (b *feedBook) depth(locate uint16) (bids, asks []match.Level) {
	agg := map[[2]int64]*match.Level{}
	for _, o := range b.orders {
		if o.locate != locate {
			continue
		}
		k := [2]int64{int64(o.side), int64(o.price)}
		l, ok := agg[k]
		if !ok {
			l = &match.Level{Price: refdata.Price(o.price)}
			agg[k] = l
		}
		l.Qty += int64(o.shares)
		l.Orders++
	}
	for k, l := range agg {
		if k[0] == int64(itch.SideBuy) {
			bids = append(bids, *l)
		} else {
			asks = append(asks, *l)
		}
	}
	sort.Slice(bids, func(i, j int) bool { return bids[i].Price > bids[j].Price })
	sort.Slice(asks, func(i, j int) bool { return asks[i].Price < asks[j].Price })
	return bids, asks
}

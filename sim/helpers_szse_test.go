package sim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"sort"
	"testing"
	"time"

	"sgw/feed/szse"
	"sgw/refdata"
	"sgw/sim/match"
)

// szseInstruments are testInstruments with a second ".SZ" instrument, so
// that the SZSE channel carries two securities.
func szseInstruments() []refdata.Instrument {
	return append(testInstruments(), refdata.Instrument{Symbol: "000001.SZ", Board: refdata.BoardMain, PrevClose: 115000})
}

// szseTestConfig is testConfig in SZSE mode with no timed snapshots.
func szseTestConfig() Config {
	cfg := testConfig()
	cfg.Instruments = szseInstruments()
	cfg.SZSE = SZSEConfig{Enabled: true, SnapshotInterval: -1}
	return cfg
}

// szseClient is a raw SZSE Binary client for tests. It shares only the
// codec with the simulator.
type szseClient struct {
	t    *testing.T
	nc   net.Conn
	buf  []byte
	r, w int
	m    szse.Message
}

func dialSZSE(t *testing.T, addr net.Addr) *szseClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr.String(), ioTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	return &szseClient{t: t, nc: nc, buf: make([]byte, 1<<20)}
}

func dialSZSETLS(t *testing.T, addr net.Addr, caPEM []byte) *szseClient {
	t.Helper()
	c := dialSZSE(t, addr)
	pool := x509Pool(t, caPEM)
	c.nc = tls.Client(c.nc, &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	t.Cleanup(func() { c.nc.Close() })
	return c
}

func (c *szseClient) send(b []byte) {
	c.t.Helper()
	c.nc.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

func logonFrame(sender, target, password string, heartBtInt int32, version string) []byte {
	var l szse.Logon
	szse.PutString(l.SenderCompID[:], sender)
	szse.PutString(l.TargetCompID[:], target)
	szse.PutString(l.Password[:], password)
	szse.PutString(l.DefaultApplVerID[:], version)
	l.HeartBtInt = heartBtInt
	return szse.AppendLogon(nil, &l)
}

func reTransmitFrame(resendType uint8, channel uint16, beg, end int64) []byte {
	r := szse.ReTransmit{ResendType: resendType, ChannelNo: channel, ApplBegSeqNum: beg, ApplEndSeqNum: end}
	szse.PutString(r.NewsID[:], "")
	szse.PutString(r.RejectText[:], "")
	return szse.AppendReTransmit(nil, &r)
}

func logoutFrame() []byte {
	var l szse.Logout
	szse.PutString(l.Text[:], "")
	return szse.AppendLogout(nil, &l)
}

// logon sends a Logon that the default test configuration accepts and
// reads the answer.
func (c *szseClient) logon() szse.Logon {
	c.t.Helper()
	c.send(logonFrame("GW", "", "", 5, "1.02"))
	return c.logonAnswer()
}

// logonAnswer reads the Logon answer.
func (c *szseClient) logonAnswer() szse.Logon {
	c.t.Helper()
	_, m := c.must()
	if m.Type != szse.TypeLogon {
		c.t.Fatalf("got %s, want a logon", m.Type)
	}
	return m.Logon
}

// next returns the next frame (a copy) and its decoding, which is valid
// until the next call; err is io.EOF (or a reset) when the server closed,
// or the codec's error.
func (c *szseClient) next() ([]byte, *szse.Message, error) {
	for {
		n, err := szse.Decode(c.buf[c.r:c.w], &c.m)
		if err == nil {
			raw := append([]byte(nil), c.buf[c.r:c.r+n]...)
			c.r += n
			return raw, &c.m, nil
		}
		if !errors.Is(err, szse.ErrTruncated) {
			return nil, nil, err
		}
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		c.nc.SetReadDeadline(time.Now().Add(ioTimeout))
		k, err := c.nc.Read(c.buf[c.w:])
		c.w += k
		if err != nil && k == 0 {
			return nil, nil, err
		}
	}
}

func (c *szseClient) must() ([]byte, *szse.Message) {
	c.t.Helper()
	raw, m, err := c.next()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return raw, m
}

// data reads frames, skipping Heartbeats and ChannelHeartbeats, until fn
// returns true for one of them.
func (c *szseClient) data(fn func(raw []byte, m *szse.Message) bool) {
	c.t.Helper()
	for {
		raw, m := c.must()
		switch m.Type {
		case szse.TypeHeartbeat, szse.TypeChannelHeartbeat:
			continue
		}
		if fn(raw, m) {
			return
		}
	}
}

// records reads the live stream until the record with ApplSeqNum last and
// returns the records, skipping snapshots.
func (c *szseClient) records(last int64) [][]byte {
	c.t.Helper()
	var out [][]byte
	if last == 0 {
		return nil
	}
	c.data(func(raw []byte, m *szse.Message) bool {
		seq, ok := applSeqNum(m)
		if !ok {
			return false
		}
		out = append(out, raw)
		return seq == last
	})
	return out
}

// want reads the next frame of type t, skipping heartbeats, channel
// heartbeats and snapshots (unless t is one of them); any other frame
// fails the test.
func (c *szseClient) want(t szse.MsgType) *szse.Message {
	c.t.Helper()
	for {
		_, m := c.must()
		switch {
		case m.Type == t:
			return m
		case m.Type == szse.TypeHeartbeat, m.Type == szse.TypeChannelHeartbeat, m.Type == szse.TypeSnapshot:
			continue
		}
		c.t.Fatalf("got %s, want %s", m.Type, t)
	}
}

// closed reads until the server closes, failing on records.
func (c *szseClient) closed() {
	c.t.Helper()
	for {
		_, m, err := c.next()
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err) {
			return
		}
		if err != nil {
			c.t.Fatalf("waiting for close: %v", err)
		}
		if _, ok := applSeqNum(m); ok {
			c.t.Fatalf("record while waiting for close")
		}
	}
}

// applSeqNum returns the ApplSeqNum of an order or trade.
func applSeqNum(m *szse.Message) (int64, bool) {
	switch m.Type {
	case szse.TypeOrder:
		return m.Order.ApplSeqNum, true
	case szse.TypeTrade:
		return m.Trade.ApplSeqNum, true
	}
	return 0, false
}

// seqOf returns the ApplSeqNum of a record frame.
func seqOf(t testing.TB, frame []byte) int64 {
	t.Helper()
	var m szse.Message
	if _, err := szse.Decode(frame, &m); err != nil {
		t.Fatalf("decode: %v", err)
	}
	seq, ok := applSeqNum(&m)
	if !ok {
		t.Fatalf("%s is not a record", m.Type)
	}
	return seq
}

// refBook is a reference order-by-order book of the SZSE channel, written
// from the protocol description: limit orders are added by their 300192,
// trades reduce both orders they name, cancels reduce the one they name;
// an aggressor is on the book from its 300192 until its trades and its
// cancel reduce it. It checks the ApplSeqNum sequence and that every
// trade names orders announced before it.
type refBook struct {
	t      testing.TB
	next   int64
	orders map[int64]*refOrder
	stats  map[[8]byte]*refStats
}

type refOrder struct {
	id    [8]byte
	side  byte
	price int64
	qty   int64 // N15(2)
}

type refStats struct {
	trades                int64
	volume, value         int64 // N15(2) and refdata.Price × shares
	last, open, high, low int64
}

func newRefBook(t testing.TB) *refBook {
	return &refBook{t: t, next: 1, orders: map[int64]*refOrder{}, stats: map[[8]byte]*refStats{}}
}

// apply applies one record; it returns false for frames that are not
// records.
func (b *refBook) apply(m *szse.Message) bool {
	t := b.t
	t.Helper()
	seq, ok := applSeqNum(m)
	if !ok {
		return false
	}
	if seq != b.next {
		t.Fatalf("ApplSeqNum %d, want %d", seq, b.next)
	}
	b.next++
	reduce := func(ref int64, qty int64) *refOrder {
		o, ok := b.orders[ref]
		if !ok {
			t.Fatalf("record %d names order %d, which is not on the book", seq, ref)
		}
		if qty <= 0 || qty > o.qty {
			t.Fatalf("record %d takes %d from order %d of %d", seq, qty, ref, o.qty)
		}
		o.qty -= qty
		if o.qty == 0 {
			delete(b.orders, ref)
		}
		return o
	}
	switch m.Type {
	case szse.TypeOrder:
		o := m.Order
		if o.OrdType != szse.OrdTypeLimit || (o.Side != szse.SideBuy && o.Side != szse.SideSell) || o.OrderQty <= 0 || o.Price <= 0 {
			t.Fatalf("order %d: %+v", seq, o)
		}
		if string(o.MDStreamID[:]) != "011" || string(o.SecurityIDSource[:]) != "102 " {
			t.Fatalf("order %d: stream %q source %q", seq, o.MDStreamID, o.SecurityIDSource)
		}
		b.orders[seq] = &refOrder{id: o.SecurityID, side: o.Side, price: int64(o.Price), qty: int64(o.OrderQty)}
	case szse.TypeTrade:
		tr := m.Trade
		switch tr.ExecType {
		case szse.ExecTypeTrade:
			bid, offer := b.orders[tr.BidApplSeqNum], b.orders[tr.OfferApplSeqNum]
			if bid == nil || offer == nil || bid.side != szse.SideBuy || offer.side != szse.SideSell || bid.id != tr.SecurityID || offer.id != tr.SecurityID {
				t.Fatalf("trade %d names %d and %d: %+v / %+v", seq, tr.BidApplSeqNum, tr.OfferApplSeqNum, bid, offer)
			}
			resting := bid // the earlier order sets the price
			if tr.OfferApplSeqNum < tr.BidApplSeqNum {
				resting = offer
			}
			if int64(tr.LastPx) != resting.price {
				t.Fatalf("trade %d at %d, resting order at %d", seq, tr.LastPx, resting.price)
			}
			reduce(tr.BidApplSeqNum, int64(tr.LastQty))
			reduce(tr.OfferApplSeqNum, int64(tr.LastQty))
			st := b.stats[tr.SecurityID]
			if st == nil {
				st = &refStats{open: int64(tr.LastPx), high: int64(tr.LastPx), low: int64(tr.LastPx)}
				b.stats[tr.SecurityID] = st
			}
			px, shares := int64(tr.LastPx), int64(tr.LastQty)/100
			st.trades++
			st.volume += int64(tr.LastQty)
			st.value += px * shares
			st.last, st.high, st.low = px, max(st.high, px), min(st.low, px)
		case szse.ExecTypeCancel:
			if tr.LastPx != 0 || (tr.BidApplSeqNum == 0) == (tr.OfferApplSeqNum == 0) {
				t.Fatalf("cancel %d: %+v", seq, tr)
			}
			o := reduce(tr.BidApplSeqNum+tr.OfferApplSeqNum, int64(tr.LastQty))
			if (o.side == szse.SideBuy) != (tr.BidApplSeqNum != 0) || o.id != tr.SecurityID {
				t.Fatalf("cancel %d names its order on the wrong side or security: %+v", seq, tr)
			}
		default:
			t.Fatalf("trade %d: ExecType %q", seq, tr.ExecType)
		}
	}
	return true
}

// depth aggregates the book of security id into levels, best first, in
// shares and refdata.Price units.
func (b *refBook) depth(id [8]byte) (bids, asks []match.Level) {
	agg := map[[2]int64]*match.Level{}
	for _, o := range b.orders {
		if o.id != id {
			continue
		}
		k := [2]int64{int64(o.side), o.price}
		l, ok := agg[k]
		if !ok {
			l = &match.Level{Price: refdata.Price(o.price)}
			agg[k] = l
		}
		l.Qty += o.qty / 100
		l.Orders++
	}
	for k, l := range agg {
		if k[0] == int64(szse.SideBuy) {
			bids = append(bids, *l)
		} else {
			asks = append(asks, *l)
		}
	}
	sort.Slice(bids, func(i, j int) bool { return bids[i].Price > bids[j].Price })
	sort.Slice(asks, func(i, j int) bool { return asks[i].Price < asks[j].Price })
	return bids, asks
}

// queue returns the N15(2) quantities of the orders at price on side of
// id, in ApplSeqNum order (time priority).
func (b *refBook) queue(id [8]byte, side byte, price int64) []szse.Qty2 {
	var seqs []int64
	for seq, o := range b.orders {
		if o.id == id && o.side == side && o.price == price {
			seqs = append(seqs, seq)
		}
	}
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	var q []szse.Qty2
	for _, seq := range seqs {
		q = append(q, szse.Qty2(b.orders[seq].qty))
	}
	return q
}

// top cuts levels to n.
func top(ls []match.Level, n int) []match.Level {
	if len(ls) > n {
		return ls[:n]
	}
	return ls
}

// sid returns the SecurityID field of a feed symbol.
func sid(s string) [8]byte {
	var id [8]byte
	szse.PutString(id[:], s)
	return id
}

// snapshotLevels returns the bid and offer levels of a snapshot, checking
// the level numbers, in shares and refdata.Price units.
func snapshotLevels(t testing.TB, s *szse.Snapshot) (bids, asks []match.Level) {
	t.Helper()
	for _, e := range s.Entries {
		var dst *[]match.Level
		switch string(e.MDEntryType[:]) {
		case szse.EntryBid:
			dst = &bids
		case szse.EntryOffer:
			dst = &asks
		default:
			continue
		}
		if int(e.MDPriceLevel) != len(*dst)+1 {
			t.Fatalf("%s entry at level %d after %d", e.MDEntryType, e.MDPriceLevel, len(*dst))
		}
		px, exact := e.MDEntryPx.Price()
		shares, whole := e.MDEntrySize.Shares()
		if !exact || !whole {
			t.Fatalf("entry %+v is not on the scale", e)
		}
		*dst = append(*dst, match.Level{Price: px, Qty: shares, Orders: int(e.NumberOfOrders)})
	}
	return bids, asks
}

// frameType returns the MsgType in a frame's header.
func frameType(b []byte) szse.MsgType { return szse.MsgType(binary.BigEndian.Uint32(b)) }

func x509Pool(t testing.TB, caPEM []byte) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		t.Fatal("bad CA PEM")
	}
	return pool
}

package szse_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sgw/feed/szse"
)

// chars returns s as a char field of type A, left-justified and padded
// with spaces.
func chars[A ~[2]byte | ~[3]byte | ~[4]byte | ~[8]byte | ~[16]byte | ~[20]byte | ~[32]byte | ~[200]byte](s string) A {
	var a A
	b := bytes.Repeat([]byte{' '}, len(a))
	if len(s) > len(b) {
		panic(fmt.Sprintf("chars: %q longer than %d bytes", s, len(b)))
	}
	copy(b, s)
	return A(b)
}

// readFrame reads testdata/name: hex bytes, any number per line, with
// comments from '#' to the end of the line.
func readFrame(tb testing.TB, name string) []byte {
	tb.Helper()
	text, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		tb.Fatal(err)
	}
	var digits strings.Builder
	for line := range strings.Lines(string(text)) {
		line, _, _ = strings.Cut(line, "#")
		for _, f := range strings.Fields(line) {
			digits.WriteString(f)
		}
	}
	b, err := hex.DecodeString(digits.String())
	if err != nil {
		tb.Fatalf("%s: %v", name, err)
	}
	return b
}

// frameFiles returns the names of the frames in testdata.
func frameFiles(tb testing.TB) []string {
	tb.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", "*.hex"))
	if err != nil || len(names) == 0 {
		tb.Fatalf("no frames in testdata: %v", err)
	}
	for i, n := range names {
		names[i] = filepath.Base(n)
	}
	return names
}

// equalMessage reports whether a and b are equal in Type and in the field
// Type names, treating nil and empty slices alike.
func equalMessage(a, b *szse.Message) bool {
	if a.Type != b.Type {
		return false
	}
	switch a.Type {
	case szse.TypeOrder:
		return a.Order == b.Order
	case szse.TypeTrade:
		return a.Trade == b.Trade
	case szse.TypeSnapshot:
		return equalSnapshot(&a.Snapshot, &b.Snapshot)
	case szse.TypeChannelHeartbeat:
		return a.ChannelHeartbeat == b.ChannelHeartbeat
	case szse.TypeHeartbeat:
		return true
	case szse.TypeLogon:
		return a.Logon == b.Logon
	case szse.TypeLogout:
		return a.Logout == b.Logout
	case szse.TypeReTransmit:
		return a.ReTransmit == b.ReTransmit
	}
	return false
}

func equalSnapshot(a, b *szse.Snapshot) bool {
	return a.OrigTime == b.OrigTime && a.ChannelNo == b.ChannelNo && a.MDStreamID == b.MDStreamID &&
		a.SecurityID == b.SecurityID && a.SecurityIDSource == b.SecurityIDSource &&
		a.TradingPhaseCode == b.TradingPhaseCode && a.PrevClosePx == b.PrevClosePx && a.NumTrades == b.NumTrades &&
		a.TotalVolumeTrade == b.TotalVolumeTrade && a.TotalValueTrade == b.TotalValueTrade && slices.EqualFunc(a.Entries, b.Entries, func(e, f szse.MDEntry) bool {
		return e.MDEntryType == f.MDEntryType && e.MDEntryPx == f.MDEntryPx && e.MDEntrySize == f.MDEntrySize &&
			e.MDPriceLevel == f.MDPriceLevel && e.NumberOfOrders == f.NumberOfOrders && slices.Equal(e.Orders, f.Orders)
	})
}

// show formats the field of m that m.Type names, for failure messages.
func show(m *szse.Message) string {
	switch m.Type {
	case szse.TypeOrder:
		return fmt.Sprintf("%v %+v", m.Type, m.Order)
	case szse.TypeTrade:
		return fmt.Sprintf("%v %+v", m.Type, m.Trade)
	case szse.TypeSnapshot:
		return fmt.Sprintf("%v %+v", m.Type, m.Snapshot)
	case szse.TypeChannelHeartbeat:
		return fmt.Sprintf("%v %+v", m.Type, m.ChannelHeartbeat)
	case szse.TypeLogon:
		return fmt.Sprintf("%v %+v", m.Type, m.Logon)
	case szse.TypeLogout:
		return fmt.Sprintf("%v %+v", m.Type, m.Logout)
	case szse.TypeReTransmit:
		return fmt.Sprintf("%v %+v", m.Type, m.ReTransmit)
	}
	return m.Type.String()
}

// samples returns one message of every type, every field set to a
// distinct value, including extremes of the integer fields and non-ASCII
// bytes in char fields.
func samples() []struct {
	name string
	m    szse.Message
} {
	gbk := [200]byte{0xb2, 0xe2, 0xca, 0xd4} // "测试" in GBK, then zeros
	return []struct {
		name string
		m    szse.Message
	}{
		{name: "order", m: szse.Message{Type: szse.TypeOrder, Order: szse.Order{
			ChannelNo: 2011, ApplSeqNum: 1001, MDStreamID: chars[[3]byte]("011"),
			SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			Price: 123400, OrderQty: 100000, Side: szse.SideBuy, TransactTime: 20240315093000120,
			OrdType: szse.OrdTypeLimit}}},
		{name: "order extremes", m: szse.Message{Type: szse.TypeOrder, Order: szse.Order{
			ChannelNo: math.MaxUint16, ApplSeqNum: math.MaxInt64, MDStreamID: [3]byte{0xff, 0, 0x80},
			SecurityID: [8]byte{0xff, 0xfe}, SecurityIDSource: [4]byte{1, 2, 3, 4},
			Price: math.MinInt64, OrderQty: -1, Side: 0xff, TransactTime: -1, OrdType: 0}}},
		{name: "trade", m: szse.Message{Type: szse.TypeTrade, Trade: szse.Trade{
			ChannelNo: 2011, ApplSeqNum: 1003, MDStreamID: chars[[3]byte]("011"), BidApplSeqNum: 1001,
			OfferApplSeqNum: 1002, SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			LastPx: 123400, LastQty: 50000, ExecType: szse.ExecTypeTrade, TransactTime: 20240315093000125}}},
		{name: "cancel", m: szse.Message{Type: szse.TypeTrade, Trade: szse.Trade{
			ChannelNo: 1, ApplSeqNum: math.MinInt64, MDStreamID: chars[[3]byte]("011"), OfferApplSeqNum: math.MaxInt64,
			SecurityID: chars[[8]byte]("159915"), SecurityIDSource: chars[[4]byte]("102"), LastQty: 1,
			ExecType: szse.ExecTypeCancel, TransactTime: 99991231235960999}}},
		{name: "snapshot", m: szse.Message{Type: szse.TypeSnapshot, Snapshot: szse.Snapshot{
			OrigTime: 20240315093003000, ChannelNo: 1011, MDStreamID: chars[[3]byte]("010"),
			SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			TradingPhaseCode: chars[[8]byte]("T0"), PrevClosePx: 122000, NumTrades: 2, TotalVolumeTrade: 100000,
			TotalValueTrade: 123400000, Entries: []szse.MDEntry{
				{MDEntryType: chars[[2]byte]("2"), MDEntryPx: 12340000},
				{MDEntryType: chars[[2]byte]("0"), MDEntryPx: 12330000, MDEntrySize: 30000, MDPriceLevel: 1,
					NumberOfOrders: 2, Orders: []szse.Qty2{10000, 20000}},
				{MDEntryType: chars[[2]byte]("1"), MDEntryPx: math.MaxInt64, MDEntrySize: math.MinInt64,
					MDPriceLevel: math.MaxUint16, NumberOfOrders: -1, Orders: []szse.Qty2{-1}},
			}}}},
		{name: "snapshot without entries", m: szse.Message{Type: szse.TypeSnapshot, Snapshot: szse.Snapshot{
			OrigTime: 1, ChannelNo: 2, MDStreamID: [3]byte{3}, SecurityID: [8]byte{4}, SecurityIDSource: [4]byte{5},
			TradingPhaseCode: [8]byte{6}, PrevClosePx: 7, NumTrades: 8, TotalVolumeTrade: 9, TotalValueTrade: 10}}},
		{name: "channel heartbeat", m: szse.Message{Type: szse.TypeChannelHeartbeat, ChannelHeartbeat: szse.ChannelHeartbeat{
			ChannelNo: 2011, ApplLastSeqNum: 1 << 40, EndOfChannel: 1}}},
		{name: "heartbeat", m: szse.Message{Type: szse.TypeHeartbeat}},
		{name: "logon", m: szse.Message{Type: szse.TypeLogon, Logon: szse.Logon{
			SenderCompID: chars[[20]byte]("VSS"), TargetCompID: chars[[20]byte]("VDE"), HeartBtInt: -30,
			Password: chars[[16]byte]("secret"), DefaultApplVerID: chars[[32]byte]("1.02")}}},
		{name: "logout", m: szse.Message{Type: szse.TypeLogout, Logout: szse.Logout{SessionStatus: 101, Text: gbk}}},
		{name: "retransmit", m: szse.Message{Type: szse.TypeReTransmit, ReTransmit: szse.ReTransmit{
			ResendType: szse.ResendTypeNews, ChannelNo: 2011, ApplBegSeqNum: -2, ApplEndSeqNum: math.MaxInt64,
			NewsID: chars[[8]byte]("N0001"), ResendStatus: szse.ResendStatusPartial,
			RejectText: chars[[16]byte]("partial")}}},
	}
}

// TestLayout decodes the frames in testdata, assembled by hand from the
// field tables of the spec (see the package documentation) with checksums
// computed apart from this package, and checks that Append of the
// expected message gives the same bytes, so a mistake shared by Decode
// and Append still shows.
func TestLayout(t *testing.T) {
	tests := []struct {
		file string
		want szse.Message
	}{
		{file: "order.hex", want: szse.Message{Type: szse.TypeOrder, Order: szse.Order{
			ChannelNo: 2011, ApplSeqNum: 1001, MDStreamID: chars[[3]byte]("011"),
			SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			Price: 123400, OrderQty: 100000, Side: '1', TransactTime: 20240315093000120, OrdType: '2'}}},
		{file: "order_market_sell.hex", want: szse.Message{Type: szse.TypeOrder, Order: szse.Order{
			ChannelNo: 2012, ApplSeqNum: 7, MDStreamID: chars[[3]byte]("011"),
			SecurityID: chars[[8]byte]("300750"), SecurityIDSource: chars[[4]byte]("102"),
			Price: 0, OrderQty: 20000, Side: '2', TransactTime: 20240315145659999, OrdType: '1'}}},
		{file: "trade.hex", want: szse.Message{Type: szse.TypeTrade, Trade: szse.Trade{
			ChannelNo: 2011, ApplSeqNum: 1003, MDStreamID: chars[[3]byte]("011"), BidApplSeqNum: 1001,
			OfferApplSeqNum: 1002, SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			LastPx: 123400, LastQty: 50000, ExecType: 'F', TransactTime: 20240315093000125}}},
		{file: "cancel.hex", want: szse.Message{Type: szse.TypeTrade, Trade: szse.Trade{
			ChannelNo: 2011, ApplSeqNum: 1004, MDStreamID: chars[[3]byte]("011"), OfferApplSeqNum: 1002,
			SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			LastQty: 50000, ExecType: '4', TransactTime: 20240315093001000}}},
		{file: "channel_heartbeat.hex", want: szse.Message{Type: szse.TypeChannelHeartbeat,
			ChannelHeartbeat: szse.ChannelHeartbeat{ChannelNo: 2011, ApplLastSeqNum: 1004}}},
		{file: "heartbeat.hex", want: szse.Message{Type: szse.TypeHeartbeat}},
		{file: "logon.hex", want: szse.Message{Type: szse.TypeLogon, Logon: szse.Logon{
			SenderCompID: chars[[20]byte]("VSS"), TargetCompID: chars[[20]byte]("VDE"), HeartBtInt: 30,
			Password: chars[[16]byte](""), DefaultApplVerID: chars[[32]byte]("1.02")}}},
		{file: "logout.hex", want: szse.Message{Type: szse.TypeLogout, Logout: szse.Logout{
			SessionStatus: 4, Text: chars[[200]byte]("bye")}}},
		{file: "retransmit.hex", want: szse.Message{Type: szse.TypeReTransmit, ReTransmit: szse.ReTransmit{
			ResendType: 1, ChannelNo: 2011, ApplBegSeqNum: 900, ApplEndSeqNum: 1000,
			NewsID: chars[[8]byte](""), RejectText: chars[[16]byte]("")}}},
		{file: "retransmit_denied.hex", want: szse.Message{Type: szse.TypeReTransmit, ReTransmit: szse.ReTransmit{
			ResendType: 1, ChannelNo: 2011, ApplBegSeqNum: 900, ApplEndSeqNum: 1000,
			NewsID: chars[[8]byte](""), ResendStatus: 3, RejectText: chars[[16]byte]("E001")}}},
		{file: "snapshot.hex", want: szse.Message{Type: szse.TypeSnapshot, Snapshot: szse.Snapshot{
			OrigTime: 20240315093003000, ChannelNo: 1011, MDStreamID: chars[[3]byte]("010"),
			SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"),
			TradingPhaseCode: chars[[8]byte]("T0"), PrevClosePx: 122000, NumTrades: 2,
			TotalVolumeTrade: 100000, TotalValueTrade: 123400000, Entries: []szse.MDEntry{
				{MDEntryType: chars[[2]byte]("2"), MDEntryPx: 12340000},
				{MDEntryType: chars[[2]byte]("0"), MDEntryPx: 12330000, MDEntrySize: 30000, MDPriceLevel: 1,
					NumberOfOrders: 2, Orders: []szse.Qty2{10000, 20000}},
				{MDEntryType: chars[[2]byte]("1"), MDEntryPx: 12350000, MDEntrySize: 50000, MDPriceLevel: 1,
					NumberOfOrders: 3},
				{MDEntryType: chars[[2]byte]("x3"), MDEntryPx: 12345678, MDEntrySize: 30000},
			}}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			wire := readFrame(t, tt.file)
			var got szse.Message
			n, err := szse.Decode(wire, &got)
			if err != nil {
				t.Fatal(err)
			}
			if n != len(wire) {
				t.Errorf("n = %d, want %d", n, len(wire))
			}
			if !equalMessage(&got, &tt.want) {
				t.Errorf("decoded\n%s\nwant\n%s", show(&got), show(&tt.want))
			}
			enc, err := szse.Append(nil, &tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, wire) {
				t.Errorf("encoded\n% x\nwant\n% x", enc, wire)
			}
		})
	}
}

func TestLayoutUnknownType(t *testing.T) {
	wire := readFrame(t, "unknown_security_status.hex")
	m := szse.Message{Type: szse.TypeOrder, Order: szse.Order{ApplSeqNum: 5}}
	n, err := szse.Decode(wire, &m)
	if err != szse.ErrUnknownType {
		t.Fatalf("err = %v, want ErrUnknownType itself", err)
	}
	if n != len(wire) {
		t.Errorf("n = %d, want the frame's %d bytes", n, len(wire))
	}
	if m.Type != 390013 || m.Order.ApplSeqNum != 5 {
		t.Errorf("message %v %+v, want type 390013 and the order untouched", m.Type, m.Order)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range samples() {
		t.Run(tt.name, func(t *testing.T) {
			b, err := szse.Append([]byte("pre"), &tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:3]) != "pre" {
				t.Fatalf("prefix overwritten: %q", b[:3])
			}
			b = b[3:]
			// Decode into a message holding other values to check the
			// field the type names is overwritten whole.
			got := junk()
			n, err := szse.Decode(append(b, 0xee), &got) // a byte of the next frame
			if err != nil {
				t.Fatal(err)
			}
			if n != len(b) {
				t.Errorf("n = %d, want %d", n, len(b))
			}
			if !equalMessage(&got, &tt.m) {
				t.Errorf("decoded\n%s\nwant\n%s", show(&got), show(&tt.m))
			}
		})
	}
}

// junk returns a message with every field set.
func junk() szse.Message {
	var m szse.Message
	for _, s := range samples() {
		switch s.m.Type {
		case szse.TypeOrder:
			m.Order = s.m.Order
		case szse.TypeTrade:
			m.Trade = s.m.Trade
		case szse.TypeSnapshot:
			m.Snapshot = s.m.Snapshot
		case szse.TypeChannelHeartbeat:
			m.ChannelHeartbeat = s.m.ChannelHeartbeat
		case szse.TypeLogon:
			m.Logon = s.m.Logon
		case szse.TypeLogout:
			m.Logout = s.m.Logout
		case szse.TypeReTransmit:
			m.ReTransmit = s.m.ReTransmit
		}
	}
	m.Order.Side = 'j'
	m.Trade.ExecType = 'j'
	m.Snapshot.NumTrades = -7
	m.Type = 0xdead
	return m
}

// TestStream decodes a stream of every sample and the testdata frames, cut
// into reads at every possible point, as a feed reader would: ErrTruncated
// until a frame is whole, unknown types skipped.
func TestStream(t *testing.T) {
	var stream []byte
	var want []szse.Message
	for _, s := range samples() {
		var err error
		if stream, err = szse.Append(stream, &s.m); err != nil {
			t.Fatal(err)
		}
		want = append(want, s.m)
	}
	unknown := readFrame(t, "unknown_security_status.hex")
	stream = append(stream, unknown...)
	stream = append(stream, readFrame(t, "order.hex")...)
	var order szse.Message
	if _, err := szse.Decode(readFrame(t, "order.hex"), &order); err != nil {
		t.Fatal(err)
	}
	want = append(want, order)

	for _, cut := range []int{1, 7, 8, 13, 64, 1000} {
		t.Run(fmt.Sprintf("reads of %d", cut), func(t *testing.T) {
			var buf []byte
			var m szse.Message
			got, skipped := 0, 0
			for off := 0; off < len(stream); {
				end := min(off+cut, len(stream))
				buf = append(buf, stream[off:end]...)
				off = end
				for {
					n, err := szse.Decode(buf, &m)
					if errors.Is(err, szse.ErrTruncated) {
						if n != 0 {
							t.Fatalf("ErrTruncated with n = %d", n)
						}
						break
					}
					switch {
					case errors.Is(err, szse.ErrUnknownType):
						skipped++
					case err != nil:
						t.Fatalf("message %d: %v", got, err)
					default:
						if got >= len(want) || !equalMessage(&m, &want[got]) {
							t.Fatalf("message %d: %s", got, show(&m))
						}
						got++
					}
					buf = buf[n:]
				}
			}
			if got != len(want) || skipped != 1 || len(buf) != 0 {
				t.Errorf("decoded %d, skipped %d, %d bytes left; want %d, 1, 0", got, skipped, len(buf), len(want))
			}
		})
	}
}

func TestMsgTypeString(t *testing.T) {
	tests := []struct {
		typ  szse.MsgType
		want string
	}{
		{typ: szse.TypeOrder, want: "order"},
		{typ: szse.TypeTrade, want: "trade"},
		{typ: szse.TypeSnapshot, want: "snapshot"},
		{typ: szse.TypeChannelHeartbeat, want: "channel-heartbeat"},
		{typ: szse.TypeReTransmit, want: "retransmit"},
		{typ: szse.TypeLogon, want: "logon"},
		{typ: szse.TypeLogout, want: "logout"},
		{typ: szse.TypeHeartbeat, want: "heartbeat"},
		{typ: 309011, want: "unknown(309011)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.typ.String(); got != tt.want {
				t.Errorf("String() = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestNoAllocations checks the steady state of a reader and a writer
// allocates nothing: decoding every kind of frame (a snapshot after the
// first), truncated input, unknown types, and appending into a buffer
// with room.
func TestNoAllocations(t *testing.T) {
	var stream []byte
	for _, s := range samples() {
		var err error
		if stream, err = szse.Append(stream, &s.m); err != nil {
			t.Fatal(err)
		}
	}
	stream = append(stream, readFrame(t, "snapshot.hex")...)
	stream = append(stream, readFrame(t, "unknown_security_status.hex")...)
	var m szse.Message
	decodeAll := func() {
		for b := stream; len(b) > 0; {
			n, err := szse.Decode(b, &m)
			if err != nil && err != szse.ErrUnknownType {
				t.Fatal(err)
			}
			if _, err := szse.Decode(b[:n-1], &m); err != szse.ErrTruncated {
				t.Fatal(err)
			}
			b = b[n:]
		}
	}
	decodeAll() // grows the snapshot storage once
	if a := testing.AllocsPerRun(100, decodeAll); a != 0 {
		t.Errorf("Decode: %v allocations per stream, want 0", a)
	}
	buf := make([]byte, 0, 4096)
	msgs := samples()
	if a := testing.AllocsPerRun(100, func() {
		buf = buf[:0]
		for i := range msgs {
			var err error
			if buf, err = szse.Append(buf, &msgs[i].m); err != nil {
				t.Fatal(err)
			}
		}
	}); a != 0 {
		t.Errorf("Append: %v allocations per stream, want 0", a)
	}
}

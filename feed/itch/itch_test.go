package itch_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"sgw/feed/itch"
)

// stock returns sym as a Stock field or fails the test.
func stock(tb testing.TB, sym string) [8]byte {
	tb.Helper()
	s, err := itch.StockOf(sym)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// unhex decodes a hex string that may contain spaces between fields.
func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// samples returns one message of every type with every field of the type
// set to a distinct non-zero value.
func samples(tb testing.TB) []struct {
	name string
	m    itch.Message
} {
	tb.Helper()
	const ts = 34200_000_000_123 // 09:30:00.000000123
	s := stock(tb, "600000")
	return []struct {
		name string
		m    itch.Message
	}{
		{name: "system event", m: itch.Message{Type: itch.TypeSystemEvent, TrackingNumber: 1, Timestamp: ts, EventCode: 'O'}},
		{name: "stock directory", m: itch.Message{Type: itch.TypeStockDirectory, StockLocate: 7, TrackingNumber: 2,
			Timestamp: ts, Stock: s, MarketCategory: 'Q', FinancialStatus: 'N', RoundLotSize: 100, RoundLotsOnly: 'N',
			IssueClassification: 'C', IssueSubType: [2]byte{'Z', ' '}, Authenticity: 'P', ShortSaleThreshold: 'N',
			IPOFlag: 'N', LULDRefPriceTier: '1', ETPFlag: 'N', ETPLeverageFactor: 3, InverseIndicator: 'N'}},
		{name: "trading action", m: itch.Message{Type: itch.TypeTradingAction, StockLocate: 7, TrackingNumber: 3,
			Timestamp: ts, Stock: s, TradingState: 'T', Reserved: ' ', Reason: [4]byte{'I', 'P', 'O', '1'}}},
		{name: "add order", m: itch.Message{Type: itch.TypeAddOrder, StockLocate: 7, TrackingNumber: 4, Timestamp: ts,
			OrderRef: 1001, Side: itch.SideBuy, Shares: 300, Stock: s, Price: 105000}},
		{name: "add order mpid", m: itch.Message{Type: itch.TypeAddOrderMPID, StockLocate: 7, TrackingNumber: 5,
			Timestamp: ts, OrderRef: 1002, Side: itch.SideSell, Shares: 4294967295, Stock: s, Price: 4294967295,
			MPID: [4]byte{'M', 'P', 'I', 'D'}}},
		{name: "order executed", m: itch.Message{Type: itch.TypeOrderExecuted, StockLocate: 7, TrackingNumber: 6,
			Timestamp: ts, OrderRef: 1001, Shares: 100, MatchNumber: 1 << 40}},
		{name: "order executed price", m: itch.Message{Type: itch.TypeOrderExecutedPrice, StockLocate: 7,
			TrackingNumber: 7, Timestamp: ts, OrderRef: 1001, Shares: 100, MatchNumber: 2, Printable: 'Y', Price: 104900}},
		{name: "order cancel", m: itch.Message{Type: itch.TypeOrderCancel, StockLocate: 7, TrackingNumber: 8,
			Timestamp: ts, OrderRef: 1001, Shares: 50}},
		{name: "order delete", m: itch.Message{Type: itch.TypeOrderDelete, StockLocate: 7, TrackingNumber: 9,
			Timestamp: ts, OrderRef: 1001}},
		{name: "order replace", m: itch.Message{Type: itch.TypeOrderReplace, StockLocate: 7, TrackingNumber: 10,
			Timestamp: ts, OrderRef: 1002, NewOrderRef: 1003, Shares: 200, Price: 105100}},
		{name: "trade", m: itch.Message{Type: itch.TypeTrade, StockLocate: 7, TrackingNumber: 11, Timestamp: ts,
			OrderRef: 0, Side: itch.SideBuy, Shares: 10, Stock: s, Price: 105000, MatchNumber: 3}},
		{name: "cross trade", m: itch.Message{Type: itch.TypeCrossTrade, StockLocate: 7, TrackingNumber: 12,
			Timestamp: 1<<48 - 1, Shares: 1 << 40, Stock: s, Price: 105000, MatchNumber: 4, CrossType: 'O'}},
	}
}

func TestLength(t *testing.T) {
	// Lengths from the ITCH 5.0 spec, type byte included.
	tests := []struct {
		name string
		typ  byte
		want int
	}{
		{name: "system event", typ: 'S', want: 12},
		{name: "stock directory", typ: 'R', want: 39},
		{name: "trading action", typ: 'H', want: 25},
		{name: "add order", typ: 'A', want: 36},
		{name: "add order mpid", typ: 'F', want: 40},
		{name: "order executed", typ: 'E', want: 31},
		{name: "order executed price", typ: 'C', want: 36},
		{name: "order cancel", typ: 'X', want: 23},
		{name: "order delete", typ: 'D', want: 19},
		{name: "order replace", typ: 'U', want: 35},
		{name: "trade", typ: 'P', want: 44},
		{name: "cross trade", typ: 'Q', want: 40},
		{name: "unhandled broken trade", typ: 'B', want: 0},
		{name: "zero byte", typ: 0, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := itch.Length(tt.typ); got != tt.want {
				t.Errorf("Length(%q) = %d, want %d", tt.typ, got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tt := range samples(t) {
		t.Run(tt.name, func(t *testing.T) {
			b, err := itch.Append([]byte("pre"), &tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if string(b[:3]) != "pre" {
				t.Fatalf("prefix overwritten: %q", b[:3])
			}
			b = b[3:]
			if len(b) != itch.Length(tt.m.Type) {
				t.Fatalf("encoded %d bytes, want %d", len(b), itch.Length(tt.m.Type))
			}
			// Start from a message full of another type's fields to check
			// Decode zeroes what the type lacks.
			got := junk()
			if err := itch.Decode(b, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.m {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, tt.m)
			}
		})
	}
}

// junk returns a message with every field set.
func junk() itch.Message {
	return itch.Message{Type: 0xff, StockLocate: 1, TrackingNumber: 1, Timestamp: 1, OrderRef: 1, NewOrderRef: 1,
		Shares: 1, MatchNumber: 1, Price: 1, Stock: [8]byte{1}, Side: 1, Printable: 1, MPID: [4]byte{1}, EventCode: 1,
		CrossType: 1, TradingState: 1, Reserved: 1, Reason: [4]byte{1}, MarketCategory: 1, FinancialStatus: 1,
		RoundLotSize: 1, RoundLotsOnly: 1, IssueClassification: 1, IssueSubType: [2]byte{1}, Authenticity: 1,
		ShortSaleThreshold: 1, IPOFlag: 1, LULDRefPriceTier: 1, ETPFlag: 1, ETPLeverageFactor: 1, InverseIndicator: 1}
}

// TestLayout checks encodings against bytes assembled by hand from the
// spec's field tables, so a bug shared by Append and Decode still shows.
func TestLayout(t *testing.T) {
	const ts = "1f1aced9f07b" // 34200000000123 ns = 09:30:00.000000123
	tests := []struct {
		name string
		wire string
		want itch.Message
	}{
		{
			name: "add order",
			// type, locate, tracking, timestamp, order ref, side, shares, stock, price
			wire: "41 0007 0004 " + ts + " 00000000000003e9 42 0000012c 3630303030302020 00019a28",
			want: itch.Message{Type: 'A', StockLocate: 7, TrackingNumber: 4, Timestamp: 34200000000123,
				OrderRef: 1001, Side: 'B', Shares: 300, Stock: stock(t, "600000"), Price: 105000},
		},
		{
			name: "order executed",
			// type, locate, tracking, timestamp, order ref, executed shares, match number
			wire: "45 0007 0006 " + ts + " 00000000000003e9 00000064 0000010000000000",
			want: itch.Message{Type: 'E', StockLocate: 7, TrackingNumber: 6, Timestamp: 34200000000123,
				OrderRef: 1001, Shares: 100, MatchNumber: 1 << 40},
		},
		{
			name: "add order with mpid",
			// add order fields, then attribution
			wire: "46 0007 0005 " + ts + " 00000000000003ea 53 ffffffff 3630303030302020 ffffffff 4d504944",
			want: itch.Message{Type: 'F', StockLocate: 7, TrackingNumber: 5, Timestamp: 34200000000123,
				OrderRef: 1002, Side: 'S', Shares: 4294967295, Stock: stock(t, "600000"), Price: 4294967295,
				MPID: [4]byte{'M', 'P', 'I', 'D'}},
		},
		{
			name: "order replace",
			// type, locate, tracking, timestamp, original ref, new ref, shares, price
			wire: "55 0007 000a " + ts + " 00000000000003ea 00000000000003eb 000000c8 00019a8c",
			want: itch.Message{Type: 'U', StockLocate: 7, TrackingNumber: 10, Timestamp: 34200000000123,
				OrderRef: 1002, NewOrderRef: 1003, Shares: 200, Price: 105100},
		},
		{
			name: "cross trade",
			// type, locate, tracking, timestamp, shares (8 bytes), stock, cross price, match number, cross type
			wire: "51 0007 000c ffffffffffff 0000010000000000 3630303030302020 00019a28 0000000000000004 4f",
			want: itch.Message{Type: 'Q', StockLocate: 7, TrackingNumber: 12, Timestamp: 1<<48 - 1,
				Shares: 1 << 40, Stock: stock(t, "600000"), Price: 105000, MatchNumber: 4, CrossType: 'O'},
		},
		{
			name: "stock directory",
			// type, locate, tracking, timestamp, stock, category, status, round lot, lots only,
			// classification, sub-type, authenticity, short sale, IPO, LULD tier, ETP, leverage, inverse
			wire: "52 0007 0002 " + ts + " 3630303030302020 51 4e 00000064 4e 43 5a20 50 4e 4e 31 4e 00000003 4e",
			want: itch.Message{Type: 'R', StockLocate: 7, TrackingNumber: 2, Timestamp: 34200000000123,
				Stock: stock(t, "600000"), MarketCategory: 'Q', FinancialStatus: 'N', RoundLotSize: 100,
				RoundLotsOnly: 'N', IssueClassification: 'C', IssueSubType: [2]byte{'Z', ' '}, Authenticity: 'P',
				ShortSaleThreshold: 'N', IPOFlag: 'N', LULDRefPriceTier: '1', ETPFlag: 'N', ETPLeverageFactor: 3,
				InverseIndicator: 'N'},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wire := unhex(t, tt.wire)
			var got itch.Message
			if err := itch.Decode(wire, &got); err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("decoded\n%+v\nwant\n%+v", got, tt.want)
			}
			enc, err := itch.Append(nil, &tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, wire) {
				t.Errorf("encoded\n% x\nwant\n% x", enc, wire)
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	addOrder, err := itch.Append(nil, &samples(t)[3].m)
	if err != nil {
		t.Fatal(err)
	}
	badSide := bytes.Clone(addOrder)
	badSide[19] = 'X'
	badStock := bytes.Clone(addOrder)
	copy(badStock[24:32], " 600000 ")
	tests := []struct {
		name    string
		in      []byte
		want    error
		wantMsg string
	}{
		{name: "empty", in: nil, want: itch.ErrEmpty, wantMsg: "itch: empty message"},
		{name: "unknown type", in: []byte("z1234567890"), want: itch.ErrUnknownType,
			wantMsg: "itch: unknown message type 'z' (0x7a)"},
		{name: "short add order", in: addOrder[:30], want: itch.ErrLength, wantMsg: "itch: add order: length 30, want 36"},
		{name: "long add order", in: append(bytes.Clone(addOrder), 0), want: itch.ErrLength,
			wantMsg: "itch: add order: length 37, want 36"},
		{name: "type byte only", in: []byte{'D'}, want: itch.ErrLength, wantMsg: "itch: order delete: length 1, want 19"},
		{name: "bad side", in: badSide, want: itch.ErrBadField, wantMsg: `itch: add order: side "X" not B or S`},
		{name: "bad stock", in: badStock, want: itch.ErrBadField,
			wantMsg: `itch: add order: stock " 600000 " not a left-justified, space-padded printable ASCII symbol`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := junk()
			err := itch.Decode(tt.in, &m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if m != junk() {
				t.Errorf("message changed on error: %+v", m)
			}
		})
	}
}

func TestDecodeLengthEveryType(t *testing.T) {
	for _, tt := range samples(t) {
		t.Run(tt.name, func(t *testing.T) {
			b, err := itch.Append(nil, &tt.m)
			if err != nil {
				t.Fatal(err)
			}
			var m itch.Message
			for _, n := range []int{1, len(b) - 1} {
				var le *itch.LengthError
				if err := itch.Decode(b[:n], &m); !errors.As(err, &le) || le.Len != n || le.Want != len(b) {
					t.Errorf("Decode of %d bytes: %v, want a LengthError", n, err)
				}
			}
			if err := itch.Decode(append(b, ' '), &m); !errors.Is(err, itch.ErrLength) {
				t.Errorf("Decode of %d bytes: %v, want ErrLength", len(b)+1, err)
			}
		})
	}
}

func TestUnknownTypeError(t *testing.T) {
	var m itch.Message
	err := itch.Decode([]byte("Bxxxxxxxxxxxxxxxxx"), &m)
	var ue *itch.UnknownTypeError
	if !errors.As(err, &ue) || ue.Type != 'B' {
		t.Fatalf("err = %v, want *UnknownTypeError for 'B'", err)
	}
	if _, err := itch.Append(nil, &itch.Message{Type: 'B'}); !errors.Is(err, itch.ErrUnknownType) {
		t.Errorf("Append: err = %v, want ErrUnknownType", err)
	}
}

func TestAppendErrors(t *testing.T) {
	add := samples(t)[3].m
	with := func(f func(m *itch.Message)) itch.Message {
		m := add
		f(&m)
		return m
	}
	tests := []struct {
		name    string
		m       itch.Message
		want    error
		wantMsg string
	}{
		{name: "unknown type", m: itch.Message{Type: 'z'}, want: itch.ErrUnknownType},
		{name: "zero side", m: with(func(m *itch.Message) { m.Side = 0 }), want: itch.ErrBadField,
			wantMsg: `itch: add order: side "\x00" not B or S`},
		{name: "blank stock", m: with(func(m *itch.Message) { m.Stock = [8]byte{} }), want: itch.ErrBadField},
		{name: "stock with inner space", m: with(func(m *itch.Message) { m.Stock = [8]byte([]byte("AB CD   ")) }),
			want: itch.ErrBadField},
		{name: "shares over 32 bits", m: with(func(m *itch.Message) { m.Shares = 1 << 32 }), want: itch.ErrBadField,
			wantMsg: `itch: add order: shares "4294967296" does not fit in 4 bytes`},
		{name: "timestamp over 48 bits", m: with(func(m *itch.Message) { m.Timestamp = 1 << 48 }), want: itch.ErrBadField,
			wantMsg: `itch: add order: timestamp "281474976710656" does not fit in 6 bytes`},
		{name: "trade side", m: itch.Message{Type: itch.TypeTrade, Side: 'b', Stock: stock(t, "X")}, want: itch.ErrBadField},
		{name: "cross trade stock", m: itch.Message{Type: itch.TypeCrossTrade}, want: itch.ErrBadField},
		{name: "directory stock", m: itch.Message{Type: itch.TypeStockDirectory, Stock: [8]byte([]byte("\tABC    "))},
			want: itch.ErrBadField},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := itch.Append([]byte("keep"), &tt.m)
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
			if tt.wantMsg != "" && err.Error() != tt.wantMsg {
				t.Errorf("message %q, want %q", err.Error(), tt.wantMsg)
			}
			if string(b) != "keep" {
				t.Errorf("buffer changed to %q on error", b)
			}
		})
	}
}

func TestStockOfAndSymbol(t *testing.T) {
	tests := []struct {
		name    string
		sym     string
		want    string
		wantErr bool
	}{
		{name: "six digits", sym: "600000", want: "600000  "},
		{name: "one letter", sym: "A", want: "A       "},
		{name: "eight bytes", sym: "ABCDEFGH", want: "ABCDEFGH"},
		{name: "punctuation", sym: "BRK.A", want: "BRK.A   "},
		{name: "empty", sym: "", wantErr: true},
		{name: "nine bytes", sym: "ABCDEFGHI", wantErr: true},
		{name: "inner space", sym: "AB C", wantErr: true},
		{name: "trailing space", sym: "ABC ", wantErr: true},
		{name: "non-ASCII", sym: "股票", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := itch.StockOf(tt.sym)
			if tt.wantErr {
				if !errors.Is(err, itch.ErrBadField) {
					t.Fatalf("err = %v, want ErrBadField", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if string(s[:]) != tt.want {
				t.Errorf("StockOf = %q, want %q", s, tt.want)
			}
			m := itch.Message{Stock: s}
			if got := m.Symbol(); got != tt.sym {
				t.Errorf("Symbol = %q, want %q", got, tt.sym)
			}
		})
	}
}

func TestTypeName(t *testing.T) {
	tests := []struct {
		typ  byte
		want string
	}{
		{typ: itch.TypeAddOrder, want: "add-order"},
		{typ: itch.TypeOrderExecutedPrice, want: "order-executed-price"},
		{typ: itch.TypeCrossTrade, want: "cross-trade"},
		{typ: 'B', want: "unknown(0x42)"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := itch.TypeName(tt.typ); got != tt.want {
				t.Errorf("TypeName(%q) = %q, want %q", tt.typ, got, tt.want)
			}
		})
	}
}

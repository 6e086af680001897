package mdbus

import (
	"errors"
	"reflect"
	"testing"

	"sgw/orderbook"
	"sgw/refdata"
)

func lvl(p, q int64, o int32) orderbook.Level {
	return orderbook.Level{Price: refdata.Price(p), Qty: q, Orders: o}
}

// sampleUpdates are updates of every kind and shape, for round trips and
// as fuzz seeds.
func sampleUpdates() map[string]orderbook.Update {
	return map[string]orderbook.Update{
		"book insert": {Seq: 1, Time: 34200000000001, Recv: 1700000000123456789, Kind: orderbook.KindBook, N: 1,
			Changes:  [2]orderbook.LevelChange{{Side: orderbook.Bid, Rank: 0, Level: lvl(17000000, 300, 2)}},
			Checksum: 0xdeadbeef, Checksum5: 0x01020304, State: orderbook.StateTrading},
		"removal with enter": {Seq: 99, Kind: orderbook.KindBook, N: 2,
			Changes:   [2]orderbook.LevelChange{{Side: orderbook.Ask, Rank: 3, Level: lvl(17000100, 0, 0)}, {Side: orderbook.Ask, Rank: -1, Level: lvl(17100000, 5, 1)}},
			EnterSide: orderbook.Ask, Enter: [3]orderbook.Level{lvl(17000500, 100, 1), lvl(17001000, 200, 2), {}}, State: orderbook.StateTrading},
		"trade": {Seq: 1 << 40, Kind: orderbook.KindTrade, TradePrice: 17000000, TradeQty: 100, Last: 17000000, Volume: 1 << 35, Turnover: 1 << 60,
			N: 1, Changes: [2]orderbook.LevelChange{{Side: orderbook.Bid, Rank: 0, Level: lvl(17000000, 200, 1)}}},
		"status": {Seq: 7, Kind: orderbook.KindStatus, State: orderbook.StateHalted, Recv: -1},
		"reset":  {Seq: 8, Kind: orderbook.KindReset, State: orderbook.StateStale},
	}
}

// sampleView is a full snapshot.
func sampleView() orderbook.View {
	v := orderbook.View{Seq: 12345, Time: 34200000000999, State: orderbook.StateTrading, Last: 17000000, LastQty: 100,
		Volume: 5000, Turnover: 85000000000, Open: 16900000, High: 17100000, Low: 16800000}
	for i := range 20 {
		v.Bids = append(v.Bids, lvl(int64(17000000-100*i), int64(100+i), int32(1+i)))
		v.Asks = append(v.Asks, lvl(int64(17000100+100*i), int64(200+i), 1))
	}
	v.Checksum, v.Checksum5 = orderbook.Checksum(v.Bids, v.Asks, 10), orderbook.Checksum(v.Bids, v.Asks, 5)
	return v
}

func TestUpdateRoundTrip(t *testing.T) {
	for name, u := range sampleUpdates() {
		t.Run(name, func(t *testing.T) {
			b := AppendUpdate(nil, 42, "600519.SH", &u)
			var m Message
			if err := Decode(b, &m); err != nil {
				t.Fatal(err)
			}
			if m.Type != TypeUpdate || m.Epoch != 42 || string(m.Symbol) != "600519.SH" {
				t.Fatalf("header %c %d %q", m.Type, m.Epoch, m.Symbol)
			}
			if m.Update != u {
				t.Fatalf("got  %+v\nwant %+v", m.Update, u)
			}
		})
	}
}

func TestSnapshotAndErrorRoundTrip(t *testing.T) {
	v := sampleView()
	var m Message
	if err := Decode(AppendSnapshot(nil, 1, "000001.SZ", &v), &m); err != nil {
		t.Fatal(err)
	}
	if m.Type != TypeSnapshot || !reflect.DeepEqual(m.View, v) {
		t.Fatalf("got  %+v\nwant %+v", m.View, v)
	}
	empty := orderbook.View{Checksum: orderbook.Checksum(nil, nil, 10)}
	if err := Decode(AppendSnapshot(nil, 1, "000001.SZ", &empty), &m); err != nil || len(m.View.Bids) != 0 || m.View.Checksum != empty.Checksum {
		t.Fatalf("empty snapshot: %v %+v", err, m.View)
	}
	if err := Decode(AppendError(nil, 1, "X", "unknown symbol"), &m); err != nil || m.Type != TypeError || string(m.Text) != "unknown symbol" {
		t.Fatalf("error reply: %v %+v", err, m)
	}
}

func TestDecodeRefuses(t *testing.T) {
	u := sampleUpdates()["book insert"]
	good := AppendUpdate(nil, 1, "600519.SH", &u)
	mut := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	deep := sampleView()
	deep.Bids = append(deep.Bids, lvl(1, 1, 1))
	tests := []struct {
		name string
		b    []byte
		want error
	}{
		{name: "empty", b: nil, want: ErrMalformed},
		{name: "version", b: mut(func(b []byte) []byte { b[0] = 2; return b }), want: ErrVersion},
		{name: "type", b: mut(func(b []byte) []byte { b[1] = 'Z'; return b }), want: ErrMalformed},
		{name: "truncated", b: good[:len(good)-1], want: ErrMalformed},
		{name: "trailing", b: append(append([]byte(nil), good...), 0), want: ErrMalformed},
		{name: "symbol too long", b: AppendUpdate(nil, 1, "ABCDEFGHIJKLMNOPQRSTU", &u), want: ErrMalformed},
		{name: "snapshot too deep", b: appendSnapshotDeep(nil, &deep), want: ErrMalformed},
		// An overlong epoch: 1 as 0x81 0x00 (its shortest encoding is 0x01).
		{name: "overlong varint", b: append([]byte{wireVersion, TypeError, 0x81, 0x00}, good[3:3+1+9]...), want: ErrMalformed},
		{name: "varint past 64 bits", b: append([]byte{wireVersion, TypeError, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02}, good[3:3+1+9]...), want: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			if err := Decode(tc.b, &m); !errors.Is(err, tc.want) {
				t.Fatalf("Decode: %v, want %v", err, tc.want)
			}
		})
	}
}

// appendSnapshotDeep encodes a snapshot with every level of v, past the
// limit AppendSnapshot keeps to.
func appendSnapshotDeep(b []byte, v *orderbook.View) []byte {
	bids := v.Bids
	w := *v
	w.Bids = nil
	b = AppendSnapshot(b, 1, "600519.SH", &w)
	// Replace the empty bids count (after the header and fixed fields)
	// by the full list: the asks follow it.
	head := b[:len(b)-len(encodeSides(nil, v.Asks))-1]
	head = append(head, byte(len(bids)))
	for _, l := range bids {
		head = appendLevel(head, l)
	}
	return encodeSides(head, v.Asks)
}

func encodeSides(b []byte, asks []orderbook.Level) []byte {
	b = append(b, byte(len(asks)))
	for _, l := range asks {
		b = appendLevel(b, l)
	}
	return b
}

// TestDecodeAllocates checks that decoding allocates nothing once a
// Message's snapshot levels have grown (an edge decodes every update
// into one Message), and that Symbol and Text alias the message with
// their capacity capped, so an append to them cannot write into it.
func TestDecodeAllocates(t *testing.T) {
	u := sampleUpdates()["removal with enter"]
	v := sampleView()
	msgs := map[string][]byte{
		"update":   AppendUpdate(nil, 1, "600519.SH", &u),
		"snapshot": AppendSnapshot(nil, 1, "600519.SH", &v),
		"error":    AppendError(nil, 1, "600519.SH", "unknown symbol"),
	}
	for name, b := range msgs {
		t.Run(name, func(t *testing.T) {
			var m Message
			if err := Decode(b, &m); err != nil { // grows the levels
				t.Fatal(err)
			}
			if a := testing.AllocsPerRun(100, func() {
				if err := Decode(b, &m); err != nil {
					t.Fatal(err)
				}
			}); a != 0 {
				t.Errorf("Decode allocates %.1f times", a)
			}
			if cap(m.Symbol) != len(m.Symbol) || cap(m.Text) != len(m.Text) {
				t.Errorf("Symbol %d/%d, Text %d/%d bytes (len/cap): capacity not capped", len(m.Symbol), cap(m.Symbol), len(m.Text), cap(m.Text))
			}
		})
	}
}

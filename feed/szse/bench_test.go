package szse_test

import (
	"math/rand/v2"
	"testing"

	"sgw/feed/szse"
)

// orderTradeStream returns count frames of a channel's order-by-order
// stream, concatenated: about 55% orders (300192), 35% trades and 10%
// cancels (300191), in random order, with consecutive ApplSeqNums.
func orderTradeStream(tb testing.TB, count int) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(5, 6))
	var b []byte
	for seq := int64(1); seq <= int64(count); seq++ {
		px := szse.Price4(100000 + r.IntN(1000)*100)
		switch k := r.IntN(100); {
		case k < 55:
			b = szse.AppendOrder(b, &szse.Order{ChannelNo: 2011, ApplSeqNum: seq, MDStreamID: chars[[3]byte]("011"),
				SecurityID: chars[[8]byte]("000001"), SecurityIDSource: chars[[4]byte]("102"), Price: px,
				OrderQty: szse.Qty2(100 * (1 + r.IntN(50)) * 100), Side: '1' + byte(k%2),
				TransactTime: 20240315093000000 + szse.Timestamp(seq), OrdType: szse.OrdTypeLimit})
		default:
			exec, bid, offer := szse.ExecTypeTrade, seq-1, seq-2
			if k >= 90 {
				exec, bid, px = szse.ExecTypeCancel, 0, 0
			}
			b = szse.AppendTrade(b, &szse.Trade{ChannelNo: 2011, ApplSeqNum: seq, MDStreamID: chars[[3]byte]("011"),
				BidApplSeqNum: bid, OfferApplSeqNum: offer, SecurityID: chars[[8]byte]("000001"),
				SecurityIDSource: chars[[4]byte]("102"), LastPx: px, LastQty: szse.Qty2(100 * 100),
				ExecType: exec, TransactTime: 20240315093000000 + szse.Timestamp(seq)})
		}
	}
	return b
}

// BenchmarkDecodeStream decodes a mixed stream of orders and trades, one
// message per iteration, as a feed reader walks its read buffer.
func BenchmarkDecodeStream(b *testing.B) {
	stream := orderTradeStream(b, 4096)
	var m szse.Message
	var orders, trades int
	buf := stream
	b.SetBytes(int64(len(stream) / 4096))
	b.ReportAllocs()
	for b.Loop() {
		n, err := szse.Decode(buf, &m)
		if err != nil {
			b.Fatal(err)
		}
		switch m.Type {
		case szse.TypeOrder:
			orders++
		case szse.TypeTrade:
			trades++
		}
		if buf = buf[n:]; len(buf) == 0 {
			buf = stream
		}
	}
	if orders == 0 || trades == 0 {
		b.Fatalf("orders %d, trades %d", orders, trades)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

func BenchmarkDecode(b *testing.B) {
	type bench struct {
		name string
		wire []byte
	}
	var benches []bench
	for _, s := range samples() {
		wire, err := szse.Append(nil, &s.m)
		if err != nil {
			b.Fatal(err)
		}
		benches = append(benches, bench{name: s.name, wire: wire})
	}
	benches = append(benches, bench{name: "snapshot.hex", wire: readFrame(b, "snapshot.hex")},
		bench{name: "unknown type", wire: readFrame(b, "unknown_security_status.hex")})
	for _, bb := range benches {
		b.Run(bb.name, func(b *testing.B) {
			var m szse.Message
			b.ReportAllocs()
			b.SetBytes(int64(len(bb.wire)))
			for b.Loop() {
				if _, err := szse.Decode(bb.wire, &m); err != nil && err != szse.ErrUnknownType {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	for _, s := range samples() {
		b.Run(s.name, func(b *testing.B) {
			buf := make([]byte, 0, 512)
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if buf, err = szse.Append(buf[:0], &s.m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package feed

import (
	"testing"

	"sgw/feed/event"
	"sgw/feed/szse"
	"sgw/orderbook"
	"sgw/refdata"
)

// bookApplier applies events straight to books on the caller's goroutine:
// the books' half of the path without the shard queues.
type bookApplier struct {
	books []*orderbook.Book
	u     orderbook.Update
}

func (a *bookApplier) Apply(ev *event.Event) error {
	a.books[ev.Symbol].Apply(ev, &a.u)
	return nil
}

// szseDay returns SZSE Binary frames of a replayable stream over n
// symbols: passive orders on both sides, aggressive orders announced
// before the trades they make, partial fills and cancels, ending with
// every book empty.
func szseDay(tb testing.TB, syms []string, rounds int) []byte {
	var out []byte
	seq := int64(0)
	var m szse.Message
	order := func(sec string, side byte, px szse.Price4, qty int64) int64 {
		seq++
		m.Type = szse.TypeOrder
		m.Order = szse.Order{ChannelNo: 2011, ApplSeqNum: seq, Price: px, OrderQty: szse.SharesToQty2(qty), Side: side,
			OrdType: szse.OrdTypeLimit, TransactTime: 20261202093000000}
		copy(m.Order.MDStreamID[:], "011")
		_ = szse.PutString(m.Order.SecurityID[:], sec)
		_ = szse.PutString(m.Order.SecurityIDSource[:], szse.SecurityIDSourceSZSE)
		var err error
		if out, err = szse.Append(out, &m); err != nil {
			tb.Fatal(err)
		}
		return seq
	}
	trade := func(sec string, bid, offer int64, exec byte, px szse.Price4, qty int64) {
		seq++
		m.Type = szse.TypeTrade
		m.Trade = szse.Trade{ChannelNo: 2011, ApplSeqNum: seq, BidApplSeqNum: bid, OfferApplSeqNum: offer, LastPx: px,
			LastQty: szse.SharesToQty2(qty), ExecType: exec, TransactTime: 20261202093000000}
		copy(m.Trade.MDStreamID[:], "011")
		_ = szse.PutString(m.Trade.SecurityID[:], sec)
		_ = szse.PutString(m.Trade.SecurityIDSource[:], szse.SecurityIDSourceSZSE)
		var err error
		if out, err = szse.Append(out, &m); err != nil {
			tb.Fatal(err)
		}
	}
	const mid, tick = 115000, 100
	for r := range rounds {
		for _, sec := range syms {
			d := szse.Price4(tick * (1 + r%8))
			bid := order(sec, szse.SideBuy, mid-d, 500)
			ask := order(sec, szse.SideSell, mid+d, 500)
			agg := order(sec, szse.SideBuy, mid+d, 300) // crosses: two trades follow
			trade(sec, agg, ask, szse.ExecTypeTrade, mid+d, 200)
			trade(sec, agg, ask, szse.ExecTypeTrade, mid+d, 100)
			trade(sec, 0, ask, szse.ExecTypeCancel, 0, 200)
			trade(sec, bid, 0, szse.ExecTypeCancel, 0, 500)
		}
	}
	return out
}

// BenchmarkSZSEDecodeApply measures SZSE Binary decode (checksum
// included), normalization into book events and Book.Apply per message,
// on one goroutine: the target is 5 M messages/s on one core with
// no allocation in steady state.
func BenchmarkSZSEDecodeApply(b *testing.B) {
	syms := []string{"000001", "000002", "000063", "000333", "000651", "000858", "002415", "002594",
		"300014", "300059", "300124", "300274", "300750", "300760", "301269", "300999"}
	var ins []refdata.Instrument
	for _, s := range syms {
		ins = append(ins, refdata.Instrument{Symbol: s + ".SZ", Board: refdata.BoardMain, PrevClose: 115000})
	}
	e, err := orderbook.New(orderbook.Config{Instruments: ins, Shards: 1})
	if err != nil {
		b.Fatal(err)
	}
	ap := &bookApplier{}
	for _, in := range ins {
		in := in
		if err := in.Validate(); err != nil {
			b.Fatal(err)
		}
		ap.books = append(ap.books, orderbook.NewBook(in))
	}
	d := NewSZSEDecoder(e, ap, nil)
	day := szseDay(b, syms, 64)
	var m szse.Message
	msgs := 0
	pass := func() {
		for buf := day; len(buf) > 0; {
			n, err := szse.Decode(buf, &m)
			if err != nil {
				b.Fatal(err)
			}
			buf = buf[n:]
			if err := d.ApplySZSE(&m, 0); err != nil {
				b.Fatal(err)
			}
			msgs++
		}
	}
	pass() // reach the working size
	perPass := msgs
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += perPass {
		pass()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	for i, bk := range ap.books {
		if bk.Errors() != (orderbook.ApplyErrors{}) || len(bk.Depth(orderbook.Bid, 1, nil))+len(bk.Depth(orderbook.Ask, 1, nil)) != 0 {
			b.Fatalf("book %d: errors %+v, not empty after the day", i, bk.Errors())
		}
	}
}

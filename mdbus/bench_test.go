package mdbus

import (
	"fmt"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"sgw/orderbook"
)

// BenchmarkEncodeDecodeUpdate is the wire cost of one update: the
// publisher's encoding and an edge's decoding.
func BenchmarkEncodeDecodeUpdate(b *testing.B) {
	u := sampleUpdates()["removal with enter"]
	buf := make([]byte, 0, 256)
	var m Message
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendUpdate(buf[:0], 1700000000000000000, "600519.SH", &u)
		if err := Decode(buf, &m); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "bytes/update")
}

// bookFlip is a stream of updates that insert a level at the top of the
// bid side of an empty book and remove it again, with their checksums,
// from seq 1: applied in turn, they keep a book's state flipping.
type bookFlip struct {
	add, del orderbook.Update
	seq      uint64 // the last update's
}

func newBookFlip() *bookFlip {
	l := lvl(17000000, 100, 1)
	return &bookFlip{
		add: orderbook.Update{Kind: orderbook.KindBook, N: 1, Changes: [2]orderbook.LevelChange{{Side: orderbook.Bid, Level: l}},
			Checksum: orderbook.Checksum([]orderbook.Level{l}, nil, 10), Checksum5: orderbook.Checksum([]orderbook.Level{l}, nil, 5)},
		del: orderbook.Update{Kind: orderbook.KindBook, N: 1, Changes: [2]orderbook.LevelChange{{Side: orderbook.Bid, Level: lvl(17000000, 0, 0)}},
			EnterSide: orderbook.Bid, Checksum: emptyCk10, Checksum5: emptyCk5},
	}
}

// next returns the stream's next update (valid until the call after).
func (f *bookFlip) next() *orderbook.Update {
	f.seq++
	u := &f.add
	if f.seq%2 == 0 {
		u = &f.del
	}
	u.Seq = f.seq
	return u
}

// BenchmarkEdgeApply is an edge's whole cost per update after the bus:
// decoding, the mirror (views, ring) and its bookkeeping.
func BenchmarkEdgeApply(b *testing.B) {
	ins := testInstruments(1)
	m, err := orderbook.NewMirror(orderbook.Config{Instruments: ins, Shards: 1})
	if err != nil {
		b.Fatal(err)
	}
	empty := orderbook.View{Checksum: orderbook.Checksum(nil, nil, 10), Checksum5: orderbook.Checksum(nil, nil, 5)}
	if err := m.Load(&empty); err != nil {
		b.Fatal(err)
	}
	flip := newBookFlip()
	bufs := [2][]byte{}
	var msg Message
	b.ReportAllocs()
	for b.Loop() {
		u := flip.next()
		buf := &bufs[u.Seq%2]
		*buf = AppendUpdate((*buf)[:0], 1, "600000.SH", u)
		if err := Decode(*buf, &msg); err != nil {
			b.Fatal(err)
		}
		if err := m.Apply(&msg.Update); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEdgeTake is the edge loop's cost per bus message taken: as
// BenchmarkEdgeApply, with the loop's bookkeeping (the bytes waiting, the
// drop mark, the epoch and the symbol's lookup).
func BenchmarkEdgeTake(b *testing.B) {
	n := startNATS(b)
	ins := testInstruments(1)
	e, err := NewEdge(EdgeConfig{Conn: n.connect(b), Books: orderbook.Config{Instruments: ins, Shards: 1}})
	if err != nil {
		b.Fatal(err)
	}
	empty := orderbook.View{Checksum: emptyCk10, Checksum5: emptyCk5}
	if err := e.mirror.Load(&empty); err != nil {
		b.Fatal(err)
	}
	flip := newBookFlip()
	msgs := [2]nats.Msg{{Subject: "md.d." + ins[0].Symbol}, {Subject: "md.d." + ins[0].Symbol}}
	b.ReportAllocs()
	for b.Loop() {
		u := flip.next()
		m := &msgs[u.Seq%2]
		m.Data = AppendUpdate(m.Data[:0], 1, ins[0].Symbol, u)
		e.queued.Add(msgSize(m)) // as forward does
		e.take(m, nil)
	}
	if st := e.Stats(); st.Updates != flip.seq {
		b.Fatalf("stats %+v: want %d updates applied", st, flip.seq)
	}
}

// BenchmarkFanout publishes a stream through an embedded NATS server to 1
// and 2 edges on this machine and reports the updates delivered per
// second (applied by the edges, all edges together) and published per
// second, until every edge holds the ingest's books.
func BenchmarkFanout(b *testing.B) {
	for _, edges := range []int{1, 2} {
		b.Run(fmt.Sprintf("edges=%d", edges), func(b *testing.B) {
			n := startNATS(b)
			g := newIngest(b, 16)
			p := startPublisher(b, n, g, "")
			var es []*runningEdge
			for range edges {
				e := startEdge(b, n, g, "")
				es = append(es, e)
			}
			for _, e := range es {
				synced(b, g, e.Edge)
			}
			base := p.Stats().Published
			var applied0 uint64
			for _, e := range es {
				applied0 += e.Stats().Updates
			}
			start := time.Now()
			b.ResetTimer()
			g.flow(b, b.N)
			g.settle(b)
			for _, e := range es {
				synced(b, g, e.Edge) // every symbol at the ingest's Seq, deltas or snapshots
			}
			el := time.Since(start)
			b.StopTimer()
			// Delivered counts the updates the edges applied: those NATS
			// dropped for an edge that fell behind (a slow consumer) were
			// not delivered, whatever snapshot repaired the book after.
			var applied uint64
			for _, e := range es {
				applied += e.Stats().Updates
			}
			published := float64(p.Stats().Published - base)
			b.ReportMetric(float64(applied-applied0)/el.Seconds(), "delivered/s")
			b.ReportMetric(published/el.Seconds(), "published/s")
			for _, e := range es {
				if st := e.Stats(); st.Gaps != 0 {
					b.Logf("edge fell behind (NATS slow consumer), repaired by snapshots: %+v", st)
				}
			}
		})
	}
}

// BenchmarkHeartbeat is one heartbeat of MaxBeats symbols: the
// publisher's encoding and an edge's whole handling (decoding, a lookup
// and a comparison per symbol, none behind). Once a second per 4096
// symbols, on each side.
func BenchmarkHeartbeat(b *testing.B) {
	ins := testInstruments(MaxBeats)
	n := startNATS(b)
	e, err := NewEdge(EdgeConfig{Conn: n.connect(b), Books: orderbook.Config{Instruments: ins, Shards: 2}})
	if err != nil {
		b.Fatal(err)
	}
	empty := orderbook.View{Checksum: orderbook.Checksum(nil, nil, 10), Checksum5: orderbook.Checksum(nil, nil, 5)}
	for i := range ins {
		empty.Symbol = orderbook.SymbolID(i)
		if err := e.mirror.Load(&empty); err != nil {
			b.Fatal(err)
		}
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendHeartbeat(buf[:0], 1, len(ins))
		for i := range ins {
			buf = AppendBeat(buf, ins[i].Symbol, 0)
		}
		e.handle(buf) // the edge's loop is not running: this goroutine owns it
	}
	if st := e.Stats(); st.Malformed != 0 || st.Lost != 0 {
		b.Fatalf("stats %+v", st)
	}
	b.ReportMetric(float64(len(buf)), "bytes/heartbeat")
}

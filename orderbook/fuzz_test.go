package orderbook

import (
	"slices"
	"testing"

	"sgw/feed/itch"
)

// checkInvariants walks a book's internal structure: levels strictly
// ordered, each level's quantity and count equal to its queue's orders,
// every queued order indexed under its reference, and the checksums equal
// to Checksum of the levels.
func checkInvariants(t *testing.T, b *Book) {
	t.Helper()
	total := 0
	for _, side := range []Side{Bid, Ask} {
		s := &b.sides[side]
		for i := range s.levels {
			l := &s.levels[i]
			if i > 0 && s.levels[i-1].key >= l.key {
				t.Fatalf("%v levels out of order at %d", side, i)
			}
			var qty int64
			var n int32
			prev := int32(-1)
			for o := l.head; o >= 0; o = b.slab[o].next {
				ord := &b.slab[o]
				if ord.prev != prev || ord.side != side || s.key(ord.price) != l.key || ord.qty <= 0 {
					t.Fatalf("%v level %d: bad order %+v", side, i, *ord)
				}
				if idx, ok := b.orders.get(ord.ref); !ok || idx != o {
					t.Fatalf("order %d not indexed", ord.ref)
				}
				qty += ord.qty
				n++
				prev = o
			}
			if l.tail != prev || qty != l.qty || n != l.orders || n == 0 {
				t.Fatalf("%v level %d: qty %d/%d orders %d/%d", side, i, l.qty, qty, l.orders, n)
			}
			total += int(n)
		}
	}
	if total != b.orders.n {
		t.Fatalf("%d orders queued, %d indexed", total, b.orders.n)
	}
	bids, asks := b.Depth(Bid, 10, nil), b.Depth(Ask, 10, nil)
	if c10, c5 := b.Checksums(); c10 != Checksum(bids, asks, 10) || c5 != Checksum(bids, asks, 5) {
		t.Fatalf("checksums out of date")
	}
}

// FuzzBookApply applies arbitrary message sequences, valid or not, and
// checks the book never panics and keeps its invariants. Each 8 input
// bytes are one message: type, ref, new ref, side, price, shares, flags.
func FuzzBookApply(f *testing.F) {
	f.Add([]byte("A\x01\x00B\x05\x03\x00\x00A\x02\x00S\x07\x02\x00\x00E\x01\x00\x00\x00\x01\x00\x00"))
	f.Add([]byte("A\x01\x00B\x05\x03\x00\x00U\x01\x02\x00\x06\x04\x00\x00X\x02\x00\x00\x00\x09\x00\x00D\x02\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("A\x01\x00B\x05\x03\x00\x00C\x01\x00\x00\x08\x01Y\x00P\x00\x00B\x05\x01\x00\x00Q\x00\x00\x00\x05\x00\x00\x00H\x00\x00\x00\x00\x00T\x00"))
	types := []byte{'A', 'F', 'E', 'C', 'X', 'D', 'U', 'P', 'Q', 'H', 'S', 'R', 'Z'}
	f.Fuzz(func(t *testing.T, data []byte) {
		b := newTestBook()
		var u Update
		for len(data) >= 8 {
			op := data[:8]
			data = data[8:]
			m := itch.Message{
				Type:         op[0],
				OrderRef:     uint64(op[1] % 32),
				NewOrderRef:  uint64(op[2] % 32),
				Side:         op[3],
				Price:        100000 + uint32(op[4]%40)*100 - 2000,
				Shares:       uint64(op[5]) * 100,
				Printable:    op[6],
				TradingState: op[6],
			}
			if !slices.Contains(types, m.Type) {
				m.Type = types[int(op[0])%len(types)]
			}
			if op[3]%3 == 0 {
				m.Side = "BS"[op[3]%2]
			}
			seq := b.Seq()
			ok := applyITCH(b, &m, &u)
			if ok != (b.Seq() == seq+1) || (ok && u.Seq != b.Seq()) {
				t.Fatalf("seq %d -> %d, ok %v", seq, b.Seq(), ok)
			}
			checkInvariants(t, b)
		}
	})
}

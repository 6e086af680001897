package match

import (
	"reflect"
	"sort"
	"testing"

	"sgw/refdata"
)

// replayBook is a naive order-by-order book rebuilt from Events alone, the
// way a feed handler rebuilds it from ITCH.
type replayBook struct {
	orders map[uint64]*OrderInfo
}

func (r *replayBook) apply(t testing.TB, ev *Event) {
	t.Helper()
	switch ev.Kind {
	case EventAdd:
		if _, dup := r.orders[ev.Ref]; dup {
			t.Fatalf("add of live ref %d", ev.Ref)
		}
		r.orders[ev.Ref] = &OrderInfo{Ref: ev.Ref, Side: ev.Side, Price: ev.Price, Qty: ev.Qty}
	case EventExecute, EventCancel:
		o, ok := r.orders[ev.Ref]
		if !ok || ev.Qty <= 0 || ev.Qty > o.Qty {
			t.Fatalf("%s of ref %d qty %d: bad", ev.Kind, ev.Ref, ev.Qty)
		}
		o.Qty -= ev.Qty
		if o.Qty == 0 {
			if ev.Kind == EventCancel {
				t.Fatalf("cancel emptied ref %d (should be a delete)", ev.Ref)
			}
			delete(r.orders, ev.Ref)
		}
	case EventDelete:
		if _, ok := r.orders[ev.Ref]; !ok {
			t.Fatalf("delete of unknown ref %d", ev.Ref)
		}
		delete(r.orders, ev.Ref)
	case EventReplace:
		o, ok := r.orders[ev.Ref]
		if !ok {
			t.Fatalf("replace of unknown ref %d", ev.Ref)
		}
		delete(r.orders, ev.Ref)
		r.orders[ev.NewRef] = &OrderInfo{Ref: ev.NewRef, Side: o.Side, Price: ev.Price, Qty: ev.Qty}
	}
}

func (r *replayBook) depth(s Side) []Level {
	agg := map[refdata.Price]*Level{}
	for _, o := range r.orders {
		if o.Side != s {
			continue
		}
		l, ok := agg[o.Price]
		if !ok {
			l = &Level{Price: o.Price}
			agg[o.Price] = l
		}
		l.Qty += o.Qty
		l.Orders++
	}
	var out []Level
	for _, l := range agg {
		out = append(out, *l)
	}
	sort.Slice(out, func(i, j int) bool {
		if s == Buy {
			return out[i].Price > out[j].Price
		}
		return out[i].Price < out[j].Price
	})
	return out
}

// FuzzEngine drives the engine with an operation script and checks the book
// invariants and that the events alone rebuild the same book.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{0, 10, 3, 1, 12, 2, 2, 0, 1, 3, 1, 5, 4, 9, 9, 9})
	f.Add([]byte{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 0, 200, 7, 1, 250, 8})
	f.Fuzz(func(t *testing.T, script []byte) {
		if len(script) > 512 {
			script = script[:512]
		}
		ins := testInstruments(t)[:1]
		rb := &replayBook{orders: map[uint64]*OrderInfo{}}
		e, err := New(ins, func(ev *Event) { rb.apply(t, ev) })
		if err != nil {
			t.Fatal(err)
		}
		tick := ins[0].Tick
		base := ins[0].PrevClose
		for len(script) >= 4 {
			op, a, b, c := script[0], script[1], script[2], script[3]
			script = script[4:]
			price := base + refdata.Price(int(a%21)-10)*tick
			qty := int64(b%10+1) * 100
			switch op % 4 {
			case 0, 1:
				side := Buy
				if c&1 == 1 {
					side = Sell
				}
				tif := Day
				if c&2 == 2 {
					tif = IOC
				}
				_, _ = e.Submit(Order{Symbol: mt, Side: side, Price: price, Qty: qty, TIF: tif})
			case 2:
				_, _ = e.Cancel(uint64(c%16)+1, int64(b%4)*100)
			case 3:
				_, _ = e.Replace(uint64(c%16)+1, price, qty)
			}
			checkInvariants(t, e)
			bids, asks := e.Depth(mt, 0)
			if !reflect.DeepEqual(rb.depth(Buy), bids) || !reflect.DeepEqual(rb.depth(Sell), asks) {
				t.Fatalf("replayed book %v/%v != engine %v/%v", rb.depth(Buy), rb.depth(Sell), bids, asks)
			}
		}
	})
}

func BenchmarkSubmit(b *testing.B) {
	e, err := New(testInstruments(b), nil)
	if err != nil {
		b.Fatal(err)
	}
	tick := px("0.01")
	base := px("1700.00")
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		side := Buy
		off := refdata.Price(i%7) * tick
		p := base - off
		if i%2 == 1 {
			side = Sell
			p = base + off - 3*tick
		}
		if _, err := e.Submit(Order{Symbol: mt, Side: side, Price: p, Qty: 100}); err != nil {
			b.Fatal(err)
		}
	}
}

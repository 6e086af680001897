package match

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"sgw/refdata"
)

func testInstruments(t testing.TB) []refdata.Instrument {
	t.Helper()
	ins := []refdata.Instrument{
		{Symbol: "600519.SH", Board: refdata.BoardMain, PrevClose: px("1700.00")},
		{Symbol: "300750.SZ", Board: refdata.BoardChiNext, PrevClose: px("200.00")},
	}
	for i := range ins {
		if err := ins[i].Validate(); err != nil {
			t.Fatal(err)
		}
	}
	return ins
}

func px(s string) refdata.Price {
	p, err := refdata.ParsePrice(s)
	if err != nil {
		panic(err)
	}
	return p
}

// formatEvent renders an event compactly for comparisons.
func formatEvent(ev *Event) string {
	switch ev.Kind {
	case EventAdd:
		return fmt.Sprintf("A%d %d %c %d@%s", ev.Locate, ev.Ref, ev.Side, ev.Qty, ev.Price)
	case EventExecute:
		return fmt.Sprintf("E%d %d %d@%s m%d", ev.Locate, ev.Ref, ev.Qty, ev.Price, ev.Match)
	case EventCancel:
		return fmt.Sprintf("X%d %d %d", ev.Locate, ev.Ref, ev.Qty)
	case EventDelete:
		return fmt.Sprintf("D%d %d", ev.Locate, ev.Ref)
	case EventReplace:
		return fmt.Sprintf("U%d %d>%d %d@%s", ev.Locate, ev.Ref, ev.NewRef, ev.Qty, ev.Price)
	}
	return "?"
}

type op struct {
	submit  *Order
	cancel  [2]int64 // ref, qty
	replace *struct {
		ref   uint64
		price string
		qty   int64
	}
	wantErr error
	want    []string // events of this op
}

func buy(sym, price string, qty int64) *Order {
	return &Order{Symbol: sym, Side: Buy, Price: px(price), Qty: qty, Owner: "T", Tag: "b" + price}
}

func sell(sym, price string, qty int64) *Order {
	return &Order{Symbol: sym, Side: Sell, Price: px(price), Qty: qty, Owner: "T", Tag: "s" + price}
}

func ioc(o *Order) *Order { o.TIF = IOC; return o }

func repl(ref uint64, price string, qty int64) *struct {
	ref   uint64
	price string
	qty   int64
} {
	return &struct {
		ref   uint64
		price string
		qty   int64
	}{ref, price, qty}
}

const mt = "600519.SH"

func TestEngine(t *testing.T) {
	tests := []struct {
		name       string
		ops        []op
		bids, asks []Level
	}{
		{
			name: "rest both sides",
			ops: []op{
				{submit: buy(mt, "1699.99", 100), want: []string{"A1 1 B 100@1699.99"}},
				{submit: sell(mt, "1700.01", 300), want: []string{"A1 2 S 300@1700.01"}},
				{submit: buy(mt, "1699.99", 200), want: []string{"A1 3 B 200@1699.99"}},
				{submit: buy(mt, "1699.98", 100), want: []string{"A1 4 B 100@1699.98"}},
			},
			bids: []Level{{Price: px("1699.99"), Qty: 300, Orders: 2}, {Price: px("1699.98"), Qty: 100, Orders: 1}},
			asks: []Level{{Price: px("1700.01"), Qty: 300, Orders: 1}},
		},
		{
			name: "price-time priority and partial fill",
			ops: []op{
				{submit: sell(mt, "1700.02", 100), want: []string{"A1 1 S 100@1700.02"}},
				{submit: sell(mt, "1700.01", 100), want: []string{"A1 2 S 100@1700.01"}},
				{submit: sell(mt, "1700.01", 200), want: []string{"A1 3 S 200@1700.01"}},
				{submit: buy(mt, "1700.02", 500), want: []string{
					"E1 2 100@1700.01 m1", "E1 3 200@1700.01 m2", "E1 1 100@1700.02 m3", "A1 4 B 100@1700.02"}},
			},
			bids: []Level{{Price: px("1700.02"), Qty: 100, Orders: 1}},
		},
		{
			name: "aggressor fully filled leaves resting partial",
			ops: []op{
				{submit: buy(mt, "1700.00", 500), want: []string{"A1 1 B 500@1700.00"}},
				{submit: sell(mt, "1690.00", 200), want: []string{"E1 1 200@1700.00 m1"}},
			},
			bids: []Level{{Price: px("1700.00"), Qty: 300, Orders: 1}},
		},
		{
			name: "ioc remainder expires",
			ops: []op{
				{submit: sell(mt, "1700.00", 100), want: []string{"A1 1 S 100@1700.00"}},
				{submit: ioc(buy(mt, "1700.00", 300)), want: []string{"E1 1 100@1700.00 m1"}},
				{submit: ioc(buy(mt, "1700.00", 300)), want: nil},
			},
		},
		{
			name: "odd lot sell allowed, odd lot buy rejected",
			ops: []op{
				{submit: sell(mt, "1700.00", 150), want: []string{"A1 1 S 150@1700.00"}},
				{submit: buy(mt, "1700.00", 150), wantErr: ErrOddLot},
			},
			asks: []Level{{Price: px("1700.00"), Qty: 150, Orders: 1}},
		},
		{
			name: "rejects",
			ops: []op{
				{submit: buy(mt, "1700.005", 100), wantErr: ErrOffTick},
				{submit: buy(mt, "1870.01", 100), wantErr: ErrOutOfBand},
				{submit: sell(mt, "1529.99", 100), wantErr: ErrOutOfBand},
				{submit: buy(mt, "1700.00", 0), wantErr: ErrBadQty},
				{submit: buy(mt, "1700.00", -100), wantErr: ErrBadQty},
				{submit: sell(mt, "1700.00", 1<<32), wantErr: ErrBadQty},
				{submit: &Order{Symbol: mt, Side: 'X', Price: px("1700"), Qty: 100}, wantErr: ErrBadSide},
				{submit: buy("000001.SZ", "10.00", 100), wantErr: ErrUnknownSymbol},
				{cancel: [2]int64{99, 0}, wantErr: ErrUnknownOrder},
				{replace: repl(99, "1700.00", 100), wantErr: ErrUnknownOrder},
			},
		},
		{
			name: "band edges accepted",
			ops: []op{
				{submit: buy(mt, "1530.00", 100), want: []string{"A1 1 B 100@1530.00"}},
				{submit: sell(mt, "1870.00", 100), want: []string{"A1 2 S 100@1870.00"}},
			},
			bids: []Level{{Price: px("1530.00"), Qty: 100, Orders: 1}},
			asks: []Level{{Price: px("1870.00"), Qty: 100, Orders: 1}},
		},
		{
			name: "partial and full cancel",
			ops: []op{
				{submit: buy(mt, "1700.00", 500), want: []string{"A1 1 B 500@1700.00"}},
				{cancel: [2]int64{1, 200}, want: []string{"X1 1 200"}},
				{cancel: [2]int64{1, 0}, want: []string{"D1 1"}},
				{cancel: [2]int64{1, 0}, wantErr: ErrUnknownOrder},
				{submit: buy(mt, "1700.00", 100), want: []string{"A1 2 B 100@1700.00"}},
				{cancel: [2]int64{2, 500}, want: []string{"D1 2"}},
			},
		},
		{
			name: "partial cancel keeps priority",
			ops: []op{
				{submit: buy(mt, "1700.00", 500), want: []string{"A1 1 B 500@1700.00"}},
				{submit: buy(mt, "1700.00", 100), want: []string{"A1 2 B 100@1700.00"}},
				{cancel: [2]int64{1, 400}, want: []string{"X1 1 400"}},
				{submit: sell(mt, "1700.00", 100), want: []string{"E1 1 100@1700.00 m1"}},
			},
			bids: []Level{{Price: px("1700.00"), Qty: 100, Orders: 1}},
		},
		{
			name: "replace loses priority, reduction keeps it",
			ops: []op{
				{submit: buy(mt, "1700.00", 300), want: []string{"A1 1 B 300@1700.00"}},
				{submit: buy(mt, "1700.00", 100), want: []string{"A1 2 B 100@1700.00"}},
				{replace: repl(1, "1700.00", 200), want: []string{"X1 1 100"}},
				{replace: repl(1, "1700.00", 400), want: []string{"U1 1>3 400@1700.00"}},
				{submit: sell(mt, "1700.00", 100), want: []string{"E1 2 100@1700.00 m1"}},
				{replace: repl(3, "1699.00", 400), want: []string{"U1 3>4 400@1699.00"}},
				{replace: repl(4, "1699.00", 150), wantErr: ErrOddLot},
				{replace: repl(4, "1999.00", 100), wantErr: ErrOutOfBand},
			},
			bids: []Level{{Price: px("1699.00"), Qty: 400, Orders: 1}},
		},
		{
			name: "replace changing nothing keeps priority",
			ops: []op{
				{submit: buy(mt, "1700.00", 300), want: []string{"A1 1 B 300@1700.00"}},
				{submit: buy(mt, "1700.00", 100), want: []string{"A1 2 B 100@1700.00"}},
				{replace: repl(1, "1700.00", 300), want: nil},
				{submit: sell(mt, "1700.00", 100), want: []string{"E1 1 100@1700.00 m1"}},
			},
			bids: []Level{{Price: px("1700.00"), Qty: 300, Orders: 2}},
		},
		{
			name: "buy left odd by an odd-lot fill can be replaced",
			ops: []op{
				{submit: buy(mt, "1700.00", 1000), want: []string{"A1 1 B 1000@1700.00"}},
				{submit: sell(mt, "1700.00", 150), want: []string{"E1 1 150@1700.00 m1"}},
				// Open 850 of a 1000 order: a new price for the same
				// order, a reduction to OrderQty 900 and an increase to
				// 1100 keep the order a whole number of lots.
				{replace: repl(1, "1699.00", 850), want: []string{"U1 1>2 850@1699.00"}},
				{replace: repl(2, "1699.00", 750), want: []string{"X1 2 100"}},
				{replace: repl(2, "1699.00", 950), want: []string{"U1 2>3 950@1699.00"}},
				{replace: repl(3, "1699.00", 900), wantErr: ErrOddLot},
			},
			bids: []Level{{Price: px("1699.00"), Qty: 950, Orders: 1}},
		},
		{
			name: "marketable replace trades",
			ops: []op{
				{submit: sell(mt, "1701.00", 100), want: []string{"A1 1 S 100@1701.00"}},
				{submit: buy(mt, "1700.00", 300), want: []string{"A1 2 B 300@1700.00"}},
				{replace: repl(2, "1702.00", 300), want: []string{"D1 2", "E1 1 100@1701.00 m1", "A1 3 B 200@1702.00"}},
			},
			bids: []Level{{Price: px("1702.00"), Qty: 200, Orders: 1}},
		},
		{
			name: "books are separate, refs are global",
			ops: []op{
				{submit: buy(mt, "1700.00", 100), want: []string{"A1 1 B 100@1700.00"}},
				{submit: sell("300750.SZ", "200.00", 100), want: []string{"A2 2 S 100@200.00"}},
				{submit: sell("300750.SZ", "239.99", 100), want: []string{"A2 3 S 100@239.99"}},
				{submit: buy("300750.SZ", "240.00", 100), want: []string{"E2 2 100@200.00 m1"}},
			},
			bids: []Level{{Price: px("1700.00"), Qty: 100, Orders: 1}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			e, err := New(testInstruments(t), func(ev *Event) { got = append(got, formatEvent(ev)) })
			if err != nil {
				t.Fatal(err)
			}
			for i, o := range tc.ops {
				got = got[:0]
				switch {
				case o.submit != nil:
					_, err = e.Submit(*o.submit)
				case o.replace != nil:
					_, err = e.Replace(o.replace.ref, px(o.replace.price), o.replace.qty)
				default:
					_, err = e.Cancel(uint64(o.cancel[0]), o.cancel[1])
				}
				if o.wantErr != nil {
					if !errors.Is(err, o.wantErr) {
						t.Fatalf("op %d: err = %v, want %v", i, err, o.wantErr)
					}
				} else if err != nil {
					t.Fatalf("op %d: %v", i, err)
				}
				if len(got) != 0 || len(o.want) != 0 {
					if !reflect.DeepEqual(got, o.want) {
						t.Fatalf("op %d events:\n got %s\nwant %s", i, strings.Join(got, "; "), strings.Join(o.want, "; "))
					}
				}
			}
			bids, asks := e.Depth(mt, 0)
			if !reflect.DeepEqual(bids, tc.bids) || !reflect.DeepEqual(asks, tc.asks) {
				t.Fatalf("depth = %v / %v, want %v / %v", bids, asks, tc.bids, tc.asks)
			}
			checkInvariants(t, e)
		})
	}
}

func TestSubmitResult(t *testing.T) {
	e, err := New(testInstruments(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	mustSubmit := func(o *Order) Result {
		t.Helper()
		r, err := e.Submit(*o)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	a := mustSubmit(sell(mt, "1700.00", 300))
	if a.Ref != 1 || a.Leaves != 300 || len(a.Fills) != 0 {
		t.Fatalf("resting result = %+v", a)
	}
	r := mustSubmit(ioc(buy(mt, "1700.00", 500)))
	want := Result{
		Fills: []Fill{{Match: 1, Price: px("1700.00"), Qty: 300, Resting: OrderInfo{
			Ref: 1, Symbol: mt, Side: Sell, Price: px("1700.00"), Qty: 0, Owner: "T", Tag: "s1700.00"}}},
		Filled:  300,
		Expired: 200,
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("result = %+v, want %+v", r, want)
	}
	if _, ok := e.Order(1); ok {
		t.Fatal("filled order still present")
	}
	c := mustSubmit(buy(mt, "1690.00", 300))
	cr, err := e.Cancel(c.Ref, 100)
	if err != nil || cr != (CancelResult{Canceled: 100, Leaves: 200}) {
		t.Fatalf("cancel = %+v, %v", cr, err)
	}
	info, ok := e.Order(c.Ref)
	if !ok || info.Qty != 200 || info.Tag != "b1690.00" {
		t.Fatalf("order = %+v, %v", info, ok)
	}
}

func TestHalt(t *testing.T) {
	e, err := New(testInstruments(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Submit(*buy(mt, "1700.00", 100))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.SetHalted(mt, true); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(*buy(mt, "1700.00", 100)); !errors.Is(err, ErrHalted) {
		t.Fatalf("submit while halted: %v", err)
	}
	if _, err := e.Replace(r.Ref, px("1701.00"), 100); !errors.Is(err, ErrHalted) {
		t.Fatalf("replace while halted: %v", err)
	}
	if _, err := e.Cancel(r.Ref, 0); err != nil {
		t.Fatalf("cancel while halted: %v", err)
	}
	if err := e.SetHalted(mt, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(*buy(mt, "1700.00", 100)); err != nil {
		t.Fatal(err)
	}
}

func TestNewRejects(t *testing.T) {
	ins := testInstruments(t)
	if _, err := New(nil, nil); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("no instruments: %v", err)
	}
	if _, err := New([]refdata.Instrument{ins[0], ins[0]}, nil); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := New([]refdata.Instrument{{Symbol: "600000.SH"}}, nil); !errors.Is(err, ErrBadConfig) {
		t.Fatalf("not validated: %v", err)
	}
}

// checkInvariants verifies that no book is crossed and that the aggregated
// levels agree with the order lists.
func checkInvariants(t testing.TB, e *Engine) {
	t.Helper()
	total := 0
	for _, b := range e.books {
		sym := b.inst.Symbol
		bid, ask := e.Best(sym)
		if bid != 0 && ask != 0 && bid >= ask {
			t.Fatalf("%s crossed: %s >= %s", sym, bid, ask)
		}
		bo, ao := e.Orders(sym)
		bl, al := e.Depth(sym, 0)
		if !reflect.DeepEqual(aggregate(bo), bl) || !reflect.DeepEqual(aggregate(ao), al) {
			t.Fatalf("%s: levels %v/%v disagree with orders", sym, bl, al)
		}
		if len(bo)+len(ao) != e.Resting(sym) {
			t.Fatalf("%s: resting %d, orders %d", sym, e.Resting(sym), len(bo)+len(ao))
		}
		nb, na := e.Count(sym)
		if nb != len(bo) || na != len(ao) {
			t.Fatalf("%s: count %d/%d", sym, nb, na)
		}
		for _, o := range append(bo, ao...) {
			if o.Qty <= 0 || !b.inst.InBand(o.Price) || !b.inst.OnTick(o.Price) {
				t.Fatalf("%s: bad resting order %+v", sym, o)
			}
		}
		total += len(bo) + len(ao)
	}
	if total != len(e.orders) {
		t.Fatalf("order index has %d, books %d", len(e.orders), total)
	}
}

func aggregate(os []OrderInfo) []Level {
	var out []Level
	for _, o := range os {
		if n := len(out); n > 0 && out[n-1].Price == o.Price {
			out[n-1].Qty += o.Qty
			out[n-1].Orders++
			continue
		}
		out = append(out, Level{Price: o.Price, Qty: o.Qty, Orders: 1})
	}
	return out
}

// TestSTARQuantities: a STAR buy is at least 200 shares, in steps of one
// above that, whatever the instrument's lot (the demo configures 200), as
// the gateway's pre-trade risk checks it. Before, the simulator took the
// lot for a multiple, and a buy of 201 shares that risk passed came back
// rejected by the venue.
func TestSTARQuantities(t *testing.T) {
	in := refdata.Instrument{Symbol: "688981.SH", Board: refdata.BoardSTAR, PrevClose: px("90.00"), Lot: 200}
	if err := in.Validate(); err != nil {
		t.Fatal(err)
	}
	e, err := New([]refdata.Instrument{in}, nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.Submit(*buy(in.Symbol, "90.00", 201))
	if err != nil {
		t.Fatalf("STAR buy of 201: %v", err)
	}
	if _, err := e.Submit(*buy(in.Symbol, "90.00", 199)); !errors.Is(err, ErrOddLot) {
		t.Fatalf("STAR buy of 199: %v, want ErrOddLot", err)
	}
	if _, err := e.Replace(r.Ref, px("90.00"), 250); err != nil {
		t.Fatalf("STAR buy replaced from 201 to 250: %v", err)
	}
}

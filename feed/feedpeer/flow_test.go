package feedpeer

import (
	"errors"
	"reflect"
	"testing"
)

var testSymbols = []string{"600519", "000001", "300750"}

func TestFlowDeterministic(t *testing.T) {
	for _, d := range []Dialect{DialectITCH, DialectSZSE} {
		a, err := NewFlow(42, testSymbols, FlowConfig{Dialect: d})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewFlow(42, testSymbols, FlowConfig{Dialect: d})
		c, _ := NewFlow(43, testSymbols, FlowConfig{Dialect: d})
		same := true
		for i := range 2000 {
			ea, eb, ec := a.Next(), b.Next(), c.Next()
			if ea != eb {
				t.Fatalf("dialect %d: event %d differs with the same seed: %v and %v", d, i, ea, eb)
			}
			same = same && ea == ec
		}
		if same {
			t.Errorf("dialect %d: seeds 42 and 43 gave the same 2000 events", d)
		}
	}
}

// TestFlowRealistic checks that a long ITCH flow applies cleanly to an
// independent book, uses every kind, stays uncrossed, and moves its prices.
func TestFlowRealistic(t *testing.T) {
	f, err := NewFlow(1, testSymbols, FlowConfig{})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBook()
	kinds := make(map[Kind]int)
	var partial, full, withPrice, mpid int
	prices := make(map[string]map[int64]bool)
	var lastTime int64
	for i := range 20000 {
		ev := f.Next()
		if ev.Time < lastTime {
			t.Fatalf("event %d goes back in time: %v", i, ev)
		}
		lastTime = ev.Time
		if ev.Kind == KindExecute {
			o, _ := b.Order(ev.Order)
			if ev.Qty < o.Qty {
				partial++
			} else {
				full++
			}
			if ev.WithPrice {
				withPrice++
			}
			if ev.Contra != 0 {
				t.Fatalf("ITCH execute with a contra: %v", ev)
			}
		}
		if ev.Kind == KindAdd && ev.MPID != "" {
			mpid++
		}
		if err := b.Apply(ev); err != nil {
			t.Fatalf("event %d %v: %v", i, ev, err)
		}
		if b.Crossed(ev.Symbol) {
			t.Fatalf("event %d %v crossed the book", i, ev)
		}
		kinds[ev.Kind]++
		if ev.Kind == KindAdd {
			if prices[ev.Symbol] == nil {
				prices[ev.Symbol] = make(map[int64]bool)
			}
			prices[ev.Symbol][int64(ev.Price)] = true
		}
	}
	for _, k := range []Kind{KindAdd, KindExecute, KindCancel, KindDelete, KindReplace, KindTrade} {
		if kinds[k] == 0 {
			t.Errorf("no %v in 20000 events", k)
		}
	}
	if partial == 0 || full == 0 || withPrice == 0 || mpid == 0 {
		t.Errorf("partial %d, full %d, with price %d, MPID adds %d: want some of each", partial, full, withPrice, mpid)
	}
	for _, s := range testSymbols {
		if len(prices[s]) < 20 {
			t.Errorf("%s: adds at only %d prices", s, len(prices[s]))
		}
		if len(b.Levels(s, Buy, 0)) == 0 || len(b.Levels(s, Sell, 0)) == 0 {
			t.Errorf("%s: a side is empty after 20000 events", s)
		}
	}
}

// TestFlowCrosses checks a cross's shape in both dialects: ITCH shows the
// resting orders' executions then the remainder; SZSE the whole aggressor
// first, then executions naming it.
func TestFlowCrosses(t *testing.T) {
	for _, d := range []Dialect{DialectITCH, DialectSZSE} {
		f, _ := NewFlow(5, testSymbols, FlowConfig{Dialect: d, Mix: Mix{Add: 10, Cross: 10}})
		b := NewBook()
		var crosses, crossed int
		for i := range 5000 {
			ev := f.Next()
			if err := b.Apply(ev); err != nil {
				t.Fatalf("dialect %d event %d %v: %v", d, i, ev, err)
			}
			if ev.Kind == KindExecute {
				crosses++
				if (d == DialectSZSE) != (ev.Contra != 0) {
					t.Fatalf("dialect %d: execute %v", d, ev)
				}
			}
			if b.Crossed(ev.Symbol) {
				crossed++
				if d == DialectITCH {
					t.Fatalf("ITCH book crossed after %v", ev)
				}
			}
		}
		if crosses == 0 {
			t.Errorf("dialect %d: no executions", d)
		}
		if d == DialectSZSE && crossed == 0 {
			t.Errorf("SZSE: an aggressor's order never crossed the book before its trades")
		}
	}
}

func TestFlowSZSEKinds(t *testing.T) {
	f, _ := NewFlow(9, testSymbols, FlowConfig{Dialect: DialectSZSE})
	for range 5000 {
		switch ev := f.Next(); ev.Kind {
		case KindAdd, KindExecute, KindDelete:
		default:
			t.Fatalf("SZSE flow made %v", ev)
		}
	}
}

// TestFlowOwnBest: an SZSE flow with own-best orders sends them with no
// price, and each one rests at its own side's best level as it stood, one
// order and its quantity more, or, with that side empty, is cancelled whole
// by the very next event. Both happen, and own-best orders trade
// afterwards.
func TestFlowOwnBest(t *testing.T) {
	f, err := NewFlow(17, testSymbols, FlowConfig{Dialect: DialectSZSE, MaxOrders: 12, Mix: Mix{Add: 30, Delete: 30, Cross: 20, OwnBest: 25}})
	if err != nil {
		t.Fatal(err)
	}
	b := NewBook()
	ownBest := map[uint64]bool{}
	var rested, cancelled, traded int
	var awaiting *Event // an own-best order whose side was empty
	for i := range 5000 {
		ev := f.Next()
		if awaiting != nil {
			if ev.Kind != KindDelete || ev.Order != awaiting.Order || ev.Qty != awaiting.Qty {
				t.Fatalf("event %d: %v after %v, whose side was empty: want its cancel", i, ev, *awaiting)
			}
			cancelled++
			awaiting = nil
		}
		var best *Level
		if ls := b.Levels(ev.Symbol, ev.Side, 1); len(ls) > 0 {
			best = &ls[0]
		}
		if err := b.Apply(ev); err != nil {
			t.Fatalf("event %d %v: %v", i, ev, err)
		}
		switch {
		case ev.Kind == KindAdd && ev.OwnBest:
			if ev.Price != 0 {
				t.Fatalf("event %d: own-best order %v names a price", i, ev)
			}
			ownBest[ev.Order] = true
			if best == nil {
				awaiting = &ev
				continue
			}
			o, ok := b.Order(ev.Order)
			after := b.Levels(ev.Symbol, ev.Side, 1)[0]
			if !ok || o.Price != best.Price || after != (Level{Price: best.Price, Qty: best.Qty + ev.Qty, Orders: best.Orders + 1}) {
				t.Fatalf("event %d: own-best order %v rests as %+v, best level %v; it was %v", i, ev, o, after, *best)
			}
			rested++
		case ev.Kind == KindExecute && ownBest[ev.Order]:
			traded++
		}
	}
	if rested < 100 || cancelled < 10 || traded < 50 {
		t.Errorf("own-best orders rested %d, cancelled %d, traded %d: want many of each", rested, cancelled, traded)
	}
}

func TestFlowConfigErrors(t *testing.T) {
	tests := []struct {
		name    string
		symbols []string
		cfg     FlowConfig
	}{
		{name: "no symbols"},
		{name: "long symbol", symbols: []string{"123456789"}},
		{name: "duplicate symbol", symbols: []string{"A", "A"}},
		{name: "space in symbol", symbols: []string{"A B"}},
		{name: "SZSE with replaces", symbols: []string{"A"}, cfg: FlowConfig{Dialect: DialectSZSE, Mix: Mix{Add: 1, Replace: 1}}},
		{name: "no adds", symbols: []string{"A"}, cfg: FlowConfig{Mix: Mix{Delete: 1}}},
		{name: "price under 20 ticks", symbols: []string{"A"}, cfg: FlowConfig{StartPrice: 100, Tick: 100}},
		{name: "unknown dialect", symbols: []string{"A"}, cfg: FlowConfig{Dialect: 7}},
		{name: "ITCH with own-best orders", symbols: []string{"A"}, cfg: FlowConfig{Mix: Mix{Add: 1, OwnBest: 1}}},
		{name: "negative own-best weight", symbols: []string{"A"}, cfg: FlowConfig{Dialect: DialectSZSE, Mix: Mix{Add: 1, OwnBest: -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewFlow(1, tc.symbols, tc.cfg); !errors.Is(err, ErrConfig) {
				t.Errorf("NewFlow = %v, want ErrConfig", err)
			}
		})
	}
	f, err := NewFlow(1, []string{"A", "B"}, FlowConfig{StartPrice: 200000})
	if err != nil {
		t.Fatal(err)
	}
	if got := []int64{int64(f.StartPrice("A")), int64(f.StartPrice("B"))}; !reflect.DeepEqual(got, []int64{200000, 220000}) {
		t.Errorf("start prices %v", got)
	}
}

package feedpeer

import (
	"errors"
	"reflect"
	"testing"
)

func add(id uint64, side Side, price, qty int64) Event {
	return Event{Kind: KindAdd, Symbol: "AAA", Order: id, Side: side, Price: refPrice(price), Qty: qty}
}

func TestBookLevels(t *testing.T) {
	tests := []struct {
		name   string
		events []Event
		bids   []Level
		asks   []Level
		stats  Stats
	}{
		{
			name:   "adds aggregate per price, best first",
			events: []Event{add(1, Buy, 100, 10), add(2, Buy, 101, 5), add(3, Buy, 100, 7), add(4, Sell, 103, 4), add(5, Sell, 102, 6), add(6, Sell, 103, 1)},
			bids:   []Level{{Price: 101, Qty: 5, Orders: 1}, {Price: 100, Qty: 17, Orders: 2}},
			asks:   []Level{{Price: 102, Qty: 6, Orders: 1}, {Price: 103, Qty: 5, Orders: 2}},
		},
		{
			name: "partial and full executions",
			events: []Event{add(1, Buy, 100, 10), add(2, Buy, 100, 5),
				{Kind: KindExecute, Symbol: "AAA", Order: 1, Qty: 4, Price: 100, Match: 1},
				{Kind: KindExecute, Symbol: "AAA", Order: 2, Qty: 5, Price: 100, Match: 2}},
			bids:  []Level{{Price: 100, Qty: 6, Orders: 1}},
			stats: Stats{Trades: 2, Volume: 9, Value: 900, Open: 100, High: 100, Low: 100, Last: 100},
		},
		{
			name: "cancel reduces, delete removes the level",
			events: []Event{add(1, Sell, 200, 10), add(2, Sell, 201, 3),
				{Kind: KindCancel, Symbol: "AAA", Order: 1, Qty: 6},
				{Kind: KindDelete, Symbol: "AAA", Order: 2, Qty: 3}},
			asks: []Level{{Price: 200, Qty: 4, Orders: 1}},
		},
		{
			name: "replace moves the order to a new price and size",
			events: []Event{add(1, Buy, 100, 10), add(2, Buy, 100, 2),
				{Kind: KindReplace, Symbol: "AAA", Order: 1, NewOrder: 3, Price: 99, Qty: 8}},
			bids: []Level{{Price: 100, Qty: 2, Orders: 1}, {Price: 99, Qty: 8, Orders: 1}},
		},
		{
			name: "an execution with a displayed contra reduces both",
			events: []Event{add(1, Sell, 100, 10), add(2, Buy, 101, 15),
				{Kind: KindExecute, Symbol: "AAA", Order: 1, Contra: 2, Side: Sell, Qty: 10, Price: 100, Match: 1}},
			bids:  []Level{{Price: 101, Qty: 5, Orders: 1}},
			stats: Stats{Trades: 1, Volume: 10, Value: 1000, Open: 100, High: 100, Low: 100, Last: 100},
		},
		{
			name:   "hidden trades count but change no level",
			events: []Event{add(1, Buy, 100, 1), {Kind: KindTrade, Symbol: "AAA", Price: 105, Qty: 3}, {Kind: KindTrade, Symbol: "AAA", Price: 95, Qty: 1}},
			bids:   []Level{{Price: 100, Qty: 1, Orders: 1}},
			stats:  Stats{Trades: 2, Volume: 4, Value: 410, Open: 105, High: 105, Low: 95, Last: 95},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBook()
			for _, ev := range tc.events {
				if err := b.Apply(ev); err != nil {
					t.Fatalf("Apply(%v): %v", ev, err)
				}
			}
			if got := b.Levels("AAA", Buy, 0); !reflect.DeepEqual(got, nonNil(tc.bids)) {
				t.Errorf("bids = %v, want %v", got, tc.bids)
			}
			if got := b.Levels("AAA", Sell, 0); !reflect.DeepEqual(got, nonNil(tc.asks)) {
				t.Errorf("asks = %v, want %v", got, tc.asks)
			}
			if got := b.Stats("AAA"); got != tc.stats {
				t.Errorf("stats = %+v, want %+v", got, tc.stats)
			}
		})
	}
}

func nonNil(l []Level) []Level {
	if l == nil {
		return []Level{}
	}
	return l
}

func TestBookLevelsDepthAndQueue(t *testing.T) {
	b := NewBook()
	for i, p := range []int64{100, 99, 98, 97, 100} {
		if err := b.Apply(add(uint64(i+1), Buy, p, int64(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.Levels("AAA", Buy, 2); !reflect.DeepEqual(got, []Level{{Price: 100, Qty: 6, Orders: 2}, {Price: 99, Qty: 2, Orders: 1}}) {
		t.Errorf("top 2 = %v", got)
	}
	if got := b.Queue("AAA", Buy, 100); !reflect.DeepEqual(got, []int64{1, 5}) {
		t.Errorf("queue at 100 = %v, want [1 5] (time priority)", got)
	}
	if b.Len("AAA") != 5 || b.Levels("BBB", Buy, 5) != nil {
		t.Errorf("Len = %d; unknown symbol levels = %v", b.Len("AAA"), b.Levels("BBB", Buy, 5))
	}
}

func TestBookRefuses(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{name: "duplicate add", ev: add(1, Buy, 100, 1), want: ErrDuplicateOrder},
		{name: "execute unknown", ev: Event{Kind: KindExecute, Order: 9, Qty: 1}, want: ErrUnknownOrder},
		{name: "execute beyond the order", ev: Event{Kind: KindExecute, Order: 1, Qty: 11}, want: ErrBadEvent},
		{name: "cancel zero", ev: Event{Kind: KindCancel, Order: 1, Qty: 0}, want: ErrBadEvent},
		{name: "delete with the wrong remaining", ev: Event{Kind: KindDelete, Order: 1, Qty: 3}, want: ErrBadEvent},
		{name: "replace to an existing id", ev: Event{Kind: KindReplace, Order: 1, NewOrder: 1, Price: 1, Qty: 1}, want: ErrDuplicateOrder},
		{name: "contra on the same side", ev: Event{Kind: KindExecute, Order: 1, Contra: 2, Qty: 1}, want: ErrBadEvent},
		{name: "add without price", ev: add(5, Buy, 0, 1), want: ErrBadEvent},
		{name: "unknown kind", ev: Event{Kind: 99}, want: ErrBadEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBook()
			b.Apply(add(1, Buy, 100, 10))
			b.Apply(add(2, Buy, 99, 10))
			before := b.Levels("AAA", Buy, 0)
			if err := b.Apply(tc.ev); !errors.Is(err, tc.want) {
				t.Fatalf("Apply(%v) = %v, want %v", tc.ev, err, tc.want)
			}
			if got := b.Levels("AAA", Buy, 0); !reflect.DeepEqual(got, before) {
				t.Errorf("a refused event changed the book: %v, was %v", got, before)
			}
		})
	}
}

// TestBookOwnBest: an own-best add rests at the best price of its own side
// as the book stands, behind the orders there, whatever its Price, and
// trades there like a limit order; with its side empty it does not rest,
// and the venue's cancel of it (a Delete) applies.
func TestBookOwnBest(t *testing.T) {
	ownBest := func(id uint64, side Side, qty int64) Event {
		return Event{Kind: KindAdd, Symbol: "AAA", Order: id, Side: side, Qty: qty, OwnBest: true}
	}
	tests := []struct {
		name   string
		events []Event
		bids   []Level
		asks   []Level
		queue  []int64 // at the best bid
	}{
		{
			name:   "joins the best bid behind the orders there",
			events: []Event{add(1, Buy, 100, 10), add(2, Buy, 99, 5), add(3, Sell, 102, 4), ownBest(4, Buy, 7)},
			bids:   []Level{{Price: 100, Qty: 17, Orders: 2}, {Price: 99, Qty: 5, Orders: 1}},
			asks:   []Level{{Price: 102, Qty: 4, Orders: 1}},
			queue:  []int64{10, 7},
		},
		{
			name:   "its Price is not read",
			events: []Event{add(1, Sell, 102, 4), add(2, Sell, 103, 1), {Kind: KindAdd, Symbol: "AAA", Order: 3, Side: Sell, Price: 150, Qty: 6, OwnBest: true}},
			asks:   []Level{{Price: 102, Qty: 10, Orders: 2}, {Price: 103, Qty: 1, Orders: 1}},
		},
		{
			name: "with its side empty it does not rest, and its cancel applies",
			events: []Event{add(1, Sell, 102, 4), ownBest(2, Buy, 3),
				{Kind: KindDelete, Symbol: "AAA", Order: 2, Side: Buy, Qty: 3}, ownBest(3, Buy, 5)},
			asks: []Level{{Price: 102, Qty: 4, Orders: 1}},
		},
		{
			name: "it trades like a limit order",
			events: []Event{add(1, Buy, 100, 10), ownBest(2, Buy, 7), add(3, Sell, 100, 12),
				{Kind: KindExecute, Symbol: "AAA", Order: 1, Contra: 3, Side: Buy, Price: 100, Qty: 10, Match: 1},
				{Kind: KindExecute, Symbol: "AAA", Order: 2, Contra: 3, Side: Buy, Price: 100, Qty: 2, Match: 2}},
			bids:  []Level{{Price: 100, Qty: 5, Orders: 1}},
			queue: []int64{5},
		},
		{
			name: "the best after an aggressor's remainder rested",
			events: []Event{add(1, Sell, 101, 3), add(2, Buy, 100, 1), add(3, Buy, 102, 5),
				{Kind: KindExecute, Symbol: "AAA", Order: 1, Contra: 3, Side: Sell, Price: 101, Qty: 3, Match: 1},
				ownBest(4, Buy, 4)},
			bids:  []Level{{Price: 102, Qty: 6, Orders: 2}, {Price: 100, Qty: 1, Orders: 1}},
			queue: []int64{2, 4},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBook()
			for _, ev := range tc.events {
				if err := b.Apply(ev); err != nil {
					t.Fatalf("Apply(%v): %v", ev, err)
				}
			}
			if got := b.Levels("AAA", Buy, 0); !reflect.DeepEqual(got, nonNil(tc.bids)) {
				t.Errorf("bids = %v, want %v", got, tc.bids)
			}
			if got := b.Levels("AAA", Sell, 0); !reflect.DeepEqual(got, nonNil(tc.asks)) {
				t.Errorf("asks = %v, want %v", got, tc.asks)
			}
			if len(tc.bids) > 0 {
				if got := b.Queue("AAA", Buy, tc.bids[0].Price); !reflect.DeepEqual(got, tc.queue) {
					t.Errorf("best bid queue = %v, want %v", got, tc.queue)
				}
			}
		})
	}
}

// TestBookOwnBestRefuses: an own-best order that found its side empty is
// not an order of the book (nothing executes it, its id stays taken) until
// its cancel, which must name its whole quantity.
func TestBookOwnBestRefuses(t *testing.T) {
	tests := []struct {
		name string
		ev   Event
		want error
	}{
		{name: "executing it", ev: Event{Kind: KindExecute, Symbol: "AAA", Order: 2, Qty: 1}, want: ErrUnknownOrder},
		{name: "its id again", ev: add(2, Sell, 101, 1), want: ErrDuplicateOrder},
		{name: "an own-best order of its id", ev: Event{Kind: KindAdd, Symbol: "AAA", Order: 2, Side: Sell, Qty: 1, OwnBest: true}, want: ErrDuplicateOrder},
		{name: "its cancel for part of it", ev: Event{Kind: KindDelete, Symbol: "AAA", Order: 2, Qty: 1}, want: ErrBadEvent},
		{name: "an own-best order of no quantity", ev: Event{Kind: KindAdd, Symbol: "AAA", Order: 3, Side: Buy, OwnBest: true}, want: ErrBadEvent},
		{name: "an own-best order of id 0", ev: Event{Kind: KindAdd, Symbol: "AAA", Side: Buy, Qty: 1, OwnBest: true}, want: ErrBadEvent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := NewBook()
			b.Apply(add(1, Sell, 101, 10))
			if err := b.Apply(Event{Kind: KindAdd, Symbol: "AAA", Order: 2, Side: Buy, Qty: 5, OwnBest: true}); err != nil {
				t.Fatal(err)
			}
			if err := b.Apply(tc.ev); !errors.Is(err, tc.want) {
				t.Fatalf("Apply(%v) = %v, want %v", tc.ev, err, tc.want)
			}
			if !b.awaitsCancel(2) || len(b.Levels("AAA", Buy, 0)) != 0 {
				t.Errorf("a refused event changed the book: bids %v", b.Levels("AAA", Buy, 0))
			}
		})
	}
}

// TestBookPrints: every execution (at the resting order's price when the
// event names none) and every hidden trade is one print of its symbol, in
// order; a refused execution prints nothing.
func TestBookPrints(t *testing.T) {
	b := NewBook()
	for _, ev := range []Event{
		add(1, Sell, 100, 10), add(2, Buy, 101, 4),
		{Kind: KindExecute, Symbol: "AAA", Order: 1, Qty: 3, Match: 1},
		{Kind: KindExecute, Symbol: "AAA", Order: 1, Contra: 2, Side: Sell, Qty: 4, Price: 100, Match: 2},
		{Kind: KindTrade, Symbol: "AAA", Price: 99, Qty: 5, Match: 3},
		{Kind: KindTrade, Symbol: "BBB", Price: 7, Qty: 1, Match: 4},
	} {
		if err := b.Apply(ev); err != nil {
			t.Fatalf("Apply(%v): %v", ev, err)
		}
	}
	if err := b.Apply(Event{Kind: KindExecute, Symbol: "AAA", Order: 1, Qty: 4, Match: 5}); err == nil {
		t.Fatal("an execution beyond the order applied")
	}
	want := []Print{{Price: 100, Qty: 3, Match: 1}, {Price: 100, Qty: 4, Match: 2}, {Price: 99, Qty: 5, Match: 3}}
	if got := b.Prints("AAA"); !reflect.DeepEqual(got, want) {
		t.Errorf("prints of AAA = %v, want %v", got, want)
	}
	if got := b.Prints("BBB"); !reflect.DeepEqual(got, []Print{{Price: 7, Qty: 1, Match: 4}}) {
		t.Errorf("prints of BBB = %v", got)
	}
	if st := b.Stats("AAA"); st.Trades != 3 || st.Volume != 12 {
		t.Errorf("stats of AAA = %+v, want 3 trades of 12 shares", st)
	}
	if b.Prints("CCC") != nil {
		t.Error("prints of a symbol never seen")
	}
}

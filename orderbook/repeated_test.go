package orderbook

import (
	"errors"
	"testing"

	"sgw/feed/event"
)

// TestBookRepeatedExecutionDropped: an execution or trade whose identity
// (event.Event.Match: ITCH's Match Number, day-unique) the book applied
// among its last executions is a message delivered again (a relay
// repeating it and numbering on, with no other source to compare
// with): it is dropped, counted (ErrRepeatedExecution), its print not
// published again and its shares not taken again from the order. Before,
// a repeated execution of an order not taken whole printed again, counted
// twice in the day's volume, and left the order short, the book served
// as valid. Executions that differ in their order share a cross's match
// number; those with no identity (Match 0) are all applied; a Clear
// forgets them, as its rebuild delivers them again.
func TestBookRepeatedExecutionDropped(t *testing.T) {
	add := func(ref uint64) event.Event {
		return event.Event{Kind: event.Add, Ref: ref, Side: event.Sell, Price: 100, Qty: 1000}
	}
	exec := func(ref uint64, qty int64, match uint64) event.Event {
		return event.Event{Kind: event.Execute, Ref: ref, Qty: qty, Flags: event.FlagPrint, Match: match}
	}
	type step struct {
		ev       event.Event
		print    bool // a KindTrade Update published
		repeated bool // dropped as a repeat
	}
	tests := []struct {
		name   string
		steps  []step
		left   int64 // shares resting at 100
		volume int64
	}{
		{"partial execution repeated", []step{
			{ev: add(7)}, {ev: exec(7, 100, 5), print: true},
			{ev: exec(7, 100, 5), repeated: true},
			{ev: exec(7, 50, 6), print: true},
		}, 850, 150},
		{"execution with price, not printed, repeated", []step{
			{ev: add(7)},
			{ev: event.Event{Kind: event.Execute, Ref: 7, Qty: 300, Price: 100, Match: 5}},
			{ev: event.Event{Kind: event.Execute, Ref: 7, Qty: 300, Price: 100, Match: 5}, repeated: true},
		}, 700, 0},
		{"execution taking the order whole repeated", []step{
			{ev: add(7)}, {ev: exec(7, 1000, 5), print: true},
			{ev: exec(7, 1000, 5), repeated: true},
		}, 0, 1000},
		{"trade repeated", []step{
			{ev: add(7)},
			{ev: event.Event{Kind: event.Trade, Price: 101, Qty: 200, Match: 9}, print: true},
			{ev: event.Event{Kind: event.Trade, Price: 101, Qty: 200, Match: 9}, repeated: true},
		}, 1000, 200},
		{"a cross's executions share its match number", []step{
			{ev: add(7)}, {ev: add(8)},
			{ev: exec(7, 100, 5), print: true}, {ev: exec(8, 100, 5), print: true},
		}, 1800, 200},
		{"no identity", []step{
			{ev: add(7)}, {ev: exec(7, 100, 0), print: true}, {ev: exec(7, 100, 0), print: true},
		}, 800, 200},
		{"the rebuild delivers it again", []step{
			{ev: add(7)}, {ev: exec(7, 100, 5), print: true},
			{ev: event.Event{Kind: event.Clear}},
			{ev: add(7)}, {ev: exec(7, 100, 5), print: true},
			{ev: exec(7, 100, 5), repeated: true},
			{ev: event.Event{Kind: event.Valid}},
		}, 900, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBook()
			var u Update
			repeats := uint64(0)
			for i, s := range tc.steps {
				ok := b.Apply(&s.ev, &u)
				if got := ok && u.Kind == KindTrade; got != s.print {
					t.Fatalf("step %d (%v ref %d match %d): print published %v, want %v (update %v, error %v)",
						i, s.ev.Kind, s.ev.Ref, s.ev.Match, got, s.print, u.Kind, b.LastError())
				}
				if got := errors.Is(b.LastError(), ErrRepeatedExecution); got != s.repeated || s.repeated && ok {
					t.Fatalf("step %d (%v ref %d match %d): error %v, update %v; want repeated %v", i, s.ev.Kind, s.ev.Ref, s.ev.Match, b.LastError(), ok, s.repeated)
				}
				if s.repeated {
					repeats++
				}
			}
			var left int64
			for _, l := range b.Depth(Ask, 5, nil) {
				left += l.Qty
			}
			if left != tc.left || b.Volume() != tc.volume || b.Stale() || b.Errors().Repeated != repeats {
				t.Fatalf("%d shares left, volume %d, stale %v, errors %+v; want %d, %d, valid, %d repeated",
					left, b.Volume(), b.Stale(), b.Errors(), tc.left, tc.volume, repeats)
			}
		})
	}
}

// TestBookRepeatWindowBounded: the identities kept are the book's last
// repeatWindow executions and trades; an execution repeated after more
// than that many others of its book is applied again.
func TestBookRepeatWindowBounded(t *testing.T) {
	b := newTestBook()
	var u Update
	b.Apply(&event.Event{Kind: event.Add, Ref: 7, Side: event.Sell, Price: 100, Qty: 100000}, &u)
	for m := uint64(1); m <= repeatWindow+1; m++ {
		b.Apply(&event.Event{Kind: event.Execute, Ref: 7, Qty: 1, Flags: event.FlagPrint, Match: m}, &u)
	}
	if !b.Apply(&event.Event{Kind: event.Execute, Ref: 7, Qty: 1, Flags: event.FlagPrint, Match: 1}, &u) || b.Volume() != repeatWindow+2 {
		t.Fatalf("an execution past the window not applied: volume %d, error %v", b.Volume(), b.LastError())
	}
	if b.Apply(&event.Event{Kind: event.Execute, Ref: 7, Qty: 1, Flags: event.FlagPrint, Match: repeatWindow + 1}, &u) {
		t.Fatal("an execution within the window applied again")
	}
}

package orderbook

import (
	"testing"

	"sgw/feed/event"
)

// TestBookRefusedPrintPublishedOnReplay: an execution the book refused
// (ErrUnknownOrder: it missed the Add) published no print; the rebuild
// that follows (Clear) delivers its message again flagged
// event.FlagReplayed, as delivered before, and the book, now holding the
// order, publishes the print then, once. Prints it published before
// (the refused message delivered again, in its place, before the
// rebuild) stay unpublished on replay. Before, a refused print was never
// published. While the feed's sources disagree (from a Stale event to a
// Clear) a message may have been delivered twice, the second copy refused
// for an order the first removed: no refusal is kept then.
func TestBookRefusedPrintPublishedOnReplay(t *testing.T) {
	add := func(ref uint64) event.Event {
		return event.Event{Kind: event.Add, Ref: ref, Side: event.Buy, Price: 100, Qty: 1000}
	}
	exec := func(ref uint64, qty int64, f event.Flags) event.Event {
		return event.Event{Kind: event.Execute, Ref: ref, Qty: qty, Flags: event.FlagPrint | f}
	}
	const r = event.FlagReplayed
	type step struct {
		ev    event.Event
		print bool // a KindTrade Update published
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"refused, then replayed", []step{
			{add(1), false}, {exec(1, 10, 0), true}, // printed
			{exec(7, 20, 0), false}, // refused: the Add of 7 was missed
			{event.Event{Kind: event.Clear}, false},
			{add(1), false}, {exec(1, 10, r), false}, // printed before
			{add(7), false}, {exec(7, 20, r), true}, // refused before: printed now
			{event.Event{Kind: event.Valid}, false},
			{exec(7, 20, 0), true}, // a new execution
		}},
		{"printed once only", []step{
			{exec(7, 20, 0), false},
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 20, r), true},
			{event.Event{Kind: event.Clear}, false}, // another rebuild
			{add(7), false}, {exec(7, 20, r), false},
		}},
		{"refused again on replay", []step{
			{exec(7, 20, 0), false},
			{event.Event{Kind: event.Clear}, false},
			{exec(7, 20, r), false}, // the rebuild missed the Add too
			{event.Event{Kind: event.Valid}, false},
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 20, r), true},
		}},
		{"interrupted rebuild", []step{
			{exec(7, 20, 0), false},
			{event.Event{Kind: event.Clear}, false},
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 20, r), true},
		}},
		{"another execution of the order", []step{
			{exec(7, 20, 0), false},
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 30, r), false}, {exec(7, 20, r), true},
		}},
		{"delivered again before the rebuild", []step{
			{exec(7, 20, 0), false},
			{add(7), false}, {exec(7, 20, 0), true}, // out of place: printed
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 20, r), false},
		}},
		{"a relay repeats the Execute that took the order", []step{
			// One source numbering on after repeating a message: no
			// divergence to tell the books.
			{add(7), false}, {exec(7, 1000, 0), true}, // takes it whole
			{exec(7, 1000, 0), false}, // the repeat, refused: printed already
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 1000, r), false}, {exec(7, 1000, r), false},
			{event.Event{Kind: event.Valid}, false},
		}},
		{"sources disagree", []step{
			// A second copy, out of place, refused: its order gone.
			{exec(7, 20, 0), false},
			{event.Event{Kind: event.Stale}, false},
			{exec(8, 20, 0), false},
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 20, r), false},
			{add(8), false}, {exec(8, 20, r), false},
			{exec(9, 20, 0), false}, // refused during the rebuild
			{event.Event{Kind: event.Valid}, false},
			{event.Event{Kind: event.Clear}, false},
			{add(9), false}, {exec(9, 20, r), true},
		}},
		{"forgotten once rebuilt", []step{
			{exec(7, 20, 0), false},
			{event.Event{Kind: event.Clear}, false},
			{event.Event{Kind: event.Valid}, false},
			// A later stream's message, taken for delivered before.
			{add(7), false}, {exec(7, 20, r), false},
		}},
		{"refused during the rebuild", []step{
			{event.Event{Kind: event.Clear}, false},
			{exec(7, 20, 0), false}, // not delivered before: refused
			{event.Event{Kind: event.Valid}, false},
			{event.Event{Kind: event.Clear}, false},
			{add(7), false}, {exec(7, 20, r), true},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBook()
			var u Update
			for i, s := range tc.steps {
				ok := b.Apply(&s.ev, &u)
				if got := ok && u.Kind == KindTrade; got != s.print {
					t.Fatalf("step %d (%v ref %d flags %b): print published %v, want %v (update %v, error %v)",
						i, s.ev.Kind, s.ev.Ref, s.ev.Flags, got, s.print, u.Kind, b.LastError())
				}
			}
		})
	}
}

// TestBookRefusedPrintsBounded: a feed that names unknown orders without
// end keeps at most maxRefused refusals per book; the prints of those
// past it are lost at the rebuild (its trades resync says they may be),
// never published twice.
func TestBookRefusedPrintsBounded(t *testing.T) {
	b := newTestBook()
	var u Update
	const n = 3 * maxRefused
	for ref := uint64(1); ref <= n; ref++ {
		b.Apply(&event.Event{Kind: event.Execute, Ref: ref, Qty: 10, Flags: event.FlagPrint}, &u)
	}
	if len(b.refused) != maxRefused {
		t.Fatalf("%d refusals kept, want %d", len(b.refused), maxRefused)
	}
	b.Apply(&event.Event{Kind: event.Clear}, &u)
	printed := 0
	for ref := uint64(1); ref <= n; ref++ {
		b.Apply(&event.Event{Kind: event.Add, Ref: ref, Side: event.Sell, Price: 100, Qty: 100}, &u)
		if b.Apply(&event.Event{Kind: event.Execute, Ref: ref, Qty: 10, Flags: event.FlagPrint | event.FlagReplayed}, &u) && u.Kind == KindTrade {
			printed++
		}
	}
	if printed != maxRefused || len(b.refused) != 0 {
		t.Fatalf("replay published %d prints, %d refusals left; want %d, none", printed, len(b.refused), maxRefused)
	}
}

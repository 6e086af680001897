package orderbook

import (
	"bytes"
	"testing"

	"sgw/feed/event"
	"sgw/feed/itch"
)

// The tests write their streams in ITCH 5.0, the books' first protocol,
// and apply them as the feed's ITCH decoder delivers them: normalized by
// itch.Normalize, Stock Locates resolved through the Stock Directory.

// applyITCH applies one ITCH message to b, normalized. A message that
// carries no book event returns false.
func applyITCH(b *Book, m *itch.Message, u *Update) bool {
	var ev event.Event
	if !itch.Normalize(m, &ev) {
		return false
	}
	return b.Apply(&ev, u)
}

// itchEvents turns an ITCH stream into the events of e's instruments,
// with the message index as receive time: a Stock Directory maps its
// locate to the instrument it names, and messages of unmapped locates
// are dropped.
func itchEvents(t testing.TB, e *Engine, msgs []itch.Message) []event.Event {
	t.Helper()
	var locate [1 << 16]uint32 // SymbolID+1
	var out []event.Event
	for i := range msgs {
		m := &msgs[i]
		if m.Type == itch.TypeStockDirectory {
			locate[m.StockLocate] = 0
			if id, ok := e.LookupFeed(bytes.TrimRight(m.Stock[:], " ")); ok {
				locate[m.StockLocate] = uint32(id) + 1
			}
			continue
		}
		var ev event.Event
		if !itch.Normalize(m, &ev) {
			continue
		}
		if ev.Kind != event.System {
			if locate[m.StockLocate] == 0 {
				continue
			}
			ev.Symbol = locate[m.StockLocate] - 1
		}
		ev.Recv = int64(i)
		out = append(out, ev)
	}
	return out
}

// feed applies evs through in.
func feed(t testing.TB, in *Input, evs []event.Event) {
	for i := range evs {
		if err := in.Apply(&evs[i]); err != nil {
			t.Errorf("Apply %d: %v", i, err)
			return
		}
	}
}

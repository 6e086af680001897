package orderbook

import (
	"encoding/binary"
	"hash/fnv"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"sgw/feed/event"
	"sgw/refdata"
)

// viewPrint is a fingerprint of everything a View publishes.
func viewPrint(v *View) uint64 {
	h := fnv.New64a()
	var w [8]byte
	put := func(x uint64) {
		binary.LittleEndian.PutUint64(w[:], x)
		h.Write(w[:])
	}
	put(uint64(v.Symbol))
	put(v.Seq)
	put(v.Time)
	for _, side := range [2][]Level{v.Bids, v.Asks} {
		put(uint64(len(side)))
		for _, l := range side {
			put(uint64(l.Price))
			put(uint64(l.Qty))
			put(uint64(l.Orders))
		}
	}
	for _, x := range []int64{int64(v.Last), v.LastQty, v.Volume, v.Turnover, int64(v.Open), int64(v.High), int64(v.Low)} {
		put(uint64(x))
	}
	put(uint64(v.State))
	put(uint64(v.Checksum)<<32 | uint64(v.Checksum5))
	return h.Sum64()
}

// topAt is the top of book a model holds after one Update.
type topAt struct{ bid, ask Level }

// linModel is the state a symbol's published view must show at each Seq:
// fingerprints and tops indexed by Seq (index 0: the new book).
type linModel struct {
	prints []uint64
	tops   []topAt
}

func (m *linModel) record(b *Book) {
	v := bookView(b)
	m.prints = append(m.prints, viewPrint(&v))
	var t topAt
	if len(v.Bids) > 0 {
		t.bid = v.Bids[0]
	}
	if len(v.Asks) > 0 {
		t.ask = v.Asks[0]
	}
	m.tops = append(m.tops, t)
}

// linStream returns chunks of generated streams for ins, each emptying
// its books at the end, with rebuilds between them (a missed message
// marks a book wrong, a Clear empties it, a Valid ends the rebuild) and
// stale marks and their ends inside them.
func linStream(t *testing.T, e *Engine, chunks, n int) []event.Event {
	rng := rand.New(rand.NewPCG(17, 19))
	ins := e.insts
	var out []event.Event
	for c := range chunks {
		evs := itchEvents(t, e, genStream(t, rng, ins, n, uint64(c)*1e7+1))
		for i, ev := range evs {
			if ev.Kind != event.System && i%701 == 350 {
				out = append(out, event.Event{Kind: event.Stale, Symbol: ev.Symbol, Time: ev.Time})
			}
			if ev.Kind != event.System && i%701 == 500 {
				out = append(out, event.Event{Kind: event.Valid, Symbol: ev.Symbol, Time: ev.Time})
			}
			out = append(out, ev)
		}
		for id := range ins {
			sym := uint32(id)
			out = append(out,
				event.Event{Kind: event.Delete, Symbol: sym, Ref: 1 << 60}, // a missed Add: wrong
				event.Event{Kind: event.Valid, Symbol: sym},                // stays stale
				event.Event{Kind: event.Clear, Symbol: sym},
				event.Event{Kind: event.Valid, Symbol: sym})
		}
	}
	return out
}

// TestViewsLinearizable writes an Engine's books at full speed, from
// their feed and, for a Mirror, from their Updates, while readers take
// Views and Tops: every View must be exactly the state a stand-alone Book
// replaying the same events had at the View's Seq (levels, statistics,
// state and checksums), every Top the best levels at its Seq, and neither
// may go back. Run it with -race and without: plain copies are used only
// without (copy_plain.go).
func TestViewsLinearizable(t *testing.T) {
	chunks, n := 3, 15000
	if testing.Short() {
		chunks, n = 2, 5000
	}
	ins := testInstruments(3)
	cfg := Config{Instruments: ins, Shards: 2, RingSize: 64, InputSize: 64}
	t.Run("engine", func(t *testing.T) {
		e, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		evs := linStream(t, e, chunks, n)
		models, _ := linModels(e, evs)
		startEngine(t, e)
		checkLinearizable(t, e, models, func() {
			feed(t, e.NewInput("lin"), evs)
		})
	})
	t.Run("mirror", func(t *testing.T) {
		m, err := NewMirror(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		evs := linStream(t, m.e, chunks, n)
		models, ups := linModels(m.e, evs)
		for id := range ins {
			if err := m.Load(&View{Symbol: SymbolID(id), Checksum: Checksum(nil, nil, 10), Checksum5: Checksum(nil, nil, 5)}); err != nil {
				t.Fatal(err)
			}
		}
		checkLinearizable(t, m.e, models, func() {
			for i := range ups {
				if err := m.Apply(&ups[i]); err != nil {
					t.Errorf("update %d: %v", i, err)
					return
				}
			}
		})
	})
}

// linModels replays evs on stand-alone books of e's instruments and
// returns what each symbol's view must show at each Seq, and the Updates
// the books produced, in the order of evs.
func linModels(e *Engine, evs []event.Event) ([]linModel, []Update) {
	models := make([]linModel, len(e.insts))
	books := make([]*Book, len(e.insts))
	for id := range books {
		books[id] = NewBook(e.insts[id])
		books[id].id = SymbolID(id)
		models[id].record(books[id])
	}
	var ups []Update
	var u Update
	for i := range evs {
		if evs[i].Kind == event.System {
			continue
		}
		id := evs[i].Symbol
		if books[id].Apply(&evs[i], &u) {
			models[id].record(books[id])
			ups = append(ups, u)
		}
	}
	return models, ups
}

// checkLinearizable runs write while two readers check e's Views and
// Tops against models, until every symbol's view reaches its last Seq.
func checkLinearizable(t *testing.T, e *Engine, models []linModel, write func()) {
	var done atomic.Bool
	var views atomic.Uint64
	var wg sync.WaitGroup
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 3))
			var v View
			last := make([]uint64, len(models))
			lastTop := make([]uint64, len(models))
			for !done.Load() {
				id := SymbolID(rng.IntN(len(models)))
				m := &models[id]
				e.View(id, 0, &v)
				views.Add(1)
				if v.Seq >= uint64(len(m.prints)) || viewPrint(&v) != m.prints[v.Seq] {
					t.Errorf("symbol %d: view at seq %d (state %v) is no state the book had there: %+v", id, v.Seq, v.State, v)
					return
				}
				if v.Seq < last[id] {
					t.Errorf("symbol %d: view went back from seq %d to %d", id, last[id], v.Seq)
					return
				}
				last[id] = v.Seq
				bid, ask, seq := e.Top(id)
				if seq >= uint64(len(m.tops)) || (topAt{bid, ask}) != m.tops[seq] || seq < lastTop[id] {
					t.Errorf("symbol %d: top at seq %d (after %d): %v %v", id, seq, lastTop[id], bid, ask)
					return
				}
				lastTop[id] = seq
			}
		}()
	}
	write()
	waitFor(t, "every update", func() bool {
		var v View
		for id := range models {
			if e.View(SymbolID(id), 0, &v); v.Seq != uint64(len(models[id].prints)-1) {
				return false
			}
		}
		return true
	})
	done.Store(true)
	wg.Wait()
	t.Logf("%d views checked", views.Load())
}

// TestViewNeverGoesBack replays, step by step, a reader that loads the
// symbol's current publication, loses the processor while the writer
// publishes twice (an Add at seq 3, then a Stale mark at seq 4), and
// copies its buffer while the writer has filled seq 4's buffer but not yet
// made it current. Taking that copy showed the book stale at seq 4 and
// the reader's next View valid at seq 3: a view must be current at some
// moment of the call, so views never go back.
func TestViewNeverGoesBack(t *testing.T) {
	e, err := New(Config{Instruments: testInstruments(1), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	s := e.shards[0]
	var u Update
	for ref := range uint64(3) {
		s.process(&event.Event{Kind: event.Add, Ref: ref + 1, Side: event.Buy, Price: refdata.Price(99000 + 100*ref), Qty: 100}, &u, nil)
	}
	// Seq 3 is current (publication 3); the reader loaded publication 2,
	// seq 2, before the writer published 3.
	loaded := e.views[0].cur.Load() - 1
	s.process(&event.Event{Kind: event.Stale}, &u, nil) // publication 4: seq 4, stale
	e.views[0].cur.Store(3)                             // the writer, between filling it and publishing it

	var v View
	v.Bids, v.Asks = make([]Level, 0, 20), make([]Level, 0, 20)
	var h viewBook
	var tr viewTrades
	first := e.copyView(0, loaded, 20, &v, &h, &tr)
	e.View(0, 0, &v)
	if first && (h.seq > v.Seq || h.state == StateStale && v.State != StateStale) {
		t.Fatalf("the delayed reader got seq %d (%v), then a view at seq %d (%v)", h.seq, h.state, v.Seq, v.State)
	}
	if v.Seq != 3 || v.State == StateStale {
		t.Fatalf("view at seq %d (%v) before seq 4 is published, want seq 3", v.Seq, v.State)
	}
	e.views[0].cur.Store(4) // the writer goes on
	if e.View(0, 0, &v); v.Seq != 4 || v.State != StateStale {
		t.Fatalf("view at seq %d (%v) after seq 4 is published, want it stale", v.Seq, v.State)
	}
}

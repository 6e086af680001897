package orderbook

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"sgw/feed/event"
	"sgw/refdata"
)

// bookView is what a mirror must equal: the source book's published
// state.
func bookView(b *Book) View {
	v := View{Symbol: b.id, Seq: b.seq, Time: b.time, Bids: b.Depth(Bid, DefaultMaxDepth, nil), Asks: b.Depth(Ask, DefaultMaxDepth, nil),
		Last: b.last, LastQty: b.lastQty, Volume: b.volume, Turnover: b.turnover, Open: b.open, High: b.high, Low: b.low,
		State: b.published(), Checksum: b.ck.ck10, Checksum5: b.ck.ck5}
	return v
}

func sameView(t *testing.T, at string, got, want View) {
	t.Helper()
	got.Bids, got.Asks = slices.Clone(got.Bids), slices.Clone(got.Asks)
	if len(got.Bids) == 0 {
		got.Bids = nil
	}
	if len(got.Asks) == 0 {
		got.Asks = nil
	}
	if len(want.Bids) == 0 {
		want.Bids = nil
	}
	if len(want.Asks) == 0 {
		want.Asks = nil
	}
	if !slices.Equal(got.Bids, want.Bids) || !slices.Equal(got.Asks, want.Asks) {
		t.Fatalf("%s: levels\n got bids %v asks %v\nwant bids %v asks %v", at, got.Bids, got.Asks, want.Bids, want.Asks)
	}
	got.Bids, got.Asks, want.Bids, want.Asks = nil, nil, nil, nil
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got %+v\nwant %+v", at, got, want)
	}
}

// sourceBooks returns stand-alone books of ins, numbered as an Engine
// numbers them.
func sourceBooks(m *Mirror) []*Book {
	var out []*Book
	for i := range m.e.insts {
		b := NewBook(m.e.insts[i])
		b.id = SymbolID(i)
		out = append(out, b)
	}
	return out
}

// TestMirrorFollowsBooks feeds a generated stream (with rebuilds and
// stale marks) to stand-alone books and their Updates to a Mirror: after
// every Update the mirror's published view equals the book's.
func TestMirrorFollowsBooks(t *testing.T) {
	ins := testInstruments(6)
	m, err := NewMirror(Config{Instruments: ins, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	books := sourceBooks(m)
	var v View
	for id := range books {
		if m.e.View(SymbolID(id), 0, &v); v.State != StateStale {
			t.Fatalf("new mirror book %d state %v, want stale", id, v.State)
		}
		if err := m.Load(&View{Symbol: SymbolID(id), Checksum: Checksum(nil, nil, 10), Checksum5: Checksum(nil, nil, 5)}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(7, 11))
	evs := itchEvents(t, m.e, genStream(t, rng, ins, 20000, 1))
	var u Update
	for i := range evs {
		ev := evs[i]
		if i%5000 == 2500 && ev.Kind != event.System { // a rebuild, then a stale mark and its end
			for _, k := range []event.Kind{event.Clear, event.Valid, event.Stale, event.Valid} {
				x := event.Event{Kind: k, Symbol: ev.Symbol, Time: ev.Time}
				if books[ev.Symbol].Apply(&x, &u) {
					if err := m.Apply(&u); err != nil {
						t.Fatalf("event %d %v: %v", i, k, err)
					}
				}
			}
		}
		if ev.Kind == event.System {
			continue
		}
		b := books[ev.Symbol]
		if !b.Apply(&ev, &u) {
			continue
		}
		u.Recv = int64(i)
		if err := m.Apply(&u); err != nil {
			t.Fatalf("event %d: %v", i, err)
		}
		m.e.View(SymbolID(ev.Symbol), 0, &v)
		sameView(t, "event", v, bookView(b))
	}
}

// TestMirrorStaleUntilLoad: a gap, a checksum that differs or a kind a
// mirror cannot apply marks the book stale (published, with a KindReload
// in the ring); Updates are refused until a snapshot is loaded, then
// follow it.
func TestMirrorStaleUntilLoad(t *testing.T) {
	tests := []struct {
		name string
		bad  func(u *Update)
		want error
	}{
		{name: "gap", bad: func(u *Update) { u.Seq++ }, want: ErrGap},
		{name: "checksum", bad: func(u *Update) { u.Checksum++ }, want: ErrSnapshotMismatch},
		{name: "reload kind", bad: func(u *Update) { u.Kind = KindReload }, want: ErrGap},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMirror(Config{Instruments: testInstruments(1), Shards: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			b := sourceBooks(m)[0]
			load := func() {
				t.Helper()
				v := bookView(b)
				if err := m.Load(&v); err != nil {
					t.Fatal(err)
				}
			}
			load()
			rd := m.e.NewReader(0)
			defer rd.Close()
			var u Update
			add := func(ref uint64, side event.Side, price int64) Update {
				ev := event.Event{Kind: event.Add, Ref: ref, Side: side, Price: refdata.Price(price), Qty: 100}
				if !b.Apply(&ev, &u) {
					t.Fatal("add not applied")
				}
				return u
			}
			u1 := add(1, event.Buy, 99000)
			if err := m.Apply(&u1); err != nil {
				t.Fatal(err)
			}
			u2 := add(2, event.Sell, 101000)
			bad := u2
			tc.bad(&bad)
			if err := m.Apply(&bad); !errors.Is(err, tc.want) {
				t.Fatalf("bad update: %v, want %v", err, tc.want)
			}
			var v View
			if m.e.View(0, 0, &v); v.State != StateStale {
				t.Fatalf("state %v after %s, want stale", v.State, tc.name)
			}
			if _, stale := m.Book(0); !stale {
				t.Fatal("Book reports not stale")
			}
			if err := m.Apply(&u2); !errors.Is(err, ErrStale) {
				t.Fatalf("update on a stale book: %v, want ErrStale", err)
			}
			buf := make([]Update, 8)
			n, _ := rd.Next(buf)
			if n == 0 || buf[n-1].Kind != KindReload || buf[n-1].State != StateStale {
				t.Fatalf("ring after %s: %+v", tc.name, buf[:n])
			}
			load() // the snapshot at seq 2
			u3 := add(3, event.Buy, 99500)
			if err := m.Apply(&u2); err != nil { // a duplicate of the snapshot
				t.Fatal(err)
			}
			if err := m.Apply(&u3); err != nil {
				t.Fatal(err)
			}
			m.e.View(0, 0, &v)
			sameView(t, "after load", v, bookView(b))
		})
	}
}

// TestMirrorLoadRefusesBadSnapshots: a snapshot out of order or failing
// its checksums changes nothing.
func TestMirrorLoadRefusesBadSnapshots(t *testing.T) {
	l := func(p, q int64) Level { return Level{Price: refdata.Price(p), Qty: q, Orders: 1} }
	tests := []struct {
		name       string
		bids, asks []Level
		ck         uint32 // 0: the right one
		want       error
	}{
		{name: "bids ascending", bids: []Level{l(99, 1), l(100, 1)}, want: ErrBadMessage},
		{name: "asks descending", asks: []Level{l(101, 1), l(100, 1)}, want: ErrBadMessage},
		{name: "zero size", bids: []Level{l(99, 0)}, want: ErrBadMessage},
		{name: "checksum", bids: []Level{l(99, 1)}, ck: 1, want: ErrSnapshotMismatch},
		{name: "good", bids: []Level{l(99, 1)}, asks: []Level{l(100, 2)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMirror(Config{Instruments: testInstruments(1), Shards: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			v := View{Seq: 5, Bids: tc.bids, Asks: tc.asks, State: StateTrading,
				Checksum: Checksum(tc.bids, tc.asks, 10), Checksum5: Checksum(tc.bids, tc.asks, 5)}
			if tc.ck != 0 {
				v.Checksum = tc.ck
			}
			if err := m.Load(&v); !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Load: %v, want %v", err, tc.want)
			}
			seq, stale := m.Book(0)
			if want := tc.want != nil; stale != want || (seq == 5) == want {
				t.Fatalf("after Load: seq %d stale %v", seq, stale)
			}
		})
	}
}

// TestApplyUpdate checks the Update contract's rules one by one.
func TestApplyUpdate(t *testing.T) {
	l := func(p, q int64) Level { return Level{Price: refdata.Price(p), Qty: q} }
	five := []Level{l(100, 1), l(99, 1), l(98, 1), l(97, 1), l(96, 1)}
	tests := []struct {
		name  string
		bids  []Level
		u     Update
		depth int
		want  []Level
	}{
		{name: "insert at rank", bids: five[:2], u: Update{N: 1, Changes: [2]LevelChange{{Side: Bid, Rank: 1, Level: l(99, 5)}}}, depth: 5,
			want: []Level{l(100, 1), l(99, 5)}},
		{name: "new level pushes one out", bids: five, u: Update{N: 1, Changes: [2]LevelChange{{Side: Bid, Rank: 0, Level: l(101, 1)}}}, depth: 5,
			want: []Level{l(101, 1), l(100, 1), l(99, 1), l(98, 1), l(97, 1)}},
		{name: "removal refills from Enter", bids: five, u: Update{N: 1, Changes: [2]LevelChange{{Side: Bid, Rank: 0, Level: l(100, 0)}},
			EnterSide: Bid, Enter: [3]Level{l(95, 3)}}, depth: 5,
			want: []Level{l(99, 1), l(98, 1), l(97, 1), l(96, 1), l(95, 3)}},
		{name: "beyond depth skipped", bids: five, u: Update{N: 1, Changes: [2]LevelChange{{Side: Bid, Rank: 7, Level: l(90, 1)}}}, depth: 5,
			want: five},
		{name: "reset", bids: five, u: Update{Kind: KindReset}, depth: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := ApplyUpdate(slices.Clone(tc.bids), nil, &tc.u, tc.depth)
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestMirrorFollowsReplayedPrints: a rebuild clears every book and
// delivers the stream so far again, flagged event.FlagReplayed, then the
// rest of it. A replayed print is counted in the book's statistics but
// not published as a print (no KindTrade Update): a mirror fed the
// Updates (an edge) must come out with the same open, high, low, last,
// volume and turnover as the book after every Update, and the book with
// the statistics it had before the rebuild once the replay is over.
// Before, a mirror took open, high and low only from KindTrade Updates.
func TestMirrorFollowsReplayedPrints(t *testing.T) {
	ins := testInstruments(3)
	m, err := NewMirror(Config{Instruments: ins, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	books := sourceBooks(m)
	for id := range books {
		if err := m.Load(&View{Symbol: SymbolID(id), Checksum: Checksum(nil, nil, 10), Checksum5: Checksum(nil, nil, 5)}); err != nil {
			t.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(3, 5))
	evs := itchEvents(t, m.e, genStream(t, rng, ins, 6000, 1))
	var u Update
	var v View
	trades := 0
	apply := func(ev event.Event, at int) {
		t.Helper()
		if ev.Kind == event.System {
			return
		}
		b := books[ev.Symbol]
		if !b.Apply(&ev, &u) {
			return
		}
		if u.Kind == KindTrade {
			if ev.Flags&event.FlagReplayed != 0 {
				t.Fatalf("event %d: a replayed print was published again: %+v", at, u)
			}
			trades++
		}
		if err := m.Apply(&u); err != nil {
			t.Fatalf("event %d: %v", at, err)
		}
		m.e.View(SymbolID(ev.Symbol), 0, &v)
		sameView(t, "event", v, bookView(b))
	}
	half := len(evs) / 2
	for i := range evs[:half] {
		apply(evs[i], i)
	}
	if trades == 0 {
		t.Fatal("the stream printed nothing")
	}
	var before []View
	for _, b := range books {
		before = append(before, bookView(b))
		apply(event.Event{Kind: event.Clear, Symbol: uint32(b.id)}, -1)
	}
	for i := range evs[:half] {
		ev := evs[i]
		ev.Flags |= event.FlagReplayed
		apply(ev, i)
	}
	for id, b := range books {
		got, want := bookView(b), before[id]
		if got.Last != want.Last || got.LastQty != want.LastQty || got.Volume != want.Volume || got.Turnover != want.Turnover ||
			got.Open != want.Open || got.High != want.High || got.Low != want.Low {
			t.Fatalf("book %d after the replay: %+v, want the statistics of %+v", id, got, want)
		}
	}
	for i := half; i < len(evs); i++ {
		apply(evs[i], i)
	}
}

package orderbook

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/refdata"
)

func TestNewConfig(t *testing.T) {
	ins := testInstruments(2)
	tests := []struct {
		name string
		cfg  Config
		err  error
	}{
		{name: "defaults", cfg: Config{Instruments: ins}},
		{name: "no instruments", cfg: Config{}, err: ErrConfig},
		{name: "negative shards", cfg: Config{Instruments: ins, Shards: -1}, err: ErrConfig},
		{name: "depth too large", cfg: Config{Instruments: ins, MaxDepth: 51}, err: ErrConfig},
		{name: "ring not power of two", cfg: Config{Instruments: ins, RingSize: 1000}, err: ErrConfig},
		{name: "input not power of two", cfg: Config{Instruments: ins, InputSize: 3}, err: ErrConfig},
		{name: "duplicate symbol", cfg: Config{Instruments: []refdata.Instrument{ins[0], ins[0]}}, err: ErrConfig},
		{name: "bad instrument", cfg: Config{Instruments: []refdata.Instrument{{Symbol: "x"}}}, err: refdata.ErrBadInstrument},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := New(tc.cfg)
			if !errors.Is(err, tc.err) || (tc.err == nil) != (err == nil) {
				t.Fatalf("New() error %v, want %v", err, tc.err)
			}
			if err == nil && (e.MaxDepth() != DefaultMaxDepth || e.Shards() < 1) {
				t.Fatalf("defaults not filled: depth %d shards %d", e.MaxDepth(), e.Shards())
			}
		})
	}
}

// startEngine runs e until the test ends.
func startEngine(t *testing.T, e *Engine) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// waitFor polls cond until it holds; a test timeout catches a hang.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestInputRouting(t *testing.T) {
	ins := testInstruments(2)
	e, err := New(Config{Instruments: ins, Shards: 2})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	in := e.NewInput("primary")
	id, _ := e.Lookup("600001.SH")
	feed(t, in, []event.Event{
		{Kind: event.System, Code: 'O'},
		{Kind: event.Add, Symbol: uint32(id), Ref: 1, Side: event.Buy, Qty: 100, Price: 99000},
		{Kind: event.Delete, Symbol: uint32(id), Ref: 5},
	})
	if err := in.Apply(&event.Event{Kind: event.Add, Symbol: 2, Ref: 2, Side: event.Buy, Qty: 100, Price: 99000}); !errors.Is(err, ErrSymbol) {
		t.Fatalf("unknown symbol: %v", err)
	}
	waitFor(t, "messages", func() bool { return e.Stats().Messages == 2+1+1 }) // S to 2 shards, A, D
	bid, _, seq := e.Top(id)
	if bid != lv(99000, 100, 1) || seq != 1 {
		t.Fatalf("Top = %+v seq %d", bid, seq)
	}
	st := e.Stats()
	want := Stats{Messages: 4, Updates: 2, UnknownOrder: 1} // the add; the delete's stale mark
	if st != want {
		t.Fatalf("Stats() = %+v\nwant %+v", st, want)
	}
	if e.SystemEvent() != 'O' {
		t.Fatalf("system event %q", e.SystemEvent())
	}
}

// TestEngineConcurrent runs two inputs into a two-shard engine from their
// own goroutines while readers follow every shard's Update stream the way
// the WebSocket fan-out does (snapshot, then deltas, resnapshot when
// lapped) and other goroutines take views and tops.
func TestEngineConcurrent(t *testing.T) {
	n := 40000
	if testing.Short() {
		n = 5000
	}
	ins := testInstruments(8)
	e, err := New(Config{Instruments: ins, Shards: 2, RingSize: 1024, InputSize: 256})
	if err != nil {
		t.Fatal(err)
	}
	shardSyms := map[int][]SymbolID{}
	for _, id := range e.Symbols() {
		shardSyms[e.Shard(id)] = append(shardSyms[e.Shard(id)], id)
	}
	if len(shardSyms) != 2 {
		t.Fatalf("symbols not spread over both shards: %v", shardSyms)
	}

	// Input A carries instruments 0-3 with locates 1-4, input B 4-7 with
	// locates 11-14.
	streams := [2][]itch.Message{
		genStream(t, rand.New(rand.NewPCG(5, 6)), ins[:4], n, 1),
		genStream(t, rand.New(rand.NewPCG(7, 8)), ins[4:], n, 1),
	}
	for i := range streams[1] {
		if streams[1][i].StockLocate != 0 {
			streams[1][i].StockLocate += 10
		}
	}
	// Reference books, fed directly.
	want := make([]*Book, len(ins))
	for i := range want {
		want[i] = NewBook(ins[i])
	}
	var u Update
	for k, s := range streams {
		for i := range s {
			if loc := int(s[i].StockLocate); loc != 0 {
				applyITCH(want[loc-1-10*k+4*k], &s[i], &u)
			}
		}
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	finals := make([]uint64, len(ins))
	for i, b := range want {
		finals[i] = b.Seq()
	}
	var lapped [2]int
	for sh, syms := range shardSyms {
		rd := e.NewReader(sh)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer rd.Close()
			lapped[sh] = followShard(t, ctx, e, rd, syms, finals)
		}()
	}
	readCtx, stopReads := context.WithCancel(ctx)
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			checkViews(t, readCtx, e, uint64(g))
		}()
	}
	startEngine(t, e)
	var feeders sync.WaitGroup
	total := uint64(2) // each stream's System event goes to both shards
	for k := range streams {
		in := e.NewInput([]string{"a", "b"}[k])
		evs := itchEvents(t, e, streams[k])
		total += uint64(len(evs))
		feeders.Add(1)
		go func() {
			defer feeders.Done()
			feed(t, in, evs)
		}()
	}
	feeders.Wait()
	waitFor(t, "all messages", func() bool { return e.Stats().Messages == total })
	stopReads()
	wg.Wait()
	t.Logf("stats %+v, readers lapped %v times", e.Stats(), lapped)

	var v View
	for i, b := range want {
		e.View(SymbolID(i), 0, &v)
		if v.Seq != b.Seq() || !slices.Equal(v.Bids, b.Depth(Bid, 20, nil)) || !slices.Equal(v.Asks, b.Depth(Ask, 20, nil)) {
			t.Errorf("symbol %d: view seq %d, book seq %d, levels differ", i, v.Seq, b.Seq())
		}
		last, lastQty := b.Last()
		open, high, low, _ := b.OHLC()
		if v.Last != last || v.LastQty != lastQty || v.Volume != b.Volume() || v.Turnover != b.Turnover() ||
			v.Open != open || v.High != high || v.Low != low || v.State != b.State() {
			t.Errorf("symbol %d: view %+v, book last %v/%d volume %d", i, v, last, lastQty, b.Volume())
		}
	}
	st := e.Stats()
	if st.UnknownOrder+st.DuplicateOrder+st.OverExecution+st.BadMessage != 0 {
		t.Errorf("errors in stats %+v", st)
	}
}

// followShard consumes a shard's Updates like a fan-out client of every
// symbol in syms: a snapshot, then deltas onto a depth-10 copy checked
// against each Update's checksums. It returns once every symbol reached
// its final seq.
func followShard(t *testing.T, ctx context.Context, e *Engine, rd *Reader, syms []SymbolID, finals []uint64) int {
	type state struct {
		seq uint64
		c   client
	}
	st := map[SymbolID]*state{}
	var v View
	snapshot := func() {
		for _, id := range syms {
			e.View(id, 10, &v)
			if Checksum(v.Bids, v.Asks, 10) != v.Checksum {
				t.Errorf("snapshot of %d: checksum mismatch", id)
			}
			st[id] = &state{seq: v.Seq, c: client{depth: 10, bids: slices.Clone(v.Bids), asks: slices.Clone(v.Asks)}}
		}
	}
	snapshot()
	done := func() bool {
		for _, id := range syms {
			if st[id].seq != finals[id] {
				return false
			}
		}
		return true
	}
	buf := make([]Update, 64)
	laps := 0
	for !done() {
		if err := rd.Wait(ctx); err != nil {
			t.Errorf("Wait: %v", err)
			return laps
		}
		n, err := rd.Next(buf)
		if errors.Is(err, ErrLapped) {
			laps++
			snapshot()
			continue
		}
		if err != nil {
			t.Errorf("Next: %v", err)
			return laps
		}
		for i := range buf[:n] {
			u := &buf[i]
			s := st[u.Symbol]
			if s == nil {
				t.Errorf("update for symbol %d on the wrong shard", u.Symbol)
				return laps
			}
			if u.Seq <= s.seq {
				continue // already in the snapshot
			}
			if u.Seq != s.seq+1 {
				t.Errorf("symbol %d: seq %d after %d", u.Symbol, u.Seq, s.seq)
				return laps
			}
			s.seq = u.Seq
			s.c.apply(u)
			if Checksum(s.c.bids, s.c.asks, 10) != u.Checksum || Checksum(s.c.bids, s.c.asks, 5) != u.Checksum5 {
				t.Errorf("symbol %d seq %d: client copy does not match the checksum", u.Symbol, u.Seq)
				return laps
			}
		}
	}
	return laps
}

// checkViews takes views and tops of random symbols until ctx is done,
// checking each view against its own checksums.
func checkViews(t *testing.T, ctx context.Context, e *Engine, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	var v View
	syms := e.Symbols()
	lastSeq := make([]uint64, len(syms))
	for i := 0; ctx.Err() == nil; i++ {
		id := syms[rng.IntN(len(syms))]
		depth := []int{1, 5, 10, 20}[rng.IntN(4)]
		e.View(id, depth, &v)
		if v.Symbol != id || len(v.Bids) > depth || len(v.Asks) > depth {
			t.Errorf("view of %d at depth %d: %d/%d levels", id, depth, len(v.Bids), len(v.Asks))
			return
		}
		if v.Seq < lastSeq[id] {
			t.Errorf("view of %d went back from seq %d to %d", id, lastSeq[id], v.Seq)
			return
		}
		lastSeq[id] = v.Seq
		if depth >= 10 && Checksum(v.Bids, v.Asks, 10) != v.Checksum {
			t.Errorf("view of %d seq %d: checksum mismatch", id, v.Seq)
			return
		}
		if depth >= 5 && Checksum(v.Bids, v.Asks, 5) != v.Checksum5 {
			t.Errorf("view of %d seq %d: checksum5 mismatch", id, v.Seq)
			return
		}
		bid, ask, _ := e.Top(id)
		if bid.Qty != 0 && ask.Qty != 0 && bid.Price >= ask.Price {
			t.Errorf("top of %d crossed: %+v %+v", id, bid, ask)
			return
		}
		if i%64 == 0 {
			time.Sleep(10 * time.Microsecond)
		}
	}
}

func TestReaderLapped(t *testing.T) {
	ins := testInstruments(1)
	e, err := New(Config{Instruments: ins, Shards: 1, RingSize: 16})
	if err != nil {
		t.Fatal(err)
	}
	startEngine(t, e)
	rd := e.NewReader(0)
	defer rd.Close()
	in := e.NewInput("a")
	msgs := []itch.Message{{Type: itch.TypeStockDirectory, StockLocate: 1, Stock: stockOf(t, "600000")}}
	for i := range 40 {
		msgs = append(msgs, itch.Message{Type: itch.TypeAddOrder, StockLocate: 1, OrderRef: uint64(i + 1), Side: 'B',
			Shares: 100, Price: uint32(90000 + 100*i), Stock: stockOf(t, "600000")})
	}
	feed(t, in, itchEvents(t, e, msgs))
	waitFor(t, "updates", func() bool { return e.Stats().Updates == 40 })
	buf := make([]Update, 8)
	if n, err := rd.Next(buf); !errors.Is(err, ErrLapped) || n != 0 {
		t.Fatalf("Next = %d, %v; want ErrLapped", n, err)
	}
	if n, err := rd.Next(buf); n != 0 || err != nil {
		t.Fatalf("Next after lap = %d, %v; want nothing", n, err)
	}
	var v View
	e.View(0, 0, &v)
	if v.Seq != 40 || len(v.Bids) != 20 || v.Bids[0].Price != 90000+3900 {
		t.Fatalf("resnapshot seq %d, %d bids", v.Seq, len(v.Bids))
	}
	feed(t, in, []event.Event{{Kind: event.Delete, Symbol: 0, Ref: 40}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rd.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := rd.Next(buf)
	if err != nil || n != 1 || buf[0].Seq != 41 || buf[0].Changes[0] != chg(Bid, 0, lv(93900, 0, 0)) {
		t.Fatalf("Next = %d, %v, %+v", n, err, buf[0])
	}
	if e.Stats().Lapped != 1 {
		t.Fatalf("lapped count %d", e.Stats().Lapped)
	}
	// The Enter levels refill a depth-20 client with the 21st level.
	if buf[0].EnterSide != Bid || buf[0].Enter[2] != lv(90000+100*19, 100, 1) {
		t.Fatalf("enter %v %+v", buf[0].EnterSide, buf[0].Enter)
	}
}

func TestReaderWaitCancelled(t *testing.T) {
	e, err := New(Config{Instruments: testInstruments(1), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	rd := e.NewReader(0)
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		time.Sleep(5 * time.Millisecond)
		cancel()
	}()
	if err := rd.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v", err)
	}
	rd.Close()
}

func TestRunStops(t *testing.T) {
	e, err := New(Config{Instruments: testInstruments(1), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- e.Run(ctx) }()
	rd := e.NewReader(0)
	waitErr := make(chan error)
	go func() { waitErr <- rd.Wait(context.Background()) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := <-waitErr; !errors.Is(err, ErrClosed) {
		t.Fatalf("Wait after stop = %v", err)
	}
	if err := e.Run(context.Background()); !errors.Is(err, ErrRunning) {
		t.Fatalf("second Run = %v", err)
	}
	in := e.NewInput("late")
	if err := in.Apply(&event.Event{Kind: event.Delete, Ref: 1}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Apply after stop = %v", err)
	}
}

func TestReadersDoNotAllocate(t *testing.T) {
	ins := testInstruments(1)
	e, err := New(Config{Instruments: ins, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	rd := e.NewReader(0)
	defer rd.Close()
	v := View{Bids: make([]Level, 0, 20), Asks: make([]Level, 0, 20)}
	buf := make([]Update, 16)
	allocs := testing.AllocsPerRun(100, func() {
		e.Top(0)
		e.View(0, 10, &v)
		rd.Next(buf)
	})
	if allocs != 0 {
		t.Fatalf("readers allocate %.1f times per call", allocs)
	}
}

// TestInputMissed: a book that finds it missed a message (an unknown
// order, a duplicate add) counts in the Missed of the Input whose event
// found it, until a Clear mends it, whichever Input sends the Clear.
// While a Clear waits in its shard's queue Missed reports false (the
// rebuild it begins mends the book), and a book found wrong again after
// that Clear is reported once the Clear has been applied. The Engine does
// not run: the test drains the shard itself, step by step.
func TestInputMissed(t *testing.T) {
	e, err := New(Config{Instruments: testInstruments(2), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	a, b := e.NewInput("a"), e.NewInput("b")
	var u Update
	add := func(sym uint32, ref uint64) event.Event {
		return event.Event{Kind: event.Add, Symbol: sym, Ref: ref, Side: event.Buy, Qty: 100, Price: 99000}
	}
	steps := []struct {
		name         string
		in           *Input // sends evs
		evs          []event.Event
		drain        bool // the shard applies what is queued
		wantA, wantB bool // Missed() of a and b after the step
	}{
		{name: "add", in: a, evs: []event.Event{add(0, 1)}, drain: true},
		{name: "delete of an unknown order", in: a, evs: []event.Event{{Kind: event.Delete, Symbol: 0, Ref: 9}}, drain: true, wantA: true},
		{name: "clear queued, found wrong again after it", in: a,
			evs: []event.Event{{Kind: event.Clear, Symbol: 0}, {Kind: event.Delete, Symbol: 0, Ref: 9}}},
		{name: "both applied", drain: true, wantA: true},
		{name: "another input's clear mends it", in: b, evs: []event.Event{{Kind: event.Clear, Symbol: 0}}, drain: true},
		{name: "duplicate add, other input", in: b, evs: []event.Event{add(1, 1), add(1, 1)}, drain: true, wantB: true},
		{name: "valid does not mend it", in: b, evs: []event.Event{{Kind: event.Valid, Symbol: 1}}, drain: true, wantB: true},
		{name: "clear mends it", in: b, evs: []event.Event{{Kind: event.Clear, Symbol: 1}, add(1, 1), {Kind: event.Valid, Symbol: 1}}, drain: true},
	}
	for _, st := range steps {
		if st.in != nil {
			feed(t, st.in, st.evs)
		}
		if st.drain {
			e.shards[0].drain(&u)
		}
		if a.Missed() != st.wantA || b.Missed() != st.wantB {
			t.Fatalf("%s: Missed() a %v b %v, want %v %v", st.name, a.Missed(), b.Missed(), st.wantA, st.wantB)
		}
	}
}

// TestEngineDiffers: Engine.Differs, read from the published view, tells
// a book known to differ from the venue's (snapshots found it different
// twice in a row, or it missed a message) from one stale only for an
// outage, until a Clear mends it, also when it was found different while
// already stale (no Update: the writer publishes the view alone). The
// SZSE feed rebuilds the channels of the books that differ, not of every
// stale one (feed.TestSZSERebuildOnlyDifferingChannel). The Engine does
// not run: the test drains the shard itself, step by step.
func TestEngineDiffers(t *testing.T) {
	e, err := New(Config{Instruments: testInstruments(2), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := e.NewInput("szse")
	var u Update
	add := func(sym uint32, ref uint64, px int64) event.Event {
		return event.Event{Kind: event.Add, Symbol: sym, Ref: ref, Side: event.Buy, Qty: 100, Price: refdata.Price(px)}
	}
	differ := []event.Event{ // a snapshot whose best bid the book does not hold
		{Kind: event.Check, Symbol: 0, Side: event.Buy, Code: 0, Price: 98000, Qty: 100},
		{Kind: event.CheckDone, Symbol: 0},
	}
	steps := []struct {
		name         string
		evs          []event.Event
		want0, want1 bool // Differs of symbols 0 and 1 after the step
		stale        bool // both published stale after the step
	}{
		{name: "books", evs: []event.Event{add(0, 1, 99000), add(1, 1, 99000)}},
		{name: "outage", evs: []event.Event{{Kind: event.Stale, Symbol: 0}, {Kind: event.Stale, Symbol: 1}}, stale: true},
		{name: "one differing snapshot", evs: differ, stale: true},
		{name: "the book moves, its next snapshot differs", evs: append([]event.Event{add(0, 2, 90000)}, differ...),
			want0: true, stale: true},
		{name: "outage over", evs: []event.Event{{Kind: event.Valid, Symbol: 0}, {Kind: event.Valid, Symbol: 1}}, want0: true},
		{name: "rebuild", evs: []event.Event{{Kind: event.Clear, Symbol: 0}, add(0, 1, 99000), {Kind: event.Valid, Symbol: 0}}},
		{name: "outage, a delete of an unknown order", evs: []event.Event{{Kind: event.Stale, Symbol: 0}, {Kind: event.Stale, Symbol: 1},
			{Kind: event.Delete, Symbol: 1, Ref: 9}}, want1: true, stale: true},
		{name: "its rebuild", evs: []event.Event{{Kind: event.Clear, Symbol: 1}}, stale: true},
	}
	for _, st := range steps {
		feed(t, in, st.evs)
		clearing := slices.ContainsFunc(st.evs, func(ev event.Event) bool { return ev.Kind == event.Clear })
		if in.Clearing() != clearing {
			t.Fatalf("%s: Clearing %v before the writer applied the step, want %v", st.name, in.Clearing(), clearing)
		}
		e.shards[0].drain(&u)
		if in.Clearing() {
			t.Fatalf("%s: Clearing after the writer applied the step", st.name)
		}
		if e.Differs(0) != st.want0 || e.Differs(1) != st.want1 {
			t.Fatalf("%s: Differs 0 %v 1 %v, want %v %v", st.name, e.Differs(0), e.Differs(1), st.want0, st.want1)
		}
		if st.stale && (!e.Stale(0) || !e.Stale(1)) {
			t.Fatalf("%s: Stale 0 %v 1 %v, want both", st.name, e.Stale(0), e.Stale(1))
		}
	}
	if e.Differs(SymbolID(2)) {
		t.Fatal("an unknown symbol differs")
	}
}

// TestDiffersRepublishKeepsView: when a book already stale is found
// different (no Update), the writer publishes its view alone, at the same
// Seq: the View (levels, checksums, state, statistics) and the top of book
// are those of that Seq, the ring carries nothing, and the views of the
// Updates that follow still hold every level (the double buffer takes
// the changes of the publication before, here none). Readers of views
// (the WebSocket fan-out, mdbus snapshots) thus never see two views at
// one Seq that differ, nor an Update for the republication.
func TestDiffersRepublishKeepsView(t *testing.T) {
	e, err := New(Config{Instruments: testInstruments(1), Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	in := e.NewInput("szse")
	rd := e.NewReader(0)
	defer rd.Close()
	var u Update
	buf := make([]Update, 64)
	step := func(evs ...event.Event) int {
		t.Helper()
		feed(t, in, evs)
		e.shards[0].drain(&u)
		n, err := rd.Next(buf)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	b := e.books[0]
	check := func(name string) View {
		t.Helper()
		var v View
		e.View(0, 0, &v)
		ck10, ck5 := b.Checksums()
		bids, asks := b.Depth(Bid, e.maxDepth, nil), b.Depth(Ask, e.maxDepth, nil)
		if v.Seq != b.Seq() || v.Checksum != ck10 || v.Checksum5 != ck5 || v.State != b.published() ||
			!slices.Equal(v.Bids, bids) || !slices.Equal(v.Asks, asks) {
			t.Fatalf("%s: view %+v, book seq %d bids %v asks %v", name, v, b.Seq(), bids, asks)
		}
		return v
	}
	order := func(ref uint64, side event.Side, px int64) event.Event {
		return event.Event{Kind: event.Add, Symbol: 0, Ref: ref, Side: side, Qty: 100 * int64(ref), Price: refdata.Price(px)}
	}
	snap := []event.Event{
		{Kind: event.Check, Symbol: 0, Side: event.Buy, Code: 0, Price: 98000, Qty: 100},
		{Kind: event.CheckDone, Symbol: 0},
	}
	for i := range 6 {
		step(order(uint64(i+1), event.Buy, 99000-int64(i)*100), order(uint64(i+11), event.Sell, 99500+int64(i)*100))
	}
	step(event.Event{Kind: event.Trade, Symbol: 0, Price: 99200, Qty: 300, Match: 1})
	step(event.Event{Kind: event.Stale, Symbol: 0})
	step(snap...)
	step(order(7, event.Buy, 98950))
	before := check("before")
	bid, ask, topSeq := e.Top(0)
	if n := step(snap...); n != 0 || !e.Differs(0) {
		t.Fatalf("found different while stale: %d Updates (want 0), Differs %v", n, e.Differs(0))
	}
	after := check("republished")
	if after.Seq != before.Seq || after.Last != before.Last || after.Volume != before.Volume || after.Turnover != before.Turnover ||
		after.Open != before.Open || after.High != before.High || after.Low != before.Low || after.LastQty != before.LastQty {
		t.Fatalf("republished view %+v, was %+v", after, before)
	}
	if b2, a2, s2 := e.Top(0); b2 != bid || a2 != ask || s2 != topSeq {
		t.Fatalf("top moved: %v %v %d, was %v %v %d", b2, a2, s2, bid, ask, topSeq)
	}
	for i, ev := range []event.Event{
		{Kind: event.Delete, Symbol: 0, Ref: 3},
		order(21, event.Sell, 99550),
		{Kind: event.Reduce, Symbol: 0, Ref: 12, Qty: 100},
		{Kind: event.Delete, Symbol: 0, Ref: 1},
	} {
		if n := step(ev); n != 1 {
			t.Fatalf("event %d: %d Updates", i, n)
		}
		check(fmt.Sprintf("after event %d", i))
	}
}

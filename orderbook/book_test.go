package orderbook

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"sgw/feed/event"
	"sgw/feed/itch"
	"sgw/refdata"
)

var testStock = [8]byte{'6', '0', '0', '0', '0', '0', ' ', ' '}

func mAdd(ref uint64, side byte, price uint32, shares uint64) itch.Message {
	return itch.Message{Type: itch.TypeAddOrder, OrderRef: ref, Side: side, Shares: shares, Price: price, Stock: testStock}
}

func mExec(ref, shares uint64) itch.Message {
	return itch.Message{Type: itch.TypeOrderExecuted, OrderRef: ref, Shares: shares}
}

func mExecPrice(ref, shares uint64, price uint32, printable byte) itch.Message {
	return itch.Message{Type: itch.TypeOrderExecutedPrice, OrderRef: ref, Shares: shares, Price: price, Printable: printable}
}

func mCancel(ref, shares uint64) itch.Message {
	return itch.Message{Type: itch.TypeOrderCancel, OrderRef: ref, Shares: shares}
}

func mDelete(ref uint64) itch.Message {
	return itch.Message{Type: itch.TypeOrderDelete, OrderRef: ref}
}

func mReplace(ref, newRef uint64, price uint32, shares uint64) itch.Message {
	return itch.Message{Type: itch.TypeOrderReplace, OrderRef: ref, NewOrderRef: newRef, Price: price, Shares: shares}
}

func lv(price refdata.Price, qty int64, orders int32) Level {
	return Level{Price: price, Qty: qty, Orders: orders}
}

func chg(side Side, rank int8, l Level) LevelChange {
	return LevelChange{Side: side, Rank: rank, Level: l}
}

func newTestBook() *Book {
	return NewBook(testInstruments(1)[0])
}

// base is a small two-sided book: bids 10.00 x300 (2 orders), 9.99 x100;
// asks 10.01 x200, 10.02 x500.
func base() []itch.Message {
	return []itch.Message{
		mAdd(1, 'B', 100000, 100),
		mAdd(2, 'B', 100000, 200),
		mAdd(3, 'B', 99900, 100),
		mAdd(4, 'S', 100100, 200),
		mAdd(5, 'S', 100200, 500),
	}
}

func TestBookApply(t *testing.T) {
	tests := []struct {
		name        string
		setup       []itch.Message
		msg         itch.Message
		wantOK      bool
		wantErr     error
		wantKind    UpdateKind
		wantChanges []LevelChange
		wantBids    []Level
		wantAsks    []Level
		check       func(t *testing.T, b *Book, u *Update)
	}{
		{
			name: "add new best bid", setup: base(), msg: mAdd(6, 'B', 100100-50, 100),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Bid, 0, lv(100050, 100, 1))},
			wantBids:    []Level{lv(100050, 100, 1), lv(100000, 300, 2), lv(99900, 100, 1)},
		},
		{
			name: "add to existing level", setup: base(), msg: mAdd(6, 'S', 100200, 100),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Ask, 1, lv(100200, 600, 2))},
			wantAsks:    []Level{lv(100100, 200, 1), lv(100200, 600, 2)},
		},
		{
			name: "add deep ask", setup: base(), msg: mAdd(6, 'S', 100300, 100),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Ask, 2, lv(100300, 100, 1))},
			wantAsks:    []Level{lv(100100, 200, 1), lv(100200, 500, 1), lv(100300, 100, 1)},
		},
		{
			name: "add mpid", setup: base(), msg: itch.Message{Type: itch.TypeAddOrderMPID, OrderRef: 9, Side: 'B', Shares: 100, Price: 99800},
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Bid, 2, lv(99800, 100, 1))},
		},
		{
			name: "add duplicate ref", setup: base(), msg: mAdd(1, 'B', 99000, 100),
			wantErr: ErrDuplicateOrder, wantOK: true, wantKind: KindStatus,
			wantBids: []Level{lv(100000, 300, 2), lv(99900, 100, 1)},
		},
		{name: "add bad side", setup: base(), msg: mAdd(6, 'X', 99000, 100), wantErr: ErrBadMessage},
		{name: "add zero shares", setup: base(), msg: mAdd(6, 'B', 99000, 0), wantErr: ErrBadMessage},
		{name: "add zero price", setup: base(), msg: mAdd(6, 'B', 0, 100), wantErr: ErrBadMessage},
		{
			name: "partial execution", setup: base(), msg: mExec(1, 40),
			wantOK: true, wantKind: KindTrade,
			wantChanges: []LevelChange{chg(Bid, 0, lv(100000, 260, 2))},
			wantBids:    []Level{lv(100000, 260, 2), lv(99900, 100, 1)},
			check: func(t *testing.T, b *Book, u *Update) {
				if u.TradePrice != 100000 || u.TradeQty != 40 || u.Last != 100000 || u.Volume != 40 || u.Turnover != 4000000 {
					t.Errorf("trade fields %+v", u)
				}
			},
		},
		{
			name: "full execution of one order keeps level", setup: base(), msg: mExec(1, 100),
			wantOK: true, wantKind: KindTrade,
			wantChanges: []LevelChange{chg(Bid, 0, lv(100000, 200, 1))},
		},
		{
			name: "full execution removes level", setup: base(), msg: mExec(4, 200),
			wantOK: true, wantKind: KindTrade,
			wantChanges: []LevelChange{chg(Ask, 0, lv(100100, 0, 0))},
			wantAsks:    []Level{lv(100200, 500, 1)},
			check: func(t *testing.T, b *Book, u *Update) {
				if u.EnterSide != Ask || u.Enter != [3]Level{} {
					t.Errorf("enter %v %+v, want ask with no levels at 4/9/19", u.EnterSide, u.Enter)
				}
				if b.Orders() != 4 {
					t.Errorf("orders %d", b.Orders())
				}
			},
		},
		{
			name: "over-execution removes order", setup: base(), msg: mExec(3, 500),
			wantOK: true, wantErr: ErrOverExecution, wantKind: KindTrade,
			wantChanges: []LevelChange{chg(Bid, 1, lv(99900, 0, 0))},
			check: func(t *testing.T, b *Book, u *Update) {
				if u.TradeQty != 100 {
					t.Errorf("trade qty %d, want the 100 left", u.TradeQty)
				}
			},
		},
		{name: "execute unknown ref", setup: base(), msg: mExec(99, 100), wantErr: ErrUnknownOrder, wantOK: true, wantKind: KindStatus},
		{
			name: "execution with price printable", setup: base(), msg: mExecPrice(5, 100, 100150, 'Y'),
			wantOK: true, wantKind: KindTrade,
			wantChanges: []LevelChange{chg(Ask, 1, lv(100200, 400, 1))},
			check: func(t *testing.T, b *Book, u *Update) {
				if u.TradePrice != 100150 || u.Last != 100150 || u.Volume != 100 {
					t.Errorf("trade fields %+v", u)
				}
			},
		},
		{
			name: "execution with price not printable", setup: base(), msg: mExecPrice(5, 100, 100150, 'N'),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Ask, 1, lv(100200, 400, 1))},
			check: func(t *testing.T, b *Book, u *Update) {
				if u.TradeQty != 0 || u.Last != 0 || u.Volume != 0 {
					t.Errorf("non-printable execution counted as trade: %+v", u)
				}
			},
		},
		{
			name: "partial cancel", setup: base(), msg: mCancel(2, 50),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Bid, 0, lv(100000, 250, 2))},
		},
		{name: "cancel unknown ref", setup: base(), msg: mCancel(42, 50), wantErr: ErrUnknownOrder, wantOK: true, wantKind: KindStatus},
		{
			name: "delete removes level", setup: base(), msg: mDelete(3),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Bid, 1, lv(99900, 0, 0))},
			wantBids:    []Level{lv(100000, 300, 2)},
		},
		{name: "delete unknown ref", setup: base(), msg: mDelete(7), wantErr: ErrUnknownOrder, wantOK: true, wantKind: KindStatus},
		{
			name: "replace to other price", setup: base(), msg: mReplace(3, 10, 100050, 300),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Bid, 1, lv(99900, 0, 0)), chg(Bid, 0, lv(100050, 300, 1))},
			wantBids:    []Level{lv(100050, 300, 1), lv(100000, 300, 2)},
			check: func(t *testing.T, b *Book, u *Update) {
				var u2 Update
				if _, live := b.orders.get(3); live {
					t.Errorf("old ref still live")
				}
				if !applyITCH(b, ptr(mDelete(10)), &u2) {
					t.Errorf("new ref not live")
				}
			},
		},
		{
			name: "replace at same price loses priority", setup: base(), msg: mReplace(1, 10, 100000, 50),
			wantOK: true, wantKind: KindBook,
			wantChanges: []LevelChange{chg(Bid, 0, lv(100000, 250, 2))},
			check: func(t *testing.T, b *Book, u *Update) {
				s := &b.sides[Bid]
				l := &s.levels[len(s.levels)-1]
				if b.slab[l.head].ref != 2 || b.slab[l.tail].ref != 10 {
					t.Errorf("queue head %d tail %d, want 2 then 10", b.slab[l.head].ref, b.slab[l.tail].ref)
				}
			},
		},
		{name: "replace unknown ref", setup: base(), msg: mReplace(99, 10, 100000, 50), wantErr: ErrUnknownOrder, wantOK: true, wantKind: KindStatus},
		{name: "replace onto live ref", setup: base(), msg: mReplace(1, 2, 100000, 50), wantErr: ErrDuplicateOrder, wantOK: true, wantKind: KindStatus},
		{
			name: "trade does not touch levels", setup: base(),
			msg:    itch.Message{Type: itch.TypeTrade, Side: 'B', Shares: 300, Price: 100050},
			wantOK: true, wantKind: KindTrade,
			wantBids: []Level{lv(100000, 300, 2), lv(99900, 100, 1)},
			wantAsks: []Level{lv(100100, 200, 1), lv(100200, 500, 1)},
			check: func(t *testing.T, b *Book, u *Update) {
				if u.Last != 100050 || u.Volume != 300 || u.Turnover != 100050*300 || u.N != 0 {
					t.Errorf("trade %+v", u)
				}
			},
		},
		{
			name: "cross does not touch levels", setup: base(),
			msg:    itch.Message{Type: itch.TypeCrossTrade, Shares: 1000, Price: 100000, CrossType: 'O'},
			wantOK: true, wantKind: KindTrade,
			wantBids: []Level{lv(100000, 300, 2), lv(99900, 100, 1)},
			check: func(t *testing.T, b *Book, u *Update) {
				if o, h, l, last := b.OHLC(); o != 100000 || h != 100000 || l != 100000 || last != 100000 || u.Volume != 1000 {
					t.Errorf("ohlc %v %v %v %v volume %d", o, h, l, last, u.Volume)
				}
			},
		},
		{
			name: "empty cross ignored", setup: base(),
			msg: itch.Message{Type: itch.TypeCrossTrade, Shares: 0, Price: 100000, CrossType: 'O'},
		},
		{
			name: "trading action", setup: base(),
			msg:    itch.Message{Type: itch.TypeTradingAction, TradingState: 'H'},
			wantOK: true, wantKind: KindStatus,
			check: func(t *testing.T, b *Book, u *Update) {
				if u.State != StateHalted || b.State() != StateHalted {
					t.Errorf("state %v", u.State)
				}
			},
		},
		{
			name: "system event recorded only", setup: base(),
			msg: itch.Message{Type: itch.TypeSystemEvent, EventCode: 'Q'},
			check: func(t *testing.T, b *Book, u *Update) {
				if b.SystemEvent() != 'Q' {
					t.Errorf("event %q", b.SystemEvent())
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBook()
			var u Update
			for i := range tc.setup {
				if !applyITCH(b, &tc.setup[i], &u) {
					t.Fatalf("setup %d: %v", i, b.LastError())
				}
			}
			seq := b.Seq()
			msg := tc.msg
			ok := applyITCH(b, &msg, &u)
			if ok != tc.wantOK {
				t.Fatalf("Apply = %v (%v), want %v", ok, b.LastError(), tc.wantOK)
			}
			if !errors.Is(b.LastError(), tc.wantErr) || (tc.wantErr == nil) != (b.LastError() == nil) {
				t.Fatalf("LastError = %v, want %v", b.LastError(), tc.wantErr)
			}
			if ok {
				if u.Seq != seq+1 || b.Seq() != seq+1 {
					t.Errorf("seq %d, want %d", u.Seq, seq+1)
				}
				if u.Kind != tc.wantKind {
					t.Errorf("kind %v, want %v", u.Kind, tc.wantKind)
				}
				if got := u.Changes[:u.N]; !slices.Equal(got, tc.wantChanges) {
					t.Errorf("changes %+v, want %+v", got, tc.wantChanges)
				}
				bids, asks := b.Depth(Bid, 10, nil), b.Depth(Ask, 10, nil)
				if u.Checksum != Checksum(bids, asks, 10) || u.Checksum5 != Checksum(bids, asks, 5) {
					t.Errorf("checksums %d/%d do not match the book", u.Checksum, u.Checksum5)
				}
			} else if b.Seq() != seq {
				t.Errorf("seq moved to %d on a failed apply", b.Seq())
			}
			if tc.wantBids != nil {
				if got := b.Depth(Bid, 50, nil); !slices.Equal(got, tc.wantBids) {
					t.Errorf("bids %+v, want %+v", got, tc.wantBids)
				}
			}
			if tc.wantAsks != nil {
				if got := b.Depth(Ask, 50, nil); !slices.Equal(got, tc.wantAsks) {
					t.Errorf("asks %+v, want %+v", got, tc.wantAsks)
				}
			}
			if tc.check != nil {
				tc.check(t, b, &u)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestBookErrorsCounted(t *testing.T) {
	b := newTestBook()
	var u Update
	msgs := []itch.Message{mDelete(1), mExec(2, 1), mAdd(3, 'B', 100, 100), mAdd(3, 'B', 100, 100), mCancel(3, 500), mAdd(4, 'Z', 1, 1)}
	for i := range msgs {
		applyITCH(b, &msgs[i], &u)
	}
	want := ApplyErrors{UnknownOrder: 2, DuplicateOrder: 1, OverExecution: 1, BadMessage: 1}
	if got := b.Errors(); got != want {
		t.Fatalf("Errors() = %+v, want %+v", got, want)
	}
}

func TestEmptyChecksum(t *testing.T) {
	b := newTestBook()
	c10, c5 := b.Checksums()
	if c10 != Checksum(nil, nil, 10) || c5 != Checksum(nil, nil, 5) {
		t.Fatalf("empty book checksums %d %d", c10, c5)
	}
	if c5 != crc32.ChecksumIEEE(make([]byte, 160)) || c10 != crc32.ChecksumIEEE(make([]byte, 320)) {
		t.Fatalf("empty book checksums %#x %#x are not the CRC of zero rows", c10, c5)
	}
	bids := []Level{lv(100000, 300, 2)}
	row := make([]byte, 320)
	binary.BigEndian.PutUint64(row[0:], 100000)
	binary.BigEndian.PutUint64(row[8:], 300)
	if Checksum(bids, nil, 10) != crc32.ChecksumIEEE(row) {
		t.Fatalf("Checksum does not follow the row layout")
	}
}

// TestBookRandom replays a long generated stream, checking the levels
// against a naive model and checking that clients maintaining depth 5, 10
// and 20 from Updates alone always match the book and its checksums.
func TestBookRandom(t *testing.T) {
	n := 200000
	if testing.Short() {
		n = 20000
	}
	ins := testInstruments(3)
	rng := rand.New(rand.NewPCG(1, 2))
	msgs := genStream(t, rng, ins, n, 1000)
	books := make([]*Book, len(ins))
	models := make([]*refModel, len(ins))
	clients := make([][3]*client, len(ins))
	for i := range books {
		books[i] = NewBook(ins[i])
		models[i] = &refModel{orders: map[uint64]genOrder{}}
		clients[i] = [3]*client{{depth: 5}, {depth: 10}, {depth: 20}}
	}
	var u Update
	var dec itch.Message
	var stats struct{ enter, two int }
	defer func() { t.Logf("updates with a rank-19 Enter level: %d, with two changes: %d", stats.enter, stats.two) }()
	enc := encodeStream(t, msgs)
	var bids, asks []Level
	for i := range msgs {
		if err := itch.Decode(enc[i], &dec); err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		if dec.StockLocate == 0 {
			continue
		}
		k := int(dec.StockLocate) - 1
		b := books[k]
		ok := applyITCH(b, &dec, &u)
		if err := b.LastError(); err != nil {
			t.Fatalf("message %d %c: %v", i, dec.Type, err)
		}
		models[k].apply(&dec)
		if !ok {
			continue
		}
		if u.EnterSide != 0 && u.Enter[2].Qty != 0 {
			stats.enter++
		}
		if u.N == 2 {
			stats.two++
		}
		for _, c := range clients[k] {
			c.apply(&u)
			bids, asks = b.Depth(Bid, c.depth, bids), b.Depth(Ask, c.depth, asks)
			if !slices.Equal(c.bids, bids) || !slices.Equal(c.asks, asks) {
				t.Fatalf("message %d %c seq %d: depth-%d client\nbids %v\nbook %v\nasks %v\nbook %v\nupdate %+v",
					i, dec.Type, u.Seq, c.depth, c.bids, bids, c.asks, asks, u)
			}
			if Checksum(c.bids, c.asks, 5) != u.Checksum5 {
				t.Fatalf("message %d: depth-%d client checksum5 mismatch", i, c.depth)
			}
			if c.depth >= 10 && Checksum(c.bids, c.asks, 10) != u.Checksum {
				t.Fatalf("message %d: depth-%d client checksum mismatch", i, c.depth)
			}
		}
		if i%97 == 0 || i > len(msgs)-100 {
			checkInvariants(t, b)
			for _, side := range []Side{Bid, Ask} {
				got, want := b.Depth(side, 1000, nil), models[k].levels(side)
				if !slices.Equal(got, want) {
					t.Fatalf("message %d: %v levels\n got %v\nwant %v", i, side, got, want)
				}
			}
		}
	}
	for k, b := range books {
		if b.Orders() != 0 || b.Levels(Bid) != 0 || b.Levels(Ask) != 0 {
			t.Errorf("book %d not empty at the end: %d orders", k, b.Orders())
		}
		if b.Errors() != (ApplyErrors{}) {
			t.Errorf("book %d errors %+v", k, b.Errors())
		}
	}
}

// TestBookReplay checks a book returns to the same state when an emptying
// stream is replayed, without allocating the second time.
func TestBookReplay(t *testing.T) {
	ins := testInstruments(1)
	msgs := genStream(t, rand.New(rand.NewPCG(3, 4)), ins, 50000, 1)
	b := NewBook(ins[0])
	var u Update
	run := func() {
		for i := range msgs {
			if msgs[i].StockLocate == 1 {
				applyITCH(b, &msgs[i], &u)
			}
		}
	}
	run()
	allocs := testing.AllocsPerRun(2, run)
	if allocs != 0 {
		t.Fatalf("replay allocates %.0f times", allocs)
	}
	if b.Errors() != (ApplyErrors{}) {
		t.Fatalf("errors %+v", b.Errors())
	}
}

// TestBookClearStaleValid: Stale and Valid mark the book without changing
// it; Clear empties it for a rebuild, publishes a reset with the empty
// book's checksums, and keeps it stale until Valid.
func TestBookClearStaleValid(t *testing.T) {
	b := newTestBook()
	var u Update
	applyITCH(b, ptr(mAdd(1, 'B', 100, 100)), &u)
	applyITCH(b, ptr(itch.Message{Type: itch.TypeTradingAction, TradingState: 'T'}), &u)
	empty := NewBook(b.inst)
	wantCk10, wantCk5 := empty.Checksums()

	steps := []struct {
		ev        event.Event
		ok        bool
		kind      UpdateKind
		state     TradingState
		bidLevels int
	}{
		{event.Event{Kind: event.Stale}, true, KindStatus, StateStale, 1},
		{event.Event{Kind: event.Stale}, false, 0, StateStale, 1},
		{event.Event{Kind: event.Valid}, true, KindStatus, StateTrading, 1},
		{event.Event{Kind: event.Clear}, true, KindReset, StateStale, 0},
		{event.Event{Kind: event.Add, Ref: 2, Side: event.Sell, Price: 101, Qty: 100}, true, KindBook, StateStale, 0},
		{event.Event{Kind: event.Valid}, true, KindStatus, StateUnknown, 0},
	}
	for i, s := range steps {
		ok := b.Apply(&s.ev, &u)
		if ok != s.ok || ok && (u.Kind != s.kind || u.State != s.state) {
			t.Fatalf("step %d (%v): ok %v kind %v state %v, want %v %v %v", i, s.ev.Kind, ok, u.Kind, u.State, s.ok, s.kind, s.state)
		}
		if n := len(b.Depth(Bid, 20, nil)); n != s.bidLevels {
			t.Fatalf("step %d: %d bid levels, want %d", i, n, s.bidLevels)
		}
		if s.ev.Kind == event.Clear {
			if u.Checksum != wantCk10 || u.Checksum5 != wantCk5 || u.N != 0 || !b.Stale() {
				t.Fatalf("clear: update %+v, stale %v", u, b.Stale())
			}
			if last, _ := b.Last(); last != 0 || b.Volume() != 0 {
				t.Fatalf("clear kept statistics: last %v volume %d", last, b.Volume())
			}
			if _, live := b.orders.get(1); live || b.Orders() != 0 {
				t.Fatalf("clear kept order 1")
			}
		}
	}
}

// TestBookAnnouncedAggressor: an order announced before its trades
// (SZSE) that crosses waits off the book while its trades reduce it and
// the orders it trades with, and rests once it no longer crosses: the
// published book is never crossed. Check events compare snapshot levels.
func TestBookAnnouncedAggressor(t *testing.T) {
	b := newTestBook()
	var u Update
	const ann, absent, printed = event.FlagAnnounced, event.FlagMayBeAbsent, event.FlagPrint
	for _, ev := range []event.Event{
		{Kind: event.Add, Ref: 1, Side: event.Sell, Price: 101, Qty: 100, Flags: ann},
		{Kind: event.Add, Ref: 2, Side: event.Sell, Price: 102, Qty: 100, Flags: ann},
		{Kind: event.Add, Ref: 3, Side: event.Buy, Price: 99, Qty: 100, Flags: ann},
	} {
		if !b.Apply(&ev, &u) {
			t.Fatalf("setup %+v not applied", ev)
		}
	}
	steps := []struct {
		ev       event.Event
		ok       bool
		bid, ask Level // best levels after
	}{
		{event.Event{Kind: event.Add, Ref: 10, Side: event.Buy, Price: 102, Qty: 250, Flags: ann}, false, lv(99, 100, 1), lv(101, 100, 1)},
		{event.Event{Kind: event.Execute, Ref: 10, Price: 101, Qty: 100, Flags: absent | printed}, true, lv(99, 100, 1), lv(101, 100, 1)},
		{event.Event{Kind: event.Execute, Ref: 1, Price: 101, Qty: 100, Flags: absent}, true, lv(99, 100, 1), lv(102, 100, 1)},
		// The ask side empties: the aggressor no longer crosses and rests.
		{event.Event{Kind: event.Execute, Ref: 2, Price: 102, Qty: 100, Flags: absent | printed}, true, lv(102, 150, 1), Level{}},
		{event.Event{Kind: event.Execute, Ref: 10, Price: 102, Qty: 100, Flags: absent}, true, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Add, Ref: 11, Side: event.Sell, Price: 100, Qty: 10, Flags: ann}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Reduce, Ref: 11, Qty: 10}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Rest}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Check, Side: event.Buy, Code: 0, Price: 102, Qty: 50}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Check, Side: event.Sell, Code: 0}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.CheckDone}, false, lv(102, 50, 1), Level{}},
		// A snapshot that differs makes the book suspect; a second stale.
		{event.Event{Kind: event.Check, Side: event.Buy, Code: 1, Price: 98, Qty: 100}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.CheckDone}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Check, Side: event.Buy, Code: 0, Price: 102, Qty: 50}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.CheckDone}, false, lv(102, 50, 1), Level{}}, // matched: no longer suspect
		{event.Event{Kind: event.Check, Side: event.Buy, Code: 1, Price: 98, Qty: 100}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.CheckDone}, false, lv(102, 50, 1), Level{}},
		// Differing again at the same book state: not yet proof.
		{event.Event{Kind: event.Check, Side: event.Sell, Code: 0, Price: 98, Qty: 100}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.CheckDone}, false, lv(102, 50, 1), Level{}},
		// The book moves and still differs: stale.
		{event.Event{Kind: event.Add, Ref: 12, Side: event.Buy, Price: 90, Qty: 100}, true, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.Check, Side: event.Sell, Code: 0, Price: 98, Qty: 100}, false, lv(102, 50, 1), Level{}},
		{event.Event{Kind: event.CheckDone}, true, lv(102, 50, 1), Level{}},
	}
	for i, s := range steps {
		ok := b.Apply(&s.ev, &u)
		var bid, ask Level
		if d := b.Depth(Bid, 1, nil); len(d) > 0 {
			bid = d[0]
		}
		if d := b.Depth(Ask, 1, nil); len(d) > 0 {
			ask = d[0]
		}
		if ok != s.ok || bid != s.bid || ask != s.ask {
			t.Fatalf("step %d (%v): ok %v, best %v / %v; want %v, %v / %v", i, s.ev.Kind, ok, bid, ask, s.ok, s.bid, s.ask)
		}
	}
	if last, _ := b.Last(); last != 102 || b.Volume() != 200 {
		t.Fatalf("last %v volume %d, want 102 and 200: each trade printed once", last, b.Volume())
	}
	if !b.Stale() || b.Errors().Mismatch != 4 || u.State != StateStale {
		t.Fatalf("after a mismatching check: stale %v, errors %+v, state %v", b.Stale(), b.Errors(), u.State)
	}
}

// TestBookMismatchStaysStale: a book that snapshots found different
// twice in a row (the book moving between them) stays stale through a
// Valid, as one that missed an order does, until a rebuild (Clear) mends
// it. Before, a Valid (a feed outage's end) made it valid again, and the
// feed, which asks for a rebuild of the books it finds stale, could look
// after the Valid and rebuild nothing: a book known wrong served as valid.
func TestBookMismatchStaysStale(t *testing.T) {
	b := newTestBook()
	var u Update
	apply := func(ev event.Event) { b.Apply(&ev, &u) }
	differ := func() {
		apply(event.Event{Kind: event.Check, Side: event.Buy, Code: 0, Price: 98, Qty: 100})
		apply(event.Event{Kind: event.CheckDone})
	}
	apply(event.Event{Kind: event.Add, Ref: 1, Side: event.Buy, Price: 99, Qty: 100})
	differ()
	apply(event.Event{Kind: event.Add, Ref: 2, Side: event.Buy, Price: 90, Qty: 100})
	differ()
	if !b.Stale() {
		t.Fatal("not stale after two differing snapshots")
	}
	apply(event.Event{Kind: event.Stale})
	n := b.Errors().Mismatch
	apply(event.Event{Kind: event.Valid})
	if !b.Stale() {
		t.Fatal("a Valid made the differing book valid")
	}
	// Counted again, for the feed's rebuild request to look once the
	// book is told valid (feed.TestSZSERebuildAfterMismatchInRebuild).
	if b.LastError() != ErrSnapshotMismatch || b.Errors().Mismatch != n+1 {
		t.Fatalf("a Valid kept the differing book stale uncounted: last error %v, mismatches %d, want %d", b.LastError(), b.Errors().Mismatch, n+1)
	}
	apply(event.Event{Kind: event.Clear})
	apply(event.Event{Kind: event.Add, Ref: 1, Side: event.Buy, Price: 99, Qty: 100})
	n = b.Errors().Mismatch
	apply(event.Event{Kind: event.Valid})
	if b.Stale() {
		t.Fatal("stale after the rebuild's Valid")
	}
	if b.LastError() != nil || b.Errors().Mismatch != n {
		t.Fatalf("the rebuild's Valid counted a difference: last error %v", b.LastError())
	}
	// A book marked stale by an outage first, then found different,
	// stays stale through the outage's end too.
	apply(event.Event{Kind: event.Stale})
	differ()
	apply(event.Event{Kind: event.Add, Ref: 2, Side: event.Buy, Price: 90, Qty: 100})
	differ()
	apply(event.Event{Kind: event.Valid})
	if !b.Stale() {
		t.Fatal("a Valid made a book found different during an outage valid")
	}
}

// TestBookOwnBest: an Add flagged FlagOwnBest takes the best price of its
// own side, behind the orders already there, whatever its Price, and
// trades there like a limit order; with its side empty the order does not
// rest, and neither it nor its cancel is an error.
func TestBookOwnBest(t *testing.T) {
	b := newTestBook()
	var u Update
	const ann, own = event.FlagAnnounced, event.FlagOwnBest
	steps := []struct {
		name     string
		ev       event.Event
		ok       bool
		bid, ask Level // best levels after
	}{
		{"a buy with no bid is not rested", event.Event{Kind: event.Add, Ref: 1, Side: event.Buy, Qty: 100, Flags: ann | own}, false, Level{}, Level{}},
		{"a limit bid", event.Event{Kind: event.Add, Ref: 2, Side: event.Buy, Price: 99, Qty: 100, Flags: ann}, true, lv(99, 100, 1), Level{}},
		{"a limit ask", event.Event{Kind: event.Add, Ref: 3, Side: event.Sell, Price: 102, Qty: 100, Flags: ann}, true, lv(99, 100, 1), lv(102, 100, 1)},
		{"a buy joins the best bid, its Price unread", event.Event{Kind: event.Add, Ref: 4, Side: event.Buy, Price: 150, Qty: 50, Flags: ann | own}, true, lv(99, 150, 2), lv(102, 100, 1)},
		{"a sell joins the best ask", event.Event{Kind: event.Add, Ref: 5, Side: event.Sell, Qty: 30, Flags: ann | own}, true, lv(99, 150, 2), lv(102, 130, 2)},
		{"an aggressor is held", event.Event{Kind: event.Add, Ref: 6, Side: event.Buy, Price: 102, Qty: 150, Flags: ann}, false, lv(99, 150, 2), lv(102, 130, 2)},
		{"its trade", event.Event{Kind: event.Execute, Ref: 6, Price: 102, Qty: 100, Flags: event.FlagMayBeAbsent | event.FlagPrint}, true, lv(99, 150, 2), lv(102, 130, 2)},
		{"takes the limit ask", event.Event{Kind: event.Execute, Ref: 3, Price: 102, Qty: 100, Flags: event.FlagMayBeAbsent}, true, lv(99, 150, 2), lv(102, 30, 1)},
		{"its next trade", event.Event{Kind: event.Execute, Ref: 6, Price: 102, Qty: 30, Flags: event.FlagMayBeAbsent | event.FlagPrint}, true, lv(99, 150, 2), lv(102, 30, 1)},
		{"takes the own-best ask: the aggressor rests", event.Event{Kind: event.Execute, Ref: 5, Price: 102, Qty: 30, Flags: event.FlagMayBeAbsent}, true, lv(102, 20, 1), Level{}},
		{"a buy joins the new best bid", event.Event{Kind: event.Add, Ref: 7, Side: event.Buy, Qty: 10, Flags: ann | own}, true, lv(102, 30, 2), Level{}},
		{"a sell with no ask is not rested", event.Event{Kind: event.Add, Ref: 8, Side: event.Sell, Qty: 10, Flags: ann | own}, false, lv(102, 30, 2), Level{}},
		{"its cancel names an absent order", event.Event{Kind: event.Reduce, Ref: 8, Qty: 10, Flags: event.FlagMayBeAbsent}, false, lv(102, 30, 2), Level{}},
		{"the own-best buy trades like a limit order", event.Event{Kind: event.Execute, Ref: 4, Qty: 50, Flags: event.FlagPrint}, true, lv(102, 30, 2), Level{}},
	}
	for i, s := range steps {
		ok := b.Apply(&s.ev, &u)
		var bid, ask Level
		if d := b.Depth(Bid, 1, nil); len(d) > 0 {
			bid = d[0]
		}
		if d := b.Depth(Ask, 1, nil); len(d) > 0 {
			ask = d[0]
		}
		if ok != s.ok || bid != s.bid || ask != s.ask {
			t.Fatalf("step %d, %s: ok %v, best %v / %v; want %v, %v / %v", i, s.name, ok, bid, ask, s.ok, s.bid, s.ask)
		}
	}
	if e := b.Errors(); e != (ApplyErrors{}) {
		t.Fatalf("errors %+v", e)
	}
	if d := b.Depth(Bid, 2, nil); len(d) != 2 || d[1] != lv(99, 100, 1) {
		t.Fatalf("bids %v: the own-best buy at 9.9 did not trade away", d)
	}
}

// TestBookMissedMessageStale: an event naming an order the book does not
// hold, or adding one it holds, shows that the book missed a message
// (ITCH delivers each once, in order): the book differs from the venue's
// and is marked stale, published at once with a status Update, and stays
// stale through a Valid (a rebuild that does not start from an empty book
// cannot mend it) until a Clear starts a rebuild. An event flagged
// FlagMayBeAbsent (an SZSE order that may never have rested) is no such
// proof. Before, the error was only counted and the book served as valid.
func TestBookMissedMessageStale(t *testing.T) {
	tests := []struct {
		name  string
		ev    event.Event
		stale bool
	}{
		{name: "execute unknown", ev: event.Event{Kind: event.Execute, Ref: 7, Qty: 10, Flags: event.FlagPrint}, stale: true},
		{name: "reduce unknown", ev: event.Event{Kind: event.Reduce, Ref: 7, Qty: 10}, stale: true},
		{name: "delete unknown", ev: event.Event{Kind: event.Delete, Ref: 7}, stale: true},
		{name: "replace unknown", ev: event.Event{Kind: event.Replace, Ref: 7, NewRef: 8, Price: 100, Qty: 10}, stale: true},
		{name: "add duplicate", ev: event.Event{Kind: event.Add, Ref: 1, Side: event.Sell, Price: 101, Qty: 10}, stale: true},
		{name: "replace onto live", ev: event.Event{Kind: event.Replace, Ref: 1, NewRef: 2, Price: 100, Qty: 10}, stale: true},
		{name: "may be absent", ev: event.Event{Kind: event.Execute, Ref: 7, Qty: 10, Price: 100, Flags: event.FlagPrint | event.FlagMayBeAbsent}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBook()
			var u Update
			for _, ev := range []event.Event{
				{Kind: event.Add, Ref: 1, Side: event.Buy, Price: 100, Qty: 100},
				{Kind: event.Add, Ref: 2, Side: event.Buy, Price: 99, Qty: 100},
				{Kind: event.State, Code: byte(StateTrading)},
			} {
				if !b.Apply(&ev, &u) {
					t.Fatalf("setup %v: %v", ev.Kind, b.LastError())
				}
			}
			ok := b.Apply(&tc.ev, &u)
			if !tc.stale {
				if b.Stale() || ok && u.State == StateStale {
					t.Fatalf("stale after %v (%v)", tc.ev.Kind, b.LastError())
				}
				return
			}
			if !ok || u.State != StateStale || !b.Stale() {
				t.Fatalf("after %v (%v): ok %v, update %v state %v, stale %v; want a stale book published",
					tc.ev.Kind, b.LastError(), ok, u.Kind, u.State, b.Stale())
			}
			if b.Apply(&event.Event{Kind: event.Valid}, &u) || !b.Stale() {
				t.Fatal("a Valid without a rebuild from empty cleared the stale mark")
			}
			if !b.Apply(&event.Event{Kind: event.Add, Ref: 5, Side: event.Sell, Price: 102, Qty: 10}, &u) || u.State != StateStale {
				t.Fatalf("an update after it published state %v", u.State)
			}
			for _, ev := range []event.Event{
				{Kind: event.Clear},
				{Kind: event.Add, Ref: 1, Side: event.Buy, Price: 100, Qty: 100},
				{Kind: event.Valid},
			} {
				b.Apply(&ev, &u)
			}
			if b.Stale() || u.State == StateStale {
				t.Fatalf("still stale after a rebuild (Clear ... Valid): state %v", u.State)
			}
		})
	}
}

// TestBookStatisticsSaturate: trades whose price times size, or whose
// sum, would leave int64 (a broken or hostile feed: no real day comes
// near) stop the day's turnover and volume at math.MaxInt64 and count
// the message bad; before, turnover wrapped to a negative figure.
func TestBookStatisticsSaturate(t *testing.T) {
	const maxPrice = refdata.Price(1<<32 - 1) // ITCH's widest price
	tests := []struct {
		name     string
		trades   []event.Event
		volume   int64
		turnover int64
		bad      uint64
	}{
		{"fits", []event.Event{{Kind: event.Trade, Price: 100000, Qty: 300}}, 300, 30_000_000, 0},
		{"product", []event.Event{{Kind: event.Trade, Price: maxPrice, Qty: maxShares}}, maxShares, math.MaxInt64, 1},
		{"sum", []event.Event{
			{Kind: event.Trade, Price: 1 << 22, Qty: maxShares},
			{Kind: event.Trade, Price: 1 << 22, Qty: maxShares},
			{Kind: event.Trade, Price: 1, Qty: 1},
		}, 2*maxShares + 1, math.MaxInt64, 2},
		{"absent order's execution", []event.Event{
			{Kind: event.Trade, Price: 1, Qty: 5},
			{Kind: event.Execute, Ref: 9, Price: 1, Qty: math.MaxInt64, Flags: event.FlagPrint | event.FlagMayBeAbsent},
		}, math.MaxInt64, math.MaxInt64, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newTestBook()
			var u Update
			for i := range tt.trades {
				b.Apply(&tt.trades[i], &u)
			}
			if b.Volume() != tt.volume || b.Turnover() != tt.turnover || b.Errors().BadMessage != tt.bad {
				t.Fatalf("volume %d turnover %d bad %d; want %d %d %d", b.Volume(), b.Turnover(), b.Errors().BadMessage, tt.volume, tt.turnover, tt.bad)
			}
		})
	}
}

package sim

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"sgw/feed/itch"
	"sgw/feed/szse"
	"sgw/refdata"
	"sgw/sim/match"
)

// rec is a record of the SZSE channel as the mapping test expects it.
type rec struct {
	typ          szse.MsgType
	side         byte // Order: Side; Trade: ExecType
	bid, offer   int64
	price, qty   int64 // Price N13(4) (LastPx), quantity in shares
	security     string
	transactTime bool // TransactTime is the test clock's
}

func recOf(m *szse.Message) rec {
	switch m.Type {
	case szse.TypeOrder:
		o := m.Order
		return rec{typ: m.Type, side: o.Side, price: int64(o.Price), qty: int64(o.OrderQty) / 100,
			security: string(szse.TrimString(o.SecurityID[:])), transactTime: o.TransactTime == 20251121100000000}
	case szse.TypeTrade:
		tr := m.Trade
		return rec{typ: m.Type, side: tr.ExecType, bid: tr.BidApplSeqNum, offer: tr.OfferApplSeqNum,
			price: int64(tr.LastPx), qty: int64(tr.LastQty) / 100,
			security: string(szse.TrimString(tr.SecurityID[:])), transactTime: tr.TransactTime == 20251121100000000}
	}
	return rec{typ: m.Type}
}

// TestSZSEOrderMapping enters orders by hand and checks the records they
// become: the aggressor's 300192 before its trades, IOC remainders and
// cancels as ExecType '4', replaces as a cancel and a new order.
func TestSZSEOrderMapping(t *testing.T) {
	cfg := szseTestConfig()
	fixed := time.Date(2025, 11, 21, 10, 0, 0, 0, cst)
	cfg.Clock = func() time.Time { return fixed }
	s := newSim(t, cfg)
	const sym = "300750.SZ"
	itchBefore := s.Next()
	submit := func(side match.Side, px refdata.Price, qty int64, tif match.TimeInForce) uint64 {
		t.Helper()
		r, err := s.Submit(match.Order{Symbol: sym, Side: side, Price: px, Qty: qty, TIF: tif})
		if err != nil {
			t.Fatal(err)
		}
		return r.Ref
	}
	replace := func(ref uint64, px refdata.Price, qty int64) uint64 {
		t.Helper()
		r, err := s.Replace(ref, px, qty)
		if err != nil {
			t.Fatal(err)
		}
		return r.Ref
	}
	submit(match.Sell, 2000000, 300, match.Day)     // 1
	submit(match.Sell, 2001000, 200, match.Day)     // 2
	submit(match.Buy, 2001000, 600, match.IOC)      // 3: trades 4, 5; remainder cancel 6
	b := submit(match.Buy, 1990000, 500, match.Day) // 7
	if _, err := s.Cancel(b, 100); err != nil {     // 8
		t.Fatal(err)
	}
	b = replace(b, 1990000, 300)                // 9: a reduction in place
	b = replace(b, 1990000, 300)                // no change: nothing
	b = replace(b, 1995000, 300)                // 10, 11: a new price
	submit(match.Sell, 2010000, 100, match.Day) // 12
	b = replace(b, 2010000, 300)                // 13, 14, 15: crosses, 200 rest
	if _, err := s.Cancel(b, 0); err != nil {   // 16
		t.Fatal(err)
	}
	if _, err := s.Submit(match.Order{Symbol: "600519.SH", Side: match.Buy, Price: 17000000, Qty: 100}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Submit(match.Order{Symbol: "000001.SZ", Side: match.Sell, Price: 115000, Qty: 100, TIF: match.IOC}); err != nil { // 17, 18
		t.Fatal(err)
	}
	const o, tr, buy, sell, fill, cxl = szse.TypeOrder, szse.TypeTrade, szse.SideBuy, szse.SideSell, szse.ExecTypeTrade, szse.ExecTypeCancel
	want := []rec{
		{typ: o, side: sell, price: 2000000, qty: 300},
		{typ: o, side: sell, price: 2001000, qty: 200},
		{typ: o, side: buy, price: 2001000, qty: 600},
		{typ: tr, side: fill, bid: 3, offer: 1, price: 2000000, qty: 300},
		{typ: tr, side: fill, bid: 3, offer: 2, price: 2001000, qty: 200},
		{typ: tr, side: cxl, bid: 3, qty: 100},
		{typ: o, side: buy, price: 1990000, qty: 500},
		{typ: tr, side: cxl, bid: 7, qty: 100},
		{typ: tr, side: cxl, bid: 7, qty: 100},
		{typ: tr, side: cxl, bid: 7, qty: 300},
		{typ: o, side: buy, price: 1995000, qty: 300},
		{typ: o, side: sell, price: 2010000, qty: 100},
		{typ: tr, side: cxl, bid: 11, qty: 300},
		{typ: o, side: buy, price: 2010000, qty: 300},
		{typ: tr, side: fill, bid: 14, offer: 12, price: 2010000, qty: 100},
		{typ: tr, side: cxl, bid: 14, qty: 200},
		{typ: o, side: sell, price: 115000, qty: 100, security: "000001"},
		{typ: tr, side: cxl, offer: 17, qty: 100, security: "000001"},
	}
	for i := range want {
		if want[i].security == "" {
			want[i].security = "300750"
		}
		want[i].transactTime = true
	}
	var got []rec
	ref := newRefBook(t)
	for _, f := range s.SZSERecords(1, s.SZSELast()) {
		var m szse.Message
		if _, err := szse.Decode(f, &m); err != nil {
			t.Fatal(err)
		}
		ref.apply(&m)
		got = append(got, recOf(&m))
		if m.Type == szse.TypeOrder && m.Order.ChannelNo != DefaultSZSEChannel || m.Type == szse.TypeTrade && m.Trade.ChannelNo != DefaultSZSEChannel {
			t.Fatalf("record on another channel: %+v", m)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("records\n%v\nwant\n%v", got, want)
	}
	if len(ref.orders) != 0 {
		t.Fatalf("reference book keeps %v", ref.orders)
	}
	// ITCH saw only the .SH order.
	var itchTypes []byte
	for _, m := range decodeAll(t, s.Messages(itchBefore, s.Next()-1)) {
		itchTypes = append(itchTypes, m.Type)
		if m.StockLocate != 1 {
			t.Fatalf("ITCH message for locate %d", m.StockLocate)
		}
	}
	if string(itchTypes) != string(itch.TypeAddOrder) {
		t.Fatalf("ITCH messages %q", itchTypes)
	}
	s.mu.Lock()
	live := len(s.sz.live)
	s.mu.Unlock()
	if live != 0 {
		t.Fatalf("%d live SZSE orders kept", live)
	}
}

// TestSZSEStreamRebuildsBook streams the channel to a live client during
// synthetic flow and rebuilds the books from the records alone.
func TestSZSEStreamRebuildsBook(t *testing.T) {
	cfg := szseTestConfig()
	cfg.MaxRestingPerSymbol = 40
	s := startSim(t, cfg)
	c := dialSZSE(t, s.Addr(SZSEPrimary))
	c.logon()
	if err := s.Step(4000); err != nil {
		t.Fatal(err)
	}
	last := s.SZSELast()
	if last < 1000 {
		t.Fatalf("only %d SZSE records", last)
	}
	ref := newRefBook(t)
	counts := map[string]int{}
	c.data(func(_ []byte, m *szse.Message) bool {
		if !ref.apply(m) {
			t.Fatalf("got %s", m.Type)
		}
		if m.Type == szse.TypeTrade {
			counts[string(m.Trade.ExecType)]++
		} else {
			counts["order"]++
		}
		return ref.next > last
	})
	for _, k := range []string{"order", "F", "4"} {
		if counts[k] == 0 {
			t.Errorf("no %s records (%v)", k, counts)
		}
	}
	resting := 0
	for _, in := range s.Instruments() {
		if !isSZSE(in.Symbol) {
			continue
		}
		bids, asks := s.Depth(in.Symbol, 0)
		rb, ra := ref.depth(sid(in.FeedSymbol))
		if !reflect.DeepEqual(bids, rb) || !reflect.DeepEqual(asks, ra) {
			t.Fatalf("%s: records rebuild\n %v / %v\nengine\n %v / %v", in.Symbol, rb, ra, bids, asks)
		}
		if len(bids) == 0 || len(asks) == 0 {
			t.Errorf("%s: book not two-sided", in.Symbol)
		}
		s.mu.Lock()
		resting += s.eng.Resting(in.Symbol)
		s.mu.Unlock()
	}
	s.mu.Lock()
	live := len(s.sz.live)
	s.mu.Unlock()
	if live != resting {
		t.Fatalf("%d live SZSE orders kept, %d resting", live, resting)
	}
	// ITCH carries no .SZ instrument, and its own books still rebuild.
	fb := newFeedBook(t)
	for i, raw := range s.Messages(1, s.Next()-1) {
		if m := fb.apply(uint64(i+1), raw); m.StockLocate != 0 && isSZSE(s.Instruments()[m.StockLocate-1].Symbol) {
			t.Fatalf("ITCH message %d for %s", i+1, s.Instruments()[m.StockLocate-1].Symbol)
		}
	}
	for i, in := range s.Instruments() {
		if isSZSE(in.Symbol) {
			continue
		}
		bids, asks := s.Depth(in.Symbol, 0)
		if fbids, fasks := fb.depth(uint16(i + 1)); !reflect.DeepEqual(bids, fbids) || !reflect.DeepEqual(asks, fasks) {
			t.Fatalf("%s: ITCH book differs from the engine", in.Symbol)
		}
	}
	if st := s.Stats(SZSEPrimary); st.Sequenced != uint64(last) {
		t.Fatalf("stats %+v, last %d", st, last)
	}
}

// TestSZSESnapshots checks every snapshot against the book the records
// before it build, while the flow and the snapshot timer run concurrently,
// and the last one against the engine.
func TestSZSESnapshots(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE.SnapshotInterval = 5 * time.Millisecond
	cfg.SZSE.StreamFromStart = true
	s := startSim(t, cfg)
	c := dialSZSE(t, s.Addr(SZSEBackup))
	c.logon()
	ref := newRefBook(t)
	snapshots := 0
	check := func(m *szse.Snapshot) {
		t.Helper()
		snapshots++
		if m.ChannelNo != DefaultSZSESnapshotChannel || string(m.MDStreamID[:]) != "010" || string(m.TradingPhaseCode[:]) != "T0      " {
			t.Fatalf("snapshot header %+v", m)
		}
		id := m.SecurityID
		wb, wa := ref.depth(id)
		gb, ga := snapshotLevels(t, m)
		if !reflect.DeepEqual(gb, top(wb, 10)) || !reflect.DeepEqual(ga, top(wa, 10)) {
			t.Fatalf("snapshot %d of %s after record %d\n %v / %v\nrecords build\n %v / %v", snapshots, id, ref.next-1, gb, ga, wb, wa)
		}
		var st refStats
		if p := ref.stats[id]; p != nil {
			st = *p
		}
		if m.NumTrades != st.trades || int64(m.TotalVolumeTrade) != st.volume || int64(m.TotalValueTrade) != st.value {
			t.Fatalf("snapshot stats %d %d %d, records %+v", m.NumTrades, m.TotalVolumeTrade, m.TotalValueTrade, st)
		}
		extra := map[string]int64{}
		for _, e := range m.Entries {
			switch ty := string(e.MDEntryType[:]); ty {
			case szse.EntryBid, szse.EntryOffer:
				if e.MDPriceLevel == 1 {
					side, px := byte(szse.SideBuy), int64(e.MDEntryPx/100)
					if ty == szse.EntryOffer {
						side = szse.SideSell
					}
					if q := ref.queue(id, side, px); !reflect.DeepEqual(e.Orders, q[:min(len(q), snapshotQueue)]) {
						t.Fatalf("best %s queue %v, records %v", ty, e.Orders, q)
					}
				}
			default:
				extra[ty] = int64(e.MDEntryPx / 100)
			}
		}
		var want map[string]int64
		if st.trades > 0 {
			want = map[string]int64{szse.EntryLast: st.last, szse.EntryOpen: st.open, szse.EntryHigh: st.high, szse.EntryLow: st.low}
		}
		if len(extra) != len(want) || (len(want) > 0 && !reflect.DeepEqual(extra, want)) {
			t.Fatalf("price entries %v, want %v", extra, want)
		}
	}
	// Each round of steps runs while the snapshot timer ticks; the client
	// then reads until a snapshot round has followed the round's last
	// record. After the final round it waits for two: the second was taken
	// with the books exactly as the engine has them now.
	for round := range 10 {
		if err := s.Step(150); err != nil {
			t.Fatal(err)
		}
		last := s.SZSELast()
		after, want := 0, 2
		if round == 9 {
			want = 4
		}
		c.data(func(_ []byte, m *szse.Message) bool {
			if ref.apply(m) {
				return false
			}
			if m.Type != szse.TypeSnapshot {
				t.Fatalf("got %s", m.Type)
			}
			check(&m.Snapshot)
			if ref.next > last {
				after++
			}
			return after == want // rounds of two instruments
		})
	}
	if snapshots < 20 {
		t.Fatalf("only %d snapshots", snapshots)
	}
	for _, in := range s.Instruments() {
		if !isSZSE(in.Symbol) {
			continue
		}
		bids, asks := s.Depth(in.Symbol, 10)
		rb, ra := ref.depth(sid(in.FeedSymbol))
		if !reflect.DeepEqual(bids, top(rb, 10)) || !reflect.DeepEqual(asks, top(ra, 10)) {
			t.Fatalf("%s: the snapshot-checked book differs from the engine", in.Symbol)
		}
	}
	if st := s.Stats(SZSEBackup); st.Snapshots < uint64(snapshots) {
		t.Fatalf("stats %+v", st)
	}
}

// TestSZSEEndSession checks the last snapshot round and EndOfChannel.
func TestSZSEEndSession(t *testing.T) {
	cfg := szseTestConfig()
	cfg.SZSE.ChannelHeartbeatInterval = time.Hour // only the one at the end
	s := startSim(t, cfg)
	c := dialSZSE(t, s.Addr(SZSEPrimary))
	c.logon()
	if err := s.Step(50); err != nil {
		t.Fatal(err)
	}
	if err := s.Halt("000001.SZ", true); err != nil {
		t.Fatal(err)
	}
	if err := s.EndSession(); err != nil {
		t.Fatal(err)
	}
	last := s.SZSELast()
	if got := c.records(last); len(got) != int(last) {
		t.Fatalf("got %d records, want %d", len(got), last)
	}
	var phases []string
	for {
		_, m := c.must()
		if m.Type == szse.TypeChannelHeartbeat {
			h := m.ChannelHeartbeat
			if h.EndOfChannel != 1 || h.ApplLastSeqNum != last {
				t.Fatalf("channel heartbeat %+v, last %d", h, last)
			}
			break
		}
		if m.Type == szse.TypeSnapshot {
			phases = append(phases, fmt.Sprintf("%s:%s", szse.TrimString(m.Snapshot.SecurityID[:]), szse.TrimString(m.Snapshot.TradingPhaseCode[:])))
		}
	}
	if want := []string{"300750:E0", "000001:E0"}; !reflect.DeepEqual(phases, want) {
		t.Fatalf("last snapshots %v, want %v", phases, want)
	}
	if st := s.Stats(SZSEPrimary); st.Ends != 1 {
		t.Fatalf("stats %+v", st)
	}
	// A late logon still gets the end, and ReTransmit still works.
	c2 := dialSZSE(t, s.Addr(SZSEBackup))
	c2.logon()
	if m := c2.want(szse.TypeChannelHeartbeat); m.ChannelHeartbeat.EndOfChannel != 1 || m.ChannelHeartbeat.ApplLastSeqNum != last {
		t.Fatalf("late channel heartbeat %+v", m.ChannelHeartbeat)
	}
	c2.send(reTransmitFrame(szse.ResendTypeTick, DefaultSZSEChannel, last, 0))
	if m := c2.want(szse.TypeReTransmit); m.ReTransmit.ResendStatus != szse.ResendStatusDone {
		t.Fatalf("answer %+v", m.ReTransmit)
	}
	if got := c2.records(last); len(got) != 1 {
		t.Fatalf("resent %d records", len(got))
	}
}

// TestSZSEHaltPhase checks that a halted SZSE instrument publishes nothing
// on ITCH and shows "H0" in its snapshots.
func TestSZSEHaltPhase(t *testing.T) {
	s := newSim(t, szseTestConfig())
	n := s.Next()
	if err := s.Halt("300750.SZ", true); err != nil {
		t.Fatal(err)
	}
	if s.Next() != n {
		t.Fatal("ITCH trading action for an SZSE instrument")
	}
	s.mu.Lock()
	snap := s.snapshotOf(s.sz.sym["300750.SZ"])
	s.mu.Unlock()
	if string(szse.TrimString(snap.TradingPhaseCode[:])) != "H0" {
		t.Fatalf("phase %q", snap.TradingPhaseCode)
	}
}

// TestSZSEDeterministic checks that the seed fixes the SZSE records too.
func TestSZSEDeterministic(t *testing.T) {
	fixed := time.Date(2025, 11, 21, 10, 0, 0, 0, cst)
	run := func(seed uint64) [][]byte {
		cfg := szseTestConfig()
		cfg.Seed = seed
		cfg.Clock = func() time.Time { return fixed }
		s := newSim(t, cfg)
		if err := s.Step(500); err != nil {
			t.Fatal(err)
		}
		return s.SZSERecords(1, s.SZSELast())
	}
	a, b, c := run(1), run(1), run(2)
	if len(a) == 0 || !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different SZSE records")
	}
	if reflect.DeepEqual(a, c) {
		t.Fatal("different seeds gave the same SZSE records")
	}
}

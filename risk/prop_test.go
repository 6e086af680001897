package risk

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/refdata"
)

var propSeeds = flag.Int("risk-seeds", 300, "how many random sequences TestCheckerAgainstModel runs")

// TestCheckerAgainstModel drives a Checker through random sequences of
// requests and execution reports, valid and invalid, as package orders
// uses it (CheckNew, CheckCancel, CheckReplace; OnFill, OnLateFill,
// OnDone, OnReplaced, OnReplaceRejected with the Reservations they
// returned; days changed by the checks, by Rollover, by DaysByCaller and
// RolloverTo, by RolloverExpiring; kill switches, halts, the restricted
// list, throttles, Disconnect and Owed; phases of the day), and after
// every step compares it with a model written here from the
// documentation, sharing no code with the checker:
//
//   - every request is accepted or refused with the code the model
//     predicts (so a sell is never accepted beyond the free shares, a buy
//     beyond the available cash, a client order id twice in a day);
//   - cash: available plus reserved is the start plus the sells' proceeds
//     less the buys' cost; reserved is the sum of the working buys' holds
//     (the worst case of both terms while a replace is pending); ended
//     orders hold nothing;
//   - shares: sellable plus held by working sells plus bought today is
//     the position (start plus buys less sells); today's buys become
//     sellable at the change of day (T+1);
//   - a refused request or callback changes nothing;
//   - huge prices and quantities are refused, never wrapped; cash beyond
//     the int64 range (proceeds, late costs) saturates;
//   - replaying the accepted requests and the callbacks through the
//     Restore methods on a fresh Checker, changing day where the live one
//     did, ends in the same state, under the same previous closes or
//     another day's (lower or higher).
//
// Where the documentation departs from the plain rules the model follows
// it: a late fill (OnLateFill) moves cash and shares with nothing held,
// so a late sell of shares a newer sell holds leaves Sellable negative
// (TestLateSellShownOversold) and a late buy may leave the cash negative;
// a late fill is bounded by the arithmetic (its price times the board
// maximum fits) and, for the order's fills in all, the board maximum,
// not by the order's terms or the band; shares a late buy bought
// on an earlier day are sellable at once.
//
// Seeds are fixed: each run is the same. -risk-seeds runs more.
func TestCheckerAgainstModel(t *testing.T) {
	n := *propSeeds
	if testing.Short() {
		n = 40
	}
	counts := map[string]int{}
	defer func() {
		keys := slices.Sorted(maps.Keys(counts))
		for _, k := range keys {
			t.Logf("%6d %s", counts[k], k)
		}
	}()
	for seed := range n {
		mode := propMode{
			alwaysOpen:   seed%3 == 2,
			callerDays:   seed%2 == 1,
			killCancels:  seed%5 < 2,
			cancelOnDisc: seed%4 < 2,
			throttle:     seed%7 == 3,
		}
		if seed%4 == 3 {
			mode.maxNotional = math.MaxInt64
		}
		if seed%3 != 0 {
			mode.stDailyBuy = 3000
		}
		sim := newPropSim(t, uint64(seed), mode)
		for step := 0; step < 300 && !t.Failed(); step++ {
			sim.step = step
			sim.once()
			sim.compare()
		}
		if !t.Failed() {
			sim.replay()
		}
		for k, v := range sim.counts {
			counts[k] += v
		}
		if t.Failed() {
			t.Fatalf("seed %d (mode %+v) failed at step %d; log of the last steps:\n%s", seed, mode, sim.step, sim.tail())
		}
	}
}

// propMode is a run's configuration.
type propMode struct {
	alwaysOpen  bool
	callerDays  bool
	killCancels bool
	// cancelOnDisc: Config.CancelOnDisconnect.
	cancelOnDisc bool
	// throttle: rates low enough to be reached (AccountRate 4,
	// SessionRate 6), the clock moving up to 400 ms a step.
	throttle    bool
	maxNotional refdata.Price // 0: the default
	stDailyBuy  int64         // 0: the default
}

// journalRec is an accepted request, a callback or a change of day, for
// the replay.
type journalRec struct {
	kind   string
	o      Order
	orig   string
	x      Cancel
	r      *Reservation // the live Reservation: returned (new, replace) or given (callbacks)
	price  refdata.Price
	qty    int64
	date   int32
	err    string // the live callback's error
	expire bool
	amend  TradeAmend
}

type propSim struct {
	t       *testing.T
	r       *rand.Rand
	mode    propMode
	cfg     Config
	c       *Checker
	foreign *Reservation // another Checker's
	clk     *ManualClock
	step    int
	log     []string
	counts  map[string]int // outcomes by kind, for the test's log
	rolled  bool           // the day changed at this step's request

	instr      []propInstr
	halted     []bool
	restricted []bool
	accts      map[string]*mAcct
	acctIDs    []string
	orders     []*mOrder // acceptance order
	day        int32
	startDay   int32
	killAll    bool
	sessions   map[string]*mBucket
	holidays   map[int32]bool
	nextID     int
	journal    []journalRec
}

func newPropSim(t *testing.T, seed uint64, mode propMode) *propSim {
	s := &propSim{
		t:        t,
		r:        rand.New(rand.NewPCG(seed, 0x5eed)),
		mode:     mode,
		instr:    propInstrs(),
		accts:    map[string]*mAcct{},
		counts:   map[string]int{},
		holidays: map[int32]bool{20250612: true},
	}
	s.halted = make([]bool, len(s.instr))
	s.restricted = make([]bool, len(s.instr))
	cfg := Config{
		Accounts:           propAccounts(),
		Schedule:           ScheduleConfig{AlwaysOpen: mode.alwaysOpen, Holidays: []string{"2025-06-12"}},
		MaxNotional:        mode.maxNotional,
		STDailyBuy:         mode.stDailyBuy,
		AccountRate:        MaxRate,
		SessionRate:        MaxRate,
		KillCancelsResting: mode.killCancels,
		CancelOnDisconnect: mode.cancelOnDisc,
	}
	for _, in := range s.instr {
		cfg.Instruments = append(cfg.Instruments, refdata.Instrument{Symbol: in.sym, Board: in.board, PrevClose: in.prev})
	}
	if mode.throttle {
		cfg.AccountRate, cfg.SessionRate = 4, 6
	}
	s.cfg = cfg
	s.sessions = map[string]*mBucket{}
	s.clk = NewManualClock(at(monday + " 10:00"))
	c, err := New(cfg, s.clk)
	if err != nil {
		t.Fatal(err)
	}
	if mode.callerDays {
		c.DaysByCaller()
	}
	s.c = c
	s.day, s.startDay = 20250609, 20250609
	for _, ac := range cfg.Accounts {
		a := &mAcct{id: ac.ID, credit: ac.Credit, cash: int64(ac.Cash), ids: map[string]*mOrder{}, pos: map[int]*mPos{}, shares: map[int]int64{}}
		for sym, q := range ac.Positions {
			i := s.sym(sym)
			a.pos[i] = &mPos{overnight: q}
			a.shares[i] = q
		}
		s.accts[ac.ID] = a
		s.acctIDs = append(s.acctIDs, ac.ID)
	}
	other, err := New(cfg, NewManualClock(at(monday+" 10:00")))
	if err != nil {
		t.Fatal(err)
	}
	s.foreign = mustNew(t, other, buy("C1", "f1", "000001.SZ", "10", 100))
	return s
}

func (s *propSim) logf(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	s.log = append(s.log, fmt.Sprintf("%3d ", s.step)+line)
	if len(s.log) > 200 {
		s.log = slices.Delete(s.log, 0, 100)
	}
}

// count tallies an outcome, for the test's log.
func (s *propSim) count(kind string, outcome any) {
	o := fmt.Sprint(outcome)
	if err, ok := outcome.(error); ok && err != nil {
		o, _, _ = strings.Cut(err.Error(), ":  ")
		for _, e := range []error{ErrBadFill, ErrOrderClosed, ErrNotPending, ErrUnknownReservation, ErrLeavesMismatch} {
			if errors.Is(err, e) {
				o = e.Error()
			}
		}
	}
	s.counts[kind+" "+o]++
}

func (s *propSim) tail() string {
	l := s.log[max(len(s.log)-40, 0):]
	return strings.Join(l, "\n")
}

// --- the random driver ---

func (s *propSim) once() {
	s.clk.Advance(time.Millisecond)
	if s.mode.throttle {
		s.clk.Advance(time.Duration(s.r.IntN(400)) * time.Millisecond)
	}
	k := s.r.IntN(100)
	// The requests (new, cancel, replace, huge) change the day first, by
	// the clock, unless the caller changes days: the model does it before
	// it picks what to ask.
	s.rolled = false
	if k < 32 || k >= 48 && k < 68 || k >= 97 {
		s.rolled = s.checked()
	}
	switch {
	case k < 32:
		s.newOrder()
	case k < 44 && s.r.IntN(4) == 0:
		s.amend()
	case k < 44:
		s.fill()
	case k < 48:
		s.done()
	case k < 56:
		s.cancel()
	case k < 68:
		s.replace()
	case k < 76:
		s.answerReplace()
	case k < 82:
		s.badCallback()
	case k < 87:
		s.lateFill()
	case k < 89:
		s.changeDay()
	case k < 92:
		s.timeOfDay()
	case k < 94 && s.r.IntN(3) == 0:
		s.disconnect()
	case k < 94:
		s.kill()
	case k < 97:
		s.haltOrRestrict()
	default:
		s.hugeOrder()
	}
}

func (s *propSim) pickAcct() *mAcct { return s.accts[s.acctIDs[s.r.IntN(len(s.acctIDs))]] }

// id returns a client order id: often one of a few (reused, refused as
// duplicates within a day), otherwise a fresh one, rarely empty.
func (s *propSim) id() string {
	switch k := s.r.IntN(20); {
	case k == 0:
		return ""
	case k < 7:
		return fmt.Sprintf("k%d", s.r.IntN(12))
	}
	s.nextID++
	return fmt.Sprintf("n%d", s.nextID)
}

func (s *propSim) session() string { return []string{"s1", "s2", ""}[s.r.IntN(3)] }

// price returns a price of instrument in: mostly on the tick in the band,
// sometimes just outside it or off the tick.
func (s *propSim) price(in propInstr) refdata.Price {
	ticks := int64((in.hi - in.lo) / in.tick)
	p := in.lo + in.tick*refdata.Price(s.r.Int64N(ticks+1))
	switch s.r.IntN(30) {
	case 0:
		return in.lo - in.tick
	case 1:
		return in.hi + in.tick
	case 2:
		return p + 1
	case 3:
		return in.hi
	case 4:
		return in.lo
	}
	return p
}

// qty returns a quantity for a side given the free shares.
func (s *propSim) qty(in propInstr, side Side, free int64) int64 {
	if side == Sell && free > 0 && s.r.IntN(4) != 0 {
		switch s.r.IntN(4) {
		case 0:
			return free
		case 1:
			return free % in.lot
		case 2:
			return min(free, in.lot*(1+s.r.Int64N(5)))
		}
		return 1 + s.r.Int64N(free+in.lot)
	}
	switch s.r.IntN(10) {
	case 0:
		return 1 + s.r.Int64N(250)
	case 1:
		return in.maxQty - s.r.Int64N(2)*in.lot + s.r.Int64N(2)
	case 2:
		return 200 + s.r.Int64N(100)
	}
	return in.lot * (1 + s.r.Int64N(20))
}

func (s *propSim) newOrder() {
	a := s.pickAcct()
	i := s.r.IntN(len(s.instr))
	if a.id == "W1" && s.r.IntN(2) == 0 {
		i = s.sym("600999.SH")
	}
	side := Side(1 + s.r.IntN(2))
	if side == Sell && s.r.IntN(4) != 0 {
		// Mostly a sell of shares the account has.
		var held [][2]int
		for _, id := range s.acctIDs {
			for j := range s.instr {
				if s.free(s.accts[id], j) > 0 {
					held = append(held, [2]int{slices.Index(s.acctIDs, id), j})
				}
			}
		}
		if len(held) > 0 {
			h := held[s.r.IntN(len(held))]
			a, i = s.accts[s.acctIDs[h[0]]], h[1]
		}
	}
	in := s.instr[i]
	o := Order{Account: a.id, Session: s.session(), ClOrdID: s.id(), Symbol: in.sym, Side: side, Type: Limit, Credit: a.credit}
	switch s.r.IntN(40) {
	case 0:
		o.Account, o.Credit = "ZZ", false
	case 1:
		o.Credit = !o.Credit
	case 2:
		o.Side = 0
	case 3:
		o.Type = Market
	case 4:
		o.Symbol = "000000.SZ"
	}
	o.Price = s.price(in)
	o.Qty = s.qty(in, o.Side, s.free(a, i))
	if o.Side == Buy && o.Price > 0 && s.r.IntN(3) != 0 {
		// Mostly a buy the account can pay for.
		if n := s.avail(a) / int64(o.Price) / in.lot; n > 0 {
			o.Qty = in.lot * (1 + s.r.Int64N(min(n, 30)))
		}
	}
	s.submitNew(o)
}

// hugeOrder sends prices and quantities near or beyond the int64 range.
func (s *propSim) hugeOrder() {
	a := s.pickAcct()
	in := s.instr[s.r.IntN(len(s.instr))]
	o := Order{Account: a.id, Session: "s1", ClOrdID: s.id(), Symbol: in.sym, Side: Side(1 + s.r.IntN(2)), Type: Limit, Credit: a.credit}
	prices := []refdata.Price{in.hi, in.lo, math.MaxInt64, math.MaxInt64 / 100 * 100, -in.hi, 1 << 62}
	qtys := []int64{math.MaxInt64, 1 << 62, in.maxQty, in.maxQty + 100, math.MaxInt64 / int64(in.hi) / 100 * 100, -1}
	o.Price, o.Qty = prices[s.r.IntN(len(prices))], qtys[s.r.IntN(len(qtys))]
	w := s.pickWorking(func(w *mOrder) bool { return w.acct == a })
	if w == nil || s.r.IntN(2) == 0 {
		s.submitNew(o)
		return
	}
	o.Symbol, o.Side = s.instr[w.in].sym, w.side
	s.submitReplace(w.cur, o)
}

func (s *propSim) submitNew(o Order) {
	want := s.modelNew(o)
	before := s.capture(!s.rolled)
	res, rej := s.c.CheckNew(o)
	s.logf("new %s %s %s %s %s x %d -> %v (model %q)", o.Account, o.ClOrdID, o.Side, o.Symbol, o.Price, o.Qty, rejCode(rej), want)
	s.count("CheckNew "+o.Side.String(), orAccepted(rejCode(rej)))
	if (res == nil) == (rej == nil) {
		s.t.Errorf("CheckNew returned %v and %v", res, rej)
		return
	}
	if got := rejCode(rej); got != want {
		s.t.Errorf("CheckNew %+v: got %q (%v), model says %q", o, got, rej, want)
		return
	}
	if rej != nil {
		s.unchanged(before, "refused CheckNew")
		return
	}
	a, i := s.accts[o.Account], s.sym(o.Symbol)
	m := &mOrder{acct: a, in: i, side: o.Side, session: o.Session, ids: []string{o.ClOrdID}, cur: o.ClOrdID,
		price: o.Price, qty: o.Qty, day: s.day, resv: res}
	s.orders = append(s.orders, m)
	a.ids[o.ClOrdID] = m
	s.position(a, i)
	wantCash, wantShares := int64(o.Price)*o.Qty, int64(0)
	if o.Side == Sell {
		wantCash, wantShares = 0, o.Qty
	}
	if int64(res.Cash) != wantCash || res.Shares != wantShares || res.Day() != s.day || res.ClOrdID != o.ClOrdID {
		s.t.Errorf("CheckNew %+v: reservation %+v day %d, want cash %d shares %d day %d", o, res, res.Day(), wantCash, wantShares, s.day)
	}
	s.journal = append(s.journal, journalRec{kind: "new", o: o, r: res})
}

// pickWorking returns a random working order that matches, or nil.
func (s *propSim) pickWorking(match func(*mOrder) bool) *mOrder {
	var l []*mOrder
	for _, o := range s.orders {
		if !o.done && (match == nil || match(o)) {
			l = append(l, o)
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l[s.r.IntN(len(l))]
}

func (s *propSim) pickAny(match func(*mOrder) bool) *mOrder {
	var l []*mOrder
	for _, o := range s.orders {
		if match == nil || match(o) {
			l = append(l, o)
		}
	}
	if len(l) == 0 {
		return nil
	}
	return l[s.r.IntN(len(l))]
}

// fill reports a valid fill of a working order: partial or whole, at a
// price the venue may fill at (a buy at or below its limit, a sell at or
// above it, within the band), under either terms while a replace is
// pending.
func (s *propSim) fill() {
	o := s.pickWorking(nil)
	if o == nil {
		return
	}
	in := s.instr[o.in]
	q, p, floor := o.qty, o.price, o.price
	if o.pending {
		q, p, floor = max(q, o.pQty), max(p, o.pPrice), min(floor, o.pPrice)
	}
	left := q - o.cum
	var qty int64
	switch s.r.IntN(6) {
	case 0:
		qty = left
	case 1:
		qty = min(left, in.lot*(1+s.r.Int64N(3)))
	default:
		qty = 1 + s.r.Int64N(left)
	}
	var price refdata.Price
	if o.side == Buy {
		price = in.lo + in.tick*refdata.Price(s.r.Int64N(int64((p-in.lo)/in.tick)+1))
	} else {
		price = floor + in.tick*refdata.Price(s.r.Int64N(int64((in.hi-floor)/in.tick)+1))
	}
	s.callFill(o, o.resv, price, qty, false)
}

// callFill calls OnFill (or OnLateFill) and checks it against the model.
func (s *propSim) callFill(o *mOrder, r *Reservation, price refdata.Price, qty int64, late bool) {
	var want error
	if late && o.done {
		in := s.instr[o.in]
		// The arithmetic bound and the board maximum, for the order's
		// fills in all.
		if qty <= 0 || price <= 0 || price > in.maxPx() || qty > in.maxQty-o.cum {
			want = ErrBadFill
		}
	} else {
		want = s.fillErr(o, price, qty)
	}
	before := s.capture(true)
	var err error
	name := "OnFill"
	if late {
		name = "OnLateFill"
		err = s.c.OnLateFill(r, price, qty)
	} else {
		err = s.c.OnFill(r, price, qty)
	}
	s.logf("%s %s %s %s x %d (cum %d qty %d pending %v/%d done %v) -> %v", name, o.acct.id, o.cur, price, qty, o.cum, o.qty, o.pending, o.pQty, o.done, err)
	s.count(name, err)
	if !errors.Is(err, want) || (want == nil) != (err == nil) {
		s.t.Errorf("%s(%s %s, %s x %d): %v, model says %v", name, o.acct.id, o.cur, price, qty, err, want)
		return
	}
	s.journal = append(s.journal, journalRec{kind: strings.ToLower(name), r: r, price: price, qty: qty, err: errString(err)})
	if err != nil {
		s.unchanged(before, name+" refused")
		return
	}
	s.applyFill(o, price, qty, late && o.done)
}

// done ends a working order as the venue's report of its end (cancelled,
// expired) or the gateway's own word: usually with the leaves the model
// has, sometimes others (a missed fill).
func (s *propSim) done() {
	o := s.pickWorking(nil)
	if o == nil {
		return
	}
	leaves := o.qty - o.cum
	switch k := s.r.IntN(8); {
	case k == 0 && o.pending:
		leaves = o.pQty - o.cum
	case k == 1:
		leaves = 0
	case k == 2:
		leaves++
	}
	want := error(nil)
	if leaves != o.qty-o.cum && !(o.pending && leaves == o.pQty-o.cum) {
		want = ErrLeavesMismatch
	}
	err := s.c.OnDone(o.resv, leaves)
	s.logf("OnDone %s %s leaves %d (cum %d qty %d pending %v/%d) -> %v", o.acct.id, o.cur, leaves, o.cum, o.qty, o.pending, o.pQty, err)
	s.count("OnDone", err)
	if !errors.Is(err, want) || (want == nil) != (err == nil) {
		s.t.Errorf("OnDone(%s %s, %d): %v, model says %v", o.acct.id, o.cur, leaves, err, want)
		return
	}
	s.journal = append(s.journal, journalRec{kind: "done", r: o.resv, qty: leaves, err: errString(err)})
	s.end(o)
	o.late = true
}

func (s *propSim) cancel() {
	o := s.pickWorking(nil)
	if o == nil || s.r.IntN(5) == 0 {
		o = s.pickAny(nil)
	}
	a := s.pickAcct()
	if o != nil {
		a = o.acct
	}
	x := Cancel{Account: a.id, Session: s.session(), ClOrdID: s.id()}
	if s.r.IntN(3) != 0 {
		x.ClOrdID = ""
	}
	if o != nil && s.r.IntN(8) != 0 {
		x.OrigClOrdID = o.ids[s.r.IntN(len(o.ids))]
		switch s.r.IntN(6) {
		case 0:
			x.Symbol = s.instr[o.in].sym
		case 1:
			x.Symbol = s.instr[(o.in+1)%len(s.instr)].sym
		}
	} else {
		x.OrigClOrdID = s.id()
	}
	if s.r.IntN(30) == 0 {
		x.Account = "ZZ"
	}
	want := s.modelCancel(x)
	before := s.capture(!s.rolled)
	rej := s.c.CheckCancel(x)
	s.logf("cancel %s %s orig %s sym %q -> %v (model %q)", x.Account, x.ClOrdID, x.OrigClOrdID, x.Symbol, rejCode(rej), want)
	s.count("CheckCancel", orAccepted(rejCode(rej)))
	if got := rejCode(rej); got != want {
		s.t.Errorf("CheckCancel %+v: got %q (%v), model says %q", x, got, rej, want)
		return
	}
	if rej != nil {
		s.unchanged(before, "refused CheckCancel")
		return
	}
	if x.ClOrdID != "" {
		o := a.ids[x.OrigClOrdID]
		a.ids[x.ClOrdID] = o
		o.ids = append(o.ids, x.ClOrdID)
	}
	s.journal = append(s.journal, journalRec{kind: "cancel", x: x})
}

// replace asks to change a working order's price and quantity, up or
// down; sometimes of an order not working, or with other symbol or side.
func (s *propSim) replace() {
	o := s.pickWorking(nil)
	if o == nil || s.r.IntN(15) == 0 {
		o = s.pickAny(nil)
	}
	if o == nil {
		a := s.pickAcct()
		s.submitReplace(s.id(), buy(a.id, s.id(), "000001.SZ", "10", 100))
		return
	}
	a, in := o.acct, s.instr[o.in]
	n := Order{Account: a.id, Session: s.session(), ClOrdID: s.id(), Symbol: in.sym, Side: o.side, Type: Limit, Credit: a.credit}
	switch s.r.IntN(30) {
	case 0:
		n.Side = 3 - o.side
	case 1:
		n.Symbol = s.instr[(o.in+1)%len(s.instr)].sym
	case 2:
		n.ClOrdID = o.cur
	}
	switch s.r.IntN(4) {
	case 0:
		n.Price = s.price(in)
	case 1:
		n.Price = o.price
	default:
		n.Price = o.price + in.tick*refdata.Price(s.r.Int64N(11)-5)
	}
	switch s.r.IntN(6) {
	case 0:
		n.Qty = o.qty
	case 1:
		n.Qty = o.qty + in.lot*(1+s.r.Int64N(5))
	case 2:
		n.Qty = o.qty - in.lot*(1+s.r.Int64N(3))
	case 3:
		n.Qty = o.cum + in.lot*(1+s.r.Int64N(5))
	case 4:
		n.Qty = o.cum + s.r.Int64N(3)
	default:
		n.Qty = s.qty(in, o.side, s.free(a, o.in)+hold(o)) + o.cum
	}
	orig := o.ids[s.r.IntN(len(o.ids))]
	s.submitReplace(orig, n)
}

func (s *propSim) submitReplace(orig string, n Order) {
	want, extra := s.modelReplace(orig, n)
	before := s.capture(!s.rolled)
	res, rej := s.c.CheckReplace(orig, n)
	s.logf("replace %s %s -> %s %s x %d -> %v (model %q)", n.Account, orig, n.ClOrdID, n.Price, n.Qty, rejCode(rej), want)
	s.count("CheckReplace", orAccepted(rejCode(rej)))
	if (res == nil) == (rej == nil) {
		s.t.Errorf("CheckReplace returned %v and %v", res, rej)
		return
	}
	if got := rejCode(rej); got != want {
		s.t.Errorf("CheckReplace %s %+v: got %q (%v), model says %q", orig, n, got, rej, want)
		return
	}
	if rej != nil {
		s.unchanged(before, "refused CheckReplace")
		return
	}
	a := s.accts[n.Account]
	o := a.ids[orig]
	o.pending, o.pPrice, o.pQty, o.pID, o.pResv = true, n.Price, n.Qty, n.ClOrdID, res
	o.replaces++
	// The order stays its session's until the upstream takes the replace.
	o.pSession = n.Session
	a.ids[n.ClOrdID] = o
	o.ids = append(o.ids, n.ClOrdID)
	got := int64(res.Cash) + res.Shares
	if got != extra || res.Day() != o.day {
		s.t.Errorf("CheckReplace %s %+v: reservation %+v, want extra %d", orig, n, res, extra)
	}
	s.journal = append(s.journal, journalRec{kind: "replace", orig: orig, o: n, r: res})
}

// answerReplace answers a pending replace: accepted or refused upstream.
func (s *propSim) answerReplace() {
	o := s.pickWorking(func(o *mOrder) bool { return o.pending })
	if o == nil {
		return
	}
	r := o.pResv
	accept := s.r.IntN(3) != 0
	var err error
	if accept {
		err = s.c.OnReplaced(r)
	} else {
		err = s.c.OnReplaceRejected(r)
	}
	s.logf("answer %s %s -> %s accept=%v (cum %d qty %d/%d) -> %v", o.acct.id, o.cur, o.pID, accept, o.cum, o.qty, o.pQty, err)
	s.count(fmt.Sprintf("replace answered accept=%v", accept), err)
	if err != nil {
		s.t.Errorf("answer of pending replace %s of %s: %v", o.pID, o.cur, err)
		return
	}
	kind := "replace_rejected"
	if accept {
		kind = "replaced"
		o.cur, o.price, o.qty = o.pID, o.pPrice, o.pQty
		if o.pSession != "" {
			o.session = o.pSession
		}
	}
	s.journal = append(s.journal, journalRec{kind: kind, r: r})
	o.pending = false
	o.oldResv = append(o.oldResv, r)
	if o.cum >= o.qty {
		s.end(o)
	}
}

// badCallback makes a callback the checker must refuse, changing
// nothing: fills beyond the order's leaves, limit or limit-up, of an
// order done; answers of replaces not pending; unknown Reservations.
func (s *propSim) badCallback() {
	before := s.capture(true)
	var err, want error
	var what string
	switch k := s.r.IntN(8); k {
	case 0, 1, 2:
		o := s.pickAny(nil)
		if o == nil {
			return
		}
		in := s.instr[o.in]
		q, p := o.qty, o.price
		if o.pending {
			q, p = max(q, o.pQty), max(p, o.pPrice)
		}
		price, qty := o.price, q-o.cum+1
		switch s.r.IntN(6) {
		case 0:
			qty = 0
		case 1:
			qty = -100
		case 2:
			price, qty = 0, 1
		case 3:
			price, qty = p+in.tick, 1
		case 4:
			price, qty = in.maxPx()+1, 1
		}
		if qty > 0 && !o.done && q-o.cum >= qty && price > 0 && price <= in.maxPx() && (o.side == Sell || price <= p) {
			return // valid after all
		}
		s.callFill(o, o.resv, price, qty, false)
		return
	case 3:
		o := s.pickAny(func(o *mOrder) bool { return len(o.oldResv) > 0 || !o.pending })
		if o == nil {
			return
		}
		r := o.resv
		if len(o.oldResv) > 0 && s.r.IntN(2) == 0 {
			r = o.oldResv[s.r.IntN(len(o.oldResv))]
		}
		what = "answer of no pending replace"
		want = ErrNotPending
		if s.r.IntN(2) == 0 {
			err = s.c.OnReplaced(r)
		} else {
			err = s.c.OnReplaceRejected(r)
		}
		s.journal = append(s.journal, journalRec{kind: "replaced", r: r, err: errString(err)})
	case 4:
		o := s.pickAny(func(o *mOrder) bool { return o.done })
		if o == nil {
			return
		}
		what, want = "OnDone of an order done", nil
		err = s.c.OnDone(o.resv, s.r.Int64N(3))
	case 5:
		what, want = "OnFill of another Checker's", ErrUnknownReservation
		err = s.c.OnFill(s.foreign, px("10"), 100)
	case 6:
		what, want = "OnDone of nil", ErrUnknownReservation
		err = s.c.OnDone(nil, 0)
	case 7:
		what, want = "OnLateFill of a hand-made Reservation", ErrUnknownReservation
		err = s.c.OnLateFill(&Reservation{Account: "A1", ClOrdID: "k1"}, px("10"), 100)
	}
	s.logf("bad: %s -> %v", what, err)
	s.count(what, err)
	if !errors.Is(err, want) || (want == nil) != (err == nil) {
		s.t.Errorf("%s: %v, want %v", what, err, want)
	}
	s.unchanged(before, what)
}

// lateFill reports a fill of an order the gateway or the change of day
// ended, up to the most it could still fill; sometimes beyond limit-up or
// the board maximum (refused), sometimes of an order still working (an
// ordinary fill).
func (s *propSim) lateFill() {
	o := s.pickAny(func(o *mOrder) bool { return o.late && o.cap > o.cum })
	if o == nil || s.r.IntN(10) == 0 {
		if o = s.pickWorking(nil); o != nil {
			s.callFill(o, o.resv, o.price, 1, true)
		}
		return
	}
	in := s.instr[o.in]
	price := in.lo + in.tick*refdata.Price(s.r.Int64N(int64((in.hi-in.lo)/in.tick)+1))
	qty := 1 + s.r.Int64N(o.cap-o.cum)
	switch s.r.IntN(12) {
	case 0:
		price = in.hi + in.tick // another day's limit-up: taken
	case 6:
		price = in.maxPx() + 1
	case 1:
		qty = in.maxQty + 1
	case 2:
		qty = math.MaxInt64
	case 3:
		qty = 0
	case 4, 5:
		// More than the venue can have filled (a bogus report): up to
		// the board maximum, and just beyond it in all.
		price, qty = in.hi, in.maxQty-o.cum+s.r.Int64N(2)
	}
	s.callFill(o, o.resv, price, qty, true)
}

// amend has the venue cancel (bust) or correct one of an order's fills,
// working or done, today's or an earlier day's: to a quantity up to the
// order's, at a price in the band; sometimes a hostile one (more than
// filled, beyond limit-up or the board maximum, negative), which is
// refused.
func (s *propSim) amend() {
	o := s.pickAny(func(o *mOrder) bool { return len(o.fills) > 0 })
	if o == nil {
		return
	}
	in := s.instr[o.in]
	f := &o.fills[s.r.IntN(len(o.fills))]
	a := TradeAmend{Price: f.price, Qty: f.qty, Day: f.day, Working: s.r.IntN(2) == 0}
	if a.Qty == 0 && s.r.IntN(2) == 0 {
		a.Price = -1 // ignored: nothing taken back
	}
	if s.r.IntN(2) == 0 { // a correction
		a.NewQty = 1 + s.r.Int64N(max(o.qty-o.cum+f.qty, 1))
		a.NewPrice = in.lo + in.tick*refdata.Price(s.r.Int64N(int64((in.hi-in.lo)/in.tick)+1))
	}
	switch s.r.IntN(14) {
	case 0:
		a.Qty = o.cum + 1
	case 1:
		a.NewPrice, a.NewQty = in.hi+in.tick, max(a.NewQty, 1) // another day's limit-up: taken
	case 6:
		a.NewPrice, a.NewQty = in.maxPx()+1, max(a.NewQty, 1)
	case 2:
		a.NewPrice, a.NewQty = in.hi, math.MaxInt64
	case 3:
		a.NewPrice, a.NewQty = in.hi, in.maxQty-o.cum+a.Qty+s.r.Int64N(2)
	case 4:
		a.NewQty = -1
	case 5:
		a.Price = 0
	}
	want := s.amendErr(o, a)
	before := s.capture(true)
	err := s.c.OnTradeAmended(o.resv, a)
	s.logf("OnTradeAmended %s %s %+v (cum %d qty %d pending %v/%d done %v endDay %d) -> %v", o.acct.id, o.cur, a, o.cum, o.qty, o.pending, o.pQty, o.done, o.endDay, err)
	s.count("OnTradeAmended", err)
	if !errors.Is(err, want) || (want == nil) != (err == nil) {
		s.t.Errorf("OnTradeAmended(%s %s, %+v): %v, model says %v", o.acct.id, o.cur, a, err, want)
		return
	}
	s.journal = append(s.journal, journalRec{kind: "amend", r: o.resv, amend: a, err: errString(err)})
	if err != nil {
		s.unchanged(before, "OnTradeAmended refused")
		return
	}
	s.applyAmend(o, f, a)
}

// changeDay moves the clock to a later date and changes the day as the
// mode does: by the checks (or Rollover) by the clock, or by the caller
// (DayDue, RolloverTo), sometimes with RolloverExpiring.
func (s *propSim) changeDay() {
	now := s.clk.Now().In(cst)
	if !s.mode.callerDays || s.clockDate() <= s.day || s.r.IntN(3) == 0 {
		now = now.AddDate(0, 0, 1+s.r.IntN(3))
		for s.r.IntN(5) != 0 && (now.Weekday() == time.Saturday || now.Weekday() == time.Sunday || s.holidays[dateKey(now)]) {
			now = now.AddDate(0, 0, 1)
		}
		s.clk.Set(time.Date(now.Year(), now.Month(), now.Day(), 10, s.r.IntN(60), 0, 0, cst))
	}
	date := s.clockDate()
	if s.r.IntN(8) == 0 {
		before := s.capture(date <= s.day)
		got := s.c.RolloverExpiring(s.clk.Now())
		if want := s.rollover(date, true); got != want {
			s.t.Errorf("RolloverExpiring(%d): %v, model says %v", date, got, want)
		}
		if !got {
			s.unchanged(before, "RolloverExpiring to an earlier day")
		}
		return
	}
	if s.mode.callerDays {
		d, later := s.c.DayDue()
		if d != date || later != (date > s.day) {
			s.t.Errorf("DayDue: %d %v, want %d %v", d, later, date, date > s.day)
		}
		if s.r.IntN(4) == 0 {
			return // changed later: checks meanwhile keep the old day
		}
		got := s.c.RolloverTo(d)
		if want := s.rollover(d, false); got != want {
			s.t.Errorf("RolloverTo(%d): %v, model says %v", d, got, want)
		}
		return
	}
	if s.r.IntN(2) == 0 {
		got := s.c.Rollover(s.clk.Now())
		if want := s.rollover(date, false); got != want {
			s.t.Errorf("Rollover(%d): %v, model says %v", date, got, want)
		}
	}
	// Otherwise the next check changes it.
}

// timeOfDay moves the clock within its day, mostly to continuous trading.
func (s *propSim) timeOfDay() {
	times := []string{"09:10", "09:17", "09:22", "09:27", "10:30", "11:29", "12:00", "13:00", "14:00", "14:58", "15:30"}
	hm := times[s.r.IntN(len(times))]
	if s.r.IntN(3) != 0 {
		hm = "10:15"
	}
	lt := s.clk.Now().In(cst)
	s.clk.Set(at(lt.Format("2006-01-02") + " " + hm))
}

func (s *propSim) kill() {
	acct := ""
	if s.r.IntN(3) != 0 {
		acct = s.acctIDs[s.r.IntN(len(s.acctIDs))]
	}
	on := s.r.IntN(4) == 0
	if s.r.IntN(4) != 0 { // mostly turn one off that is on
		for _, id := range append([]string{""}, s.acctIDs...) {
			if id == "" && s.killAll || id != "" && s.accts[id].killed {
				acct, on = id, false
			}
		}
	}
	open, err := s.c.SetKill(acct, on)
	s.logf("kill %q %v", acct, on)
	if err != nil {
		s.t.Errorf("SetKill(%q, %v): %v", acct, on, err)
		return
	}
	if acct == "" {
		s.killAll = on
	} else {
		s.accts[acct].killed = on
	}
	var want []OpenOrder
	if on && s.mode.killCancels {
		want = s.openOrders(acct)
	}
	if !slices.Equal(open, want) {
		s.t.Errorf("SetKill(%q, %v) returned %+v, want %+v", acct, on, open, want)
	}
}

// disconnect ends a client session (Disconnect), or asks what a restart
// would owe (Owed), with s1 still connected.
func (s *propSim) disconnect() {
	sess := s.session()
	if s.r.IntN(3) == 0 {
		got := s.c.Owed(func(x string) bool { return x == "s1" })
		var want []OpenOrder
		if s.mode.killCancels || s.mode.cancelOnDisc {
			gone := func(sess string) bool { return s.mode.cancelOnDisc && sess != "" && sess != "s1" }
			for _, o := range s.orders {
				killed := s.mode.killCancels && (s.killAll || o.acct.killed)
				switch {
				case o.done:
				case killed || gone(o.session):
					want = append(want, s.openOrder(o))
				case o.pending && gone(o.pSession):
					// Owed only if the upstream takes the replace.
					oo := s.openOrder(o)
					oo.IfReplacedBy = o.pSession
					want = append(want, oo)
					s.counts["owed if-replaced"]++
				}
			}
		}
		if !slices.Equal(got, want) {
			s.t.Errorf("Owed: %+v, model %+v", got, want)
		}
		return
	}
	got := s.c.Disconnect(sess)
	s.logf("disconnect %q -> %d", sess, len(got))
	delete(s.sessions, sess)
	var want []OpenOrder
	if s.mode.cancelOnDisc && sess != "" {
		for _, o := range s.orders {
			switch {
			case o.done:
			case o.session == sess:
				want = append(want, s.openOrder(o))
			case o.pending && o.pSession == sess:
				// Owed only if the upstream takes the replace.
				oo := s.openOrder(o)
				oo.IfReplacedBy = sess
				want = append(want, oo)
				s.counts["disconnect if-replaced"]++
			}
		}
	}
	if !slices.Equal(got, want) {
		s.t.Errorf("Disconnect(%q): %+v, model %+v", sess, got, want)
	}
}

func (s *propSim) haltOrRestrict() {
	i, on, halt := s.r.IntN(len(s.instr)), s.r.IntN(2) == 0, s.r.IntN(2) == 0
	if s.r.IntN(3) != 0 { // mostly lift one that is on
		for j := range s.instr {
			if s.halted[j] || s.restricted[j] {
				i, on, halt = j, false, s.halted[j]
			}
		}
	}
	if halt {
		s.halted[i] = on
		if err := s.c.SetHalted(s.instr[i].sym, on); err != nil {
			s.t.Error(err)
		}
	} else {
		s.restricted[i] = on
		if err := s.c.SetRestricted(s.instr[i].sym, on); err != nil {
			s.t.Error(err)
		}
	}
}

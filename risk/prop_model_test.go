package risk

import (
	"math"
	"time"

	"sgw/refdata"
)

// The model TestCheckerAgainstModel compares the Checker with, written
// from the documentation: the exchange rules, the checks in their
// documented order, holds, fills, late fills and the change of day.

// propInstr is the model's copy of an instrument: its band, tick, lot and
// board maximum written out from the exchange rules (±10% main and ST,
// ±20% ChiNext and STAR, 0.01 tick, 100 lot).
type propInstr struct {
	sym    string
	board  refdata.Board
	prev   refdata.Price
	lo, hi refdata.Price
	tick   refdata.Price
	lot    int64
	maxQty int64
}

// maxPx is the largest price whose product with the board maximum fits
// in an int64: what bounds a fill (not the band: a fill may be of another
// day's, under its own limit-up).
func (in propInstr) maxPx() refdata.Price { return refdata.Price(math.MaxInt64 / in.maxQty) }

func propInstrs() []propInstr {
	tick := px("0.01")
	return []propInstr{
		{sym: "600519.SH", board: refdata.BoardMain, prev: px("1700"), lo: px("1530"), hi: px("1870"), tick: tick, lot: 100, maxQty: 1_000_000},
		{sym: "000001.SZ", board: refdata.BoardMain, prev: px("10"), lo: px("9"), hi: px("11"), tick: tick, lot: 100, maxQty: 1_000_000},
		{sym: "300750.SZ", board: refdata.BoardChiNext, prev: px("200"), lo: px("160"), hi: px("240"), tick: tick, lot: 100, maxQty: 300_000},
		{sym: "688981.SH", board: refdata.BoardSTAR, prev: px("50"), lo: px("40"), hi: px("60"), tick: tick, lot: 100, maxQty: 100_000},
		{sym: "600200.SH", board: refdata.BoardST, prev: px("5"), lo: px("4.5"), hi: px("5.5"), tick: tick, lot: 100, maxQty: 1_000_000},
		{sym: "601398.SH", board: refdata.BoardMain, prev: px("5"), lo: px("4.5"), hi: px("5.5"), tick: tick, lot: 100, maxQty: 1_000_000},
		// Limit-up times the board maximum is 8.8e18 Price units, near
		// the int64 limit: its products must be refused, never wrapped.
		{sym: "600999.SH", board: refdata.BoardMain, prev: px("800000000"), lo: px("720000000"), hi: px("880000000"), tick: tick, lot: 100, maxQty: 1_000_000},
	}
}

// propAccounts are the accounts of a run; W1's cash is an eighth of the
// int64 range.
func propAccounts() []AccountConfig {
	return []AccountConfig{
		{ID: "A1", Cash: cny(1_000_000), Positions: map[string]int64{"600519.SH": 250, "688981.SH": 350, "000001.SZ": 1050, "600200.SH": 700}},
		{ID: "C1", Cash: cny(20_000)},
		{ID: "M1", Credit: true, Cash: cny(500_000), Positions: map[string]int64{"300750.SZ": 1000}},
		{ID: "S1", Positions: map[string]int64{"688981.SH": 150}},
		{ID: "W1", Cash: math.MaxInt64 / 8, Positions: map[string]int64{"600999.SH": 100_000, "601398.SH": 5000}},
	}
}

// mOrder is the model's record of an accepted order.
type mOrder struct {
	acct     *mAcct
	in       int
	side     Side
	session  string
	ids      []string // every client order id it has had
	cur      string   // current client order id
	price    refdata.Price
	qty, cum int64
	pending  bool
	pPrice   refdata.Price
	pQty     int64
	pID      string
	pSession string         // the pending replace's session, the order's once taken
	pResv    *Reservation   // the pending replace's
	oldResv  []*Reservation // replaces answered
	replaces int
	done     bool
	day      int32
	endDay   int32
	resv     *Reservation
	// late: ended on the gateway's word (OnDone) or by a change of day,
	// so the venue may still report fills (OnLateFill), up to cap.
	late bool
	cap  int64
	// fills are the order's fills the checker took (OnFill, OnLateFill),
	// as amended since (OnTradeAmended): a canceled one has qty 0.
	fills []mFill
}

// mFill is a fill of a model order: on day, and whether its shares (a
// buy's) went to those bought today (T+1) or, a late fill of an order
// that ended on an earlier day, to the sellable ones.
type mFill struct {
	price refdata.Price
	qty   int64
	day   int32
	today bool
}

// mPos is a position: overnight is sellable since an earlier day (held
// by working sells included), today bought today.
type mPos struct{ overnight, today int64 }

type mAcct struct {
	id     string
	credit bool
	killed bool
	cash   int64 // start + proceeds - costs: what avail + reserved must be
	ids    map[string]*mOrder
	pos    map[int]*mPos
	shares map[int]int64 // start + buys - sells, kept apart from pos
	// huge: the cash went beyond int64 (the checker saturates): compare
	// it no more.
	huge   bool
	bucket mBucket
}

// mBucket is the model of a throttle: rate orders a second, a burst of
// rate, full at first use; a clock going back earns nothing. Tokens are
// counted in billionths, so that a nanosecond earns rate of them.
type mBucket struct {
	used         bool
	tokens, last int64
}

func (b *mBucket) take(now time.Time, rate int) bool {
	const one = int64(time.Second)
	ns, full := now.UnixNano(), int64(rate)*one
	switch {
	case !b.used:
		b.used, b.tokens, b.last = true, full, ns
	case ns > b.last:
		b.tokens = min(full, b.tokens+min(ns-b.last, one)*int64(rate))
		b.last = ns
	}
	if b.tokens < one {
		return false
	}
	b.tokens -= one
	return true
}

func (s *propSim) sym(sym string) int {
	for i, in := range s.instr {
		if in.sym == sym {
			return i
		}
	}
	return -1
}

// hold returns what a model order holds: cash (buy) or shares (sell), for
// its leaves at its price, the worst case of both terms while a replace
// is pending.
func hold(o *mOrder) int64 {
	if o.done {
		return 0
	}
	q, p := o.qty, o.price
	if o.pending {
		q, p = max(q, o.pQty), max(p, o.pPrice)
	}
	if q <= o.cum {
		return 0
	}
	if o.side == Buy {
		return int64(p) * (q - o.cum)
	}
	return q - o.cum
}

func (s *propSim) reservedCash(a *mAcct) int64 {
	var sum int64
	for _, o := range s.orders {
		if o.acct == a && o.side == Buy {
			sum += hold(o)
		}
	}
	return sum
}

func (s *propSim) reservedShares(a *mAcct, in int) int64 {
	var sum int64
	for _, o := range s.orders {
		if o.acct == a && o.side == Sell && o.in == in {
			sum += hold(o)
		}
	}
	return sum
}

func (s *propSim) avail(a *mAcct) int64 { return a.cash - s.reservedCash(a) }

func (s *propSim) position(a *mAcct, in int) *mPos {
	p := a.pos[in]
	if p == nil {
		p = &mPos{}
		a.pos[in] = p
	}
	return p
}

func (s *propSim) free(a *mAcct, in int) int64 {
	return s.position(a, in).overnight - s.reservedShares(a, in)
}

// addCash adds v to the account's cash, noting a total beyond int64.
func (s *propSim) addCash(a *mAcct, v int64) {
	sum := a.cash + v
	switch {
	case v > 0 && sum < a.cash:
		a.huge, sum = true, math.MaxInt64
	case v < 0 && sum > a.cash:
		a.huge, sum = true, math.MinInt64
	}
	a.cash = sum
	// The checker keeps the available cash, a.cash less the reserved:
	// beyond int64 too, it saturates.
	if r := s.reservedCash(a); sum-r > sum {
		a.huge = true
	}
}

// phase is the phase at the clock's time, from the exchange timetable.
func (s *propSim) phase() Phase {
	if s.mode.alwaysOpen {
		return PhaseContinuous
	}
	lt := s.clk.Now().In(cst)
	if wd := lt.Weekday(); wd == time.Saturday || wd == time.Sunday || s.holidays[dateKey(lt)] {
		return PhaseClosed
	}
	hm := lt.Hour()*60 + lt.Minute()
	switch {
	case hm >= 9*60+15 && hm < 9*60+20:
		return PhaseOpeningCall
	case hm >= 9*60+20 && hm < 9*60+25:
		return PhaseOpeningCallNoCancel
	case hm >= 9*60+30 && hm < 11*60+30, hm >= 13*60 && hm < 14*60+57:
		return PhaseContinuous
	case hm >= 14*60+57 && hm < 15*60:
		return PhaseClosingCall
	}
	return PhaseClosed
}

func (s *propSim) clockDate() int32 { return dateKey(s.clk.Now().In(cst)) }

// rollover is the model's change of day: working orders expire (or carry
// on, always open), ended orders' ids free, today's buys become sellable.
func (s *propSim) rollover(date int32, expire bool) bool {
	if date <= s.day {
		return false
	}
	for _, o := range s.orders {
		if o.done || s.mode.alwaysOpen && !expire {
			continue
		}
		s.end(o)
		o.late = true
	}
	s.day = date
	for _, a := range s.accts {
		for id, o := range a.ids {
			if o.done {
				delete(a.ids, id)
			}
		}
		for _, p := range a.pos {
			p.overnight += p.today
			p.today = 0
		}
	}
	s.journal = append(s.journal, journalRec{kind: "day", date: date, expire: expire})
	s.logf("day %d expire=%v", date, expire)
	s.count("day change expire=", expire)
	return true
}

func (s *propSim) end(o *mOrder) {
	o.cap = max(o.cap, o.qty)
	if o.pending {
		o.cap = max(o.cap, o.pQty)
	}
	o.done, o.endDay, o.pending = true, s.day, false
}

// checked is what the checks do first: roll the day over by the clock,
// unless the caller changes days. It reports whether the day changed.
func (s *propSim) checked() bool {
	if s.mode.callerDays {
		return false
	}
	return s.rollover(s.clockDate(), false)
}

// lotRule applies the documented lot rules to qty shares with free
// shares sellable.
func lotRule(in propInstr, side Side, qty, free int64) string {
	star := in.board == refdata.BoardSTAR
	if side == Buy {
		if star && qty < 200 || !star && qty%in.lot != 0 {
			return CodeLot
		}
		return ""
	}
	if qty > free {
		return "" // the position check refuses it
	}
	if star {
		if qty < 200 && qty != free {
			return CodeOddLot
		}
		return ""
	}
	if odd := qty % in.lot; odd != 0 && odd != free%in.lot {
		return CodeOddLot
	}
	return ""
}

func (s *propSim) maxNotional() int64 {
	if s.mode.maxNotional == 0 {
		return int64(DefaultMaxNotional)
	}
	return int64(s.mode.maxNotional)
}

func (s *propSim) stLimit() int64 {
	if s.mode.stDailyBuy == 0 {
		return DefaultSTDailyBuy
	}
	return s.mode.stDailyBuy
}

// stBuys is the account's buys of in today: filled plus what its working
// buys may still fill, except one order.
func (s *propSim) stBuys(a *mAcct, in int, except *mOrder) int64 {
	total := s.position(a, in).today
	for _, o := range s.orders {
		if o.acct != a || o == except || o.done || o.side != Buy || o.in != in {
			continue
		}
		q := o.qty
		if o.pending {
			q = max(q, o.pQty)
		}
		total += max(q-o.cum, 0)
	}
	return total
}

// admit is the model of the checks a new order and a replace share:
// account, kill switch, shape, unused id, instrument.
func (s *propSim) admit(o Order) (*mAcct, int, string) {
	now := s.clk.Now()
	if o.Session != "" {
		b := s.sessions[o.Session]
		if b == nil {
			b = &mBucket{}
			s.sessions[o.Session] = b
		}
		if !b.take(now, s.cfg.SessionRate) {
			return nil, 0, CodeThrottleSession
		}
	}
	a := s.accts[o.Account]
	switch {
	case a == nil || a.credit != o.Credit:
		return nil, 0, CodeUnknownAccount
	case s.killAll || a.killed:
		return nil, 0, CodeKillSwitch
	case !a.bucket.take(now, s.cfg.AccountRate):
		return nil, 0, CodeThrottleAccount
	case o.Type != Limit || o.Side != Buy && o.Side != Sell:
		return nil, 0, CodeUnsupportedType
	case o.ClOrdID == "":
		return nil, 0, CodeBadClOrdID
	case o.Qty <= 0:
		return nil, 0, CodeBadQty
	case o.Price <= 0:
		return nil, 0, CodeBadPrice
	case a.ids[o.ClOrdID] != nil:
		return nil, 0, CodeDuplicateClOrd
	}
	i := s.sym(o.Symbol)
	switch {
	case i < 0:
		return nil, 0, CodeUnknownSymbol
	case s.restricted[i]:
		return nil, 0, CodeRestricted
	case s.halted[i]:
		return nil, 0, CodeNotTrading
	}
	return a, i, ""
}

func priceRule(in propInstr, p refdata.Price) string {
	switch {
	case p < in.lo || p > in.hi:
		return CodePriceBand
	case p%in.tick != 0:
		return CodeTick
	}
	return ""
}

// modelNew predicts CheckNew's answer: "" (accepted) or the code.
func (s *propSim) modelNew(o Order) string {
	a, i, code := s.admit(o)
	if code != "" {
		return code
	}
	in := s.instr[i]
	if s.phase() == PhaseClosed {
		return CodeSessionClosed
	}
	if code := priceRule(in, o.Price); code != "" {
		return code
	}
	free := s.free(a, i)
	if code := lotRule(in, o.Side, o.Qty, free); code != "" {
		return code
	}
	if o.Qty > in.maxQty {
		return CodeMaxQty
	}
	if o.Side == Buy && in.board == refdata.BoardST && s.stBuys(a, i, nil)+o.Qty > s.stLimit() {
		return CodeMaxQty
	}
	value := int64(o.Price) * o.Qty
	switch {
	case value > s.maxNotional():
		return CodeMaxNotional
	case o.Side == Buy && value > s.avail(a):
		return CodeCash
	case o.Side == Sell && o.Qty > free:
		return CodePosition
	}
	return ""
}

// modelCancel predicts CheckCancel's answer.
func (s *propSim) modelCancel(x Cancel) string {
	a := s.accts[x.Account]
	if a == nil {
		return CodeUnknownAccount
	}
	o := a.ids[x.OrigClOrdID]
	switch {
	case o == nil || o.done:
		return CodeUnknownOrder
	case x.Symbol != "" && x.Symbol != s.instr[o.in].sym:
		return CodeUnknownOrder
	case x.ClOrdID != "" && a.ids[x.ClOrdID] != nil:
		return CodeDuplicateClOrd
	}
	switch s.phase() {
	case PhaseClosed:
		return CodeSessionClosed
	case PhaseOpeningCallNoCancel, PhaseClosingCall:
		return CodeNoCancelPeriod
	}
	return ""
}

// modelReplace predicts CheckReplace's answer, and on accept the extra
// the replace holds.
func (s *propSim) modelReplace(orig string, o Order) (string, int64) {
	a, i, code := s.admit(o)
	if code != "" {
		return code, 0
	}
	r := a.ids[orig]
	switch {
	case r == nil || r.done:
		return CodeUnknownOrder, 0
	case r.pending:
		return CodeReplacePending, 0
	case r.in != i || r.side != o.Side:
		return CodeUnsupportedType, 0
	}
	switch s.phase() {
	case PhaseClosed:
		return CodeSessionClosed, 0
	case PhaseOpeningCallNoCancel, PhaseClosingCall:
		return CodeNoCancelPeriod, 0
	}
	in := s.instr[i]
	if code := priceRule(in, o.Price); code != "" {
		return code, 0
	}
	leaves := o.Qty - r.cum
	if leaves <= 0 {
		return CodeBadQty, 0
	}
	free := s.free(a, i)
	held := int64(0)
	if o.Side == Sell {
		held = hold(r)
	}
	if code := lotRule(in, o.Side, leaves, free+held); code != "" {
		return code, 0
	}
	if o.Qty > in.maxQty {
		return CodeMaxQty, 0
	}
	if o.Side == Buy && in.board == refdata.BoardST && o.Qty > r.qty && s.stBuys(a, i, r)+leaves > s.stLimit() {
		return CodeMaxQty, 0
	}
	if int64(o.Price)*leaves > s.maxNotional() {
		return CodeMaxNotional, 0
	}
	before := hold(r)
	r.pending, r.pPrice, r.pQty = true, o.Price, o.Qty
	need := hold(r) - before
	r.pending = false
	switch {
	case need > 0 && o.Side == Buy && need > s.avail(a):
		return CodeCash, 0
	case need > 0 && o.Side == Sell && need > free:
		return CodePosition, 0
	}
	return "", max(need, 0)
}

// fillErr predicts OnFill's answer for a model order.
func (s *propSim) fillErr(o *mOrder, price refdata.Price, qty int64) error {
	if o.done {
		return ErrOrderClosed
	}
	q, p := o.qty, o.price
	if o.pending {
		q, p = max(q, o.pQty), max(p, o.pPrice)
	}
	switch {
	case qty <= 0 || price <= 0, qty > q-o.cum, o.side == Buy && price > p, price > s.instr[o.in].maxPx():
		return ErrBadFill
	}
	return nil
}

// applyFill applies a fill the model accepted: cash and shares move; the
// order ends when its fills reach its largest quantity.
func (s *propSim) applyFill(o *mOrder, price refdata.Price, qty int64, late bool) {
	a := o.acct
	v := int64(price) * qty
	p := s.position(a, o.in)
	o.fills = append(o.fills, mFill{price: price, qty: qty, day: s.day, today: !(late && o.endDay < s.day)})
	if o.side == Buy {
		s.addCash(a, -v)
		a.shares[o.in] += qty
		if late && o.endDay < s.day {
			p.overnight += qty
		} else {
			p.today += qty
		}
	} else {
		s.addCash(a, v)
		a.shares[o.in] -= qty
		p.overnight -= qty
	}
	o.cum += qty
	if late {
		return
	}
	q := o.qty
	if o.pending {
		q = max(q, o.pQty)
	}
	if o.cum == q {
		s.end(o)
	}
}

// amendErr predicts OnTradeAmended's answer for a model order: the fill
// taken back and its replacement must be priced within the band's top
// (positive), the one taken back no more than filled, the order's fills
// in all within the board maximum.
func (s *propSim) amendErr(o *mOrder, a TradeAmend) error {
	in := s.instr[o.in]
	bad := func(p refdata.Price) bool { return p <= 0 || p > in.maxPx() }
	switch {
	case a.Qty < 0 || a.NewQty < 0:
		return ErrBadFill
	case a.Qty > 0 && bad(a.Price), a.NewQty > 0 && bad(a.NewPrice):
		return ErrBadFill
	case a.Qty > o.cum, a.NewQty-a.Qty > in.maxQty-o.cum:
		return ErrBadFill
	}
	return nil
}

// applyAmend applies an amend of the fill f the model accepted, as the
// documentation says: the account ends as if the fill had been the
// corrected one, its shares moved where the fill put them (bought today
// only if that is today's; from today's first, the rest from the sellable
// ones); a done order of today the venue works again reopens, one whose
// fills reach its largest quantity ends.
func (s *propSim) applyAmend(o *mOrder, f *mFill, a TradeAmend) {
	if a.Qty == 0 {
		a.Price = 0
	}
	if a.NewQty == 0 {
		a.NewPrice = 0
	}
	acct := o.acct
	dv := int64(a.NewPrice)*a.NewQty - int64(a.Price)*a.Qty
	dq := a.NewQty - a.Qty
	p := s.position(acct, o.in)
	if o.side == Buy {
		s.addCash(acct, -dv)
		acct.shares[o.in] += dq
		switch {
		case !(f.today && f.day == s.day):
			p.overnight += dq
		case dq >= 0:
			p.today += dq
		default:
			k := min(-dq, p.today)
			p.today -= k
			p.overnight -= -dq - k
		}
	} else {
		s.addCash(acct, dv)
		acct.shares[o.in] -= dq
		p.overnight -= dq
	}
	f.price, f.qty = a.NewPrice, a.NewQty
	o.cum += dq
	q := o.qty
	if o.pending {
		q = max(q, o.pQty)
	}
	switch {
	case o.done && a.Working && o.endDay == s.day && o.cum < o.qty:
		o.done, o.endDay, o.late = false, 0, false
	case !o.done && o.cum >= q:
		s.end(o)
	}
}

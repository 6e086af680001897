package risk

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"sgw/refdata"
)

// starMinQty is the smallest STAR order, in shares; above it any quantity
// is allowed. It does not depend on the instrument's configured Lot.
const starMinQty = 200

// Checker runs the pre-trade risk checks and keeps the state they need:
// cash and positions per account, the reservations of working orders, the
// client order ids used today, throttles, halts and kill switches.
//
// A Checker is safe for concurrent use: every method takes its one mutex
// for the whole call, so checks and state updates are serialised and each
// sees the effect of all earlier ones. Methods never block on anything but
// that mutex and never call out (the Clock is read before it is taken).
type Checker struct {
	clock              Clock
	maxNotional        refdata.Price
	stDailyBuy         int64 // Config.STDailyBuy
	accountRate        int64
	sessionRate        int64
	cancelOnDisconnect bool
	killCancelsResting bool

	mu       sync.Mutex
	sched    schedule
	day      int32 // yyyymmdd of the current trading day
	killAll  bool  // the global kill switch
	symbols  map[string]int32
	instr    []instrument
	accounts map[string]*account
	sessions map[string]*bucket
	orders   slab // every order accepted today, in acceptance order
	// carried holds the orders of earlier days still working, with
	// Schedule.AlwaysOpen only (its venue never closes), in acceptance
	// order: rollover expires them otherwise.
	carried []*order
	// callerDays is set by DaysByCaller: the checks do not change the day.
	callerDays bool
	// refDay is Config.RefDay as yyyymmdd: new orders and replaces are
	// refused on any other day. 0 for none (and with AlwaysOpen).
	refDay int32
}

// instrument is an Instrument with its derived limits and switches.
type instrument struct {
	refdata.Instrument
	lo, hi refdata.Price // daily band, inclusive
	maxQty int64
	// maxPx is the largest price whose product with maxQty fits in an
	// int64 (at least hi: New refuses reference data otherwise). It bounds
	// the prices of replayed requests, which were in the band of their own
	// day, not necessarily of the configured previous close.
	maxPx      refdata.Price
	star       bool
	halted     bool
	restricted bool
}

// New validates cfg, fills its defaults and returns a Checker whose
// accounts hold their configured cash and positions. A nil clock means
// SystemClock. The trading day starts as the clock's current local date.
func New(cfg Config, clock Clock) (*Checker, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	sched, err := newSchedule(cfg.Schedule)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = SystemClock{}
	}
	c := &Checker{
		clock:              clock,
		maxNotional:        cfg.MaxNotional,
		stDailyBuy:         cfg.STDailyBuy,
		accountRate:        int64(cfg.AccountRate),
		sessionRate:        int64(cfg.SessionRate),
		cancelOnDisconnect: cfg.CancelOnDisconnect,
		killCancelsResting: cfg.KillCancelsResting,
		sched:              sched,
		symbols:            make(map[string]int32, len(cfg.Instruments)),
		instr:              make([]instrument, len(cfg.Instruments)),
		accounts:           make(map[string]*account, len(cfg.Accounts)),
		sessions:           make(map[string]*bucket),
	}
	for i, in := range cfg.Instruments {
		lo, hi := in.Band()
		maxQty := cfg.MaxQty[in.Board]
		c.instr[i] = instrument{Instrument: in, lo: lo, hi: hi, maxQty: maxQty, maxPx: refdata.Price(math.MaxInt64 / maxQty),
			star: in.Board == refdata.BoardSTAR}
		c.symbols[in.Symbol] = int32(i)
	}
	for _, sym := range cfg.Restricted {
		c.instr[c.symbols[sym]].restricted = true
	}
	for _, ac := range cfg.Accounts {
		a := &account{
			owner:  c,
			id:     ac.ID,
			credit: ac.Credit,
			avail:  ac.Cash,
			pos:    make(map[int32]*position, len(ac.Positions)),
			orders: make(map[string]*order),
		}
		for sym, q := range ac.Positions {
			a.pos[c.symbols[sym]] = &position{sellable: q}
		}
		c.accounts[ac.ID] = a
	}
	if !sched.alwaysOpen {
		c.refDay, _ = parseRefDay(cfg.RefDay) // validated by withDefaults
	}
	_, c.day = c.sched.at(clock.Now())
	return c, nil
}

// Phase returns the trading phase at the clock's current time.
func (c *Checker) Phase() Phase {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	p, _ := c.sched.at(now)
	return p
}

// Day returns the current trading day as YYYY-MM-DD.
func (c *Checker) Day() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return dayText(c.day)
}

// FirstSessionDay returns, as YYYY-MM-DD, the clock's local date if it
// has a session, else the first later date that does (weekends and
// Schedule.Holidays skipped): the trading day reference data loaded now
// is for. It changes nothing.
func (c *Checker) FirstSessionDay() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return dayText(c.firstSessionDay())
}

// firstSessionDay implements FirstSessionDay as yyyymmdd. c.mu must be
// held.
func (c *Checker) firstSessionDay() int32 {
	s := c.sched // a copy: the day cache walked here is not the checker's
	t := c.clock.Now()
	for i := 0; i < 366; i++ { // a year without a session is a schedule error
		_, date := s.at(t)
		if s.trading || s.alwaysOpen {
			return date
		}
		// The next date's noon: its midnight may not exist (a time zone
		// whose clocks skip it), and time.Date would put it in this day.
		t = time.Date(int(date/10000), time.Month(date/100%100), int(date%100)+1, 12, 0, 0, 0, s.loc)
	}
	return c.day
}

// RefDayBehind reports whether the reference data (Config.RefDay) is
// for an earlier trading day than the clock's session day, or on a
// weekend or a holiday the next one (FirstSessionDay): a process holding
// it refuses every new order and replace of that session
// (risk.not_trading) until restarted with the day's data. A cluster node
// that holds it refuses them once it leads. False when not checked (no
// RefDay, or AlwaysOpen) and for a later day (data loaded the evening
// before). It changes nothing; the gateway exports it as
// gateway_orders_reference_data_stale.
func (c *Checker) RefDayBehind() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refDay != 0 && c.refDay < c.firstSessionDay()
}

// DaysByCaller makes the caller the one to change the trading day
// (DayDue, then RolloverTo or Rollover): the checks keep the day they find,
// however late the clock. orders.Manager calls it, and journals each
// change of day, so that a replay changes day at the same place among the
// events as the live checker did (the checks change it at the first one
// after midnight, a replay by record times at the first record after
// midnight: a report applied between the two would land on other days).
// Call it before the first check.
func (c *Checker) DaysByCaller() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.callerDays = true
}

// DayDue returns the clock's local date as yyyymmdd, and whether it is
// after the current trading day: a day the caller should start
// (RolloverTo) once it has recorded it. It changes nothing.
func (c *Checker) DayDue() (date int32, later bool) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	_, date = c.sched.at(now)
	return date, date > c.day
}

// SinceClose tells how long ago the market closed (15:00) on the clock's
// local date, negative before the close, and that date as yyyymmdd; ok is
// false on a day without a session (a weekend, a holiday) and with
// Schedule.AlwaysOpen, whose venue never closes. It reads the schedule
// only: the trading day does not change.
func (c *Checker) SinceClose() (date int32, since time.Duration, ok bool) {
	now := c.clock.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	_, date = c.sched.at(now)
	if c.sched.alwaysOpen || !c.sched.trading {
		return date, 0, false
	}
	d := time.Duration(now.Unix()-c.sched.dayStart)*time.Second + time.Duration(now.Nanosecond())
	return date, d - tMarketShut, true
}

// AlwaysOpen reports whether the schedule is Schedule.AlwaysOpen: a
// venue that never closes, whose orders carry on from day to day.
func (c *Checker) AlwaysOpen() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sched.alwaysOpen
}

// RefDay returns the trading day (yyyymmdd) the reference data is for
// (Config.RefDay), and whether it is not the current trading day: new
// orders and replaces are then refused. 0 and false when not checked.
func (c *Checker) RefDay() (ref int32, stale bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.refDay, c.refDay != 0 && c.refDay != c.day
}

// DayOf returns the date of t (yyyymmdd) in the schedule's time zone, as
// trading days are counted; it changes nothing. Safe for concurrent use
// (the location is fixed at New).
func (c *Checker) DayOf(t time.Time) int32 {
	return dateKey(t.In(c.sched.loc))
}

// DayDate returns the current trading day as yyyymmdd; it changes
// nothing.
func (c *Checker) DayDate() int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.day
}

// RolloverTo starts trading day date (yyyymmdd) if it is after the
// current one, as Rollover does for an instant of that date: the change
// of day DayDue told the caller of (DaysByCaller), or a replay of it.
func (c *Checker) RolloverTo(date int32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.rollover(date, false)
}

// Rollover starts a new trading day if t's local date is after the current
// one, and reports whether it did. Every order still working expires (its
// reservation is released), client order ids may be used again, and the
// shares bought on earlier days become sellable (T+1). The Check methods
// do the same by the clock's time, unless the caller changes the days
// (DaysByCaller); journal replay calls it with the time of the first
// event of each day, in a journal that does not record the changes.
//
// With Schedule.AlwaysOpen (the simulator's venue, which never closes)
// the orders still working carry on into the new day instead: they hold
// what they held, their client order ids stay used, and they fill and
// cancel as before.
//
// An earlier day's Reservation still names its own, expired, order, never
// one of today's with the same client order id: OnFill refuses it with
// ErrOrderClosed, OnDone ignores it, OnReplaced and OnReplaceRejected
// report ErrNotPending.
func (c *Checker) Rollover(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, date := c.sched.at(t)
	return c.rollover(date, false)
}

// RolloverExpiring is Rollover as versions before the journal's day
// records changed the day: every working order expires, even with
// Schedule.AlwaysOpen. A replay of a journal they wrote, which changes
// day by the records' times, calls it, so that it ends as they did live
// (they freed a working order's client order id at midnight, and a client
// may have used it again).
func (c *Checker) RolloverExpiring(t time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, date := c.sched.at(t)
	return c.rollover(date, true)
}

// ReplayFrom sets the trading day to t's, which may be earlier than the
// clock's: a journal replay whose first record is t's calls it before
// that record, then Rollover before each later one, so that the Restore
// methods run through the journal's days as they happened (see Replay),
// however long after them the Checker was built. Call it on a Checker
// that has checked and restored nothing yet.
func (c *Checker) ReplayFrom(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, date := c.sched.at(t)
	c.replayFrom(date)
}

// ReplayFromDate is ReplayFrom for a day given as yyyymmdd: a journal
// whose first record names its day.
func (c *Checker) ReplayFromDate(date int32) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replayFrom(date)
}

// replayFrom implements ReplayFrom. c.mu must be held.
func (c *Checker) replayFrom(date int32) {
	if date < c.day {
		c.day = date
	} else {
		c.rollover(date, false)
	}
}

// rollover implements Rollover; with expire, every working order
// expires, even with AlwaysOpen (RolloverExpiring). c.mu must be held.
func (c *Checker) rollover(date int32, expire bool) bool {
	if date <= c.day {
		return false
	}
	var carried []*order
	c.eachOrder(func(o *order) {
		switch {
		case o.done:
		case c.sched.alwaysOpen && !expire:
			carried = append(carried, o)
		default:
			o.acct.close(o)
		}
	})
	// The orders expired above ended on the old day.
	c.day = date
	// Callers may still hold Reservations inside the old slab, or linking
	// to its records: start a new one rather than reuse it. The records
	// carried stay where they are.
	c.orders, c.carried = slab{}, carried
	for _, a := range c.accounts {
		for id, o := range a.orders {
			if o.done {
				delete(a.orders, id)
			}
		}
		for _, p := range a.pos {
			p.sellable += p.today
			p.today = 0
		}
	}
	return true
}

// eachOrder calls fn for every order carried into the day, then every
// order of the day, in acceptance order. c.mu must be held.
func (c *Checker) eachOrder(fn func(*order)) {
	for _, o := range c.carried {
		fn(o)
	}
	c.orders.each(fn)
}

// SetKill turns the kill switch of an account, or the global one when
// account is "", on or off. It takes effect for the next check: a killed
// account's new orders and replaces are rejected with risk.kill_switch;
// cancels are still accepted. When the switch goes on and
// KillCancelsResting is configured, SetKill returns the working orders
// concerned, for the caller to cancel upstream; otherwise nil.
func (c *Checker) SetKill(account string, on bool) ([]OpenOrder, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if account == "" {
		c.killAll = on
	} else {
		a := c.accounts[account]
		if a == nil {
			return nil, fmt.Errorf("%w: %s", ErrUnknownAccount, account)
		}
		a.killed = on
	}
	if !on || !c.killCancelsResting {
		return nil, nil
	}
	return c.openOrders(func(o *order) (bool, string) { return account == "" || o.acct.id == account, "" }), nil
}

// Killed reports whether new orders of the account are blocked, by its own
// kill switch or the global one. For an unknown account it reports the
// global switch.
func (c *Checker) Killed(account string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killAll {
		return true
	}
	a := c.accounts[account]
	return a != nil && a.killed
}

// KillSwitches returns the state of the kill switches: the global one
// under "", then every account's own.
func (c *Checker) KillSwitches() map[string]bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]bool, len(c.accounts)+1)
	out[""] = c.killAll
	for id, a := range c.accounts {
		out[id] = a.killed
	}
	return out
}

// SetHalted halts or resumes trading in a symbol (from the feed's trading
// state or an operator). Orders for a halted symbol are rejected with
// risk.not_trading; cancels are still accepted.
func (c *Checker) SetHalted(symbol string, halted bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.symbols[symbol]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSymbol, symbol)
	}
	c.instr[i].halted = halted
	return nil
}

// SetRestricted adds a symbol to the restricted list or removes it.
func (c *Checker) SetRestricted(symbol string, restricted bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	i, ok := c.symbols[symbol]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownSymbol, symbol)
	}
	c.instr[i].restricted = restricted
	return nil
}

// Disconnect forgets a client session's throttle and, when
// CancelOnDisconnect is configured, returns the session's working orders
// for the caller to cancel upstream; otherwise nil. Those are the orders
// that belong to it, and those whose pending replace came from it
// (OpenOrder.IfReplacedBy): the upstream may yet accept the replace and
// make the order the session's. The protocol layer calls it when a
// WebSocket or FIX session ends.
func (c *Checker) Disconnect(session string) []OpenOrder {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.sessions, session)
	if !c.cancelOnDisconnect || session == "" {
		return nil
	}
	return c.openOrders(func(o *order) (bool, string) {
		switch {
		case o.session == session:
			return true, ""
		case o.pending && o.pSession == session:
			return true, session
		}
		return false, ""
	})
}

// CancelOnDisconnect reports whether Config.CancelOnDisconnect is set.
// Safe for concurrent use: the setting does not change after New.
func (c *Checker) CancelOnDisconnect() bool { return c.cancelOnDisconnect }

// Owed returns the working orders an earlier run may have owed cancels
// for, for the caller to cancel when it starts (after a replay): with
// KillCancelsResting, those of every killed account (its own switch or
// the global one); with CancelOnDisconnect, those that belong to a
// session that is not connected (connected reports whether it still is;
// nil: none is), and those whose pending replace came from one
// (OpenOrder.IfReplacedBy), as Disconnect lists them. Each is listed
// once, in the order accepted. Nil when neither is configured.
func (c *Checker) Owed(connected func(session string) bool) []OpenOrder {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.killCancelsResting && !c.cancelOnDisconnect {
		return nil
	}
	gone := func(session string) bool {
		return c.cancelOnDisconnect && session != "" && (connected == nil || !connected(session))
	}
	return c.openOrders(func(o *order) (bool, string) {
		switch {
		case c.killCancelsResting && (c.killAll || o.acct.killed), gone(o.session):
			return true, ""
		case o.pending && gone(o.pSession):
			return true, o.pSession
		}
		return false, ""
	})
}

// OpenOrders returns the working orders of an account, or of every
// account when account is "", in the order they were accepted.
func (c *Checker) OpenOrders(account string) []OpenOrder {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.openOrders(func(o *order) (bool, string) { return account == "" || o.acct.id == account, "" })
}

// SessionOf returns the session the order whose Reservation r is (any of
// its Reservations) belongs to, as OpenOrder.Session: the one that
// entered it, or that sent the latest replace the upstream accepted.
// A nil, hand-made or other Checker's r is refused with
// ErrUnknownReservation.
func (c *Checker) SessionOf(r *Reservation) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o, err := c.record(r)
	if err != nil {
		return "", err
	}
	return o.session, nil
}

// openOrders lists the working orders that match, each with the
// OpenOrder.IfReplacedBy match returns. c.mu must be held.
func (c *Checker) openOrders(match func(*order) (ok bool, ifReplacedBy string)) []OpenOrder {
	var out []OpenOrder
	c.eachOrder(func(o *order) {
		if o.done {
			return
		}
		ok, ifReplacedBy := match(o)
		if !ok {
			return
		}
		out = append(out, OpenOrder{
			Account:      o.acct.id,
			Session:      o.session,
			ClOrdID:      o.clOrdID,
			Symbol:       c.instr[o.sym].Symbol,
			Side:         o.side,
			Price:        o.price,
			LeavesQty:    max(o.qty-o.cum, 0),
			IfReplacedBy: ifReplacedBy,
		})
	})
	return out
}

// AccountState is a copy of an account's risk state, for display and
// tests.
type AccountState struct {
	ID     string
	Credit bool
	// Killed reports the account's own kill switch or the global one.
	Killed bool
	// Cash is the cash available for new buys.
	Cash refdata.Price
	// Reserved is the cash held by working buys.
	Reserved refdata.Price
	// OpenOrders counts the working orders.
	OpenOrders int
	// Positions lists the non-empty positions by symbol.
	Positions []PositionState
}

// PositionState is one position of an AccountState.
type PositionState struct {
	Symbol string
	// Sellable is the shares a new sell may use: held since an earlier
	// day and not held by working sells.
	Sellable int64
	// Reserved is the shares held by working sells.
	Reserved int64
	// BoughtToday is the shares bought today, sellable from the next
	// trading day (T+1).
	BoughtToday int64
}

// Snapshot returns a copy of an account's state.
func (c *Checker) Snapshot(account string) (AccountState, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	a := c.accounts[account]
	if a == nil {
		return AccountState{}, fmt.Errorf("%w: %s", ErrUnknownAccount, account)
	}
	st := AccountState{
		ID: a.id, Credit: a.credit, Killed: a.killed || c.killAll,
		Cash: a.avail, Reserved: a.reserved, OpenOrders: a.open,
	}
	for i, p := range a.pos {
		if p.sellable == 0 && p.today == 0 && p.reserved == 0 {
			continue
		}
		st.Positions = append(st.Positions, PositionState{
			Symbol:      c.instr[i].Symbol,
			Sellable:    p.sellable - p.reserved,
			Reserved:    p.reserved,
			BoughtToday: p.today,
		})
	}
	slices.SortFunc(st.Positions, func(x, y PositionState) int { return cmp.Compare(x.Symbol, y.Symbol) })
	return st, nil
}

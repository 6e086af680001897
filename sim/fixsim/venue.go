package fixsim

import (
	"log/slog"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quickfixgo/quickfix"

	"sgw/refdata"
	"sgw/sim"
	"sgw/sim/match"
)

// OrdStatus (39) values the venue reports.
const (
	statusNew      = '0'
	statusPartial  = '1'
	statusFilled   = '2'
	statusCanceled = '4'
	statusRejected = '8'
)

// venue is the exchange side of the FIX sessions. It turns counterparties'
// order messages into matching-engine calls on the Sim, and the results
// and the Sim's feed into execution reports. It knows nothing of
// connections: outgoing messages go to its send function.
//
// Every method that touches order state runs with mu held; messages are
// sent with mu held too, so each session gets its reports in the order the
// engine produced them.
type venue struct {
	sim   exchange
	syms  *symbols
	log   *slog.Logger
	fix42 bool
	// send queues m on p's session. It is called with mu held and must not
	// call back into the venue.
	send func(p *party, m *quickfix.Message) error
	// parties by TargetCompID; the map is immutable after newVenue.
	parties map[string]*party

	// tailNext is the index of the next resting-order change (Sim.Changes)
	// the venue has not examined. It is written with mu held and read
	// without it by the poller, to skip taking mu when nothing changed.
	tailNext atomic.Uint64

	mu      sync.Mutex
	byRef   map[uint64]*order // resting orders of every party by engine reference
	seen    map[string]*[2]int
	hold    bool // true while the sessions are being replaced (Restart)
	pending []outMsg
	prefix  string // makes OrderIDs and ExecIDs unique across simulator runs
	lastOrd uint64
	lastExe uint64
}

// exchange is what the venue needs of the simulator (a *sim.Sim): order
// entry, and its log of resting-order changes. Cancels and replaces say
// where their own changes start in that log, so that the executions that
// raced them are booked first.
type exchange interface {
	Instruments() []refdata.Instrument
	ChangesNext() uint64
	Changes(from uint64) ([]sim.RestingChange, uint64)
	Submit(o match.Order) (match.Result, error)
	CancelAt(ref uint64) (match.CancelResult, uint64, error)
	Amend(ref uint64, price refdata.Price, open, qty int64) (match.Result, uint64, error)
}

var _ exchange = (*sim.Sim)(nil)

// party is one counterparty (one FIX session). Its orders map holds every
// ClOrdID the party used (originals and those of cancels and replaces) and
// is guarded by venue.mu; the other fields are immutable or atomic.
type party struct {
	name     string // TargetCompID, the engine's order Owner
	id       quickfix.SessionID
	orders   map[string]*order
	loggedOn atomic.Bool
}

// outMsg is a message held while the sessions are replaced.
type outMsg struct {
	p *party
	m *quickfix.Message
}

// order is the venue's view of one order of a party, across cancels and
// replaces. Guarded by venue.mu.
type order struct {
	p        *party
	id       string // OrderID (37), stable across replaces
	clOrdID  string // the latest ClOrdID
	account  string
	symbol   string // gateway symbol
	fixSym   string // Symbol (55) and SecurityExchange (207) as received
	exch     string
	side     match.Side
	tif      match.TimeInForce
	price    refdata.Price
	qty      int64 // OrderQty (38): total, filled shares included
	cum      int64
	notional int64 // sum of price*qty over fills, for AvgPx
	leaves   int64
	ref      uint64 // engine reference while resting, else 0
	status   byte
}

// done reports whether the order can no longer trade.
func (o *order) done() bool {
	return o.status == statusFilled || o.status == statusCanceled || o.status == statusRejected
}

// avgPx is the average fill price rounded half up to the price scale.
func (o *order) avgPx() refdata.Price {
	if o.cum == 0 {
		return 0
	}
	return refdata.Price((o.notional + o.cum/2) / o.cum)
}

func newVenue(s exchange, cfg Config, log *slog.Logger) *venue {
	v := &venue{
		sim:     s,
		syms:    newSymbols(s.Instruments()),
		log:     log,
		fix42:   cfg.BeginString == quickfix.BeginStringFIX42,
		parties: map[string]*party{},
		byRef:   map[uint64]*order{},
		seen:    map[string]*[2]int{},
		prefix:  strconv.FormatInt(time.Now().Unix(), 36),
	}
	for _, t := range cfg.TargetCompIDs {
		v.parties[t] = &party{
			name:   t,
			id:     quickfix.SessionID{BeginString: cfg.BeginString, SenderCompID: cfg.SenderCompID, TargetCompID: t},
			orders: map[string]*order{},
		}
	}
	v.tailNext.Store(s.ChangesNext())
	return v
}

// party returns the party of a session, or nil.
func (v *venue) party(id quickfix.SessionID) *party {
	p := v.parties[id.TargetCompID]
	if p == nil || p.id != id {
		return nil
	}
	return p
}

// out sends m to p, or holds it while the sessions are replaced. The
// caller holds mu.
func (v *venue) out(p *party, m *quickfix.Message) {
	if v.hold || len(v.pending) > 0 {
		v.pending = append(v.pending, outMsg{p, m})
		return
	}
	if err := v.send(p, m); err != nil {
		v.log.Error("fixsim: report lost", "session", p.name, "err", err)
	}
}

// holdSends makes out hold messages until releaseSends.
func (v *venue) holdSends() {
	v.mu.Lock()
	v.hold = true
	v.mu.Unlock()
}

// releaseSends sends the held messages in order and resumes sending.
func (v *venue) releaseSends() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.hold = false
	msgs := v.pending
	v.pending = nil
	for _, om := range msgs {
		v.out(om.p, om.m)
	}
}

// seenCounts returns how many NewOrderSingles with clOrdID arrived, fresh
// and as possible duplicates.
func (v *venue) seenCounts(clOrdID string) (fresh, possDup int) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if c := v.seen[clOrdID]; c != nil {
		return c[0], c[1]
	}
	return 0, 0
}

func (v *venue) count(clOrdID string, possDup bool) {
	c := v.seen[clOrdID]
	if c == nil {
		c = new([2]int)
		v.seen[clOrdID] = c
	}
	if possDup {
		c[1]++
	} else {
		c[0]++
	}
}

func (v *venue) nextOrderID() string {
	v.lastOrd++
	return v.prefix + "-" + strconv.FormatUint(v.lastOrd, 10)
}

func (v *venue) nextExecID() string {
	v.lastExe++
	return v.prefix + "-" + strconv.FormatUint(v.lastExe, 10)
}

// poll reports the executions and deletes of the parties' resting orders
// that the Sim logged since the last look: those caused by synthetic flow
// or by direct Sim calls, on either feed. It is cheap when nothing
// changed.
func (v *venue) poll() {
	if v.sim.ChangesNext() == v.tailNext.Load() {
		return
	}
	v.mu.Lock()
	v.drain()
	v.mu.Unlock()
}

// drain examines the resting-order changes logged since the last look and
// reports what happened to the parties' resting orders. Book changes made
// by the venue's own calls are skipped because the venue has already
// updated byRef when it drains: a cancelled or replaced reference is gone
// from it. Only executions and deletes are logged; a partial cancel or a
// replace made directly through the Sim is not reported. The caller holds
// mu.
func (v *venue) drain() { v.drainTo(math.MaxUint64) }

// drainTo is drain of the changes before index at only: those that came
// before a cancel or replace whose own changes start at at. The caller
// holds mu.
func (v *venue) drainTo(at uint64) {
	from := v.tailNext.Load()
	changes, next := v.sim.Changes(from)
	if at < next {
		at = max(at, from)
		changes, next = changes[:at-from], at
	}
	for _, c := range changes {
		o := v.byRef[c.Ref]
		if o == nil {
			continue
		}
		if c.Executed {
			v.fill(o, o.price, c.Qty, c.Match)
			if o.leaves == 0 {
				delete(v.byRef, o.ref)
				o.ref = 0
			}
			continue
		}
		delete(v.byRef, o.ref)
		o.ref, o.leaves, o.status = 0, 0, statusCanceled
		v.report(o, report{exec: '4', text: "canceled by the exchange"})
	}
	v.tailNext.Store(next)
}

// fill books one trade of o and reports it. The caller holds mu.
func (v *venue) fill(o *order, px refdata.Price, qty int64, matchNo uint64) {
	o.cum += qty
	o.notional += int64(px) * qty
	o.leaves -= qty
	if o.leaves <= 0 {
		o.leaves, o.status = 0, statusFilled
	} else {
		o.status = statusPartial
	}
	v.report(o, report{exec: 'F', lastPx: px, lastQty: qty, match: matchNo})
}

// entered books the result of an order entering the book (Submit, or a
// Replace that crossed): its trades as the aggressor, an IOC remainder and
// the resting remainder. The caller holds mu.
func (v *venue) entered(o *order, r match.Result) {
	o.ref = r.Ref
	if r.Ref != 0 {
		v.byRef[r.Ref] = o
	}
	for _, f := range r.Fills {
		v.fill(o, f.Price, f.Qty, f.Match)
	}
	if r.Expired > 0 {
		o.leaves, o.status = 0, statusCanceled
		v.report(o, report{exec: '4', text: "IOC remainder canceled"})
	}
	if r.Ref != 0 {
		o.leaves = r.Leaves
	}
}

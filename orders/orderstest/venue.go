package orderstest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
)

// Upstream is the name of the upstream the venue answers as: the manager
// must have its Line under this name (orders.Manager.AddUpstream).
const Upstream = "core"

// order is an order as the venue holds it, by its upstream ClOrdID; a
// replace is a new order, and the one it replaced names it.
type order struct {
	uid, orderID string
	price        refdata.Price
	qty, cum     int64
	status       byte // '0' '1' '2' '4' '8'
	replacedBy   string
}

func (o *order) working() bool { return o.status == '0' || o.status == '1' }

// Venue is the simulated venue behind a Line: it reads what the manager
// sends the line and answers through the manager's upstream callbacks
// (as upstream Upstream, instrument 600519.SH, buys): it acknowledges or
// rejects new orders, fills working ones in part or whole, cancels them on
// its own (SelfCancel), takes or refuses cancels and replaces, answers
// status requests, and its line is cut and restored. Its random choices
// come from the rng it is given, and from it only.
//
// Only one goroutine, the test's, may use a Venue.
type Venue struct {
	// SelfCancel lets Act cancel a working order on its own (one time in
	// eight it picks one) instead of filling it.
	SelfCancel bool
	// Busts lets Act cancel or correct one of its fills (one time in six
	// it picks one), of an order working or filled: FIX 4.4 ExecType H
	// or G, or FIX 4.2 ExecTransType 1 or 2 (ExecType D), naming the
	// fill by its ExecID or by its last cancel's or correction's. A
	// correction may be to no quantity, or reinstate a canceled fill.
	Busts bool

	t     testing.TB
	m     *orders.Manager
	line  *Line
	rng   *rand.Rand
	read  int   // requests of line read
	queue []any // requests read, not yet answered
	// orders holds every order the venue took, by upstream ClOrdID.
	orders map[string]*order
	// newSeen counts the NewOrders of each upstream ClOrdID taken (not
	// the resends of one it has).
	newSeen map[string]int
	// cancels holds the ClOrdIDs of the cancels of each upstream ClOrdID.
	cancels map[string][]string
	execs   int
	fills   []Fill // every fill made, in order
	down    bool
}

// Fill is one fill the venue made (ExecType F): its ExecID is V<N>;
// OrderID is the order's (kept across replaces); Last and CumQty are its
// LastQty and CumQty. Qty is its quantity now: Last, or as the venue's
// last cancel (none) or correction of it (Venue.Busts) left it, whose
// ExecID Amended is ("" if none).
type Fill struct {
	N            int
	OrderID      string
	Last, CumQty int64
	Qty          int64
	Px           refdata.Price
	Amended      string
}

// NewVenue returns a venue, its line up, answering m, whose upstream
// Upstream is line, drawing its choices from rng.
func NewVenue(t testing.TB, m *orders.Manager, line *Line, rng *rand.Rand) *Venue {
	return &Venue{t: t, m: m, line: line, rng: rng, orders: map[string]*order{}, newSeen: map[string]int{}, cancels: map[string][]string{}}
}

// Attach has the venue answer m, a manager restarted on its journal, whose
// upstream is line, a new one: the venue keeps its orders and the
// requests it read and has not answered yet (Pull them from the old line
// first), and reads line from its start.
func (v *Venue) Attach(m *orders.Manager, line *Line) {
	v.m, v.line, v.read = m, line, 0
}

// Pull reads what the line was sent since the last Pull into the venue's
// queue of requests to answer.
func (v *Venue) Pull() { v.pull() }

// pull is Pull; it returns a channel closed at the line's next request.
func (v *Venue) pull() <-chan struct{} {
	reqs, n, ch := v.line.from(v.read)
	v.queue, v.read = append(v.queue, reqs...), n
	return ch
}

// Down reports whether the venue's line is cut.
func (v *Venue) Down() bool { return v.down }

// Orders counts the orders the venue took (NewOrders, not replaces).
func (v *Venue) Orders() int { return len(v.newSeen) }

// Execs counts the execution reports the venue sent.
func (v *Venue) Execs() int { return v.execs }

// Fills returns the venue's executions, in the order it made them.
func (v *Venue) Fills() []Fill { return v.fills }

// Cancels returns the ClOrdIDs of the cancels the venue got of the order
// whose upstream ClOrdID is uid, taken or refused.
func (v *Venue) Cancels(uid string) []string { return v.cancels[uid] }

func (v *Venue) execID() string { v.execs++; return fmt.Sprintf("V%d", v.execs) }

// Act does one thing a venue does, unless its line is cut: answer its
// oldest request, fill a working order, or (SelfCancel) cancel one on its
// own.
func (v *Venue) Act() {
	if v.down {
		return
	}
	v.Pull()
	if len(v.queue) > 0 && v.rng.IntN(3) > 0 {
		v.answer()
		return
	}
	var working []*order
	for _, o := range v.orders {
		if o.working() && o.replacedBy == "" {
			working = append(working, o)
		}
	}
	if len(working) == 0 {
		return
	}
	slices.SortFunc(working, func(a, b *order) int { return strings.Compare(a.uid, b.uid) })
	if v.Busts && len(v.fills) > 0 && v.rng.IntN(6) == 0 {
		v.bust()
		return
	}
	o := working[v.rng.IntN(len(working))]
	if v.SelfCancel && v.rng.IntN(8) == 0 {
		o.status = '4' // the venue ends it (a cancel of its own)
		v.report(o, '4', o.uid, "")
		return
	}
	last := o.qty - o.cum
	if last > 100 && v.rng.IntN(2) == 0 {
		last = 100 * (1 + v.rng.Int64N(last/100-1))
	}
	o.cum += last
	o.status = '1'
	if o.cum == o.qty {
		o.status = '2'
	}
	execID := v.execID()
	v.fills = append(v.fills, Fill{N: v.execs, OrderID: o.orderID, Last: last, CumQty: o.cum, Qty: last, Px: o.price})
	v.m.OnExecReport(Upstream, fix.ExecReport{ClOrdID: o.uid, OrderID: o.orderID, ExecID: execID, ExecType: 'F', OrdStatus: o.status,
		Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty, LastQty: last, LastPx: o.price,
		CumQty: o.cum, LeavesQty: o.qty - o.cum, AvgPx: o.price})
}

// bust cancels or corrects a fill (Busts) of an order whose current
// terms work or are filled, and reports it.
func (v *Venue) bust() {
	f := &v.fills[v.rng.IntN(len(v.fills))]
	var o *order
	for _, c := range v.orders {
		if c.orderID == f.OrderID && c.replacedBy == "" {
			o = c
		}
	}
	if o == nil || o.status != '0' && o.status != '1' && o.status != '2' {
		return
	}
	ref := fmt.Sprintf("V%d", f.N)
	if f.Amended != "" && v.rng.IntN(2) == 0 {
		ref = f.Amended
	}
	kind, qty, px := byte('H'), int64(0), f.Px
	if v.rng.IntN(2) == 0 {
		kind = 'G'
		qty = 100 * v.rng.Int64N(min(f.Last, o.qty-o.cum+f.Qty)/100+1)
		if v.rng.IntN(2) == 0 {
			px += refdata.PriceScale / 100
		}
	}
	o.cum += qty - f.Qty
	switch {
	case o.cum >= o.qty:
		o.status = '2'
	case o.cum == 0:
		o.status = '0'
	default:
		o.status = '1'
	}
	er := fix.ExecReport{ClOrdID: o.uid, OrderID: o.orderID, ExecID: v.execID(), ExecRefID: ref, ExecType: kind, OrdStatus: o.status,
		Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty, LastQty: qty, LastPx: px,
		CumQty: o.cum, LeavesQty: o.qty - o.cum, AvgPx: o.price}
	if kind == 'H' {
		er.LastQty, er.LastPx = f.Qty, f.Px
	}
	if v.rng.IntN(2) == 0 {
		er.ExecType, er.ExecTransType = 'D', '1'
		if kind == 'G' {
			er.ExecTransType = '2'
		}
	}
	f.Qty, f.Amended = qty, er.ExecID
	if qty > 0 {
		f.Px = px
	}
	v.m.OnExecReport(Upstream, er)
}

// current follows replaces to an order's current terms.
func (v *Venue) current(uid string) *order {
	o := v.orders[uid]
	for o != nil && o.replacedBy != "" {
		o = v.orders[o.replacedBy]
	}
	return o
}

func (v *Venue) report(o *order, execType byte, clOrdID, orig string) {
	leaves := o.qty - o.cum
	if !o.working() {
		leaves = 0
	}
	v.m.OnExecReport(Upstream, fix.ExecReport{ClOrdID: clOrdID, OrigClOrdID: orig, OrderID: o.orderID, ExecID: v.execID(),
		ExecType: execType, OrdStatus: o.status, Symbol: "600519.SH", Side: fix.Buy, Price: o.price, OrderQty: o.qty,
		CumQty: o.cum, LeavesQty: leaves, AvgPx: o.price})
}

// answer answers the oldest request.
func (v *Venue) answer() {
	req := v.queue[0]
	v.queue = v.queue[1:]
	switch r := req.(type) {
	case fix.NewOrder:
		if o := v.orders[r.ClOrdID]; o != nil {
			if !r.PossResend {
				v.t.Errorf("the venue got order %s again, not flagged PossResend", r.ClOrdID)
			}
			v.report(o, 'I', r.ClOrdID, "") // a resend of an order it has
			return
		}
		v.newSeen[r.ClOrdID]++
		o := &order{uid: r.ClOrdID, price: r.Price, qty: r.Qty, status: '0', orderID: "VO-" + r.ClOrdID}
		v.orders[r.ClOrdID] = o
		if v.rng.IntN(6) == 0 {
			o.status = '8'
			v.report(o, '8', r.ClOrdID, "")
			return
		}
		v.report(o, '0', r.ClOrdID, "")
	case fix.CancelRequest:
		v.cancels[r.OrigClOrdID] = append(v.cancels[r.OrigClOrdID], r.ClOrdID)
		o := v.current(r.OrigClOrdID)
		if o == nil || !o.working() || o.uid != r.OrigClOrdID || v.rng.IntN(5) == 0 {
			v.refuse(r.ClOrdID, r.OrigClOrdID, o, '1')
			return
		}
		o.status = '4'
		v.report(o, '4', r.ClOrdID, r.OrigClOrdID)
	case fix.ReplaceRequest:
		o := v.current(r.OrigClOrdID)
		if o == nil || !o.working() || o.uid != r.OrigClOrdID || r.Qty <= o.cum || v.rng.IntN(4) == 0 {
			v.refuse(r.ClOrdID, r.OrigClOrdID, o, '2')
			return
		}
		n := &order{uid: r.ClOrdID, price: r.Price, qty: r.Qty, cum: o.cum, status: '0', orderID: o.orderID}
		if n.cum > 0 {
			n.status = '1'
		}
		o.replacedBy = r.ClOrdID
		v.orders[r.ClOrdID] = n
		v.report(n, '5', r.ClOrdID, r.OrigClOrdID)
	case fix.StatusRequest:
		o := v.current(r.ClOrdID)
		if o == nil {
			v.m.OnExecReport(Upstream, fix.ExecReport{ClOrdID: r.ClOrdID, OrderID: "NONE", ExecID: v.execID(), ExecType: 'I',
				OrdStatus: '8', OrdRejReason: 5, Symbol: "600519.SH", Side: fix.Buy, Text: "unknown order"})
			return
		}
		v.report(o, 'I', o.uid, "")
	default:
		v.t.Fatalf("venue got %T", req)
	}
}

func (v *Venue) refuse(clOrdID, orig string, o *order, to byte) {
	id := ""
	if o != nil {
		id = o.orderID
	}
	v.m.OnCancelReject(Upstream, fix.CancelReject{ClOrdID: clOrdID, OrigClOrdID: orig, OrderID: id, Text: "venue refuses", ResponseTo: to})
}

// LineCut cuts the venue's line (the manager's session goes down), unless
// it is cut.
func (v *Venue) LineCut() {
	if v.down {
		return
	}
	v.down = true
	v.m.OnSessionDown(Upstream, "line", errors.New("cut"), nil)
}

// LineUp restores the venue's line (the manager's session comes up),
// unless it is up.
func (v *Venue) LineUp() {
	if !v.down {
		return
	}
	v.down = false
	v.m.OnSessionUp(Upstream, "line")
}

// Settle answers the venue's requests until none of the orders held
// returns (the orders to wait for, as the manager has them now) awaits
// an answer: pending new, with a request pending, or in a status the
// venue does not give. It fails the test if that does not happen within
// the given time. The line must be up.
func (v *Venue) Settle(within time.Duration, held func() []orders.Order) {
	v.t.Helper()
	deadline := time.After(within)
	for {
		ch := v.pull()
		for len(v.queue) > 0 {
			v.answer()
			v.pull()
		}
		var busy []string
		for _, o := range held() {
			if o.Status == orders.StatusPendingNew || o.Pending() != 0 || !o.Status.Terminal() && o.Status != orders.StatusNew && o.Status != orders.StatusPartiallyFilled {
				busy = append(busy, fmt.Sprintf("%s %s pending %q", o.ClOrdID, o.Status, o.Pending()))
			}
		}
		if len(busy) == 0 {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			v.t.Fatalf("orders never settled: %q", busy)
		}
	}
}

// VenueStatus is an order's status as the venue's OrdStatus; '?' for a
// status the venue never gives.
func VenueStatus(s orders.Status) byte {
	switch s {
	case orders.StatusNew:
		return '0'
	case orders.StatusPartiallyFilled:
		return '1'
	case orders.StatusFilled:
		return '2'
	case orders.StatusCanceled:
		return '4'
	case orders.StatusRejected:
		return '8'
	}
	return '?'
}

// Check checks the venue against the manager, whose orders are held
// (every order it holds, settled): each reached the venue exactly once,
// under its current upstream ClOrdID, and the venue agrees with its
// status and filled quantity; the venue took no other order.
func (v *Venue) Check(held []orders.Order) {
	t := v.t
	t.Helper()
	for uid, n := range v.newSeen {
		if n != 1 {
			t.Errorf("the venue got order %s %d times", uid, n)
		}
	}
	for _, o := range held {
		vo := v.orders[o.UpstreamID]
		if vo == nil {
			t.Errorf("order %s (upstream id %s) never reached the venue", o.ClOrdID, o.UpstreamID)
			continue
		}
		if vo.replacedBy != "" {
			t.Errorf("order %s: the gateway has terms %s, the venue replaced them by %s", o.ClOrdID, o.UpstreamID, vo.replacedBy)
		}
		if vo.working() != !o.Status.Terminal() || vo.cum != o.CumQty || vo.status != VenueStatus(o.Status) {
			t.Errorf("order %s: venue %c cum %d, gateway %s cum %d", o.ClOrdID, vo.status, vo.cum, o.Status, o.CumQty)
		}
	}
	if len(held) != len(v.newSeen) {
		t.Errorf("the venue got %d orders; the gateway holds %d", len(v.newSeen), len(held))
	}
}

package loadtest

import (
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"sgw/refdata"
)

// Final outcomes of an order, as the integrity check counts them.
const (
	outcomeFilled           = "filled"
	outcomeCanceled         = "canceled"
	outcomeExpired          = "expired"
	outcomeRejectedUpstream = "rejected_upstream" // an execution report: rejected
	outcomeRejectedGateway  = "rejected_gateway"  // an error reply: risk or order entry refused it
)

// orderKind is what an order of the orders scenario is meant to do.
type orderKind int

// The kinds, in the order each session cycles through them on a symbol:
// the marketable ones trade at once, the resting ones rest until the
// session cancels them.
const (
	marketableBuy orderKind = iota
	restingBuy
	marketableSell
	restingSell
	orderKinds
)

func (k orderKind) buy() bool { return k == marketableBuy || k == restingBuy }

// trackedOrder is the tester's record of one order it sent. Its tracker's
// mutex guards the fields below intended.
type trackedOrder struct {
	id, account, symbol string
	kind                orderKind
	sell                bool
	price               refdata.Price
	qty                 int64
	intended            time.Time // its place in the schedule
	measured            bool      // intended within the measurement window

	sent     time.Time
	acked    bool
	execSeen bool
	outcome  string // "" while working
	cumQty   int64
	cancelID string    // the latest cancel sent
	cancelAt time.Time // when it was sent; zero when none is pending
	cancelOK bool      // the gateway accepted the latest cancel
	cancels  int
	// lost is an order the gateway never heard of: not accepted, and a
	// cancel of it was refused as unknown. It is not cancelled again.
	lost bool
	// execIDs are the ExecIDs of the trades reported, to know a trade
	// resent (PossResend) after a restart or a takeover; nil until one.
	execIDs map[string]bool
}

// orderStats are the counters the orders scenario's sessions share.
type orderStats struct {
	sent, sendErrs, acks, execs, fills atomic.Int64
	cancelsSent, cancelAcks            atomic.Int64
	restatements                       atomic.Int64 // status reports repeating a final outcome, trades resent
	readErrs                           atomic.Int64 // sessions whose connection ended early
	violations                         atomic.Int64
	maxLag                             atomic.Int64 // ns a send was behind its schedule, at most

	mu            sync.Mutex
	rejects       map[string]int64 // new orders refused by an error reply, by code
	cancelRejects map[string]int64 // cancels refused, by code (cancel_reject: by the upstream)
	unattributed  map[string]int64 // error replies naming no request of ours, by code
	kinds         map[string]int64 // violations by kind
	firstIssue    string
}

func newOrderStats() *orderStats {
	return &orderStats{rejects: map[string]int64{}, cancelRejects: map[string]int64{}, unattributed: map[string]int64{}, kinds: map[string]int64{}}
}

// violation counts an integrity violation of kind.
func (s *orderStats) violation(kind, format string, args ...any) {
	s.violations.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.kinds[kind]++
	if s.firstIssue == "" {
		s.firstIssue = kind + ": " + fmt.Sprintf(format, args...)
	}
}

func (s *orderStats) count(m map[string]int64, code string) {
	if code == "" {
		code = "unknown"
	}
	s.mu.Lock()
	m[code]++
	s.mu.Unlock()
}

func (s *orderStats) lag(d time.Duration) {
	for {
		cur := s.maxLag.Load()
		if int64(d) <= cur || s.maxLag.CompareAndSwap(cur, int64(d)) {
			return
		}
	}
}

// orderTracker follows the orders of one session from send to final
// outcome and checks that each has exactly one. The session's sender adds
// orders and reads what is due for a cancel; its reader reports events.
// Safe for concurrent use.
type orderTracker struct {
	shard          int // recorder shard
	stats          *orderStats
	ack, firstExec *Recorder

	mu      sync.Mutex
	orders  map[string]*trackedOrder // by ClOrdID
	cancels map[string]*trackedOrder // by the ClOrdID of a cancel
	// The orders that may become due for a cancel (due), each list in
	// the order its entries become due; an entry whose order has since
	// settled, or moved to another list, is dropped when due reaches it.
	fresh  []*trackedOrder // sent, no cancel yet: in send order
	retry  []cancelEntry   // a cancel sent (at): in the order sent
	again  []*trackedOrder // the upstream refused the latest cancel: due now
	noSell map[string]bool // symbols whose sells risk refused for want of shares
}

func newOrderTracker(shard int, stats *orderStats, ack, firstExec *Recorder) *orderTracker {
	return &orderTracker{shard: shard, stats: stats, ack: ack, firstExec: firstExec,
		orders: map[string]*trackedOrder{}, cancels: map[string]*trackedOrder{}, noSell: map[string]bool{}}
}

// sellBlocked reports whether risk refused a sell of symbol for want of
// shares: the session sells only within the account's position.
func (t *orderTracker) sellBlocked(symbol string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.noSell[symbol]
}

// add records an order about to be sent.
func (t *orderTracker) add(o *trackedOrder) {
	t.mu.Lock()
	t.orders[o.id] = o
	t.fresh = append(t.fresh, o)
	t.mu.Unlock()
}

// sendFailed forgets an order that could not be sent.
func (t *orderTracker) sendFailed(o *trackedOrder) {
	t.mu.Lock()
	delete(t.orders, o.id)
	o.outcome = "unsent"
	t.mu.Unlock()
	t.stats.sendErrs.Add(1)
}

// cancelling records a cancel about to be sent for o.
func (t *orderTracker) cancelling(o *trackedOrder, id string, now time.Time) {
	t.mu.Lock()
	o.cancelID, o.cancelAt, o.cancelOK = id, now, false
	o.cancels++
	t.cancels[id] = o
	t.retry = append(t.retry, cancelEntry{o: o, at: now})
	t.mu.Unlock()
	t.stats.cancelsSent.Add(1)
}

// cancelRetry is how long a cancel may go unanswered (neither accepted
// nor refused: a rate-limited request) before it is sent again.
const cancelRetry = time.Second

// cancelEntry is a cancel of o sent at at; it is current while o's
// cancelAt is still at.
type cancelEntry struct {
	o  *trackedOrder
	at time.Time
}

// settled reports whether o needs no more cancels: it has an outcome, or
// the gateway never heard of it. t.mu held.
func (o *trackedOrder) settled() bool { return o.outcome != "" || o.lost }

// due returns the working orders sent at least age ago with no cancel
// pending (a cancel is pending until answered, and one left unanswered
// is sent again after cancelRetry). It reads each list only as far as
// its entries are due, so a sweep costs what it returns plus what settled
// since the last one, not every order working.
func (t *orderTracker) due(now time.Time, age time.Duration) []*trackedOrder {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []*trackedOrder
	for len(t.fresh) > 0 {
		o := t.fresh[0]
		if !o.settled() && o.cancelAt.IsZero() {
			if now.Sub(o.sent) < age {
				break
			}
			out = append(out, o)
		}
		t.fresh[0] = nil
		t.fresh = t.fresh[1:]
	}
	keep := t.again[:0]
	for _, o := range t.again {
		switch {
		case o.settled() || !o.cancelAt.IsZero():
		case now.Sub(o.sent) >= age:
			out = append(out, o)
		default:
			keep = append(keep, o)
		}
	}
	clear(t.again[len(keep):])
	t.again = keep
	for len(t.retry) > 0 {
		e := t.retry[0]
		o := e.o
		if !o.settled() && !o.cancelOK && o.cancelAt.Equal(e.at) {
			if now.Sub(e.at) < cancelRetry {
				break
			}
			out = append(out, o)
		}
		t.retry[0] = cancelEntry{}
		t.retry = t.retry[1:]
	}
	return out
}

// working counts the orders without an outcome.
func (t *orderTracker) working() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, o := range t.orders {
		if !o.settled() {
			n++
		}
	}
	return n
}

// accepted handles the gateway's acknowledgement of the request ref for
// the order clOrdID: the order itself, or a cancel of it.
func (t *orderTracker) accepted(ref, clOrdID string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ref != clOrdID {
		o := t.cancels[ref]
		if o == nil {
			t.stats.violation("unknown_request", "accepted for a request %s the tester never sent", ref)
			return
		}
		if o.cancelID == ref {
			o.cancelOK = true
		}
		t.stats.cancelAcks.Add(1)
		return
	}
	o := t.orders[clOrdID]
	switch {
	case o == nil:
		t.stats.violation("unknown_order", "accepted for an order %s the tester never sent", clOrdID)
		return
	case o.acked:
		t.stats.violation("duplicate_ack", "order %s accepted twice", o.id)
		return
	case o.outcome == outcomeRejectedGateway:
		t.stats.violation("ack_after_reject", "order %s accepted after an error reply", o.id)
		return
	}
	o.acked = true
	t.stats.acks.Add(1)
	if o.measured {
		t.ack.Record(t.shard, latency(o.intended, now))
	}
}

// exec handles an execution report for the order clOrdID. execID is a
// trade's ExecID ("" when unknown); possResend marks a report a FIX
// broker session resent (PossResend, 97=Y): a trade resent under an
// ExecID the tester has is booked once, as a broker books it (by its
// ExecID, ignoring a PossResend one it has: docs/PROTOCOL.md, "After a
// restart or a takeover"), and counted as a restatement.
func (t *orderTracker) exec(clOrdID, execType, status, execID string, possResend bool, cumQty int64, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.orders[clOrdID]
	if o == nil {
		t.stats.violation("unknown_order", "execution report for an order %s the tester never sent", clOrdID)
		return
	}
	if execType == "trade" && execID != "" {
		if possResend && o.execIDs[execID] {
			t.stats.restatements.Add(1)
			return
		}
		if o.execIDs == nil {
			o.execIDs = map[string]bool{}
		}
		o.execIDs[execID] = true
	}
	t.stats.execs.Add(1)
	if !o.acked {
		t.stats.violation("exec_before_ack", "order %s: execution report (%s) before the gateway's accepted", o.id, execType)
	}
	if !o.execSeen {
		o.execSeen = true
		if o.measured {
			t.firstExec.Record(t.shard, latency(o.intended, now))
		}
	}
	if execType == "trade" {
		t.stats.fills.Add(1)
	}
	if cumQty > o.qty || cumQty < o.cumQty {
		t.stats.violation("bad_cum_qty", "order %s: cumQty %d after %d, order qty %d", o.id, cumQty, o.cumQty, o.qty)
	}
	o.cumQty = max(o.cumQty, cumQty)
	var final string
	switch status {
	case "filled":
		final = outcomeFilled
	case "canceled":
		final = outcomeCanceled
	case "expired":
		final = outcomeExpired
	case "rejected":
		final = outcomeRejectedUpstream
	default:
		if o.outcome != "" && execType != "status" {
			t.stats.violation("exec_after_outcome", "order %s: %s report (status %s) after its outcome %s", o.id, execType, status, o.outcome)
		}
		return
	}
	switch {
	case o.outcome == "":
		o.outcome = final
		if final == outcomeFilled && cumQty != o.qty {
			t.stats.violation("bad_cum_qty", "order %s filled with cumQty %d of %d", o.id, cumQty, o.qty)
		}
	case execType == "status" && o.outcome == final:
		// A status report after a failover restating the outcome.
		t.stats.restatements.Add(1)
	default:
		t.stats.violation("duplicate_outcome", "order %s: a second final report (%s, %s) after %s", o.id, execType, status, o.outcome)
	}
}

// reject handles an error reply naming the request key (its ref or id).
func (t *orderTracker) reject(key, code string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if o := t.orders[key]; o != nil {
		if o.acked || o.outcome != "" {
			t.stats.violation("reject_after_ack", "order %s: error %s after it was accepted", o.id, code)
			return
		}
		o.outcome = outcomeRejectedGateway
		t.stats.count(t.stats.rejects, code)
		if o.sell && code == "risk.position" {
			t.noSell[o.symbol] = true
		}
		return
	}
	if o := t.cancels[key]; o != nil {
		t.stats.count(t.stats.cancelRejects, code)
		switch {
		case !o.acked && o.outcome == "" && (code == "orders.unknown_order" || code == "risk.unknown_order"):
			o.lost = true
		case o.cancelID == key:
			// Refused (a request of the order still pending, say): the
			// sweep tries again once cancelRetry has passed, not at once,
			// so a slow gateway is not flooded with cancels it must refuse.
			o.cancelAt, o.cancelOK = time.Now(), false
			t.retry = append(t.retry, cancelEntry{o: o, at: o.cancelAt})
		}
		return
	}
	t.stats.count(t.stats.unattributed, code)
}

// cancelRejected handles the upstream's refusal of the cancel ref.
func (t *orderTracker) cancelRejected(ref string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.cancels[ref]
	if o == nil {
		t.stats.violation("unknown_request", "cancel reject for a request %s the tester never sent", ref)
		return
	}
	t.stats.count(t.stats.cancelRejects, "cancel_reject")
	if o.cancelID == ref {
		o.cancelAt = time.Time{}
		t.again = append(t.again, o)
	}
}

// recordOutstanding records the measured orders still waiting when the
// tester stopped listening at at: one without the gateway's accepted (nor
// an error reply) in order_ack, one without an execution report (nor an
// error reply) in order_first_exec, each at its age then, a lower bound
// of its latency. Left out, the slowest orders of a run whose gateway or
// venue fell behind were cut off the tail, and the percentiles described
// only the orders that made it. Call once the session's reader has
// stopped, so that no order is recorded twice. It returns how many orders
// it recorded in each.
func (t *orderTracker) recordOutstanding(at time.Time) (acks, execs int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.orders {
		if !o.measured || o.outcome != "" {
			continue // answered for good (an error reply, or a final report: execSeen)
		}
		if !o.acked {
			t.ack.Record(t.shard, latency(o.intended, at))
			acks++
		}
		if !o.execSeen {
			t.firstExec.Record(t.shard, latency(o.intended, at))
			execs++
		}
	}
	return acks, execs
}

// tally adds the final state of every order to out: outcomes by kind,
// "working" (accepted, no outcome) and "unanswered" (neither accepted
// nor refused).
func (t *orderTracker) tally(out map[string]int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.orders {
		switch {
		case o.outcome != "":
			out[o.outcome]++
		case o.acked:
			out["working"]++
		default:
			out["unanswered"]++
		}
	}
}

package orders

import "time"

// await is a request handed to the session, waiting for its answer: a new
// order, cancel or replace (kind recNew, recCancel, recReplace; keyed by
// its upstream id), or a status request (kind 'H'; keyed by its order).
type await struct {
	o     *Order
	kind  byte
	uid   string
	since time.Time
	// upAt is the route's up time (awaits.clock) at since.
	upAt time.Duration
	// heldSince is when the request was first held (held.since), zero
	// if it never was: a reclaim holds it again from then.
	heldSince time.Time
	// asked is set once the order's status was requested for it.
	asked bool
	// sent is set for a request handed over in this run (not one found
	// open by recovery): its answer times the upstream's acknowledgement.
	sent bool
	// ticket is the session's Upstream.Queued count read just after the
	// request was handed over (for a request already asked about, after
	// its status request was): it has left the session's own queue once
	// Upstream.Left reaches ticket. Zero for an order found open by
	// recovery.
	ticket uint64
	// done is set when it was answered or ended: the queue drops it when
	// it reaches the front.
	done bool
}

// awaits is a route's requests awaiting answers: by upstream id, by order
// for status requests, and in two queues, one per time limit (acks: new
// orders, cancels and replaces, Config.AckTimeout; statuses: status
// requests, Config.StatusTimeout), each in the order its requests were
// handed over (or last asked about), so that the timer looks only at the
// oldest of each. Within a queue the limit is one and the times grow
// (push), so the deadlines do too: when its oldest request is not
// overdue, none is. One queue for both would not do: a status request
// at its front, of a longer limit, would hide the earlier deadline of a
// cancel behind it.
//
// A request is overdue only once the venue has had it to answer. When the
// venue is slower than the flow of orders, requests wait in the session's
// own queue, then in the sockets and in the venue's input, for seconds; a
// status request about one of them would only queue behind it, adding to
// the backlog that delayed it (under load this fed on itself: thousands
// of status requests a second). So a request whose time has run out is
// asked about only once it has left the session's queue (its ticket) and
// the venue has either answered a request handed over after it (so it
// read past it: reached) or answered nothing for the time limit (it is
// stalled, not busy). Tickets grow along each queue too.
//
// The time limits count only the time the session was logged on (the
// route's up time, clock): answers cannot come while it is down. They
// count it across drops: a session that logs on and drops again sooner
// than the limit, every time, does not keep a request from ever being
// overdue. The Manager's mu guards it.
type awaits struct {
	byUID    map[string]*await
	byStatus map[*Order]*await
	acks     awaitQueue // new orders, cancels, replaces: Config.AckTimeout
	statuses awaitQueue // status requests: Config.StatusTimeout
	// reached is the highest ticket among the requests the venue
	// answered, heard when it last answered one (heard).
	reached uint64
	heard   time.Duration // the up time (clock) when the venue last answered
	// upFor is the up time of the session's earlier logons; upSince is
	// when it last logged on, and up whether it still is (logon,
	// logoff).
	upFor   time.Duration
	upSince time.Time
	up      bool
}

// awaitQueue is the requests of one time limit, oldest first; entries
// marked done are skipped.
type awaitQueue []*await

// push appends a. Requests are pushed in the order they take the
// Manager's mu, so their times (upAt) grow along the queue, but for a
// now read a little before taking it (Run's tick): a request behind one
// of a slightly later time waits at most that little longer.
func (q *awaitQueue) push(a *await) { *q = append(*q, a) }

// front returns the oldest request not done, dropping the done ones
// before it; nil when there is none.
func (q *awaitQueue) front() *await {
	for len(*q) > 0 {
		if a := (*q)[0]; !a.done {
			return a
		}
		q.pop()
	}
	return nil
}

// pop drops the oldest request.
func (q *awaitQueue) pop() {
	(*q)[0] = nil
	*q = (*q)[1:]
}

func newAwaits() awaits {
	return awaits{byUID: map[string]*await{}, byStatus: map[*Order]*await{}}
}

// logon records that the session logged on at now.
func (w *awaits) logon(now time.Time) {
	if !w.up {
		w.up, w.upSince = true, now
	}
}

// logoff records that the session went down at now.
func (w *awaits) logoff(now time.Time) {
	if w.up {
		w.upFor += max(0, now.Sub(w.upSince))
		w.up = false
	}
}

// clock returns the route's up time at now: how long its session has been
// logged on in all, up to now.
func (w *awaits) clock(now time.Time) time.Duration {
	if !w.up {
		return w.upFor
	}
	return w.upFor + max(0, now.Sub(w.upSince))
}

// queue returns the queue of a's time limit.
func (w *awaits) queue(a *await) *awaitQueue {
	if a.kind == 'H' {
		return &w.statuses
	}
	return &w.acks
}

// add records a request handed over at since.
func (w *awaits) add(a *await) {
	a.upAt = w.clock(a.since)
	if a.kind == 'H' {
		if old := w.byStatus[a.o]; old != nil {
			old.done = true
		}
		w.byStatus[a.o] = a
	} else {
		if old := w.byUID[a.uid]; old != nil {
			old.done = true
		}
		w.byUID[a.uid] = a
	}
	w.queue(a).push(a)
}

// again puts a back at the end of its queue, waiting from now.
func (w *awaits) again(a *await, now time.Time) {
	a.since, a.upAt = now, w.clock(now)
	w.queue(a).push(a)
}

// heardFrom records the venue's answer, at now, to a (answered or
// statusAnswered returned it).
func (w *awaits) heardFrom(a *await, now time.Time) {
	w.reached = max(w.reached, a.ticket)
	w.heard = w.clock(now)
}

// answered ends the request with upstream id uid and returns it; nil when
// it was not awaited.
func (w *awaits) answered(uid string) *await {
	a := w.byUID[uid]
	if a == nil {
		return nil
	}
	a.done = true
	delete(w.byUID, uid)
	return a
}

// statusAnswered ends the status request for o and returns it; nil when
// none was awaited.
func (w *awaits) statusAnswered(o *Order) *await {
	a := w.byStatus[o]
	if a == nil {
		return nil
	}
	a.done = true
	delete(w.byStatus, o)
	return a
}

// len returns how many requests await an answer.
func (w *awaits) len() int { return len(w.byUID) + len(w.byStatus) }

// expired pops and returns the overdue request whose deadline came
// first: one not done that has waited longer than its limit (ack for
// requests, status for status requests) in up time (clock) since its
// since, and that the venue has had to answer (see awaits; left is the
// session's Upstream.Left). It returns nil when neither queue's oldest
// is overdue.
func (w *awaits) expired(now time.Time, ack, status time.Duration, left uint64) *await {
	up := w.clock(now)
	a, s := w.overdue(&w.acks, up, ack, left), w.overdue(&w.statuses, up, status, left)
	if s != nil && (a == nil || s.upAt+status < a.upAt+ack) {
		w.statuses.pop()
		return s
	}
	if a != nil {
		w.acks.pop()
	}
	return a
}

// overdue returns q's oldest request if it is overdue at up time up, of
// time limit limit (see expired), without taking it off q.
func (w *awaits) overdue(q *awaitQueue, up, limit time.Duration, left uint64) *await {
	a := q.front()
	switch {
	case a == nil || up-a.upAt <= limit:
		return nil
	case a.ticket > left:
		return nil // still in the session's queue
	case a.ticket > w.reached && up-w.heard <= limit:
		return nil // the venue is answering what was sent before it
	}
	return a
}

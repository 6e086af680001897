package system

import (
	"sync"

	"sgw/orders"
	"sgw/risk"
)

// leaderEntry is order entry on a cluster node: the order manager of the
// current leadership term, or, while this node does not lead, a refusal
// naming the leader (orders.not_leader). The WebSocket server and the
// broker acceptor are built once and hold it; terms come and go beneath.
//
// It remembers every client's registration (Register, Watch) and makes it
// again on each new term's manager, so a client connected to this node
// keeps hearing its orders' events after the node becomes leader again.
// Stats add up every term's counters.
//
// Methods may be called from any goroutine. Lock order: leaderEntry.mu,
// then the manager's (set registers with the new manager under mu; the
// manager never calls back into leaderEntry). Request methods take the
// manager under mu and call it after releasing mu.
type leaderEntry struct {
	// leader names the current leader for the refusal's text.
	leader func() string

	mu      sync.Mutex
	cur     *orders.Manager
	regs    map[orders.Source]orders.Sink
	watches map[string]map[orders.Sink]struct{}
	base    orders.Stats // the counters of ended terms
}

func newLeaderEntry(leader func() string) *leaderEntry {
	return &leaderEntry{leader: leader, regs: map[orders.Source]orders.Sink{},
		watches: map[string]map[orders.Sink]struct{}{},
		base:    orders.NewStats()}
}

// set makes m the current term's manager (nil: none, this node does not
// lead) and registers every client with it. The previous manager's
// counters are kept.
func (e *leaderEntry) set(m *orders.Manager) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cur != nil {
		st := e.cur.Stats()
		for k, v := range st.Orders {
			e.base.Orders[k] += v
		}
		for k, v := range st.RiskRejects {
			e.base.RiskRejects[k] += v
		}
	}
	e.cur = m
	if m == nil {
		return
	}
	for src, sink := range e.regs {
		m.Register(src, sink)
	}
	for acct, sinks := range e.watches {
		for sink := range sinks {
			m.Watch(acct, sink)
		}
	}
}

func (e *leaderEntry) current() *orders.Manager {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cur
}

// notLeader is the refusal while no term runs here.
func (e *leaderEntry) notLeader() error {
	who := "no leader is elected yet; retry shortly"
	if l := e.leader(); l != "" {
		who = "the leader is " + l + "; connect again (the load balancer routes to it) or retry"
	}
	return &orders.Reject{Code: orders.CodeNotLeader, Text: "this gateway does not lead the cluster: " + who, FIXReason: 99}
}

// New implements the order entry interfaces.
func (e *leaderEntry) New(req orders.NewRequest) (orders.Order, error) {
	if m := e.current(); m != nil {
		return m.New(req)
	}
	return orders.Order{}, e.notLeader()
}

// Cancel implements the order entry interfaces.
func (e *leaderEntry) Cancel(req orders.CancelRequest) (orders.Order, error) {
	if m := e.current(); m != nil {
		return m.Cancel(req)
	}
	return orders.Order{}, e.notLeader()
}

// Replace implements the order entry interfaces.
func (e *leaderEntry) Replace(req orders.ReplaceRequest) (orders.Order, error) {
	if m := e.current(); m != nil {
		return m.Replace(req)
	}
	return orders.Order{}, e.notLeader()
}

// Get implements broker.OrderEntry (a broker acceptor runs only in a
// term); without a term it knows no order.
func (e *leaderEntry) Get(account, clOrdID string) (orders.Order, bool) {
	if m := e.current(); m != nil {
		return m.Get(account, clOrdID)
	}
	return orders.Order{}, false
}

// Status implements gateway.OrderEntry. Without a term it is refused
// orders.not_leader, as every other request: "no such order" would be a
// definite answer this node cannot give (a client told its order is
// unknown may enter it again).
func (e *leaderEntry) Status(account, clOrdID string) (orders.Order, error) {
	if m := e.current(); m != nil {
		return m.Status(account, clOrdID)
	}
	return orders.Order{}, e.notLeader()
}

// Account implements gateway.OrderEntry.
func (e *leaderEntry) Account(account string) (risk.AccountState, error) {
	if m := e.current(); m != nil {
		return m.Account(account)
	}
	return risk.AccountState{}, e.notLeader()
}

// List implements gateway.OrderEntry.
func (e *leaderEntry) List(account, cursor string, limit int) (orders.ListPage, error) {
	if m := e.current(); m != nil {
		return m.List(account, cursor, limit)
	}
	return orders.ListPage{}, e.notLeader()
}

// Kill implements gateway.Admin.
func (e *leaderEntry) Kill(account string, on bool) (int, error) {
	if m := e.current(); m != nil {
		return m.Kill(account, on)
	}
	return 0, e.notLeader()
}

// Register implements the order entry interfaces.
func (e *leaderEntry) Register(src orders.Source, sink orders.Sink) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.regs[src] = sink
	if e.cur != nil {
		e.cur.Register(src, sink)
	}
}

// Unregister implements broker.OrderEntry.
func (e *leaderEntry) Unregister(src orders.Source) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.regs, src)
	if e.cur != nil {
		e.cur.Unregister(src)
	}
}

// Watch implements gateway.OrderEntry.
func (e *leaderEntry) Watch(account string, sink orders.Sink) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.watches[account] == nil {
		e.watches[account] = map[orders.Sink]struct{}{}
	}
	e.watches[account][sink] = struct{}{}
	if e.cur != nil {
		e.cur.Watch(account, sink)
	}
}

// Unwatch implements gateway.OrderEntry.
func (e *leaderEntry) Unwatch(account string, sink orders.Sink) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.watches[account], sink)
	if len(e.watches[account]) == 0 {
		delete(e.watches, account)
	}
	if e.cur != nil {
		e.cur.Unwatch(account, sink)
	}
}

// Disconnected implements the order entry interfaces: the source's
// registration is forgotten and the current manager, if any, handles its
// orders as it does for a single gateway.
func (e *leaderEntry) Disconnected(src orders.Source) int {
	e.mu.Lock()
	delete(e.regs, src)
	m := e.cur
	e.mu.Unlock()
	if m != nil {
		return m.Disconnected(src)
	}
	return 0
}

// SessionEnded implements broker.OrderEntry: the source stays
// registered, and the current manager, if any, handles its orders as it
// does for a single gateway.
func (e *leaderEntry) SessionEnded(src orders.Source) int {
	if m := e.current(); m != nil {
		return m.SessionEnded(src)
	}
	return 0
}

// CountRejected implements broker.RejectCounter.
func (e *leaderEntry) CountRejected(src orders.Source, code string) {
	if m := e.current(); m != nil {
		m.CountRejected(src, code)
	}
}

// Stats implements gateway.OrderStats: every term's counters added up.
func (e *leaderEntry) Stats() orders.Stats {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := orders.Stats{Orders: map[[2]string]uint64{}, RiskRejects: map[string]uint64{}}
	for k, v := range e.base.Orders {
		out.Orders[k] = v
	}
	for k, v := range e.base.RiskRejects {
		out.RiskRejects[k] = v
	}
	if e.cur != nil {
		st := e.cur.Stats()
		for k, v := range st.Orders {
			out.Orders[k] += v
		}
		for k, v := range st.RiskRejects {
			out.RiskRejects[k] += v
		}
		out.KillSwitches = st.KillSwitches
	}
	return out
}

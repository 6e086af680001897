package orders

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"sgw/journal"
	"sgw/refdata"
	"sgw/risk"
)

// Journal record types.
const (
	recNew          byte = 'N'
	recCancel       byte = 'C'
	recReplace      byte = 'R'
	recExec         byte = 'E'
	recCancelReject byte = 'J'
)

// Config configures a Manager.
type Config struct {
	// CashUpstream names the upstream of cash accounts. Zero means "core".
	CashUpstream string
	// CreditUpstream names the upstream of credit (margin) accounts. Zero
	// means "margin".
	CreditUpstream string
	// CreditAccounts are the accounts that trade on credit.
	CreditAccounts []string
	// IDPrefix starts the upstream ids (ClOrdID) the gateway gives
	// orders and requests; each gateway instance sharing an upstream
	// session needs its own. Zero means "GW".
	IDPrefix string
	// Clock stamps orders; nil means the wall clock.
	Clock func() time.Time
	// OnSent, when set, is told how long each new order took from New to
	// being handed to its upstream session (risk, journal fsync, routing):
	// the gateway-internal latency. Called on the journal's goroutine.
	OnSent func(time.Duration)
}

// Manager keeps every order of the day and carries requests and execution
// reports between clients, risk, the journal and the upstreams. Safe for
// concurrent use; see the package comment.
type Manager struct {
	cfg       Config
	risk      *risk.Checker
	jrnl      *journal.Journal
	upstreams map[string]Upstream
	credit    map[string]bool
	log       *slog.Logger

	mu        sync.Mutex
	orders    map[string]*Order // by account + "\x00" + any client order id it had
	byUID     map[string]*Order // by any upstream id it had
	epoch     string            // IDPrefix and this process's start, base 36
	nextUID   uint64
	list      []*Order            // in entry order
	byAccount map[string][]*Order // each account's, in entry order
	execs     map[string]bool     // execution ids applied
	unknown   map[string]int      // open orders of unknown state by account+symbol
	sinks     map[Source]Sink
	watchers  map[string]map[Sink]bool // account → sinks watching its orders
	failed    error                    // sticky journal failure
	stats     Stats
}

// Stats counts the manager's requests. Copies are returned by Stats.
type Stats struct {
	// Orders counts new orders by source kind ("ws", "fix") and result
	// ("accepted", "rejected").
	Orders map[[2]string]uint64
	// RiskRejects counts rejections by code (risk.* and orders.*).
	RiskRejects map[string]uint64
}

// Stats returns a copy of the counters.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := Stats{Orders: map[[2]string]uint64{}, RiskRejects: map[string]uint64{}}
	for k, v := range m.stats.Orders {
		out.Orders[k] = v
	}
	for k, v := range m.stats.RiskRejects {
		out.RiskRejects[k] = v
	}
	return out
}

// CountRejected counts a request a protocol layer refused before it reached
// the manager (an account the session may not trade, a malformed order),
// under the request's source and code.
func (m *Manager) CountRejected(src Source, code string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.count(src, true, &Reject{Code: code})
}

// count records the result of a request. mu held.
func (m *Manager) count(src Source, isNew bool, err error) {
	if m.stats.Orders == nil {
		m.stats.Orders, m.stats.RiskRejects = map[[2]string]uint64{}, map[string]uint64{}
	}
	var rr *risk.Reject
	var or *Reject
	switch {
	case errors.As(err, &rr):
		m.stats.RiskRejects[rr.Code]++
	case errors.As(err, &or):
		m.stats.RiskRejects[or.Code]++
	}
	if !isNew {
		return
	}
	result := "accepted"
	if err != nil {
		result = "rejected"
	}
	m.stats.Orders[[2]string{src.Kind, result}]++
}

// New returns a manager. Call Recover before accepting requests.
func New(cfg Config, rc *risk.Checker, j *journal.Journal, upstreams map[string]Upstream, log *slog.Logger) (*Manager, error) {
	if cfg.CashUpstream == "" {
		cfg.CashUpstream = "core"
	}
	if cfg.CreditUpstream == "" {
		cfg.CreditUpstream = "margin"
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.IDPrefix == "" {
		cfg.IDPrefix = "GW"
	}
	if rc == nil || j == nil {
		return nil, fmt.Errorf("%w: risk and journal are required", ErrConfig)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{cfg: cfg, risk: rc, jrnl: j, upstreams: upstreams, credit: map[string]bool{}, log: log,
		orders: map[string]*Order{}, byUID: map[string]*Order{}, byAccount: map[string][]*Order{}, execs: map[string]bool{}, unknown: map[string]int{},
		sinks: map[Source]Sink{}, watchers: map[string]map[Sink]bool{}}
	for _, a := range cfg.CreditAccounts {
		m.credit[a] = true
	}
	m.epoch = cfg.IDPrefix + strconv.FormatInt(time.Now().UnixNano()/int64(time.Millisecond), 36) + "."
	return m, nil
}

func key(account, clOrdID string) string { return account + "\x00" + clOrdID }

// newUID returns the next upstream id: the prefix, this process's start
// (so that an id sent upstream just before a crash, whose journal record
// was lost, is never given again) and a counter. mu held.
func (m *Manager) newUID() string {
	m.nextUID++
	return m.epoch + strconv.FormatUint(m.nextUID, 36)
}

// upstreamOf names the upstream serving an account.
func (m *Manager) upstreamOf(account string) string {
	if m.credit[account] {
		return m.cfg.CreditUpstream
	}
	return m.cfg.CashUpstream
}

// Register routes the events of orders entered from src to sink, until
// Unregister.
func (m *Manager) Register(src Source, sink Sink) {
	m.mu.Lock()
	m.sinks[src] = sink
	m.mu.Unlock()
}

// Unregister stops routing src's events.
func (m *Manager) Unregister(src Source) {
	m.mu.Lock()
	delete(m.sinks, src)
	m.mu.Unlock()
}

// Watch sends sink the events of every order of account (the WebSocket
// private orders channel), until Unwatch.
func (m *Manager) Watch(account string, sink Sink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.watchers[account] == nil {
		m.watchers[account] = map[Sink]bool{}
	}
	m.watchers[account][sink] = true
}

// Unwatch stops sending sink the events of account.
func (m *Manager) Unwatch(account string, sink Sink) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.watchers[account], sink)
}

// targets returns the sinks an order's events go to. mu held.
func (m *Manager) targets(o *Order) []Sink {
	var out []Sink
	src := m.sinks[o.Source]
	if src != nil {
		out = append(out, src)
	}
	for s := range m.watchers[o.Account] {
		if s != src {
			out = append(out, s)
		}
	}
	return out
}

// NewRequest is a new order from a client.
type NewRequest struct {
	ClOrdID, Account, Symbol string
	Side                     risk.Side
	Type                     risk.OrdType
	Price                    refdata.Price
	Qty                      int64
	Source                   Source
}

// newRec is the journal body of an accepted new order.
type newRec struct {
	Account  string        `json:"a"`
	ClOrdID  string        `json:"c"`
	Symbol   string        `json:"s"`
	Side     risk.Side     `json:"d"`
	Type     risk.OrdType  `json:"y"`
	Price    refdata.Price `json:"p"`
	Qty      int64         `json:"q"`
	Upstream string        `json:"u"`
	Source   Source        `json:"o"`
	Time     time.Time     `json:"t"`
	UID      string        `json:"i"`
}

// New checks and accepts a new order: on acceptance it is journaled, and
// once the record is durable it is sent upstream and the client gets an
// EventAccepted. A rejection is returned as a *risk.Reject
// or *Reject; nothing is journaled for it.
func (m *Manager) New(req NewRequest) (_ Order, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.count(req.Source, true, err) }()
	if m.failed != nil {
		return Order{}, m.failed
	}
	up, ok := m.upstreams[m.upstreamOf(req.Account)]
	if !ok {
		return Order{}, &Reject{Code: "orders.no_upstream", Text: "no upstream serves account " + req.Account, FIXReason: 0}
	}
	if m.unknown[req.Account+"\x00"+req.Symbol] > 0 {
		return Order{}, &Reject{Code: "orders.reconciling", Text: "open orders of " + req.Account + " in " + req.Symbol + " are being reconciled with the upstream; retry shortly", FIXReason: 99}
	}
	rec := newRec{Account: req.Account, ClOrdID: req.ClOrdID, Symbol: req.Symbol, Side: req.Side, Type: req.Type,
		Price: req.Price, Qty: req.Qty, Upstream: m.upstreamOf(req.Account), Source: req.Source, Time: m.cfg.Clock()}
	uid := m.newUID()
	rec.UID = uid
	o, err := m.applyNew(rec, true)
	if err != nil {
		return Order{}, err
	}
	sent, start, onSent := *o, time.Now(), m.cfg.OnSent
	m.journal(recNew, rec, Event{Kind: EventAccepted, Order: *o, Ref: o.ClOrdID}, o, func() {
		err := up.NewOrder(sent)
		if onSent != nil {
			onSent(time.Since(start))
		}
		if err != nil {
			// The adapter holds requests while a line is down; an error
			// here is a programming or configuration fault. The order
			// stays open until reconciliation settles it.
			m.log.Error("orders: upstream refused a new order", "clOrdID", sent.ClOrdID, "err", err)
		}
	})
	return *o, nil
}

// applyNew runs risk and creates the order. mu held.
func (m *Manager) applyNew(rec newRec, live bool) (*Order, error) {
	ro := risk.Order{Account: rec.Account, Session: rec.Source.Kind + ":" + rec.Source.Session, ClOrdID: rec.ClOrdID,
		Symbol: rec.Symbol, Side: rec.Side, Type: rec.Type, Price: rec.Price, Qty: rec.Qty, Credit: m.credit[rec.Account]}
	var rej *risk.Reject
	if live {
		_, rej = m.risk.CheckNew(ro)
	} else {
		_, rej = m.risk.RestoreNew(ro)
	}
	if rej != nil {
		return nil, rej
	}
	o := &Order{ClOrdID: rec.ClOrdID, OrigClOrdID: rec.ClOrdID, Account: rec.Account, Symbol: rec.Symbol, Side: rec.Side,
		Price: rec.Price, Qty: rec.Qty, LeavesQty: rec.Qty, Status: StatusPendingNew, Upstream: rec.Upstream,
		UpstreamID: rec.UID, Source: rec.Source, Created: rec.Time, Updated: rec.Time}
	m.orders[key(rec.Account, rec.ClOrdID)] = o
	m.byUID[rec.UID] = o
	m.list = append(m.list, o)
	m.byAccount[o.Account] = append(m.byAccount[o.Account], o)
	return o, nil
}

// journal appends a record for a state change made under mu and, once it
// is durable, runs send (a request leaving for the upstream; may be nil)
// and delivers ev to the order's clients. Records become durable, and
// their callbacks run, in the order they were appended, so requests leave
// in the order they were accepted and never before they are journaled.
// mu held.
func (m *Manager) journal(typ byte, rec any, ev Event, o *Order, send func()) {
	body, err := json.Marshal(rec)
	if err != nil {
		panic(fmt.Sprintf("orders: encoding a journal record: %v", err)) // plain structs only
	}
	targets := m.targets(o)
	m.jrnl.AppendAsync(typ, body, func(_ uint64, err error) {
		if err != nil {
			m.fail(err)
			return
		}
		if send != nil {
			send()
		}
		for _, s := range targets {
			s.OrderEvent(ev)
		}
	})
}

// fail makes a journal failure sticky: no more requests are accepted.
func (m *Manager) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed == nil {
		m.failed = fmt.Errorf("%w: %w", ErrJournal, err)
		m.log.Error("orders: journal failed; accepting no more orders", "err", err)
	}
}

// CancelRequest asks to cancel an order.
type CancelRequest struct {
	// ClOrdID is the cancel's own client order id; empty means one is made
	// up ("X-" + the order's).
	ClOrdID, OrigClOrdID, Account string
	Source                        Source
}

// cancelRec is the journal body of an accepted cancel or replace.
type cancelRec struct {
	Account string        `json:"a"`
	ClOrdID string        `json:"c"`
	Orig    string        `json:"g"`
	Price   refdata.Price `json:"p,omitempty"`
	Qty     int64         `json:"q,omitempty"`
	Source  Source        `json:"o"`
	UID     string        `json:"i"`
}

// target returns the order a cancel or replace names, or why it cannot be
// acted on now. mu held.
func (m *Manager) target(account, orig string) (*Order, error) {
	if m.failed != nil {
		return nil, m.failed
	}
	o := m.orders[key(account, orig)]
	if o == nil {
		return nil, &Reject{Code: "orders.unknown_order", Text: "no order " + orig + " of account " + account, FIXReason: 1}
	}
	if o.unknown {
		return nil, &Reject{Code: "orders.reconciling", Text: "order " + o.ClOrdID + " is being reconciled with the upstream; retry shortly", FIXReason: 99}
	}
	return o, nil
}

// Cancel checks a cancel request and sends it upstream.
func (m *Manager) Cancel(req CancelRequest) (_ Order, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.count(req.Source, false, err) }()
	o, err := m.target(req.Account, req.OrigClOrdID)
	if err != nil {
		return Order{}, err
	}
	if req.ClOrdID == "" {
		req.ClOrdID = "X-" + o.ClOrdID + "-" + strconv.Itoa(len(m.list))
	}
	rec := cancelRec{Account: req.Account, ClOrdID: req.ClOrdID, Orig: o.ClOrdID, Source: req.Source, UID: m.newUID()}
	if err := m.applyCancel(rec, true); err != nil {
		return Order{}, err
	}
	up, sent := m.upstreams[o.Upstream], *o
	m.journal(recCancel, rec, Event{Kind: EventAccepted, Order: *o, Ref: req.ClOrdID}, o, func() {
		if err := up.Cancel(sent, rec.UID); err != nil {
			m.log.Error("orders: upstream refused a cancel", "clOrdID", rec.ClOrdID, "err", err)
		}
	})
	return *o, nil
}

// applyCancel runs risk for a cancel and records it on the order. mu held.
func (m *Manager) applyCancel(rec cancelRec, live bool) error {
	o := m.orders[key(rec.Account, rec.Orig)]
	x := risk.Cancel{Account: rec.Account, Session: rec.Source.Kind + ":" + rec.Source.Session, ClOrdID: rec.ClOrdID, OrigClOrdID: rec.Orig, Symbol: o.Symbol}
	var rej *risk.Reject
	if live {
		rej = m.risk.CheckCancel(x)
	} else {
		rej = m.risk.RestoreCancel(x)
	}
	if rej != nil {
		return rej
	}
	o.pending, o.pendingUID = rec.ClOrdID, rec.UID
	m.orders[key(rec.Account, rec.ClOrdID)] = o
	m.byUID[rec.UID] = o
	return nil
}

// ReplaceRequest asks to change an order's price and quantity.
type ReplaceRequest struct {
	ClOrdID, OrigClOrdID, Account string
	Price                         refdata.Price
	// Qty is the new total quantity, filled shares included.
	Qty    int64
	Source Source
}

// Replace checks a replace request and sends it upstream.
func (m *Manager) Replace(req ReplaceRequest) (_ Order, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	defer func() { m.count(req.Source, false, err) }()
	o, err := m.target(req.Account, req.OrigClOrdID)
	if err != nil {
		return Order{}, err
	}
	rec := cancelRec{Account: req.Account, ClOrdID: req.ClOrdID, Orig: o.ClOrdID, Price: req.Price, Qty: req.Qty, Source: req.Source, UID: m.newUID()}
	if err := m.applyReplace(rec, true); err != nil {
		return Order{}, err
	}
	up, sent := m.upstreams[o.Upstream], *o
	m.journal(recReplace, rec, Event{Kind: EventAccepted, Order: *o, Ref: req.ClOrdID}, o, func() {
		if err := up.Replace(sent, rec.UID, rec.Price, rec.Qty); err != nil {
			m.log.Error("orders: upstream refused a replace", "clOrdID", rec.ClOrdID, "err", err)
		}
	})
	return *o, nil
}

// applyReplace runs risk for a replace and records it on the order. mu held.
func (m *Manager) applyReplace(rec cancelRec, live bool) error {
	o := m.orders[key(rec.Account, rec.Orig)]
	ro := risk.Order{Account: rec.Account, Session: rec.Source.Kind + ":" + rec.Source.Session, ClOrdID: rec.ClOrdID,
		Symbol: o.Symbol, Side: o.Side, Type: risk.Limit, Price: rec.Price, Qty: rec.Qty, Credit: m.credit[rec.Account]}
	var rej *risk.Reject
	if live {
		_, rej = m.risk.CheckReplace(rec.Orig, ro)
	} else {
		_, rej = m.risk.RestoreReplace(rec.Orig, ro)
	}
	if rej != nil {
		return rej
	}
	o.pending, o.pendingUID, o.pendingPrice, o.pendingQty = rec.ClOrdID, rec.UID, rec.Price, rec.Qty
	m.orders[key(rec.Account, rec.ClOrdID)] = o
	m.byUID[rec.UID] = o
	return nil
}

// execRec is the journal body of an execution report.
type execRec struct {
	Account string     `json:"a"`
	ER      ExecReport `json:"e"`
}

// OnExecReport applies an upstream execution report and passes it on to
// the order's clients once journaled. Reports whose execution id was seen
// before (resends after a failover) are ignored; reports for unknown
// orders are logged and dropped.
func (m *Manager) OnExecReport(er ExecReport) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.find(er.ClOrdID, er.OrigClOrdID)
	if o == nil {
		m.log.Warn("orders: execution report for an unknown order", "clOrdID", er.ClOrdID, "execID", er.ExecID)
		return
	}
	if er.ExecID != "" && m.execs[er.ExecID] {
		return
	}
	ev, ok := m.applyExec(o, er)
	if !ok {
		return
	}
	m.journal(recExec, execRec{Account: o.Account, ER: er}, ev, o, nil)
}

// find returns the order an upstream id names. mu held.
func (m *Manager) find(uids ...string) *Order {
	for _, id := range uids {
		if o := m.byUID[id]; id != "" && o != nil {
			return o
		}
	}
	return nil
}

// applyExec applies a report to the order and to risk. mu held. It reports
// false for a report that changes nothing.
func (m *Manager) applyExec(o *Order, er ExecReport) (Event, bool) {
	if er.ExecID != "" {
		m.execs[er.ExecID] = true
	}
	ev := Event{Kind: EventExec, ExecType: er.ExecType, ExecID: er.ExecID, Ref: o.ClOrdID, Text: er.Text}
	if er.ClOrdID == o.pendingUID && o.pendingUID != "" {
		ev.Ref = o.pending
	}
	if o.OrderID == "" {
		o.OrderID = er.OrderID
	}
	wasUnknown := o.unknown
	switch er.ExecType {
	case '0': // new
		if o.Status == StatusPendingNew {
			o.Status = StatusNew
		}
	case 'F', '1', '2': // trade
		if er.LastQty <= 0 {
			return ev, false
		}
		if err := m.risk.OnFill(o.Account, o.ClOrdID, er.LastPx, er.LastQty); err != nil {
			m.log.Warn("orders: risk refused a fill", "clOrdID", o.ClOrdID, "err", err)
		}
		o.CumQty += er.LastQty
		o.turnover += int64(er.LastPx) * er.LastQty
		o.AvgPx = refdata.Price(o.turnover / o.CumQty)
		ev.LastPx, ev.LastQty = er.LastPx, er.LastQty
	case '4', 'C': // canceled, expired
		_ = m.risk.OnDone(o.Account, o.ClOrdID, er.LeavesQty)
	case '8': // rejected
		_ = m.risk.OnDone(o.Account, o.ClOrdID, o.Qty-o.CumQty)
	case '5': // replaced
		if er.ClOrdID == o.pendingUID && o.pendingUID != "" {
			if err := m.risk.OnReplaced(o.Account, o.pending); err != nil {
				m.log.Warn("orders: risk refused a replace", "clOrdID", o.pending, "err", err)
			}
			o.ClOrdID, o.UpstreamID, o.Price, o.Qty = o.pending, o.pendingUID, o.pendingPrice, o.pendingQty
			o.pending, o.pendingUID = "", ""
		}
	case 'I': // status
		m.reconcile(o, er)
	}
	if er.ExecType != 'I' {
		o.LeavesQty = er.LeavesQty
		o.Status = statusOf(er.OrdStatus, o.Status)
	}
	if o.Status.Terminal() {
		o.pending, o.pendingUID = "", ""
	}
	if wasUnknown {
		o.unknown = false
		m.unknown[o.Account+"\x00"+o.Symbol]--
	}
	o.Text = er.Text
	o.Updated = m.cfg.Clock()
	ev.Order = *o
	return ev, true
}

// reconcile takes the upstream's word on an order after a restart or a
// failover: missed fills are applied to risk at the reported average price,
// and a terminal order is closed. mu held.
func (m *Manager) reconcile(o *Order, er ExecReport) {
	if er.OrdStatus == '8' && er.CumQty == 0 && o.unknown {
		// The upstream never saw the order (it left before the crash but
		// the session's store did not send it): it is not working.
		_ = m.risk.OnDone(o.Account, o.ClOrdID, o.Qty-o.CumQty)
		o.Status, o.LeavesQty = StatusRejected, 0
		return
	}
	if missed := er.CumQty - o.CumQty; missed > 0 {
		// The average price of the missed fills, from the totals.
		px := refdata.Price((int64(er.AvgPx)*er.CumQty - o.turnover) / missed)
		_ = m.risk.OnFill(o.Account, o.ClOrdID, px, missed)
		o.CumQty, o.turnover = er.CumQty, int64(er.AvgPx)*er.CumQty
		o.AvgPx = er.AvgPx
	}
	o.LeavesQty = er.LeavesQty
	o.Status = statusOf(er.OrdStatus, o.Status)
	if o.Status.Terminal() {
		_ = m.risk.OnDone(o.Account, o.ClOrdID, er.LeavesQty)
	}
}

// statusOf maps a FIX OrdStatus.
func statusOf(s byte, cur Status) Status {
	switch s {
	case '0':
		return StatusNew
	case '1':
		return StatusPartiallyFilled
	case '2':
		return StatusFilled
	case '4':
		return StatusCanceled
	case '8':
		return StatusRejected
	case 'C':
		return StatusExpired
	case 'A':
		return StatusPendingNew
	}
	return cur
}

// OnCancelReject applies an upstream's refusal of a cancel or replace.
func (m *Manager) OnCancelReject(r CancelReject) {
	m.mu.Lock()
	defer m.mu.Unlock()
	o := m.find(r.ClOrdID, r.OrigClOrdID)
	if o == nil || o.pendingUID != r.ClOrdID {
		return
	}
	ref := o.pending
	m.applyCancelReject(o, r)
	m.journal(recCancelReject, cancelRejectRec{Account: o.Account, R: r}, Event{Kind: EventCancelReject, Order: *o, Ref: ref, Text: r.Text}, o, nil)
}

// cancelRejectRec is the journal body of a cancel reject.
type cancelRejectRec struct {
	Account string       `json:"a"`
	R       CancelReject `json:"r"`
}

// applyCancelReject drops the pending request. mu held.
func (m *Manager) applyCancelReject(o *Order, r CancelReject) {
	if o.pendingQty != 0 {
		_ = m.risk.OnReplaceRejected(o.Account, o.pending)
	}
	o.pending, o.pendingUID, o.pendingPrice, o.pendingQty = "", "", 0, 0
	o.Text = r.Text
}

// Get returns an order by any of its client order ids.
func (m *Manager) Get(account, clOrdID string) (Order, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if o := m.orders[key(account, clOrdID)]; o != nil {
		return *o, true
	}
	return Order{}, false
}

// List limits: a page holds DefaultListLimit orders unless the caller asks
// for another number, and never more than MaxListLimit.
const (
	DefaultListLimit = 100
	MaxListLimit     = 500
)

// ListPage is one page of an account's orders, in entry order.
type ListPage struct {
	Orders []Order
	// Next is the cursor of the next page, or "" when this page is the
	// last.
	Next string
	// Total is how many orders the account has; Remaining how many come
	// after this page.
	Total, Remaining int
}

// List returns a page of the orders of an account, in entry order,
// starting at cursor ("" for the first page, else a ListPage.Next) and
// holding at most limit orders (zero or less means DefaultListLimit; more
// than MaxListLimit means MaxListLimit). A cursor List did not hand out
// is a *Reject with CodeBadCursor.
func (m *Manager) List(account, cursor string, limit int) (ListPage, error) {
	if limit <= 0 {
		limit = DefaultListLimit
	}
	limit = min(limit, MaxListLimit)
	start := 0
	if cursor != "" {
		n, err := strconv.Atoi(cursor)
		if err != nil || n < 0 {
			return ListPage{}, &Reject{Code: CodeBadCursor, Text: "cursor is not one this gateway handed out", FIXReason: fixOther}
		}
		start = n
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	all := m.byAccount[account]
	if start > len(all) {
		return ListPage{}, &Reject{Code: CodeBadCursor, Text: "cursor is past the end of the account's orders", FIXReason: fixOther}
	}
	end := min(start+limit, len(all))
	page := ListPage{Orders: make([]Order, 0, end-start), Total: len(all), Remaining: len(all) - end}
	for _, o := range all[start:end] {
		page.Orders = append(page.Orders, *o)
	}
	if end < len(all) {
		page.Next = strconv.Itoa(end)
	}
	return page, nil
}

// Recover rebuilds the orders and the risk state from the journal. Orders
// still open afterwards are of unknown state until the upstream reports
// them (see Reconcile). Call it once, before any request.
func (m *Manager) Recover() (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	err := m.jrnl.Replay(func(r journal.Record) error {
		n++
		if err := m.replay(r); err != nil {
			return fmt.Errorf("orders: journal record %d: %w", r.Seq, err)
		}
		return nil
	})
	if err != nil {
		return n, err
	}
	for _, o := range m.list {
		if !o.Status.Terminal() {
			o.unknown = true
			m.unknown[o.Account+"\x00"+o.Symbol]++
		}
	}
	return n, nil
}

// replay applies one journal record. mu held.
func (m *Manager) replay(r journal.Record) error {
	switch r.Type {
	case recNew:
		var rec newRec
		if err := json.Unmarshal(r.Body, &rec); err != nil {
			return err
		}
		_, err := m.applyNew(rec, false)
		return err
	case recCancel, recReplace:
		var rec cancelRec
		if err := json.Unmarshal(r.Body, &rec); err != nil {
			return err
		}
		if m.orders[key(rec.Account, rec.Orig)] == nil {
			return fmt.Errorf("%w: %s", ErrUnknownOrder, rec.Orig)
		}
		if r.Type == recCancel {
			return m.applyCancel(rec, false)
		}
		return m.applyReplace(rec, false)
	case recExec:
		var rec execRec
		if err := json.Unmarshal(r.Body, &rec); err != nil {
			return err
		}
		if o := m.find(rec.ER.ClOrdID, rec.ER.OrigClOrdID); o != nil {
			m.applyExec(o, rec.ER)
		}
		return nil
	case recCancelReject:
		var rec cancelRejectRec
		if err := json.Unmarshal(r.Body, &rec); err != nil {
			return err
		}
		if o := m.find(rec.R.ClOrdID, rec.R.OrigClOrdID); o != nil && o.pendingUID == rec.R.ClOrdID {
			m.applyCancelReject(o, rec.R)
		}
		return nil
	}
	return fmt.Errorf("unknown record type %q", r.Type)
}

// Reconcile asks the upstream for the state of every order whose state is
// unknown (after Recover, or after a failover of upstream up). Call it when
// the upstream session is logged on.
func (m *Manager) Reconcile(upstream string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	up := m.upstreams[upstream]
	n := 0
	for _, o := range m.list {
		if o.unknown && o.Upstream == upstream && up != nil {
			if err := up.Status(*o); err != nil {
				m.log.Warn("orders: status request failed", "clOrdID", o.ClOrdID, "err", err)
				continue
			}
			n++
		}
	}
	return n
}

// SessionDown marks the orders of upstream whose outcome was still awaited
// (not yet acknowledged, or with a cancel or replace pending) as of
// unknown state: new orders of the same account and symbol wait until the
// upstream has told their state (Reconcile after the next logon). It
// returns how many orders it marked.
func (m *Manager) SessionDown(upstream string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, o := range m.list {
		if o.Upstream != upstream || o.unknown || o.Status.Terminal() {
			continue
		}
		if o.Status == StatusPendingNew || o.pending != "" {
			o.unknown = true
			m.unknown[o.Account+"\x00"+o.Symbol]++
			n++
		}
	}
	return n
}

// Kill turns an account's kill switch (or the global one, account "") on
// or off, and when the risk configuration says so cancels the orders
// concerned. It returns the cancels sent.
func (m *Manager) Kill(account string, on bool) (int, error) {
	open, err := m.risk.SetKill(account, on)
	if err != nil {
		return 0, err
	}
	return m.cancelAll(open, Source{Kind: "admin", Session: "kill"}), nil
}

// Disconnected handles the end of a client session: with
// cancel-on-disconnect configured, its working orders are cancelled.
func (m *Manager) Disconnected(src Source) int {
	m.Unregister(src)
	return m.cancelAll(m.risk.Disconnect(src.Kind+":"+src.Session), src)
}

// cancelAll cancels open orders, reporting how many cancels went out.
func (m *Manager) cancelAll(open []risk.OpenOrder, src Source) int {
	n := 0
	for _, oo := range open {
		if _, err := m.Cancel(CancelRequest{OrigClOrdID: oo.ClOrdID, Account: oo.Account, Source: src}); err != nil {
			var rej *risk.Reject
			if !errors.As(err, &rej) {
				m.log.Warn("orders: cancel failed", "clOrdID", oo.ClOrdID, "err", err)
			}
			continue
		}
		n++
	}
	return n
}

package system

import (
	"errors"
	"log/slog"
	"sync"

	"sgw/fix"
	"sgw/orders"
	"sgw/refdata"
	"sgw/risk"
)

// fixUpstream is an orders.Upstream over a fix.Upstream. Requests made while
// the session is down (a line failover, a restart) are held, in order, and
// sent once it is logged on again, after the order manager has asked for
// the state of the orders it is unsure of. Safe for concurrent use.
type fixUpstream struct {
	u   *fix.Upstream
	log *slog.Logger

	mu   sync.Mutex
	held []any
}

var _ orders.Upstream = (*fixUpstream)(nil)

func fixSide(s risk.Side) fix.Side {
	if s == risk.Sell {
		return fix.Sell
	}
	return fix.Buy
}

// NewOrder implements orders.Upstream.
func (a *fixUpstream) NewOrder(o orders.Order) error {
	return a.send(fix.NewOrder{ClOrdID: o.UpstreamID, Account: o.Account, Symbol: o.Symbol, Side: fixSide(o.Side),
		Price: o.Price, Qty: o.Qty, TransactTime: o.Created})
}

// Cancel implements orders.Upstream.
func (a *fixUpstream) Cancel(o orders.Order, uid string) error {
	return a.send(fix.CancelRequest{ClOrdID: uid, OrigClOrdID: o.UpstreamID, Account: o.Account, Symbol: o.Symbol,
		Side: fixSide(o.Side), Qty: o.Qty})
}

// Replace implements orders.Upstream.
func (a *fixUpstream) Replace(o orders.Order, uid string, price refdata.Price, qty int64) error {
	return a.send(fix.ReplaceRequest{ClOrdID: uid, OrigClOrdID: o.UpstreamID, Account: o.Account, Symbol: o.Symbol,
		Side: fixSide(o.Side), Price: price, Qty: qty})
}

// Status implements orders.Upstream. A status request is only worth
// sending now; one made while the session is down is dropped (the order
// manager asks again after the next logon).
func (a *fixUpstream) Status(o orders.Order) error {
	return a.u.Send(fix.StatusRequest{ClOrdID: o.UpstreamID, Symbol: o.Symbol, Side: fixSide(o.Side)})
}

// send passes req to the session, or holds it while the session is down.
func (a *fixUpstream) send(req any) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.held) > 0 {
		a.held = append(a.held, req)
		return nil
	}
	err := a.u.Send(req)
	if errors.Is(err, fix.ErrNotLoggedOn) {
		a.held = append(a.held, req)
		return nil
	}
	return err
}

// release sends what was held, in order, until the session refuses.
func (a *fixUpstream) release() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for len(a.held) > 0 {
		if err := a.u.Send(a.held[0]); err != nil {
			if !errors.Is(err, fix.ErrNotLoggedOn) {
				a.log.Error("system: a held order request could not be sent", "err", err)
				a.held = a.held[1:]
				continue
			}
			return
		}
		a.held[0] = nil
		a.held = a.held[1:]
	}
}

// fixEvents carries the upstreams' events to the order manager. Its
// methods run on each upstream's session goroutine and do not block: the
// manager holds its lock for in-memory work only.
type fixEvents struct {
	m   *orders.Manager
	ups map[string]*fixUpstream
	log *slog.Logger
}

var _ fix.Handler = (*fixEvents)(nil)

// OnExecReport implements fix.Handler.
func (h *fixEvents) OnExecReport(_ string, er fix.ExecReport) {
	h.m.OnExecReport(orders.ExecReport{ClOrdID: er.ClOrdID, OrigClOrdID: er.OrigClOrdID, OrderID: er.OrderID, ExecID: er.ExecID,
		ExecType: er.ExecType, OrdStatus: er.OrdStatus, LastPx: er.LastPx, AvgPx: er.AvgPx, LastQty: er.LastQty,
		CumQty: er.CumQty, LeavesQty: er.LeavesQty, Text: er.Text, PossDup: er.PossDup})
}

// OnCancelReject implements fix.Handler.
func (h *fixEvents) OnCancelReject(_ string, r fix.CancelReject) {
	h.m.OnCancelReject(orders.CancelReject{ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID, Text: r.Text})
}

// OnSessionUp implements fix.Handler: the held requests go out first, then
// the orders whose state is in doubt are asked about; the session keeps
// that order, so every status answer reflects the requests before it.
func (h *fixEvents) OnSessionUp(up, line string) {
	if a := h.ups[up]; a != nil {
		a.release()
	}
	n := h.m.Reconcile(up)
	h.log.Info("upstream logged on", "upstream", up, "line", line, "status_requests", n)
}

// OnSessionDown implements fix.Handler: orders that were in flight are in
// doubt until the upstream confirms them.
func (h *fixEvents) OnSessionDown(up, line string, err error) {
	n := h.m.SessionDown(up)
	h.log.Warn("upstream session down", "upstream", up, "line", line, "err", err, "in_doubt", n)
}

package gateway

import (
	"encoding/json"
	"strconv"

	"sgw/orders"
	"sgw/refdata"
)

// order.trades answers one page of an order's trades (docs/PROTOCOL.md):
// the executions a client that was away (reconnected after 1001, 4008, a
// takeover or a network drop) missed the exec events of. It pages as
// orders.list does: an opaque cursor (the index of the page's first trade
// among the order's, which are only ever appended to or amended in place,
// also when rebuilt
// from the journal after a restart or on a cluster's new leader), a limit
// (default orders.DefaultListLimit, at most orders.MaxListLimit), and a
// page of at most listBudget bytes. A trade's JSON is about 200 bytes at
// most (a venue's ExecID is cut to 64), so a page of the most trades
// (500, about 100 KiB) is cut by the budget only with a queue under
// 400 KiB; with the smallest (64 KiB) pages hold about 80 trades.

// tradesHeader is room for the answer's fields besides the trades: type,
// account, clOrdId, next, total, remaining and id.
const tradesHeader = listHeader + refdata.MaxClOrdIDLen + len(`,"clOrdId":""`)

// tradesReply is the answer to order.trades.
type tradesReply struct {
	Type      string            `json:"type"`
	Account   string            `json:"account"`
	ClOrdID   string            `json:"clOrdId"`
	Trades    []json.RawMessage `json:"trades"`
	Next      string            `json:"next,omitempty"`
	Total     int               `json:"total"`
	Remaining int               `json:"remaining"`
	ID        json.RawMessage   `json:"id,omitempty"`
}

// tradeJSON is one of an order's trades on the wire: its execution id as
// the trade's exec event carried it, the trade's quantity and price, and
// the order's totals and status after it. Time is the venue's
// TransactTime (Unix ns), omitted when the venue sent none. Canceled marks
// a trade the venue canceled since (a bust), Corrected one it corrected,
// whose qty and price are the correction's (orders.Trade).
type tradeJSON struct {
	ExecID    string        `json:"execId,omitempty"`
	Qty       int64         `json:"qty"`
	Price     refdata.Price `json:"price"`
	CumQty    int64         `json:"cumQty"`
	LeavesQty int64         `json:"leavesQty"`
	AvgPx     refdata.Price `json:"avgPx"`
	Status    string        `json:"status"`
	Time      int64         `json:"time,omitempty"`
	Canceled  bool          `json:"canceled,omitempty"`
	Corrected bool          `json:"corrected,omitempty"`
}

// encodeOrderTrade encodes one of o's trades for an order.trades page.
func encodeOrderTrade(o *orders.Order, tr orders.Trade) json.RawMessage {
	v := tradeJSON{ExecID: orders.TradeID(o.Upstream, tr.ExecID), Qty: tr.Qty, Price: tr.Px, CumQty: tr.CumQty,
		LeavesQty: tr.LeavesQty, AvgPx: tr.AvgPx, Status: string(tr.Status), Canceled: tr.Canceled,
		Corrected: !tr.Canceled && tr.Amended != ""}
	if !tr.Time.IsZero() {
		v.Time = tr.Time.UnixNano()
	}
	return encodeReply(v)
}

// listTrades answers an order.trades request with one page of the order's
// trades, in the order applied, or returns the order manager's error
// (orders.unknown_order, as order.status) or orders.bad_cursor. The order
// is read as order.status reads it (OrderEntry.Status: by any of its
// client order ids), so a cluster node answers it where and as it answers
// order.status. The page holds at most limit trades and, but for its
// first, listBudget bytes; it never comes after an order event newer than
// the order it was read from (answerOrders). Reader goroutine.
func (c *client) listTrades(req request) error {
	limit := pageLimit(req)
	budget := c.listBudget() - tradesHeader
	return c.answerOrders(func() ([]byte, error) {
		o, err := c.srv.orders.Status(req.Account, req.ClOrdID)
		if err != nil {
			return nil, err
		}
		all := o.Trades()
		start := 0
		if req.Cursor != "" {
			n, err := strconv.Atoi(req.Cursor)
			if err != nil || n < 0 || n > len(all) {
				return nil, &orders.Reject{Code: orders.CodeBadCursor, Text: "cursor is not one this gateway handed out"}
			}
			start = n
		}
		page := all[start:min(start+limit, len(all))]
		enc := make([]json.RawMessage, 0, len(page))
		size := 0
		for _, tr := range page {
			b := encodeOrderTrade(&o, tr)
			size += len(b) + 1
			if size > budget && len(enc) > 0 {
				break
			}
			enc = append(enc, b)
		}
		end := start + len(enc)
		next := ""
		if end < len(all) {
			next = strconv.Itoa(end)
		}
		return encodeReply(tradesReply{Type: "trades", Account: req.Account, ClOrdID: req.ClOrdID, Trades: enc, Next: next,
			Total: len(all), Remaining: len(all) - end, ID: req.ID}), nil
	})
}

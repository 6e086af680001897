package gateway

import (
	"encoding/json"

	"sgw/orders"
)

// orders.list answers one page of an account's orders (docs/PROTOCOL.md).
// A page is bounded twice: by the limit the client asks for (default
// orders.DefaultListLimit, at most orders.MaxListLimit) and by bytes, a
// quarter of the client's queue (listBudget), so that it always fits
// behind what is already queued for the client instead of overflowing the
// queue, which closes a client that receives order events (4008).
//
// An order's JSON is about 250 bytes with short identifiers, about 520
// with identifiers at their limits, a 40-byte orderId and a full text, and
// about 1,160 when that text is all characters JSON escapes (<, >, &).
// With the default queue (256 KiB, a 64 KiB budget) a page of the default
// 100 orders fits unless their texts are extreme (then 56 fit); with the
// smallest queue (64 KiB, a 16 KiB budget) pages hold 14 to 60 orders.
// The client follows "next" either way.

// listBudget is the most bytes an orders.list answer may take.
func (c *client) listBudget() int { return c.srv.cfg.QueueBytes / 4 }

// pageLimit is the most entries a page of orders.list or order.trades
// holds: the request's limit, orders.DefaultListLimit when it gives none,
// at most orders.MaxListLimit.
func pageLimit(req request) int {
	if req.Limit <= 0 {
		return orders.DefaultListLimit
	}
	return min(req.Limit, orders.MaxListLimit)
}

// listHeader is room for the answer's fields besides the orders: type,
// account, next, total, remaining and id.
const listHeader = 256

// listReply is the answer to orders.list.
type listReply struct {
	Type      string            `json:"type"`
	Account   string            `json:"account"`
	Orders    []json.RawMessage `json:"orders"`
	Next      string            `json:"next,omitempty"`
	Total     int               `json:"total"`
	Remaining int               `json:"remaining"`
	ID        json.RawMessage   `json:"id,omitempty"`
}

// listOrders answers an orders.list request with one page, or returns the
// order manager's error (orders.bad_cursor for a cursor it did not hand
// out). When the page the manager returns would exceed listBudget, it asks
// again from the same cursor for as many orders as fit, so that the
// answer's next cursor is the manager's own; the limit shrinks on each
// try, and a page of one order is sent whatever its size. It never
// comes after an order event newer than the page (answerOrders). Reader
// goroutine.
func (c *client) listOrders(req request) error {
	limit := pageLimit(req)
	budget := c.listBudget() - listHeader
	return c.answerOrders(func() ([]byte, error) {
		for {
			page, err := c.srv.orders.List(req.Account, req.Cursor, limit)
			if err != nil {
				return nil, err
			}
			enc, fit := encodeOrderList(page.Orders, budget)
			if fit < len(page.Orders) && limit > 1 {
				limit = max(min(fit, limit-1), 1)
				continue
			}
			return encodeReply(listReply{Type: "orders", Account: req.Account, Orders: enc, Next: page.Next,
				Total: page.Total, Remaining: page.Remaining, ID: req.ID}), nil
		}
	})
}

// encodeOrderList encodes os as list entries, and reports how many of the
// first fit in budget bytes (with the commas between them). It encodes
// them all, so that a caller sending the whole list needs no second pass.
func encodeOrderList(os []orders.Order, budget int) ([]json.RawMessage, int) {
	enc := make([]json.RawMessage, len(os))
	size, fit := 0, 0
	for i, o := range os {
		enc[i] = encodeReply(orderView("order", o))
		size += len(enc[i]) + 1
		if size <= budget {
			fit = i + 1
		}
	}
	return enc, fit
}

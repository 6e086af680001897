package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"sgw/gateway/mdclient"
	"sgw/refdata"
)

// orderSession is one trading session of the orders scenario: the
// transport that carries its orders to the gateway and their events back
// into its tracker. The scenario's sender (trader) is the same for every
// transport. Methods other than read may be called from any goroutine.
//
// The WebSocket session (wsOrderSession) and the FIX session
// (fixOrderSession, orders_fix.go: a FIX 4.4 initiator logged on to the
// gateway's broker acceptor, -fix-sessions of the -sessions) feed their
// trackers the same way.
type orderSession interface {
	// sendNew sends the new order o.
	sendNew(ctx context.Context, o *trackedOrder) error
	// sendCancel sends a cancel of o with client order id id.
	sendCancel(ctx context.Context, o *trackedOrder, id string) error
	// read reads the session's events into its tracker until ctx ends or
	// the connection fails.
	read(ctx context.Context)
	// close closes the connection.
	close()
}

// wsOrderSession is a trading session over the gateway's WebSocket
// (docs/PROTOCOL.md, "WebSocket orders"): an authenticated connection that
// receives the events of the orders it entered. It does not subscribe to
// the account's orders channel, which would bring every other session's
// events too (events of other prefixes are skipped all the same).
type wsOrderSession struct {
	mc     *mdclient.Client
	prefix string
	track  *orderTracker
	stats  *orderStats
}

var _ orderSession = (*wsOrderSession)(nil)

// wsOrderRequest is an order.new or order.cancel request. ID repeats the
// client order id so that errors which name no order (rate_limited,
// bad_order) still name the request.
type wsOrderRequest struct {
	Op          string        `json:"op"`
	ID          string        `json:"id"`
	ClOrdID     string        `json:"clOrdId"`
	OrigClOrdID string        `json:"origClOrdId,omitempty"`
	Account     string        `json:"account"`
	Symbol      string        `json:"symbol,omitempty"`
	Side        string        `json:"side,omitempty"`
	Type        string        `json:"type,omitempty"`
	Price       refdata.Price `json:"price,omitempty"`
	Qty         int64         `json:"qty,omitempty"`
}

// dialWSOrderSession connects with token and authenticates, failing with
// the gateway's reason when it refuses the token or the account.
func dialWSOrderSession(ctx context.Context, url, token, account, prefix string, track *orderTracker) (*wsOrderSession, error) {
	if token == "" {
		return nil, fmt.Errorf("%w: the orders scenario needs a token naming account %s (-token)", ErrConfig, account)
	}
	dctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	mc, _, err := mdclient.Dial(dctx, url, mdclient.Options{Token: token})
	if err != nil {
		return nil, fmt.Errorf("loadtest: trading session: %w", err)
	}
	err = mc.Send(dctx, map[string]any{"op": "auth", "token": token, "id": "auth"})
	for err == nil {
		var msgs []mdclient.Message
		if msgs, err = mc.Next(dctx); err != nil {
			break
		}
		for _, m := range msgs {
			switch {
			case m.Type == "auth" && m.OK:
				if !slices.Contains(m.Accounts, account) {
					err = fmt.Errorf("%w: the token does not name account %s", ErrConfig, account)
					break
				}
				return &wsOrderSession{mc: mc, prefix: prefix, track: track, stats: track.stats}, nil
			case m.Type == "error":
				err = fmt.Errorf("%w: authenticating for %s: %s: %s", ErrConfig, account, m.Code, m.Msg)
			}
		}
	}
	mc.Conn().CloseNow()
	return nil, fmt.Errorf("loadtest: trading session: %w", err)
}

func (s *wsOrderSession) sendNew(ctx context.Context, o *trackedOrder) error {
	side := "buy"
	if o.sell {
		side = "sell"
	}
	return s.mc.Send(ctx, wsOrderRequest{Op: "order.new", ID: o.id, ClOrdID: o.id, Account: o.account, Symbol: o.symbol,
		Side: side, Type: "limit", Price: o.price, Qty: o.qty})
}

func (s *wsOrderSession) sendCancel(ctx context.Context, o *trackedOrder, id string) error {
	return s.mc.Send(ctx, wsOrderRequest{Op: "order.cancel", ID: id, ClOrdID: id, OrigClOrdID: o.id, Account: o.account})
}

func (s *wsOrderSession) close() { s.mc.Conn().CloseNow() }

// read decodes the session's messages into its tracker.
func (s *wsOrderSession) read(ctx context.Context) {
	for {
		msgs, err := s.mc.Next(ctx)
		if err != nil {
			if ctx.Err() == nil && !errors.Is(err, context.Canceled) {
				s.stats.readErrs.Add(1)
				s.stats.violation("session_lost", "trading session: read: %v", err)
			}
			return
		}
		now := time.Now()
		for i := range msgs {
			s.handle(&msgs[i], now)
		}
	}
}

// handle passes one message to the tracker.
func (s *wsOrderSession) handle(m *mdclient.Message, now time.Time) {
	switch {
	case m.Type == "error":
		key := m.Ref
		if key == "" && len(m.ID) > 0 {
			_ = json.Unmarshal(m.ID, &key)
		}
		s.track.reject(key, m.Code)
	case m.Ch != "orders" || !strings.HasPrefix(m.ClOrdID, s.prefix):
		// Another session's order, or not an order event.
	case m.Type == "accepted":
		s.track.accepted(m.Ref, m.ClOrdID, now)
	case m.Type == "exec":
		s.track.exec(m.ClOrdID, m.ExecType, m.Status, m.ExecID, false, m.CumQty, now)
	case m.Type == "cancel_reject":
		s.track.cancelRejected(m.Ref)
	}
}

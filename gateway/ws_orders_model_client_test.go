package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"sgw/orders"
	"sgw/orders/orderstest"
)

// wsModelMsg is a server message as the model's clients read it
// (docs/PROTOCOL.md, "WebSocket orders"): its own JSON, not the server's
// types.
type wsModelMsg struct {
	Type        string          `json:"type"`
	Ch          string          `json:"ch"`
	ExecType    string          `json:"execType"`
	Ref         string          `json:"ref"`
	ClOrdID     string          `json:"clOrdId"`
	OrigClOrdID string          `json:"origClOrdId"`
	Account     string          `json:"account"`
	Status      string          `json:"status"`
	Price       string          `json:"price"`
	Qty         int64           `json:"qty"`
	CumQty      int64           `json:"cumQty"`
	LeavesQty   int64           `json:"leavesQty"`
	LastQty     int64           `json:"lastQty"`
	ExecID      string          `json:"execId"`
	Code        string          `json:"code"`
	Msg         string          `json:"msg"`
	ID          json.RawMessage `json:"id"`
	Orders      []wsModelMsg    `json:"orders"`
	Next        string          `json:"next"`
	Time        int64           `json:"time"`
	Trades      []wsModelTrade  `json:"trades"`
	Total       int             `json:"total"`
}

// wsModelTrade is an entry of an order.trades answer.
type wsModelTrade struct {
	ExecID string `json:"execId"`
	Qty    int64  `json:"qty"`
	CumQty int64  `json:"cumQty"`
}

// orderMsg reports whether m describes an order: an event of the orders
// channel, an order.status answer or an orders.list entry.
func (m *wsModelMsg) orderMsg() bool { return m.Ch == "orders" && m.OrigClOrdID != "" }

// wsModelGot is a message received on connection gen.
type wsModelGot struct {
	gen int
	m   wsModelMsg
}

// wsModelReq is a request a client sent, by its id.
type wsModelReq struct {
	id, gen        int
	kind           string // fresh reuse badid badfield cancel replace status list subscribe ping again trades
	clOrdID, orig  string
	body           map[string]any
	validClOrdID   bool
	answeredStatus bool // asked about with order.status at quiescence
}

// wsModelOrder is a client's view of an order.
type wsModelOrder struct {
	clOrdID, status        string
	price                  int64 // 0.0001 units
	qty, cumQty, leavesQty int64
}

// wsModelClient is a trading client over successive connections, numbered
// from 1 (gen). The test's goroutine sends and checks; each connection's
// reader goroutine appends what arrives to got, under mu, and closes
// notify.
type wsModelClient struct {
	t          *testing.T
	g          *wsModelGateway
	name, acct string
	gen        int
	conn       *websocket.Conn
	nextID     int
	reqs       map[int]*wsModelReq
	ids        []string         // valid client order ids of new orders and replaces: targets
	newIDs     []string         // valid client order ids of new orders, for reuse
	sentIDs    map[string]int   // valid client order ids sent
	newOn      map[string][]int // the connections each new order's id was sent on
	sentBodies []map[string]any

	mu     sync.Mutex
	got    []wsModelGot
	ended  map[int]error
	notify chan struct{}
}

func (c *wsModelClient) changed() {
	close(c.notify)
	c.notify = make(chan struct{})
}

// connect opens the next connection, subscribes to the account's orders
// and lists them, following every page.
func (c *wsModelClient) connect() {
	t := c.t
	t.Helper()
	if c.newOn == nil {
		c.newOn, c.ended = map[string][]int{}, map[int]error{}
	}
	tok, err := c.g.tokens.IssueFor("u-"+c.name, []string{c.acct}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsModelWait)
	defer cancel()
	h := http.Header{}
	h.Set("Authorization", "Bearer "+tok)
	conn, _, err := websocket.Dial(ctx, c.g.url, &websocket.DialOptions{HTTPHeader: h})
	if err != nil {
		t.Fatalf("%s: dial: %v", c.name, err)
	}
	conn.SetReadLimit(1 << 20)
	c.gen++
	c.conn = conn
	t.Cleanup(func() { conn.CloseNow() })
	go c.read(c.gen, conn)
	c.send(&wsModelReq{kind: "subscribe"}, map[string]any{"op": "subscribe", "channel": "orders", "accounts": []string{c.acct}})
	cursor := ""
	for {
		body := map[string]any{"op": "orders.list", "account": c.acct}
		if cursor != "" {
			body["cursor"] = cursor
		}
		r := c.send(&wsModelReq{kind: "list"}, body)
		a, ok := c.answer(r)
		if !ok || a.Next == "" {
			return
		}
		cursor = a.Next
	}
}

// read reads connection gen until it ends.
func (c *wsModelClient) read(gen int, conn *websocket.Conn) {
	for {
		_, b, err := conn.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			c.ended[gen] = err
			c.changed()
			c.mu.Unlock()
			return
		}
		for line := range strings.SplitSeq(string(b), "\n") {
			var m wsModelMsg
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				c.t.Errorf("%s: undecodable message %q: %v", c.name, line, err)
				continue
			}
			c.got = append(c.got, wsModelGot{gen: gen, m: m})
		}
		c.changed()
		c.mu.Unlock()
	}
}

// wait waits until ok holds of what arrived, or fails saying what.
func (c *wsModelClient) wait(what string, ok func(got []wsModelGot, ended map[int]error) bool, diag func() string) {
	c.t.Helper()
	deadline := time.After(wsModelWait)
	for {
		c.mu.Lock()
		got, ended, ch := c.got, c.ended, c.notify
		done := ok(got, ended)
		c.mu.Unlock()
		if done {
			return
		}
		select {
		case <-ch:
		case <-deadline:
			d := ""
			if diag != nil {
				d = diag()
			}
			c.t.Fatalf("%s: %s never happened (hung?) %s", c.name, what, d)
		}
	}
}

func (c *wsModelClient) dead() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.ended[c.gen]
	return ok
}

func (c *wsModelClient) waitDead() {
	c.wait(fmt.Sprintf("the end of connection %d", c.gen), func(_ []wsModelGot, ended map[int]error) bool {
		_, ok := ended[c.gen]
		return ok
	}, nil)
}

// send sends body as request r on the current connection, numbered with
// the client's next id, and returns r.
func (c *wsModelClient) send(r *wsModelReq, body map[string]any) *wsModelReq {
	c.nextID++
	r.id, r.gen, r.body = c.nextID, c.gen, body
	body["id"] = r.id
	c.reqs[r.id] = r
	b, err := json.Marshal(body)
	if err != nil {
		c.t.Fatal(err)
	}
	c.write(b)
	return r
}

// write writes one message; a connection that has ended is seen by its
// reader.
func (c *wsModelClient) write(b []byte) {
	ctx, cancel := context.WithTimeout(context.Background(), wsModelWait)
	defer cancel()
	_ = c.conn.Write(ctx, websocket.MessageText, b)
}

// answersOf returns the messages that echo r's id on r's connection.
func answersOf(got []wsModelGot, r *wsModelReq) []wsModelMsg {
	var out []wsModelMsg
	id := strconv.Itoa(r.id)
	for _, x := range got {
		if x.gen == r.gen && string(x.m.ID) == id {
			out = append(out, x.m)
		}
	}
	return out
}

// answer waits for r's answer; false if its connection ended first.
func (c *wsModelClient) answer(r *wsModelReq) (wsModelMsg, bool) {
	var a wsModelMsg
	var ok bool
	c.wait(fmt.Sprintf("the answer to request %d (%s)", r.id, r.kind), func(got []wsModelGot, ended map[int]error) bool {
		if as := answersOf(got, r); len(as) > 0 {
			a, ok = as[0], true
			return true
		}
		_, gone := ended[r.gen]
		return gone
	}, nil)
	return a, ok
}

// marker sends a ping and waits for its pong: every request the client
// sent before has been handled.
func (c *wsModelClient) marker() {
	c.answer(c.send(&wsModelReq{kind: "ping"}, map[string]any{"op": "ping"}))
}

func modelPrice(rng *rand.Rand) string { return strconv.Itoa(1690+rng.IntN(21)) + ".00" }

// orderBody is a new order's request.
func (c *wsModelClient) orderBody(id string, rng *rand.Rand) map[string]any {
	return map[string]any{"op": "order.new", "clOrdId": id, "account": c.acct, "symbol": "600519.SH", "side": "buy",
		"type": "limit", "price": modelPrice(rng), "qty": 100 * (1 + rng.IntN(5))}
}

// sendOrder sends an order request with client order id id, noting it.
func (c *wsModelClient) sendOrder(r *wsModelReq, body map[string]any) *wsModelReq {
	r.clOrdID, _ = body["clOrdId"].(string)
	r.orig, _ = body["origClOrdId"].(string)
	r.validClOrdID = r.kind != "badid"
	if r.validClOrdID {
		c.sentIDs[r.clOrdID]++
	}
	if body["op"] == "order.new" && r.validClOrdID {
		c.newOn[r.clOrdID] = append(c.newOn[r.clOrdID], c.gen)
	}
	c.sentBodies = append(c.sentBodies, body)
	return c.send(r, body)
}

// newOrder sends a new order: a fresh client order id, a reused one, an
// invalid one, or a bad field.
func (c *wsModelClient) newOrder(rng *rand.Rand, step int) {
	id := fmt.Sprintf("%s-o%d", c.name, step)
	kind := "fresh"
	body := c.orderBody(id, rng)
	switch r := rng.IntN(20); {
	case r < 2 && len(c.newIDs) > 0:
		kind = "reuse"
		body["clOrdId"] = c.newIDs[rng.IntN(len(c.newIDs))]
	case r == 2:
		kind = "badid"
		body["clOrdId"] = strings.Repeat("L", 33+rng.IntN(40))
	case r == 3:
		kind = "badid"
		body["clOrdId"] = "bad id!" + strconv.Itoa(step)
	case r == 4:
		kind = "badfield"
		body["qty"] = 0
	case r == 5:
		kind = "badfield"
		body["side"] = "short"
	case r == 6:
		kind = "badfield"
		body["price"] = "17oo"
	case r == 7:
		kind = "badfield"
		delete(body, "symbol")
	}
	if kind == "fresh" {
		c.newIDs = append(c.newIDs, id)
		c.ids = append(c.ids, id)
	}
	c.sendOrder(&wsModelReq{kind: kind}, body)
}

// target returns an order to cancel or replace: the client's own, one of
// another client of its account, or none.
func (c *wsModelClient) target(rng *rand.Rand, clients []*wsModelClient) string {
	var ids []string
	for _, o := range clients {
		if o.acct == c.acct {
			ids = append(ids, o.ids...)
		}
	}
	if len(ids) == 0 || rng.IntN(10) == 0 {
		return "nosuch"
	}
	return ids[rng.IntN(len(ids))]
}

func (c *wsModelClient) cancel(rng *rand.Rand, step int, clients []*wsModelClient) {
	c.sendOrder(&wsModelReq{kind: "cancel"}, map[string]any{"op": "order.cancel", "clOrdId": fmt.Sprintf("%s-c%d", c.name, step),
		"origClOrdId": c.target(rng, clients), "account": c.acct})
}

func (c *wsModelClient) replace(rng *rand.Rand, step int, clients []*wsModelClient) {
	id := fmt.Sprintf("%s-r%d", c.name, step)
	c.ids = append(c.ids, id)
	c.sendOrder(&wsModelReq{kind: "replace"}, map[string]any{"op": "order.replace", "clOrdId": id, "origClOrdId": c.target(rng, clients),
		"account": c.acct, "price": modelPrice(rng), "qty": 100 * (1 + rng.IntN(5))})
}

func (c *wsModelClient) status(rng *rand.Rand, clients []*wsModelClient) {
	id := c.target(rng, clients)
	c.send(&wsModelReq{kind: "status", clOrdID: id, validClOrdID: true}, map[string]any{"op": "order.status", "clOrdId": id, "account": c.acct})
}

func (c *wsModelClient) list() {
	c.send(&wsModelReq{kind: "list"}, map[string]any{"op": "orders.list", "account": c.acct})
}

// again sends an order request sent before once more, under a new id.
func (c *wsModelClient) again(rng *rand.Rand) {
	if len(c.sentBodies) == 0 {
		return
	}
	body := map[string]any{}
	for k, v := range c.sentBodies[rng.IntN(len(c.sentBodies))] {
		body[k] = v
	}
	id, _ := body["clOrdId"].(string)
	if body["op"] == "order.new" {
		c.newOn[id] = append(c.newOn[id], c.gen)
	}
	c.send(&wsModelReq{kind: "again", clOrdID: id}, body)
}

// oversized sends a message over the size limit: the server closes the
// connection with 1009.
func (c *wsModelClient) oversized() {
	c.write([]byte(`{"op":"ping","pad":"` + strings.Repeat("x", 5000) + `"}`))
	c.waitDead()
	c.mu.Lock()
	err := c.ended[c.gen]
	c.mu.Unlock()
	if s := websocket.CloseStatus(err); s != websocket.StatusMessageTooBig {
		c.t.Errorf("%s: an oversized message closed the connection with %v (%v), want 1009", c.name, s, err)
	}
	c.connect()
}

// dropMidRequest sends an order request and drops the connection at once.
func (c *wsModelClient) dropMidRequest(rng *rand.Rand, step int, clients []*wsModelClient) {
	if rng.IntN(2) == 0 {
		id := fmt.Sprintf("%s-d%d", c.name, step)
		c.newIDs = append(c.newIDs, id)
		c.ids = append(c.ids, id)
		c.sendOrder(&wsModelReq{kind: "fresh"}, c.orderBody(id, rng))
	} else {
		c.sendOrder(&wsModelReq{kind: "cancel"}, map[string]any{"op": "order.cancel", "clOrdId": fmt.Sprintf("%s-dc%d", c.name, step),
			"origClOrdId": c.target(rng, clients), "account": c.acct})
	}
	c.reconnect()
}

// reconnect drops the connection and opens the next.
func (c *wsModelClient) reconnect() {
	c.conn.CloseNow()
	c.waitDead()
	c.connect()
}

// parsePrice reads a decimal price string into 0.0001 units.
func parsePrice(s string) int64 {
	whole, frac, _ := strings.Cut(s, ".")
	frac = (frac + "0000")[:4]
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return w*10000 + f
}

func modelOrderOf(m wsModelMsg) wsModelOrder {
	return wsModelOrder{clOrdID: m.ClOrdID, status: m.Status, price: parsePrice(m.Price), qty: m.Qty, cumQty: m.CumQty, leavesQty: m.LeavesQty}
}

// view folds what the client received into its view of its account's
// orders, by the id each was entered with: each order message (event,
// status answer, list entry) is the order's state, the last one received
// winning, as a trading app applying what it receives in order has it.
// The server never sends a list entry or status answer after a newer
// event of its order on the same connection (stalePages counts them).
func (c *wsModelClient) view(got []wsModelGot) map[string]wsModelOrder {
	out := map[string]wsModelOrder{}
	for _, x := range got {
		ms := []wsModelMsg{x.m}
		if x.m.Type == "orders" {
			ms = x.m.Orders
		}
		for _, m := range ms {
			if !m.orderMsg() || m.Account != c.acct {
				continue
			}
			out[m.OrigClOrdID] = modelOrderOf(m)
		}
	}
	return out
}

// stalePages counts the list entries and status answers that came after
// a newer event of their order on their connection (see view).
func stalePages(got []wsModelGot) int {
	n := 0
	last := map[string]wsModelGot{}
	for _, x := range got {
		ms := []wsModelMsg{x.m}
		if x.m.Type == "orders" {
			ms = x.m.Orders
		}
		for _, m := range ms {
			if !m.orderMsg() {
				continue
			}
			if m.Type != "order" && m.Type != "status" {
				last[m.OrigClOrdID] = wsModelGot{gen: x.gen, m: m}
			} else if e, ok := last[m.OrigClOrdID]; ok && e.gen == x.gen && m.Time < e.m.Time {
				n++
			}
		}
	}
	return n
}

// diff compares the client's view with the manager's orders.
func (c *wsModelClient) diff(got []wsModelGot) []string {
	v := c.view(got)
	var out []string
	for _, o := range c.g.accountOrders(c.acct) {
		want := wsModelOrder{clOrdID: o.ClOrdID, status: string(o.Status), price: int64(o.Price), qty: o.Qty, cumQty: o.CumQty, leavesQty: o.LeavesQty}
		if g, ok := v[o.OrigClOrdID]; !ok || g != want {
			out = append(out, fmt.Sprintf("order %s: client has %+v (known %v), gateway %+v", o.OrigClOrdID, g, ok, want))
		}
		delete(v, o.OrigClOrdID)
	}
	for id, o := range v {
		out = append(out, fmt.Sprintf("client has order %s (%+v); the gateway has none", id, o))
	}
	slices.Sort(out)
	return out
}

// converge waits until the client's view equals the manager's orders.
func (c *wsModelClient) converge() {
	c.t.Helper()
	var last []wsModelGot
	c.wait("agreement with the gateway", func(got []wsModelGot, _ map[int]error) bool {
		last = got
		return len(c.diff(got)) == 0
	}, func() string {
		c.mu.Lock()
		why, dead := c.ended[c.gen]
		c.mu.Unlock()
		d := c.diff(last)
		for _, l := range d {
			if id, _, ok := strings.Cut(strings.TrimPrefix(l, "order "), ":"); ok {
				d = append(d, c.history(last, -1, id))
			}
		}
		return fmt.Sprintf("(connection %d ended: %v %v)\n%s", c.gen, dead, why, strings.Join(d, "\n"))
	})
}

// allowed reports whether a is an answer r's kind allows.
func allowed(r *wsModelReq, a wsModelMsg) bool {
	isErr := func(codes ...string) bool { return a.Type == "error" && slices.Contains(codes, a.Code) }
	accepted := a.Type == "accepted" && a.Ref == r.clOrdID
	switch r.kind {
	case "fresh":
		return accepted && a.ClOrdID == r.clOrdID || isErr(orders.CodeStopping)
	case "reuse":
		return accepted || isErr("risk.duplicate_clordid", orders.CodeStopping)
	case "badid":
		return isErr(orders.CodeBadID) && a.Ref == ""
	case "badfield":
		return isErr(codeBadOrder) && a.Ref == r.clOrdID
	case "cancel":
		return accepted || isErr(orders.CodeUnknownOrder, orders.CodeRequestPending, orders.CodeStopping) && a.Ref == r.clOrdID
	case "replace":
		return accepted || a.Type == "error" && a.Ref == r.clOrdID &&
			(strings.HasPrefix(a.Code, "risk.") || slices.Contains([]string{orders.CodeUnknownOrder, orders.CodeRequestPending, orders.CodeStopping}, a.Code))
	case "again":
		return accepted || a.Type == "error" && a.Code != "bad_json"
	case "status":
		return a.Type == "status" && a.Ref == r.clOrdID || isErr(orders.CodeUnknownOrder) && a.Ref == r.clOrdID
	case "list":
		return a.Type == "orders"
	case "trades":
		return a.Type == "trades" && a.ClOrdID == r.clOrdID
	case "subscribe":
		return a.Type == "subscribed"
	case "ping":
		return a.Type == "pong"
	}
	return false
}

// checkAnswers checks that every request got one answer of a kind it
// allows, or, on a connection that ended first, at most one; a new order,
// cancel or replace left unanswered so is asked about with order.status
// on the current connection, whose answer must be the manager's.
func (c *wsModelClient) checkAnswers() {
	t := c.t
	c.mu.Lock()
	got := c.got
	c.mu.Unlock()
	var ask []*wsModelReq
	for _, id := range slices.Sorted(maps.Keys(c.reqs)) {
		r := c.reqs[id]
		as := answersOf(got, r)
		switch {
		case len(as) > 1:
			t.Errorf("%s: request %d (%s %v) answered %d times: %+v", c.name, r.id, r.kind, r.body, len(as), as)
		case len(as) == 1 && !allowed(r, as[0]):
			t.Errorf("%s: request %d (%s %v) answered %+v", c.name, r.id, r.kind, r.body, as[0])
		case len(as) == 0 && r.gen == c.gen:
			t.Errorf("%s: request %d (%s %v) never answered on its live connection", c.name, r.id, r.kind, r.body)
		case len(as) == 0 && r.validClOrdID && r.clOrdID != "" && r.kind != "status" && r.kind != "badfield":
			ask = append(ask, r)
		}
	}
	for _, r := range ask {
		q := c.send(&wsModelReq{kind: "status", clOrdID: r.clOrdID, validClOrdID: true}, map[string]any{"op": "order.status", "clOrdId": r.clOrdID, "account": c.acct})
		a, ok := c.answer(q)
		if !ok {
			t.Fatalf("%s: the connection ended before the status answer", c.name)
		}
		o, err := c.g.m.Status(c.acct, r.clOrdID)
		switch {
		case err != nil && !(a.Type == "error" && a.Code == orders.CodeUnknownOrder):
			t.Errorf("%s: status of %s (request %d unanswered, %s): %+v; the gateway has none", c.name, r.clOrdID, r.id, r.kind, a)
		case err == nil && (a.Type != "status" || a.OrigClOrdID != o.OrigClOrdID || a.Status != string(o.Status) || a.CumQty != o.CumQty):
			t.Errorf("%s: status of %s (request %d unanswered, %s): %+v; the gateway has %+v", c.name, r.clOrdID, r.id, r.kind, a, o)
		}
	}
}

// checkTrades checks the events each connection saw of each order: its
// cumQty grows by each trade's lastQty and by nothing else (no event
// lost, none out of order), nothing non-terminal follows a terminal
// status, and on
// a connection that saw the order accepted and is still open, the trades
// sum to the manager's cumQty.
func (c *wsModelClient) checkTrades() {
	t := c.t
	c.mu.Lock()
	got := c.got
	c.mu.Unlock()
	type seen struct {
		events   int // events seen
		cum      int64
		terminal string
		accepted bool
		traded   int64
	}
	byGen := map[int]map[string]*seen{}
	for _, x := range got {
		ms := []wsModelMsg{x.m}
		if x.m.Type == "orders" {
			ms = x.m.Orders
		}
		if byGen[x.gen] == nil {
			byGen[x.gen] = map[string]*seen{}
		}
		for _, m := range ms {
			if !m.orderMsg() || m.Type == "order" || m.Type == "status" {
				// A list page or a status answer is the order as it
				// is when read: events of earlier changes may follow
				// it.
				continue
			}
			s := byGen[x.gen][m.OrigClOrdID]
			if s == nil {
				s = &seen{}
				byGen[x.gen][m.OrigClOrdID] = s
			}
			want := s.cum
			if m.Type == "exec" && m.ExecType == "trade" {
				want += m.LastQty
			}
			if s.events > 0 && m.CumQty != want {
				t.Errorf("%s: connection %d: order %s's cumQty went from %d to %d (%s %s, lastQty %d): an event lost, or out of order\n%s",
					c.name, x.gen, m.OrigClOrdID, s.cum, m.CumQty, m.Type, m.ExecType, m.LastQty, c.history(got, x.gen, m.OrigClOrdID))
			}
			s.events++
			term := orders.Status(m.Status).Terminal()
			if s.terminal != "" && !term {
				t.Errorf("%s: connection %d: order %s is %s after %s: %+v\n%s", c.name, x.gen, m.OrigClOrdID, m.Status, s.terminal, m,
					c.history(got, x.gen, m.OrigClOrdID))
			}
			if term && s.terminal == "" {
				s.terminal = m.Status
			}
			s.cum = m.CumQty
			if m.Type == "accepted" && m.Ref == m.OrigClOrdID {
				s.accepted = true
			}
			if m.Type == "exec" && m.ExecType == "trade" {
				s.traded += m.LastQty
			}
		}
	}
	for id, s := range byGen[c.gen] {
		if !s.accepted {
			continue
		}
		if o, err := c.g.m.Status(c.acct, id); err == nil && o.CumQty != s.traded {
			t.Errorf("%s: connection %d saw %d shares of order %s traded; the gateway has %d", c.name, c.gen, s.traded, id, o.CumQty)
		}
	}
}

// history lists what connection gen received of order orig, for a
// failure's message.
func (c *wsModelClient) history(got []wsModelGot, gen int, orig string) string {
	var b strings.Builder
	for _, x := range got {
		ms := []wsModelMsg{x.m}
		if x.m.Type == "orders" {
			ms = x.m.Orders
		}
		for _, m := range ms {
			if (x.gen == gen || gen < 0) && m.OrigClOrdID == orig {
				fmt.Fprintf(&b, "\tconn %d: %s %s ref=%s clOrdId=%s status=%s cum=%d leaves=%d id=%s code=%s\n", x.gen, m.Type, m.ExecType, m.Ref, m.ClOrdID,
					m.Status, m.CumQty, m.LeavesQty, m.ID, m.Code)
			}
		}
	}
	return b.String()
}

// modelFills returns the venue's fills by the execution id a client knows
// them by ("core:V<N>"), and each order's (by OrderID) in the order made.
func modelFills(v *orderstest.Venue) (map[string]orderstest.Fill, map[string][]orderstest.Fill) {
	byID, byOrder := map[string]orderstest.Fill{}, map[string][]orderstest.Fill{}
	for _, f := range v.Fills() {
		byID[fmt.Sprintf("%s:V%d", orderstest.Upstream, f.N)] = f
		byOrder[f.OrderID] = append(byOrder[f.OrderID], f)
	}
	return byID, byOrder
}

// checkExecIDs checks the execId of every trade event the client got: it
// names a fill the venue made of that order, with the event's lastQty and
// cumQty, and no connection got the same trade twice.
func (c *wsModelClient) checkExecIDs(v *orderstest.Venue) {
	byID, _ := modelFills(v)
	c.mu.Lock()
	got := c.got
	c.mu.Unlock()
	seen := map[int]map[string]bool{}
	for _, x := range got {
		m := x.m
		if m.Type != "exec" || m.ExecType != "trade" {
			continue
		}
		f, ok := byID[m.ExecID]
		o, err := c.g.m.Status(c.acct, m.OrigClOrdID)
		switch {
		case !ok || err != nil:
			c.t.Errorf("%s: connection %d: trade event of %s has execId %q, no fill of the venue's (%v)", c.name, x.gen, m.OrigClOrdID, m.ExecID, err)
		case f.OrderID != o.OrderID || f.Last != m.LastQty || f.CumQty != m.CumQty:
			c.t.Errorf("%s: connection %d: trade event of %s (execId %s, lastQty %d, cumQty %d); the venue's fill %+v of order %s",
				c.name, x.gen, m.OrigClOrdID, m.ExecID, m.LastQty, m.CumQty, f, o.OrderID)
		}
		if seen[x.gen] == nil {
			seen[x.gen] = map[string]bool{}
		}
		if seen[x.gen][m.ExecID] {
			c.t.Errorf("%s: connection %d got trade %s twice", c.name, x.gen, m.ExecID)
		}
		seen[x.gen][m.ExecID] = true
	}
}

// checkOrderTrades asks order.trades of every order of the client's
// account, two trades a page, by its current client order id or its
// original one in turn, and checks that it lists the venue's fills of the
// order, in the order made, each with its execId, quantity and cumQty.
func (c *wsModelClient) checkOrderTrades(v *orderstest.Venue) {
	_, byOrder := modelFills(v)
	for i, o := range c.g.accountOrders(c.acct) {
		id := o.ClOrdID
		if i%2 == 1 {
			id = o.OrigClOrdID
		}
		var got []wsModelTrade
		cursor := ""
		for page := 0; ; page++ {
			if page > len(v.Fills()) {
				c.t.Fatalf("%s: order.trades of %s: %d pages of at most 2 trades and still a next, of %d fills in all", c.name, id, page, len(v.Fills()))
			}
			body := map[string]any{"op": "order.trades", "account": c.acct, "clOrdId": id, "limit": 2}
			if cursor != "" {
				body["cursor"] = cursor
			}
			a, ok := c.answer(c.send(&wsModelReq{kind: "trades", clOrdID: id, validClOrdID: true}, body))
			if !ok {
				c.t.Fatalf("%s: the connection ended before the order.trades answer", c.name)
			}
			if a.Type != "trades" || len(a.Trades) > 2 {
				c.t.Fatalf("%s: order.trades of %s answered %+v", c.name, id, a)
			}
			got = append(got, a.Trades...)
			if a.Next == "" {
				if a.Total != len(got) {
					c.t.Errorf("%s: order.trades of %s: total %d, %d listed", c.name, id, a.Total, len(got))
				}
				break
			}
			cursor = a.Next
		}
		var want []wsModelTrade
		if o.OrderID != "" {
			for _, f := range byOrder[o.OrderID] {
				want = append(want, wsModelTrade{ExecID: fmt.Sprintf("%s:V%d", orderstest.Upstream, f.N), Qty: f.Last, CumQty: f.CumQty})
			}
		}
		if !slices.Equal(got, want) {
			c.t.Errorf("%s: order.trades of %s (order %s) is %+v; the venue filled it %+v", c.name, id, o.OrderID, got, want)
		}
	}
}

package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"sgw/auth"
	"sgw/gateway/web"
	"sgw/orderbook"
	"sgw/refdata"
)

// fakeGateway stands in for the gateway in the browser tests: it serves
// the page, GET /api/v1/instruments and a /ws that speaks docs/PROTOCOL.md
// for book, quote and trades, and minimally for orders (see "Orders" below).
// Its books change only when the test calls Step, so the test decides what
// the page sees; CorruptNext, DropNext and Disconnect inject the faults the
// page must recover from.
//
// All methods are safe from any goroutine; mu guards every field below it.
type fakeGateway struct {
	instruments []instrumentJSON
	ctx         context.Context // cancelled by Close: ends every connection
	cancel      context.CancelFunc
	verifier    *auth.Verifier // signs the tokens of Token and checks them

	mu          sync.Mutex
	books       map[string]*fakeBook
	conns       map[*fakeConn]struct{}
	ops         []string // client requests in arrival order, see opString
	tokens      []string // ?token= of each /ws upgrade
	corruptNext bool     // corrupt the checksum of the next book update sent
	dropNext    bool     // skip the next book update sent (a seq gap)
	corrupted   uint64   // seq whose checksum was corrupted
	dropped     uint64   // seq that was dropped
	multiFrames int      // frames that carried more than one message
	venueReject string   // when set, the venue rejects every new order with this Text
	holdCancels bool     // when set, cancels are accepted and left in flight

	orders    map[string]*fakeOrder // account + "\x00" + every clOrdId of the order
	orderList []*fakeOrder          // in the order they were entered
	execs     int                   // trades made: the last one's execId is fake:E<execs>
	accounts  map[string]*fakeAccount
}

// fakeAccount is an account's cash and positions, as the account request
// shows them: every account starts with fakeCash and no shares; a fill of
// a buy pays for it and adds shares bought today, a fill of a sell is
// paid. The fake holds no cash for working orders (reserved is 0).
type fakeAccount struct {
	cash   refdata.Price
	bought map[string]int64 // symbol -> shares bought today
}

// fakeCash is each account's cash before it trades: 1,000,000.00.
const fakeCash = refdata.Price(1_000_000 * refdata.PriceScale)

// account returns the account's state, made on first use. g.mu must be held.
func (g *fakeGateway) account(id string) *fakeAccount {
	a := g.accounts[id]
	if a == nil {
		a = &fakeAccount{cash: fakeCash, bought: map[string]int64{}}
		g.accounts[id] = a
	}
	return a
}

// accountMsg is the answer to the account request (PROTOCOL.md,
// "Account: cash and positions").
type accountMsg struct {
	Type       string            `json:"type"`
	Account    string            `json:"account"`
	Cash       refdata.Price     `json:"cash"`
	Reserved   refdata.Price     `json:"reserved"`
	OpenOrders int               `json:"openOrders"`
	Credit     bool              `json:"credit"`
	Killed     bool              `json:"killed"`
	Positions  []accountPosition `json:"positions"`
	ID         *int64            `json:"id,omitempty"`
}

type accountPosition struct {
	Symbol      string `json:"symbol"`
	Sellable    int64  `json:"sellable"`
	Reserved    int64  `json:"reserved"`
	BoughtToday int64  `json:"boughtToday"`
}

// instrumentJSON is one entry of GET /api/v1/instruments, as package
// gateway answers it.
type instrumentJSON struct {
	refdata.Instrument
	LimitDown refdata.Price `json:"limitDown"`
	LimitUp   refdata.Price `json:"limitUp"`
}

// fakeBook is the full book of one symbol and every top-maxDepth view since
// the first, so that any resume can be answered.
type fakeBook struct {
	inst       instrumentJSON
	rng        *rand.Rand
	bids, asks map[refdata.Price]int64
	seq        uint64
	firstSeq   uint64     // seq of views[0]
	views      []bookView // views[i] is the book after seq firstSeq+i
	last       refdata.Price
	volume     int64
	turnover   int64 // units of 0.0001
	clock      int64 // ns since midnight
	lastQuote  string
}

type bookView struct{ bids, asks []orderbook.Level }

// fakeConn is one /ws client: its outbound queue, subscriptions and token.
type fakeConn struct {
	out      chan string
	cancel   context.CancelFunc
	book     map[string]int // symbol -> subscribed depth
	quote    map[string]bool
	trades   map[string]bool
	claims   *auth.Claims    // nil until a token verified
	watching map[string]bool // accounts whose orders channel it subscribed
}

const fakeMaxDepth = 20

// serveFake starts a fake gateway on an httptest server, both closed when
// the test ends (the fake first: that ends its WebSocket handlers, which
// the server's Close waits for).
func serveFake(t *testing.T) (*fakeGateway, *httptest.Server) {
	t.Helper()
	g := newFakeGateway(t)
	srv := httptest.NewServer(g.Handler())
	t.Cleanup(srv.Close)
	t.Cleanup(g.Close)
	return g, srv
}

func newFakeGateway(t *testing.T) *fakeGateway {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	verifier, err := auth.New(auth.Config{Secret: "fake-gateway-secret-of-32-bytes-or-more"})
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{verifier: verifier, ctx: ctx, cancel: cancel, books: map[string]*fakeBook{},
		conns: map[*fakeConn]struct{}{}, orders: map[string]*fakeOrder{}, accounts: map[string]*fakeAccount{}}
	for i, in := range []refdata.Instrument{
		{Symbol: "600519.SH", Name: "Kweichow Moutai", Board: refdata.BoardMain, PrevClose: 17000000},
		{Symbol: "000001.SZ", Name: "Ping An Bank", Board: refdata.BoardMain, PrevClose: 115000},
	} {
		if err := in.Validate(); err != nil {
			t.Fatal(err)
		}
		lo, hi := in.Band()
		ij := instrumentJSON{Instrument: in, LimitDown: lo, LimitUp: hi}
		g.instruments = append(g.instruments, ij)
		g.books[in.Symbol] = newFakeBook(ij, uint64(1000*(i+1)))
	}
	return g
}

func newFakeBook(inst instrumentJSON, seq uint64) *fakeBook {
	b := &fakeBook{
		inst: inst, rng: rand.New(rand.NewPCG(seq, 7)),
		bids: map[refdata.Price]int64{}, asks: map[refdata.Price]int64{},
		seq: seq, firstSeq: seq, last: inst.PrevClose, clock: 34200 * 1e9, // 09:30:00
	}
	tick := inst.Tick
	for i := range 25 {
		b.bids[inst.PrevClose-tick*refdata.Price(i+1)] = int64(1+b.rng.IntN(30)) * 100
		b.asks[inst.PrevClose+tick*refdata.Price(i+1)] = int64(1+b.rng.IntN(30)) * 100
	}
	b.views = []bookView{b.view()}
	return b
}

// Handler routes the page, the instruments and /ws.
func (g *fakeGateway) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", web.Handler())
	mux.HandleFunc("GET /api/v1/instruments", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if err := json.NewEncoder(w).Encode(g.instruments); err != nil {
			return
		}
	})
	mux.HandleFunc("/ws", g.serveWS)
	return mux
}

// Close ends every connection; call it before closing the HTTP server.
func (g *fakeGateway) Close() { g.cancel() }

// ---------------------------------------------------------------------------
// Book state.

// sorted returns the best n levels of one side.
func sorted(side map[refdata.Price]int64, bid bool, n int) []orderbook.Level {
	out := make([]orderbook.Level, 0, len(side))
	for p, q := range side {
		out = append(out, orderbook.Level{Price: p, Qty: q})
	}
	slices.SortFunc(out, func(a, b orderbook.Level) int {
		if bid {
			return int(b.Price - a.Price)
		}
		return int(a.Price - b.Price)
	})
	return out[:min(n, len(out))]
}

func (b *fakeBook) view() bookView {
	return bookView{bids: sorted(b.bids, true, fakeMaxDepth), asks: sorted(b.asks, false, fakeMaxDepth)}
}

func (b *fakeBook) viewAt(seq uint64) bookView { return b.views[seq-b.firstSeq] }

// trade is a trade print of one step.
type trade struct {
	price refdata.Price
	qty   int64
}

// step changes the book by one event: a new or larger order, a cancel, or a
// trade at the touch. It keeps at least 22 levels a side so that removals
// near the top pull deeper levels into every subscriber's depth.
func (b *fakeBook) step() *trade {
	tick := b.inst.Tick
	b.clock += int64(50+b.rng.IntN(400)) * 1e6
	bid := b.rng.IntN(2) == 0
	side, other := b.bids, b.asks
	if !bid {
		side, other = b.asks, b.bids
	}
	best := sorted(side, bid, 1)[0].Price
	away := func(p refdata.Price, k int) refdata.Price { // k ticks away from the touch
		if bid {
			return p - tick*refdata.Price(k)
		}
		return p + tick*refdata.Price(k)
	}
	r := b.rng.IntN(100)
	switch {
	case r < 40 || len(side) < 22: // add, sometimes improving the touch
		p := away(best, b.rng.IntN(14)-1)
		if opp := sorted(other, !bid, 1)[0].Price; (bid && p >= opp) || (!bid && p <= opp) {
			p = best
		}
		side[p] += int64(1+b.rng.IntN(20)) * 100
		if len(side) < 22 {
			worst := sorted(side, bid, len(side))[len(side)-1].Price
			side[away(worst, 1)] = int64(1+b.rng.IntN(30)) * 100
		}
	case r < 65: // cancel some or all of a level in the top 12
		lv := sorted(side, bid, 12)
		l := lv[b.rng.IntN(len(lv))]
		if cut := int64(1+b.rng.IntN(int(l.Qty/100))) * 100; cut >= l.Qty {
			delete(side, l.Price)
		} else {
			side[l.Price] = l.Qty - cut
		}
	default: // an aggressor takes part or all of the touch on this side
		q := min(side[best], int64(1+b.rng.IntN(10))*100)
		if side[best] -= q; side[best] == 0 {
			delete(side, best)
		}
		b.last = best
		b.volume += q
		b.turnover += int64(best) * q
		return &trade{price: best, qty: q}
	}
	return nil
}

// ---------------------------------------------------------------------------
// Messages, as PROTOCOL.md defines them.

// wireLevels converts levels to their wire form, never nil (JSON []).
func wireLevels(ls []orderbook.Level) []wireLevel {
	out := make([]wireLevel, 0, len(ls))
	for _, l := range ls {
		out = append(out, wireLevel(l))
	}
	return out
}

type bookMsg struct {
	Ch       string      `json:"ch"`
	Sym      string      `json:"sym"`
	Type     string      `json:"type"`
	Seq      uint64      `json:"seq"`
	Depth    int         `json:"depth,omitempty"`
	Bids     []wireLevel `json:"bids"`
	Asks     []wireLevel `json:"asks"`
	Checksum uint32      `json:"checksum"`
}

type quoteMsg struct {
	Ch        string        `json:"ch"`
	Sym       string        `json:"sym"`
	Seq       uint64        `json:"seq"`
	Bid       *wireLevel    `json:"bid,omitempty"`
	Ask       *wireLevel    `json:"ask,omitempty"`
	Last      refdata.Price `json:"last"`
	Volume    int64         `json:"volume"`
	Turnover  refdata.Price `json:"turnover"`
	LimitUp   refdata.Price `json:"limitUp"`
	LimitDown refdata.Price `json:"limitDown"`
	State     string        `json:"state"`
}

type tradeMsg struct {
	Ch    string        `json:"ch"`
	Sym   string        `json:"sym"`
	Seq   uint64        `json:"seq"`
	Price refdata.Price `json:"price"`
	Qty   int64         `json:"qty"`
	Time  int64         `json:"time"`
}

type answerMsg struct {
	Type    string   `json:"type"`
	Channel string   `json:"channel,omitempty"`
	Symbols []string `json:"symbols,omitempty"`
	Depth   int      `json:"depth,omitempty"`
	ID      *int64   `json:"id,omitempty"`
	Code    string   `json:"code,omitempty"`
	Msg     string   `json:"msg,omitempty"`
}

// clientMsg is a client request.
type clientMsg struct {
	Op      string            `json:"op"`
	Channel string            `json:"channel"`
	Symbols []string          `json:"symbols"`
	Depth   int               `json:"depth"`
	ID      *int64            `json:"id"`
	Resume  map[string]uint64 `json:"resume"`
	// Checksums are the client's copies' checksums at their resume seqs.
	Checksums map[string]uint32 `json:"checksums"`

	// auth
	Token string `json:"token"`
	// subscribe orders, order.*, orders.list
	Accounts    []string `json:"accounts"`
	Account     string   `json:"account"`
	ClOrdID     string   `json:"clOrdId"`
	OrigClOrdID string   `json:"origClOrdId"`
	Symbol      string   `json:"symbol"`
	Side        string   `json:"side"`
	Type        string   `json:"type"`
	Price       string   `json:"price"`
	Qty         int64    `json:"qty"`
	// orders.list paging
	Cursor string `json:"cursor"`
	Limit  int    `json:"limit"`
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // only the test's own message types are marshalled
	}
	return string(b)
}

// checksumRows is the checksum depth of a subscription: 5 for depth 5, else 10.
func checksumRows(depth int) int {
	if depth == 5 {
		return 5
	}
	return 10
}

func snapshotMsg(sym string, seq uint64, v bookView, depth int) bookMsg {
	bids, asks := v.bids[:min(depth, len(v.bids))], v.asks[:min(depth, len(v.asks))]
	return bookMsg{Ch: "book", Sym: sym, Type: "snapshot", Seq: seq, Depth: depth,
		Bids: wireLevels(bids), Asks: wireLevels(asks), Checksum: orderbook.Checksum(bids, asks, checksumRows(depth))}
}

// sideDiff lists the changes that turn the best depth levels of before into
// those of after: new or changed levels, then removed ones (qty 0).
func sideDiff(before, after []orderbook.Level, depth int) []wireLevel {
	before, after = before[:min(depth, len(before))], after[:min(depth, len(after))]
	out := []wireLevel{}
	had := map[refdata.Price]int64{}
	for _, l := range before {
		had[l.Price] = l.Qty
	}
	has := map[refdata.Price]bool{}
	for _, l := range after {
		has[l.Price] = true
		if q, ok := had[l.Price]; !ok || q != l.Qty {
			out = append(out, wireLevel(l))
		}
	}
	for _, l := range before {
		if !has[l.Price] {
			out = append(out, wireLevel{Price: l.Price})
		}
	}
	return out
}

func updateMsg(sym string, seq uint64, before, after bookView, depth int) bookMsg {
	n := checksumRows(depth)
	return bookMsg{Ch: "book", Sym: sym, Type: "update", Seq: seq,
		Bids: sideDiff(before.bids, after.bids, depth), Asks: sideDiff(before.asks, after.asks, depth),
		Checksum: orderbook.Checksum(after.bids[:min(n, len(after.bids))], after.asks[:min(n, len(after.asks))], n)}
}

func (b *fakeBook) quote() quoteMsg {
	v := b.views[len(b.views)-1]
	q := quoteMsg{Ch: "quote", Sym: b.inst.Symbol, Seq: b.seq, Last: b.last, Volume: b.volume,
		Turnover: refdata.Price(b.turnover), LimitUp: b.inst.LimitUp, LimitDown: b.inst.LimitDown, State: "trading"}
	if len(v.bids) > 0 {
		l := wireLevel(v.bids[0])
		q.Bid = &l
	}
	if len(v.asks) > 0 {
		l := wireLevel(v.asks[0])
		q.Ask = &l
	}
	return q
}

// ---------------------------------------------------------------------------
// Test controls.

// Step applies one event to sym's book and sends it to the subscribers.
func (g *fakeGateway) Step(sym string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	b := g.books[sym]
	tr := b.step()
	before := b.views[len(b.views)-1]
	b.seq++
	after := b.view()
	b.views = append(b.views, after)
	for c := range g.conns {
		depth, ok := c.book[sym]
		if !ok {
			continue
		}
		m := updateMsg(sym, b.seq, before, after, depth)
		if g.dropNext {
			g.dropNext, g.dropped = false, b.seq
			continue
		}
		if g.corruptNext {
			g.corruptNext, g.corrupted = false, b.seq
			m.Checksum ^= 0x5a5a5a5a
		}
		g.send(c, m)
	}
	if tr != nil {
		for c := range g.conns {
			if c.trades[sym] {
				g.send(c, tradeMsg{Ch: "trades", Sym: sym, Seq: b.seq, Price: tr.price, Qty: tr.qty, Time: b.clock})
			}
		}
	}
	q := b.quote()
	q.Seq = 0
	if key := mustJSON(q); key != b.lastQuote { // level 1, last or volume changed
		b.lastQuote = key
		q.Seq = b.seq
		for c := range g.conns {
			if c.quote[sym] {
				g.send(c, q)
			}
		}
	}
	for _, o := range g.orderList {
		if o.Symbol == sym {
			g.match(o)
		}
	}
}

// CorruptNext makes the checksum of the next book update sent wrong.
func (g *fakeGateway) CorruptNext() { g.mu.Lock(); g.corruptNext = true; g.mu.Unlock() }

// VenueReject makes the venue reject every new order the gateway accepts,
// with text as its reason (FIX Text, which the venue controls).
func (g *fakeGateway) VenueReject(text string) { g.mu.Lock(); g.venueReject = text; g.mu.Unlock() }

// HoldCancels makes the venue leave every cancel accepted from now on in
// flight: it answers none.
func (g *fakeGateway) HoldCancels() { g.mu.Lock(); g.holdCancels = true; g.mu.Unlock() }

// CancelReject sends the venue's refusal of a cancel of the order clOrdID
// of account whose clOrdId was ref, as if another client (another tab, a
// broker) had sent it, and returns the event.
func (g *fakeGateway) CancelReject(t *testing.T, account, clOrdID, ref, text string) orderJSON {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderKey(account, clOrdID)]
	if o == nil {
		t.Fatalf("fake: no order %s of %s", clOrdID, account)
	}
	o.Text, o.Updated = text, time.Now()
	v := o.view("cancel_reject")
	v.Ref = ref
	g.publish(o, v)
	return v
}

// Fill trades qty of the working order clOrdID of account at px, as the
// venue reports a trade, and returns the exec trade event it sent.
func (g *fakeGateway) Fill(t *testing.T, account, clOrdID string, qty int64, px refdata.Price) orderJSON {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderKey(account, clOrdID)]
	if o == nil || !o.working() || qty <= 0 || qty > o.LeavesQty {
		t.Fatalf("fake: no working order %s of %s with %d shares left", clOrdID, account, qty)
	}
	return g.execute(o, qty, px)
}

// AmendTrade is the venue's cancel (qty 0) or correction of the trade
// execID of the order clOrdID of account: the order's totals move by the
// difference, and a filled order with shares left is working again
// (partially_filled, or new with none filled), as a venue reports it; it
// sends the exec trade_canceled or trade_corrected naming the trade and
// returns it.
func (g *fakeGateway) AmendTrade(t *testing.T, account, clOrdID, execID string, qty int64, px refdata.Price) orderJSON {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	o := g.orders[orderKey(account, clOrdID)]
	var tr *fakeTrade
	if o != nil {
		for i := range o.trades {
			if o.trades[i].execID == execID {
				tr = &o.trades[i]
			}
		}
	}
	if tr == nil || qty < 0 || o.CumQty-tr.qty+qty > o.Qty {
		t.Fatalf("fake: order %s of %s has no trade %s to amend to %d", clOrdID, account, execID, qty)
	}
	g.settle(o, -tr.qty, tr.px)
	g.settle(o, qty, px)
	tr.qty, tr.px = qty, px
	if o.working() || o.Status == "filled" {
		o.LeavesQty = o.Qty - o.CumQty
		switch {
		case o.LeavesQty == 0:
			o.Status = "filled"
		case o.CumQty > 0:
			o.Status = "partially_filled"
		default:
			o.Status = "new"
		}
	}
	o.Updated = time.Now()
	ev := o.view("exec")
	ev.ExecType, ev.Ref, ev.ExecRefID = "trade_corrected", o.ClOrdID, execID
	if qty == 0 {
		ev.ExecType = "trade_canceled"
	}
	g.publish(o, ev)
	return ev
}

// Resend sends ev, an event of an order sent before, again to the
// connections that hear of the order, after the newer ones: as an event
// of a change an orders.list page already held may follow the page
// (PROTOCOL.md).
func (g *fakeGateway) Resend(ev orderJSON) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if o := g.orders[orderKey(ev.Account, ev.OrigClOrdID)]; o != nil {
		g.publish(o, ev)
	}
}

// DropNext makes the next book update sent go missing: a seq gap.
func (g *fakeGateway) DropNext() { g.mu.Lock(); g.dropNext = true; g.mu.Unlock() }

// TradesResync tells sym's trades subscribers that prints up to the
// book's seq may be missing, as the gateway does a client that fell
// behind.
func (g *fakeGateway) TradesResync(sym string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		if c.trades[sym] {
			g.send(c, map[string]any{"ch": "trades", "sym": sym, "type": "resync", "seq": g.books[sym].seq})
		}
	}
}

// Disconnect drops every client connection.
func (g *fakeGateway) Disconnect() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for c := range g.conns {
		c.cancel()
	}
}

// Seq returns sym's book seq.
func (g *fakeGateway) Seq(sym string) uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.books[sym].seq
}

// Top returns the best depth levels of sym's book.
func (g *fakeGateway) Top(sym string, depth int) (bids, asks []orderbook.Level) {
	g.mu.Lock()
	defer g.mu.Unlock()
	v := g.books[sym].views[len(g.books[sym].views)-1]
	return v.bids[:min(depth, len(v.bids))], v.asks[:min(depth, len(v.asks))]
}

// Last returns sym's last trade price.
func (g *fakeGateway) Last(sym string) refdata.Price {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.books[sym].last
}

// Ops returns the client requests received so far.
func (g *fakeGateway) Ops() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ops)
}

// ---------------------------------------------------------------------------
// Connections.

// serveWS serves one /ws connection. A ?token= that verifies signs the
// connection in, silently, as the gateway does; one that does not is only
// recorded (the gateway would answer 401; the market-data test passes an
// opaque token and expects to connect).
func (g *fakeGateway) serveWS(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return // Accept answered the client
	}
	// A ?token= that does not verify is refused after the upgrade, as the
	// gateway does: 4001 for an expired token, 4003 for any other.
	if token != "" {
		if _, err := g.verifier.Verify(token, time.Now()); err != nil {
			g.mu.Lock()
			g.tokens = append(g.tokens, token)
			g.mu.Unlock()
			code, reason := websocket.StatusCode(4003), "bad token: "+err.Error()
			if errors.Is(err, auth.ErrExpired) {
				code, reason = 4001, "token expired: "+err.Error()
			}
			ws.Close(code, reason)
			return
		}
	}
	ctx, cancel := context.WithCancel(g.ctx)
	defer cancel()
	c := &fakeConn{out: make(chan string, 4096), cancel: cancel,
		book: map[string]int{}, quote: map[string]bool{}, trades: map[string]bool{}, watching: map[string]bool{}}
	if cl, err := g.verifier.Verify(token, time.Now()); err == nil {
		c.claims = &cl
	}
	g.mu.Lock()
	g.tokens = append(g.tokens, token)
	g.conns[c] = struct{}{}
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.conns, c)
		g.mu.Unlock()
	}()

	go g.readLoop(ctx, ws, c)
	g.writeLoop(ctx, ws, c)
	ws.CloseNow()
}

func (g *fakeGateway) readLoop(ctx context.Context, ws *websocket.Conn, c *fakeConn) {
	defer c.cancel()
	for {
		_, data, err := ws.Read(ctx)
		if err != nil {
			return
		}
		var req clientMsg
		g.mu.Lock()
		if err := json.Unmarshal(data, &req); err != nil {
			g.send(c, answerMsg{Type: "error", Code: "bad_json", Msg: err.Error()})
		} else {
			g.handle(c, req)
		}
		g.mu.Unlock()
	}
}

// writeLoop sends what is queued, batching everything queued into one frame
// with "\n" between messages, as the gateway does.
func (g *fakeGateway) writeLoop(ctx context.Context, ws *websocket.Conn, c *fakeConn) {
	for {
		var msgs []string
		select {
		case <-ctx.Done():
			return
		case m := <-c.out:
			msgs = append(msgs, m)
		}
		time.Sleep(time.Millisecond) // let a step's messages queue up behind the first
	drain:
		for {
			select {
			case m := <-c.out:
				msgs = append(msgs, m)
			default:
				break drain
			}
		}
		if len(msgs) > 1 {
			g.mu.Lock()
			g.multiFrames++
			g.mu.Unlock()
		}
		if err := ws.Write(ctx, websocket.MessageText, []byte(strings.Join(msgs, "\n"))); err != nil {
			return
		}
	}
}

// send queues v for c; a client that is 4096 messages behind is dropped.
// g.mu must be held, so that messages queue in the order they happen.
func (g *fakeGateway) send(c *fakeConn, v any) {
	select {
	case c.out <- mustJSON(v):
	default:
		c.cancel()
	}
}

// opString records a request as "subscribe book 600519.SH depth=10
// resume=57" (handle adds how its checksum compared); see orderOpString
// for auth and order requests.
func opString(req clientMsg) string {
	if s, ok := orderOpString(req); ok {
		return s
	}
	s := req.Op + " " + req.Channel + " " + strings.Join(req.Symbols, ",")
	if req.Op == "subscribe" && req.Channel == "book" {
		s += fmt.Sprintf(" depth=%d", req.Depth)
		for _, sym := range req.Symbols {
			if seq, ok := req.Resume[sym]; ok {
				s += fmt.Sprintf(" resume=%d", seq)
			}
		}
	}
	return s
}

// handle answers one request. g.mu must be held.
func (g *fakeGateway) handle(c *fakeConn, req clientMsg) {
	g.ops = append(g.ops, opString(req)+g.resumeCheck(req))
	fail := func(code, msg string) {
		g.send(c, answerMsg{Type: "error", Code: code, Msg: msg, ID: req.ID})
	}
	if g.handleOrders(c, req) {
		return
	}
	if req.Op != "subscribe" && req.Op != "unsubscribe" {
		fail("unknown_op", "op "+req.Op)
		return
	}
	if req.Channel != "book" && req.Channel != "quote" && req.Channel != "trades" {
		fail("unknown_channel", "channel "+req.Channel)
		return
	}
	depth := 0
	if req.Op == "subscribe" && req.Channel == "book" {
		depth = req.Depth
		if depth == 0 {
			depth = 10
		}
		if depth != 5 && depth != 10 && depth != 20 {
			fail("bad_depth", fmt.Sprintf("depth %d", req.Depth))
			return
		}
	}
	var syms []string
	for _, sym := range req.Symbols {
		if g.books[sym] == nil {
			fail("unknown_symbol", sym)
			continue
		}
		syms = append(syms, sym)
	}
	if req.Op == "unsubscribe" {
		for _, sym := range syms {
			switch req.Channel {
			case "book":
				delete(c.book, sym)
			case "quote":
				delete(c.quote, sym)
			case "trades":
				delete(c.trades, sym)
			}
		}
		g.send(c, answerMsg{Type: "unsubscribed", Channel: req.Channel, Symbols: syms, ID: req.ID})
		return
	}
	g.send(c, answerMsg{Type: "subscribed", Channel: req.Channel, Symbols: syms, Depth: depth, ID: req.ID})
	for _, sym := range syms {
		b := g.books[sym]
		switch req.Channel {
		case "book":
			c.book[sym] = depth
			g.sendBookStart(c, b, depth, req)
		case "quote":
			c.quote[sym] = true
			q := b.quote()
			g.send(c, q)
		case "trades":
			c.trades[sym] = true
		}
	}
}

// resumeCheck describes how a book subscribe's resume checksums compare
// with the fake's book at their seqs: " checksum=ok", " checksum=bad", or
// " checksum=none" for a resume without one. g.mu must be held.
func (g *fakeGateway) resumeCheck(req clientMsg) string {
	if req.Op != "subscribe" || req.Channel != "book" || len(req.Resume) == 0 {
		return ""
	}
	s := ""
	for sym, from := range req.Resume {
		ck, given := req.Checksums[sym]
		b := g.books[sym]
		switch {
		case !given:
			s += " checksum=none"
		case b != nil && from >= b.firstSeq && from <= b.seq && ck == checksumAt(b, from, req.Depth):
			s += " checksum=ok"
		default:
			s += " checksum=bad"
		}
	}
	return s
}

// checksumAt is the checksum of b after seq for a subscriber of depth.
func checksumAt(b *fakeBook, seq uint64, depth int) uint32 {
	if depth == 0 {
		depth = 10
	}
	v := b.viewAt(seq)
	return orderbook.Checksum(v.bids, v.asks, checksumRows(depth))
}

// sendBookStart sends the updates after the resume seq if they are still
// held and the client gave its checksum there and it is right, else a
// snapshot, as the gateway does (a resume without a checksum gets a
// snapshot).
func (g *fakeGateway) sendBookStart(c *fakeConn, b *fakeBook, depth int, req clientMsg) {
	sym := b.inst.Symbol
	ck, given := req.Checksums[sym]
	if from, ok := req.Resume[sym]; ok && from >= b.firstSeq && from <= b.seq && given && ck == checksumAt(b, from, depth) {
		for s := from + 1; s <= b.seq; s++ {
			g.send(c, updateMsg(sym, s, b.viewAt(s-1), b.viewAt(s), depth))
		}
		return
	}
	g.send(c, snapshotMsg(sym, b.seq, b.viewAt(b.seq), depth))
}

// ---------------------------------------------------------------------------
// Orders: a minimal stand-in for the order manager behind /ws, as
// PROTOCOL.md's "WebSocket orders" describes it. An accepted order.new is
// answered accepted (pending_new), then exec new; it fills whole, at the
// touch of the fake book, fillDelay later or on a later Step, once its
// price crosses the book (the book itself is not changed). A price outside
// the instrument's daily band is refused with risk.price_band. A cancel is
// answered accepted, then exec canceled.

// fillDelay is how long after exec new a crossing order fills.
const fillDelay = 150 * time.Millisecond

// fakeOrder is one order; its fields are what the wire shows. It is
// guarded by the gateway's mu.
type fakeOrder struct {
	ClOrdID, OrigClOrdID, Account, Symbol, Side string
	Price                                       refdata.Price
	Qty, CumQty, LeavesQty                      int64
	turnover                                    int64 // sum of fill price × qty, for AvgPx
	Status, OrderID                             string
	Text                                        string // the venue's reason (FIX Text) of a rejected order
	Updated                                     time.Time
	owner                                       *fakeConn   // the connection that entered it
	trades                                      []fakeTrade // its executions, in the order they happened
}

// fakeTrade is an execution of a fake order as it stands: a canceled one
// has no qty.
type fakeTrade struct {
	execID string
	qty    int64
	px     refdata.Price
}

// orderJSON is an order on the wire: an orders-channel event or an entry
// of an orders.list answer.
type orderJSON struct {
	Ch          string        `json:"ch,omitempty"`
	Type        string        `json:"type"`
	ExecType    string        `json:"execType,omitempty"`
	Ref         string        `json:"ref,omitempty"`
	ClOrdID     string        `json:"clOrdId"`
	OrigClOrdID string        `json:"origClOrdId"`
	Account     string        `json:"account"`
	Symbol      string        `json:"symbol"`
	Side        string        `json:"side"`
	Price       refdata.Price `json:"price"`
	Qty         int64         `json:"qty"`
	CumQty      int64         `json:"cumQty"`
	LeavesQty   int64         `json:"leavesQty"`
	AvgPx       refdata.Price `json:"avgPx"`
	Status      string        `json:"status"`
	OrderID     string        `json:"orderId,omitempty"`
	Text        string        `json:"text,omitempty"`
	LastPx      refdata.Price `json:"lastPx,omitempty"`
	LastQty     int64         `json:"lastQty,omitempty"`
	Time        int64         `json:"time"`                // Unix ns of the order's last change
	ExecID      string        `json:"execId,omitempty"`    // a trade's
	ExecRefID   string        `json:"execRefId,omitempty"` // the trade a trade_canceled or trade_corrected names
}

// orderErrorMsg is an error answering an order request; ref is the
// request's clOrdId.
type orderErrorMsg struct {
	Type string `json:"type"`
	Code string `json:"code"`
	Msg  string `json:"msg"`
	ID   *int64 `json:"id,omitempty"`
	Ref  string `json:"ref"`
}

func (o *fakeOrder) view(typ string) orderJSON {
	v := orderJSON{Ch: "orders", Type: typ, ClOrdID: o.ClOrdID, OrigClOrdID: o.OrigClOrdID, Account: o.Account,
		Symbol: o.Symbol, Side: o.Side, Price: o.Price, Qty: o.Qty, CumQty: o.CumQty, LeavesQty: o.LeavesQty,
		Status: o.Status, OrderID: o.OrderID, Text: o.Text, Time: o.Updated.UnixNano()}
	if o.CumQty > 0 {
		v.AvgPx = refdata.Price(o.turnover / o.CumQty)
	}
	return v
}

func (o *fakeOrder) working() bool {
	return o.Status == "pending_new" || o.Status == "new" || o.Status == "partially_filled"
}

func orderKey(account, clOrdID string) string { return account + "\x00" + clOrdID }

// Token returns a token for sub that may trade accounts, signed the way
// the gateway's tokens are (PROTOCOL.md, "Authentication").
func (g *fakeGateway) Token(t *testing.T, sub string, accounts ...string) string {
	t.Helper()
	tok, err := g.verifier.IssueFor(sub, accounts, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// Orders returns a copy of every order, in the order they were entered.
func (g *fakeGateway) Orders() []fakeOrder {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]fakeOrder, len(g.orderList))
	for i, o := range g.orderList {
		out[i] = *o
		out[i].owner = nil
	}
	return out
}

// orderOpString records auth and order requests for Ops:
// "auth", "subscribe orders A1,A2", "orders.list A1",
// "order.new c1 A1 600519.SH buy 1700.00 100", "order.cancel x1 c1 A1".
func orderOpString(req clientMsg) (string, bool) {
	switch {
	case req.Op == "auth":
		return "auth", true
	case (req.Op == "subscribe" || req.Op == "unsubscribe") && req.Channel == "orders":
		return req.Op + " orders " + strings.Join(req.Accounts, ","), true
	case req.Op == "account":
		return "account " + req.Account, true
	case req.Op == "orders.list" && req.Cursor != "":
		return "orders.list " + req.Account + " cursor=" + req.Cursor, true
	case req.Op == "orders.list":
		return "orders.list " + req.Account, true
	case req.Op == "order.new":
		return fmt.Sprintf("order.new %s %s %s %s %s %d", req.ClOrdID, req.Account, req.Symbol, req.Side, req.Price, req.Qty), true
	case req.Op == "order.cancel":
		return fmt.Sprintf("order.cancel %s %s %s", req.ClOrdID, req.OrigClOrdID, req.Account), true
	}
	return "", false
}

// handleOrders answers auth and order requests and reports whether req
// was one. g.mu must be held.
func (g *fakeGateway) handleOrders(c *fakeConn, req clientMsg) bool {
	fail := func(code, msg string) {
		g.send(c, answerMsg{Type: "error", Code: code, Msg: msg, ID: req.ID})
	}
	reject := func(code, msg string) {
		g.send(c, orderErrorMsg{Type: "error", Code: code, Msg: msg, ID: req.ID, Ref: req.ClOrdID})
	}
	// mayTrade checks the token as the gateway does, before anything else.
	mayTrade := func(account string) bool {
		switch {
		case c.claims == nil:
			fail("auth_required", "orders need a token: send auth first")
		case !c.claims.CanTrade(account):
			fail("forbidden_account", fmt.Sprintf("the token may not trade account %q", account))
		default:
			return true
		}
		return false
	}
	switch {
	case req.Op == "auth":
		cl, err := g.verifier.Verify(req.Token, time.Now())
		if err != nil {
			fail("bad_token", err.Error())
			return true
		}
		c.claims = &cl
		g.send(c, struct {
			Type     string   `json:"type"`
			OK       bool     `json:"ok"`
			Sub      string   `json:"sub"`
			Accounts []string `json:"accounts"`
			Exp      int64    `json:"exp"`
			ID       *int64   `json:"id,omitempty"`
		}{"auth", true, cl.Subject, cl.Accounts, cl.Expires, req.ID})
	case (req.Op == "subscribe" || req.Op == "unsubscribe") && req.Channel == "orders":
		for _, a := range req.Accounts {
			if !mayTrade(a) {
				return true
			}
		}
		for _, a := range req.Accounts {
			if req.Op == "subscribe" {
				c.watching[a] = true
			} else {
				delete(c.watching, a)
			}
		}
		g.send(c, struct {
			Type     string   `json:"type"`
			Channel  string   `json:"channel"`
			Accounts []string `json:"accounts"`
			ID       *int64   `json:"id,omitempty"`
		}{req.Op + "d", "orders", req.Accounts, req.ID})
	case req.Op == "account":
		if req.Account == "" {
			fail("bad_order", "account is required")
			return true
		}
		if !mayTrade(req.Account) {
			return true
		}
		a := g.account(req.Account)
		msg := accountMsg{Type: "account", Account: req.Account, Cash: a.cash, Positions: []accountPosition{}, ID: req.ID}
		for _, o := range g.orderList {
			if o.Account == req.Account && o.working() {
				msg.OpenOrders++
			}
		}
		for _, sym := range slices.Sorted(maps.Keys(a.bought)) {
			msg.Positions = append(msg.Positions, accountPosition{Symbol: sym, BoughtToday: a.bought[sym]})
		}
		g.send(c, msg)
	case req.Op == "orders.list":
		if req.Account == "" {
			fail("bad_order", "account is required")
			return true
		}
		if !mayTrade(req.Account) {
			return true
		}
		g.listOrders(c, req, fail)
	case req.Op == "order.new":
		price, err := refdata.ParsePrice(req.Price)
		switch {
		case req.Account == "" || req.ClOrdID == "" || req.Symbol == "":
			fail("bad_order", "account, clOrdId and symbol are required")
		case req.Side != "buy" && req.Side != "sell":
			fail("bad_order", fmt.Sprintf("side %q: want buy or sell", req.Side))
		case req.Type != "limit":
			fail("bad_order", fmt.Sprintf("type %q: only limit orders are accepted", req.Type))
		case err != nil || price <= 0:
			fail("bad_order", fmt.Sprintf("price %q: want a positive decimal such as \"1700.00\"", req.Price))
		case req.Qty <= 0:
			fail("bad_order", fmt.Sprintf("qty %d: must be positive", req.Qty))
		case !mayTrade(req.Account):
		default:
			g.newOrder(c, req, price, reject)
		}
	case req.Op == "order.cancel":
		switch {
		case req.Account == "" || req.ClOrdID == "" || req.OrigClOrdID == "":
			fail("bad_order", "account, clOrdId and origClOrdId are required")
		case !mayTrade(req.Account):
		default:
			g.cancelOrder(c, req, reject)
		}
	default:
		return false
	}
	return true
}

// List paging, as the gateway's: a page holds listLimit orders unless the
// request asks for another number, never more than maxListLimit; the
// cursor is the offset of the page in the account's orders.
const (
	listLimit    = 100
	maxListLimit = 500
)

// listOrders answers orders.list with one page. g.mu must be held.
func (g *fakeGateway) listOrders(c *fakeConn, req clientMsg, fail func(code, msg string)) {
	var all []*fakeOrder
	for _, o := range g.orderList {
		if o.Account == req.Account {
			all = append(all, o)
		}
	}
	start := 0
	if req.Cursor != "" {
		n, err := strconv.Atoi(req.Cursor)
		if err != nil || n < 0 || n > len(all) {
			fail("orders.bad_cursor", "cursor is not one this gateway handed out")
			return
		}
		start = n
	}
	limit := req.Limit
	if limit <= 0 {
		limit = listLimit
	}
	end := min(start+min(limit, maxListLimit), len(all))
	list := []orderJSON{}
	for _, o := range all[start:end] {
		v := o.view("order")
		list = append(list, v)
	}
	next := ""
	if end < len(all) {
		next = strconv.Itoa(end)
	}
	g.send(c, struct {
		Type      string      `json:"type"`
		Account   string      `json:"account"`
		Orders    []orderJSON `json:"orders"`
		Next      string      `json:"next,omitempty"`
		Total     int         `json:"total"`
		Remaining int         `json:"remaining"`
		ID        *int64      `json:"id,omitempty"`
	}{"orders", req.Account, list, next, len(all), len(all) - end, req.ID})
}

// SeedOrders enters n filled orders of account, as if entered before the
// page connected: o<account>-<i>, a buy of 100 of the first instrument.
func (g *fakeGateway) SeedOrders(account string, n int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	inst := g.instruments[0]
	for i := range n {
		id := fmt.Sprintf("o%s-%d", account, i)
		o := &fakeOrder{ClOrdID: id, OrigClOrdID: id, Account: account, Symbol: inst.Symbol, Side: "buy",
			Price: inst.PrevClose, Qty: 100, CumQty: 100, turnover: int64(inst.PrevClose) * 100,
			Status: "filled", OrderID: fmt.Sprintf("SEED-%d", i), Updated: time.Now()}
		g.orders[orderKey(account, id)] = o
		g.orderList = append(g.orderList, o)
	}
}

// newOrder runs the fake's risk checks on an order.new and enters it.
// g.mu must be held.
func (g *fakeGateway) newOrder(c *fakeConn, req clientMsg, price refdata.Price, reject func(code, msg string)) {
	b := g.books[req.Symbol]
	switch {
	case b == nil:
		reject("risk.unknown_symbol", "unknown symbol "+req.Symbol)
		return
	case g.orders[orderKey(req.Account, req.ClOrdID)] != nil:
		reject("risk.duplicate_clordid", "clOrdId "+req.ClOrdID+" was used before")
		return
	case price < b.inst.LimitDown || price > b.inst.LimitUp:
		reject("risk.price_band", fmt.Sprintf("price %s outside limit band %s-%s", price, b.inst.LimitDown, b.inst.LimitUp))
		return
	case price%b.inst.Tick != 0:
		reject("risk.tick", fmt.Sprintf("price %s is not a multiple of the tick %s", price, b.inst.Tick))
		return
	}
	o := &fakeOrder{ClOrdID: req.ClOrdID, OrigClOrdID: req.ClOrdID, Account: req.Account, Symbol: req.Symbol,
		Side: req.Side, Price: price, Qty: req.Qty, LeavesQty: req.Qty, Status: "pending_new", Updated: time.Now(), owner: c}
	g.orders[orderKey(o.Account, o.ClOrdID)] = o
	g.orderList = append(g.orderList, o)
	v := o.view("accepted")
	v.Ref = req.ClOrdID
	g.publish(o, v)

	if g.venueReject != "" {
		o.Status, o.LeavesQty, o.Text, o.Updated = "rejected", 0, g.venueReject, time.Now()
		v = o.view("exec")
		v.ExecType, v.Ref = "rejected", req.ClOrdID
		g.publish(o, v)
		return
	}
	o.Status, o.OrderID, o.Updated = "new", fmt.Sprintf("FAKE-%d", len(g.orderList)), time.Now()
	v = o.view("exec")
	v.ExecType, v.Ref = "new", req.ClOrdID
	g.publish(o, v)

	time.AfterFunc(fillDelay, func() {
		g.mu.Lock()
		defer g.mu.Unlock()
		if g.ctx.Err() == nil {
			g.match(o)
		}
	})
}

// cancelOrder cancels a working order. g.mu must be held.
func (g *fakeGateway) cancelOrder(c *fakeConn, req clientMsg, reject func(code, msg string)) {
	o := g.orders[orderKey(req.Account, req.OrigClOrdID)]
	switch {
	case o == nil:
		reject("orders.unknown_order", "no order "+req.OrigClOrdID+" of account "+req.Account)
		return
	case !o.working():
		reject("orders.unknown_order", "order "+o.ClOrdID+" is "+o.Status)
		return
	case g.orders[orderKey(req.Account, req.ClOrdID)] != nil:
		reject("risk.duplicate_clordid", "clOrdId "+req.ClOrdID+" was used before")
		return
	}
	g.orders[orderKey(req.Account, req.ClOrdID)] = o
	v := o.view("accepted")
	v.Ref = req.ClOrdID
	g.publishTo(c, o, v)
	if g.holdCancels {
		return
	}

	o.Status, o.LeavesQty, o.Updated = "canceled", 0, time.Now()
	v = o.view("exec")
	v.ExecType, v.Ref = "canceled", req.ClOrdID
	g.publishTo(c, o, v)
}

// match fills o whole at the touch if its price crosses the fake book.
// g.mu must be held.
func (g *fakeGateway) match(o *fakeOrder) {
	if !o.working() {
		return
	}
	v := g.books[o.Symbol].views[len(g.books[o.Symbol].views)-1]
	var touch []orderbook.Level
	if o.Side == "buy" {
		touch = v.asks
	} else {
		touch = v.bids
	}
	if len(touch) == 0 {
		return
	}
	px := touch[0].Price
	if (o.Side == "buy" && px > o.Price) || (o.Side == "sell" && px < o.Price) {
		return
	}
	g.execute(o, o.LeavesQty, px)
}

// execute trades qty of the working order o at px and sends exec trade,
// which it returns. g.mu must be held.
func (g *fakeGateway) execute(o *fakeOrder, qty int64, px refdata.Price) orderJSON {
	g.execs++
	t := fakeTrade{execID: fmt.Sprintf("fake:E%d", g.execs), qty: qty, px: px}
	o.trades = append(o.trades, t)
	g.settle(o, qty, px)
	o.LeavesQty -= qty
	o.Status, o.Updated = "partially_filled", time.Now()
	if o.LeavesQty == 0 {
		o.Status = "filled"
	}
	ev := o.view("exec")
	ev.ExecType, ev.Ref, ev.LastPx, ev.LastQty, ev.ExecID = "trade", o.ClOrdID, px, qty, t.execID
	g.publish(o, ev)
	return ev
}

// settle books qty of o's shares traded at px (qty < 0 takes a trade
// back): the order's totals and its account's cash and shares. g.mu must
// be held.
func (g *fakeGateway) settle(o *fakeOrder, qty int64, px refdata.Price) {
	o.CumQty += qty
	o.turnover += int64(px) * qty
	a := g.account(o.Account)
	if o.Side == "buy" {
		a.cash -= px * refdata.Price(qty)
		a.bought[o.Symbol] += qty
	} else {
		a.cash += px * refdata.Price(qty)
	}
}

// publish sends an event of o to the connection that entered it and to
// every connection watching its account. g.mu must be held.
func (g *fakeGateway) publish(o *fakeOrder, v orderJSON) { g.publishTo(o.owner, o, v) }

// publishTo is publish with the connection of the request answered, which
// for a cancel may differ from the one that entered the order.
func (g *fakeGateway) publishTo(requester *fakeConn, o *fakeOrder, v orderJSON) {
	for c := range g.conns {
		if c == requester || c == o.owner || c.watching[o.Account] {
			g.send(c, v)
		}
	}
}

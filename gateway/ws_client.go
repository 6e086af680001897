package gateway

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"sgw/auth"
	"sgw/orderbook"
	"sgw/refdata"
)

// subKey names one subscription of a client.
type subKey struct {
	ch string
	id orderbook.SymbolID
}

// client is one WebSocket connection. Its reader goroutine (wsServer.serve)
// decodes requests and owns the fields marked "reader". Hubs and order
// sinks queue messages from their own goroutines through enqueue; the
// queue, the resync generation, the writer state and the close state are
// guarded by mu. Writing is done by a flush goroutine started when
// something is queued and ending when the queue is empty, so an idle
// connection costs one goroutine, not two. Closes go through close
// (ws_close.go).
type client struct {
	srv  *wsServer
	conn *websocket.Conn
	raw  net.Conn // the hijacked TCP connection under conn, closed when a close overruns its bound
	ip   string

	lastRecv atomic.Int64             // unix ns of the last message or pong
	expires  atomic.Int64             // token expiry, unix s; 0 = anonymous
	token    atomic.Pointer[string]   // the token itself, verified again once expires has passed
	accounts atomic.Pointer[[]string] // the accounts the current token grants: order events of others are dropped
	ended    atomic.Bool              // the connection is released; kill has nothing to do
	awaiting awaiting                 // ids of order requests awaiting their first answer (ws_orders.go)
	// orderMu orders an answer showing the order manager's state against
	// the order events queued for the client (answerOrders, ws_orders.go):
	// held by each order event's enqueue, and by an answer's read and
	// enqueue when reading without it kept losing the race. Taken before
	// mu, never under it nor under the manager's lock.
	orderMu sync.Mutex

	mu          sync.Mutex
	queue       [][]byte
	spare       [][]byte
	queued      int
	oldestRecv  int64     // ingest time (Update.Recv, unix ns) of the oldest update queued; 0 = none
	gen         uint64    // bumped each time the backlog is dropped
	needResync  bool      // the writer must ask the hubs for snapshots
	lagSince    time.Time // when the backlog was first dropped; zero when caught up
	closed      bool
	closing     *closeReq   // close after writing what is queued
	kill        *time.Timer // closes raw if the close in progress overruns its bound
	writing     bool        // a flush goroutine is running
	private     bool        // receives order events, which may never be dropped
	orderEvents uint64      // order events queued so far (answerOrders)
	frame       []byte      // the flush goroutine's frame buffer
	flushes     sync.WaitGroup
	nextPing    atomic.Int64 // unix ns; the janitor's

	id uint64 // unique per server

	// reader goroutine only
	claims     *auth.Claims
	registered bool            // with the order manager, as a source
	watching   map[string]bool // accounts on the orders channel
	subs       map[subKey]struct{}
	tokens     float64
	refill     time.Time
	floods     int
}

// generation returns the client's resync generation.
func (c *client) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// enqueue queues msg for writing. It never blocks: when the backlog would
// exceed the configured bound, the backlog is dropped and the client is
// marked for resync (fresh snapshots replace what it missed). Safe from
// any goroutine; msg must not be modified afterwards. Use it for messages
// that stand alone (snapshots, quotes, trades, replies); book updates go
// through enqueueAt.
func (c *client) enqueue(msg []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.push(msg, 0)
}

// enqueueAt queues a book update only if no backlog was dropped since
// generation gen, that is if the update follows what the client has. It
// reports whether it queued msg. recv is the update's ingest time
// (Update.Recv, unix ns) for the ingest-to-write histogram, 0 for none.
// Safe from any goroutine.
func (c *client) enqueueAt(msg []byte, gen uint64, recv int64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen != gen {
		return false
	}
	return c.push(msg, recv)
}

// enqueueSnapshot queues a snapshot and returns the generation it belongs
// to: the updates that follow it may be queued with enqueueAt at that
// generation. If the snapshot itself was dropped, the generation returned
// is already stale, so the next update is replaced by a snapshot again.
func (c *client) enqueueSnapshot(msg []byte) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	gen := c.gen
	if !c.push(msg, 0) {
		return gen
	}
	return c.gen
}

// push queues msg, or drops the whole backlog on overflow; it reports
// whether msg was queued. Nothing is queued once a close was asked for.
// recv is msg's ingest time, 0 for none. mu held.
func (c *client) push(msg []byte, recv int64) bool {
	if c.closed || c.closing != nil {
		return false
	}
	queued := true
	if c.queued+len(msg) > c.srv.cfg.QueueBytes && c.private {
		// Order events cannot be replaced by a snapshot: rather than lose
		// one, close the connection; the client reconnects and lists its
		// orders.
		c.srv.metrics.disconnects.Inc()
		c.closeLocked(closeSlowConsumer, "slow consumer: order events could not be queued; reconnect and list orders", false, c.srv.cfg.CloseTimeout)
		return false
	}
	if c.queued+len(msg) > c.srv.cfg.QueueBytes {
		// Market data is replaced by fresh snapshots (resync); answers
		// and notices (subscribed, unsubscribed, error, auth, pong) have
		// no replacement and are kept, in order. A client whose answers
		// alone overflow the bound is closed, as one with order events.
		kept, keptBytes := 0, 0
		for _, m := range c.queue {
			if !isMarketData(m) {
				c.queue[kept] = m
				kept++
				keptBytes += len(m)
			}
		}
		clear(c.queue[kept:])
		c.queue, c.queued = c.queue[:kept], keptBytes
		if !isMarketData(msg) {
			if keptBytes+len(msg) > c.srv.cfg.QueueBytes {
				c.srv.metrics.disconnects.Inc()
				c.closeLocked(closeSlowConsumer, "slow consumer: answers could not be queued", false, c.srv.cfg.CloseTimeout)
				return false
			}
			c.queue = append(c.queue, msg)
			c.queued += len(msg)
		}
		c.oldestRecv = 0
		c.gen++
		c.needResync = true
		if c.lagSince.IsZero() {
			c.lagSince = time.Now()
		}
		c.srv.metrics.resyncs.Inc()
		queued = !isMarketData(msg)
	} else {
		c.queue = append(c.queue, msg)
		c.queued += len(msg)
		if c.oldestRecv == 0 {
			c.oldestRecv = recv
		}
	}
	c.kick()
	return queued
}

// isMarketData reports whether a queued message is market data (a book
// snapshot or update, a quote, a trade: appendHeader's), which a resync
// replaces, rather than an answer or a notice, which nothing replaces.
func isMarketData(msg []byte) bool { return bytes.HasPrefix(msg, marketDataPrefix) }

var marketDataPrefix = []byte(`{"ch":"`)

// kick starts a flush goroutine if there is something to do and none is
// running. mu held.
func (c *client) kick() {
	if c.writing || c.closed || (len(c.queue) == 0 && !c.needResync && c.closing == nil) {
		return
	}
	c.writing = true
	c.flushes.Add(1)
	go c.flush()
}

// markPrivate records that the client receives order events.
func (c *client) markPrivate() {
	c.mu.Lock()
	c.private = true
	c.mu.Unlock()
}

// isClosed reports whether the client is shut or closing.
func (c *client) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed || c.closing != nil
}

// lagging reports since when the client has been behind, or zero.
func (c *client) lagging() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lagSince
}

// shut marks the client closed so hubs stop queueing to it.
func (c *client) shut() {
	c.mu.Lock()
	c.closed = true
	clear(c.queue)
	c.queue, c.queued = nil, 0
	c.mu.Unlock()
}

// flush writes what is queued, batching it into frames of at most
// MaxFrameBytes with messages separated by newlines, until the queue is
// empty; then it ends, or sends the pending close. It runs on its own
// goroutine, one at a time per client (see kick).
func (c *client) flush() {
	defer c.flushes.Done()
	for {
		c.mu.Lock()
		if c.needResync && c.closing == nil {
			c.needResync = false
			c.mu.Unlock()
			for _, h := range c.srv.hubs {
				h.resync(c)
			}
			c.mu.Lock()
		}
		batch := c.queue
		if len(batch) == 0 || c.closed {
			c.lagSince = time.Time{}
			closing := c.closing
			if closing != nil {
				c.closed = true
			}
			c.writing = false
			c.mu.Unlock()
			if closing != nil {
				c.conn.Close(closing.code, closing.reason)
			}
			return
		}
		c.queue, c.spare = c.spare[:0], batch
		c.queued = 0
		recv := c.oldestRecv
		c.oldestRecv = 0
		frame := c.frame
		c.mu.Unlock()
		for len(batch) > 0 {
			frame = frame[:0]
			n := 0
			for n < len(batch) && (n == 0 || len(frame)+1+len(batch[n]) <= c.srv.cfg.MaxFrameBytes) {
				if n > 0 {
					frame = append(frame, '\n')
				}
				frame = append(frame, batch[n]...)
				n++
			}
			// No per-write context: a write to a stalled client is ended by
			// the janitor, which closes the connection once the client has
			// been behind past SlowTimeout or silent past IdleTimeout, and a
			// cancelable context would cost a timer per write.
			if err := c.conn.Write(context.Background(), websocket.MessageText, frame); err != nil {
				c.conn.CloseNow()
				c.mu.Lock()
				c.closed, c.writing = true, false
				c.mu.Unlock()
				return
			}
			if recv != 0 {
				// The batch's oldest update is in its first frame: one
				// observation per batch, the batch's longest wait.
				c.srv.metrics.observeIngest(time.Now(), recv)
				recv = 0
			}
			c.srv.metrics.messages.Add(float64(n))
			c.srv.metrics.bytes.Add(float64(len(frame)))
			batch = batch[n:]
		}
		clear(c.spare)
		if cap(frame) > 4*c.srv.cfg.MaxFrameBytes {
			frame = nil
		}
		c.mu.Lock()
		c.frame = frame
		c.mu.Unlock()
	}
}

// allow takes one token from the client's rate bucket. Reader goroutine.
func (c *client) allow(now time.Time) bool {
	rate := float64(c.srv.cfg.MaxMessagesPerSecond)
	c.tokens = min(2*rate, c.tokens+now.Sub(c.refill).Seconds()*rate)
	c.refill = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// errFlood ends a connection that kept sending past its rate limit.
var errFlood = errors.New("gateway: client flooding")

// readLoop handles client messages until the connection ends; it runs on
// the client's serve goroutine. ctx bounds every read: when it ends,
// coder/websocket drops the connection without a close frame, so the
// server passes a context that never ends and ends connections by closing
// them (client.close).
func (c *client) readLoop(ctx context.Context) error {
	for {
		typ, msg, err := c.conn.Read(ctx)
		if err != nil {
			return err
		}
		now := c.srv.now()
		c.lastRecv.Store(now.UnixNano())
		if typ != websocket.MessageText {
			c.reject(nil, perr(codeBadJSON, "binary frames are not part of the protocol"))
			continue
		}
		if !c.allow(now) {
			c.floods++
			c.srv.metrics.rejected.WithLabelValues(codeRateLimited).Inc()
			if c.floods > 2*c.srv.cfg.MaxMessagesPerSecond {
				// The client sees the errors that led to the close, and
				// the answers of the order requests taken before them:
				// the journal has yet to answer those (before, they were
				// entered and sent to the venue, and their client never
				// heard of them: TestWSFloodCloseAnswersTakenOrders).
				c.awaiting.wait(c.srv.cfg.CloseTimeout)
				c.close(websocket.StatusPolicyViolation, "flooding: too many messages", true, c.srv.cfg.WriteTimeout)
				return errFlood
			}
			e := perr(codeRateLimited, "more than %d messages per second", c.srv.cfg.MaxMessagesPerSecond)
			id, ref := requestRefs(msg)
			e.ref = ref
			c.reject(id, e)
			continue
		}
		c.floods = 0
		req, bad := decodeRequest(msg)
		if bad != nil {
			c.reject(req.ID, bad)
			continue
		}
		c.handle(req, now)
	}
}

// requestRefs returns what names a request the server refuses without
// carrying it out (rate_limited): its id, if it is valid JSON of at most 64
// bytes, and its clOrdId, if that is a valid identifier, so that a client
// with several requests in flight knows which one was not taken. The
// message is at most ws.max_message_bytes long.
func requestRefs(msg []byte) (json.RawMessage, string) {
	var r struct {
		ID      json.RawMessage `json:"id"`
		ClOrdID string          `json:"clOrdId"`
	}
	if json.Unmarshal(msg, &r) != nil {
		return nil, ""
	}
	id := r.ID
	if len(id) > 64 {
		id = nil
	}
	ref := ""
	if refdata.ValidID(r.ClOrdID, refdata.MaxClOrdIDLen) {
		ref = r.ClOrdID
	}
	return id, ref
}

// reject answers a request with an error message, carrying e.ref (a
// valid client order id, or none).
func (c *client) reject(id []byte, e *protoError) {
	c.srv.metrics.rejected.WithLabelValues(e.code).Inc()
	c.enqueue(encodeReply(errorReply{Type: "error", Code: e.code, Msg: e.msg, Ref: e.ref, ID: id}))
}

// handle carries out one decoded request. Reader goroutine.
func (c *client) handle(req request, now time.Time) {
	switch req.Op {
	case opPing:
		c.enqueue(encodeReply(struct {
			Type string `json:"type"`
			ID   any    `json:"id,omitempty"`
		}{"pong", req.ID}))
	case opAuth:
		claims, err := c.srv.verify(req.Token, now)
		if err != nil {
			c.reject(req.ID, perr(codeBadToken, "%v", err))
			return
		}
		c.setClaims(&claims, req.Token)
		c.enqueue(encodeReply(authReply{Type: "auth", OK: true, Subject: claims.Subject, Accounts: claims.Accounts, Expires: claims.Expires, ID: req.ID}))
	case opSubscribe:
		if req.Channel == chOrders {
			c.watchOrders(req, true, now)
			return
		}
		c.subscribe(req)
	case opUnsubscribe:
		if req.Channel == chOrders {
			c.watchOrders(req, false, now)
			return
		}
		c.unsubscribe(req)
	case opAccount:
		c.handleAccount(req, now)
	default:
		c.handleOrder(req, now)
	}
}

// setClaims records the token the client authenticated with. A client
// that authenticates again is held to the new token at once: every
// account's order events it watches and the new token does not grant
// stop, with a notice naming them (the subscriptions it still may keep
// go on). Reader goroutine (or the upgrade, before the reader starts).
func (c *client) setClaims(cl *auth.Claims, token string) {
	c.claims = cl
	accounts := slices.Clone(cl.Accounts)
	c.accounts.Store(&accounts)
	c.token.Store(&token)
	c.expires.Store(cl.Expires)
	var dropped []string
	for a := range c.watching {
		if !cl.CanTrade(a) {
			c.srv.orders.Unwatch(a, orderSink{c})
			delete(c.watching, a)
			dropped = append(dropped, a)
		}
	}
	if len(dropped) > 0 {
		slices.Sort(dropped)
		c.enqueue(encodeReply(struct {
			Type     string   `json:"type"`
			Channel  string   `json:"channel"`
			Accounts []string `json:"accounts"`
			Reason   string   `json:"reason"`
		}{"unsubscribed", chOrders, dropped, "the new token does not grant these accounts"}))
	}
	c.recheckViews(cl)
}

// recheckViews ends the market-data subscriptions the claims' entitlements
// do not cover, telling the client which and why, one message per
// channel. Reader goroutine.
func (c *client) recheckViews(cl *auth.Claims) {
	byChannel := map[string][]orderbook.SymbolID{}
	reasons := map[string]string{}
	for k := range c.subs {
		sym := c.srv.market.Instrument(k.id).Symbol
		if err := cl.MayView(sym, k.ch, 1); err != nil {
			byChannel[k.ch] = append(byChannel[k.ch], k.id)
			reasons[k.ch] = err.Error()
		}
	}
	for ch, ids := range byChannel {
		syms := make([]string, 0, len(ids))
		for _, id := range ids {
			delete(c.subs, subKey{ch, id})
			syms = append(syms, c.srv.market.Instrument(id).Symbol)
		}
		for shard, part := range c.byShard(ids) {
			c.srv.hubs[shard].unsubscribe(c, ch, part)
		}
		slices.Sort(syms)
		c.enqueue(encodeReply(struct {
			Type    string   `json:"type"`
			Channel string   `json:"channel"`
			Symbols []string `json:"symbols"`
			Reason  string   `json:"reason"`
		}{"unsubscribed", ch, syms, reasons[ch]}))
	}
}

// subscribe validates and carries out a subscribe request. Reader goroutine.
func (c *client) subscribe(req request) {
	viewer := c.srv.viewer(c.claims)
	if viewer == nil {
		c.reject(req.ID, perr(codeAuthRequired, "market data needs a token: send auth first"))
		return
	}
	ids, syms, ok := c.lookup(req)
	if !ok {
		return
	}
	for _, s := range syms {
		if err := viewer.MayView(s, req.Channel, req.Depth); err != nil {
			c.reject(req.ID, perr(codeNotEntitled, "%v", err))
			return
		}
	}
	added := 0
	for _, id := range ids {
		if _, ok := c.subs[subKey{req.Channel, id}]; !ok {
			added++
		}
	}
	if len(c.subs)+added > c.srv.cfg.MaxSubscriptions {
		c.reject(req.ID, perr(codeTooManySubs, "%d subscriptions would exceed the limit of %d", len(c.subs)+added, c.srv.cfg.MaxSubscriptions))
		return
	}
	for _, id := range ids {
		c.subs[subKey{req.Channel, id}] = struct{}{}
	}
	reply := encodeReply(subReply{Type: "subscribed", Channel: req.Channel, Symbols: syms, Depth: req.Depth, ID: req.ID})
	subscribe(c.srv.hubs, c.byShard(ids), c, req.Channel, req.Depth, resumePoints{seqs: req.Resume, checksums: req.Checksums}, reply)
}

// unsubscribe carries out an unsubscribe request. Reader goroutine.
func (c *client) unsubscribe(req request) {
	ids, syms, ok := c.lookup(req)
	if !ok {
		return
	}
	for _, id := range ids {
		delete(c.subs, subKey{req.Channel, id})
	}
	for shard, part := range c.byShard(ids) {
		c.srv.hubs[shard].unsubscribe(c, req.Channel, part)
	}
	c.enqueue(encodeReply(subReply{Type: "unsubscribed", Channel: req.Channel, Symbols: syms, Depth: req.Depth, ID: req.ID}))
}

// lookup resolves the request's symbols, rejecting the unknown ones. It
// reports false when none is known.
func (c *client) lookup(req request) ([]orderbook.SymbolID, []string, bool) {
	ids := make([]orderbook.SymbolID, 0, len(req.Symbols))
	syms := make([]string, 0, len(req.Symbols))
	seen := map[orderbook.SymbolID]bool{}
	for i, s := range req.Symbols {
		id, ok := c.srv.market.Lookup(s)
		if !ok {
			if refdata.ValidID(s, refdata.MaxSymbolLen) {
				c.reject(req.ID, perr(codeUnknownSymbol, "unknown symbol %q", s))
			} else {
				c.reject(req.ID, perr(codeUnknownSymbol, "symbols[%d] is not a symbol", i))
			}
			continue
		}
		if !seen[id] {
			seen[id] = true
			ids, syms = append(ids, id), append(syms, s)
		}
	}
	return ids, syms, len(ids) > 0
}

// byShard splits symbols by the shard (hub) that owns them.
func (c *client) byShard(ids []orderbook.SymbolID) map[int][]orderbook.SymbolID {
	out := map[int][]orderbook.SymbolID{}
	for _, id := range ids {
		s := c.srv.market.Shard(id)
		out[s] = append(out[s], id)
	}
	return out
}

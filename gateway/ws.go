package gateway

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"sgw/auth"
)

// TokenVerifier checks bearer tokens. *auth.Verifier implements it; it must
// be safe for concurrent use.
type TokenVerifier interface {
	Verify(token string, now time.Time) (auth.Claims, error)
}

var _ TokenVerifier = (*auth.Verifier)(nil)

// Close codes of the protocol beyond RFC 6455's (docs/PROTOCOL.md).
const (
	closeTokenExpired websocket.StatusCode = 4001
	closeSlowConsumer websocket.StatusCode = 4008
)

// wsMetrics are the fan-out's Prometheus metrics.
type wsMetrics struct {
	clients     prometheus.Gauge
	messages    prometheus.Counter
	bytes       prometheus.Counter
	resyncs     prometheus.Counter
	disconnects prometheus.Counter
	rejected    *prometheus.CounterVec
	resumes     prometheus.Counter
	resnapshots prometheus.Counter
	lapped      prometheus.Counter
	pongs       prometheus.Counter
}

func newWSMetrics(reg prometheus.Registerer) *wsMetrics {
	m := &wsMetrics{
		clients:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_ws_clients", Help: "Open WebSocket connections."}),
		messages:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_messages_sent_total", Help: "Messages written to WebSocket clients."}),
		bytes:       prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_bytes_sent_total", Help: "Frame bytes written to WebSocket clients."}),
		resyncs:     prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_slow_client_resyncs_total", Help: "Backlogs of slow clients replaced by fresh snapshots."}),
		disconnects: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_slow_client_disconnects_total", Help: "Clients closed for staying behind past the slow timeout."}),
		rejected:    prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_ws_rejected_total", Help: "Rejected WebSocket requests and connections by reason."}, []string{"reason"}),
		resumes:     prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_resumes_total", Help: "Book subscriptions resumed from history instead of a snapshot."}),
		resnapshots: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_hub_resnapshots_total", Help: "Times a fan-out hub reloaded a book from the published view."}),
		lapped:      prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_hub_lapped_total", Help: "Times a fan-out hub fell a whole update ring behind."}),
		pongs:       prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_pongs_total", Help: "Pongs received in answer to the server's pings."}),
	}
	reg.MustRegister(m.clients, m.messages, m.bytes, m.resyncs, m.disconnects, m.rejected, m.resumes, m.resnapshots, m.lapped, m.pongs)
	return m
}

// wsServer is the /ws endpoint: it upgrades connections, enforces the
// connection limits and runs one hub per book shard plus a janitor that
// pings clients and closes idle, slow and expired ones. ServeHTTP runs on
// net/http's goroutines; the rest is safe for concurrent use.
type wsServer struct {
	cfg     WSConfig
	market  Market
	orders  OrderEntry // nil: no order entry
	tokens  TokenVerifier
	nextID  atomic.Uint64
	log     *slog.Logger
	metrics *wsMetrics
	hubs    []*hub

	ctx context.Context // set by run; connections end with it

	mu      sync.Mutex
	clients map[*client]struct{}
	perIP   map[string]int
	started chan struct{}
}

func newWSServer(cfg WSConfig, market Market, entry OrderEntry, tokens TokenVerifier, reg prometheus.Registerer, log *slog.Logger) (*wsServer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &wsServer{cfg: cfg, market: market, orders: entry, tokens: tokens, log: log, metrics: newWSMetrics(reg),
		clients: map[*client]struct{}{}, perIP: map[string]int{}, started: make(chan struct{})}
	for shard := range market.Shards() {
		w.hubs = append(w.hubs, newHub(shard, market, cfg.History, w.metrics))
	}
	return w, nil
}

// run runs the hubs and the janitor until ctx ends.
func (w *wsServer) run(ctx context.Context) error {
	w.ctx = ctx
	close(w.started)
	g, ctx := errgroup.WithContext(ctx)
	for _, h := range w.hubs {
		g.Go(func() error { return h.run(ctx) })
	}
	g.Go(func() error { w.janitor(ctx); return nil })
	return g.Wait()
}

// verify checks a token, or reports that tokens are not configured.
func (w *wsServer) verify(token string, now time.Time) (auth.Claims, error) {
	if w.tokens == nil {
		return auth.Claims{}, errors.New("this gateway accepts no tokens")
	}
	return w.tokens.Verify(token, now)
}

// ServeHTTP upgrades a request to a WebSocket connection and serves it.
func (w *wsServer) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	select {
	case <-w.started:
	default:
		http.Error(rw, "starting", http.StatusServiceUnavailable)
		return
	}
	var claims *auth.Claims
	if tok := bearer(r); tok != "" {
		cl, err := w.verify(tok, time.Now())
		if err != nil {
			w.metrics.rejected.WithLabelValues(codeBadToken).Inc()
			writeError(rw, http.StatusUnauthorized, codeBadToken, err.Error())
			return
		}
		claims = &cl
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	if reason := w.admit(ip); reason != "" {
		w.metrics.rejected.WithLabelValues(reason).Inc()
		writeError(rw, http.StatusTooManyRequests, reason, "too many connections")
		return
	}
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled, OriginPatterns: w.cfg.Origins}
	if len(w.cfg.Origins) == 1 && w.cfg.Origins[0] == "*" {
		opts.InsecureSkipVerify = true
	}
	conn, err := websocket.Accept(smallBuffers{rw}, r, opts)
	if err != nil {
		w.release(ip)
		w.metrics.rejected.WithLabelValues("upgrade").Inc()
		return // Accept has answered (403 for a foreign origin, 426 ...)
	}
	conn.SetReadLimit(w.cfg.MaxMessageBytes)
	now := time.Now()
	c := &client{srv: w, conn: conn, ip: ip, subs: map[subKey]struct{}{}, watching: map[string]bool{}, id: w.nextID.Add(1),
		tokens: float64(2 * w.cfg.MaxMessagesPerSecond), refill: now}
	c.lastRecv.Store(now.UnixNano())
	// Pings are spread over the interval so that clients that connected
	// together are not all pinged together.
	c.nextPing.Store(now.Add(w.cfg.PingInterval + time.Duration(rand.Int64N(int64(w.cfg.PingInterval)))).UnixNano())
	if claims != nil {
		c.setClaims(claims)
	}
	w.add(c)
	// The connection is hijacked: serve it on a fresh goroutine, whose
	// stack starts small, and let net/http's goroutine, whose stack grew
	// while parsing the request, end.
	go w.serve(c)
}

// serve reads c's requests until the connection ends, then releases it.
func (w *wsServer) serve(c *client) {
	defer w.release(c.ip)
	conn := c.conn
	err := c.readLoop(w.ctx)
	if errors.Is(err, errFlood) {
		// Let the flush goroutine send the queued errors and the close.
		deadline := time.Now().Add(w.cfg.WriteTimeout)
		for !c.flushed() && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	c.shut()
	if errors.Is(err, context.Canceled) {
		// Server shutdown: tell the client, briefly.
		go conn.Close(websocket.StatusGoingAway, "server shutting down")
		time.Sleep(10 * time.Millisecond)
	} else if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
		w.metrics.rejected.WithLabelValues(codeTooLarge).Inc()
	}
	conn.CloseNow()
	c.flushes.Wait()
	c.leaveOrders()
	for _, h := range w.hubs {
		h.drop(c)
	}
	w.remove(c)
}

// bearer returns the token of the Authorization header or token query
// parameter, or "".
func bearer(r *http.Request) string {
	if h := r.Header.Get("Authorization"); strings.HasPrefix(h, "Bearer ") {
		return strings.TrimPrefix(h, "Bearer ")
	}
	return r.URL.Query().Get("token")
}

// admit counts a new connection from ip, or returns why it is refused.
func (w *wsServer) admit(ip string) string {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case len(w.clients) >= w.cfg.MaxConnections:
		return "too_many_connections"
	case w.perIP[ip] >= w.cfg.MaxConnectionsPerIP:
		return "too_many_connections_per_ip"
	}
	w.perIP[ip]++
	return ""
}

func (w *wsServer) release(ip string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.perIP[ip]--; w.perIP[ip] <= 0 {
		delete(w.perIP, ip)
	}
}

func (w *wsServer) add(c *client) {
	w.mu.Lock()
	w.clients[c] = struct{}{}
	w.mu.Unlock()
	w.metrics.clients.Inc()
}

func (w *wsServer) remove(c *client) {
	w.mu.Lock()
	delete(w.clients, c)
	w.mu.Unlock()
	w.metrics.clients.Dec()
}

// janitor pings clients and closes the idle, the slow and the expired.
func (w *wsServer) janitor(ctx context.Context) {
	tick := time.NewTicker(min(max(min(w.cfg.SlowTimeout, w.cfg.PingInterval)/10, 20*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			w.mu.Lock()
			clients := make([]*client, 0, len(w.clients))
			for c := range w.clients {
				clients = append(clients, c)
			}
			w.mu.Unlock()
			for _, c := range clients {
				w.inspect(ctx, c, now)
			}
		}
	}
}

// inspect applies the janitor's rules to one client.
func (w *wsServer) inspect(ctx context.Context, c *client, now time.Time) {
	if c.isClosed() {
		return
	}
	if lag := c.lagging(); !lag.IsZero() && now.Sub(lag) > w.cfg.SlowTimeout {
		w.metrics.disconnects.Inc()
		w.log.Info("closing slow websocket client", "ip", c.ip, "behind", now.Sub(lag).Round(time.Millisecond))
		go c.conn.Close(closeSlowConsumer, "slow consumer: fell behind for longer than "+w.cfg.SlowTimeout.String())
		c.shut()
		return
	}
	if exp := c.expires.Load(); exp != 0 && now.Unix() > exp {
		go c.conn.Close(closeTokenExpired, "token expired")
		c.shut()
		return
	}
	if now.Sub(time.Unix(0, c.lastRecv.Load())) > w.cfg.IdleTimeout {
		w.metrics.rejected.WithLabelValues("idle").Inc()
		go c.conn.Close(websocket.StatusPolicyViolation, "idle timeout")
		c.shut()
		return
	}
	if next := c.nextPing.Load(); now.UnixNano() >= next {
		c.nextPing.Store(now.Add(w.cfg.PingInterval).UnixNano())
		go func() {
			pctx, cancel := context.WithTimeout(ctx, w.cfg.IdleTimeout)
			defer cancel()
			if c.conn.Ping(pctx) == nil {
				c.lastRecv.Store(time.Now().UnixNano())
				w.metrics.pongs.Inc()
			}
		}()
	}
}

// Buffer sizes of a hijacked WebSocket connection. net/http hands over a
// 4 KiB reader and a 4 KiB writer per connection; client messages are
// small, and market data goes out in frames written through, so smaller
// buffers serve as well and save most of 8 KiB per idle connection.
const (
	wsReadBuffer  = 1024
	wsWriteBuffer = 2048
)

// smallBuffers is an http.ResponseWriter whose Hijack returns the
// connection with smaller buffers (see wsReadBuffer).
type smallBuffers struct{ http.ResponseWriter }

// Hijack implements http.Hijacker.
func (s smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err != nil || brw.Reader.Buffered() > 0 {
		// Bytes already read past the request stay in net/http's reader.
		return conn, brw, err
	}
	if err := brw.Writer.Flush(); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, bufio.NewReadWriter(bufio.NewReaderSize(conn, wsReadBuffer), bufio.NewWriterSize(conn, wsWriteBuffer)), nil
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

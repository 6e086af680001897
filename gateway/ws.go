package gateway

import (
	"bufio"
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"sgw/auth"
	"sgw/netsec"
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
	closeBadToken     websocket.StatusCode = 4003 // a ?token= that does not verify, refused after the upgrade (see refuseToken)
	closeSlowConsumer websocket.StatusCode = 4008
)

// wsMetrics are the fan-out's Prometheus metrics.
type wsMetrics struct {
	clients        prometheus.Gauge
	forwarded      prometheus.Counter
	relayed        prometheus.Gauge
	messages       prometheus.Counter
	bytes          prometheus.Counter
	resyncs        prometheus.Counter
	disconnects    prometheus.Counter
	rejected       *prometheus.CounterVec
	resumes        prometheus.Counter
	resumesRefused prometheus.Counter
	resnapshots    prometheus.Counter
	lapped         prometheus.Counter
	pongs          prometheus.Counter
	forcedCloses   prometheus.Counter
	// ingestToWrite is the time from the ingest node's receipt of a feed
	// message (Update.Recv) to the write of the WebSocket frame carrying
	// its update, observed once per batch a client's writer takes (its
	// oldest update). On an edge fed over the bus (mdbus) Recv is the
	// ingest node's clock: the figure includes the bus and clock skew.
	// A time out of range (observeIngest) is counted in ingestOutOfRange
	// instead.
	ingestToWrite    prometheus.Histogram
	ingestOutOfRange prometheus.Counter
}

// maxIngestAge is the oldest ingest time (Update.Recv) taken for a
// latency: no update waits that long (a client behind is resynced or
// closed after ws.slow_timeout), so one older comes from a clock set
// wrong or a publisher's bug.
const maxIngestAge = time.Hour

// observeIngest observes the time from recv (Update.Recv, unix ns; not 0)
// to now in ingestToWrite, or, when recv is after now (the ingest node's
// clock ahead of this one's) or more than maxIngestAge before it, counts
// it in ingestOutOfRange: such a figure is no latency. Before, one ahead
// was observed as 0, the best latency, and one from 1970 as 56 years.
// Safe from any goroutine.
func (m *wsMetrics) observeIngest(now time.Time, recv int64) {
	d := now.UnixNano() - recv // wraps negative for a recv far below 0
	if d < 0 || d > int64(maxIngestAge) {
		m.ingestOutOfRange.Inc()
		return
	}
	m.ingestToWrite.Observe(float64(d) / 1e9)
}

func newWSMetrics(reg prometheus.Registerer) *wsMetrics {
	m := &wsMetrics{
		clients:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_ws_clients", Help: "Open WebSocket connections."}),
		forwarded:      prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_forwarded_total", Help: "Trading clients' connections relayed to the cluster's leader (this node is a follower)."}),
		relayed:        prometheus.NewGauge(prometheus.GaugeOpts{Name: "gateway_ws_relayed_clients", Help: "Trading clients' connections being relayed to the cluster's leader now; ws.max_connections counts them with gateway_ws_clients."}),
		messages:       prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_messages_sent_total", Help: "Messages written to WebSocket clients."}),
		bytes:          prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_bytes_sent_total", Help: "Frame bytes written to WebSocket clients."}),
		resyncs:        prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_slow_client_resyncs_total", Help: "Backlogs of slow clients replaced by fresh snapshots."}),
		disconnects:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_slow_client_disconnects_total", Help: "Clients closed for staying behind past the slow timeout."}),
		rejected:       prometheus.NewCounterVec(prometheus.CounterOpts{Name: "gateway_ws_rejected_total", Help: "Rejected WebSocket requests and connections by reason."}, []string{"reason"}),
		resumes:        prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_resumes_total", Help: "Book subscriptions resumed from history instead of a snapshot."}),
		resumesRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_resumes_refused_total", Help: "Book resumes answered with a snapshot because the client's checksum at its seq was not the book's (a copy of another book: a restart or a new ingest epoch), or it gave none."}),
		resnapshots:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_hub_resnapshots_total", Help: "Times a fan-out hub reloaded a book from the published view."}),
		lapped:         prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_hub_lapped_total", Help: "Times a fan-out hub fell a whole update ring behind."}),
		pongs:          prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_pongs_total", Help: "Pongs received in answer to the server's pings."}),
		forcedCloses: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_forced_closes_total",
			Help: "Connections whose TCP connection was closed because the client did not complete a close in time."}),
		ingestToWrite: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_ws_ingest_to_write_seconds",
			Help: "Time from the ingest node receiving a feed message to the WebSocket write of its book update (oldest update of each batch written to a client).",
			// 10 us to about 5 s.
			Buckets: prometheus.ExponentialBuckets(10e-6, 2, 20)}),
		ingestOutOfRange: prometheus.NewCounter(prometheus.CounterOpts{Name: "gateway_ws_ingest_time_out_of_range_total",
			Help: "Batches written to WebSocket clients whose oldest update's ingest time is after this node's clock (the ingest node's clock ahead) or more than an hour before it: not observed in gateway_ws_ingest_to_write_seconds."}),
	}
	reg.MustRegister(m.clients, m.forwarded, m.relayed, m.messages, m.bytes, m.resyncs, m.disconnects, m.rejected, m.resumes, m.resumesRefused, m.resnapshots, m.lapped, m.pongs, m.forcedCloses, m.ingestToWrite, m.ingestOutOfRange)
	// The connection-level reasons exist from the start; request errors
	// appear with their first occurrence.
	for _, r := range []string{codeBadToken, codeNoLeader, codeTooLarge, codeRateLimited, "upgrade", "idle",
		"too_many_connections", "too_many_connections_per_ip"} {
		m.rejected.WithLabelValues(r)
	}
	return m
}

// wsServer is the /ws endpoint: it upgrades connections, enforces the
// connection limits and runs one hub per book shard plus a janitor that
// pings clients and closes idle, slow and expired ones. Each connection is
// served by its own goroutine (serve), counted in live. ServeHTTP runs on
// net/http's goroutines; shutdown on Server.Serve's; the rest is safe for
// concurrent use.
type wsServer struct {
	cfg    WSConfig
	market Market
	orders OrderEntry // nil: no order entry
	gate   orderGate  // order requests in flight; closed by Server.StopOrders
	tokens TokenVerifier
	anon   auth.Claims // what a client without a token may view (when anonymous market data is on)
	nextID atomic.Uint64
	// run names this server's process in its clients' order sources
	// (orders.Source.Session "run.id"): a source is journaled with each
	// order and replayed by the next leader, or by this gateway restarted,
	// whose clients are numbered from 1 again; without it, the next
	// process's client n would be taken for this one's (its orders'
	// events, and its disconnection's cancels).
	runID string
	// now is the clock requests are read by (time.Now; tests move it):
	// rate limits and the token's expiry on the order path.
	now     func() time.Time
	log     *slog.Logger
	metrics *wsMetrics
	hubs    []*hub
	started chan struct{} // closed by run
	fwd     *forwarder    // nil: order entry is served here

	// limits counts the connections admitted and not yet released, in
	// total and by client, as the listener's limits count (netsec): those
	// served here, those being upgraded, and those relayed to the
	// cluster's leader, which ws.max_connections bounds alike.
	limits *netsec.ConnLimits

	mu       sync.Mutex
	clients  map[*client]struct{}
	stopping bool           // shutdown began: no new connections
	live     sync.WaitGroup // serve goroutines; Add under mu while !stopping
}

func newWSServer(cfg WSConfig, market Market, entry OrderEntry, tokens TokenVerifier, reg prometheus.Registerer, log *slog.Logger) (*wsServer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	w := &wsServer{cfg: cfg, market: market, orders: entry, tokens: tokens, log: log, metrics: newWSMetrics(reg),
		clients: map[*client]struct{}{}, limits: netsec.NewConnLimits(cfg.MaxConnections, cfg.MaxConnectionsPerIP), started: make(chan struct{}),
		anon: auth.Claims{Entitlements: auth.DefaultAnonymous()}, runID: strconv.FormatUint(rand.Uint64(), 36), now: time.Now}
	// With tokens, the verifier's configuration says what the anonymous
	// viewer may see (auth.Config.Anonymous, level 1 by default); a
	// gateway with no tokens grants level 1 too: level 2 (book depth) is
	// licensed data, for viewers a token names.
	if a, ok := tokens.(interface{ Anonymous() auth.Claims }); ok && tokens != nil {
		w.anon = a.Anonymous()
	}
	for shard := range market.Shards() {
		w.hubs = append(w.hubs, newHub(shard, market, cfg.History, w.metrics))
	}
	return w, nil
}

// run runs the hubs and the janitor until ctx ends. Connections are not
// bound to ctx: shutdown closes them.
func (w *wsServer) run(ctx context.Context) error {
	close(w.started)
	g, ctx := errgroup.WithContext(ctx)
	for _, h := range w.hubs {
		g.Go(func() error { return h.run(ctx) })
	}
	g.Go(func() error { w.janitor(ctx); return nil })
	return g.Wait()
}

// viewer returns whom market data is served to: the verified claims, or
// the anonymous viewer's (nil when anonymous market data is off).
func (w *wsServer) viewer(claims *auth.Claims) *auth.Claims {
	if claims != nil {
		return claims
	}
	if !w.cfg.AnonymousMarketData {
		return nil
	}
	return &w.anon
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
	if w.isStopping() {
		http.Error(rw, reasonShutdown, http.StatusServiceUnavailable)
		return
	}
	var claims *auth.Claims
	var tokenErr error // a ?token= that does not verify: refused after the upgrade
	tok := upgradeToken(r)
	if tok != "" {
		cl, err := w.verify(tok, time.Now())
		switch {
		case err != nil && headerToken(r) != "":
			w.metrics.rejected.WithLabelValues(codeBadToken).Inc()
			writeError(rw, http.StatusUnauthorized, codeBadToken, err.Error())
			return
		case err != nil:
			tokenErr = err
		default:
			claims = &cl
		}
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
	if tokenErr != nil {
		w.refuseToken(rw, r, tokenErr)
		w.release(ip)
		return
	}
	if claims != nil && len(claims.Accounts) > 0 {
		// A trading client on a cluster follower: its connection is
		// relayed to the leader, which serves order entry (and market
		// data) for it. The follower's caps still count it, in total
		// and by address, until the relay ends.
		switch base, local := w.fwd.target(r); {
		case base != nil:
			w.metrics.forwarded.Inc()
			w.metrics.relayed.Inc()
			if err := w.fwd.serve(rw, r, base); err != nil {
				writeError(rw, http.StatusBadGateway, "leader_unreachable", err.Error())
			}
			w.metrics.relayed.Dec()
			w.release(ip)
			return
		case !local:
			w.release(ip)
			w.metrics.rejected.WithLabelValues(codeNoLeader).Inc()
			rw.Header().Set("Retry-After", "1")
			msg := "no gateway serves order entry now (the cluster is electing a leader); connect again"
			if r.Header.Get(forwardedHeader) != "" {
				// Relayed by a node that took this one for the leader
				// (leadership moved meanwhile), or a client sent the
				// relay's mark itself: either way not served here.
				msg = "this gateway does not serve order entry, and a relayed connection is not relayed again; connect again"
			}
			writeError(rw, http.StatusServiceUnavailable, codeNoLeader, msg)
			return
		}
	}
	sb := &smallBuffers{ResponseWriter: rw}
	conn, err := websocket.Accept(sb, r, w.acceptOptions())
	if err != nil {
		w.release(ip)
		w.metrics.rejected.WithLabelValues("upgrade").Inc()
		return // Accept has answered (403 for a foreign origin, 426 ...)
	}
	conn.SetReadLimit(w.cfg.MaxMessageBytes)
	now := time.Now()
	c := &client{srv: w, conn: conn, raw: sb.raw, ip: ip, subs: map[subKey]struct{}{}, watching: map[string]bool{}, id: w.nextID.Add(1),
		tokens: float64(2 * w.cfg.MaxMessagesPerSecond), refill: now}
	c.lastRecv.Store(now.UnixNano())
	// Pings are spread over the interval so that clients that connected
	// together are not all pinged together.
	c.nextPing.Store(now.Add(w.cfg.PingInterval + time.Duration(rand.Int64N(int64(w.cfg.PingInterval)))).UnixNano())
	if claims != nil {
		c.setClaims(claims, tok)
	}
	if !w.add(c) {
		// Shutdown began after the check above: go away at once, within
		// the close bound. net/http's goroutine does it; the connection
		// is hijacked, so the HTTP server's shutdown does not wait for it.
		kill := time.AfterFunc(w.cfg.CloseTimeout, func() { sb.raw.Close() })
		conn.Close(websocket.StatusGoingAway, reasonShutdown)
		kill.Stop()
		w.release(ip)
		return
	}
	// The connection is hijacked: serve it on a fresh goroutine, whose
	// stack starts small, and let net/http's goroutine, whose stack grew
	// while parsing the request, end.
	go w.serve(c)
}

// acceptOptions are the options of every upgrade: no compression, the
// configured origins ("*" alone: any).
func (w *wsServer) acceptOptions() *websocket.AcceptOptions {
	opts := &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled, OriginPatterns: w.cfg.Origins}
	if len(w.cfg.Origins) == 1 && w.cfg.Origins[0] == "*" {
		opts.InsecureSkipVerify = true
	}
	return opts
}

// refuseToken refuses an upgrade whose ?token= does not verify. A browser
// cannot read the status of a refused upgrade (its WebSocket reports
// close code 1006 whatever the server said), so the page could not tell a
// bad token from a network fault. The upgrade is therefore completed and
// the connection closed at once, before anything is read or served, with
// 4001 "token expired: ..." for a genuine token past its exp, else 4003
// "bad token: ..."; the client may connect again without a token (or with
// a new one). A token in the Authorization header (not a browser) is
// still refused with HTTP 401. Runs on net/http's goroutine; the close is
// bounded by ws.close_timeout, as a shutdown's is.
func (w *wsServer) refuseToken(rw http.ResponseWriter, r *http.Request, tokenErr error) {
	w.metrics.rejected.WithLabelValues(codeBadToken).Inc()
	code, reason := closeBadToken, "bad token: "+tokenErr.Error()
	if errors.Is(tokenErr, auth.ErrExpired) {
		code, reason = closeTokenExpired, "token expired: "+tokenErr.Error()
	}
	sb := &smallBuffers{ResponseWriter: rw}
	conn, err := websocket.Accept(sb, r, w.acceptOptions())
	if err != nil {
		w.metrics.rejected.WithLabelValues("upgrade").Inc()
		return // Accept has answered (403 for a foreign origin, 426 ...)
	}
	kill := time.AfterFunc(w.cfg.CloseTimeout, func() { sb.raw.Close() })
	defer kill.Stop()
	conn.Close(code, closeReason(reason))
}

// closeReason cuts a close reason to the 123 bytes a close frame holds,
// at a UTF-8 boundary.
func closeReason(s string) string {
	const maxReason = 123
	if len(s) <= maxReason {
		return s
	}
	s = s[:maxReason]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// serve reads c's requests until the connection ends, then ends it and
// releases c. It runs on its own goroutine, one per connection, counted
// in w.live.
func (w *wsServer) serve(c *client) {
	defer w.live.Done()
	defer w.release(c.ip)
	err := c.readLoop(context.Background())
	if websocket.CloseStatus(err) == websocket.StatusMessageTooBig {
		w.metrics.rejected.WithLabelValues(codeTooLarge).Inc()
	}
	if !c.isClosed() {
		// The client went away or the connection broke: nothing more
		// can be sent.
		c.shut()
		c.conn.CloseNow()
	}
	// A close the server began (client.close) ends within its bound, and
	// with it the flush goroutine that sends it.
	c.flushes.Wait()
	c.conn.CloseNow()
	c.finish()
	c.leaveOrders()
	for _, h := range w.hubs {
		h.drop(c)
	}
	w.remove(c)
}

// admit counts a new connection from ip, in total and by client, or
// returns why it is refused. Every connection admitted is released once
// (release), whether it is served here, relayed to the leader or refused
// after the upgrade.
func (w *wsServer) admit(ip string) string {
	switch w.limits.Admit(clientAddr(ip)) {
	case "":
		return ""
	case netsec.ReasonMaxConns:
		return "too_many_connections"
	default:
		return "too_many_connections_per_ip"
	}
}

// release uncounts a connection admit counted.
func (w *wsServer) release(ip string) { w.limits.Release(clientAddr(ip)) }

// clientAddr is ip parsed, or the zero Addr (one client for all such)
// when it does not parse.
func clientAddr(ip string) netip.Addr {
	a, _ := netip.ParseAddr(ip)
	return a
}

// add registers c, to be served on a goroutine counted in w.live, or
// reports false once shutdown began.
func (w *wsServer) add(c *client) bool {
	w.mu.Lock()
	if w.stopping {
		w.mu.Unlock()
		return false
	}
	w.clients[c] = struct{}{}
	w.live.Add(1)
	w.mu.Unlock()
	w.metrics.clients.Inc()
	return true
}

// isStopping reports whether shutdown began.
func (w *wsServer) isStopping() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopping
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
			for _, c := range w.snapshotClients() {
				w.inspect(ctx, c, now)
			}
		}
	}
}

// stillValid verifies the client's token again once its exp has passed:
// the verifier's own leeway (clock skew) decides, the same that accepted
// it, so a token accepted within the leeway is not closed at once.
func (w *wsServer) stillValid(c *client, now time.Time) bool {
	tok := c.token.Load()
	if tok == nil || w.tokens == nil {
		return false
	}
	_, err := w.tokens.Verify(*tok, now)
	return err == nil
}

// inspect applies the janitor's rules to one client.
func (w *wsServer) inspect(ctx context.Context, c *client, now time.Time) {
	if c.isClosed() {
		return
	}
	if lag := c.lagging(); !lag.IsZero() && now.Sub(lag) > w.cfg.SlowTimeout {
		w.metrics.disconnects.Inc()
		w.log.Info("closing slow websocket client", "ip", c.ip, "behind", now.Sub(lag).Round(time.Millisecond))
		c.close(closeSlowConsumer, "slow consumer: fell behind for longer than "+w.cfg.SlowTimeout.String(), false, w.cfg.CloseTimeout)
		return
	}
	if exp := c.expires.Load(); exp != 0 && now.Unix() > exp && !w.stillValid(c, now) {
		c.close(closeTokenExpired, "token expired", false, w.cfg.CloseTimeout)
		return
	}
	if now.Sub(time.Unix(0, c.lastRecv.Load())) > w.cfg.IdleTimeout {
		w.metrics.rejected.WithLabelValues("idle").Inc()
		c.close(websocket.StatusPolicyViolation, "idle timeout", false, w.cfg.CloseTimeout)
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
// connection with no deadline and smaller buffers (see wsReadBuffer) and
// keeps it in raw,
// so that the server can close a connection whose close handshake
// overruns its bound. Used by one request's goroutine.
type smallBuffers struct {
	http.ResponseWriter
	raw net.Conn // set by Hijack
}

// Hijack implements http.Hijacker.
func (s *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	s.raw = conn
	if err == nil {
		// The request's deadlines (ReadTimeout) must not outlive the
		// upgrade: the WebSocket has its own (janitor, write timeout).
		// net/http clears them on hijack, but http.Hijacker does not
		// promise it, so clear them here too.
		if err := conn.SetDeadline(time.Time{}); err != nil {
			conn.Close()
			return nil, nil, err
		}
	}
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
func (s *smallBuffers) Unwrap() http.ResponseWriter { return s.ResponseWriter }

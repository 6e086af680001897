package gateway

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"sgw/auth"
	"sgw/feed"
	"sgw/netsec"
	"sgw/orderbook"
	"sgw/refdata"
)

// Books is what the gateway reads from the order books. *orderbook.Engine
// implements it; every method is lock-free and safe from any goroutine.
type Books interface {
	Lookup(symbol string) (orderbook.SymbolID, bool)
	Instrument(id orderbook.SymbolID) *refdata.Instrument
	Symbols() []orderbook.SymbolID
	View(id orderbook.SymbolID, depth int, v *orderbook.View)
}

// Feed is what the gateway reads from a market-data feed. *feed.Feed
// implements it.
type Feed interface {
	Name() string
	Ready() bool
	Status() feed.Status
}

// staleReasoner is a Feed that tells why its books are stale (the market
// bus's edge), for /readyz; a feed that is not, or tells "", has its
// books' rebuild named.
type staleReasoner interface {
	StaleReason() string
}

var (
	_ Books = (*orderbook.Engine)(nil)
	_ Feed  = (*feed.Feed)(nil)
)

// Server is the gateway's HTTP listener: REST, WebSocket, health, metrics.
// New builds it; Run or Serve serves until its context ends. Its handlers
// are safe for concurrent use.
type Server struct {
	cfg   Config
	books Books
	feeds []Feed
	clu   Cluster // nil: a single gateway
	reg   *prometheus.Registry
	log   *slog.Logger
	mux   *http.ServeMux
	ws    *wsServer
	admin Admin

	handler         http.Handler                         // mux behind the body limit
	tls             *netsec.ServerTLS                    // nil: plain text
	limited         atomic.Pointer[netsec.LimitListener] // the one Serve serves through
	listenerMetrics *listenerMetrics
}

// Deps are what the server reads and reports on.
type Deps struct {
	// Market is the order books. Required.
	Market Market
	// PublishedDepth is the depth the books publish (orderbook
	// Config.MaxDepth). Required.
	PublishedDepth int
	// Feeds are the market-data feeds, for readiness and status.
	Feeds []Feed
	// Tokens verifies bearer tokens; nil accepts none.
	Tokens TokenVerifier
	// Orders takes orders; nil means the WebSocket endpoint takes none.
	Orders OrderEntry
	// Admin serves the admin endpoints; nil means none.
	Admin Admin
	// Registry receives the server's metrics and is served at /metrics.
	// Required.
	Registry *prometheus.Registry
	// Web serves the web page at "/"; nil serves none.
	Web http.Handler
	// Log receives the server's logs; nil discards.
	Log *slog.Logger
	// Cluster reports this node's role when the gateway is a cluster
	// node, for /readyz; nil for a single gateway.
	Cluster Cluster
	// Forward, on a cluster node, names the node serving order entry
	// while this one does not: trading clients' WebSocket connections are
	// relayed there. Nil serves every client here.
	Forward Forwarder
	// ForwardTLS is how Forward's relays verify a member serving https
	// (the firm's CA) and, with a certificate, authenticate to it (a
	// listener asking for client certificates). The server name checked
	// is the member's host unless it sets one. Nil means the system's
	// roots and no client certificate.
	ForwardTLS *tls.Config
}

// Cluster is what /readyz reports of a cluster node.
type Cluster interface {
	// Role returns this node's role ("leader", "follower", "candidate",
	// "stopped"), the leader's ID ("" while none is known) and whether
	// the node sees a working quorum.
	Role() (role, leader string, quorum bool)
	// Fault returns why this node cannot take part in the cluster (its
	// replica of the log stopped applying records, for one a newer
	// version wrote), or nil.
	Fault() error
}

// New returns a server for deps.
func New(cfg Config, deps Deps) (*Server, error) {
	log := deps.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, st, err := cfg.load(deps.PublishedDepth, log.With("component", "http"))
	if err != nil {
		return nil, err
	}
	ws, err := newWSServer(cfg.WS, deps.Market, deps.Orders, deps.Tokens, deps.Registry, log.With("component", "ws"))
	if err == nil && deps.Forward != nil {
		ws.fwd = newForwarder(deps.Forward, deps.ForwardTLS, 5*time.Second)
	}
	if err != nil {
		return nil, err
	}
	reg := deps.Registry
	s := &Server{cfg: cfg, books: deps.Market, feeds: deps.Feeds, reg: reg, log: log, mux: http.NewServeMux(), ws: ws, admin: deps.Admin, tls: st, clu: deps.Cluster}
	s.listenerMetrics = newListenerMetrics(reg, &s.limited, st)
	s.handler = s.limitBody(s.mux)
	s.mux.HandleFunc("POST /api/v1/admin/kill", s.handleKill)
	s.mux.Handle("GET /ws", ws)
	if cfg.Pprof {
		s.mux.HandleFunc("GET /debug/pprof/", s.operator(http.HandlerFunc(pprof.Index)))
		s.mux.HandleFunc("GET /debug/pprof/cmdline", s.operator(http.HandlerFunc(pprof.Cmdline)))
		s.mux.HandleFunc("GET /debug/pprof/profile", s.operator(http.HandlerFunc(pprof.Profile)))
		s.mux.HandleFunc("GET /debug/pprof/symbol", s.operator(http.HandlerFunc(pprof.Symbol)))
		s.mux.HandleFunc("GET /debug/pprof/trace", s.operator(http.HandlerFunc(pprof.Trace)))
	}
	if deps.Web != nil {
		s.mux.Handle("/", deps.Web)
	}
	s.mux.HandleFunc("GET /api/v1/book/{symbol}", s.marketData(s.handleBook))
	s.mux.HandleFunc("GET /api/v1/instruments", s.marketData(func(w http.ResponseWriter, r *http.Request, _ *auth.Claims) {
		s.handleInstruments(w, r)
	}))
	s.mux.HandleFunc("GET /api/v1/feeds", s.operator(http.HandlerFunc(s.handleFeeds)))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.mux.HandleFunc("GET /readyz", s.handleReady)
	s.mux.HandleFunc("GET /metrics", s.operator(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})))
	for _, path := range []string{"/api/v1/book/{symbol}", "/api/v1/instruments", "/api/v1/feeds"} {
		s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path)
		})
	}
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found", "no such endpoint: "+r.Method+" "+r.URL.Path)
	})
	return s, nil
}

// Handler returns the server's HTTP handler, with the body limit; the
// listener's limits are Serve's.
func (s *Server) Handler() http.Handler { return s.handler }

// Scheme returns "https" when the listener serves TLS, else "http".
func (s *Server) Scheme() string {
	if s.tls != nil {
		return "https"
	}
	return "http"
}

// Addr returns the configured listen address.
func (s *Server) Addr() string { return s.cfg.HTTP }

// Run listens on the configured address and serves until ctx ends.
func (s *Server) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.HTTP)
	if err != nil {
		return fmt.Errorf("gateway: listen %s: %w", s.cfg.HTTP, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln, a bound TCP listener, until ctx ends, then shuts
// down within a bound (see shutdown) and returns nil; it returns an error
// only if serving failed. It stacks the configured gates on ln (PROXY
// protocol, connection caps, TLS; see Config), refusing plain text on an
// address that is not loopback unless TLS is terminated in front, and
// watches the certificate files. ln is closed when Serve returns. Call it
// once.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	wrapped, err := s.listener(ln)
	if err != nil {
		ln.Close()
		return err
	}
	ln = wrapped
	wsCtx, stopWS := context.WithCancel(ctx)
	wsDone := make(chan error, 1)
	go func() { wsDone <- s.ws.run(wsCtx) }()
	defer func() { stopWS(); <-wsDone }()
	if s.tls != nil {
		watchDone := make(chan struct{})
		go func() { defer close(watchDone); s.tls.Watch(wsCtx) }()
		defer func() { stopWS(); <-watchDone }()
	}
	srv := s.httpServer()
	srv.BaseContext = func(net.Listener) context.Context { return ctx }
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("http listening", "addr", ln.Addr().String(), "scheme", s.Scheme())
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
	}
	s.shutdown(srv)
	if serveErr == nil {
		serveErr = <-errc
	}
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("gateway: serve: %w", serveErr)
	}
	return nil
}

// level is a price level on the wire: [price-string, qty].
type level [2]any

// bookJSON is the body of GET /api/v1/book/{symbol}.
type bookJSON struct {
	Symbol   string        `json:"symbol"`
	Seq      uint64        `json:"seq"`
	Time     uint64        `json:"time"`
	State    string        `json:"state"`
	Bids     []level       `json:"bids"`
	Asks     []level       `json:"asks"`
	Last     refdata.Price `json:"last"`
	LastQty  int64         `json:"lastQty"`
	Volume   int64         `json:"volume"`
	Turnover refdata.Price `json:"turnover"`
	Open     refdata.Price `json:"open"`
	High     refdata.Price `json:"high"`
	Low      refdata.Price `json:"low"`
	Checksum uint32        `json:"checksum"`
}

func levels(ls []orderbook.Level) []level {
	out := make([]level, len(ls))
	for i, l := range ls {
		out[i] = level{l.Price.String(), l.Qty}
	}
	return out
}

func (s *Server) handleBook(w http.ResponseWriter, r *http.Request, viewer *auth.Claims) {
	sym := r.PathValue("symbol")
	id, ok := s.books.Lookup(sym)
	if !ok {
		writeError(w, http.StatusNotFound, "unknown_symbol", fmt.Sprintf("unknown symbol %q", sym))
		return
	}
	depth := s.cfg.DefaultDepth
	if d := r.URL.Query().Get("depth"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || n > s.cfg.MaxDepth {
			writeError(w, http.StatusBadRequest, "bad_depth", fmt.Sprintf("depth %q must be a whole number from 1 to %d", d, s.cfg.MaxDepth))
			return
		}
		depth = n
	}
	if err := viewer.MayView(sym, auth.ChannelBook, depth); err != nil {
		writeError(w, http.StatusForbidden, "forbidden", err.Error())
		return
	}
	var v orderbook.View
	s.books.View(id, depth, &v)
	writeJSON(w, http.StatusOK, bookJSON{
		Symbol: sym, Seq: v.Seq, Time: v.Time, State: v.State.String(),
		Bids: levels(v.Bids), Asks: levels(v.Asks),
		Last: v.Last, LastQty: v.LastQty, Volume: v.Volume, Turnover: refdata.Price(v.Turnover),
		Open: v.Open, High: v.High, Low: v.Low, Checksum: v.Checksum,
	})
}

// instrumentJSON is one entry of GET /api/v1/instruments.
type instrumentJSON struct {
	refdata.Instrument
	LimitDown refdata.Price `json:"limitDown"`
	LimitUp   refdata.Price `json:"limitUp"`
}

func (s *Server) handleInstruments(w http.ResponseWriter, _ *http.Request) {
	ids := s.books.Symbols()
	out := make([]instrumentJSON, 0, len(ids))
	for _, id := range ids {
		in := s.books.Instrument(id)
		lo, hi := in.Band()
		out = append(out, instrumentJSON{Instrument: *in, LimitDown: lo, LimitUp: hi})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleFeeds(w http.ResponseWriter, _ *http.Request) {
	out := make([]feed.Status, 0, len(s.feeds))
	for _, f := range s.feeds {
		out = append(out, f.Status())
	}
	writeJSON(w, http.StatusOK, out)
}

// handleReady answers 200 when every feed has a source up, has delivered
// to the books and its books are not stale, a cluster node sees a quorum,
// and order entry has not begun to stop; else 503 naming what is not
// ready. From StopOrders on (the gateway draining at shutdown, with its
// listener still open) it is 503, so that a load balancer sends no new
// client to a gateway that refuses orders orders.stopping.
func (s *Server) handleReady(w http.ResponseWriter, _ *http.Request) {
	var why []string
	if s.ws.gate.isStopped() {
		why = append(why, "draining: the gateway is stopping; new orders are refused")
	}
	for _, f := range s.feeds {
		st := f.Status()
		switch {
		case !f.Ready():
			why = append(why, "feed "+f.Name()+": no source up")
		case st.Stale:
			reason := "books stale (messages lost or sources diverged, rebuilding; or every source was down and none has yet replayed what was missed)"
			if r, ok := f.(staleReasoner); ok && r.StaleReason() != "" {
				reason = r.StaleReason()
			}
			why = append(why, "feed "+f.Name()+": "+reason)
		case st.Delivered == 0:
			why = append(why, "feed "+f.Name()+": no message delivered to the books yet")
		}
	}
	body := map[string]string{"status": "ready"}
	if s.clu != nil {
		role, leader, quorum := s.clu.Role()
		body["role"], body["leader"] = role, leader
		if !quorum {
			why = append(why, "cluster: node "+role+" sees no quorum (no leader heard from); orders are refused")
		}
		if err := s.clu.Fault(); err != nil {
			why = append(why, "cluster: this node's replica stopped, it cannot lead and its state is behind: "+err.Error())
		}
	}
	if len(why) > 0 {
		writeError(w, http.StatusServiceUnavailable, "not_ready", strings.Join(why, "; "))
		return
	}
	writeJSON(w, http.StatusOK, body)
}

// apiSecurityPolicy is the Content-Security-Policy of every JSON answer:
// a browser that opens one renders nothing active from it and lets no
// page frame it.
const apiSecurityPolicy = "default-src 'none'; frame-ancestors 'none'"

// writeJSON writes v as the JSON body of an answer with code. The body is
// never cached (it may carry a viewer's data) and never sniffed as another
// type: strings from the request (a symbol, a path) are JSON-escaped, <
// and > included, and the answer is served with nosniff and
// apiSecurityPolicy (TestAPIResponseHeaders).
func writeJSON(w http.ResponseWriter, code int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", apiSecurityPolicy)
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return // the client went away; nothing to tell it
	}
}

func writeError(w http.ResponseWriter, code int, errCode, msg string) {
	writeJSON(w, code, apiError{Error: apiErrorBody{Code: errCode, Message: msg}})
}

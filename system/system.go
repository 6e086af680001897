// Package system assembles the gateway process from its components — order
// books, feeds, the HTTP and WebSocket server, token verification — and,
// for the demo and the load tester, the exchange simulator beside it. It is
// the composition root: `main` parses flags and calls it; the load tester
// calls it to run the whole system in-process.
//
// New and NewDemo construct; Run runs until its context ends. A Gateway or
// Demo is run once, by one goroutine; its accessors are safe from any
// goroutine.
package system

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"sgw/atrest"
	"sgw/auth"
	"sgw/configs"
	"sgw/feed"
	"sgw/fix"
	"sgw/fix/broker"
	"sgw/gateway"
	"sgw/gateway/web"
	"sgw/journal"
	"sgw/netsec"
	"sgw/orderbook"
	"sgw/orders"
	"sgw/risk"
	"sgw/sim"
	"sgw/sim/fixsim"
)

// Gateway is the gateway's components, constructed and ready to run.
type Gateway struct {
	books     *orderbook.Engine
	feeds     []runFeed
	tokens    *auth.Verifier // nil when the config has no auth section
	server    *gateway.Server
	orders    *orders.Manager // nil without an orders section
	journal   *journal.Journal
	keys      *atrest.KeyRing // storage.encryption; nil: plain files
	upstreams []*fix.Upstream
	clu       *clustered       // a cluster node's order entry; nil for a single gateway
	brokers   *broker.Acceptor // nil without a brokers section
	bus       *marketBus       // nil without a market_bus section
	reg       *prometheus.Registry
	log       *slog.Logger
	// drainTimeout bounds the wait, at shutdown, for accepted requests to
	// be sent and answered.
	drainTimeout time.Duration
	// startReason is why Run starts the gateway, which it logs
	// (SetStartReason); "start requested" unless set.
	startReason string
}

// SetStartReason records why the gateway is being started (the command
// that starts it, a demo, a cluster node), which Run logs with the
// build's version; the default is "start requested". Call it before Run,
// from the goroutine that calls Run.
func (g *Gateway) SetStartReason(reason string) { g.startReason = reason }

// runFeed is a feed of either protocol as the gateway runs and reports
// it.
type runFeed interface {
	gateway.Feed
	Run(ctx context.Context) error
}

// New constructs the gateway described by cfg.
func New(cfg *configs.File, log *slog.Logger) (*Gateway, error) { return newGateway(cfg, log, nil) }

// newGateway is New with the cluster's Raft listener already bound
// (cluster.Config.Listener; nil: the node binds its configured address).
// The gateway owns raftLn from the call on, on error too.
func newGateway(cfg *configs.File, log *slog.Logger, raftLn net.Listener) (_ *Gateway, err error) {
	if raftLn != nil {
		defer func() {
			if err != nil {
				raftLn.Close()
			}
		}()
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), ReadBuild().Collector())
	books, bus, err := buildBooks(cfg, reg, log)
	if err != nil {
		return nil, err
	}
	g := &Gateway{books: books, bus: bus, reg: reg, log: log}
	var gfeeds []gateway.Feed
	var itchFeeds []*feed.Feed
	var szseFeeds []*feed.SZSEFeed
	for _, fc := range cfg.Feeds {
		syms := feed.Carried(books, fc.Name)
		var f runFeed
		switch fc.Protocol {
		case feed.ProtocolSZSE:
			sf, err := feed.NewSZSE(fc, feed.NewSZSEDecoder(syms, books.NewInput(fc.Name), books), log)
			if err != nil {
				g.close()
				return nil, err
			}
			szseFeeds = append(szseFeeds, sf)
			f = sf
		default:
			itf, err := feed.New(fc, feed.NewITCHDecoder(syms, books.NewInput(fc.Name)), log)
			if err != nil {
				g.close()
				return nil, err
			}
			itchFeeds = append(itchFeeds, itf)
			f = itf
		}
		g.feeds = append(g.feeds, f)
		gfeeds = append(gfeeds, f)
	}
	gfeeds = append(gfeeds, bus.feeds()...)
	reg.MustRegister(feed.NewCollector(itchFeeds...).WithSZSE(szseFeeds...), gateway.NewBooksCollector(books))
	deps := gateway.Deps{Market: books, PublishedDepth: books.MaxDepth(), Feeds: gfeeds, Registry: reg, Log: log, Web: web.Handler()}
	if cfg.Auth != nil {
		if g.tokens, err = auth.New(*cfg.Auth); err != nil {
			g.close()
			return nil, err
		}
		deps.Tokens = g.tokens
	}
	var entry broker.OrderEntry
	switch {
	case cfg.Orders != nil && cfg.Cluster != nil:
		tc, err := orderTerms(cfg, reg, log, nil)
		if err != nil {
			g.close()
			return nil, err
		}
		// storage.encryption seals the replicated log and snapshots (and
		// the broker acceptor's stores); nil keys keep them plain.
		if g.keys, err = cfg.StorageKeys(); err != nil {
			g.close()
			return nil, err
		}
		if g.clu, err = newClustered(cfg.Cluster, raftLn, tc, g.keys, log.With("component", "cluster")); err != nil {
			g.close()
			return nil, err
		}
		if bus != nil && bus.pub != nil {
			// Only the leader publishes, during its terms, under its epoch.
			bus.byTerm, g.clu.publish = true, bus.pub.RunEpoch
		}
		g.drainTimeout = tc.drain
		deps.Orders, deps.Admin, deps.Cluster, deps.Forward = g.clu.entry, g.clu.entry, g.clu, g.clu
		if tc := cfg.Cluster.HTTPTLS; tc != nil {
			if deps.ForwardTLS, err = netsec.ClientTLS(*tc, "", "cluster.http_tls"); err != nil {
				g.close()
				return nil, err
			}
		}
		reg.MustRegister(gateway.NewOrdersCollector(g.clu.entry), g.clu.collector())
	case cfg.Orders != nil:
		if err := g.buildOrders(cfg, reg, log); err != nil {
			g.close()
			return nil, err
		}
		deps.Orders, deps.Admin, entry = g.orders, g.orders, g.orders
		reg.MustRegister(gateway.NewOrdersCollector(g.orders))
	}
	switch {
	case cfg.Brokers != nil && g.clu != nil:
		// Only the leader serves the broker sessions, a term at a time.
		if err := g.clu.serveBrokers(*cfg.Brokers, cfg.Cluster, reg, log.With("component", "broker")); err != nil {
			g.close()
			return nil, err
		}
	case cfg.Brokers != nil && entry != nil:
		bc := *cfg.Brokers
		bc.Keys = g.keys
		// A restarted gateway restates what its stores lack: the reports
		// still queued when the last run ended (a broker logged out, a
		// kill) left with it.
		bc.Restate = true
		if g.brokers, err = broker.New(bc, entry, reg, log.With("component", "broker")); err != nil {
			g.close()
			return nil, err
		}
	}
	gcfg := cfg.Gateway
	if g.clu != nil {
		gcfg.ProxyProtocol = trustMembers(gcfg.ProxyProtocol, g.clu.http)
	}
	if g.server, err = gateway.New(gcfg, deps); err != nil {
		g.close()
		return nil, err
	}
	if g.clu != nil {
		g.clu.onTermEnd = func() { g.server.CloseTraders() }
	}
	return g, nil
}

// orderTerms is what order entry is built from: the manager's and the
// risk checks' configuration, the upstream sessions', and the metrics
// every order manager shares. clock is the day's (the start day pinned as
// the reference data's, gateway_orders_reference_data_stale); nil is the
// wall clock.
func orderTerms(cfg *configs.File, reg *prometheus.Registry, log *slog.Logger, clock risk.Clock) (termConfig, error) {
	oc := cfg.Orders
	rcfg := oc.Risk
	if len(rcfg.Instruments) == 0 {
		rcfg.Instruments = cfg.Instruments
	}
	chk, err := risk.New(rcfg, clock)
	if err != nil {
		return termConfig{}, err
	}
	if rcfg.RefDay == "" && !rcfg.Schedule.AlwaysOpen {
		// The reference data was loaded with the file: it is the start
		// day's, or, started on a weekend or a holiday, the next
		// session's. Every term's checker keeps it, and refuses orders
		// on a later day rather than check them against its limits.
		rcfg.RefDay = chk.FirstSessionDay()
		log.Info("orders: the reference data (previous closes) is taken as the first trading day from the start day's; set orders.risk.ref_day to name another", "ref_day", rcfg.RefDay)
		if chk, err = risk.New(rcfg, clock); err != nil {
			return termConfig{}, err
		}
	}
	// Every node says whether its reference data is behind the session at
	// hand, the followers too: one that leads with it refuses every order
	// (alert OrderReferenceDataStale).
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gateway_orders_reference_data_stale",
		Help: "1 when the reference data (orders.risk.ref_day, by default the start day) is for an earlier trading day than the current or next session's: " +
			"order entry with it refuses every new order and replace (risk.not_trading) until a restart with the day's data."},
		func() float64 {
			if chk.RefDayBehind() {
				return 1
			}
			return 0
		}))
	var credit []string
	for _, a := range rcfg.Accounts {
		if a.Credit {
			credit = append(credit, a.ID)
		}
	}
	internal := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_order_internal_latency_seconds",
		Help:    "Time from a new order's arrival to its hand-over to the upstream FIX session (risk, journal fsync, routing).",
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 16)})
	reg.MustRegister(internal)
	tc := termConfig{
		orders: orders.Config{CreditAccounts: credit, IDPrefix: oc.IDPrefix,
			HoldQueue: oc.HoldQueue, HoldTimeout: oc.HoldTimeout, AckTimeout: oc.AckTimeout, StatusTimeout: oc.StatusTimeout,
			DayEndCheck: oc.DayEndCheck,
			OnSent:      func(d time.Duration) { internal.Observe(d.Seconds()) }, Registry: reg},
		risk: rcfg, ups: oc.Upstreams, reg: reg, drain: oc.DrainTimeout,
		onReplay: func(n int, warm bool) { log.Info("order journal replayed", "records", n, "warm", warm) },
	}
	if tc.drain == 0 {
		tc.drain = 5 * time.Second
	}
	return tc, nil
}

// buildOrders builds a single gateway's order entry: risk, the journal
// (replayed), the order manager and the upstream FIX sessions.
func (g *Gateway) buildOrders(cfg *configs.File, reg *prometheus.Registry, log *slog.Logger) error {
	tc, err := orderTerms(cfg, reg, log, nil)
	if err != nil {
		return err
	}
	oc := cfg.Orders
	if oc.Journal == "" {
		return fmt.Errorf("%w: orders.journal is required", configs.ErrConfig)
	}
	// storage.encryption seals the journal and every FIX store; nil keys
	// keep them plain.
	if g.keys, err = cfg.StorageKeys(); err != nil {
		return err
	}
	// The journal's directory is the gateway's own (under systemd's
	// StateDirectory, or the container's volume); the journal creates it
	// when missing and fsyncs it into its parent, which os.MkdirAll
	// would not.
	fsync := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "gateway_journal_fsync_seconds",
		Help: "Time of one journal write and fsync (one group commit).", Buckets: prometheus.ExponentialBuckets(50e-6, 2, 14)})
	reg.MustRegister(fsync)
	g.journal, err = journal.Open(journal.Config{Path: oc.Journal, Keys: g.keys,
		OnSync: func(_, _ int, took time.Duration) { fsync.Observe(took.Seconds()) }})
	if err != nil {
		return err
	}
	if rec := g.journal.Recovered(); rec.TruncatedBytes > 0 {
		// A batch torn by a crash, or a damaged last batch that had been
		// acknowledged: the two look alike, and only the operator can
		// tell them apart (the client's acks, the venue's reports).
		log.Warn("order journal: damaged last records cut off (a write torn by a crash, or damage on disk); "+
			"check the last orders with the venue", "path", oc.Journal, "records_kept", rec.Records,
			"truncated_bytes", rec.TruncatedBytes)
	}
	rc, err := risk.New(tc.risk, nil)
	if err != nil {
		g.close()
		return err
	}
	g.orders, err = orders.New(tc.orders, rc, g.journal, log.With("component", "orders"))
	if err != nil {
		g.close()
		return err
	}
	for _, uc := range tc.ups {
		uc.Keys = g.keys
		// The order manager is the sessions' handler: reports, rejects and
		// session changes go straight to it.
		u, err := fix.NewUpstream(uc, g.orders, reg, log.With("component", "fix"))
		if err != nil {
			g.close()
			return err
		}
		g.upstreams = append(g.upstreams, u)
		g.orders.AddUpstream(uc.Name, u)
	}
	g.drainTimeout = tc.drain
	n, err := g.orders.Recover()
	if err != nil {
		g.close()
		return err
	}
	tc.onReplay(n, false)
	return nil
}

// close releases what New opened, for a Gateway that will not run.
func (g *Gateway) close() {
	if g.journal != nil {
		g.journal.Close()
	}
	if g.orders != nil {
		g.orders.Close()
	}
	if g.brokers != nil {
		g.brokers.Close()
	}
	if g.clu != nil && g.clu.brokers != nil {
		g.clu.brokers.front.close()
	}
	g.bus.close()
}

// Orders returns the order manager, or nil without order entry.
func (g *Gateway) Orders() *orders.Manager { return g.orders }

// Brokers returns the FIX acceptor for brokers, or nil without one.
func (g *Gateway) Brokers() *broker.Acceptor { return g.brokers }

// Tokens returns the token verifier, or nil when the config has none.
func (g *Gateway) Tokens() *auth.Verifier { return g.tokens }

// Books returns the order books.
func (g *Gateway) Books() *orderbook.Engine { return g.books }

// Run runs every component until ctx ends or one fails, then stops them
// in an order that keeps every promise made to clients:
//
//  1. order entry stops taking new orders (orders.stopping: the WebSocket
//     server first, letting requests in flight finish, then the order
//     manager for every path) and waits, up to orders.drain_timeout, for
//     what it accepted to be sent upstream and answered (requests held for
//     a session that is down stay in the journal and are sent after the
//     next start); a cluster leader then ends its term and hands leadership
//     over, so that another node leads while this one closes its clients;
//  2. the broker acceptor logs its sessions out and the HTTP/WebSocket
//     server closes its clients (1001, going away), so clients hear every
//     answer that arrived;
//  3. the upstream FIX sessions log out;
//  4. the order manager's timers, the feeds, the books and the market-data
//     bus (publisher or edge) stop;
//  5. the journal is closed, the bus connection too, then the embedded
//     NATS server if any.
//
// It logs the start and the stop with the reason. ln, when not nil, is the
// HTTP listener to serve on; otherwise the configured address.
func (g *Gateway) Run(ctx context.Context, ln net.Listener) error {
	reason := g.startReason
	if reason == "" {
		reason = "start requested"
	}
	// A cluster node's order manager and sessions are its terms': it says
	// what they are configured with.
	ordersOn, ups := g.orders != nil, len(g.upstreams)
	if g.clu != nil {
		ups = len(g.clu.terms.ups)
		ordersOn = ups > 0
	}
	g.log.Info("gateway starting", "reason", reason, "version", ReadBuild().Version,
		"orders", ordersOn, "upstreams", ups, "brokers", g.brokers != nil || (g.clu != nil && g.clu.brokers != nil), "cluster", g.clu != nil)
	failed := make(chan error, 1)
	fail := func(err error) {
		if err != nil {
			select {
			case failed <- err:
			default:
			}
		}
	}
	var stages [3]stage // in stopping order: client-facing, upstream sessions, the rest
	for i := range stages {
		stages[i].ctx, stages[i].cancel = context.WithCancel(context.Background())
	}
	server, upstreams, core := &stages[0], &stages[1], &stages[2]
	if g.brokers != nil {
		server.start(func() error { return g.brokers.Run(server.ctx) }, fail)
	}
	if g.clu != nil && g.clu.brokers != nil {
		server.start(func() error { return g.clu.brokers.front.run(server.ctx) }, fail)
	}
	server.start(func() error {
		if ln != nil {
			return g.server.Serve(server.ctx, ln)
		}
		return g.server.Run(server.ctx)
	}, fail)
	for _, u := range g.upstreams {
		upstreams.start(func() error { return u.Run(upstreams.ctx) }, fail)
	}
	if g.clu != nil {
		// The node stops with the upstream sessions, after the clients;
		// its term has ended in the drain already (clustered.drain).
		upstreams.start(func() error { return g.clu.run(upstreams.ctx) }, fail)
	}
	if !g.bus.ownsBooks() {
		core.start(func() error { return g.books.Run(core.ctx) }, fail)
	}
	if g.bus != nil {
		// The bus stops with the books: an edge's mirror is its books.
		core.start(func() error { return g.bus.run(core.ctx) }, fail)
	}
	for _, f := range g.feeds {
		core.start(func() error { return f.Run(core.ctx) }, fail)
	}
	if g.orders != nil {
		core.start(func() error { return g.orders.Run(core.ctx) }, fail)
	}

	var err error
	reason = "stop requested"
	select {
	case <-ctx.Done():
		if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
			reason = cause.Error()
		}
	case err = <-failed:
		reason = "a component failed: " + err.Error()
	}
	g.log.Info("gateway stopping", "reason", reason)
	if g.orders != nil || g.clu != nil {
		dctx, cancel := context.WithTimeout(context.Background(), g.drainTimeout)
		// WebSocket clients get orders.stopping from the server itself
		// (their requests in flight finish first); brokers, and anything
		// else, from the order manager.
		if serr := g.server.StopOrders(dctx); serr != nil {
			g.log.Warn("gateway: WebSocket order requests did not finish in time", "err", serr)
		}
		drain := g.clu.drain
		if g.orders != nil {
			drain = g.orders.Drain
		}
		if derr := drain(dctx); derr != nil {
			g.log.Warn("gateway: order entry did not drain in time", "err", derr)
		} else {
			g.log.Info("gateway: order entry drained")
		}
		cancel()
	}
	for i := range stages {
		stages[i].stop()
	}
	if g.journal != nil {
		if cerr := g.journal.Close(); err == nil {
			err = cerr
		}
	}
	if g.orders != nil {
		g.orders.Close()
	}
	g.bus.close()
	select {
	case ferr := <-failed:
		if err == nil {
			err = ferr
		}
	default:
	}
	g.log.Info("gateway stopped", "reason", reason, "err", err)
	return err
}

// stage is a group of components stopped together.
type stage struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start runs fn on its own goroutine; an error it returns goes to fail.
func (s *stage) start(fn func() error, fail func(error)) {
	s.wg.Go(func() { fail(fn()) })
}

// stop cancels the stage's context and waits for its components.
func (s *stage) stop() {
	s.cancel()
	s.wg.Wait()
}

// Demo is the simulator and the gateway in one process, the gateway's feeds
// and upstream lines pointed at the simulator, its HTTP listener bound.
type Demo struct {
	*Venue
	Gateway *Gateway
	// BaseURL is the HTTP address: http://host:port, or https:// when
	// gateway.tls is set.
	BaseURL string
	// Token is a bearer token for DemoAccounts, or "" without auth.
	Token string
	// OperatorToken is a bearer token of the first configured
	// administrator (gateway.admins), for the operator endpoints
	// (/metrics, /api/v1/feeds), or "" without auth or administrators.
	OperatorToken string

	ln net.Listener
}

// DemoAccounts are the accounts the demo's token may trade.
var DemoAccounts = []string{"A1", "A2", "M1"}

// NewDemo builds the simulator and the gateway from cfg (which must have a
// sim section) and binds the HTTP listener of cfg.Gateway.HTTP.
func NewDemo(cfg *configs.File, log *slog.Logger) (*Demo, error) {
	v, err := NewVenue(cfg, log)
	if err != nil {
		return nil, err
	}
	WireSimFeeds(cfg, v.Sim)
	if v.FIX != nil {
		if err := wireSimFIX(cfg, v.FIX); err != nil {
			v.Close()
			return nil, err
		}
	}
	g, err := New(cfg, log.With("component", "gateway"))
	if err != nil {
		v.Close()
		return nil, err
	}
	g.SetStartReason("demo: the gateway and the simulator in one process")
	g.reg.MustRegister(newSimCollector(v.Sim))
	ln, err := net.Listen("tcp", cfg.Gateway.HTTP)
	if err != nil {
		v.Close()
		g.close()
		return nil, fmt.Errorf("system: http listen: %w", err)
	}
	d := &Demo{Venue: v, Gateway: g, BaseURL: g.server.Scheme() + "://" + ln.Addr().String(), ln: ln}
	if g.tokens != nil {
		if d.Token, err = g.tokens.IssueFor("demo", DemoAccounts, 12*time.Hour, time.Now()); err != nil {
			d.Close()
			return nil, err
		}
		if len(cfg.Gateway.Admins) > 0 {
			if d.OperatorToken, err = g.tokens.Issue(auth.Claims{Subject: cfg.Gateway.Admins[0], Admin: true,
				Expires: time.Now().Add(12 * time.Hour).Unix()}); err != nil {
				d.Close()
				return nil, err
			}
		}
	}
	return d, nil
}

// Run runs the simulator and the gateway until ctx ends or one fails.
func (d *Demo) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return d.Venue.Run(ctx) })
	eg.Go(func() error { return d.Gateway.Run(ctx, d.ln) })
	return eg.Wait()
}

// Close releases a Demo that will not be run.
func (d *Demo) Close() {
	d.Venue.Close()
	d.Gateway.close()
	d.ln.Close()
}

// wireSimFIX points the upstream lines named "sim:fixN" at the FIX
// simulator's line N, and gives the demo's order journal and FIX stores
// (upstreams and brokers) a fresh temporary directory where the config
// leaves them empty.
func wireSimFIX(cfg *configs.File, fa *fixsim.Acceptor) error {
	if cfg.Orders == nil {
		return nil
	}
	dir, err := os.MkdirTemp("", "sgw-demo-")
	if err != nil {
		return fmt.Errorf("system: demo data directory: %w", err)
	}
	if cfg.Orders.Journal == "" {
		cfg.Orders.Journal = filepath.Join(dir, "orders.jrnl")
	}
	if cfg.Brokers != nil && cfg.Brokers.StoreDir == "" {
		cfg.Brokers.StoreDir = filepath.Join(dir, "fix-brokers")
	}
	for i := range cfg.Orders.Upstreams {
		u := &cfg.Orders.Upstreams[i]
		if u.StoreDir == "" {
			u.StoreDir = filepath.Join(dir, "fix-"+u.Name)
		}
		for j := range u.Lines {
			if n, ok := simFIXLine(u.Lines[j].Addr); ok {
				if n >= fa.Lines() {
					return fmt.Errorf("%w: upstream %s: %s: the FIX simulator has %d lines", configs.ErrConfig, u.Name, u.Lines[j].Addr, fa.Lines())
				}
				u.Lines[j].Addr = fa.LineAddr(n)
			}
		}
	}
	return nil
}

// simAddr maps the addresses that name the in-process simulator's listeners
// in a demo configuration to its sources.
var simAddr = map[string]sim.Source{"sim:primary": sim.Primary, "sim:backup": sim.Backup,
	"sim:szse-primary": sim.SZSEPrimary, "sim:szse-backup": sim.SZSEBackup}

// WireSimFeeds points the feed sources whose address names the in-process
// simulator (sim:primary, sim:backup, sim:szse-primary, sim:szse-backup)
// at its listeners, and makes TLS and TLCP sources among them trust the
// simulator's self-signed CAs (ECDSA and SM2).
func WireSimFeeds(cfg *configs.File, s *sim.Sim) {
	for i := range cfg.Feeds {
		for _, src := range []*feed.SourceConfig{&cfg.Feeds[i].Primary, &cfg.Feeds[i].Backup} {
			which, ok := simAddr[src.Addr]
			if !ok {
				continue
			}
			addr := s.Addr(which)
			if addr == nil {
				continue // SZSE mode is off: the feed's address stays invalid and says so
			}
			src.Addr = addr.String()
			if src.TLS != nil && src.TLS.CAPEM == "" && src.TLS.CAFile == "" {
				src.TLS.CAPEM = string(s.CACertPEM())
			}
			if src.TLCP != nil && src.TLCP.CAPEM == "" && src.TLCP.CAFile == "" {
				src.TLCP.CAPEM = string(s.TLCPCACertPEM())
			}
		}
	}
}

// CheckNoSimAddr reports a feed source that names the in-process simulator
// in a configuration run without it.
func CheckNoSimAddr(cfg *configs.File) error {
	for _, fc := range cfg.Feeds {
		for _, addr := range []string{fc.Primary.Addr, fc.Backup.Addr} {
			if _, ok := simAddr[addr]; ok {
				return fmt.Errorf("feed %s: addr %s names the in-process simulator, which only the demo command runs", fc.Name, addr)
			}
		}
	}
	if cfg.Orders != nil {
		for _, u := range cfg.Orders.Upstreams {
			for _, l := range u.Lines {
				if strings.HasPrefix(l.Addr, "sim:") {
					return fmt.Errorf("upstream %s: line %s names the in-process FIX simulator, which only the demo command runs", u.Name, l.Addr)
				}
			}
		}
	}
	return nil
}

// simCollector exports the demo simulator's synthetic flow (sim.FlowStats)
// beside the gateway's metrics, so a load test can tell a simulator that
// fell behind (a starved machine publishes less, and later, than asked)
// from a gateway that did.
type simCollector struct {
	sim              *sim.Sim
	actions, skipped *prometheus.Desc
}

func newSimCollector(s *sim.Sim) simCollector {
	return simCollector{sim: s,
		actions: prometheus.NewDesc("gateway_sim_flow_actions_total", "The demo simulator's synthetic order-flow actions (sim.rate per second).", nil, nil),
		skipped: prometheus.NewDesc("gateway_sim_flow_skipped_total", "Synthetic order-flow actions the demo simulator fell more than a second behind on and never took (a starved machine).", nil, nil)}
}

// Describe implements prometheus.Collector.
func (c simCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.actions
	ch <- c.skipped
}

// Collect implements prometheus.Collector.
func (c simCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.sim.FlowStats()
	ch <- prometheus.MustNewConstMetric(c.actions, prometheus.CounterValue, float64(st.Actions))
	ch <- prometheus.MustNewConstMetric(c.skipped, prometheus.CounterValue, float64(st.Skipped))
}

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
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"golang.org/x/sync/errgroup"

	"sgw/auth"
	"sgw/configs"
	"sgw/feed"
	"sgw/gateway"
	"sgw/gateway/web"
	"sgw/orderbook"
	"sgw/sim"
)

// Gateway is the gateway's components, constructed and ready to run.
type Gateway struct {
	books  *orderbook.Engine
	feeds  []*feed.Feed
	tokens *auth.Verifier // nil when the config has no auth section
	server *gateway.Server
}

// New constructs the gateway described by cfg.
func New(cfg *configs.File, log *slog.Logger) (*Gateway, error) {
	engCfg := cfg.Engine()
	books, err := orderbook.New(engCfg)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	g := &Gateway{books: books}
	var gfeeds []gateway.Feed
	for _, fc := range cfg.Feeds {
		f, err := feed.New(fc, books.NewInput(fc.Name), log)
		if err != nil {
			return nil, err
		}
		g.feeds = append(g.feeds, f)
		gfeeds = append(gfeeds, f)
	}
	reg.MustRegister(feed.NewCollector(g.feeds...), gateway.NewBooksCollector(books))
	deps := gateway.Deps{Market: books, PublishedDepth: books.MaxDepth(), Feeds: gfeeds, Registry: reg, Log: log, Web: web.Handler()}
	if cfg.Auth != nil {
		if g.tokens, err = auth.New(*cfg.Auth); err != nil {
			return nil, err
		}
		deps.Tokens = g.tokens
	}
	if g.server, err = gateway.New(cfg.Gateway, deps); err != nil {
		return nil, err
	}
	return g, nil
}

// Tokens returns the token verifier, or nil when the config has none.
func (g *Gateway) Tokens() *auth.Verifier { return g.tokens }

// Books returns the order books.
func (g *Gateway) Books() *orderbook.Engine { return g.books }

// Run runs every component until ctx ends or one fails. ln, when not nil,
// is the HTTP listener to serve on; otherwise the configured address.
func (g *Gateway) Run(ctx context.Context, ln net.Listener) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return g.books.Run(ctx) })
	for _, f := range g.feeds {
		eg.Go(func() error { return f.Run(ctx) })
	}
	eg.Go(func() error {
		if ln != nil {
			return g.server.Serve(ctx, ln)
		}
		return g.server.Run(ctx)
	})
	return eg.Wait()
}

// Demo is the simulator and the gateway in one process, the gateway's feeds
// pointed at the simulator, its HTTP listener bound.
type Demo struct {
	Sim     *sim.Sim
	Gateway *Gateway
	// BaseURL is the HTTP address, http://host:port.
	BaseURL string
	// Token is a bearer token for DemoAccounts, or "" without auth.
	Token string

	ln net.Listener
}

// DemoAccounts are the accounts the demo's token may trade.
var DemoAccounts = []string{"A1", "A2", "M1"}

// NewDemo builds the simulator and the gateway from cfg (which must have a
// sim section) and binds the HTTP listener of cfg.Gateway.HTTP.
func NewDemo(cfg *configs.File, log *slog.Logger) (*Demo, error) {
	sc, err := cfg.SimConfig()
	if err != nil {
		return nil, err
	}
	sc.Logger = log.With("component", "sim")
	s, err := sim.New(sc)
	if err != nil {
		return nil, err
	}
	WireSimFeeds(cfg, s)
	g, err := New(cfg, log.With("component", "gateway"))
	if err != nil {
		s.Close()
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Gateway.HTTP)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("system: http listen: %w", err)
	}
	d := &Demo{Sim: s, Gateway: g, BaseURL: "http://" + ln.Addr().String(), ln: ln}
	if g.tokens != nil {
		if d.Token, err = g.tokens.IssueFor("demo", DemoAccounts, 12*time.Hour, time.Now()); err != nil {
			d.Close()
			return nil, err
		}
	}
	return d, nil
}

// Run runs the simulator and the gateway until ctx ends or one fails.
func (d *Demo) Run(ctx context.Context) error {
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return d.Sim.Run(ctx) })
	eg.Go(func() error { return d.Gateway.Run(ctx, d.ln) })
	return eg.Wait()
}

// Close releases a Demo that will not be run.
func (d *Demo) Close() {
	d.Sim.Close()
	d.ln.Close()
}

// simAddr maps the addresses that name the in-process simulator's listeners
// in a demo configuration to its sources.
var simAddr = map[string]sim.Source{"sim:primary": sim.Primary, "sim:backup": sim.Backup}

// WireSimFeeds points the feed sources whose address names the in-process
// simulator (sim:primary, sim:backup) at its listeners, and makes TLS
// sources among them trust the simulator's self-signed CA.
func WireSimFeeds(cfg *configs.File, s *sim.Sim) {
	for i := range cfg.Feeds {
		for _, src := range []*feed.SourceConfig{&cfg.Feeds[i].Primary, &cfg.Feeds[i].Backup} {
			which, ok := simAddr[src.Addr]
			if !ok {
				continue
			}
			src.Addr = s.Addr(which).String()
			if src.TLS != nil && src.TLS.CAPEM == "" && src.TLS.CAFile == "" {
				src.TLS.CAPEM = string(s.CACertPEM())
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
	return nil
}

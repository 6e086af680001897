package main

import (
	"context"
	"fmt"
	"io"
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

// system is the gateway's components, constructed and ready to run.
type system struct {
	books  *orderbook.Engine
	feeds  []*feed.Feed
	tokens *auth.Verifier // nil when the config has no auth section
	server *gateway.Server
}

// newSystem constructs the gateway's components from cfg.
func newSystem(cfg *configs.File, log *slog.Logger) (*system, error) {
	engCfg := cfg.Engine()
	books, err := orderbook.New(engCfg)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	sys := &system{books: books}
	var gfeeds []gateway.Feed
	for _, fc := range cfg.Feeds {
		f, err := feed.New(fc, books.NewInput(fc.Name), log)
		if err != nil {
			return nil, err
		}
		sys.feeds = append(sys.feeds, f)
		gfeeds = append(gfeeds, f)
	}
	reg.MustRegister(feed.NewCollector(sys.feeds...), gateway.NewBooksCollector(books))
	depth := engCfg.MaxDepth
	if depth == 0 {
		depth = orderbook.DefaultMaxDepth
	}
	deps := gateway.Deps{Market: books, PublishedDepth: depth, Feeds: gfeeds, Registry: reg, Log: log, Web: web.Handler()}
	if cfg.Auth != nil {
		if sys.tokens, err = auth.New(*cfg.Auth); err != nil {
			return nil, err
		}
		deps.Tokens = sys.tokens
	}
	sys.server, err = gateway.New(cfg.Gateway, deps)
	if err != nil {
		return nil, err
	}
	return sys, nil
}

// run runs every component until ctx ends or one fails. ln, when not nil,
// is the HTTP listener to serve on.
func (s *system) run(ctx context.Context, ln net.Listener) error {
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.books.Run(ctx) })
	for _, f := range s.feeds {
		g.Go(func() error { return f.Run(ctx) })
	}
	g.Go(func() error {
		if ln != nil {
			return s.server.Serve(ctx, ln)
		}
		return s.server.Run(ctx)
	})
	return g.Wait()
}

// runGateway runs the gateway described by cfg.
func runGateway(ctx context.Context, cfg *configs.File, log *slog.Logger, ln net.Listener) error {
	if err := checkNoSimAddr(cfg); err != nil {
		return err
	}
	sys, err := newSystem(cfg, log)
	if err != nil {
		return err
	}
	return sys.run(ctx, ln)
}

// runSim runs the exchange simulator described by cfg's sim section.
func runSim(ctx context.Context, cfg *configs.File, log *slog.Logger) error {
	sc, err := cfg.SimConfig()
	if err != nil {
		return err
	}
	sc.Logger = log.With("component", "sim")
	s, err := sim.New(sc)
	if err != nil {
		return err
	}
	log.Info("simulator listening", "primary", s.Addr(sim.Primary).String(), "backup", s.Addr(sim.Backup).String())
	return s.Run(ctx)
}

// runDemo runs the simulator and the gateway in one process, the gateway's
// feeds pointed at the simulator.
func runDemo(ctx context.Context, cfg *configs.File, log *slog.Logger, stdout io.Writer) error {
	sc, err := cfg.SimConfig()
	if err != nil {
		return err
	}
	sc.Logger = log.With("component", "sim")
	s, err := sim.New(sc)
	if err != nil {
		return err
	}
	wireDemoFeeds(cfg, s)
	sys, err := newSystem(cfg, log.With("component", "gateway"))
	if err != nil {
		s.Close()
		return err
	}
	ln, err := net.Listen("tcp", cfg.Gateway.HTTP)
	if err != nil {
		s.Close()
		return fmt.Errorf("demo: http listen: %w", err)
	}
	base := "http://" + ln.Addr().String()
	token := ""
	if sys.tokens != nil {
		// A token for the demo accounts, so the page and a WebSocket client
		// can authenticate at once.
		token, err = sys.tokens.IssueFor("demo", demoAccounts, 12*time.Hour, time.Now())
		if err != nil {
			s.Close()
			return err
		}
	}
	fmt.Fprintf(stdout, "demo running: simulator feed on %s (primary) and %s (backup, TLS)\n", s.Addr(sim.Primary), s.Addr(sim.Backup))
	fmt.Fprintf(stdout, "  books:       %s/api/v1/book/%s?depth=5\n", base, cfg.Instruments[0].Symbol)
	fmt.Fprintf(stdout, "  instruments: %s/api/v1/instruments\n", base)
	fmt.Fprintf(stdout, "  feeds:       %s/api/v1/feeds\n", base)
	fmt.Fprintf(stdout, "  metrics:     %s/metrics\n", base)
	fmt.Fprintf(stdout, "  web page:    %s/\n", base)
	if token != "" {
		fmt.Fprintf(stdout, "  token:       %s\n", token)
		fmt.Fprintf(stdout, "  page with token: %s/?token=%s\n", base, token)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.Run(ctx) })
	g.Go(func() error { return sys.run(ctx, ln) })
	return g.Wait()
}

// demoAccounts are the accounts the demo's printed token may trade.
var demoAccounts = []string{"A1", "A2", "M1"}

// simAddr maps the addresses that name the in-process simulator's listeners
// in a demo configuration to its sources.
var simAddr = map[string]sim.Source{"sim:primary": sim.Primary, "sim:backup": sim.Backup}

// wireDemoFeeds points the feed sources whose address names the in-process
// simulator (sim:primary, sim:backup) at its listeners, and makes TLS
// sources among them trust the simulator's self-signed CA.
func wireDemoFeeds(cfg *configs.File, s *sim.Sim) {
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

// checkNoSimAddr reports a feed source that names the in-process simulator
// outside the demo.
func checkNoSimAddr(cfg *configs.File) error {
	for _, fc := range cfg.Feeds {
		for _, addr := range []string{fc.Primary.Addr, fc.Backup.Addr} {
			if _, ok := simAddr[addr]; ok {
				return fmt.Errorf("feed %s: addr %s names the in-process simulator, which only the demo command runs", fc.Name, addr)
			}
		}
	}
	return nil
}

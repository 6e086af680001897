package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"

	"sgw/configs"
	"sgw/internal/memlimit"
	"sgw/sim"
	"sgw/system"
)

// runGateway runs the gateway described by cfg, read from the file
// configPath.
func runGateway(ctx context.Context, cfg *configs.File, configPath string, log *slog.Logger) error {
	if err := system.CheckNoSimAddr(cfg); err != nil {
		return err
	}
	// The deploy files' GOGC=400 lets the heap grow to about five times
	// what is live: under a memory limit, the collector keeps below it.
	memlimit.Apply(log)
	g, err := system.New(cfg, log)
	if err != nil {
		return err
	}
	g.SetStartReason(fmt.Sprintf("gateway run -config %s (pid %d)", configPath, os.Getpid()))
	return g.Run(ctx, nil)
}

// runSim runs the exchange simulator described by cfg's sim section, and
// its FIX acceptor with a fix_sim section, and prints where they listen.
func runSim(ctx context.Context, cfg *configs.File, log *slog.Logger, stdout io.Writer) error {
	v, err := system.NewVenue(cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "sim running: the exchange simulator")
	for _, src := range []struct {
		name string
		id   sim.Source
		tls  bool
	}{
		{"itch primary", sim.Primary, cfg.Sim.Primary.TLS.Enabled()},
		{"itch backup", sim.Backup, cfg.Sim.Backup.TLS.Enabled()},
		{"szse primary", sim.SZSEPrimary, cfg.Sim.SZSE.Primary.TLS.Enabled()},
		{"szse backup", sim.SZSEBackup, cfg.Sim.SZSE.Backup.TLS.Enabled()},
	} {
		if a := v.Sim.Addr(src.id); a != nil {
			tls := ""
			if src.tls {
				tls = " (TLS)"
			}
			fmt.Fprintf(stdout, "  %-13s %s%s\n", src.name+":", a, tls)
		}
	}
	if v.FIX != nil {
		for i := range v.FIX.Lines() {
			fmt.Fprintf(stdout, "  %-13s %s\n", fmt.Sprintf("fix line %d:", i), v.FIX.LineAddr(i))
		}
	}
	return v.Run(ctx)
}

// runDemo runs the simulator and the gateway in one process and prints
// where to look. With withTLS the public port serves TLS and TLCP with
// certificates made at start (system.DemoTLS).
func runDemo(ctx context.Context, cfg *configs.File, withTLS bool, log *slog.Logger, stdout io.Writer) error {
	var files system.DemoTLSFiles
	if withTLS {
		var err error
		if files, err = system.DemoTLS(cfg); err != nil {
			return err
		}
		defer os.RemoveAll(files.Dir) // the CAs' certificates and the listener's keys
	}
	d, err := system.NewDemo(cfg, log)
	if err != nil {
		return err
	}
	base := d.BaseURL
	fmt.Fprintf(stdout, "demo running: simulator feed on %s (primary) and %s (backup, TLS)\n", d.Sim.Addr(sim.Primary), d.Sim.Addr(sim.Backup))
	fmt.Fprintf(stdout, "  web page:    %s/\n", base)
	if withTLS {
		fmt.Fprintf(stdout, "  TLS CA:      %s   (curl --cacert)\n", files.CA)
		fmt.Fprintf(stdout, "  TLCP CA:     %s   (SM2; TLCP on the same port)\n", files.SM2CA)
		fmt.Fprintf(stdout, "  TLS files:   %s (removed at exit)\n", files.Dir)
	}
	fmt.Fprintf(stdout, "  books:       %s/api/v1/book/%s?depth=5\n", base, cfg.Instruments[0].Symbol)
	fmt.Fprintf(stdout, "  instruments: %s/api/v1/instruments\n", base)
	fmt.Fprintf(stdout, "  feeds:       %s/api/v1/feeds   (operator token)\n", base)
	fmt.Fprintf(stdout, "  metrics:     %s/metrics   (operator token)\n", base)
	if b := d.Gateway.Brokers(); b != nil {
		fmt.Fprintf(stdout, "  fix broker:  %s SenderCompID=BROKER1 TargetCompID=SGW FIX.4.4 password=demo (accounts A1, A2)\n", b.Addr())
	}
	if d.Token != "" {
		fmt.Fprintf(stdout, "  token:       %s\n", d.Token)
		fmt.Fprintf(stdout, "  page with token: %s/?token=%s\n", base, d.Token)
	}
	if d.OperatorToken != "" {
		fmt.Fprintf(stdout, "  operator token (Authorization: Bearer ...): %s\n", d.OperatorToken)
	}
	return d.Run(ctx)
}

// runDemoCluster runs the simulator, NATS, n clustered gateways and an
// edge in one process and prints where to look.
func runDemoCluster(ctx context.Context, load func() (*configs.File, error), n int, log *slog.Logger, stdout io.Writer) error {
	dc, err := system.NewDemoCluster(load, n, log)
	if err != nil {
		return err
	}
	cfg, err := load()
	if err != nil {
		dc.Close()
		return err
	}
	fmt.Fprintf(stdout, "demo cluster running: simulator feed on %s (primary) and %s (backup, TLS), market data bus %s\n",
		dc.Sim.Addr(sim.Primary), dc.Sim.Addr(sim.Backup), dc.NATS.ClientURL())
	for _, nd := range dc.Nodes {
		hint := "cluster node, ingest: runs the feeds; the Raft leader publishes the books and takes orders, followers forward order entry to it"
		if nd.Role == configs.RoleEdge {
			hint = "edge: market data only, its books mirrored from the bus"
		}
		fmt.Fprintf(stdout, "  %-5s %s/   %s\n", nd.ID, nd.BaseURL, hint)
	}
	first := dc.Nodes[0].BaseURL
	fmt.Fprintf(stdout, "  roles:       %s/readyz (each node: role, leader)\n", first)
	fmt.Fprintf(stdout, "  books:       %s/api/v1/book/%s?depth=5 (any node, the edge too)\n", dc.Nodes[len(dc.Nodes)-1].BaseURL, cfg.Instruments[0].Symbol)
	fmt.Fprintf(stdout, "  raft data:   %s (removed at exit)\n", dc.Dir)
	if dc.Token != "" {
		fmt.Fprintf(stdout, "  token:       %s\n", dc.Token)
		fmt.Fprintf(stdout, "  page with token: %s/?token=%s\n", first, dc.Token)
	}
	if dc.OperatorToken != "" {
		fmt.Fprintf(stdout, "  operator token (Authorization: Bearer ...): %s\n", dc.OperatorToken)
	}
	return dc.Run(ctx)
}

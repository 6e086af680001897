package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"sgw/loadtest"
)

// runLoadtest parses the loadtest command line and runs it.
func runLoadtest(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c loadtest.Config
	fs.StringVar(&c.Scenario, "scenario", "", "scenario: marketdata, orders, mixed (both at once) or soak (mixed with a feed source killed and a FIX line cut)")
	fs.DurationVar(&c.Duration, "duration", 0, "how long load is measured (required)")
	fs.DurationVar(&c.Warmup, "warmup", 0, "load before measuring (default 2s)")
	fs.StringVar(&c.Out, "out", "", "directory for the report files (required)")
	fs.StringVar(&c.Target, "target", "", "base URL of a running gateway (default: start the simulator and a gateway)")
	fs.BoolVar(&c.Spawn, "spawn", false, "start the gateway as a child process (its memory per connection is reported)")
	fs.IntVar(&c.Cluster, "cluster", 0, "start a cluster of this many gateway nodes (and an edge) in this process and send orders to its leader (default 0: one gateway)")
	fs.IntVar(&c.PID, "pid", 0, "process id of the -target gateway, to report its memory")
	fs.IntVar(&c.Clients, "clients", 0, "WebSocket clients (default 100)")
	fs.IntVar(&c.SymbolsPerClient, "symbols-per-client", 0, "symbols each client subscribes to (default 1)")
	fs.IntVar(&c.Depth, "depth", 0, "book depth: 5, 10 or 20 (default 10)")
	fs.IntVar(&c.Symbols, "symbols", 0, "instruments in a started gateway (default: the demo's)")
	fs.IntVar(&c.Rate, "rate", 0, "simulator actions (about one book update each) per second in a started gateway (default 1000)")
	fs.IntVar(&c.ConnectRate, "connect-rate", 0, "clients connecting per second (default 2000)")
	fs.StringVar(&c.Verify, "verify", "", "all: every client verifies checksums; sample: one in 20 does, all check sequences (default all)")
	fs.StringVar(&c.Token, "token", "", "bearer token for a -target: required for the orders scenarios, naming the -accounts")
	fs.StringVar(&c.OperatorToken, "operator-token", "", "an operator's bearer token for a -target, to read its /metrics (gateway-side figures)")
	fs.IntVar(&c.Sessions, "sessions", 0, "trading sessions of the orders scenario (default 4)")
	fs.IntVar(&c.OrderRate, "order-rate", 0, "new orders per second over all trading sessions, open loop (default 200)")
	fs.Func("accounts", "comma-separated accounts the trading sessions use in turn (default A1)", func(v string) error {
		c.Accounts = strings.Split(v, ",")
		return nil
	})
	fs.IntVar(&c.FIXSessions, "fix-sessions", 0, "how many of the -sessions trade over the gateway's FIX broker acceptor (FIX 4.4) instead of the WebSocket")
	fs.StringVar(&c.FIXBroker, "fix-broker", "", "address of the -target gateway's FIX broker acceptor (for -fix-sessions)")
	fs.StringVar(&c.FIXSender, "fix-sender", "BROKER1", "SenderCompID of the first FIX session; the next ones count up (BROKER2, ...)")
	fs.StringVar(&c.FIXPassword, "fix-password", "demo", "Password (554) of the FIX sessions")
	fs.DurationVar(&c.MaxP99, "max-p99", 0, "fail when the primary measure's p99 exceeds this (tick_to_client; order_ack for -scenario orders)")
	fs.DurationVar(&c.MaxOrderP99, "max-order-p99", 0, "fail when the order_ack p99 exceeds this")
	fs.Float64Var(&c.MinDelivered, "min-delivered", 0, "fail when fewer messages per second are delivered")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	sum, err := loadtest.Run(ctx, c, stderr, log)
	if sum != nil {
		fmt.Fprint(stdout, sum.Text())
		fmt.Fprintf(stdout, "report: %s/{summary.txt,summary.json,chart.html,*.hgrm}\n", c.Out)
	}
	return err
}

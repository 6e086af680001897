// Command gateway is a securities market-data and order-entry gateway: it
// ingests a primary and a backup ITCH feed, keeps lock-free order books and
// serves them to clients and operators. main only wires: it parses flags,
// loads the configuration, constructs the components and runs them until a
// signal arrives.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"sgw/configs"
	"sgw/system"
)

const usage = `usage: gateway <command> [flags]

commands:
  demo [-config FILE] [-http ADDR]   run simulator and gateway on loopback (default: embedded configs/demo.yaml)
  demo -tls [-config FILE]           the same, the public port serving TLS and TLCP (GB/T 38636) side by side
  demo -cluster N [-config FILE]     the same with N clustered gateways, NATS market data and an edge
  run -config FILE                   run the gateway
  sim -config FILE                   run the exchange simulator (market feeds and FIX acceptor)
  check-config FILE                  validate a configuration completely, starting nothing
  loadtest -scenario NAME -duration D -out DIR [flags]
                                     run a load test (see 'gateway loadtest -h')
  replay -capture FILE_OR_DIR [-speed 1|N|max] [-listen ADDR] [flags]
                                     serve a feed capture as an ITCH or SZSE source (see 'gateway replay -h')
  token -sub SUB (-config FILE | -key FILE -alg ALG -kid KID) [flags]
                                     mint a bearer token (see 'gateway token -h')
  version                            print the version, VCS revision and Go version of the build
`

func main() {
	ctx, stop := signalContext(os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "gateway:", err)
		os.Exit(1)
	}
}

// run dispatches one command line. It returns when the command finishes or
// ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command")
	}
	cmd, args := args[0], args[1:]
	switch cmd {
	case "loadtest":
		return runLoadtest(ctx, args, stdout, stderr)
	case "token":
		return runToken(args, stdout, stderr, time.Now())
	case "replay":
		return runReplay(ctx, args, stdout, stderr)
	case "check-config":
		return runCheckConfig(args, stdout, stderr)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (YAML)")
	var httpAddr *string
	var clusterN *int
	var demoTLS *bool
	if cmd == "demo" {
		demoTLS = fs.Bool("tls", false, "serve TLS and TLCP (national crypto) side by side on the public port, with certificates made at start (their CAs are printed)")
		httpAddr = fs.String("http", "", "HTTP listen address (default from the config: 127.0.0.1:8080)")
		clusterN = fs.Int("cluster", 0, "run N gateway nodes as a Raft cluster, publishing market data over an embedded NATS server to an edge gateway (0: one gateway)")
	}
	switch cmd {
	case "version":
		fmt.Fprint(stdout, system.ReadBuild())
		return nil
	case "demo", "run", "sim":
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args())
	}
	load := func() (*configs.File, error) {
		switch {
		case *configPath != "":
			return configs.Load(*configPath)
		case cmd == "demo":
			return configs.LoadDemo()
		}
		return nil, fmt.Errorf("%s: -config FILE is required", cmd)
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if httpAddr != nil && *httpAddr != "" {
		cfg.Gateway.HTTP = *httpAddr
	}
	log, err := cfg.Log.Logger(stderr)
	if err != nil {
		return err
	}
	switch {
	case cmd == "demo" && clusterN != nil && *clusterN != 0:
		if *httpAddr != "" {
			return errors.New("demo: -http and -cluster: the cluster's gateways listen on free loopback ports")
		}
		if *demoTLS {
			return errors.New("demo: -tls and -cluster: the cluster demo has no -tls")
		}
		return runDemoCluster(ctx, load, *clusterN, log, stdout)
	case cmd == "demo":
		return runDemo(ctx, cfg, *demoTLS, log, stdout)
	case cmd == "sim":
		return runSim(ctx, cfg, log, stdout)
	default:
		return runGateway(ctx, cfg, *configPath, log)
	}
}

// signalContext returns a context cancelled, with the signal as its cause
// (context.Cause, which the gateway logs as the reason it stops), when one
// of sigs arrives.
func signalContext(sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(fmt.Errorf("signal %s", s))
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

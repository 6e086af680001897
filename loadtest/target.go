package loadtest

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gopkg.in/yaml.v3"

	"sgw/auth"
	"sgw/configs"
	"sgw/fix/broker"
	"sgw/refdata"
	"sgw/risk"
	"sgw/sim"
	"sgw/system"
)

// target is the gateway under test.
type target struct {
	base  string // http://host:port
	token string
	ops   string // an operator's token, for /metrics; "" when none
	// fixBroker is the address of the gateway's FIX acceptor for
	// brokers; empty when unknown.
	fixBroker string
	pid       int // 0 when unknown
	own       bool
	stop      func() error
	// demo is the simulator and gateway when they run in this process
	// (the soak scenario injects its faults through it); nil otherwise.
	demo *system.Demo
	// sim is the simulator when it runs in this process (demo's, or a
	// cluster's); nil otherwise.
	sim *sim.Sim
}

// simFlow returns the simulator's synthetic-flow counters: read directly
// when it runs in this process, else from the gateway's metrics
// (gateway_sim_flow_*, exported by a demo). ok is false when neither
// tells (a gateway fed by something else, or no operator token).
func (t *target) simFlow(ctx context.Context) (st sim.FlowStats, ok bool) {
	if t.sim != nil {
		return t.sim.FlowStats(), true
	}
	samples, err := scrapeMetrics(ctx, t)
	if err != nil {
		return st, false
	}
	if !slices.ContainsFunc(samples, func(p promSample) bool { return p.name == "gateway_sim_flow_actions_total" }) {
		return st, false
	}
	return sim.FlowStats{Actions: uint64(metricSum(samples, "gateway_sim_flow_actions_total")),
		Skipped: uint64(metricSum(samples, "gateway_sim_flow_skipped_total"))}, true
}

// loopbackHost reports whether host is a loopback name or address.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// gatewayConfig is the configuration of a gateway the tester starts: the
// demo's (or the named file's) with the simulator's rate, more
// instruments, open limits for many clients from one address, and quiet
// logs.
func gatewayConfig(c Config, file string) (*configs.File, error) {
	var cfg *configs.File
	var err error
	if file != "" {
		cfg, err = configs.Load(file)
	} else {
		cfg, err = configs.LoadDemo()
	}
	if err != nil {
		return nil, err
	}
	if cfg.Sim == nil {
		return nil, fmt.Errorf("%w: the gateway config has no sim section", ErrConfig)
	}
	cfg.Log.Level = "warn"
	cfg.Gateway.HTTP = "127.0.0.1:0"
	cfg.Gateway.WS.AnonymousMarketData = true
	// The tester's market-data clients are anonymous and read book
	// depth: level 2, which anonymous viewers get only from an auth
	// section that grants it.
	if cfg.Auth == nil {
		secret := make([]byte, 32)
		crand.Read(secret)
		cfg.Auth = &auth.Config{Secret: hex.EncodeToString(secret)}
	}
	cfg.Auth.Anonymous = auth.FullEntitlements()
	cfg.Gateway.WS.MaxConnectionsPerIP = 1 << 20
	cfg.Gateway.WS.MaxConnections = 1 << 20
	cfg.Gateway.Pprof = true
	cfg.Sim.Rate = c.Rate
	for i := len(cfg.Instruments); i < c.Symbols; i++ {
		in := refdata.Instrument{
			Symbol:    fmt.Sprintf("%06d.SH", 601000+i),
			Board:     refdata.BoardMain,
			PrevClose: refdata.Price((10 + i%90) * refdata.PriceScale),
		}
		if err := in.Validate(); err != nil {
			return nil, err
		}
		cfg.Instruments = append(cfg.Instruments, in)
	}
	if cfg.Sim != nil {
		cfg.Sim.Instruments = nil // the file's instruments
	}
	if c.hasOrders() {
		if err := fundOrders(c, cfg); err != nil {
			return nil, err
		}
		if err := fixBrokers(c, cfg); err != nil {
			return nil, err
		}
	}
	return cfg, nil
}

// fundOrders opens a started gateway's limits to the orders scenario's
// load: no per-connection message limit or order throttle it could meet,
// and the traded accounts funded for the whole run (cash for the buys,
// positions in every instrument for the sells; shares bought today are
// not sellable, so sells consume the position). The load tester measures
// the gateway's latency, not its limits. The throttles are opened all the
// way, not to a multiple of the rate: a sender that falls behind its
// schedule (a loaded machine stalls it) catches up at once, and that
// burst, of however many seconds it lagged, met a throttle of twice the
// rate (TestSoakRun failed so once, at load average 13, with orders
// refused by a throttle).
// maxWSMessages is the per-connection message limit a spawned gateway
// gets for the orders scenarios: beyond any sender's catch-up.
const maxWSMessages = 100_000

func fundOrders(c Config, cfg *configs.File) error {
	if cfg.Orders == nil {
		return fmt.Errorf("%w: the gateway config has no orders section", ErrConfig)
	}
	cfg.Gateway.WS.MaxMessagesPerSecond = max(cfg.Gateway.WS.MaxMessagesPerSecond, maxWSMessages)
	r := &cfg.Orders.Risk
	r.AccountRate, r.SessionRate = risk.MaxRate, risk.MaxRate
	orders := int64(c.OrderRate) * int64((c.Warmup+c.Duration+time.Minute)/time.Second)
	const maxCash = refdata.Price(1_000_000_000_000 * refdata.PriceScale) // 10^12 CNY
	for _, id := range c.Accounts {
		i := slices.IndexFunc(r.Accounts, func(a risk.AccountConfig) bool { return a.ID == id })
		if i < 0 {
			return fmt.Errorf("%w: -accounts: the gateway has no account %s", ErrConfig, id)
		}
		a := &r.Accounts[i]
		a.Cash = max(a.Cash, maxCash)
		pos := make(map[string]int64, len(cfg.Instruments))
		maps.Copy(pos, a.Positions)
		for _, in := range cfg.Instruments {
			pos[in.Symbol] = max(pos[in.Symbol], min(orders*max(in.Lot, 200), 1_000_000_000_000))
		}
		a.Positions = pos
	}
	return nil
}

// fixBrokers gives a started gateway the broker sessions of the FIX
// trading sessions (c.FIXSessions): the CompIDs fixCompID names, with
// c.FIXPassword, trading the run's accounts.
func fixBrokers(c Config, cfg *configs.File) error {
	if c.FIXSessions == 0 {
		return nil
	}
	if cfg.Brokers == nil {
		return fmt.Errorf("%w: -fix-sessions: the gateway config has no brokers section", ErrConfig)
	}
	for k := range c.FIXSessions {
		id := fixCompID(c.FIXSender, k)
		i := slices.IndexFunc(cfg.Brokers.Sessions, func(s broker.SessionConfig) bool { return s.TargetCompID == id })
		if i < 0 {
			cfg.Brokers.Sessions = append(cfg.Brokers.Sessions, broker.SessionConfig{SenderCompID: "SGW", TargetCompID: id,
				BeginString: "FIX.4.4", Password: c.FIXPassword})
			i = len(cfg.Brokers.Sessions) - 1
		}
		s := &cfg.Brokers.Sessions[i]
		for _, a := range c.Accounts {
			if !slices.Contains(s.Accounts, a) {
				s.Accounts = append(s.Accounts, a)
			}
		}
	}
	return nil
}

// startTarget starts or finds the gateway under test.
func startTarget(ctx context.Context, c Config, log *slog.Logger) (*target, error) {
	if c.Target != "" {
		return &target{base: strings.TrimRight(c.Target, "/"), token: c.Token, ops: c.OperatorToken, fixBroker: c.FIXBroker, pid: c.PID, stop: func() error { return nil }}, nil
	}
	cfg, err := gatewayConfig(c, "")
	if err != nil {
		return nil, err
	}
	if c.Spawn {
		return spawnTarget(ctx, c, cfg)
	}
	if c.Cluster > 0 {
		return clusterTarget(ctx, c, log)
	}
	d, err := system.NewDemo(cfg, log)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	var fixBroker string
	if b := d.Gateway.Brokers(); b != nil {
		fixBroker = b.Addr()
	}
	return &target{base: d.BaseURL, token: d.Token, ops: d.OperatorToken, fixBroker: fixBroker, pid: os.Getpid(), own: true, demo: d, sim: d.Sim, stop: func() error {
		cancel()
		return <-done
	}}, nil
}

var (
	baseRE  = regexp.MustCompile(`web page:\s+(http://\S+?)/\s*$`)
	tokenRE = regexp.MustCompile(`token:\s+(\S+)\s*$`)
	fixRE   = regexp.MustCompile(`^\s*fix broker:\s+(\S+)`)
	opsRE   = regexp.MustCompile(`^\s*operator token \(Authorization: Bearer \.\.\.\):\s+(\S+)\s*$`)
)

// spawnTarget runs `gateway demo` with cfg as a child process.
func spawnTarget(ctx context.Context, c Config, cfg *configs.File) (*target, error) {
	exe := c.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("loadtest: find the gateway binary: %w", err)
		}
	}
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return nil, fmt.Errorf("loadtest: gateway config: %w", err)
	}
	path := filepath.Join(c.Out, "gateway.yaml")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("loadtest: %w", err)
	}
	cmd := exec.Command(exe, "demo", "-config", path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	logf, err := os.Create(filepath.Join(c.Out, "gateway.log"))
	if err != nil {
		return nil, err
	}
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("loadtest: start %s: %w", exe, err)
	}
	t := &target{pid: cmd.Process.Pid, own: true}
	t.stop = func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		err := cmd.Wait()
		logf.Close()
		return err
	}
	// The demo prints the operator token (the gateway-side figures read
	// /metrics with it) after the trading token, when the config has an
	// admin: the target is complete once both are read.
	wantOps := len(cfg.Gateway.Admins) > 0
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		done := false
		for sc.Scan() {
			line := sc.Text()
			if done {
				continue
			}
			if m := baseRE.FindStringSubmatch(line); m != nil {
				t.base = m[1]
			}
			if m := fixRE.FindStringSubmatch(line); m != nil {
				t.fixBroker = m[1]
			}
			if m := opsRE.FindStringSubmatch(line); m != nil {
				t.ops = m[1]
			} else if m := tokenRE.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "page") {
				t.token = m[1]
			}
			if t.token != "" && (t.ops != "" || !wantOps) {
				done = true
				close(found)
			}
		}
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case <-found:
		return t, nil
	case <-time.After(30 * time.Second):
	case <-ctx.Done():
	}
	_ = t.stop()
	return nil, fmt.Errorf("loadtest: %s demo did not start; see %s", exe, filepath.Join(c.Out, "gateway.log"))
}

// waitReady polls /readyz until the gateway is ready.
func waitReady(ctx context.Context, base string, within time.Duration) error {
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			last = fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(b)))
		} else {
			last = err.Error()
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("loadtest: %s not ready after %v: %s", base, within, last)
}

// symbols lists the target's instruments.
func symbols(ctx context.Context, base string) ([]string, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/api/v1/instruments", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("loadtest: instruments: %w", err)
	}
	defer resp.Body.Close()
	var list []struct {
		Symbol string `json:"symbol"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, fmt.Errorf("loadtest: instruments: %w", err)
	}
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = in.Symbol
	}
	return out, nil
}

// rss returns the resident memory of process pid in bytes, or 0.
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// ensureFiles raises this process's open-file limit as far as allowed and
// fails fast when need descriptors cannot be had.
func ensureFiles(need int) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return nil
	}
	if lim.Cur < lim.Max {
		lim.Cur = lim.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	if uint64(need) > lim.Cur {
		return fmt.Errorf("%w: this run needs about %d open files but the limit is %d (ulimit -n); use fewer clients, or -spawn so the gateway's connections count against its own process", ErrConfig, need, lim.Cur)
	}
	return nil
}

// cpuTime returns the user and system CPU time process pid has used, or 0.
func cpuTime(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name may hold spaces; fields start after its ')'.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 {
		s = s[i+1:]
	}
	f := strings.Fields(s)
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// clusterTarget starts a demo cluster of c.Cluster nodes in this process,
// each node's configuration opened to the load as a single gateway's is,
// and targets its Raft leader once it serves orders.
func clusterTarget(ctx context.Context, c Config, log *slog.Logger) (*target, error) {
	dc, err := system.NewDemoCluster(func() (*configs.File, error) { return gatewayConfig(c, "") }, c.Cluster, log)
	if err != nil {
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- dc.Run(runCtx) }()
	stop := func() error {
		cancel()
		return <-done
	}
	// The leader is the node whose order entry is open: wait for it (an
	// election takes about a second), bounded.
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, n := range dc.Nodes {
			if n.Gateway != nil && n.Gateway.Leading() {
				return &target{base: n.BaseURL, token: dc.Token, ops: dc.OperatorToken, pid: os.Getpid(), own: true, sim: dc.Sim, stop: stop}, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			stop()
			return nil, fmt.Errorf("loadtest: -cluster: no leader serving orders within 30s")
		}
		time.Sleep(50 * time.Millisecond) // no leadership notification crosses the Gateway's API; poll it
	}
}

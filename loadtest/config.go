package loadtest

import (
	"errors"
	"fmt"
	"net/url"
	"time"
)

// ErrConfig reports invalid flags or settings; the run does not start.
var ErrConfig = errors.New("loadtest: invalid config")

// ErrThresholds reports a run that finished but missed its thresholds or
// saw integrity violations; the report is still written.
var ErrThresholds = errors.New("loadtest: thresholds missed")

// Scenarios the tester runs.
const (
	ScenarioMarketData = "marketdata"
	ScenarioOrders     = "orders"
	ScenarioMixed      = "mixed"
	ScenarioSoak       = "soak"
)

// scenarioNames lists the scenarios for messages.
const scenarioNames = "marketdata, orders, mixed or soak"

// hasMarketData reports whether the scenario runs market-data clients.
func (c Config) hasMarketData() bool { return c.Scenario != ScenarioOrders }

// hasOrders reports whether the scenario runs trading sessions.
func (c Config) hasOrders() bool { return c.Scenario != ScenarioMarketData }

// Config configures one run. The zero value of each field is documented;
// Scenario, Duration and Out are required.
type Config struct {
	// Scenario is the scenario to run: marketdata, orders, mixed
	// (marketdata and orders at once) or soak (mixed with faults injected
	// into an in-process simulator at 1/3 and 2/3 of Duration).
	Scenario string
	// Duration is how long load is measured, after Warmup. Required, at
	// most 24h.
	Duration time.Duration
	// Warmup is how long load runs before latency is recorded. Zero means
	// 2s.
	Warmup time.Duration
	// Out is the directory the report files go to; created if missing.
	Out string

	// Target is the base URL (http://127.0.0.1:8080) of a running gateway.
	// Empty means the tester starts the simulator and the gateway itself.
	Target string
	// Spawn starts them as a child process (`gateway demo`) rather than in
	// this process: separate file-descriptor limits, and the gateway's
	// memory per connection can be read. Ignored with Target.
	Spawn bool
	// Cluster, when above zero, starts the gateway as a cluster of that
	// many nodes in this process (system.NewDemoCluster: the simulator,
	// an embedded NATS server, the nodes and an edge) and sends the
	// orders to the Raft leader: orders are acknowledged once a quorum
	// holds them. Zero means one gateway. Not with Target or Spawn.
	Cluster int
	// Executable is the gateway binary Spawn runs. Zero means this
	// program (os.Executable), which must be the gateway.
	Executable string
	// PID is the process of a Target gateway, to read its memory. Zero
	// means the memory is not reported (or, when the tester starts the
	// gateway, its own pid).
	PID int

	// Clients is the number of WebSocket clients. Zero means 100.
	Clients int
	// SymbolsPerClient is how many symbols each client subscribes to.
	// Zero means 1.
	SymbolsPerClient int
	// Depth is the book depth subscribed: 5, 10 or 20. Zero means 10.
	Depth int
	// Symbols is the number of instruments a started gateway trades
	// (the demo's, then synthetic ones). Zero means the demo's.
	Symbols int
	// Rate is the simulator's order-flow actions per second in a started
	// gateway (about one book update each). Zero means 1000.
	Rate int
	// ConnectRate is how many clients connect per second. Zero means 2000.
	ConnectRate int
	// Verify is "all" (every client keeps its books and checks every
	// checksum) or "sample" (one client in 20 does; the others check
	// sequence continuity only, to leave CPU to the gateway at high
	// rates). Zero means all.
	Verify string
	// Token is a bearer token for a Target that requires one.
	Token string
	// OperatorToken is an operator's bearer token, for reading the
	// Target's /metrics (gateway-side figures in the report); empty
	// leaves them out. A spawned gateway supplies its own.
	OperatorToken string
	// ReadyTimeout is how long the gateway may take to become ready. Zero
	// means 20s.
	ReadyTimeout time.Duration

	// Sessions is the number of trading sessions of the orders scenario
	// (WebSocket connections entering orders). Zero means 4.
	Sessions int
	// OrderRate is the total new orders per second over all sessions,
	// sent open loop on a fixed schedule. Zero means 200.
	OrderRate int
	// Accounts are the accounts the sessions trade, given to sessions in
	// turn; the token must name them. Zero means A1, the demo's funded
	// cash account.
	Accounts []string
	// FIXSessions is how many of the Sessions trade over the gateway's
	// FIX acceptor for brokers (FIX 4.4) instead of the WebSocket. Zero
	// means none. Session k logs on as FIXSender with its number raised
	// by k (BROKER1, BROKER2, ...); a gateway the tester starts has those
	// sessions, a -target needs them in its brokers config.
	FIXSessions int
	// FIXBroker is the address of a Target's FIX acceptor for brokers.
	// A gateway the tester starts gives its own.
	FIXBroker string
	// FIXSender is the SenderCompID of the first FIX session. Zero means
	// BROKER1, the demo's.
	FIXSender string
	// FIXPassword is the FIX sessions' Password (554). Zero means demo.
	FIXPassword string

	// MaxP99 fails the run when the p99 of the scenario's primary measure
	// exceeds it: tick_to_client for marketdata, mixed and soak,
	// order_ack for orders. Zero means no threshold.
	MaxP99 time.Duration
	// MaxOrderP99 fails the run when the order_ack p99 exceeds it. Zero
	// means no threshold.
	MaxOrderP99 time.Duration
	// MinDelivered fails the run when fewer messages per second were
	// delivered. Zero means no threshold.
	MinDelivered float64
}

// maxFIXSessions bounds -fix-sessions: each is a broker session (a
// CompID) of the gateway's config.
const maxFIXSessions = 8

// withDefaults fills the documented defaults and validates c.
func (c Config) withDefaults() (Config, error) {
	bad := func(format string, args ...any) (Config, error) {
		return c, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
	}
	switch c.Scenario {
	case ScenarioMarketData, ScenarioOrders, ScenarioMixed, ScenarioSoak:
	case "":
		return bad("-scenario is required (%s)", scenarioNames)
	default:
		return bad("unknown scenario %q (want %s)", c.Scenario, scenarioNames)
	}
	if c.Duration <= 0 || c.Duration > 24*time.Hour {
		return bad("-duration %v must be between 0 and 24h", c.Duration)
	}
	if c.Out == "" {
		return bad("-out DIR is required")
	}
	if c.Warmup == 0 {
		c.Warmup = 2 * time.Second
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Clients, 100)
	def(&c.SymbolsPerClient, 1)
	def(&c.Depth, 10)
	def(&c.Rate, 1000)
	def(&c.ConnectRate, 2000)
	if c.ReadyTimeout == 0 {
		c.ReadyTimeout = 20 * time.Second
	}
	if c.Verify == "" {
		c.Verify = "all"
	}
	def(&c.Sessions, 4)
	def(&c.OrderRate, 200)
	if len(c.Accounts) == 0 {
		c.Accounts = []string{"A1"}
	}
	if c.FIXSender == "" {
		c.FIXSender = "BROKER1"
	}
	if c.FIXPassword == "" {
		c.FIXPassword = "demo"
	}
	switch {
	case c.Warmup < 0:
		return bad("-warmup must not be negative")
	case c.Clients < 1 || c.Clients > 200000:
		return bad("-clients %d out of range 1..200000", c.Clients)
	case c.SymbolsPerClient < 1 || c.SymbolsPerClient > 100:
		return bad("-symbols-per-client %d out of range 1..100", c.SymbolsPerClient)
	case c.Depth != 5 && c.Depth != 10 && c.Depth != 20:
		return bad("-depth %d: want 5, 10 or 20", c.Depth)
	case c.Rate < 1 || c.Rate > 1000000:
		return bad("-rate %d out of range 1..1000000", c.Rate)
	case c.Symbols < 0 || c.Symbols > 5000:
		return bad("-symbols %d out of range 0..5000", c.Symbols)
	case c.ConnectRate < 1:
		return bad("-connect-rate must be positive")
	case c.Verify != "all" && c.Verify != "sample":
		return bad("-verify %q: want all or sample", c.Verify)
	case c.MaxP99 < 0 || c.MaxOrderP99 < 0 || c.MinDelivered < 0:
		return bad("thresholds must not be negative")
	case c.Sessions < 1 || c.Sessions > 1000:
		return bad("-sessions %d out of range 1..1000", c.Sessions)
	case c.OrderRate < 1 || c.OrderRate > 100000:
		return bad("-order-rate %d out of range 1..100000", c.OrderRate)
	case c.FIXSessions < 0 || c.FIXSessions > c.Sessions || c.FIXSessions > maxFIXSessions:
		return bad("-fix-sessions %d out of range 0..%d (at most -sessions)", c.FIXSessions, min(c.Sessions, maxFIXSessions))
	case c.FIXSessions > 0 && c.Target != "" && c.FIXBroker == "":
		return bad("-fix-sessions with -target needs -fix-broker ADDR, the gateway's FIX acceptor for brokers")
	case c.hasOrders() && c.OrderRate < c.Sessions:
		return bad("-order-rate %d is below one order per second per session (-sessions %d)", c.OrderRate, c.Sessions)
	case c.Cluster < 0 || c.Cluster > 9:
		return bad("-cluster %d out of range 0..9", c.Cluster)
	case c.Cluster > 0 && (c.Target != "" || c.Spawn || c.Scenario == ScenarioSoak || c.FIXSessions > 0):
		return bad("-cluster starts a cluster in this process: not with -target, -spawn, -fix-sessions or -scenario soak")
	case c.Scenario == ScenarioSoak && (c.Target != "" || c.Spawn):
		return bad("-scenario soak injects faults into the simulator, which it must start in this process: not with -target or -spawn")
	case c.Scenario == ScenarioSoak && c.Duration < 3*time.Second:
		return bad("-scenario soak needs -duration of at least 3s to inject and lift its faults")
	}
	for _, a := range c.Accounts {
		if a == "" || len(a) > 32 {
			return bad("-accounts: bad account %q", a)
		}
	}
	if c.Target != "" {
		u, err := url.Parse(c.Target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("-target %q: want http://host:port", c.Target)
		}
		if !loopbackHost(u.Hostname()) {
			return bad("-target %s is not a loopback address: load goes to this machine only", c.Target)
		}
	}
	return c, nil
}

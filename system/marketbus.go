package system

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/prometheus/client_golang/prometheus"

	"sgw/configs"
	"sgw/feed"
	"sgw/gateway"
	"sgw/internal/secretfile"
	"sgw/mdbus"
	"sgw/netsec"
	"sgw/orderbook"
)

// marketBus is a gateway's part on the market-data bus (configs.MarketBus):
// the NATS connection, the embedded NATS server when configured, and
// either the Publisher of the ingest's books (role ingest) or the Edge
// whose mirrored books the gateway serves (role edge).
//
// It is built by buildBooks, run once by one goroutine (run) and closed
// after run returned (or instead of running). Its feed adapter and metrics
// are safe from any goroutine.
type marketBus struct {
	srv  *server.Server // the embedded server; nil: an external one
	conn *nats.Conn
	pub  *mdbus.Publisher // role ingest
	edge *mdbus.Edge      // role edge
	// byTerm, for a cluster node's ingest, leaves the publisher to the
	// leadership terms (clustered.publish): only the leader publishes,
	// under its leadership epoch. Set by New before run.
	byTerm bool
	log    *slog.Logger
}

// buildBooks returns the books the gateway serves: its own, fed by its
// feeds (no market_bus section, or role ingest, which also gets the bus's
// Publisher), or an edge's mirror of the ingest's books. The metrics of
// the bus go to reg.
func buildBooks(cfg *configs.File, reg prometheus.Registerer, log *slog.Logger) (*orderbook.Engine, *marketBus, error) {
	mb := cfg.MarketBus
	if mb == nil {
		books, err := orderbook.New(cfg.Engine())
		return books, nil, err
	}
	b := &marketBus{log: log.With("component", "mdbus", "role", mb.Role)}
	url := mb.URL
	if mb.Embedded != nil {
		srv, err := StartNATS(mb.Embedded.Listen)
		if err != nil {
			return nil, nil, err
		}
		b.srv = srv
		if url == "" {
			url = srv.ClientURL()
		}
	}
	opts, err := busOptions(mb, b.log)
	if err != nil {
		b.close()
		return nil, nil, err
	}
	b.conn, err = nats.Connect(url, opts...)
	if err != nil {
		b.close()
		return nil, nil, fmt.Errorf("system: market_bus: connect to %s: %w", url, err)
	}
	var books *orderbook.Engine
	switch mb.Role {
	case configs.RoleEdge:
		b.edge, err = mdbus.NewEdge(mdbus.EdgeConfig{Conn: b.conn, Subject: mb.SubjectPrefix, Registry: reg, Log: b.log,
			Books: orderbook.Config{Instruments: cfg.Instruments, Shards: cfg.Books.Shards, RingSize: cfg.Books.RingSize}})
		if err == nil {
			books = b.edge.Engine()
		}
	default:
		if books, err = orderbook.New(cfg.Engine()); err == nil {
			b.pub, err = mdbus.NewPublisher(mdbus.PublisherConfig{Conn: b.conn, Books: books, Subject: mb.SubjectPrefix, Registry: reg, Log: b.log})
		}
	}
	if err != nil {
		b.close()
		return nil, nil, err
	}
	reg.MustRegister(connCollector{conn: b.conn,
		connected:  prometheus.NewDesc("gateway_mdbus_connected", "1 while the market-data bus (NATS) connection is up, else 0.", nil, nil),
		reconnects: prometheus.NewDesc("gateway_mdbus_reconnects_total", "Reconnections to the market-data bus.", nil, nil)})
	return books, b, nil
}

// maxBusSecretBytes bounds market_bus.credentials and nkey_seed_file (a
// .creds file is a JWT and a seed, a few KB).
const maxBusSecretBytes = 64 << 10

// busOptions returns the options of mb's NATS connection: its name, its
// reconnection policy (for ever), TLS (market_bus.tls) and authentication
// (market_bus.credentials or nkey_seed_file), the inbox of an edge's
// snapshot replies (market_bus.inbox_prefix), and a handler logging to log
// the errors the server reports on an open connection (busErrors). It
// reads the TLS files and the credentials once and signs with the key
// they hold, so that a missing or broken file stops the start, and fails
// check-config, naming the file; NATS reads the credentials again at each
// connection. No error, and no log line, quotes a credentials file.
func busOptions(mb *configs.MarketBus, log *slog.Logger) ([]nats.Option, error) {
	// The connection reconnects for ever, through refusals of its user
	// too (IgnoreAuthErrorAbort): nats.go's default closes it for good at
	// the second refusal in a row, so a server that restarted with its
	// accounts or auth service not ready yet, or a JWT that expired before
	// its credentials file was renewed, left an edge stale and an ingest
	// silent until restarted by hand. A refusal at the start still stops
	// it (nats.Connect fails).
	opts := []nats.Option{nats.Name("sgw-" + mb.Role), nats.MaxReconnects(-1), nats.IgnoreAuthErrorAbort(),
		nats.ReconnectWait(250 * time.Millisecond), nats.ReconnectJitter(100*time.Millisecond, time.Second),
		nats.ErrorHandler((&busErrors{log: log}).handle)}
	if mb.TLS != nil {
		// No address: nats.go checks each server of the URL under its own
		// host name unless server_name names one for all.
		tc, err := netsec.ClientTLS(*mb.TLS, "", "market_bus.tls")
		if err != nil {
			return nil, fmt.Errorf("system: %w", err)
		}
		opts = append(opts, nats.Secure(tc))
	}
	if mb.InboxPrefix != "" {
		// The replies to the edge's snapshot requests, under the prefix
		// its NATS user alone may read.
		opts = append(opts, nats.CustomInboxPrefix(mb.InboxPrefix))
	}
	key, file := "", ""
	switch {
	case mb.Credentials != "":
		key, file = "credentials", mb.Credentials
		// Read as the gateway's other secrets are: the file holds the
		// user's NKey seed (and a named pipe would hold the start).
		b, err := secretfile.Read(file, maxBusSecretBytes)
		if err != nil {
			return nil, fmt.Errorf("system: market_bus.credentials: %w", err)
		}
		jwt := bytes.Contains(b, []byte("-----BEGIN NATS USER JWT-----"))
		clear(b)
		if !jwt {
			// nats.go would send the whole file to the server as the JWT.
			return nil, fmt.Errorf("system: market_bus.credentials %s: no NATS user JWT in it; want a .creds file as nsc writes it (a bare NKey seed goes in nkey_seed_file)", file)
		}
		opts = append(opts, nats.UserCredentials(file))
	case mb.NKeySeedFile != "":
		key, file = "nkey_seed_file", mb.NKeySeedFile
		// Judged as credentials are before nats.go reads it.
		b, err := secretfile.Read(file, maxBusSecretBytes)
		if err != nil {
			return nil, fmt.Errorf("system: market_bus.nkey_seed_file: %w", err)
		}
		clear(b)
		o, err := nats.NkeyOptionFromSeed(file)
		if err != nil {
			return nil, fmt.Errorf("system: market_bus.nkey_seed_file %s: %w", file, err)
		}
		opts = append(opts, o)
	}
	var o nats.Options
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, fmt.Errorf("system: market_bus.%s %s: %w", key, file, err)
		}
	}
	if o.SignatureCB != nil {
		if _, err := o.SignatureCB([]byte("sgw: check the key")); err != nil {
			return nil, fmt.Errorf("system: market_bus.%s %s: %w", key, file, err)
		}
	}
	return opts, nil
}

// busErrorEvery spaces the log lines of one kind of error (busErrors).
const busErrorEvery = 10 * time.Second

// busErrors logs the errors the NATS server reports on an open connection:
// a publish or a subscription its permissions refuse, a slow consumer. A
// refused publish comes back at the bus's rate, so each kind is logged at
// most once per busErrorEvery, with the count of those not logged. It is
// called on the connection's callback goroutine; mu guards its fields and
// is held only to count.
type busErrors struct {
	log  *slog.Logger
	mu   sync.Mutex
	last [3]time.Time // by kind: permission, slow consumer, other
	n    [3]int       // not logged since last
}

// handle implements nats.ErrHandler.
func (e *busErrors) handle(_ *nats.Conn, sub *nats.Subscription, err error) {
	kind := 2
	switch {
	case errors.Is(err, nats.ErrPermissionViolation):
		kind = 0
	case errors.Is(err, nats.ErrSlowConsumer):
		kind = 1
	}
	e.mu.Lock()
	now := time.Now()
	if !e.last[kind].IsZero() && now.Sub(e.last[kind]) < busErrorEvery {
		e.n[kind]++
		e.mu.Unlock()
		return
	}
	e.last[kind] = now
	skipped := e.n[kind]
	e.n[kind] = 0
	e.mu.Unlock()
	args := []any{"err", err, "suppressed", skipped}
	if sub != nil {
		args = append(args, "subject", sub.Subject)
	}
	e.log.Error("mdbus: the NATS server reports an error", args...)
}

// StartNATS starts a NATS server (no TLS, no authentication, no logs) on
// listen, a loopback host:port (port 0: a free port), and returns it once
// it takes connections. The caller shuts it down.
func StartNATS(listen string) (*server.Server, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("system: embedded nats %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return nil, fmt.Errorf("system: embedded nats %q: %w", listen, err)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	srv, err := server.NewServer(&server.Options{Host: host, Port: port, NoLog: true, NoSigs: true})
	if err != nil {
		return nil, fmt.Errorf("system: embedded nats: %w", err)
	}
	// The server logs nowhere (NoLog) but to this, which keeps its first
	// error: a listen that failed (the address in use) is reported at
	// once, by its cause.
	failed := &natsFailure{}
	srv.SetLogger(failed, false, false)
	go srv.Start()
	for deadline := time.Now().Add(10 * time.Second); !srv.ReadyForConnections(50 * time.Millisecond); {
		if err := failed.get(); err != nil || time.Now().After(deadline) {
			srv.Shutdown()
			if err == nil {
				err = errors.New("not ready after 10s")
			}
			return nil, fmt.Errorf("system: embedded nats on %s: %w", listen, err)
		}
	}
	return srv, nil
}

// natsFailure is an embedded NATS server's logger that keeps its first
// error or fatal message and drops the rest. Safe from any goroutine.
type natsFailure struct {
	mu  sync.Mutex
	err error
}

var _ server.Logger = (*natsFailure)(nil)

func (l *natsFailure) keep(format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.err == nil {
		l.err = fmt.Errorf(format, v...)
	}
}

func (l *natsFailure) get() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

// Fatalf implements server.Logger: the server cannot go on (it does not
// exit the process; it stops listening).
func (l *natsFailure) Fatalf(format string, v ...any) { l.keep(format, v...) }

// Errorf implements server.Logger.
func (l *natsFailure) Errorf(format string, v ...any) { l.keep(format, v...) }

// Noticef, Warnf, Debugf and Tracef implement server.Logger: dropped.
func (l *natsFailure) Noticef(string, ...any) {}
func (l *natsFailure) Warnf(string, ...any)   {}
func (l *natsFailure) Debugf(string, ...any)  {}
func (l *natsFailure) Tracef(string, ...any)  {}

// feeds returns what /readyz and /api/v1/feeds report of the bus: an
// edge's books (busFeed); nothing for an ingest, whose feeds report.
func (b *marketBus) feeds() []gateway.Feed {
	if b == nil || b.edge == nil {
		return nil
	}
	return []gateway.Feed{busFeed{conn: b.conn, edge: b.edge}}
}

// ownsBooks reports whether the bus keeps the gateway's books (an edge's
// mirror, which has no writer goroutines to run).
func (b *marketBus) ownsBooks() bool { return b != nil && b.edge != nil }

// run runs the edge, or the publisher, until ctx ends. A cluster node's
// publisher runs within its leadership terms instead (byTerm); run then
// watches the connection, and returns an error wrapping
// mdbus.ErrConnClosed once it is closed for good, as the edge and the
// publisher do: the gateway stops, and its supervisor restarts it with
// a new connection. Before, it waited for ctx only: the node failed each
// term it won (RunEpoch returns that error) and handed it over, for as
// long as it lived, and a one-node cluster, with no node to hand over
// to, led with no term, order entry refused and nothing published.
func (b *marketBus) run(ctx context.Context) error {
	switch {
	case b.edge != nil:
		return b.edge.Run(ctx)
	case b.byTerm:
		return mdbus.WaitClosed(ctx, b.conn)
	}
	return b.pub.Run(ctx)
}

// close closes the connection and shuts the embedded server down. Call it
// after run returned, or instead of run.
func (b *marketBus) close() {
	if b == nil {
		return
	}
	if b.conn != nil {
		b.conn.Close()
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
}

// busFeed is an edge's books as /readyz and /api/v1/feeds see a feed:
// ready while the bus is connected, stale while any symbol is (awaiting
// its snapshot), delivered counting the updates and snapshots applied.
// Safe from any goroutine.
type busFeed struct {
	conn *nats.Conn
	edge *mdbus.Edge
}

var _ gateway.Feed = busFeed{}

// Name implements gateway.Feed.
func (f busFeed) Name() string { return "market_bus" }

// Ready implements gateway.Feed.
func (f busFeed) Ready() bool { return f.conn.IsConnected() }

// Status implements gateway.Feed.
func (f busFeed) Status() feed.Status {
	st := f.edge.Stats()
	up := f.conn.IsConnected()
	return feed.Status{Name: f.Name(), Delivered: st.Updates + st.Snapshots, Gaps: st.Gaps, Rebuilds: st.Snapshots,
		Stale: st.Stale > 0, Lost: st.Malformed,
		Sources: []feed.SourceStatus{{Name: "nats", Addr: f.conn.ConnectedUrlRedacted(), State: f.conn.Status().String(), Up: up, Messages: st.Updates}}}
}

// StaleReason implements gateway's staleReasoner: why the edge's books
// are stale, for /readyz.
func (f busFeed) StaleReason() string {
	if f.edge.Stats().Silent {
		return "the ingest publisher is silent (no heartbeat: no cluster leader, or its link to NATS down); every symbol stale until it is heard again"
	}
	return "symbols stale (a gap, a new ingest epoch or a reconnection), loading their snapshots"
}

// connCollector exports the bus connection's state on scrape.
type connCollector struct {
	conn                  *nats.Conn
	connected, reconnects *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (c connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connected
	ch <- c.reconnects
}

// Collect implements prometheus.Collector.
func (c connCollector) Collect(ch chan<- prometheus.Metric) {
	up := 0.0
	if c.conn.IsConnected() {
		up = 1
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(c.conn.Stats().Reconnects))
}

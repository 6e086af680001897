package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"sgw/mdbus"
	"sgw/orderbook"
)

// Market-bus roles (MarketBus.Role).
const (
	// RoleIngest runs the feeds and the books and publishes every book
	// update on the bus (mdbus.Publisher).
	RoleIngest = "ingest"
	// RoleEdge runs no feeds: its books mirror the ingest's from the bus
	// (mdbus.Edge), and it serves WebSocket and REST from them.
	RoleEdge = "edge"
)

// MarketBus carries market data between gateways over NATS
// (docs/ARCHITECTURE.md, "Cluster"): an ingest gateway publishes its
// books' updates, edge gateways mirror them and serve clients. Nil means
// a gateway that serves its own feeds' books and publishes nothing.
type MarketBus struct {
	// URL is the NATS server to connect to (nats://host:port; a comma
	// separates the servers of a NATS cluster). Required unless Embedded
	// is set; then empty means the embedded server.
	URL string `yaml:"url"`
	// Embedded, when set, runs a NATS server in this process (the demo, a
	// single-box install). Nil means an external NATS server (URL).
	Embedded *EmbeddedNATS `yaml:"embedded"`
	// Role is ingest or edge. Required.
	Role string `yaml:"role"`
	// SubjectPrefix starts every bus subject; the ingest gateway and its
	// edges must agree. Zero means mdbus.DefaultSubject ("sgw.md").
	SubjectPrefix string `yaml:"subject_prefix"`
}

// EmbeddedNATS configures a NATS server run inside the gateway.
type EmbeddedNATS struct {
	// Listen is the client address, a loopback IP and a port (port 0: a
	// free port). Required. The embedded server has no TLS and no
	// authentication, so it never listens off loopback.
	Listen string `yaml:"listen"`
}

// validate checks the section against the file; it is called only when
// the section is set.
func (m *MarketBus) validate(f *File) error {
	switch m.Role {
	case RoleIngest:
	case RoleEdge:
		if len(f.Feeds) > 0 {
			return errors.New("market_bus.role edge: an edge runs no feeds (its books come from the bus); remove the feeds section")
		}
		if d := f.Books.MaxDepth; d != 0 && d != orderbook.DefaultMaxDepth {
			return fmt.Errorf("market_bus.role edge: books.max_depth %d: an edge mirrors %d levels; remove the key", d, orderbook.DefaultMaxDepth)
		}
	case "":
		return fmt.Errorf("market_bus.role: required, %s or %s", RoleIngest, RoleEdge)
	default:
		return fmt.Errorf("market_bus.role %q: want %s or %s", m.Role, RoleIngest, RoleEdge)
	}
	if m.Embedded != nil {
		host, port, err := net.SplitHostPort(m.Embedded.Listen)
		ip := net.ParseIP(host)
		if err != nil || port == "" || ip == nil {
			return fmt.Errorf("market_bus.embedded.listen %q: want a loopback IP and a port, such as 127.0.0.1:4222", m.Embedded.Listen)
		}
		if !ip.IsLoopback() {
			return fmt.Errorf("market_bus.embedded.listen %q: the embedded NATS server has no TLS nor authentication and listens on loopback only; use an external NATS cluster (market_bus.url) across a network", m.Embedded.Listen)
		}
	}
	if m.URL == "" && m.Embedded == nil {
		return errors.New("market_bus.url: required (nats://host:port) unless market_bus.embedded is set")
	}
	if m.URL != "" {
		for s := range strings.SplitSeq(m.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("market_bus.url %q: want nats://host:port or tls://host:port, comma-separated for a NATS cluster", s)
			}
		}
	}
	if m.SubjectPrefix != "" {
		if err := mdbus.CheckSubject(m.SubjectPrefix); err != nil {
			return fmt.Errorf("market_bus.subject_prefix %q: want dot-separated tokens without spaces, '*' or '>'", m.SubjectPrefix)
		}
	}
	return nil
}

package configs

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"sgw/mdbus"
	"sgw/netsec"
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
	// is set; then empty means the embedded server. It carries no user
	// nor password: Credentials or NKeySeedFile authenticate.
	URL string `yaml:"url"`
	// TLS, when set, connects over TLS, verifying the NATS servers'
	// certificates (ca_file; server_name, else each server's host) and
	// presenting a client certificate when cert_file and key_file are set
	// (mutual TLS; a server may map it to its user). An empty section
	// means the system roots. Nil means plain text, which a URL off
	// loopback may use only with InsecurePlaintext.
	TLS *netsec.ClientTLSConfig `yaml:"tls"`
	// Credentials is a NATS credentials file (the user's JWT and NKey
	// seed, as nsc writes it), for NATS servers with decentralized
	// (operator and account JWT) authentication. Zero means none. Read at
	// start and at each reconnection; its content is never logged.
	Credentials string `yaml:"credentials"`
	// NKeySeedFile is a file holding the user's NKey seed ("SU..."), for
	// NATS servers that list their users' public NKeys in their own
	// configuration. Zero means none; at most one of Credentials and
	// NKeySeedFile. Read at start and at each reconnection; its content is
	// never logged.
	NKeySeedFile string `yaml:"nkey_seed_file"`
	// InsecurePlaintext allows a URL off loopback without TLS, for a
	// private, physically isolated network segment that nothing else
	// reaches: anyone on it can read the licensed data on the bus. False
	// means a URL off loopback needs TLS. It waives nothing else: off
	// loopback, the gateway still authenticates (Credentials,
	// NKeySeedFile or a client certificate).
	InsecurePlaintext bool `yaml:"insecure_plaintext"`
	// Embedded, when set, runs a NATS server in this process (the demo, a
	// single-box install). Nil means an external NATS server (URL).
	Embedded *EmbeddedNATS `yaml:"embedded"`
	// Role is ingest or edge. Required.
	Role string `yaml:"role"`
	// SubjectPrefix starts every bus subject; the ingest gateway and its
	// edges must agree. Zero means mdbus.DefaultSubject ("sgw.md").
	SubjectPrefix string `yaml:"subject_prefix"`
	// InboxPrefix, for an edge, is the subject under which its snapshot
	// requests get their replies (NATS's inbox: <inbox_prefix>.<id>.<n>).
	// Zero means NATS's own, _INBOX, which an edge's NATS user may then
	// read whole: every other edge's replies, and those of any other
	// application's requests on the same NATS account. Give each edge its
	// own (such as _INBOX.edge-1) and allow its user to subscribe to that
	// prefix's ".>" only (docs/SECURITY.md, "Market-data bus"). An ingest
	// asks nothing on the bus and takes none.
	InboxPrefix string `yaml:"inbox_prefix"`
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
	remote := false // a server of the URL is off loopback
	if m.URL != "" {
		for s := range strings.SplitSeq(m.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(s))
			if err != nil {
				// Not quoted: the text may hold a password.
				return errors.New("market_bus.url: an entry is no URL; want nats://host:port or tls://host:port, comma-separated for a NATS cluster")
			}
			if (u.Scheme != "nats" && u.Scheme != "tls") || u.Hostname() == "" || u.Port() == "" || (u.Path != "" && u.Path != "/") {
				return fmt.Errorf("market_bus.url %q: want nats://host:port or tls://host:port, comma-separated for a NATS cluster", u.Redacted())
			}
			if u.User != nil {
				return fmt.Errorf("market_bus.url %q: carries a user or password; authenticate with market_bus.credentials or nkey_seed_file instead", u.Redacted())
			}
			remote = remote || !loopbackHost(u.Hostname())
		}
	}
	if m.TLS != nil {
		if err := m.TLS.Validate("market_bus.tls"); err != nil {
			return err
		}
	}
	if m.TLS != nil && m.InsecurePlaintext {
		return errors.New("market_bus: tls and insecure_plaintext are exclusive")
	}
	if m.URL == "" && (m.TLS != nil || m.Credentials != "" || m.NKeySeedFile != "") {
		return errors.New("market_bus: tls, credentials and nkey_seed_file are for an external NATS server (url); the embedded one has neither TLS nor authentication")
	}
	if m.Credentials != "" && m.NKeySeedFile != "" {
		return errors.New("market_bus: credentials and nkey_seed_file are exclusive; set the one your NATS servers authenticate with")
	}
	if remote {
		if m.TLS == nil && !m.InsecurePlaintext {
			return fmt.Errorf("market_bus.url %q: a NATS server off loopback needs market_bus.tls (the CA that signs its certificate; tls: {} for the system roots): the bus carries licensed market data, and anyone on the path could read or forge it; set insecure_plaintext: true only on a private, physically isolated segment", m.URL)
		}
		if m.Credentials == "" && m.NKeySeedFile == "" && (m.TLS == nil || m.TLS.CertFile == "") {
			return fmt.Errorf("market_bus.url %q: a NATS server off loopback needs the gateway to authenticate: market_bus.credentials (a .creds file), nkey_seed_file, or a client certificate (tls.cert_file and key_file); without, anyone who reaches the bus may publish on it as this gateway does", m.URL)
		}
	}
	if m.SubjectPrefix != "" {
		if err := mdbus.CheckSubject(m.SubjectPrefix); err != nil {
			return fmt.Errorf("market_bus.subject_prefix %q: want dot-separated tokens without spaces, '*' or '>'", m.SubjectPrefix)
		}
	}
	if m.InboxPrefix != "" {
		if m.Role != RoleEdge {
			return fmt.Errorf("market_bus.inbox_prefix %q: only an edge asks for snapshots and reads replies; remove the key from an ingest", m.InboxPrefix)
		}
		if err := mdbus.CheckSubject(m.InboxPrefix); err != nil {
			return fmt.Errorf("market_bus.inbox_prefix %q: want dot-separated tokens without spaces, '*' or '>', such as _INBOX.edge-1", m.InboxPrefix)
		}
	}
	return nil
}

// loopbackHost reports whether host, of a URL, is a loopback IP or
// "localhost".
func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

package gateway

import (
	"fmt"
	"log/slog"
	"time"

	"sgw/netsec"
)

// Config configures the gateway's HTTP listener.
//
// Every connection, on every path, passes the same gates: the PROXY
// protocol from the load balancers (ProxyProtocol), the connection caps
// (MaxConnections, MaxConnectionsPerIP, keyed by the client's address),
// TLS, then net/http's limits (ReadHeaderTimeout, ReadTimeout,
// IdleTimeout, MaxHeaderBytes) and the body limit (MaxBodyBytes). /ws adds
// its own (WS).
type Config struct {
	// HTTP is the listen address. Zero means 127.0.0.1:8080.
	HTTP string `yaml:"http"`
	// TLS serves HTTPS and wss:// (HTTP/1.1) with a certificate reloaded
	// from its files when they change, TLS 1.3 by default (see
	// netsec.ServerTLSConfig; client_ca_file asks clients for
	// certificates; tlcp serves TLCP, national crypto, on the same port).
	// Nil means plain text, which New refuses on an address
	// that is not loopback unless TLSTerminatedBy is set.
	TLS *netsec.ServerTLSConfig `yaml:"tls"`
	// TLSTerminatedBy names the load balancer that terminates TLS in front
	// of a plain-text listener on a non-loopback address (for example
	// "slb-prod-1"); it is logged at start. Zero means none: a plain-text
	// listener must then be on loopback. Not with TLS.
	TLSTerminatedBy string `yaml:"tls_terminated_by"`
	// ProxyProtocol accepts the PROXY protocol v2 header from the named
	// load balancers, so that connection caps, logs and order sources see
	// the client's address. Nil means no header is accepted from anyone:
	// the address is the TCP peer's.
	ProxyProtocol *netsec.ProxyConfig `yaml:"proxy_protocol"`
	// MaxConnections caps the open connections of the listener, every
	// path together (REST, /ws, /metrics); one more is closed as soon as
	// it is accepted. Zero means ws.max_connections plus 10000.
	MaxConnections int `yaml:"max_connections"`
	// MaxConnectionsPerIP caps the open connections of one client address
	// (an IPv6 client by its /64), every path together. Behind a load
	// balancer, set ProxyProtocol, or the cap applies to the balancer's
	// own address. Zero means ws.max_connections_per_ip plus 100.
	MaxConnectionsPerIP int `yaml:"max_connections_per_ip"`
	// ReadTimeout bounds reading a whole request, body included: a client
	// that sends its body too slowly is cut. WebSocket connections are
	// exempt once upgraded. Zero means 10s; at least ReadHeaderTimeout.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// IdleTimeout closes a keep-alive connection on which no request has
	// started for this long. (ws.idle_timeout is the WebSocket's.) Zero
	// means 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxHeaderBytes caps a request's line and headers; a larger request
	// is answered 431. Zero means 16384 (16 KiB).
	MaxHeaderBytes int `yaml:"max_header_bytes"`
	// MaxBodyBytes caps a request body on every path; a larger one is
	// answered 413. Zero means 65536 (64 KiB); the admin endpoints take at
	// most 4 KiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// DefaultDepth is the book depth served when a request names none. Zero
	// means 10.
	DefaultDepth int `yaml:"default_depth"`
	// MaxDepth caps the depth a request may ask for. Zero means the books'
	// published depth.
	MaxDepth int `yaml:"max_depth"`
	// ReadHeaderTimeout bounds reading a request's headers. Zero means 5s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout"`
	// ShutdownTimeout bounds how long HTTP requests in flight at shutdown
	// may take to finish before their connections are cut; WebSocket
	// connections are bounded by WS.CloseTimeout. Zero means 5s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// WS configures the WebSocket endpoint /ws.
	WS WSConfig `yaml:"ws"`
	// Admins are the token subjects allowed to use the operator and admin
	// endpoints (metrics, feeds, pprof, kill switch), with tokens that
	// carry the adm claim. Zero means nobody.
	Admins []string `yaml:"admins"`
	// Pprof serves Go's profiles at /debug/pprof/ on the HTTP listener.
	// Zero (false) means off; turn it on only behind an operator network.
	Pprof bool `yaml:"pprof"`
}

// Check validates cfg as New would for books that publish publishedDepth
// levels, and reads its TLS files (certificate, key, client CAs), without
// listening: what `gateway check-config` asks of the HTTP listener.
func (cfg Config) Check(publishedDepth int) error {
	_, _, err := cfg.load(publishedDepth, nil)
	return err
}

// load validates cfg, fills its defaults and loads its TLS certificate
// (nil without TLS). log may be nil.
func (cfg Config) load(publishedDepth int, log *slog.Logger) (Config, *netsec.ServerTLS, error) {
	if publishedDepth < BookDepth {
		return cfg, nil, fmt.Errorf("%w: the books publish %d levels; the WebSocket fan-out needs %d (depth 20 books, with their checksums)",
			ErrConfig, publishedDepth, BookDepth)
	}
	cfg, err := cfg.withDefaults(publishedDepth)
	if err != nil {
		return cfg, nil, err
	}
	if cfg.TLS == nil {
		return cfg, nil, nil
	}
	st, err := netsec.NewServerTLS(*cfg.TLS, "gateway.tls", log)
	if err != nil {
		return cfg, nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return cfg, st, nil
}

// withDefaults fills the documented defaults and validates cfg, cfg.WS
// included. publishedDepth is the depth the books
// publish.
func (cfg Config) withDefaults(publishedDepth int) (Config, error) {
	ws, err := cfg.WS.withDefaults()
	if err != nil {
		return cfg, err
	}
	cfg.WS = ws
	if cfg.HTTP == "" {
		cfg.HTTP = "127.0.0.1:8080"
	}
	if _, _, err := netsec.SplitHostPort(cfg.HTTP); err != nil {
		return cfg, fmt.Errorf("%w: http %q: %v", ErrConfig, cfg.HTTP, err)
	}
	if err := cfg.checkTransport(cfg.HTTP); err != nil {
		return cfg, err
	}
	if cfg.ProxyProtocol != nil {
		if err := cfg.ProxyProtocol.Validate("gateway.proxy_protocol"); err != nil {
			return cfg, fmt.Errorf("%w: %w", ErrConfig, err)
		}
	}
	if cfg.MaxDepth == 0 || cfg.MaxDepth > publishedDepth {
		cfg.MaxDepth = publishedDepth
	}
	if cfg.DefaultDepth == 0 {
		cfg.DefaultDepth = min(10, cfg.MaxDepth)
	}
	if cfg.DefaultDepth < 0 || cfg.DefaultDepth > cfg.MaxDepth || cfg.MaxDepth < 0 {
		return cfg, fmt.Errorf("%w: default_depth %d must be within 1..max_depth %d", ErrConfig, cfg.DefaultDepth, cfg.MaxDepth)
	}
	if cfg.ReadHeaderTimeout == 0 {
		cfg.ReadHeaderTimeout = 5 * time.Second
	}
	if cfg.ShutdownTimeout == 0 {
		cfg.ShutdownTimeout = 5 * time.Second
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.MaxConnections, cfg.WS.MaxConnections+10000)
	def(&cfg.MaxConnectionsPerIP, cfg.WS.MaxConnectionsPerIP+100)
	def(&cfg.MaxHeaderBytes, 16<<10)
	if cfg.MaxBodyBytes == 0 {
		cfg.MaxBodyBytes = 64 << 10
	}
	if cfg.ReadTimeout == 0 {
		cfg.ReadTimeout = 10 * time.Second
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 60 * time.Second
	}
	switch {
	case cfg.MaxConnections < 0 || cfg.MaxConnectionsPerIP < 0:
		return cfg, fmt.Errorf("%w: max_connections and max_connections_per_ip must be positive", ErrConfig)
	case cfg.MaxHeaderBytes < 1024:
		return cfg, fmt.Errorf("%w: max_header_bytes %d: at least 1024", ErrConfig, cfg.MaxHeaderBytes)
	case cfg.MaxBodyBytes < 4096:
		return cfg, fmt.Errorf("%w: max_body_bytes %d: at least 4096", ErrConfig, cfg.MaxBodyBytes)
	case cfg.ReadHeaderTimeout < 0 || cfg.IdleTimeout < 0 || cfg.ShutdownTimeout < 0:
		return cfg, fmt.Errorf("%w: timeouts must be positive", ErrConfig)
	case cfg.ReadTimeout < cfg.ReadHeaderTimeout:
		return cfg, fmt.Errorf("%w: read_timeout %v must be at least read_header_timeout %v", ErrConfig, cfg.ReadTimeout, cfg.ReadHeaderTimeout)
	}
	return cfg, nil
}

// checkTransport checks that a listener on addr is encrypted (TLS here,
// or by the load balancer TLSTerminatedBy names) unless it is on
// loopback, and that TLS is well configured.
func (cfg *Config) checkTransport(addr string) error {
	if cfg.TLS != nil {
		if cfg.TLSTerminatedBy != "" {
			return fmt.Errorf("%w: tls and tls_terminated_by are exclusive: TLS ends either here or at the load balancer", ErrConfig)
		}
		if err := cfg.TLS.Validate("gateway.tls"); err != nil {
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return nil
	}
	if err := netsec.CheckPlain("gateway.http", addr, cfg.TLSTerminatedBy, "gateway.tls_terminated_by (the load balancer that terminates TLS in front of it)"); err != nil {
		return fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return nil
}

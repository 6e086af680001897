package tlcp

import (
	"context"
	"fmt"
	"net"
)

// listener wraps accepted connections in server Conns.
type listener struct {
	net.Listener
	config *Config
}

// NewListener returns a listener whose Accept returns server Conns over
// inner's connections. The handshake runs on first use of each Conn.
func NewListener(inner net.Listener, config *Config) net.Listener {
	return &listener{Listener: inner, config: config}
}

func (l *listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return Server(c, l.config), nil
}

// Dialer dials TLCP connections.
type Dialer struct {
	// NetDialer dials the TCP connection. Zero means a zero net.Dialer.
	NetDialer *net.Dialer
	// Config is the client configuration. Required.
	Config *Config
}

// DialContext connects to addr and completes the handshake. A Config
// without ServerName gets the host of addr.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	nd := d.NetDialer
	if nd == nil {
		nd = &net.Dialer{}
	}
	raw, err := nd.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("tlcp: dial %s: %w", addr, err)
	}
	cfg := d.Config
	if cfg.ServerName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err == nil {
			c := *cfg
			c.ServerName = host
			cfg = &c
		}
	}
	c := Client(raw, cfg)
	if err := c.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, fmt.Errorf("tlcp: dial %s: %w", addr, err)
	}
	return c, nil
}

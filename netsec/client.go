package netsec

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"

	"sgw/tlcp"
)

// SecureConn is a client connection secured by TLS or TLCP: a net.Conn
// whose handshake runs on HandshakeContext (or on first use). *tls.Conn
// and *tlcp.Conn are SecureConns.
type SecureConn interface {
	net.Conn
	HandshakeContext(ctx context.Context) error
}

var (
	_ SecureConn = (*tls.Conn)(nil)
	_ SecureConn = (*tlcp.Conn)(nil)
)

// ClientSecurity is the transport security of the connections a client
// makes to one server: TLS or TLCP, its configuration built once from
// the files it names. A nil *ClientSecurity is plain text. It is
// read-only once built: share it between goroutines and connections.
type ClientSecurity struct {
	tls  *tls.Config
	tlcp *tlcp.Config
}

// NewClientSecurity builds the security of connections to addr
// (host:port) from a section's tls or tlcp (at most one set; both nil
// means plain text, and a nil result), reading their CA bundles and
// checking their client key pairs once. key names the section
// ("feeds[0].backup") in errors, which wrap ErrConfig.
func NewClientSecurity(tlsCfg *ClientTLSConfig, tlcpCfg *ClientTLCPConfig, addr, key string) (*ClientSecurity, error) {
	switch {
	case tlsCfg != nil && tlcpCfg != nil:
		return nil, fmt.Errorf("%w: %s: tls and tlcp are exclusive", ErrConfig, key)
	case tlsCfg != nil:
		c, err := ClientTLS(*tlsCfg, addr, key+".tls")
		if err != nil {
			return nil, err
		}
		return &ClientSecurity{tls: c}, nil
	case tlcpCfg != nil:
		c, err := ClientTLCP(*tlcpCfg, addr, key+".tlcp")
		if err != nil {
			return nil, err
		}
		return &ClientSecurity{tlcp: c}, nil
	}
	return nil, nil
}

// Protocol names the security: "tls", "tlcp", or "" for plain text (a
// nil s).
func (s *ClientSecurity) Protocol() string {
	switch {
	case s == nil:
		return ""
	case s.tlcp != nil:
		return "tlcp"
	}
	return "tls"
}

// Client returns the client side of the secured protocol over c; its
// handshake has not run. s must not be nil.
func (s *ClientSecurity) Client(c net.Conn) SecureConn {
	if s.tlcp != nil {
		return tlcp.Client(c, s.tlcp)
	}
	return tls.Client(c, s.tls)
}

// Handshake secures c and runs the handshake within ctx, returning the
// secured connection. On failure it closes c, and its error names the
// protocol ("tls: ...", "tlcp: ..."). s must not be nil.
func (s *ClientSecurity) Handshake(ctx context.Context, c net.Conn) (SecureConn, error) {
	sc := s.Client(c)
	if err := sc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", s.Protocol(), err)
	}
	return sc, nil
}

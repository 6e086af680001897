package sim

import (
	"crypto/tls"
	"fmt"
	"net"

	"sgw/netsec"
	"sgw/tlcp"
)

// selfSigned carries a Sim's (or Player's) self-signed certificates
// between the listeners New sets up: each is issued once, for 127.0.0.1,
// ::1 and localhost, and shared by every self-signed listener. Used only
// by the goroutine that runs New.
type selfSigned struct {
	tls  *tls.Certificate
	tlcp *netsec.IssuedTLCP
}

// secure returns how a listener of l wraps its accepted connections: in
// TLS, in TLCP, or nil for plain TCP. Self-signed certificates come from
// ss; s.ca and s.tlcpCA keep their CAs' certificates for CACertPEM and
// TLCPCACertPEM.
func (s *feedServer) secure(l ListenerConfig, ss *selfSigned) (func(net.Conn) net.Conn, error) {
	switch {
	case l.TLS.Enabled():
		tc, err := s.tlsConfig(l.TLS, ss)
		if err != nil {
			return nil, err
		}
		return func(nc net.Conn) net.Conn { return tls.Server(nc, tc) }, nil
	case l.TLCP.Enabled():
		tc, err := s.tlcpConfig(l.TLCP, ss)
		if err != nil {
			return nil, err
		}
		return func(nc net.Conn) net.Conn { return tlcp.Server(nc, tc) }, nil
	}
	return nil, nil
}

// tlsConfig builds the server TLS configuration of a listener, with the
// gateway's TLS defaults (netsec: TLS 1.3). A self-signed certificate is
// issued by an in-memory ECDSA CA.
func (s *feedServer) tlsConfig(c TLSConfig, ss *selfSigned) (*tls.Config, error) {
	if !c.SelfSigned {
		st, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: c.CertFile, KeyFile: c.KeyFile}, "tls", nil)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return st.Config(), nil
	}
	if ss.tls == nil {
		ca, err := netsec.NewCA("sgw simulator CA")
		if err != nil {
			return nil, fmt.Errorf("sim: self-signed certificate: %w", err)
		}
		leaf, err := ca.Issue(netsec.LocalhostLeaf())
		if err != nil {
			return nil, fmt.Errorf("sim: self-signed certificate: %w", err)
		}
		ss.tls, s.ca = &leaf.Certificate, ca.CertPEM()
	}
	return netsec.ServerConfigFor(*ss.tls), nil
}

// tlcpConfig builds the server TLCP configuration of a listener (the ECC
// suites; no client certificates asked for). A self-signed pair is
// issued by an in-memory SM2 CA.
func (s *feedServer) tlcpConfig(c TLCPConfig, ss *selfSigned) (*tlcp.Config, error) {
	if !c.SelfSigned {
		sign, enc, err := c.load()
		if err != nil {
			return nil, err
		}
		return &tlcp.Config{SignCertificate: sign, EncCertificate: enc, SessionCache: tlcp.NewSessionCache(0, 0)}, nil
	}
	if ss.tlcp == nil {
		ca, err := netsec.NewSM2CA("sgw simulator SM2 CA")
		if err != nil {
			return nil, fmt.Errorf("sim: self-signed TLCP certificates: %w", err)
		}
		pair, err := ca.IssueTLCP(netsec.LocalhostLeaf())
		if err != nil {
			return nil, fmt.Errorf("sim: self-signed TLCP certificates: %w", err)
		}
		ss.tlcp, s.tlcpCA = &pair, ca.CertPEM()
	}
	return &tlcp.Config{SignCertificate: ss.tlcp.Sign, EncCertificate: ss.tlcp.Enc, SessionCache: tlcp.NewSessionCache(0, 0)}, nil
}

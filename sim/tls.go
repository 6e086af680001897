package sim

import (
	"crypto/tls"
	"fmt"

	"sgw/netsec"
)

// tlsConfig builds the server TLS configuration of a listener, with the
// gateway's TLS defaults (netsec: TLS 1.3). A self-signed certificate, for
// 127.0.0.1, ::1 and localhost, is issued once per Sim (or Player) by an in-memory CA
// and shared by every self-signed listener: selfSigned carries it between
// calls, and s.ca keeps the CA's certificate for CACertPEM.
func (s *feedServer) tlsConfig(c TLSConfig, selfSigned *tls.Certificate) (*tls.Config, *tls.Certificate, error) {
	if !c.SelfSigned {
		st, err := netsec.NewServerTLS(netsec.ServerTLSConfig{CertFile: c.CertFile, KeyFile: c.KeyFile}, "tls", nil)
		if err != nil {
			return nil, selfSigned, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		return st.Config(), selfSigned, nil
	}
	if selfSigned == nil {
		ca, err := netsec.NewCA("sgw simulator CA")
		if err != nil {
			return nil, nil, fmt.Errorf("sim: self-signed certificate: %w", err)
		}
		leaf, err := ca.Issue(netsec.LocalhostLeaf())
		if err != nil {
			return nil, nil, fmt.Errorf("sim: self-signed certificate: %w", err)
		}
		selfSigned, s.ca = &leaf.Certificate, ca.CertPEM()
	}
	return netsec.ServerConfigFor(*selfSigned), selfSigned, nil
}

package netsec

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
)

// ClientTLSConfig configures TLS to a server: an upstream FIX line, a
// market-data source.
type ClientTLSConfig struct {
	// CAFile is a PEM bundle of the CAs that sign the server's
	// certificate. Zero (with no CAPEM) means the system roots.
	CAFile string `yaml:"ca_file"`
	// CAPEM is the same as CAFile, inline; used by the demo, whose
	// simulator makes a self-signed certificate at start.
	CAPEM string `yaml:"ca_pem"`
	// ServerName overrides the name checked in the server's certificate
	// (and sent as SNI). Zero means the host part of the address dialled.
	ServerName string `yaml:"server_name"`
	// CertFile and KeyFile hold a client certificate, for a server that
	// asks for one (mutual TLS); they are read at every handshake, so a
	// renewed pair is used from the next connection on. Both or neither.
	// KeyFile's mode must give its group and others no access (600 or
	// 400), as ServerTLSConfig.KeyFile's.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// MinVersion is the oldest TLS version accepted: "1.3" or "1.2". Zero
	// means "1.3"; "1.2" is for servers that have no TLS 1.3 yet, and
	// offers ECDHE key exchange with AEAD ciphers only.
	MinVersion string `yaml:"min_version"`
}

// Validate checks cfg without reading its files; key names the section in
// errors ("orders.upstreams[0].lines[1].tls").
func (cfg ClientTLSConfig) Validate(key string) error {
	if (cfg.CertFile == "") != (cfg.KeyFile == "") {
		return fmt.Errorf("%w: %s: cert_file and key_file go together", ErrConfig, key)
	}
	_, err := parseMinVersion(key+".min_version", cfg.MinVersion)
	return err
}

// ClientTLS builds the crypto/tls configuration of a connection to addr
// (host:port), reading cfg's CA files and checking its client key pair
// once. key names the section in errors.
func ClientTLS(cfg ClientTLSConfig, addr, key string) (*tls.Config, error) {
	if err := cfg.Validate(key); err != nil {
		return nil, err
	}
	min, _ := parseMinVersion("", cfg.MinVersion)
	c := baseConfig(min)
	c.ServerName = cfg.ServerName
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	pem := []byte(cfg.CAPEM)
	if cfg.CAFile != "" {
		b, err := readCertFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.ca_file: %w", ErrConfig, key, err)
		}
		pem = append(pem, b...)
	}
	if len(pem) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s: no PEM certificate in the CA bundle", ErrConfig, key)
		}
		c.RootCAs = pool
	}
	if cfg.CertFile != "" {
		if _, err := loadX509KeyPair(cfg.CertFile, cfg.KeyFile); err != nil {
			return nil, fmt.Errorf("%w: %s: client certificate: %w", ErrConfig, key, err)
		}
		certFile, keyFile := cfg.CertFile, cfg.KeyFile
		c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			cert, err := loadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, fmt.Errorf("netsec: client certificate: %w", err)
			}
			return &cert, nil
		}
	}
	return c, nil
}

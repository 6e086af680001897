package netsec

import (
	"fmt"

	"github.com/emmansun/gmsm/smx509"

	"sgw/tlcp"
)

// ServerTLCPConfig configures TLCP (GB/T 38636-2020, the national-crypto
// protocol of Chinese retail SDKs) beside TLS on a listener: its SM2
// signature and encryption certificates, reloaded with the TLS pair.
type ServerTLCPConfig struct {
	// SignCertFile and SignKeyFile are the SM2 signature certificate
	// (then intermediates) and its key, PEM. Required. Key files must be
	// regular files that their group and others may not access (mode 600
	// or 400), as ServerTLSConfig.KeyFile.
	SignCertFile string `yaml:"sign_cert_file"`
	SignKeyFile  string `yaml:"sign_key_file"`
	// EncCertFile and EncKeyFile are the SM2 encryption certificate and
	// its key, PEM. Required.
	EncCertFile string `yaml:"enc_cert_file"`
	EncKeyFile  string `yaml:"enc_key_file"`
	// ClientCAFile is a PEM bundle of the SM2 CAs that sign client
	// certificates. Set, every TLCP client must present its certificates
	// (and the ECDHE suites are offered); zero means none is asked for
	// and only the ECC suites are offered. Read at start.
	ClientCAFile string `yaml:"client_ca_file"`
}

// validate checks cfg without reading its files.
func (cfg *ServerTLCPConfig) validate(key string) error {
	if cfg.SignCertFile == "" || cfg.SignKeyFile == "" || cfg.EncCertFile == "" || cfg.EncKeyFile == "" {
		return fmt.Errorf("%w: %s: sign_cert_file, sign_key_file, enc_cert_file and enc_key_file are required", ErrConfig, key)
	}
	return nil
}

// files are the files reloaded, in stamp order.
func (cfg *ServerTLCPConfig) files() []string {
	return []string{cfg.SignCertFile, cfg.SignKeyFile, cfg.EncCertFile, cfg.EncKeyFile}
}

// tlcpPair is the TLCP certificates in service.
type tlcpPair struct {
	sign, enc *tlcp.Certificate
}

// loadTLCP reads the TLCP pair, each key file by readKeyFile.
func loadTLCP(cfg *ServerTLCPConfig) (*tlcpPair, error) {
	sign, err := loadTLCPKeyPair(cfg.SignCertFile, cfg.SignKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlcp signature pair: %w", err)
	}
	enc, err := loadTLCPKeyPair(cfg.EncCertFile, cfg.EncKeyFile)
	if err != nil {
		return nil, fmt.Errorf("tlcp encryption pair: %w", err)
	}
	return &tlcpPair{sign: sign, enc: enc}, nil
}

// loadTLCPKeyPair is tlcp.LoadKeyPair with the key file read by
// readKeyFile (its mode judged).
func loadTLCPKeyPair(certFile, keyFile string) (*tlcp.Certificate, error) {
	certPEM, err := readCertFile(certFile)
	if err != nil {
		return nil, err
	}
	keyPEM, err := readKeyFile(keyFile)
	if err != nil {
		return nil, err
	}
	c, err := tlcp.KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (%s, %s)", err, certFile, keyFile)
	}
	return c, nil
}

// newTLCPConfig is the tlcp configuration of s: certificates from the
// pair in service, session resumption, client certificates if
// configured.
func (s *ServerTLS) newTLCPConfig(key string) (*tlcp.Config, error) {
	c := &tlcp.Config{
		GetCertificates: func() (*tlcp.Certificate, *tlcp.Certificate, error) {
			p := s.tlcp.Load()
			return p.sign, p.enc, nil
		},
		SessionCache: tlcp.NewSessionCache(0, 0),
	}
	if f := s.cfg.TLCP.ClientCAFile; f != "" {
		pem, err := readCertFile(f)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.tlcp.client_ca_file: %w", ErrConfig, key, err)
		}
		pool := smx509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s.tlcp.client_ca_file %s: no PEM certificate in it", ErrConfig, key, f)
		}
		c.ClientCAs = pool
		c.ClientAuth = tlcp.RequireAndVerifyClientCert
	}
	return c, nil
}

// TLCPConfig returns the TLCP configuration to serve beside TLS, nil
// when TLCP is not configured. It is shared; do not change it.
func (s *ServerTLS) TLCPConfig() *tlcp.Config { return s.tlcpConfig }

// TLCPCertificates returns the TLCP signature and encryption
// certificates new handshakes present; nil without TLCP.
func (s *ServerTLS) TLCPCertificates() (sign, enc *tlcp.Certificate) {
	p := s.tlcp.Load()
	if p == nil {
		return nil, nil
	}
	return p.sign, p.enc
}

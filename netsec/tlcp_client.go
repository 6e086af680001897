package netsec

import (
	"fmt"
	"net"

	"github.com/emmansun/gmsm/smx509"

	"sgw/tlcp"
)

// ClientTLCPConfig configures TLCP (GB/T 38636-2020) to a server that
// speaks national crypto: an upstream FIX line, a market-data source. A
// value is read-only once in use; share it freely.
type ClientTLCPConfig struct {
	// CAFile is a PEM bundle of the SM2 CAs that sign the server's
	// signature and encryption certificates. Required unless CAPEM is
	// set.
	CAFile string `yaml:"ca_file"`
	// CAPEM is the same as CAFile, inline (both may be given); used by
	// the demo, whose simulator makes its SM2 certificates at start.
	CAPEM string `yaml:"ca_pem"`
	// ServerName is checked in the server's signature certificate. Zero
	// means the host part of the address dialled; an address without one
	// (":9000") then needs it.
	ServerName string `yaml:"server_name"`
	// SignCertFile, SignKeyFile, EncCertFile and EncKeyFile are the
	// client's SM2 pairs, for a server that asks for them (the ECDHE
	// suites always do); read at every handshake. All or none. The key
	// files' mode must give their group and others no access (600 or
	// 400), as ServerTLSConfig.KeyFile's.
	SignCertFile string `yaml:"sign_cert_file"`
	SignKeyFile  string `yaml:"sign_key_file"`
	EncCertFile  string `yaml:"enc_cert_file"`
	EncKeyFile   string `yaml:"enc_key_file"`
	// CertificateVerify is the form of the client's CertificateVerify
	// signature when it sends its pairs (GB/T 38636-2020 6.4.5.9):
	// "hash", SM3 of the handshake messages, the standard's (tjfoc's
	// gmtls, gotlcp); or "raw", the messages themselves, for a GmSSL 3
	// server, which refuses the other. Zero means "hash".
	CertificateVerify string `yaml:"certificate_verify"`
}

// certificateVerifyForms maps certificate_verify to tlcp's forms.
var certificateVerifyForms = map[string]tlcp.CertificateVerifyForm{
	"":     tlcp.CertificateVerifyHash,
	"hash": tlcp.CertificateVerifyHash,
	"raw":  tlcp.CertificateVerifyRaw,
}

// Validate checks cfg without reading its files; key names the section in
// errors.
func (cfg ClientTLCPConfig) Validate(key string) error {
	if cfg.CAFile == "" && cfg.CAPEM == "" {
		return fmt.Errorf("%w: %s.ca_file (or ca_pem) is required", ErrConfig, key)
	}
	n := 0
	for _, f := range []string{cfg.SignCertFile, cfg.SignKeyFile, cfg.EncCertFile, cfg.EncKeyFile} {
		if f != "" {
			n++
		}
	}
	if n != 0 && n != 4 {
		return fmt.Errorf("%w: %s: sign_cert_file, sign_key_file, enc_cert_file and enc_key_file go together", ErrConfig, key)
	}
	if _, ok := certificateVerifyForms[cfg.CertificateVerify]; !ok {
		return fmt.Errorf("%w: %s.certificate_verify %q: want \"hash\" (default) or \"raw\"", ErrConfig, key, cfg.CertificateVerify)
	}
	return nil
}

// ClientTLCP builds the tlcp configuration of a connection to addr
// (host:port), reading the CA bundle and checking the client pairs once;
// key names the section in errors.
func ClientTLCP(cfg ClientTLCPConfig, addr, key string) (*tlcp.Config, error) {
	if err := cfg.Validate(key); err != nil {
		return nil, err
	}
	pem := []byte(cfg.CAPEM)
	if cfg.CAFile != "" {
		b, err := readCertFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.ca_file: %w", ErrConfig, key, err)
		}
		pem = append(pem, b...)
	}
	pool := smx509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%w: %s: no PEM certificate in the CA bundle", ErrConfig, key)
	}
	c := &tlcp.Config{RootCAs: pool, ServerName: cfg.ServerName, SessionCache: tlcp.NewSessionCache(1, 0),
		CertificateVerify: certificateVerifyForms[cfg.CertificateVerify]}
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(addr)
	}
	if c.ServerName == "" {
		// tlcp checks no name when it has none (crypto/tls refuses to
		// run so): any certificate of the CAs would pass for the server.
		return nil, fmt.Errorf("%w: %s.server_name is required: the address %q names no host to check the server's certificate against", ErrConfig, key, addr)
	}
	if cfg.SignCertFile != "" {
		load := func() (*tlcp.Certificate, *tlcp.Certificate, error) {
			p, err := loadTLCP(&ServerTLCPConfig{SignCertFile: cfg.SignCertFile, SignKeyFile: cfg.SignKeyFile, EncCertFile: cfg.EncCertFile, EncKeyFile: cfg.EncKeyFile})
			if err != nil {
				return nil, nil, fmt.Errorf("netsec: client certificates: %w", err)
			}
			return p.sign, p.enc, nil
		}
		if _, _, err := load(); err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, key, err)
		}
		c.GetCertificates = load
	}
	return c, nil
}

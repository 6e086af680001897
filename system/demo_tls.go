package system

import (
	"fmt"
	"os"
	"path/filepath"

	"sgw/configs"
	"sgw/netsec"
)

// DemoTLSFiles are the files DemoTLS writes: the CAs a client of the
// demo trusts (CA for TLS, SM2CA for TLCP) and the pairs the public port
// serves. A value, read-only once returned.
type DemoTLSFiles struct {
	// Dir is the fresh temporary directory that holds them.
	Dir string
	// CA and SM2CA are the PEM certificates of the in-memory CAs that
	// issued the TLS certificate and the TLCP pairs.
	CA, SM2CA string
	// TLS is the gateway.tls section written into the configuration: the
	// TLS pair and, in its tlcp section, the TLCP pairs.
	TLS netsec.ServerTLSConfig
}

// DemoTLS has the demo's public port serve TLS and TLCP (GB/T
// 38636-2020) side by side, with certificates made at start the way its
// simulator's self-signed feed listeners get theirs: an in-memory ECDSA
// CA (netsec.CA) issues the TLS certificate, an in-memory SM2 CA
// (netsec.SM2CA) the TLCP signature and encryption pairs, all for
// localhost, 127.0.0.1 and ::1. The files go to a fresh temporary
// directory and cfg.Gateway.TLS names them (the listener then reloads
// them like any other). A configuration that already sets gateway.tls
// is refused. Call it before NewDemo, from the goroutine that owns cfg.
func DemoTLS(cfg *configs.File) (DemoTLSFiles, error) {
	if cfg.Gateway.TLS != nil {
		return DemoTLSFiles{}, fmt.Errorf("%w: demo TLS: gateway.tls is already set", configs.ErrConfig)
	}
	ca, err := netsec.NewCA("sgw demo CA")
	if err != nil {
		return DemoTLSFiles{}, fmt.Errorf("system: demo TLS CA: %w", err)
	}
	leaf, err := ca.Issue(netsec.LocalhostLeaf())
	if err != nil {
		return DemoTLSFiles{}, fmt.Errorf("system: demo TLS certificate: %w", err)
	}
	sm2CA, err := netsec.NewSM2CA("sgw demo SM2 CA")
	if err != nil {
		return DemoTLSFiles{}, fmt.Errorf("system: demo TLCP CA: %w", err)
	}
	pair, err := sm2CA.IssueTLCP(netsec.LocalhostLeaf())
	if err != nil {
		return DemoTLSFiles{}, fmt.Errorf("system: demo TLCP certificates: %w", err)
	}
	dir, err := os.MkdirTemp("", "sgw-demo-tls-")
	if err != nil {
		return DemoTLSFiles{}, fmt.Errorf("system: demo TLS directory: %w", err)
	}
	f := DemoTLSFiles{Dir: dir, CA: filepath.Join(dir, "ca.pem"), SM2CA: filepath.Join(dir, "sm2-ca.pem")}
	f.TLS = netsec.ServerTLSConfig{
		CertFile: filepath.Join(dir, "gateway.pem"), KeyFile: filepath.Join(dir, "gateway.key"),
		TLCP: &netsec.ServerTLCPConfig{
			SignCertFile: filepath.Join(dir, "tlcp-sign.pem"), SignKeyFile: filepath.Join(dir, "tlcp-sign.key"),
			EncCertFile: filepath.Join(dir, "tlcp-enc.pem"), EncKeyFile: filepath.Join(dir, "tlcp-enc.key"),
		},
	}
	for _, w := range []struct {
		name string
		data []byte
	}{
		{f.CA, ca.CertPEM()}, {f.SM2CA, sm2CA.CertPEM()},
		{f.TLS.CertFile, leaf.CertPEM}, {f.TLS.KeyFile, leaf.KeyPEM},
		{f.TLS.TLCP.SignCertFile, pair.SignCertPEM}, {f.TLS.TLCP.SignKeyFile, pair.SignKeyPEM},
		{f.TLS.TLCP.EncCertFile, pair.EncCertPEM}, {f.TLS.TLCP.EncKeyFile, pair.EncKeyPEM},
	} {
		if err := os.WriteFile(w.name, w.data, 0o600); err != nil {
			return DemoTLSFiles{}, fmt.Errorf("system: demo TLS: %w", err)
		}
	}
	tls := f.TLS
	cfg.Gateway.TLS = &tls
	return f, nil
}

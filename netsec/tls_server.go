package netsec

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"sgw/tlcp"
)

// DefaultReloadInterval is how often a zero ServerTLSConfig.ReloadInterval
// checks the certificate files for a change.
const DefaultReloadInterval = 10 * time.Second

// ServerTLSConfig configures TLS on a listener.
type ServerTLSConfig struct {
	// CertFile is a PEM file of the server's certificate, then any
	// intermediates. Required.
	CertFile string `yaml:"cert_file"`
	// KeyFile is the PEM private key of the certificate: a regular file
	// that its group and others may not access (mode 600 or 400), else it
	// is refused. Required.
	KeyFile string `yaml:"key_file"`
	// MinVersion is the oldest TLS version accepted: "1.3" or "1.2". Zero
	// means "1.3". TLS 1.0 and 1.1 are refused as configuration errors;
	// with "1.2", only ECDHE key exchange with AEAD ciphers is offered.
	MinVersion string `yaml:"min_version"`
	// ClientCAFile is a PEM bundle of the CAs that sign client
	// certificates. Set, every client must present a certificate they
	// sign (mutual TLS); zero means no client certificate is asked for.
	// The bundle is read at start.
	ClientCAFile string `yaml:"client_ca_file"`
	// ReloadInterval is how often the certificate and key files are
	// checked (modification time and size); a changed pair is loaded for
	// new handshakes, open connections keep theirs. Zero means 10s.
	ReloadInterval time.Duration `yaml:"reload_interval"`
	// TLCP, set, serves TLCP on the same listener beside TLS, the first
	// bytes of each connection telling which (ProtocolListener); its
	// files are reloaded with the TLS pair. Zero means TLS only.
	TLCP *ServerTLCPConfig `yaml:"tlcp"`
}

// Validate checks cfg without reading its files.
func (cfg ServerTLSConfig) Validate(key string) error {
	if cfg.CertFile == "" || cfg.KeyFile == "" {
		return fmt.Errorf("%w: %s: cert_file and key_file are required", ErrConfig, key)
	}
	if cfg.ReloadInterval < 0 {
		return fmt.Errorf("%w: %s.reload_interval %v is negative", ErrConfig, key, cfg.ReloadInterval)
	}
	if cfg.TLCP != nil {
		if err := cfg.TLCP.validate(key + ".tlcp"); err != nil {
			return err
		}
		// TLCP shares the port: without client certificates of its own it
		// would let in, without any certificate, the clients mutual TLS
		// keeps out.
		if cfg.ClientCAFile != "" && cfg.TLCP.ClientCAFile == "" {
			return fmt.Errorf("%w: %s.client_ca_file requires client certificates, but %s.tlcp.client_ca_file is not set: TLCP clients on the same port would need none", ErrConfig, key, key)
		}
	}
	_, err := parseMinVersion(key+".min_version", cfg.MinVersion)
	return err
}

// ServerTLS is a listener's TLS: a crypto/tls configuration whose
// certificate is read, at every handshake, from an atomically swapped
// pointer that Reload and Watch replace, and, when configured, the same
// for TLCP's pair of SM2 certificates. Connections keep the certificate
// they were handshaken with. Safe for concurrent use.
type ServerTLS struct {
	cfg        ServerTLSConfig
	log        *slog.Logger
	config     *tls.Config
	cert       atomic.Pointer[tls.Certificate] // with Leaf set
	tlcpConfig *tlcp.Config                    // nil: TLS only
	tlcp       atomic.Pointer[tlcpPair]        // nil: TLS only

	mu    sync.Mutex // serialises loads; guards stamp
	stamp []fileStamp
}

// fileStamp is what Watch compares to tell that a file changed. The mode
// is in it because a key file refused for its mode is fixed by chmod,
// which changes neither the modification time nor the size: without it
// the renewed pair was not loaded until another file changed.
type fileStamp struct {
	mod  time.Time
	size int64
	mode os.FileMode
}

// NewServerTLS loads cfg's certificate, key and client CAs. key names the
// configuration section in errors ("gateway.tls"); log may be nil.
func NewServerTLS(cfg ServerTLSConfig, key string, log *slog.Logger) (*ServerTLS, error) {
	if err := cfg.Validate(key); err != nil {
		return nil, err
	}
	min, _ := parseMinVersion(key+".min_version", cfg.MinVersion)
	if cfg.ReloadInterval == 0 {
		cfg.ReloadInterval = DefaultReloadInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &ServerTLS{cfg: cfg, log: log.With("tls", key)}
	if err := s.Reload(); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrConfig, key, err)
	}
	c := baseConfig(min)
	c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.cert.Load(), nil }
	if cfg.ClientCAFile != "" {
		pem, err := readCertFile(cfg.ClientCAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.client_ca_file: %w", ErrConfig, key, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: %s.client_ca_file %s: no PEM certificate in it", ErrConfig, key, cfg.ClientCAFile)
		}
		c.ClientCAs = pool
		c.ClientAuth = tls.RequireAndVerifyClientCert
	}
	s.config = c
	if cfg.TLCP != nil {
		tc, err := s.newTLCPConfig(key)
		if err != nil {
			return nil, err
		}
		s.tlcpConfig = tc
	}
	return s, nil
}

// ServerConfigFor returns the configuration ServerTLS would serve cert
// with, TLS 1.3, without reloading or client certificates: for the
// simulator's in-memory certificate and for tests.
func ServerConfigFor(cert tls.Certificate) *tls.Config {
	c := baseConfig(tls.VersionTLS13)
	c.Certificates = []tls.Certificate{cert}
	return c
}

// Config returns the crypto/tls configuration to serve with. It is shared:
// Clone it to change anything.
func (s *ServerTLS) Config() *tls.Config { return s.config }

// MutualTLS reports whether clients must present a certificate.
func (s *ServerTLS) MutualTLS() bool { return s.config.ClientAuth == tls.RequireAndVerifyClientCert }

// Certificate returns the certificate new handshakes present, with Leaf
// set.
func (s *ServerTLS) Certificate() *tls.Certificate { return s.cert.Load() }

// Reload reads the certificate and key files now and, if they hold a
// valid pair, serves them to new handshakes. On an error the certificate
// in service stays.
func (s *ServerTLS) Reload() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stamp = s.stamps()
	return s.load()
}

// load reads the key pair and the TLCP pair, and serves them only if all
// load. s.mu must be held.
func (s *ServerTLS) load() error {
	certPEM, err := readCertFile(s.cfg.CertFile)
	if err != nil {
		return fmt.Errorf("cert_file: %w", err)
	}
	keyPEM, err := readKeyFile(s.cfg.KeyFile)
	if err != nil {
		return fmt.Errorf("key_file: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return fmt.Errorf("cert_file %s, key_file %s: %w", s.cfg.CertFile, s.cfg.KeyFile, err)
	}
	// X509KeyPair has parsed the leaf into cert.Leaf.
	if now := time.Now(); now.After(cert.Leaf.NotAfter) {
		return fmt.Errorf("certificate %s expired at %s", s.cfg.CertFile, cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	var pair *tlcpPair
	if s.cfg.TLCP != nil {
		if pair, err = loadTLCP(s.cfg.TLCP); err != nil {
			return err
		}
	}
	s.cert.Store(&cert)
	s.log.Info("tls: certificate loaded", "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter.UTC())
	if pair != nil {
		s.tlcp.Store(pair)
		s.log.Info("tlcp: certificates loaded", "sign_subject", pair.sign.Leaf.Subject.String(), "sign_not_after", pair.sign.Leaf.NotAfter.UTC(),
			"enc_subject", pair.enc.Leaf.Subject.String(), "enc_not_after", pair.enc.Leaf.NotAfter.UTC())
	}
	return nil
}

// stamps stats the certificate and key files (TLS, then TLCP's); a file
// that cannot be read has a zero stamp.
func (s *ServerTLS) stamps() []fileStamp {
	files := []string{s.cfg.CertFile, s.cfg.KeyFile}
	if s.cfg.TLCP != nil {
		files = append(files, s.cfg.TLCP.files()...)
	}
	st := make([]fileStamp, len(files))
	for i, f := range files {
		if fi, err := os.Stat(f); err == nil {
			st[i] = fileStamp{mod: fi.ModTime(), size: fi.Size(), mode: fi.Mode()}
		}
	}
	return st
}

// Watch checks the certificate and key files every ReloadInterval until
// ctx ends, and reloads them when either changed. A failed load is logged
// and retried when a file changes again, the certificate in service
// staying. Run it on its own goroutine.
func (s *ServerTLS) Watch(ctx context.Context) {
	t := time.NewTicker(s.cfg.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.poll()
		}
	}
}

// poll reloads the files if they changed since the last load, and
// reports whether it tried.
func (s *ServerTLS) poll() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stamps()
	if slices.Equal(st, s.stamp) {
		return false
	}
	s.stamp = st
	if err := s.load(); err != nil {
		// Often the two files are replaced one after the other: the next
		// change completes the pair.
		s.log.Warn("tls: certificate files changed but do not load; serving the previous certificate", "err", err)
	}
	return true
}

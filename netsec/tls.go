package netsec

import (
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"strings"

	"sgw/internal/secretfile"
)

// TLS versions as configured (min_version).
const (
	Version12 = "1.2"
	Version13 = "1.3"
	// DefaultMinVersion is the minimum version of a zero MinVersion.
	DefaultMinVersion = Version13
)

// tls12Suites are the TLS 1.2 cipher suites allowed when a configuration
// lowers its minimum to 1.2: ECDHE key exchange (forward secrecy) and AEAD
// ciphers only. Go's own default list still has the ECDHE CBC-SHA suites.
// TLS 1.3 suites are not configurable in Go, and all of them are AEAD.
var tls12Suites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// parseMinVersion maps a configured minimum version to crypto/tls's:
// "" and "1.3" are TLS 1.3, "1.2" is TLS 1.2; anything older is refused.
func parseMinVersion(key, v string) (uint16, error) {
	switch strings.TrimPrefix(strings.ToLower(v), "tls") {
	case "", Version13:
		return tls.VersionTLS13, nil
	case Version12:
		return tls.VersionTLS12, nil
	case "1.0", "1.1", "ssl3", "ssl3.0":
		return 0, fmt.Errorf("%w: %s %q: TLS 1.0, 1.1 and SSL are refused; use %q (default) or %q",
			ErrConfig, key, v, Version13, Version12)
	}
	return 0, fmt.Errorf("%w: %s %q: want %q (default) or %q", ErrConfig, key, v, Version13, Version12)
}

// baseConfig is the configuration every TLS endpoint of the gateway
// starts from: the minimum version and, for TLS 1.2, the allowed suites.
// Curves, signature schemes and TLS 1.3 suites are Go's defaults.
func baseConfig(min uint16) *tls.Config {
	c := &tls.Config{MinVersion: min}
	if min < tls.VersionTLS13 {
		c.CipherSuites = tls12Suites
	}
	return c
}

// readKeyFile reads a private key file: a listener's TLS key, a TLCP
// signature or encryption key, a client certificate's key, refused as
// secretfile refuses a file its group or others may access: whoever reads
// the key can pass for the gateway, and with a TLCP encryption key (ECC
// suites have no forward secrecy) decrypt recorded traffic.
func readKeyFile(path string) ([]byte, error) {
	b, err := secretfile.Read(path, 0)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	return b, nil
}

// readCertFile reads a file of public material: a certificate chain, a
// CA bundle. secretfile.ReadPublic refuses it, before opening it, when it
// is not a regular file (a named pipe would hold the start, or a reload
// with ServerTLS.mu held, until something wrote to it); its mode is not
// judged.
func readCertFile(path string) ([]byte, error) {
	return secretfile.ReadPublic(path, 0)
}

// loadX509KeyPair is tls.LoadX509KeyPair with the certificate file read
// by readCertFile and the key file by readKeyFile.
func loadX509KeyPair(certFile, keyFile string) (tls.Certificate, error) {
	certPEM, err := readCertFile(certFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	keyPEM, err := readKeyFile(keyFile)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}

// SPKIFingerprint returns the SHA-256 of a certificate's
// SubjectPublicKeyInfo, the fingerprint that stays the same when a
// certificate is renewed with the same key.
func SPKIFingerprint(cert *x509.Certificate) [sha256.Size]byte {
	return sha256.Sum256(cert.RawSubjectPublicKeyInfo)
}

// ParseFingerprint parses a SHA-256 fingerprint written in hex (colons
// allowed, either case, as `openssl x509 -fingerprint` prints them) or in
// base64 (as `openssl ... | base64` and HPKP pins print them).
func ParseFingerprint(s string) ([sha256.Size]byte, error) {
	var fp [sha256.Size]byte
	h := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	if b, err := hex.DecodeString(h); err == nil && len(b) == sha256.Size {
		copy(fp[:], b)
		return fp, nil
	}
	if b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s)); err == nil && len(b) == sha256.Size {
		copy(fp[:], b)
		return fp, nil
	}
	return fp, fmt.Errorf("%w: fingerprint %q: want 32 bytes of SHA-256, in hex or base64", ErrConfig, s)
}

// IsLoopback reports whether host (an IP address or "localhost") names
// the loopback interface. An empty host (all interfaces) is not loopback.
func IsLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckPlain checks a plain-text listener or line at addr (host:port):
// allowed on a loopback address, or when encryptedBy names what encrypts
// the traffic in front of it (the load balancer that terminates TLS, the
// tunnel that carries a line). what names the endpoint and key the config
// key to set, for the error. The error wraps ErrPlainText.
func CheckPlain(what, addr, encryptedBy, key string) error {
	if encryptedBy != "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%s %q: %w", what, addr, err)
	}
	if IsLoopback(host) {
		return nil
	}
	return fmt.Errorf("%w: %s %s would carry plain text across a network; configure TLS, or name in %s what encrypts it",
		ErrPlainText, what, addr, key)
}

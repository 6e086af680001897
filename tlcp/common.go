package tlcp

import (
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"sgw/internal/secretfile"
)

// VersionTLCP is the protocol version of TLCP, in every record header and
// hello (GB/T 38636-2020 6.3.2.1: major 1, minor 1).
const VersionTLCP uint16 = 0x0101

// DefaultHandshakeTimeout bounds a handshake of a zero
// Config.HandshakeTimeout.
const DefaultHandshakeTimeout = 10 * time.Second

// Record layer limits (GB/T 38636-2020 6.3.2.2 and 6.3.2.4).
const (
	recordHeaderLen = 5
	maxPlaintext    = 1 << 14
	maxCiphertext   = maxPlaintext + 2048
	// maxHandshake bounds one handshake message; a certificate message
	// with a long chain is the largest.
	maxHandshake = 64 << 10
)

// recordType is the content type of a record (6.3.2.2).
type recordType uint8

const (
	recordTypeChangeCipherSpec recordType = 20
	recordTypeAlert            recordType = 21
	recordTypeHandshake        recordType = 22
	recordTypeApplicationData  recordType = 23
)

// Handshake message types (6.4.5.1).
const (
	typeClientHello        uint8 = 1
	typeServerHello        uint8 = 2
	typeCertificate        uint8 = 11
	typeServerKeyExchange  uint8 = 12
	typeCertificateRequest uint8 = 13
	typeServerHelloDone    uint8 = 14
	typeCertificateVerify  uint8 = 15
	typeClientKeyExchange  uint8 = 16
	typeFinished           uint8 = 20
)

// certTypeECDSASign is the certificate type of an SM2 certificate in a
// CertificateRequest (6.4.5.5: ecdsa_sign(64)).
const certTypeECDSASign = 64

// curveSM2 is the named curve of the SM2 key exchange parameters
// (sm2p256v1, RFC 8998 section 2.2; GB/T 38636 ignores the value).
const curveSM2 = 41

// Certificate is one SM2 key pair and its certificate chain: a signature
// certificate or an encryption certificate.
type Certificate struct {
	// Certificate is the DER chain, leaf first.
	Certificate [][]byte
	// PrivateKey is the leaf's key.
	PrivateKey *sm2.PrivateKey
	// Leaf is the parsed leaf; zero means it is parsed when needed.
	Leaf *smx509.Certificate
}

// ClientAuth says whether a server asks for client certificates.
type ClientAuth int

const (
	// NoClientCert asks for none; ECDHE suites are then not offered.
	NoClientCert ClientAuth = iota
	// RequireAndVerifyClientCert asks for the client's signature and
	// encryption certificates and verifies them against ClientCAs.
	RequireAndVerifyClientCert
)

// Config configures a client or a server. It must not be changed once
// passed to Server, Client or a Listener; the functions it holds may be
// called from several connections' goroutines at once.
type Config struct {
	// SignCertificate and EncCertificate are the signature and
	// encryption certificates: a server's (required), or a client's sent
	// when the server asks (required for ECDHE suites).
	SignCertificate *Certificate
	EncCertificate  *Certificate
	// GetCertificates, set, returns the pair for each new handshake in
	// place of the two fields (a reloading server).
	GetCertificates func() (sign, enc *Certificate, err error)

	// CipherSuites are the suites offered (client) or accepted (server),
	// most preferred first. Zero means all four, GCM before CBC, ECC
	// before ECDHE.
	CipherSuites []uint16

	// RootCAs verify a server's certificates; the signature certificate
	// must also be one for server authentication (an extended key usage
	// naming it, or none). Zero means a client refuses every server.
	RootCAs *smx509.CertPool
	// ServerName is checked in the server's signature certificate. Zero
	// means no name check, which only tests may want.
	ServerName string

	// ClientAuth says whether the server asks for client certificates;
	// ClientCAs verify them. Zero means none is asked for.
	ClientAuth ClientAuth
	ClientCAs  *smx509.CertPool

	// CertificateVerify is the form of a client's CertificateVerify
	// signature (6.4.5.9), for a server that asks for certificates.
	// Zero means CertificateVerifyHash, the standard's (tjfoc's gmtls,
	// gotlcp); CertificateVerifyRaw is for a GmSSL 3 server, which
	// refuses the other. Servers accept either, whatever this says.
	CertificateVerify CertificateVerifyForm

	// SessionCache, set, lets a server resume sessions by ID or a client
	// offer the ID of its last session with a server. Zero means every
	// handshake is a full one.
	SessionCache *SessionCache

	// HandshakeTimeout bounds a handshake (a read deadline on the
	// connection while it runs). Zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration

	// Rand is the source of randomness. Zero means crypto/rand.Reader.
	Rand io.Reader
	// Time is the clock of certificate checks and the session cache.
	// Zero means time.Now.
	Time func() time.Time
}

func (c *Config) rand() io.Reader {
	if c.Rand != nil {
		return c.Rand
	}
	return rand.Reader
}

func (c *Config) now() time.Time {
	if c.Time != nil {
		return c.Time()
	}
	return time.Now()
}

func (c *Config) handshakeTimeout() time.Duration {
	if c.HandshakeTimeout > 0 {
		return c.HandshakeTimeout
	}
	return DefaultHandshakeTimeout
}

// certificates returns the signature and encryption pair of a
// handshake, either of which may be nil.
func (c *Config) certificates() (sign, enc *Certificate, err error) {
	if c.GetCertificates != nil {
		return c.GetCertificates()
	}
	return c.SignCertificate, c.EncCertificate, nil
}

// LoadKeyPair reads a PEM certificate chain (leaf first) and the PEM SM2
// private key of its leaf (PKCS#8 or SEC 1), and checks that they match.
// Either file is refused, before it is opened, when it is not a regular
// file (secretfile.ReadPublic: a named pipe would hold the caller until
// something wrote to it); the key file's mode is not judged (netsec's
// listener reads its keys with that check).
func LoadKeyPair(certFile, keyFile string) (*Certificate, error) {
	certPEM, err := secretfile.ReadPublic(certFile, 0)
	if err != nil {
		return nil, fmt.Errorf("tlcp: %w", err)
	}
	keyPEM, err := secretfile.ReadPublic(keyFile, 0)
	if err != nil {
		return nil, fmt.Errorf("tlcp: %w", err)
	}
	cert, err := KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%w (%s, %s)", err, certFile, keyFile)
	}
	return cert, nil
}

// KeyPair parses a PEM certificate chain and the PEM SM2 private key of
// its leaf, and checks that they match.
func KeyPair(certPEM, keyPEM []byte) (*Certificate, error) {
	var c Certificate
	for {
		var b *pem.Block
		b, certPEM = pem.Decode(certPEM)
		if b == nil {
			break
		}
		if b.Type == "CERTIFICATE" {
			c.Certificate = append(c.Certificate, b.Bytes)
		}
	}
	if len(c.Certificate) == 0 {
		return nil, fmt.Errorf("tlcp: no PEM certificate")
	}
	leaf, err := smx509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tlcp: certificate: %w", err)
	}
	c.Leaf = leaf
	var key *sm2.PrivateKey
	for key == nil {
		var b *pem.Block
		b, keyPEM = pem.Decode(keyPEM)
		if b == nil {
			return nil, fmt.Errorf("tlcp: no PEM private key")
		}
		switch b.Type {
		case "PRIVATE KEY":
			k, err := smx509.ParsePKCS8PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tlcp: private key: %w", err)
			}
			sk, ok := k.(*sm2.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("tlcp: private key is a %T, not SM2", k)
			}
			key = sk
		case "EC PRIVATE KEY", "SM2 PRIVATE KEY":
			k, err := smx509.ParseSM2PrivateKey(b.Bytes)
			if err != nil {
				return nil, fmt.Errorf("tlcp: private key: %w", err)
			}
			key = k
		}
	}
	if !sm2.IsSM2PublicKey(leaf.PublicKey) || !key.PublicKey.Equal(leaf.PublicKey) {
		return nil, fmt.Errorf("tlcp: private key does not match the certificate's SM2 public key")
	}
	c.PrivateKey = key
	return &c, nil
}

// leaf returns the parsed leaf of c.
func (c *Certificate) leaf() (*smx509.Certificate, error) {
	if c.Leaf != nil {
		return c.Leaf, nil
	}
	if len(c.Certificate) == 0 {
		return nil, fmt.Errorf("tlcp: empty certificate")
	}
	return smx509.ParseCertificate(c.Certificate[0])
}

// ConnectionState is what a handshake agreed.
type ConnectionState struct {
	Version           uint16
	HandshakeComplete bool
	DidResume         bool
	CipherSuite       uint16
	// PeerCertificates are the peer's signature certificate, encryption
	// certificate and any intermediates, as sent; empty for a client
	// that sent none.
	PeerCertificates []*smx509.Certificate
	// CertificateVerify is, on a server, the form of the client's
	// CertificateVerify that verified (6.4.5.9); zero when the client
	// sent none (no certificates, or a resumed session) and on a client.
	CertificateVerify CertificateVerifyForm
}

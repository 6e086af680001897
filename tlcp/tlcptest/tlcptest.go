// Package tlcptest is test support for TLCP: an in-memory SM2
// certificate authority that issues signature and encryption
// certificate pairs, in memory and as PEM files. Its keys are generated
// per test run; nothing of it is for production.
package tlcptest

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"sgw/tlcp"
)

// CA is an SM2 certificate authority valid a day either side of now.
// Safe for concurrent use.
type CA struct {
	Cert *smx509.Certificate
	Key  *sm2.PrivateKey
}

// NewCA creates a CA named name.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &smx509.Certificate{
		SerialNumber:          serial(tb),
		Subject:               pkix.Name{CommonName: name, Country: []string{"CN"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{Cert: cert, Key: key}
}

// serial returns a random 128-bit serial number: strict verifiers
// (GmSSL) refuse serials shorter than 4 bytes.
func serial(tb testing.TB) *big.Int {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		tb.Fatal(err)
	}
	b[0] |= 0x40 // 16 bytes long, positive
	b[0] &= 0x7f
	return new(big.Int).SetBytes(b)
}

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *smx509.CertPool {
	p := smx509.NewCertPool()
	p.AddCert(ca.Cert)
	return p
}

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Pair is a signature and an encryption certificate with their keys.
type Pair struct {
	Sign, Enc *tlcp.Certificate
}

// Issue issues a pair for name (a DNS name or an IP address, in the
// SANs and the common name): the signature certificate for digital
// signatures, the encryption certificate for key and data encipherment
// and key agreement, both for server and client authentication.
func (ca *CA) Issue(tb testing.TB, name string) Pair {
	tb.Helper()
	return Pair{
		Sign: ca.issue(tb, name, smx509.KeyUsageDigitalSignature),
		Enc:  ca.issue(tb, name, smx509.KeyUsageKeyEncipherment|smx509.KeyUsageDataEncipherment|smx509.KeyUsageKeyAgreement),
	}
}

func (ca *CA) issue(tb testing.TB, name string, usage smx509.KeyUsage) *tlcp.Certificate {
	tb.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	now := time.Now()
	tmpl := &smx509.Certificate{
		SerialNumber: serial(tb),
		Subject:      pkix.Name{CommonName: name, Country: []string{"CN"}},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     usage,
		ExtKeyUsage:  []smx509.ExtKeyUsage{smx509.ExtKeyUsageServerAuth, smx509.ExtKeyUsageClientAuth},
	}
	if ip := net.ParseIP(name); ip != nil {
		tmpl.IPAddresses = []net.IP{ip}
	} else {
		tmpl.DNSNames = []string{name}
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		tb.Fatal(err)
	}
	leaf, err := smx509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return &tlcp.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}

// CertPEM returns c's chain in PEM.
func CertPEM(c *tlcp.Certificate) []byte {
	var out []byte
	for _, der := range c.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
	}
	return out
}

// KeyPEM returns c's key in PKCS#8 PEM.
func KeyPEM(tb testing.TB, c *tlcp.Certificate) []byte {
	tb.Helper()
	der, err := smx509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		tb.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// Files are the PEM files of a pair.
type Files struct {
	SignCert, SignKey, EncCert, EncKey string
}

// WriteFiles writes p to dir as prefix-sign.pem, prefix-sign.key,
// prefix-enc.pem and prefix-enc.key.
func (p Pair) WriteFiles(tb testing.TB, dir, prefix string) Files {
	tb.Helper()
	f := Files{
		SignCert: filepath.Join(dir, prefix+"-sign.pem"),
		SignKey:  filepath.Join(dir, prefix+"-sign.key"),
		EncCert:  filepath.Join(dir, prefix+"-enc.pem"),
		EncKey:   filepath.Join(dir, prefix+"-enc.key"),
	}
	for file, data := range map[string][]byte{
		f.SignCert: CertPEM(p.Sign), f.SignKey: KeyPEM(tb, p.Sign),
		f.EncCert: CertPEM(p.Enc), f.EncKey: KeyPEM(tb, p.Enc),
	} {
		if err := os.WriteFile(file, data, 0o600); err != nil {
			tb.Fatal(err)
		}
	}
	return f
}

// Package tlcptest is test support for TLCP: an in-memory SM2
// certificate authority that issues signature and encryption
// certificate pairs, in memory and as PEM files. Its keys are generated
// per test run; nothing of it is for production.
package tlcptest

import (
	"encoding/pem"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/emmansun/gmsm/smx509"

	"sgw/netsec"
	"sgw/tlcp"
)

// CA is an SM2 certificate authority valid a day before now and two
// after, netsec.SM2CA's (the demo's and the simulator's) with test
// helpers. Safe for concurrent use.
type CA struct {
	ca *netsec.SM2CA
}

// NewCA creates a CA named name.
func NewCA(tb testing.TB, name string) *CA {
	tb.Helper()
	ca, err := netsec.NewSM2CA(name)
	if err != nil {
		tb.Fatal(err)
	}
	return &CA{ca: ca}
}

// Pool returns a pool holding the CA.
func (ca *CA) Pool() *smx509.CertPool { return ca.ca.Pool() }

// CertPEM returns the CA certificate in PEM.
func (ca *CA) CertPEM() []byte { return ca.ca.CertPEM() }

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
	return ca.issue(tb, netsec.Leaf{CommonName: name})
}

// IssueClient issues a pair as Issue does, for client authentication
// only (the extended key usage names no other).
func (ca *CA) IssueClient(tb testing.TB, name string) Pair {
	tb.Helper()
	return ca.issue(tb, netsec.Leaf{CommonName: name, Client: true})
}

func (ca *CA) issue(tb testing.TB, leaf netsec.Leaf) Pair {
	tb.Helper()
	name := leaf.CommonName
	if ip := net.ParseIP(name); ip != nil {
		leaf.IPs = []net.IP{ip}
	} else {
		leaf.DNSNames = []string{name}
	}
	p, err := ca.ca.IssueTLCP(leaf)
	if err != nil {
		tb.Fatal(err)
	}
	return Pair{Sign: p.Sign, Enc: p.Enc}
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

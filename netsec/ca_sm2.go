package netsec

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"sgw/tlcp"
)

// SM2CA is an in-memory SM2 certificate authority for TLCP in the demo,
// the simulator and tests: it issues signature and encryption
// certificate pairs valid a day either side of their issue. Never for
// production. Safe for concurrent use (its state is read-only after
// NewSM2CA).
type SM2CA struct {
	cert *smx509.Certificate
	key  *sm2.PrivateKey
	pem  []byte
}

// NewSM2CA creates an SM2 CA named name.
func NewSM2CA(name string) (*SM2CA, error) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("netsec: SM2 CA key: %w", err)
	}
	now := time.Now()
	sn, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &smx509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Country: []string{"CN"}},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              smx509.KeyUsageCertSign | smx509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("netsec: SM2 CA certificate: %w", err)
	}
	cert, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("netsec: SM2 CA certificate: %w", err)
	}
	return &SM2CA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}, nil
}

// randomSerial is a random positive 128-bit serial number: strict
// verifiers (GmSSL) refuse serials shorter than 4 bytes.
func randomSerial() (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("netsec: serial number: %w", err)
	}
	b[0] = b[0]&0x7f | 0x40
	return new(big.Int).SetBytes(b), nil
}

// CertPEM returns the CA's certificate in PEM, for the trust stores of
// TLCP clients (ca_pem, ca_file).
func (ca *SM2CA) CertPEM() []byte { return append([]byte(nil), ca.pem...) }

// Pool returns a new pool holding the CA.
func (ca *SM2CA) Pool() *smx509.CertPool {
	p := smx509.NewCertPool()
	p.AddCert(ca.cert)
	return p
}

// IssuedTLCP is an issued TLCP pair: the signature and the encryption
// certificates with their keys, parsed and in PEM. Read-only once
// issued: share it freely.
type IssuedTLCP struct {
	Sign, Enc *tlcp.Certificate
	// SignCertPEM, SignKeyPEM, EncCertPEM and EncKeyPEM are the pair as
	// sign_cert_file, sign_key_file, enc_cert_file and enc_key_file hold
	// it (keys in PKCS#8).
	SignCertPEM, SignKeyPEM, EncCertPEM, EncKeyPEM []byte
}

// IssueTLCP issues a pair for l (its names in both certificates, which
// serve both server and client authentication, or, with l.Client,
// client authentication only),
// each with a fresh SM2 key: the signature certificate for digital
// signatures, the encryption certificate for key encipherment and key
// agreement.
func (ca *SM2CA) IssueTLCP(l Leaf) (IssuedTLCP, error) {
	var out IssuedTLCP
	var err error
	if out.Sign, out.SignCertPEM, out.SignKeyPEM, err = ca.issue(l, smx509.KeyUsageDigitalSignature); err != nil {
		return IssuedTLCP{}, err
	}
	usage := smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment | smx509.KeyUsageKeyAgreement
	if out.Enc, out.EncCertPEM, out.EncKeyPEM, err = ca.issue(l, usage); err != nil {
		return IssuedTLCP{}, err
	}
	return out, nil
}

func (ca *SM2CA) issue(l Leaf, usage smx509.KeyUsage) (*tlcp.Certificate, []byte, []byte, error) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("netsec: SM2 key: %w", err)
	}
	sn, err := randomSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	now := time.Now()
	eku := []smx509.ExtKeyUsage{smx509.ExtKeyUsageServerAuth, smx509.ExtKeyUsageClientAuth}
	if l.Client {
		eku = []smx509.ExtKeyUsage{smx509.ExtKeyUsageClientAuth}
	}
	tmpl := &smx509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: l.CommonName, Country: []string{"CN"}},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     usage,
		ExtKeyUsage:  eku,
		DNSNames:     l.DNSNames,
		IPAddresses:  l.IPs,
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("netsec: SM2 certificate: %w", err)
	}
	leaf, err := smx509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("netsec: SM2 certificate: %w", err)
	}
	keyDER, err := smx509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("netsec: marshal SM2 key: %w", err)
	}
	return &tlcp.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

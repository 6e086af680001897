package sim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// tlsConfig builds the server TLS configuration of a listener. A
// self-signed certificate is generated once per Sim and shared by both
// listeners: selfSigned carries it between calls.
func (s *Sim) tlsConfig(c TLSConfig, selfSigned *tls.Certificate) (*tls.Config, *tls.Certificate, error) {
	var cert tls.Certificate
	switch {
	case c.SelfSigned:
		if selfSigned == nil {
			leaf, caPEM, err := selfSignedCert()
			if err != nil {
				return nil, nil, fmt.Errorf("sim: self-signed certificate: %w", err)
			}
			selfSigned, s.ca = &leaf, caPEM
		}
		cert = *selfSigned
	default:
		var err error
		if cert, err = tls.LoadX509KeyPair(c.CertFile, c.KeyFile); err != nil {
			return nil, selfSigned, fmt.Errorf("%w: tls: %w", ErrConfig, err)
		}
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, selfSigned, nil
}

// selfSignedCert creates an in-memory ECDSA P-256 CA and a server
// certificate it signs for 127.0.0.1, ::1 and localhost, valid for a day
// either side of now. It returns the server key pair (chain included) and
// the CA certificate in PEM.
func selfSignedCert() (tls.Certificate, []byte, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "sgw simulator CA"},
		NotBefore:             now.Add(-24 * time.Hour),
		NotAfter:              now.Add(48 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-24 * time.Hour),
		NotAfter:     now.Add(48 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	leaf := tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key}
	return leaf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), nil
}

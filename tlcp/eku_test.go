package tlcp_test

import (
	"crypto/rand"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"

	"sgw/tlcp"
)

// ekuCert is a certificate made for TestServerExtKeyUsage, with its key.
type ekuCert struct {
	der  []byte
	cert *smx509.Certificate
	key  *sm2.PrivateKey
}

// newEKUCert issues a certificate of name with eku, by parent (nil:
// self-signed), a CA if ca.
func newEKUCert(t *testing.T, name string, parent *ekuCert, ca bool, usage smx509.KeyUsage, eku []smx509.ExtKeyUsage) *ekuCert {
	t.Helper()
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &smx509.Certificate{
		SerialNumber:          big.NewInt(now.UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		KeyUsage:              usage,
		ExtKeyUsage:           eku,
		BasicConstraintsValid: true,
		IsCA:                  ca,
	}
	if !ca {
		tmpl.DNSNames = []string{name}
	}
	issuer, signer := tmpl, key
	if parent != nil {
		issuer, signer = parent.cert, parent.key
	}
	der, err := smx509.CreateCertificate(rand.Reader, tmpl, issuer, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := smx509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &ekuCert{der: der, cert: c, key: key}
}

// TestServerExtKeyUsage: the client asks the server's signature
// certificate for server authentication as crypto/x509 does: no extended
// key usage, or anyExtendedKeyUsage, or serverAuth passes, through an
// intermediate with none (as most Chinese CAs' are); an intermediate
// limited to clientAuth does not pass, nor a leaf; the encryption
// certificate's extended key usage is not asked for.
func TestServerExtKeyUsage(t *testing.T) {
	const host = "tlcp.test"
	caUsage := smx509.KeyUsageCertSign | smx509.KeyUsageCRLSign
	signUsage := smx509.KeyUsageDigitalSignature
	encUsage := smx509.KeyUsageKeyEncipherment | smx509.KeyUsageDataEncipherment | smx509.KeyUsageKeyAgreement
	root := newEKUCert(t, "root", nil, true, caUsage, nil)
	inter := newEKUCert(t, "intermediate", root, true, caUsage, nil)
	clientInter := newEKUCert(t, "client intermediate", root, true, caUsage, []smx509.ExtKeyUsage{smx509.ExtKeyUsageClientAuth})
	pool := smx509.NewCertPool()
	pool.AddCert(root.cert)
	none := []smx509.ExtKeyUsage(nil)
	server := []smx509.ExtKeyUsage{smx509.ExtKeyUsageServerAuth}
	client := []smx509.ExtKeyUsage{smx509.ExtKeyUsageClientAuth}
	anyEKU := []smx509.ExtKeyUsage{smx509.ExtKeyUsageAny}
	for _, tc := range []struct {
		name    string
		issuer  *ekuCert
		signEKU []smx509.ExtKeyUsage
		encEKU  []smx509.ExtKeyUsage
		refused bool
	}{
		{name: "no EKU, by the root", issuer: root, signEKU: none, encEKU: none},
		{name: "anyExtendedKeyUsage", issuer: root, signEKU: anyEKU, encEKU: none},
		{name: "serverAuth and clientAuth", issuer: root, signEKU: []smx509.ExtKeyUsage{smx509.ExtKeyUsageClientAuth, smx509.ExtKeyUsageServerAuth}, encEKU: none},
		{name: "no EKU, through an intermediate with none", issuer: inter, signEKU: none, encEKU: none},
		{name: "serverAuth, through an intermediate with none", issuer: inter, signEKU: server, encEKU: server},
		{name: "encryption certificate for client authentication", issuer: inter, signEKU: server, encEKU: client},
		{name: "clientAuth only", issuer: inter, signEKU: client, encEKU: none, refused: true},
		{name: "through an intermediate for client authentication", issuer: clientInter, signEKU: server, encEKU: none, refused: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sign := newEKUCert(t, host, tc.issuer, false, signUsage, tc.signEKU)
			enc := newEKUCert(t, host, tc.issuer, false, encUsage, tc.encEKU)
			chain := [][]byte{}
			if tc.issuer != root {
				chain = append(chain, tc.issuer.der)
			}
			addr, _ := serveEcho(t, &tlcp.Config{
				SignCertificate: &tlcp.Certificate{Certificate: append([][]byte{sign.der}, chain...), PrivateKey: sign.key, Leaf: sign.cert},
				EncCertificate:  &tlcp.Certificate{Certificate: append([][]byte{enc.der}, chain...), PrivateKey: enc.key, Leaf: enc.cert},
			})
			c, err := dial(t, addr, &tlcp.Config{RootCAs: pool, ServerName: host})
			switch {
			case tc.refused && err == nil:
				t.Fatal("connected")
			case tc.refused && alertOf(err) != int(tlcp.AlertBadCertificate):
				t.Fatalf("error %v; want bad_certificate", err)
			case !tc.refused && err != nil:
				t.Fatalf("refused: %v", err)
			case !tc.refused:
				echo(t, c, 100)
			}
		})
	}
}

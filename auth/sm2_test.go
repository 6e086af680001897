package auth

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
)

// loadSM2 reads the test SM2 key pair with gmsm directly.
func loadSM2(t *testing.T) (*sm2.PrivateKey, *ecdsa.PublicKey) {
	t.Helper()
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			t.Fatalf("%s: no PEM", path)
		}
		return blk.Bytes
	}
	priv, err := smx509.ParsePKCS8PrivateKey(read(keySM2.PrivateKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := smx509.ParsePKIXPublicKey(read(keySM2.PublicKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	return priv.(*sm2.PrivateKey), pub.(*ecdsa.PublicKey)
}

// TestSM2Interop checks the SM2SM3 tokens against gmsm's own API, used
// without the package's signing method: a signature gmsm makes over
// base64url(header) "." base64url(payload), with the default UID, verifies
// as a token; and a token's signature verifies with gmsm over the same
// input. (TestGoldenTokens checks the same against OpenSSL.)
func TestSM2Interop(t *testing.T) {
	priv, pub := loadSM2(t)
	v := newTestVerifier(t, keySM2)

	t.Run("gmsm signs, Verify accepts", func(t *testing.T) {
		in := b64([]byte(header(AlgSM2SM3, "sm2"))) + "." + b64([]byte(payloadJSON(nil)))
		der, err := priv.Sign(rand.Reader, []byte(in), sm2.DefaultSM2SignerOpts) // UID 1234567812345678
		if err != nil {
			t.Fatal(err)
		}
		var rs struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &rs); err != nil {
			t.Fatal(err)
		}
		raw := make([]byte, 64)
		rs.R.FillBytes(raw[:32])
		rs.S.FillBytes(raw[32:])
		c, err := v.Verify(in+"."+b64(raw), testNow)
		if err != nil || c.Subject != "u1" {
			t.Fatalf("Verify = %+v, %v", c, err)
		}
		// The DER signature itself is not a token's signature.
		if _, err := v.Verify(in+"."+b64(der), testNow); !errors.Is(err, ErrSignature) {
			t.Fatalf("a DER signature: %v, want ErrSignature", err)
		}
	})

	t.Run("Sign signs, gmsm accepts", func(t *testing.T) {
		tok := sign(t, keySM2, testClaims())
		in := tok[:strings.LastIndexByte(tok, '.')]
		raw := decodePart(t, tok, 2)
		if len(raw) != 64 {
			t.Fatalf("signature is %d bytes, want r || s, 64", len(raw))
		}
		der, err := asn1.Marshal(struct{ R, S *big.Int }{new(big.Int).SetBytes(raw[:32]), new(big.Int).SetBytes(raw[32:])})
		if err != nil {
			t.Fatal(err)
		}
		if !sm2.VerifyASN1WithSM2(pub, nil, []byte(in), der) { // nil: the default UID
			t.Fatal("gmsm does not verify the token's signature over its signing input")
		}
		if sm2.VerifyASN1WithSM2(pub, []byte("another-uid"), []byte(in), der) {
			t.Fatal("the signature verifies with another UID: the UID is not in it")
		}
	})

	t.Run("signing method refuses other keys", func(t *testing.T) {
		m := signingMethodSM2SM3{}
		es, err := keyES.load()
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Verify("x", make([]byte, 64), es.verify); err == nil {
			t.Fatal("verified with a P-256 key")
		}
		if _, err := m.Sign("x", es.sign); err == nil {
			t.Fatal("signed with a P-256 key")
		}
		if err := m.Verify("x", make([]byte, 64), pub); err == nil {
			t.Fatal("verified r = s = 0")
		}
	})
}

package auth

import (
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"math/big"
	"sync"

	"github.com/emmansun/gmsm/sm2"
	"github.com/golang-jwt/jwt/v5"
)

// sm2UID is the signer identity hashed into Z_A (GB/T 32918.2): the
// default of GM/T 0009, which every SM2 library uses when given none.
var sm2UID = []byte("1234567812345678")

// sm2SigSize is the length of a signature in a token: r and s, each 32
// bytes big-endian, as JWS lays out ECDSA signatures (RFC 7518 3.4).
const sm2SigSize = 64

var errSM2Verification = errors.New("sm2: verification error")

// signingMethodSM2SM3 is the jwt.SigningMethod of AlgSM2SM3: SM2 signatures
// (GB/T 32918.2) over SM3(Z_A || signing input), with the default UID. The
// key is an *ecdsa.PublicKey on the SM2 curve to verify and an
// *sm2.PrivateKey to sign.
type signingMethodSM2SM3 struct{}

var _ jwt.SigningMethod = signingMethodSM2SM3{}

// Alg returns AlgSM2SM3.
func (signingMethodSM2SM3) Alg() string { return AlgSM2SM3 }

// Verify checks sig, r || s, over signingString.
func (signingMethodSM2SM3) Verify(signingString string, sig []byte, key any) error {
	pub, ok := key.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return jwt.ErrInvalidKeyType
	}
	if len(sig) != sm2SigSize {
		return errSM2Verification
	}
	der, err := asn1.Marshal(ecdsaSignature{
		R: new(big.Int).SetBytes(sig[:sm2SigSize/2]),
		S: new(big.Int).SetBytes(sig[sm2SigSize/2:]),
	})
	if err != nil {
		return errSM2Verification
	}
	if !sm2.VerifyASN1WithSM2(pub, sm2UID, []byte(signingString), der) {
		return errSM2Verification
	}
	return nil
}

// Sign signs signingString and returns r || s.
func (signingMethodSM2SM3) Sign(signingString string, key any) ([]byte, error) {
	priv, ok := key.(*sm2.PrivateKey)
	if !ok {
		return nil, jwt.ErrInvalidKeyType
	}
	der, err := priv.Sign(rand.Reader, []byte(signingString), sm2.NewSM2SignerOption(true, sm2UID))
	if err != nil {
		return nil, err
	}
	var rs ecdsaSignature
	if rest, err := asn1.Unmarshal(der, &rs); err != nil || len(rest) != 0 {
		return nil, errors.New("sm2: signature is not ASN.1")
	}
	return rs.rawBytes()
}

// ecdsaSignature is the ASN.1 form of an (EC)DSA or SM2 signature.
type ecdsaSignature struct{ R, S *big.Int }

// rawBytes returns r || s, each 32 bytes.
func (s ecdsaSignature) rawBytes() ([]byte, error) {
	if s.R.Sign() <= 0 || s.S.Sign() <= 0 || s.R.BitLen() > 256 || s.S.BitLen() > 256 {
		return nil, errors.New("sm2: signature out of range")
	}
	out := make([]byte, sm2SigSize)
	s.R.FillBytes(out[:sm2SigSize/2])
	s.S.FillBytes(out[sm2SigSize/2:])
	return out, nil
}

// registerSM2 registers AlgSM2SM3 with golang-jwt, whose parser finds
// signing methods by alg in a registry of its own (process-wide, like the
// standard algorithms it registers itself). New and NewSigner call it, so
// that nothing happens at import time.
var registerSM2 = sync.OnceFunc(func() {
	jwt.RegisterSigningMethod(AlgSM2SM3, func() jwt.SigningMethod { return signingMethodSM2SM3{} })
})

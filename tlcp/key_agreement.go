package tlcp

import (
	"crypto/ecdsa"
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/emmansun/gmsm/ecdh"
	"github.com/emmansun/gmsm/sm2"
	"golang.org/x/crypto/cryptobyte"
)

// The two key exchanges of GB/T 38636-2020 6.4.5.4 (ServerKeyExchange)
// and 6.4.5.8 (ClientKeyExchange). Signatures are SM2 with the default
// user ID "1234567812345678" (GB/T 35276), ASN.1-encoded (GM/T 0009).

const preMasterLen = 48

// signSM2 signs msg (SM3 with Z of the default ID, then SM2).
func signSM2(rand io.Reader, key *sm2.PrivateKey, msg []byte) ([]byte, error) {
	sig, err := key.Sign(rand, msg, sm2.DefaultSM2SignerOpts)
	if err != nil {
		return nil, fmt.Errorf("tlcp: SM2 signature: %w", err)
	}
	return sig, nil
}

// verifySM2 checks an ASN.1 SM2 signature over msg by pub.
func verifySM2(pub any, msg, sig []byte) bool {
	p, ok := pub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(p) {
		return false
	}
	return sm2.VerifyASN1WithSM2(p, nil, msg, sig)
}

// eccSignedParams is what an ECC ServerKeyExchange signs: the randoms
// and the encryption certificate with its 3-byte length (6.4.5.4,
// ECC: client_random, server_random, opaque ASN.1Cert<1..2^24-1>).
func eccSignedParams(clientRandom, serverRandom, encCertDER []byte) []byte {
	b := make([]byte, 0, 64+3+len(encCertDER))
	b = append(b, clientRandom...)
	b = append(b, serverRandom...)
	n := len(encCertDER)
	b = append(b, byte(n>>16), byte(n>>8), byte(n))
	return append(b, encCertDER...)
}

// eccServerKeyExchange is the server's ECC ServerKeyExchange body:
// opaque signature<0..2^16-1>.
func eccServerKeyExchange(rand io.Reader, sign *sm2.PrivateKey, clientRandom, serverRandom, encCertDER []byte) ([]byte, error) {
	sig, err := signSM2(rand, sign, eccSignedParams(clientRandom, serverRandom, encCertDER))
	if err != nil {
		return nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	return b.BytesOrPanic(), nil
}

// eccVerifyServerKeyExchange checks the client side of it.
func eccVerifyServerKeyExchange(signPub any, body, clientRandom, serverRandom, encCertDER []byte) error {
	s := cryptobyte.String(body)
	var sig cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() || len(sig) == 0 {
		return fail(AlertDecodeError, "malformed ServerKeyExchange")
	}
	if !verifySM2(signPub, eccSignedParams(clientRandom, serverRandom, encCertDER), sig) {
		return fail(AlertDecryptError, "ServerKeyExchange: the SM2 signature does not verify with the signature certificate")
	}
	return nil
}

// eccClientKeyExchange makes the pre-master secret (client version, 46
// random bytes) and the ClientKeyExchange body: opaque
// ECCEncryptedPreMasterSecret<0..2^16-1>, SM2-encrypted to the server's
// encryption certificate, ASN.1 (GM/T 0009).
func eccClientKeyExchange(rand io.Reader, encPub any) (preMaster, body []byte, err error) {
	pub, ok := encPub.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, nil, fail(AlertUnsupportedCertificate, "the encryption certificate has no SM2 key")
	}
	preMaster = make([]byte, preMasterLen)
	preMaster[0], preMaster[1] = byte(VersionTLCP>>8), byte(VersionTLCP&0xff)
	if _, err := io.ReadFull(rand, preMaster[2:]); err != nil {
		return nil, nil, fmt.Errorf("tlcp: pre-master secret: %w", err)
	}
	ct, err := sm2.EncryptASN1(rand, pub, preMaster)
	if err != nil {
		return nil, nil, fmt.Errorf("tlcp: SM2 encryption: %w", err)
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ct) })
	return preMaster, b.BytesOrPanic(), nil
}

// eccDecryptPreMaster is the server side. A ciphertext that does not
// decrypt to 48 bytes with the right version gives a random pre-master
// secret, as crypto/tls does for RSA, so that the failure shows only at
// Finished and the server is no decryption oracle.
func eccDecryptPreMaster(rand io.Reader, enc *sm2.PrivateKey, body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	var ct cryptobyte.String
	if !s.ReadUint16LengthPrefixed(&ct) || !s.Empty() || len(ct) == 0 || ct[0] != 0x30 {
		return nil, fail(AlertDecodeError, "malformed ClientKeyExchange (want an ASN.1 SM2 ciphertext)")
	}
	random := make([]byte, preMasterLen)
	if _, err := io.ReadFull(rand, random); err != nil {
		return nil, fmt.Errorf("tlcp: %w", err)
	}
	pm, err := enc.Decrypt(nil, ct, nil)
	ok := 0
	if err == nil && len(pm) == preMasterLen {
		ok = subtle.ConstantTimeByteEq(pm[0], byte(VersionTLCP>>8)) & subtle.ConstantTimeByteEq(pm[1], byte(VersionTLCP&0xff))
	} else {
		pm = make([]byte, preMasterLen)
	}
	subtle.ConstantTimeCopy(1-ok, pm, random)
	return pm, nil
}

// ecdheParams is ServerECDHParams/ClientECDHParams (6.4.5.4, 6.4.5.8):
// ECParameters (named_curve, sm2p256v1) and ECPoint<1..2^8-1>.
func ecdheParams(point []byte) []byte {
	b := []byte{3, byte(curveSM2 >> 8), byte(curveSM2 & 0xff), byte(len(point))}
	return append(b, point...)
}

// readECDHEParams reads the parameters from s and returns the point.
// GB/T 38636 says the curve of SM2 is implied, so its ID is not checked.
func readECDHEParams(s *cryptobyte.String) (*ecdh.PublicKey, bool) {
	var curveType uint8
	var curve uint16
	var point cryptobyte.String
	if !s.ReadUint8(&curveType) || curveType != 3 || !s.ReadUint16(&curve) || !s.ReadUint8LengthPrefixed(&point) {
		return nil, false
	}
	pub, err := ecdh.P256().NewPublicKey(point)
	return pub, err == nil
}

// ecdheServerKeyExchange makes the server's ephemeral key and the body:
// ServerECDHParams, then the signature over both randoms and the
// parameters.
func ecdheServerKeyExchange(rand io.Reader, sign *sm2.PrivateKey, clientRandom, serverRandom []byte) (*ecdh.PrivateKey, []byte, error) {
	eph, err := ecdh.P256().GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("tlcp: ephemeral key: %w", err)
	}
	params := ecdheParams(eph.PublicKey().Bytes())
	tbs := append(append(append([]byte(nil), clientRandom...), serverRandom...), params...)
	sig, err := signSM2(rand, sign, tbs)
	if err != nil {
		return nil, nil, err
	}
	var b cryptobyte.Builder
	b.AddBytes(params)
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	return eph, b.BytesOrPanic(), nil
}

// ecdheVerifyServerKeyExchange checks the signature and returns the
// server's ephemeral key.
func ecdheVerifyServerKeyExchange(signPub any, body, clientRandom, serverRandom []byte) (*ecdh.PublicKey, error) {
	s := cryptobyte.String(body)
	eph, ok := readECDHEParams(&s)
	params := body[:len(body)-len(s)]
	var sig cryptobyte.String
	if !ok || !s.ReadUint16LengthPrefixed(&sig) || !s.Empty() || len(sig) == 0 {
		return nil, fail(AlertDecodeError, "malformed ECDHE ServerKeyExchange")
	}
	tbs := append(append(append([]byte(nil), clientRandom...), serverRandom...), params...)
	if !verifySM2(signPub, tbs, sig) {
		return nil, fail(AlertDecryptError, "ServerKeyExchange: the SM2 signature does not verify with the signature certificate")
	}
	return eph, nil
}

// sm2KeyExchange runs the SM2 key exchange (GB/T 32918.3, without the
// optional confirmation) between our encryption key and ephemeral key
// and the peer's: the server initiates, the client responds. The shared
// key is the 48-byte pre-master secret.
func sm2KeyExchange(responder bool, ownEnc *sm2.PrivateKey, ownEph *ecdh.PrivateKey, peerEnc any, peerEph *ecdh.PublicKey) ([]byte, error) {
	pub, ok := peerEnc.(*ecdsa.PublicKey)
	if !ok || !sm2.IsSM2PublicKey(pub) {
		return nil, fail(AlertUnsupportedCertificate, "the peer's encryption certificate has no SM2 key")
	}
	peerStatic, err := sm2.PublicKeyToECDH(pub)
	if err != nil {
		return nil, fail(AlertBadCertificate, "peer encryption key: %v", err)
	}
	own, err := ownEnc.ECDH()
	if err != nil {
		return nil, fmt.Errorf("tlcp: encryption key: %w", err)
	}
	uv, err := own.SM2MQV(ownEph, peerStatic, peerEph)
	if err != nil {
		return nil, fail(AlertIllegalParameter, "SM2 key exchange: %v", err)
	}
	pm, err := uv.SM2SharedKey(responder, preMasterLen, own.PublicKey(), peerStatic, nil, nil)
	if err != nil {
		return nil, fail(AlertIllegalParameter, "SM2 key exchange: %v", err)
	}
	return pm, nil
}

// ecdheClientKeyExchange is the client side: its ephemeral key, the
// pre-master secret and the body, opaque ClientECDHParams<1..2^16-1>
// (6.4.5.8; GmSSL reads only this form).
func ecdheClientKeyExchange(rand io.Reader, ownEnc *sm2.PrivateKey, serverEnc any, serverEph *ecdh.PublicKey) (preMaster, body []byte, err error) {
	eph, err := ecdh.P256().GenerateKey(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("tlcp: ephemeral key: %w", err)
	}
	pm, err := sm2KeyExchange(true, ownEnc, eph, serverEnc, serverEph)
	if err != nil {
		return nil, nil, err
	}
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(ecdheParams(eph.PublicKey().Bytes())) })
	return pm, b.BytesOrPanic(), nil
}

// ecdhePreMaster is the server side. The client's parameters come in a
// 2-byte vector (6.4.5.8, GmSSL) or bare (gotlcp's default); both are
// accepted.
func ecdhePreMaster(ownEnc *sm2.PrivateKey, ownEph *ecdh.PrivateKey, clientEnc any, body []byte) ([]byte, error) {
	s := cryptobyte.String(body)
	if len(body) >= 2 && int(body[0])<<8|int(body[1]) == len(body)-2 {
		s = s[2:]
	}
	peerEph, ok := readECDHEParams(&s)
	if !ok || !s.Empty() {
		return nil, fail(AlertDecodeError, "malformed ECDHE ClientKeyExchange")
	}
	return sm2KeyExchange(false, ownEnc, ownEph, clientEnc, peerEph)
}

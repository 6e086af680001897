package auth

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/smx509"
	"github.com/golang-jwt/jwt/v5"

	"sgw/internal/secretfile"
)

// The algorithms a key may have (the JWS "alg" header of its tokens).
const (
	// AlgHS256 is HMAC-SHA256 with a shared secret of at least
	// MinSecretLen bytes.
	AlgHS256 = "HS256"
	// AlgEdDSA is Ed25519 (RFC 8037).
	AlgEdDSA = "EdDSA"
	// AlgES256 is ECDSA on P-256 with SHA-256 (RFC 7518).
	AlgES256 = "ES256"
	// AlgSM2SM3 is SM2 with SM3 (GB/T 32918.2, GB/T 32905), the signer's
	// UID the GM/T 0009 default "1234567812345678"; the signature is r || s,
	// 64 bytes, laid out as for ES256. No JOSE registry names SM2; this
	// name is the gateway's, and issuers must use it.
	AlgSM2SM3 = "SM2SM3"
)

// MinSecretLen is the shortest HS256 secret, in bytes.
const MinSecretLen = 32

// MaxKeyIDLen is the longest key id, in bytes of [A-Za-z0-9_.-].
const MaxKeyIDLen = 64

// maxKeyFileBytes bounds a key file read.
const maxKeyFileBytes = 64 << 10

// KeyConfig is one key: a secret (HS256) or a public key, and for issuing a
// private key. Tokens name it by ID in their "kid" header.
type KeyConfig struct {
	// ID is the key's kid: 1 to MaxKeyIDLen characters of [A-Za-z0-9_.-],
	// unique among the keys. Required.
	ID string `yaml:"id"`
	// Alg is HS256, EdDSA, ES256 or SM2SM3: the only alg accepted on
	// tokens of this kid. Required.
	Alg string `yaml:"alg"`
	// Secret is the HS256 key, at least MinSecretLen bytes. Ignored when
	// SecretFile is set; only for HS256.
	Secret string `yaml:"secret"`
	// SecretFile names a file holding the HS256 secret (one trailing
	// newline trimmed): a regular file that its group and others may not
	// access (mode 600 or 400), else New refuses it. Zero means use
	// Secret; only for HS256.
	SecretFile string `yaml:"secret_file"`
	// PublicKeyFile names a PEM file holding the public key ("PUBLIC KEY",
	// PKIX; or a "CERTIFICATE") that verifies the kid's tokens: a regular
	// file, of any mode. Zero means
	// the public half of PrivateKeyFile; one of the two is required for
	// EdDSA, ES256 and SM2SM3.
	PublicKeyFile string `yaml:"public_key_file"`
	// PrivateKeyFile names a PEM file holding the private key, for issuing
	// (the token command, tests, the demo): "PRIVATE KEY" (PKCS #8), or
	// SEC 1 "EC PRIVATE KEY" (ES256, SM2SM3) or "SM2 PRIVATE KEY" (SM2SM3,
	// as OpenSSL writes it); unencrypted; a regular file that its group
	// and others may not access (mode 600 or 400), else New refuses it,
	// as it refuses a SecretFile. Zero means this gateway cannot
	// sign with the key, which is how production runs: the login service
	// holds the private key.
	PrivateKeyFile string `yaml:"private_key_file"`
}

// check validates k without reading files.
func (k KeyConfig) check() error {
	if k.ID == "" || len(k.ID) > MaxKeyIDLen {
		return fmt.Errorf("key id %q is %d bytes, not 1..%d", k.ID, len(k.ID), MaxKeyIDLen)
	}
	for i := 0; i < len(k.ID); i++ {
		if b := k.ID[i]; !isURLByte(b) && b != '.' {
			return fmt.Errorf("key id %q has byte %#04x at %d, not [A-Za-z0-9_.-]", k.ID, b, i)
		}
	}
	switch k.Alg {
	case AlgHS256:
		if k.PublicKeyFile != "" || k.PrivateKeyFile != "" {
			return fmt.Errorf("key %s: HS256 takes secret or secret_file, not key files", k.ID)
		}
		if k.SecretFile == "" && len(k.Secret) < MinSecretLen {
			return fmt.Errorf("key %s: secret is %d bytes, need at least %d", k.ID, len(k.Secret), MinSecretLen)
		}
	case AlgEdDSA, AlgES256, AlgSM2SM3:
		if k.Secret != "" || k.SecretFile != "" {
			return fmt.Errorf("key %s: %s takes public_key_file or private_key_file, not a secret", k.ID, k.Alg)
		}
		if k.PublicKeyFile == "" && k.PrivateKeyFile == "" {
			return fmt.Errorf("key %s: %s needs public_key_file (or private_key_file)", k.ID, k.Alg)
		}
	case "":
		return fmt.Errorf("key %s: alg is required (HS256, EdDSA, ES256 or SM2SM3)", k.ID)
	default:
		return fmt.Errorf("key %s: alg %q: want HS256, EdDSA, ES256 or SM2SM3", k.ID, k.Alg)
	}
	return nil
}

// canSign reports whether k holds signing material.
func (k KeyConfig) canSign() bool {
	return k.Alg == AlgHS256 || k.PrivateKeyFile != ""
}

// key is a loaded key.
type key struct {
	id     string
	method jwt.SigningMethod
	verify any // []byte, ed25519.PublicKey or *ecdsa.PublicKey
	sign   any // []byte, ed25519.PrivateKey, *ecdsa.PrivateKey or *sm2.PrivateKey; nil: cannot sign
}

// load reads k's files and returns the key. Errors wrap ErrConfig and name
// the file, never its contents.
func (k KeyConfig) load() (*key, error) {
	if err := k.check(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	out := &key{id: k.ID}
	if k.Alg == AlgHS256 {
		secret := k.Secret
		if k.SecretFile != "" {
			b, err := readSecretFile(k.SecretFile)
			if err != nil {
				return nil, fmt.Errorf("%w: key %s: secret_file: %w", ErrConfig, k.ID, err)
			}
			secret = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			if len(secret) < MinSecretLen {
				return nil, fmt.Errorf("%w: key %s: secret_file %s is %d bytes, need at least %d",
					ErrConfig, k.ID, k.SecretFile, len(secret), MinSecretLen)
			}
		}
		out.method, out.verify, out.sign = jwt.SigningMethodHS256, []byte(secret), []byte(secret)
		return out, nil
	}
	switch k.Alg {
	case AlgEdDSA:
		out.method = jwt.SigningMethodEdDSA
	case AlgES256:
		out.method = jwt.SigningMethodES256
	case AlgSM2SM3:
		out.method = signingMethodSM2SM3{}
	}
	var pub crypto.PublicKey
	if k.PrivateKeyFile != "" {
		priv, err := loadPrivateKey(k.PrivateKeyFile, k.Alg)
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: private_key_file: %w", ErrConfig, k.ID, err)
		}
		out.sign, pub = priv, priv.Public()
	}
	if k.PublicKeyFile != "" {
		p, err := loadPublicKey(k.PublicKeyFile, k.Alg)
		if err != nil {
			return nil, fmt.Errorf("%w: key %s: public_key_file: %w", ErrConfig, k.ID, err)
		}
		if eq, ok := p.(interface{ Equal(crypto.PublicKey) bool }); pub != nil && (!ok || !eq.Equal(pub)) {
			return nil, fmt.Errorf("%w: key %s: public_key_file %s is not the public half of private_key_file %s",
				ErrConfig, k.ID, k.PublicKeyFile, k.PrivateKeyFile)
		}
		pub = p
	}
	out.verify = pub
	return out, nil
}

// readSecretFile reads an HS256 secret_file or a private_key_file,
// refused as secretfile refuses a file that is not a regular file or that
// its group or others may access: whoever reads the secret or the private
// key can mint any token, an operator's (adm) included.
func readSecretFile(path string) ([]byte, error) {
	return secretfile.Read(path, maxKeyFileBytes)
}

// pemBlock returns the first PEM block of the key file at path: a
// private key's, read as readSecretFile reads it, if secret; else a
// public key's or certificate's, refused only if it is not a regular
// file (a named pipe would hold the start).
func pemBlock(path string, secret bool) (*pem.Block, error) {
	read := secretfile.ReadPublic
	if secret {
		read = secretfile.Read
	}
	b, err := read(path, maxKeyFileBytes)
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	return blk, nil
}

// loadPublicKey reads a PEM public key or certificate and checks it suits
// alg.
func loadPublicKey(path, alg string) (crypto.PublicKey, error) {
	blk, err := pemBlock(path, false)
	if err != nil {
		return nil, err
	}
	var pub any
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = smx509.ParsePKIXPublicKey(blk.Bytes)
	case "CERTIFICATE":
		var cert *smx509.Certificate
		if cert, err = smx509.ParseCertificate(blk.Bytes); err == nil {
			pub = cert.PublicKey
		}
	default:
		return nil, fmt.Errorf("%s: PEM block %q, want PUBLIC KEY or CERTIFICATE", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := suits(pub, alg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return pub, nil
}

// loadPrivateKey reads a PEM private key and checks it suits alg.
func loadPrivateKey(path, alg string) (crypto.Signer, error) {
	blk, err := pemBlock(path, true)
	if err != nil {
		return nil, err
	}
	if x509Encrypted(blk) {
		return nil, fmt.Errorf("%s: encrypted PEM keys are not supported", path)
	}
	var priv any
	switch blk.Type {
	case "PRIVATE KEY":
		priv, err = smx509.ParsePKCS8PrivateKey(blk.Bytes)
	case "EC PRIVATE KEY", "SM2 PRIVATE KEY": // SEC 1; OpenSSL names an SM2 one so
		priv, err = smx509.ParseTypedECPrivateKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("%s: PEM block %q, want PRIVATE KEY, EC PRIVATE KEY or SM2 PRIVATE KEY", path, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: not a private key", path) // the parser's error may quote the key
	}
	if ec, ok := priv.(*ecdsa.PrivateKey); ok && alg == AlgSM2SM3 {
		if priv, err = new(sm2.PrivateKey).FromECPrivateKey(ec); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	s, ok := priv.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: %T cannot sign", path, priv)
	}
	if err := suits(s.Public(), alg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, isSM2 := priv.(*sm2.PrivateKey); isSM2 != (alg == AlgSM2SM3) {
		return nil, fmt.Errorf("%s: not a private key for %s", path, alg)
	}
	return s, nil
}

// x509Encrypted reports a legacy encrypted PEM block.
func x509Encrypted(blk *pem.Block) bool {
	_, ok := blk.Headers["DEK-Info"]
	return ok || blk.Type == "ENCRYPTED PRIVATE KEY"
}

// suits checks that pub is a key for alg: Ed25519 for EdDSA, P-256 for
// ES256, the SM2 curve for SM2SM3.
func suits(pub any, alg string) error {
	switch alg {
	case AlgEdDSA:
		if _, ok := pub.(ed25519.PublicKey); ok {
			return nil
		}
	case AlgES256:
		if p, ok := pub.(*ecdsa.PublicKey); ok && p.Curve == elliptic.P256() {
			return nil
		}
	case AlgSM2SM3:
		if sm2.IsSM2PublicKey(pub) {
			return nil
		}
	}
	return fmt.Errorf("%s key, not a key for %s", keyKind(pub), alg)
}

// keyKind names a public key's type for errors.
func keyKind(pub any) string {
	switch p := pub.(type) {
	case ed25519.PublicKey:
		return "an Ed25519"
	case *ecdsa.PublicKey:
		if sm2.IsSM2PublicKey(p) {
			return "an SM2"
		}
		return "an ECDSA " + p.Curve.Params().Name
	}
	return fmt.Sprintf("a %T", pub)
}

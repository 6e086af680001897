package tlcp

import (
	"fmt"
	"io"

	"github.com/emmansun/gmsm/sm2"
	"github.com/emmansun/gmsm/sm3"
)

// CertificateVerifyForm is what a client's CertificateVerify signs
// (GB/T 38636-2020 6.4.5.9). Implementations disagree: the standard
// names the signed value sm3_hash, SM3(handshake_messages), and tjfoc's
// gmtls and gotlcp sign that; GmSSL 3 signs handshake_messages
// themselves (its SM2 signature then hashes them, with Z, as every SM2
// signature does). A value is immutable.
type CertificateVerifyForm uint8

const (
	// CertificateVerifyHash signs SM3(handshake_messages): the
	// standard's sm3_hash, and the default.
	CertificateVerifyHash CertificateVerifyForm = iota + 1
	// CertificateVerifyRaw signs handshake_messages themselves, as
	// GmSSL 3 does and requires of its clients.
	CertificateVerifyRaw
)

// String names the form: "hash" or "raw".
func (f CertificateVerifyForm) String() string {
	switch f {
	case CertificateVerifyHash:
		return "hash"
	case CertificateVerifyRaw:
		return "raw"
	}
	return fmt.Sprintf("CertificateVerifyForm(%d)", uint8(f))
}

// signed returns what form signs of transcript, the handshake messages
// before the CertificateVerify.
func (f CertificateVerifyForm) signed(transcript []byte) []byte {
	if f == CertificateVerifyRaw {
		return transcript
	}
	sum := sm3.Sum(transcript)
	return sum[:]
}

// signCertificateVerify is a client's CertificateVerify signature
// (6.4.5.9) over transcript in form (zero: CertificateVerifyHash).
func signCertificateVerify(rand io.Reader, key *sm2.PrivateKey, form CertificateVerifyForm, transcript []byte) ([]byte, error) {
	if form == 0 {
		form = CertificateVerifyHash
	}
	return signSM2(rand, key, form.signed(transcript))
}

// verifyCertificateVerify checks a client's CertificateVerify signature
// (6.4.5.9) over transcript by pub in either form, the standard's
// first, and returns the form that verified; zero if neither did.
func verifyCertificateVerify(pub any, transcript, sig []byte) CertificateVerifyForm {
	for _, f := range []CertificateVerifyForm{CertificateVerifyHash, CertificateVerifyRaw} {
		if verifySM2(pub, f.signed(transcript), sig) {
			return f
		}
	}
	return 0
}

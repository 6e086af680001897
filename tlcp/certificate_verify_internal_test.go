package tlcp

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/emmansun/gmsm/sm2"
)

// TestCertificateVerifySignatures: each form signs a different value of
// the same transcript (GB/T 38636-2020 6.4.5.9), so a signature
// verifies as its own form only; a signature by another key, or over
// another transcript, verifies as neither.
func TestCertificateVerifySignatures(t *testing.T) {
	key, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := sm2.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	transcript := bytes.Repeat([]byte("client hello, server hello, certificates, key exchange"), 20)
	for _, tc := range []struct {
		name string
		form CertificateVerifyForm
		want CertificateVerifyForm
	}{
		{name: "zero is hash", form: 0, want: CertificateVerifyHash},
		{name: "hash", form: CertificateVerifyHash, want: CertificateVerifyHash},
		{name: "raw", form: CertificateVerifyRaw, want: CertificateVerifyRaw},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := signCertificateVerify(rand.Reader, key, tc.form, transcript)
			if err != nil {
				t.Fatal(err)
			}
			if got := verifyCertificateVerify(&key.PublicKey, transcript, sig); got != tc.want {
				t.Fatalf("verified as %s, want %s", got, tc.want)
			}
			// The other form's value does not verify: the forms differ.
			otherForm := CertificateVerifyRaw
			if tc.want == CertificateVerifyRaw {
				otherForm = CertificateVerifyHash
			}
			if verifySM2(&key.PublicKey, otherForm.signed(transcript), sig) {
				t.Fatalf("a %s signature verifies as %s", tc.want, otherForm)
			}
			if got := verifyCertificateVerify(&other.PublicKey, transcript, sig); got != 0 {
				t.Fatalf("another key's signature verified as %s", got)
			}
			if got := verifyCertificateVerify(&key.PublicKey, transcript[1:], sig); got != 0 {
				t.Fatalf("a signature over another transcript verified as %s", got)
			}
		})
	}
}

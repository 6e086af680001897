package auth

import (
	"testing"
)

// BenchmarkVerify measures verifying a typical token of each algorithm:
// parsing, the signature, the claims.
func BenchmarkVerify(b *testing.B) {
	v := newTestVerifier(b)
	c := testClaims()
	c.Accounts = []string{"ACC-001", "ACC-002", "ACC-003"}
	for _, k := range allKeys {
		b.Run(k.Alg, func(b *testing.B) {
			tok := sign(b, k, c)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSign measures minting a token of each algorithm.
func BenchmarkSign(b *testing.B) {
	c := testClaims()
	for _, k := range allKeys {
		b.Run(k.Alg, func(b *testing.B) {
			s := newTestSigner(b, k)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(c, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkCheckNames measures the scan of a typical token's header and
// payload for a name given twice, a part of Verify.
func BenchmarkCheckNames(b *testing.B) {
	c := testClaims()
	c.Accounts = []string{"ACC-001", "ACC-002", "ACC-003"}
	tok := sign(b, keyEdA, c)
	b.ReportAllocs()
	for b.Loop() {
		if err := checkNames(tok); err != nil {
			b.Fatal(err)
		}
	}
}

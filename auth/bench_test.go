package auth

import (
	"testing"
	"time"
)

// BenchmarkVerify measures verifying a typical token: MAC, JSON and claims.
func BenchmarkVerify(b *testing.B) {
	v := newTestVerifier(b, testSecret)
	tok, err := v.IssueFor("trader-0042", []string{"ACC-001", "ACC-002", "ACC-003"}, time.Hour, testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

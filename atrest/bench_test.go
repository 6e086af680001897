package atrest

import (
	"crypto/aes"
	"crypto/cipher"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

// plainBlock hides a block's optimised GCM (crypto/cipher's gcmAble), so
// cipher.NewGCM falls back to the standard library's generic GCM.
type plainBlock struct{ cipher.Block }

// BenchmarkGCM seals a 200-byte record (a typical JSON order event) with
// SM4-GCM as this package does (gmsm's assembly GCM through
// cipher.NewGCM), with the standard library's generic GCM over gmsm's SM4
// block, and with AES-128-GCM for scale.
func BenchmarkGCM(b *testing.B) {
	key := make([]byte, 16)
	aad := make([]byte, 21)
	for _, bc := range []struct {
		name string
		aead func() cipher.AEAD
	}{
		{name: "sm4-gmsm", aead: func() cipher.AEAD { c, _ := sm4.NewCipher(key); g, _ := cipher.NewGCM(c); return g }},
		{name: "sm4-stdgcm", aead: func() cipher.AEAD { c, _ := sm4.NewCipher(key); g, _ := cipher.NewGCM(plainBlock{c}); return g }},
		{name: "aes128", aead: func() cipher.AEAD { c, _ := aes.NewCipher(key); g, _ := cipher.NewGCM(c); return g }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			g := bc.aead()
			buf := make([]byte, 200, 200+Overhead)
			nonce := make([]byte, NonceSize)
			b.SetBytes(200)
			b.ReportAllocs()
			for b.Loop() {
				g.Seal(buf[:0], nonce, buf[:200], aad)
			}
		})
	}
}

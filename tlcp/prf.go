package tlcp

import (
	"crypto/hmac"
	"hash"

	"github.com/emmansun/gmsm/sm3"
)

// Labels of the PRF (GB/T 38636-2020 6.5.2 and 6.4.5.10).
const (
	labelMasterSecret   = "master secret"
	labelKeyExpansion   = "key expansion"
	labelClientFinished = "client finished"
	labelServerFinished = "server finished"
)

const (
	masterSecretLen = 48
	finishedLen     = 12
)

// prf is PRF(secret, label, seed) of GB/T 38636-2020 6.5.1: the TLS 1.2
// P_hash (RFC 5246 section 5) with HMAC-SM3, filling out.
func prf(out, secret []byte, label string, seed []byte) {
	h := hmac.New(sm3.New, secret)
	labelSeed := make([]byte, 0, len(label)+len(seed))
	labelSeed = append(append(labelSeed, label...), seed...)
	pHash(out, h, labelSeed)
}

// pHash fills out with P_hash(secret, seed), h keyed with the secret:
// A(0) = seed, A(i) = HMAC(A(i-1)), output HMAC(A(i) + seed)...
func pHash(out []byte, h hash.Hash, seed []byte) {
	h.Write(seed)
	a := h.Sum(nil)
	for len(out) > 0 {
		h.Reset()
		h.Write(a)
		h.Write(seed)
		b := h.Sum(nil)
		out = out[copy(out, b):]
		h.Reset()
		h.Write(a)
		a = h.Sum(a[:0])
	}
}

// masterSecret derives the master secret from the pre-master secret
// (6.5.2).
func masterSecret(preMaster, clientRandom, serverRandom []byte) []byte {
	seed := make([]byte, 0, 64)
	seed = append(append(seed, clientRandom...), serverRandom...)
	ms := make([]byte, masterSecretLen)
	prf(ms, preMaster, labelMasterSecret, seed)
	return ms
}

// keyBlock derives the working keys (6.5.3): client and server MAC
// keys, then encryption keys, then IVs.
func keyBlock(master, clientRandom, serverRandom []byte, s *cipherSuite) (cMAC, sMAC, cKey, sKey, cIV, sIV []byte) {
	seed := make([]byte, 0, 64)
	seed = append(append(seed, serverRandom...), clientRandom...)
	kb := make([]byte, 2*(s.macLen+s.keyLen+s.ivLen))
	prf(kb, master, labelKeyExpansion, seed)
	take := func(n int) []byte { b := kb[:n:n]; kb = kb[n:]; return b }
	cMAC, sMAC = take(s.macLen), take(s.macLen)
	cKey, sKey = take(s.keyLen), take(s.keyLen)
	cIV, sIV = take(s.ivLen), take(s.ivLen)
	return
}

// finishedData is verify_data of a Finished message (6.4.5.10):
// PRF(master_secret, label, SM3(handshake_messages)), 12 bytes.
func finishedData(master []byte, label string, transcript []byte) []byte {
	sum := sm3.Sum(transcript)
	out := make([]byte, finishedLen)
	prf(out, master, label, sum[:])
	return out
}

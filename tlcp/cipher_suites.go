package tlcp

import (
	"crypto/cipher"
	"crypto/hmac"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Cipher suites of GB/T 38636-2020 6.4.5.2.1 that this package
// implements.
const (
	ECC_SM4_CBC_SM3   uint16 = 0xE013
	ECC_SM4_GCM_SM3   uint16 = 0xE053
	ECDHE_SM4_CBC_SM3 uint16 = 0xE011
	ECDHE_SM4_GCM_SM3 uint16 = 0xE051
)

// defaultSuites is the order of a zero Config.CipherSuites.
var defaultSuites = []uint16{ECC_SM4_GCM_SM3, ECC_SM4_CBC_SM3, ECDHE_SM4_GCM_SM3, ECDHE_SM4_CBC_SM3}

// cipherSuite is one row of the table: key exchange, key lengths and the
// record protection.
type cipherSuite struct {
	id     uint16
	name   string
	ecdhe  bool // SM2 key exchange; else SM2 encryption of the pre-master secret
	aead   bool // SM4-GCM; else SM4-CBC with HMAC-SM3
	macLen int
	keyLen int
	ivLen  int // the IV of the key block: CBC's (unused, explicit IVs), GCM's implicit nonce
}

var cipherSuites = []*cipherSuite{
	{id: ECC_SM4_GCM_SM3, name: "ECC_SM4_GCM_SM3", aead: true, keyLen: 16, ivLen: 4},
	{id: ECC_SM4_CBC_SM3, name: "ECC_SM4_CBC_SM3", macLen: 32, keyLen: 16, ivLen: 16},
	{id: ECDHE_SM4_GCM_SM3, name: "ECDHE_SM4_GCM_SM3", ecdhe: true, aead: true, keyLen: 16, ivLen: 4},
	{id: ECDHE_SM4_CBC_SM3, name: "ECDHE_SM4_CBC_SM3", ecdhe: true, macLen: 32, keyLen: 16, ivLen: 16},
}

func suiteByID(id uint16) *cipherSuite {
	for _, s := range cipherSuites {
		if s.id == id {
			return s
		}
	}
	return nil
}

// CipherSuiteName returns the name of suite id, or its hex value.
func CipherSuiteName(id uint16) string {
	if s := suiteByID(id); s != nil {
		return s.name
	}
	return fmt.Sprintf("0x%04X", id)
}

// newRecordCipher returns the protection of one direction.
func (s *cipherSuite) newRecordCipher(macKey, key, iv []byte) (recordCipher, error) {
	block, err := sm4.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("tlcp: %w", err)
	}
	if s.aead {
		g, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("tlcp: %w", err)
		}
		c := &gcmCipher{aead: g}
		copy(c.implicit[:], iv)
		return c, nil
	}
	return &cbcCipher{block: block, mac: hmac.New(sm3.New, macKey)}, nil
}

// recordCipher protects the records of one direction once a
// ChangeCipherSpec has switched it on. The halfConn lock is held.
type recordCipher interface {
	// seal appends the protected fragment of a record to dst: hdr is the
	// 5-byte header with the plaintext length.
	seal(dst []byte, seq *[8]byte, hdr, plaintext []byte, rand io.Reader) ([]byte, error)
	// open returns the plaintext of fragment, in place. hdr is the
	// header as received.
	open(seq *[8]byte, hdr, fragment []byte) ([]byte, error)
}

var errBadRecordMAC = errors.New("tlcp: bad record MAC")

// gcmCipher is SM4-GCM record protection (GB/T 38636-2020 6.3.3.4.4,
// as RFC 5288): nonce = 4-byte implicit IV from the key block + 8-byte
// explicit part sent before the ciphertext (the sequence number), and
// additional data seq_num + type + version + plaintext length.
type gcmCipher struct {
	aead     cipher.AEAD
	implicit [4]byte
}

const gcmExplicitLen = 8

func (c *gcmCipher) seal(dst []byte, seq *[8]byte, hdr, plaintext []byte, _ io.Reader) ([]byte, error) {
	var nonce [12]byte
	copy(nonce[:4], c.implicit[:])
	copy(nonce[4:], seq[:])
	var ad [13]byte
	copy(ad[:8], seq[:])
	copy(ad[8:], hdr[:5])
	dst = append(dst, seq[:]...)
	return c.aead.Seal(dst, nonce[:], plaintext, ad[:]), nil
}

func (c *gcmCipher) open(seq *[8]byte, hdr, fragment []byte) ([]byte, error) {
	if len(fragment) < gcmExplicitLen+c.aead.Overhead() {
		return nil, errBadRecordMAC
	}
	var nonce [12]byte
	copy(nonce[:4], c.implicit[:])
	copy(nonce[4:], fragment[:gcmExplicitLen])
	ct := fragment[gcmExplicitLen:]
	var ad [13]byte
	copy(ad[:8], seq[:])
	copy(ad[8:], hdr[:3])
	binary.BigEndian.PutUint16(ad[11:], uint16(len(ct)-c.aead.Overhead()))
	pt, err := c.aead.Open(ct[:0], nonce[:], ct, ad[:])
	if err != nil {
		return nil, errBadRecordMAC
	}
	return pt, nil
}

// cbcCipher is SM4-CBC with HMAC-SM3 (GB/T 38636-2020 6.3.3.4.3, as
// TLS 1.1 block ciphers): MAC over seq_num + type + version + length +
// content, then padding, then CBC encryption under a random explicit IV
// sent before the ciphertext.
type cbcCipher struct {
	block cipher.Block
	mac   hash.Hash
}

// macOf appends the MAC of a record's content to dst. extra is hashed
// after the MAC is taken, changing nothing but the work done: open
// passes what follows the MAC (the padding), so that every record of a
// length hashes as many bytes whatever its padding (as crypto/tls does
// against Lucky Thirteen).
func (c *cbcCipher) macOf(dst []byte, seq *[8]byte, hdr, content, extra []byte) []byte {
	c.mac.Reset()
	c.mac.Write(seq[:])
	c.mac.Write(hdr[:3])
	c.mac.Write([]byte{byte(len(content) >> 8), byte(len(content))})
	c.mac.Write(content)
	out := c.mac.Sum(dst)
	c.mac.Write(extra)
	return out
}

func (c *cbcCipher) seal(dst []byte, seq *[8]byte, hdr, plaintext []byte, rand io.Reader) ([]byte, error) {
	bs := c.block.BlockSize()
	start := len(dst)
	iv := make([]byte, bs)
	if _, err := io.ReadFull(rand, iv); err != nil {
		return nil, fmt.Errorf("tlcp: record IV: %w", err)
	}
	dst = append(dst, iv...)
	body := len(dst)
	dst = append(dst, plaintext...)
	dst = c.macOf(dst, seq, hdr, plaintext, nil)
	pad := bs - (len(dst)-body)%bs // 1..bs bytes, each pad-1
	for range pad {
		dst = append(dst, byte(pad-1))
	}
	cipher.NewCBCEncrypter(c.block, dst[start:body]).CryptBlocks(dst[body:], dst[body:])
	return dst, nil
}

func (c *cbcCipher) open(seq *[8]byte, hdr, fragment []byte) ([]byte, error) {
	bs := c.block.BlockSize()
	macLen := c.mac.Size()
	if len(fragment)%bs != 0 || len(fragment) < bs+((macLen+1+bs-1)/bs)*bs {
		return nil, errBadRecordMAC
	}
	iv, body := fragment[:bs], fragment[bs:]
	cipher.NewCBCDecrypter(c.block, iv).CryptBlocks(body, body)

	// The padding and the MAC are checked without a branch on the
	// padding's value, so that both failures look alike (bad_record_mac),
	// and the MAC hashes as many bytes whatever the padding's length.
	padLen := int(body[len(body)-1])
	good := subtle.ConstantTimeLessOrEq(padLen+1+macLen, len(body))
	// Check the last 256 bytes (or all of body) for padding bytes.
	toCheck := min(256, len(body))
	for i := 1; i <= toCheck; i++ {
		inPad := subtle.ConstantTimeLessOrEq(i, padLen+1) // i-th byte from the end is padding
		same := subtle.ConstantTimeByteEq(body[len(body)-i], byte(padLen))
		good &= subtle.ConstantTimeSelect(inPad, same, 1)
	}
	// A bad padding is taken as none, so the MAC is still computed.
	n := subtle.ConstantTimeSelect(good, len(body)-padLen-1-macLen, len(body)-macLen)
	content, gotMAC := body[:n], body[n:n+macLen]
	var buf [32]byte
	want := c.macOf(buf[:0], seq, hdr, content, body[n+macLen:])
	if subtle.ConstantTimeCompare(want, gotMAC)&good != 1 {
		return nil, errBadRecordMAC
	}
	return content, nil
}

package tlcp

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"hash"
	"strings"
	"testing"

	"github.com/emmansun/gmsm/sm4"
)

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSM4GCMVector checks SM4-GCM against RFC 8998 appendix A.1, and that
// the record nonce is the 4-byte implicit IV then the 8-byte explicit
// part (GB/T 38636-2020 6.3.3.4.4, RFC 5288 section 3): the RFC's IV
// 00001234 567800000000ABCD split so.
func TestSM4GCMVector(t *testing.T) {
	key := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	iv := unhex(t, "00001234567800000000ABCD")
	aad := unhex(t, "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
	pt := unhex(t, "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDDEEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA")
	ct := unhex(t, "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D")
	tag := unhex(t, "83DE3541E4C2B58177E065A9BF7B62EC")

	suite := suiteByID(ECC_SM4_GCM_SM3)
	rc, err := suite.newRecordCipher(nil, key, iv[:4])
	if err != nil {
		t.Fatal(err)
	}
	g := rc.(*gcmCipher)
	if got := g.aead.Seal(nil, iv, pt, aad); !bytes.Equal(got, append(ct, tag...)) {
		t.Fatalf("SM4-GCM:\n got %x\nwant %x", got, append(ct, tag...))
	}

	// Through the record cipher: the sequence number is the explicit
	// nonce, the additional data seq + header.
	seq := [8]byte(iv[4:])
	hdr := []byte{byte(recordTypeApplicationData), 1, 1, 0, byte(len(pt))}
	rec, err := g.seal(nil, &seq, hdr, pt, nil)
	if err != nil {
		t.Fatal(err)
	}
	ad := append(append([]byte(nil), seq[:]...), hdr...)
	want := append(append([]byte(nil), iv[4:]...), g.aead.Seal(nil, iv, pt, ad)...)
	if !bytes.Equal(rec, want) {
		t.Fatalf("record:\n got %x\nwant %x", rec, want)
	}
	got, err := g.open(&seq, hdr, rec)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("open: %v", err)
	}
}

// TestCBCRecord checks the CBC record layout against a decryption
// written here from the spec (6.3.3.4.3): IV, then CBC of content + MAC
// + padding, each padding byte the padding length.
func TestCBCRecord(t *testing.T) {
	key := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	macKey := bytes.Repeat([]byte{7}, 32)
	suite := suiteByID(ECC_SM4_CBC_SM3)
	for _, n := range []int{0, 1, 15, 16, 31, 32, 100} {
		rc, err := suite.newRecordCipher(macKey, key, nil)
		if err != nil {
			t.Fatal(err)
		}
		var seq [8]byte
		seq[7] = 3
		pt := bytes.Repeat([]byte{'p'}, n)
		hdr := []byte{byte(recordTypeApplicationData), 1, 1, 0, byte(n)}
		rec, err := rc.seal(nil, &seq, hdr, pt, bytes.NewReader(bytes.Repeat([]byte{9}, 16)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(rec[:16], bytes.Repeat([]byte{9}, 16)) || len(rec)%16 != 0 {
			t.Fatalf("%d: IV or length", n)
		}
		block, _ := sm4.NewCipher(key)
		plain := make([]byte, len(rec)-16)
		cipher.NewCBCDecrypter(block, rec[:16]).CryptBlocks(plain, rec[16:])
		pad := int(plain[len(plain)-1])
		for _, b := range plain[len(plain)-pad-1:] {
			if int(b) != pad {
				t.Fatalf("%d: padding % x", n, plain)
			}
		}
		body := plain[:len(plain)-pad-1]
		if !bytes.Equal(body[:n], pt) || len(body) != n+32 {
			t.Fatalf("%d: content", n)
		}
		got, err := rc.open(&seq, hdr, append([]byte(nil), rec...))
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%d: open: %v", n, err)
		}
		// Any flipped byte fails as bad_record_mac.
		for i := range rec {
			bad := append([]byte(nil), rec...)
			bad[i] ^= 0x80
			if _, err := rc.open(&seq, hdr, bad); err != errBadRecordMAC {
				t.Fatalf("%d: byte %d flipped: %v", n, i, err)
			}
		}
	}
}

// countingHash counts the bytes written to a hash: the work a MAC check
// does, in blocks of the hash, is what a timing attacker measures.
type countingHash struct {
	hash.Hash
	n int
}

func (h *countingHash) Write(p []byte) (int, error) {
	h.n += len(p)
	return h.Hash.Write(p)
}

// TestCBCOpenHashesAlike: opening a CBC record hashes the same number of
// bytes whatever its padding, valid or not, so that the time the MAC
// takes tells nothing of the padding length (Lucky Thirteen: before, a
// record with 97 bytes of padding hashed 96 fewer bytes than one with 1,
// a padding oracle through timing).
func TestCBCOpenHashesAlike(t *testing.T) {
	key := unhex(t, "0123456789ABCDEFFEDCBA9876543210")
	macKey := bytes.Repeat([]byte{7}, 32)
	rc, err := suiteByID(ECC_SM4_CBC_SM3).newRecordCipher(macKey, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := rc.(*cbcCipher)
	var seq [8]byte
	seq[7] = 5
	const bodyLen = 160 // content + MAC + padding, 10 blocks
	// record encrypts content with a MAC and padLen+1 bytes of padding,
	// each padByte, to a record of bodyLen bytes after the IV.
	record := func(content []byte, padLen int, padByte byte) ([]byte, []byte) {
		hdr := []byte{byte(recordTypeApplicationData), 1, 1, 0, byte(len(content))}
		body := c.macOf(append([]byte(nil), content...), &seq, hdr, content, nil)
		for range padLen + 1 {
			body = append(body, padByte)
		}
		if len(body) != bodyLen {
			t.Fatalf("body of %d bytes", len(body))
		}
		iv := bytes.Repeat([]byte{9}, 16)
		rec := append(append([]byte(nil), iv...), body...)
		cipher.NewCBCEncrypter(c.block, iv).CryptBlocks(rec[16:], rec[16:])
		return hdr, rec
	}
	for _, tc := range []struct {
		name            string
		contentLen, pad int
		padByte         byte
		valid           bool
	}{
		{name: "no padding", contentLen: 127, pad: 0, padByte: 0, valid: true},
		{name: "one block", contentLen: 112, pad: 15, padByte: 15, valid: true},
		{name: "long padding", contentLen: 31, pad: 96, padByte: 96, valid: true},
		{name: "longest padding", contentLen: 0, pad: 127, padByte: 127, valid: true},
		{name: "bad padding", contentLen: 31, pad: 96, padByte: 95},
		{name: "padding past the record", contentLen: 127, pad: 0, padByte: 200},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hdr, rec := record(bytes.Repeat([]byte{'p'}, tc.contentLen), tc.pad, tc.padByte)
			h := &countingHash{Hash: c.mac}
			c.mac = h
			defer func() { c.mac = h.Hash }()
			got, err := c.open(&seq, hdr, rec)
			if tc.valid && (err != nil || len(got) != tc.contentLen) {
				t.Fatalf("open: %d bytes, %v", len(got), err)
			}
			if !tc.valid && err != errBadRecordMAC {
				t.Fatalf("open: %v, want bad_record_mac", err)
			}
			// seq, type and version, length, then the rest of the body
			// but the MAC: the same for every record of this length.
			if want := 8 + 3 + 2 + bodyLen - 32; h.n != want {
				t.Fatalf("%d bytes hashed, want %d whatever the padding", h.n, want)
			}
		})
	}
}

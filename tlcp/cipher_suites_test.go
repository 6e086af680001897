package tlcp

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
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

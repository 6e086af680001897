package atrest

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

// testRing returns a ring of k1 and k2 with current as the current key.
func testRing(t testing.TB, current string, ids ...string) *KeyRing {
	t.Helper()
	all := map[string]string{"k1": hexKey1, "k2": hexKey2}
	keys := map[string][]byte{}
	for _, id := range ids {
		k, _ := hex.DecodeString(all[id])
		keys[id] = k
	}
	r, err := NewKeyRing(keys, current)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestHeaderRoundTrip(t *testing.T) {
	ctx := []byte("SGWJRNL1\x00\x02created")
	r := testRing(t, "k2", "k1", "k2")
	h, s, err := r.NewHeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != HeaderSize {
		t.Fatalf("header is %d bytes, want %d", len(h), HeaderSize)
	}
	if id, err := HeaderKeyID(h); err != nil || id != "k2" {
		t.Fatalf("HeaderKeyID = %q, %v", id, err)
	}
	n71 := MakeNonce(7, 1)
	sealed := s.Seal(nil, &n71, []byte("order"), []byte("aad"))
	s2, err := r.OpenHeader(h, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s2.Open(nil, &n71, sealed, []byte("aad")); err != nil || string(p) != "order" {
		t.Fatalf("Open = %q, %v", p, err)
	}
	for _, tc := range []struct {
		name    string
		epoch   uint32
		counter uint64
		aad     string
		flip    int
	}{
		{name: "other counter", epoch: 7, counter: 2, aad: "aad", flip: -1},
		{name: "other epoch", epoch: 8, counter: 1, aad: "aad", flip: -1},
		{name: "other aad", epoch: 7, counter: 1, aad: "aae", flip: -1},
		{name: "flipped ciphertext", epoch: 7, counter: 1, aad: "aad", flip: 0},
		{name: "flipped tag", epoch: 7, counter: 1, aad: "aad", flip: len(sealed) - 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := bytes.Clone(sealed)
			if tc.flip >= 0 {
				c[tc.flip] ^= 0x20
			}
			n := MakeNonce(tc.epoch, tc.counter)
			if _, err := s2.Open(nil, &n, c, []byte(tc.aad)); !errors.Is(err, ErrTampered) {
				t.Fatalf("Open err = %v, want ErrTampered", err)
			}
		})
	}
	// Two headers never share a file key.
	h2, s3, _ := r.NewHeader(ctx)
	if bytes.Equal(h, h2) || bytes.Equal(s3.Seal(nil, &n71, []byte("order"), nil), s.Seal(nil, &n71, []byte("order"), nil)) {
		t.Fatal("two files got the same salt or key")
	}
}

// TestOpenHeaderErrors classifies every damaged or mismatched header.
func TestOpenHeaderErrors(t *testing.T) {
	ctx := []byte("context")
	both := testRing(t, "k1", "k1", "k2")
	h, _, err := both.NewHeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("key missing", func(t *testing.T) {
		_, err := testRing(t, "k2", "k2").OpenHeader(h, ctx)
		var ke *KeyError
		if !errors.As(err, &ke) || ke.ID != "k1" || !errors.Is(err, ErrKey) {
			t.Fatalf("err = %v, want a *KeyError naming k1", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		k, _ := hex.DecodeString(hexKey2)
		wrong, _ := NewKeyRing(map[string][]byte{"k1": k}, "k1")
		_, err := wrong.OpenHeader(h, ctx)
		if !errors.Is(err, ErrKey) || !strings.Contains(err.Error(), `"k1"`) {
			t.Fatalf("err = %v, want ErrKey naming k1", err)
		}
	})
	t.Run("other context", func(t *testing.T) {
		if _, err := both.OpenHeader(h, []byte("context2")); !errors.Is(err, ErrTampered) {
			t.Fatalf("err = %v, want ErrTampered", err)
		}
	})
	// Every single-byte change is refused: the key id field names another
	// or no key (ErrKey), or the header fails its tag (ErrTampered).
	for i := range h {
		c := bytes.Clone(h)
		c[i] ^= 0x01
		_, err := both.OpenHeader(c, ctx)
		if !errors.Is(err, ErrTampered) && !errors.Is(err, ErrKey) {
			t.Fatalf("byte %d changed: err = %v, want ErrTampered or ErrKey", i, err)
		}
		// Outside the key id and the check value, a change is tampering.
		if (i < 2 || i >= 2+MaxKeyIDLen) && (i < 2+MaxKeyIDLen+saltSize || i >= 2+MaxKeyIDLen+saltSize+kcvSize) && !errors.Is(err, ErrTampered) {
			t.Fatalf("byte %d changed: err = %v, want ErrTampered", i, err)
		}
	}
	if _, err := both.OpenHeader(h[:HeaderSize-1], ctx); !errors.Is(err, ErrTampered) {
		t.Fatalf("short header: err = %v, want ErrTampered", err)
	}
}

func TestBlob(t *testing.T) {
	r := testRing(t, "k1", "k1")
	b, err := r.SealBlob([]byte("reserve"), []byte("0000000000000004097 1 boot"))
	if err != nil {
		t.Fatal(err)
	}
	if p, err := r.OpenBlob([]byte("reserve"), b); err != nil || string(p) != "0000000000000004097 1 boot" {
		t.Fatalf("OpenBlob = %q, %v", p, err)
	}
	b[len(b)-20] ^= 1
	if _, err := r.OpenBlob([]byte("reserve"), b); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered blob: err = %v, want ErrTampered", err)
	}
	if _, err := testRing(t, "k2", "k2").OpenBlob([]byte("reserve"), b); !errors.Is(err, ErrKey) {
		t.Fatalf("blob under a missing key: err = %v, want ErrKey", err)
	}
}

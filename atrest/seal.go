package atrest

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"fmt"

	"github.com/emmansun/gmsm/sm3"
	"github.com/emmansun/gmsm/sm4"
)

// Sealed header layout (HeaderSize bytes), after the caller's own header:
//
//	u8 cipher (1 = SM4-GCM) | u8 key id length | key id, zero-padded to 32 |
//	salt (16) | key check value (8) | GCM tag (16)
const (
	// HeaderSize is the size of the sealed header NewHeader returns.
	HeaderSize = 2 + MaxKeyIDLen + saltSize + kcvSize + Overhead
	// Overhead is what sealing adds to a plaintext: the GCM tag.
	Overhead = 16
	// NonceSize is the GCM nonce size: epoch (4) and counter (8).
	NonceSize = 12

	cipherSM4GCM = 1
	saltSize     = 16
	kcvSize      = 8
	tagOffset    = HeaderSize - Overhead

	kdfInfo  = "sgw atrest SM4-GCM file key v1"
	kcvLabel = "sgw atrest key check v1"
)

// Sealer seals and opens the records of one file under the file's own
// key. It is safe for concurrent use.
type Sealer struct {
	aead  cipher.AEAD
	keyID string
}

// KeyID returns the id of the master key the file key derives from.
func (s *Sealer) KeyID() string { return s.keyID }

// Nonce is a GCM nonce: a 32-bit epoch and a 64-bit counter, big endian.
// Seal and Open take it by pointer so that a caller sealing many records
// reuses one (a field of its own) and allocates nothing.
type Nonce [NonceSize]byte

// MakeNonce returns the nonce of (epoch, counter).
func MakeNonce(epoch uint32, counter uint64) Nonce {
	var n Nonce
	binary.BigEndian.PutUint32(n[:4], epoch)
	binary.BigEndian.PutUint64(n[4:], counter)
	return n
}

// Seal appends to dst the sealed plaintext (ciphertext and tag, Overhead
// bytes more) under nonce, authenticating aad too. To seal in place use
// plaintext[:0] as dst. The caller must never use one nonce twice in a
// file; (0, 0) is the header's.
func (s *Sealer) Seal(dst []byte, nonce *Nonce, plaintext, aad []byte) []byte {
	return s.aead.Seal(dst, nonce[:], plaintext, aad)
}

// Open appends to dst the plaintext of sealed (ciphertext and tag) under
// nonce and aad. To open in place use sealed[:0] as dst. A tag that does
// not verify returns ErrTampered.
func (s *Sealer) Open(dst []byte, nonce *Nonce, sealed, aad []byte) ([]byte, error) {
	p, err := s.aead.Open(dst, nonce[:], sealed, aad)
	if err != nil {
		return nil, ErrTampered
	}
	return p, nil
}

// newSealer derives the file key of salt from master key id and returns
// its sealer.
func newSealer(id string, master *[KeySize]byte, salt []byte) (*Sealer, error) {
	fk, err := hkdf.Key(sm3.New, master[:], salt, kdfInfo, KeySize)
	if err != nil {
		return nil, err
	}
	block, err := sm4.NewCipher(fk)
	if err != nil {
		return nil, err
	}
	// gmsm's SM4 block implements crypto/cipher's gcmAble, so NewGCM
	// returns its assembly GCM (see BenchmarkGCM).
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead, keyID: id}, nil
}

// keyCheck returns the key check value of a master key: it tells a wrong
// key from a damaged header without revealing anything about the key that
// helps an attacker (it is not related to the GCM hash key).
func keyCheck(master *[KeySize]byte) []byte {
	m := hmac.New(sm3.New, master[:])
	m.Write([]byte(kcvLabel))
	return m.Sum(nil)[:kcvSize]
}

// NewHeader returns a new file's sealed header (HeaderSize bytes) under
// the current key, with a fresh random salt, and the file's sealer. The
// header's tag covers context (the caller's bytes in front of it: magic,
// version, creation time) and every header field, so none can be changed
// unnoticed.
func (r *KeyRing) NewHeader(context []byte) ([]byte, *Sealer, error) {
	master := r.keys[r.current]
	h := make([]byte, 0, HeaderSize)
	h = append(h, cipherSM4GCM, byte(len(r.current)))
	h = append(h, r.current...)
	h = append(h, make([]byte, MaxKeyIDLen-len(r.current))...)
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, nil, err
	}
	h = append(h, salt...)
	h = append(h, keyCheck(&master)...)
	s, err := newSealer(r.current, &master, salt)
	if err != nil {
		return nil, nil, err
	}
	n := MakeNonce(0, 0)
	h = s.Seal(h, &n, nil, headerAAD(context, h))
	return h, s, nil
}

// headerAAD is what a header's tag authenticates: the caller's context and
// the header up to the tag.
func headerAAD(context, h []byte) []byte {
	return append(append(make([]byte, 0, len(context)+tagOffset), context...), h[:tagOffset]...)
}

// HeaderKeyID returns the key id a sealed header names, or an error if h is
// not a sealed header.
func HeaderKeyID(h []byte) (string, error) {
	if len(h) < HeaderSize {
		return "", fmt.Errorf("sealed header of %d bytes, want %d", len(h), HeaderSize)
	}
	if h[0] != cipherSM4GCM {
		return "", fmt.Errorf("cipher %d: only 1 (SM4-GCM) is known", h[0])
	}
	n := int(h[1])
	id := string(h[2 : 2+min(n, MaxKeyIDLen)])
	if err := checkKeyID(id); err != nil || n > MaxKeyIDLen {
		return "", fmt.Errorf("bad key id field %q", id)
	}
	for _, c := range h[2+n : 2+MaxKeyIDLen] {
		if c != 0 {
			return "", fmt.Errorf("key id %q is not zero-padded", id)
		}
	}
	return id, nil
}

// OpenHeader checks a sealed header (HeaderSize bytes) written by
// NewHeader with the same context and returns the file's sealer.
//
// A header naming a key the ring lacks, or whose key check value does not
// match the ring's key of that id (and whose tag does not verify under
// it), returns a *KeyError (ErrKey) naming the id. A header whose tag does
// not verify although the key checks out, or whose fields do not parse,
// returns an error wrapping ErrTampered.
func (r *KeyRing) OpenHeader(h, context []byte) (*Sealer, error) {
	id, err := HeaderKeyID(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrTampered, err)
	}
	master, ok := r.keys[id]
	if !ok {
		return nil, &KeyError{ID: id, Reason: fmt.Sprintf("the file is sealed under it and the key ring (%q) lacks it", r.ids)}
	}
	off := 2 + MaxKeyIDLen
	salt := h[off : off+saltSize]
	kcv := h[off+saltSize : off+saltSize+kcvSize]
	s, err := newSealer(id, &master, salt)
	if err != nil {
		return nil, err
	}
	n := MakeNonce(0, 0)
	_, tagErr := s.Open(nil, &n, h[tagOffset:HeaderSize], headerAAD(context, h))
	kcvOK := subtle.ConstantTimeCompare(kcv, keyCheck(&master)) == 1
	switch {
	case tagErr == nil:
		if !kcvOK { // impossible unless the tag was forged
			return nil, fmt.Errorf("%w: header: key check value", ErrTampered)
		}
		return s, nil
	case !kcvOK:
		return nil, &KeyError{ID: id, Reason: "the key ring's key of this id is not the one the file was sealed under (key check value differs)"}
	default:
		return nil, fmt.Errorf("%w: header (key %q checks out, the header's tag does not)", ErrTampered, id)
	}
}

// NewEpoch returns a random 32-bit nonce epoch.
func NewEpoch() (uint32, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return 0, err
	}
	return binary.BigEndian.Uint32(b[:]), nil
}

// SealBlob seals a small standalone file's content under the current key:
// a sealed header (with context as its context) followed by the
// ciphertext under nonce (0, 1). Each blob gets its own salt, so its own
// file key.
func (r *KeyRing) SealBlob(context, plaintext []byte) ([]byte, error) {
	h, s, err := r.NewHeader(context)
	if err != nil {
		return nil, err
	}
	n := MakeNonce(0, 1)
	return s.Seal(h, &n, plaintext, h), nil
}

// OpenBlob opens what SealBlob returned, with the same context. Errors
// are OpenHeader's, or ErrTampered for a body that does not verify.
func (r *KeyRing) OpenBlob(context, blob []byte) ([]byte, error) {
	if len(blob) < HeaderSize+Overhead {
		return nil, fmt.Errorf("%w: sealed blob of %d bytes, too short", ErrTampered, len(blob))
	}
	s, err := r.OpenHeader(blob[:HeaderSize], context)
	if err != nil {
		return nil, err
	}
	n := MakeNonce(0, 1)
	p, err := s.Open(nil, &n, blob[HeaderSize:], blob[:HeaderSize])
	if err != nil {
		return nil, fmt.Errorf("%w: body", err)
	}
	return p, nil
}

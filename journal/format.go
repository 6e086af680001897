package journal

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"time"

	"sgw/atrest"
)

// File layout; doc.go describes it.
const (
	magic         = "SGWJRNL1"
	formatVersion = 1 // plain
	formatSealed  = 2 // SM4-GCM: the header continues with atrest's sealed header

	headerSize        = 16 // magic(8) | u16 version | u48 created, unix ms
	sealedHeaderSize  = headerSize + atrest.HeaderSize
	frameHeaderSize   = 8  // u32 payload length | u32 CRC-32C of payload
	payloadHeaderSize = 17 // u8 type | u64 seq | i64 unix-nano time
	minFrameSize      = frameHeaderSize + payloadHeaderSize
	maxPayloadSize    = payloadHeaderSize + MaxRecordLimit

	// A sealed payload adds the nonce epoch to the payload header and the
	// GCM tag after the ciphertext.
	sealedPayloadHeaderSize = payloadHeaderSize + 4 // ... | u32 epoch
	minSealedPayload        = sealedPayloadHeaderSize + atrest.Overhead
	maxSealedPayload        = minSealedPayload + MaxRecordLimit
)

// castagnoli is the CRC-32C table; read-only after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout is what differs between a plain and a sealed file.
type layout struct {
	hdr        int64 // size of the file header, where frames start
	minPayload int64
	maxPayload int64
	sealer     *atrest.Sealer // nil for a plain file
}

var plainLayout = layout{hdr: headerSize, minPayload: payloadHeaderSize, maxPayload: maxPayloadSize}

func sealedLayout(s *atrest.Sealer) layout {
	return layout{hdr: sealedHeaderSize, minPayload: minSealedPayload, maxPayload: maxSealedPayload, sealer: s}
}

// minFrame is the size of the smallest frame.
func (l layout) minFrame() int64 { return frameHeaderSize + l.minPayload }

// Record is one journal record.
type Record struct {
	// Seq is the record's journal sequence number: 1 for the first record
	// of the file, then dense and increasing.
	Seq uint64
	// Type is the caller's record type, stored as given.
	Type byte
	// Time is the wall-clock time of the append, in Unix nanoseconds. It
	// follows the system clock, so it is not guaranteed to increase with
	// Seq if the clock is stepped back.
	Time int64
	// Body is the caller's bytes, opaque to the journal.
	Body []byte
}

// appendHeader appends a plain file header stamped with created.
func appendHeader(dst []byte, created time.Time) []byte {
	return appendHeaderVersion(dst, formatVersion, created)
}

func appendHeaderVersion(dst []byte, version uint16, created time.Time) []byte {
	dst = append(dst, magic...)
	dst = binary.BigEndian.AppendUint16(dst, version)
	ms := uint64(created.UnixMilli()) & (1<<48 - 1)
	return append(dst, byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms))
}

// appendSealedHeader appends a sealed file header under keys' current key:
// the 16-byte header with version 2, then atrest's sealed header, whose
// tag covers the 16 bytes before it.
func appendSealedHeader(dst []byte, created time.Time, keys *atrest.KeyRing) ([]byte, error) {
	n := len(dst)
	dst = appendHeaderVersion(dst, formatSealed, created)
	h, _, err := keys.NewHeader(dst[n:])
	if err != nil {
		return nil, err
	}
	return append(dst, h...), nil
}

// newHeader returns a new file's header: sealed when keys is set.
func newHeader(created time.Time, keys *atrest.KeyRing) ([]byte, error) {
	if keys == nil {
		return appendHeader(nil, created), nil
	}
	return appendSealedHeader(nil, created, keys)
}

// checkHeader validates a file header's first 16 bytes and returns its
// version.
func checkHeader(h []byte) error {
	_, err := headerVersion(h)
	return err
}

func headerVersion(h []byte) (uint16, error) {
	if len(h) < headerSize || string(h[:len(magic)]) != magic {
		return 0, ErrBadHeader
	}
	v := binary.BigEndian.Uint16(h[8:])
	if v != formatVersion && v != formatSealed {
		return 0, ErrVersion
	}
	return v, nil
}

// appendFrame appends one framed record to dst and returns the extended
// slice.
func appendFrame(dst []byte, typ byte, seq uint64, ts int64, body []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, minFrameSize+len(body))
	dst = dst[:n+minFrameSize]
	binary.BigEndian.PutUint32(dst[n:], uint32(payloadHeaderSize+len(body)))
	dst[n+8] = typ
	binary.BigEndian.PutUint64(dst[n+9:], seq)
	binary.BigEndian.PutUint64(dst[n+17:], uint64(ts))
	dst = append(dst, body...)
	binary.BigEndian.PutUint32(dst[n+4:], crc32.Checksum(dst[n+frameHeaderSize:], castagnoli))
	return dst
}

// appendOpenFrame appends a frame of a sealed file whose body is still
// plaintext, with room for the tag and no checksum yet: sealFrames seals
// it. Appenders frame records under the journal's lock; the writer
// goroutine seals the batch, off that lock.
func appendOpenFrame(dst []byte, typ byte, seq uint64, ts int64, epoch uint32, body []byte) []byte {
	n := len(dst)
	size := frameHeaderSize + minSealedPayload + len(body)
	dst = slices.Grow(dst, size)
	dst = dst[:n+frameHeaderSize+sealedPayloadHeaderSize]
	binary.BigEndian.PutUint32(dst[n:], uint32(minSealedPayload+len(body)))
	binary.BigEndian.PutUint32(dst[n+4:], 0)
	dst[n+8] = typ
	binary.BigEndian.PutUint64(dst[n+9:], seq)
	binary.BigEndian.PutUint64(dst[n+17:], uint64(ts))
	binary.BigEndian.PutUint32(dst[n+25:], epoch)
	dst = append(dst, body...)
	return dst[:n+size] // the tag's room; sealFrames writes it
}

// sealFrames seals in place every frame appendOpenFrame put in buf: the
// body becomes ciphertext and tag under nonce (epoch, seq), with the
// payload header (type, seq, time, epoch) as additional authenticated
// data, and the frame gets its checksum. nonce is scratch.
func sealFrames(buf []byte, s *atrest.Sealer, nonce *atrest.Nonce) {
	for off := 0; off < len(buf); {
		n := int(binary.BigEndian.Uint32(buf[off:]))
		p := buf[off+frameHeaderSize : off+frameHeaderSize+n]
		aad := p[:sealedPayloadHeaderSize]
		seq := binary.BigEndian.Uint64(p[1:])
		epoch := binary.BigEndian.Uint32(p[17:])
		body := p[sealedPayloadHeaderSize : n-atrest.Overhead]
		*nonce = atrest.MakeNonce(epoch, seq)
		s.Seal(body[:0], nonce, body, aad)
		binary.BigEndian.PutUint32(buf[off+4:], crc32.Checksum(p, castagnoli))
		off += frameHeaderSize + n
	}
}

// decodePayload decodes a payload whose length and checksum were checked.
// Body aliases p.
func decodePayload(p []byte) Record {
	return Record{
		Type: p[0],
		Seq:  binary.BigEndian.Uint64(p[1:]),
		Time: int64(binary.BigEndian.Uint64(p[9:])),
		Body: p[payloadHeaderSize:],
	}
}

// openPayload decodes and opens, in place, a sealed payload whose length
// and checksum were checked, using nonce as scratch. Body aliases p. A tag
// that does not verify returns atrest.ErrTampered.
func openPayload(p []byte, s *atrest.Sealer, nonce *atrest.Nonce) (Record, error) {
	r := decodePayload(p)
	epoch := binary.BigEndian.Uint32(p[17:])
	sealed := p[sealedPayloadHeaderSize:]
	*nonce = atrest.MakeNonce(epoch, r.Seq)
	body, err := s.Open(sealed[:0], nonce, sealed, p[:sealedPayloadHeaderSize])
	if err != nil {
		return Record{}, err
	}
	r.Body = body
	return r, nil
}

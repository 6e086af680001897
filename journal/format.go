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
	magic = "SGWJRNL1"

	// Format versions. Versions 3 and 4, which new files get, add the
	// batch index to each frame; files of versions 1 and 2 are still read
	// and appended to in their own format.
	formatV1       = 1 // plain, frames without a batch index
	formatSealedV2 = 2 // sealed, frames without a batch index
	formatVersion  = 3 // plain
	formatSealed   = 4 // sealed: the header continues with atrest's sealed header

	headerSize       = 16 // magic(8) | u16 version | u48 created, unix ms
	sealedHeaderSize = headerSize + atrest.HeaderSize
	frameHeaderSize  = 8 // u32 payload length | u32 CRC-32C of payload

	// A payload starts with type, sequence and time; a sealed one adds the
	// nonce epoch; formats 3 and 4 end the payload header with the batch
	// index. A sealed payload ends with the GCM tag.
	v1PayloadHeaderSize     = 17                      // u8 type | u64 seq | i64 unix-nano time
	v2PayloadHeaderSize     = v1PayloadHeaderSize + 4 // ... | u32 epoch
	batchIndexSize          = 4                       // u32 records before this one in its batch
	payloadHeaderSize       = v1PayloadHeaderSize + batchIndexSize
	sealedPayloadHeaderSize = v2PayloadHeaderSize + batchIndexSize
	minFrameSize            = frameHeaderSize + payloadHeaderSize
	minSealedPayload        = sealedPayloadHeaderSize + atrest.Overhead

	// maxBatchIndex is the batch index of a record with that many records
	// or more before it in its batch: the index saturates, and such a
	// record names no batch recovery can place (doc.go, Torn batches).
	maxBatchIndex = 1<<32 - 1
)

// castagnoli is the CRC-32C table; read-only after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// layout is what differs between the file formats: plain or sealed, with
// or without the batch index.
type layout struct {
	version    uint16
	hdr        int64 // size of the file header, where frames start
	phdr       int   // size of the payload header: the body (or ciphertext) starts there
	minPayload int64
	maxPayload int64
	sealer     *atrest.Sealer // nil for a plain file
}

// plainLayout returns the layout of a plain file of format version v (1 or 3).
func plainLayout(v uint16) layout {
	ph := v1PayloadHeaderSize
	if v != formatV1 {
		ph = payloadHeaderSize
	}
	return layout{version: v, hdr: headerSize, phdr: ph, minPayload: int64(ph), maxPayload: int64(ph) + MaxRecordLimit}
}

// sealedLayout returns the layout of a sealed file of format version v
// (2 or 4) whose records s seals.
func sealedLayout(v uint16, s *atrest.Sealer) layout {
	ph := v2PayloadHeaderSize
	if v != formatSealedV2 {
		ph = sealedPayloadHeaderSize
	}
	lo := int64(ph + atrest.Overhead)
	return layout{version: v, hdr: sealedHeaderSize, phdr: ph, minPayload: lo, maxPayload: lo + MaxRecordLimit, sealer: s}
}

// minFrame is the size of the smallest frame.
func (l layout) minFrame() int64 { return frameHeaderSize + l.minPayload }

// batched reports whether the layout's frames carry the batch index.
func (l layout) batched() bool { return l.version == formatVersion || l.version == formatSealed }

// batchIndex returns the batch index of payload p of a batched layout.
func (l layout) batchIndex(p []byte) uint32 {
	return binary.BigEndian.Uint32(p[l.phdr-batchIndexSize:])
}

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

// appendSealedHeader appends a sealed file header of format version
// (formatSealed; formatSealedV2 for tests) under keys' current key: the
// 16-byte header, then atrest's sealed header, whose tag covers the 16
// bytes before it.
func appendSealedHeader(dst []byte, version uint16, created time.Time, keys *atrest.KeyRing) ([]byte, error) {
	n := len(dst)
	dst = appendHeaderVersion(dst, version, created)
	h, _, err := keys.NewHeader(dst[n:])
	if err != nil {
		return nil, err
	}
	return append(dst, h...), nil
}

// newHeader returns a new file's header, in the current format: sealed
// when keys is set.
func newHeader(created time.Time, keys *atrest.KeyRing) ([]byte, error) {
	if keys == nil {
		return appendHeader(nil, created), nil
	}
	return appendSealedHeader(nil, formatSealed, created, keys)
}

// checkHeader validates a file header's first 16 bytes and returns its
// version.
func checkHeader(h []byte) error {
	_, err := headerVersion(h)
	return err
}

// headerVersion returns the version of the file header whose first 16
// bytes h holds: ErrBadHeader for a bad magic, and the version read
// with ErrVersion for one this package does not read.
func headerVersion(h []byte) (uint16, error) {
	if len(h) < headerSize || string(h[:len(magic)]) != magic {
		return 0, ErrBadHeader
	}
	v := binary.BigEndian.Uint16(h[8:])
	if v < formatV1 || v > formatSealed {
		return v, ErrVersion
	}
	return v, nil
}

// appendFrame appends one framed record of a plain file of layout lay to
// dst and returns the extended slice. idx is the record's batch index
// (formats 3 and 4 only; ignored for format 1).
func appendFrame(dst []byte, lay layout, idx uint32, typ byte, seq uint64, ts int64, body []byte) []byte {
	n := len(dst)
	dst = slices.Grow(dst, frameHeaderSize+lay.phdr+len(body))
	dst = dst[:n+frameHeaderSize+lay.phdr]
	binary.BigEndian.PutUint32(dst[n:], uint32(lay.phdr+len(body)))
	putPayloadHeader(dst[n+frameHeaderSize:], lay, typ, seq, ts, 0, idx)
	dst = append(dst, body...)
	binary.BigEndian.PutUint32(dst[n+4:], crc32.Checksum(dst[n+frameHeaderSize:], castagnoli))
	return dst
}

// putPayloadHeader writes a payload header of layout lay into p: type,
// sequence, time, then the epoch (sealed) and the batch index (formats 3
// and 4).
func putPayloadHeader(p []byte, lay layout, typ byte, seq uint64, ts int64, epoch, idx uint32) {
	p[0] = typ
	binary.BigEndian.PutUint64(p[1:], seq)
	binary.BigEndian.PutUint64(p[9:], uint64(ts))
	if lay.sealer != nil {
		binary.BigEndian.PutUint32(p[17:], epoch)
	}
	if lay.batched() {
		binary.BigEndian.PutUint32(p[lay.phdr-batchIndexSize:], idx)
	}
}

// appendOpenFrame appends a frame of a sealed file of layout lay whose
// body is still plaintext, with room for the tag and no checksum yet:
// sealFrames seals it. Appenders frame records under the journal's lock;
// the writer goroutine seals the batch, off that lock.
func appendOpenFrame(dst []byte, lay layout, idx uint32, typ byte, seq uint64, ts int64, epoch uint32, body []byte) []byte {
	n := len(dst)
	size := frameHeaderSize + int(lay.minPayload) + len(body)
	dst = slices.Grow(dst, size)
	dst = dst[:n+frameHeaderSize+lay.phdr]
	binary.BigEndian.PutUint32(dst[n:], uint32(int(lay.minPayload)+len(body)))
	binary.BigEndian.PutUint32(dst[n+4:], 0)
	putPayloadHeader(dst[n+frameHeaderSize:], lay, typ, seq, ts, epoch, idx)
	dst = append(dst, body...)
	return dst[:n+size] // the tag's room; sealFrames writes it
}

// sealFrames seals in place every frame appendOpenFrame put in buf: the
// body becomes ciphertext and tag under nonce (epoch, seq), with the
// payload header (type, seq, time, epoch and, in format 4, the batch
// index) as additional authenticated data, and the frame gets its
// checksum. nonce is scratch.
func sealFrames(buf []byte, lay layout, nonce *atrest.Nonce) {
	for off := 0; off < len(buf); {
		n := int(binary.BigEndian.Uint32(buf[off:]))
		p := buf[off+frameHeaderSize : off+frameHeaderSize+n]
		aad := p[:lay.phdr]
		seq := binary.BigEndian.Uint64(p[1:])
		epoch := binary.BigEndian.Uint32(p[17:])
		body := p[lay.phdr : n-atrest.Overhead]
		*nonce = atrest.MakeNonce(epoch, seq)
		lay.sealer.Seal(body[:0], nonce, body, aad)
		binary.BigEndian.PutUint32(buf[off+4:], crc32.Checksum(p, castagnoli))
		off += frameHeaderSize + n
	}
}

// decodePayload decodes a payload of layout lay whose length and checksum
// were checked. Body aliases p (for a sealed payload, the ciphertext:
// openPayload opens it).
func decodePayload(p []byte, lay layout) Record {
	return Record{
		Type: p[0],
		Seq:  binary.BigEndian.Uint64(p[1:]),
		Time: int64(binary.BigEndian.Uint64(p[9:])),
		Body: p[lay.phdr:],
	}
}

// openPayload decodes and opens, in place, a sealed payload of layout lay
// whose length and checksum were checked, using nonce as scratch. Body
// aliases p. A tag that does not verify returns atrest.ErrTampered.
func openPayload(p []byte, lay layout, nonce *atrest.Nonce) (Record, error) {
	r := decodePayload(p, lay)
	epoch := binary.BigEndian.Uint32(p[17:])
	*nonce = atrest.MakeNonce(epoch, r.Seq)
	body, err := lay.sealer.Open(r.Body[:0], nonce, r.Body, p[:lay.phdr])
	if err != nil {
		return Record{}, err
	}
	r.Body = body
	return r, nil
}

package journal

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"time"
)

// File layout; doc.go describes it.
const (
	magic         = "SGWJRNL1"
	formatVersion = 1

	headerSize        = 16 // magic(8) | u16 version | u48 created, unix ms
	frameHeaderSize   = 8  // u32 payload length | u32 CRC-32C of payload
	payloadHeaderSize = 17 // u8 type | u64 seq | i64 unix-nano time
	minFrameSize      = frameHeaderSize + payloadHeaderSize
	maxPayloadSize    = payloadHeaderSize + MaxRecordLimit
)

// castagnoli is the CRC-32C table; read-only after package initialisation.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

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

// appendHeader appends a file header stamped with created.
func appendHeader(dst []byte, created time.Time) []byte {
	dst = append(dst, magic...)
	dst = binary.BigEndian.AppendUint16(dst, formatVersion)
	ms := uint64(created.UnixMilli()) & (1<<48 - 1)
	return append(dst, byte(ms>>40), byte(ms>>32), byte(ms>>24), byte(ms>>16), byte(ms>>8), byte(ms))
}

// checkHeader validates a file header.
func checkHeader(h []byte) error {
	if len(h) < headerSize || string(h[:len(magic)]) != magic {
		return ErrBadHeader
	}
	if v := binary.BigEndian.Uint16(h[8:]); v != formatVersion {
		return ErrVersion
	}
	return nil
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

package capture

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Magic opens every capture file; Version is the format this package
// writes. docs/CAPTURE.md describes both. Version 2 added TypeStream
// records; a Reader reads versions 1 (which has none) and 2.
const (
	Magic   = "SGWCAP"
	Version = 2
)

// MaxPayload is the largest payload of one record. A source's read larger
// than this is written as several data records (raw bytes are a stream, so
// a reader joins them).
const MaxPayload = 16 << 10

// recordHead is the size of a record's fixed fields after its length:
// type, source, receive time and sequence number; recordTail is the CRC.
const (
	recordHead = 1 + 1 + 8 + 8
	recordTail = 4
	// recordMin is the smallest record on disk, length field included.
	recordMin = 4 + recordHead + recordTail
)

// Kind is what a file records.
type Kind uint8

// The kinds of stream.
const (
	// KindSource is the raw bytes one source sent, as read from its
	// connection, with an open record at each new connection.
	KindSource Kind = 1
	// KindArbitrated is the sequenced messages the arbiter delivered to
	// the books, one data record each.
	KindArbitrated Kind = 2
)

// Source ids of records and headers.
const (
	Primary    uint8 = 0
	Backup     uint8 = 1
	Arbitrated uint8 = 255
)

// StreamName returns the name of the stream of source id src: "primary",
// "backup" or "arbitrated".
func StreamName(src uint8) string {
	switch src {
	case Primary:
		return "primary"
	case Backup:
		return "backup"
	case Arbitrated:
		return "arbitrated"
	}
	return fmt.Sprintf("source%d", src)
}

// RecordType is the type of a record.
type RecordType uint8

// The record types.
const (
	// TypeData is bytes received: in a source stream, a piece of what the
	// source sent (Seq 0); in the arbitrated stream, one message, Seq its
	// sequence number and Source the source it came from.
	TypeData RecordType = 1
	// TypeGap marks records of this stream dropped because the capture
	// queue was full: Seq of them were lost just before this point. Recv
	// is when the gap was written.
	TypeGap RecordType = 2
	// TypeOpen starts a new connection of a source stream: the bytes
	// after it are a fresh SoupBinTCP stream. Seq is the sequence number
	// the login requested.
	TypeOpen RecordType = 3
	// TypeStream starts a new stream in the arbitrated stream (version 2
	// on): the arbiter numbers the messages after it afresh, from 1 (a
	// new SoupBinTCP session, a renumbered stream it rebuilt from; SZSE,
	// a channel's new trading day or renumbering), so they are not copies
	// of the numbers before it. Seq is the channel (SZSE: the ChannelNo;
	// ITCH: 0, its only one), Source the source that brought the new
	// stream, Data the new SoupBinTCP session's name (ITCH; empty for
	// SZSE).
	TypeStream RecordType = 4
)

func (t RecordType) String() string {
	switch t {
	case TypeData:
		return "data"
	case TypeGap:
		return "gap"
	case TypeOpen:
		return "open"
	case TypeStream:
		return "stream"
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// Header is a file's header.
type Header struct {
	Version  uint16
	Created  int64 // Unix ns
	Kind     Kind
	Source   uint8  // Primary, Backup or Arbitrated
	Feed     string // the feed's name
	Stream   string // StreamName(Source)
	Protocol string // the feed's protocol, "itch"
}

// Record is one record of a file. Data is only valid until the Reader's
// next call.
type Record struct {
	Type   RecordType
	Source uint8
	Recv   int64 // Unix ns
	Seq    uint64
	Data   []byte
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendHeader appends h's encoding (with Version) to b. Strings longer
// than 255 bytes are an error.
func AppendHeader(b []byte, h Header) ([]byte, error) {
	for _, s := range []string{h.Feed, h.Stream, h.Protocol} {
		if len(s) > 255 {
			return b, fmt.Errorf("%w: header field of %d bytes (at most 255)", ErrConfig, len(s))
		}
	}
	rest := 8 + 1 + 1 + 3 + len(h.Feed) + len(h.Stream) + len(h.Protocol)
	b = append(b, Magic...)
	b = binary.BigEndian.AppendUint16(b, Version)
	b = binary.BigEndian.AppendUint16(b, uint16(rest))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Created))
	b = append(b, byte(h.Kind), h.Source)
	for _, s := range []string{h.Feed, h.Stream, h.Protocol} {
		b = append(b, byte(len(s)))
		b = append(b, s...)
	}
	return b, nil
}

// AppendRecord appends one record to b. Data longer than MaxPayload is
// the caller's error; the Recorder splits it.
func AppendRecord(b []byte, t RecordType, src uint8, recv int64, seq uint64, data []byte) []byte {
	b = appendUnsealed(b, t, src, recv, seq, data)
	seal(b[len(b)-recordSize(len(data)):])
	return b
}

// appendUnsealed appends a record whose CRC is left zero, for seal to
// fill: the Recorder's writer seals, so the feed's goroutines do not.
func appendUnsealed(b []byte, t RecordType, src uint8, recv int64, seq uint64, data []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(recordHead+len(data)+recordTail))
	b = append(b, byte(t), src)
	b = binary.BigEndian.AppendUint64(b, uint64(recv))
	b = binary.BigEndian.AppendUint64(b, seq)
	b = append(b, data...)
	return append(b, 0, 0, 0, 0)
}

// seal writes the CRC of the one whole record rec.
func seal(rec []byte) {
	n := len(rec) - recordTail
	binary.BigEndian.PutUint32(rec[n:], crc32.Checksum(rec[4:n], castagnoli))
}

// recordSize is the encoded size of a record with n bytes of payload.
func recordSize(n int) int { return recordMin + n }

package capture

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Reader decodes one capture file. It is not safe for concurrent use.
type Reader struct {
	r   *bufio.Reader
	h   Header
	buf []byte
	off int64 // offset of the next record, for error messages
}

// NewReader reads the header of the file r and returns a reader of its
// records. A file that is not a capture file of version 1 or 2 is
// ErrFormat.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var fixed [10]byte
	if _, err := io.ReadFull(br, fixed[:]); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if string(fixed[:6]) != Magic {
		return nil, fmt.Errorf("%w: magic %q", ErrFormat, fixed[:6])
	}
	h := Header{Version: binary.BigEndian.Uint16(fixed[6:])}
	if h.Version < 1 || h.Version > Version {
		return nil, fmt.Errorf("%w: version %d (this reader knows 1 to %d)", ErrFormat, h.Version, Version)
	}
	rest := make([]byte, binary.BigEndian.Uint16(fixed[8:]))
	if _, err := io.ReadFull(br, rest); err != nil {
		return nil, fmt.Errorf("%w: header: %w", ErrFormat, err)
	}
	if len(rest) < 13 {
		return nil, fmt.Errorf("%w: header of %d bytes", ErrFormat, len(rest))
	}
	h.Created = int64(binary.BigEndian.Uint64(rest))
	h.Kind, h.Source = Kind(rest[8]), rest[9]
	p := rest[10:]
	for _, s := range []*string{&h.Feed, &h.Stream, &h.Protocol} {
		if len(p) < 1 || len(p) < 1+int(p[0]) {
			return nil, fmt.Errorf("%w: header strings overrun", ErrFormat)
		}
		*s = string(p[1 : 1+p[0]])
		p = p[1+p[0]:]
	}
	// Later versions may append header fields; versions 1 and 2 have
	// none, and their readers ignore what follows the strings.
	return &Reader{r: br, h: h, off: int64(10 + len(rest))}, nil
}

// Header returns the file's header.
func (r *Reader) Header() Header { return r.h }

// Next returns the next record; its Data is valid until the next call. It
// returns io.EOF at the end of a complete file, ErrTruncated (wrapped)
// when the file ends inside a record and ErrCorrupt (wrapped) when a
// record's length or checksum is wrong.
func (r *Reader) Next() (Record, error) {
	var lb [4]byte
	n, err := io.ReadFull(r.r, lb[:])
	switch {
	case err == io.EOF:
		return Record{}, io.EOF
	case err != nil:
		return Record{}, fmt.Errorf("%w: at offset %d: %d of 4 length bytes", ErrTruncated, r.off, n)
	}
	l := binary.BigEndian.Uint32(lb[:])
	if l < recordHead+recordTail || l > recordHead+MaxPayload+recordTail {
		return Record{}, fmt.Errorf("%w: at offset %d: length %d", ErrCorrupt, r.off, l)
	}
	if cap(r.buf) < int(l) {
		r.buf = make([]byte, l)
	}
	b := r.buf[:l]
	if _, err := io.ReadFull(r.r, b); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return Record{}, fmt.Errorf("%w: at offset %d: record of %d bytes", ErrTruncated, r.off, l)
		}
		return Record{}, fmt.Errorf("capture: at offset %d: %w", r.off, err)
	}
	body := b[:l-recordTail]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(b[l-recordTail:]); got != want {
		return Record{}, fmt.Errorf("%w: at offset %d: checksum %08x, want %08x", ErrCorrupt, r.off, got, want)
	}
	rec := Record{
		Type:   RecordType(body[0]),
		Source: body[1],
		Recv:   int64(binary.BigEndian.Uint64(body[2:])),
		Seq:    binary.BigEndian.Uint64(body[10:]),
		Data:   body[recordHead:],
	}
	last := TypeStream
	if r.h.Version == 1 {
		last = TypeOpen // a version-1 file holds no stream records
	}
	if rec.Type < TypeData || rec.Type > last {
		return Record{}, fmt.Errorf("%w: at offset %d: record type %d", ErrCorrupt, r.off, body[0])
	}
	r.off += 4 + int64(l)
	return rec, nil
}

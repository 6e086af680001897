package journal

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"

	"sgw/atrest"
)

// badFrame is a frame that failed its length or checksum check. Whether it
// is a torn tail (repairable) or corruption depends on what follows it.
type badFrame struct {
	off    int64
	reason string
}

func (b *badFrame) Error() string {
	return fmt.Sprintf("journal: bad frame at offset %d: %s", b.off, b.reason)
}

// scanner reads frames sequentially from the header's end up to a fixed end
// offset. Record bodies it returns alias its buffer and are valid until the
// next call of next.
type scanner struct {
	lay   layout
	r     *bufio.Reader
	off   int64  // offset of the next frame
	end   int64  // offset where the scan stops
	seq   uint64 // sequence number of the last good record
	idx   int64  // its batch index (formats 3 and 4); -1 before the first
	hdr   [frameHeaderSize]byte
	buf   []byte
	nonce atrest.Nonce // scratch for sealed files
}

func newScanner(r io.ReaderAt, end int64, lay layout) *scanner {
	return &scanner{
		lay: lay,
		r:   bufio.NewReaderSize(io.NewSectionReader(r, lay.hdr, end-lay.hdr), 256<<10),
		off: lay.hdr,
		end: end,
		idx: -1,
	}
}

// next returns the next record; io.EOF at a clean end; a *badFrame for a
// frame that is short or fails its length or checksum check; a
// *CorruptError for a valid frame out of sequence; a *TamperedError for a
// sealed frame whose checksum verifies and whose tag does not; or an I/O
// error.
func (s *scanner) next() (Record, error) {
	rem := s.end - s.off
	if rem == 0 {
		return Record{}, io.EOF
	}
	if rem < frameHeaderSize {
		return Record{}, &badFrame{s.off, fmt.Sprintf("%d bytes left, too few for a frame header", rem)}
	}
	if _, err := io.ReadFull(s.r, s.hdr[:]); err != nil {
		return Record{}, readFailed(err, s.off)
	}
	n := int64(binary.BigEndian.Uint32(s.hdr[:4]))
	switch {
	case n < s.lay.minPayload || n > s.lay.maxPayload:
		return Record{}, &badFrame{s.off, fmt.Sprintf("payload length %d out of range", n)}
	case n > rem-frameHeaderSize:
		return Record{}, &badFrame{s.off, fmt.Sprintf("payload length %d runs past the end (%d bytes left)", n, rem-frameHeaderSize)}
	}
	if int64(cap(s.buf)) < n {
		s.buf = make([]byte, n)
	}
	p := s.buf[:n]
	if _, err := io.ReadFull(s.r, p); err != nil {
		return Record{}, readFailed(err, s.off)
	}
	if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(s.hdr[4:]) {
		return Record{}, &badFrame{s.off, "checksum mismatch"}
	}
	rec := decodePayload(p, s.lay)
	var reason string
	idx := int64(-1)
	if s.lay.batched() {
		idx = int64(s.lay.batchIndex(p))
	}
	switch {
	case rec.Seq != s.seq+1:
		reason = fmt.Sprintf("sequence %d where %d was expected", rec.Seq, s.seq+1)
	case s.lay.batched() && idx != 0 && idx != s.idx+1 && !(idx == maxBatchIndex && s.idx == maxBatchIndex):
		// A batch's records are numbered 0, 1, 2 ... (saturating).
		reason = fmt.Sprintf("batch index %d after %d", idx, s.idx)
	}
	if reason != "" {
		if s.lay.sealer != nil {
			// A sealed frame whose checksum verifies was written whole:
			// out of place, it was moved or copied there.
			return Record{}, &TamperedError{Offset: s.off, Seq: s.seq + 1, Reason: reason}
		}
		return Record{}, &CorruptError{Offset: s.off, Reason: reason}
	}
	if s.lay.sealer != nil {
		var err error
		if rec, err = openPayload(p, s.lay, &s.nonce); err != nil {
			return Record{}, &TamperedError{Offset: s.off, Seq: s.seq + 1, Reason: "its tag does not verify"}
		}
	}
	s.seq, s.idx = rec.Seq, idx
	s.off += frameHeaderSize + n
	return rec, nil
}

// readError is an I/O error (EIO from a failing disk, say) met reading a
// journal file: it names the file and the offset of the frame being read
// (or, searching past damage, of the bytes being read), so that the
// operator knows where the disk fails.
// It wraps the error.
type readError struct {
	path string // filled in by withPath
	off  int64
	err  error
}

func (e *readError) Error() string {
	if e.path == "" {
		return fmt.Sprintf("journal: reading the record at offset %d: %v", e.off, e.err)
	}
	return fmt.Sprintf("journal: %s: reading the record at offset %d: %v", e.path, e.off, e.err)
}

func (e *readError) Unwrap() error { return e.err }

// readFailed returns a *readError for err, met reading the frame at
// offset off; an early end of file (the file shrank under the scan)
// becomes io.ErrUnexpectedEOF, so that it is not taken for a clean end.
func readFailed(err error, off int64) error {
	if errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return &readError{off: off, err: err}
}

// scanResult is what scanFile found.
type scanResult struct {
	good    int64     // end offset of the last good record
	records uint64    // number of good records (= last sequence number)
	torn    *badFrame // non-nil when the file ends in a torn tail from good on
}

// scanFile reads the records of a journal file of size bytes whose header
// has been checked, passing each to fn (when fn is not nil). A bad frame
// is a torn tail, reported in the result, unless a valid record that an
// interrupted write cannot leave follows it (findLater): then it is a
// *CorruptError.
func scanFile(r io.ReaderAt, size int64, lay layout, path string, fn func(Record) error) (scanResult, error) {
	s := newScanner(r, size, lay)
	for {
		rec, err := s.next()
		if err == nil {
			if fn != nil {
				if err := fn(rec); err != nil {
					return scanResult{}, err
				}
			}
			continue
		}
		res := scanResult{good: s.off, records: s.seq}
		if err == io.EOF {
			return res, nil
		}
		var bad *badFrame
		if errors.As(err, &bad) {
			at, found, err := findLater(r, bad.off+1, size, s.seq, lay)
			if err != nil {
				return scanResult{}, withPath(err, path)
			}
			if found {
				what := "a valid record"
				if lay.batched() {
					what = "a valid record of a later batch"
				}
				return scanResult{}, &CorruptError{Path: path, Offset: bad.off,
					Reason: fmt.Sprintf("%s, and %s follows at offset %d", bad.reason, what, at)}
			}
			res.torn = bad
			return res, nil
		}
		return scanResult{}, withPath(err, path)
	}
}

// withPath fills in the file name of a *CorruptError, *TamperedError or
// *readError.
func withPath(err error, path string) error {
	var ce *CorruptError
	var te *TamperedError
	var re *readError
	switch {
	case errors.As(err, &ce):
		ce.Path = path
	case errors.As(err, &te):
		te.Path = path
	case errors.As(err, &re):
		re.path = path
	}
	return err
}

// findLater reports the offset of the first valid frame in [from, end)
// that shows that damage before from, after record number after, is not
// what a crash during the last write leaves (doc.go, Torn batches). In
// formats 1 and 2 that is any valid frame that could follow record after.
// In formats 3 and 4 it is a frame of a later batch than the one holding
// record after+1 (its batch's first record, its sequence number less its
// batch index, is above after+1) or one whose batch index saturated; the
// frames of that batch itself are what a torn write of it leaves. In a
// sealed file each frame of the torn batch must authenticate too, else
// the search returns a *TamperedError: a torn write never leaves a frame
// whose checksum verifies and whose tag does not.
func findLater(r io.ReaderAt, from, end int64, after uint64, lay layout) (int64, bool, error) {
	if !lay.batched() {
		return findRecord(r, from, end, after, lay, nil)
	}
	var nonce atrest.Nonce
	var buf []byte
	return findRecord(r, from, end, after, lay, func(off int64, p []byte) (bool, error) {
		seq, idx := binary.BigEndian.Uint64(p[1:]), lay.batchIndex(p)
		if idx == maxBatchIndex || uint64(idx) > seq || seq-uint64(idx) > after+1 {
			return false, nil
		}
		if lay.sealer != nil {
			buf = append(buf[:0], p...)
			if _, err := openPayload(buf, lay, &nonce); err != nil {
				return false, &TamperedError{Offset: off, Seq: seq, Reason: "its tag does not verify"}
			}
		}
		return true, nil
	})
}

// findRecord reports the offset of the first valid frame in [from, end)
// that could follow record number after and that skip, when not nil, does
// not skip: its length fits, its checksum verifies and its sequence number
// is above after and no higher than the number of frames that fit in the
// range allows. The search goes on after a frame skip skips (its payload
// p aliases a buffer: skip must not keep it); an error from skip ends it.
// The cheap checks (length and sequence range) run on every byte offset;
// the checksum only on the rare candidate that passes them, so a megabyte
// of garbage costs about a megabyte of reading.
func findRecord(r io.ReaderAt, from, end int64, after uint64, lay layout, skip func(off int64, p []byte) (bool, error)) (int64, bool, error) {
	const step = 1 << 20
	minFrame := lay.minFrame()
	maxSeq := after + uint64((end-from)/minFrame) + 1
	var win, frame []byte
	for base := from; end-base >= minFrame; {
		n := min(end-base, step+minFrame-1)
		if int64(cap(win)) < n {
			win = make([]byte, n)
		}
		w := win[:n]
		if got, err := r.ReadAt(w, base); int64(got) < n {
			return 0, false, readFailed(err, base)
		}
		next := base + step
		for i := int64(0); i < step && i+minFrame <= n; i++ {
			l := int64(binary.BigEndian.Uint32(w[i:]))
			if l < lay.minPayload || l > lay.maxPayload || base+i+frameHeaderSize+l > end {
				continue
			}
			if seq := binary.BigEndian.Uint64(w[i+9:]); seq <= after || seq > maxSeq {
				continue
			}
			var p []byte
			if i+frameHeaderSize+l <= n {
				p = w[i+frameHeaderSize : i+frameHeaderSize+l]
			} else {
				if int64(cap(frame)) < l {
					frame = make([]byte, l)
				}
				p = frame[:l]
				if got, err := r.ReadAt(p, base+i+frameHeaderSize); got < len(p) {
					return 0, false, readFailed(err, base+i)
				}
			}
			if crc32.Checksum(p, castagnoli) != binary.BigEndian.Uint32(w[i+4:]) {
				continue
			}
			if skip == nil {
				return base + i, true, nil
			}
			switch skipped, err := skip(base+i, p); {
			case err != nil:
				return 0, false, err
			case !skipped:
				return base + i, true, nil
			}
			// Go on after the skipped frame, in this window or the next.
			i += frameHeaderSize + l - 1
			if i+1 >= step {
				next = base + i + 1
				break
			}
		}
		base = next
	}
	return 0, false, nil
}

// ReadFile reads the plain journal file at path from the start and calls
// fn for each record in sequence order, without modifying the file; it is
// for tools and tests (a running gateway uses Journal.Replay). Record.Body
// is valid only until fn returns. An error from fn stops the read and is
// returned as is. A sealed file needs ReadFileKeys (ReadFile returns
// ErrKey for it).
//
// An empty file holds no records. A file that ends in a torn batch (a
// crash during a write; Open would truncate it) delivers every good record
// before the damage and then returns an error wrapping ErrTornTail. Damage
// followed by a valid record of a later batch returns a *CorruptError
// (ErrCorrupt) after delivering the records before it. ReadFile takes no lock, so it may read a file a Journal is
// appending to; the last batch may then appear torn.
func ReadFile(path string, fn func(r Record) error) error {
	return ReadFileKeys(path, nil, fn)
}

// ReadFileKeys is ReadFile for a file that may be sealed: keys must hold
// the key its header names (else ErrKey). A plain file is read too, even
// with keys. A sealed record whose tag does not verify stops the read with
// a *TamperedError (ErrTampered) after the records before it.
func ReadFileKeys(path string, keys *atrest.KeyRing, fn func(r Record) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	size := fi.Size()
	if size == 0 {
		return nil
	}
	lay, err := readHeader(f, size, keys, path)
	if err != nil {
		return err
	}
	res, err := scanFile(f, size, lay, path, fn)
	if err != nil {
		return err
	}
	if res.torn != nil {
		return fmt.Errorf("%w: %s: %d bytes from offset %d: %s", ErrTornTail, path, size-res.good, res.good, res.torn.reason)
	}
	return nil
}

// readHeader reads and checks the header of the file path of size bytes
// (> 0) and returns the file's layout. A sealed header is opened with keys:
// nil keys or a key the ring lacks or holds a different key for return
// ErrKey naming the key id; a header whose tag fails returns ErrTampered.
// A plain file is returned as such, even with keys: Open refuses it.
func readHeader(r io.ReaderAt, size int64, keys *atrest.KeyRing, path string) (layout, error) {
	if size < headerSize {
		return layout{}, fmt.Errorf("%w: %s", ErrBadHeader, path)
	}
	h := make([]byte, sealedHeaderSize)
	if _, err := r.ReadAt(h[:min(size, sealedHeaderSize)], 0); err != nil && !errors.Is(err, io.EOF) {
		return layout{}, fmt.Errorf("journal: %s: reading the header: %w", path, err)
	}
	v, err := headerVersion(h)
	if errors.Is(err, ErrVersion) {
		return layout{}, fmt.Errorf("%w %d in %s (this version reads %d to %d: the file of a later version, or its header damaged)",
			err, v, path, formatV1, formatSealed)
	}
	if err != nil {
		return layout{}, fmt.Errorf("%w: %s", err, path)
	}
	if v == formatV1 || v == formatVersion { // plain
		return plainLayout(v), nil
	}
	if size < sealedHeaderSize {
		return layout{}, fmt.Errorf("%w: %s: sealed header of %d bytes, want %d", ErrBadHeader, path, size, sealedHeaderSize)
	}
	if keys == nil {
		id, err := atrest.HeaderKeyID(h[headerSize:])
		if err != nil {
			return layout{}, fmt.Errorf("journal: %s: %w: header: %v", path, ErrTampered, err)
		}
		return layout{}, fmt.Errorf("journal: %s: %w", path,
			&atrest.KeyError{ID: id, Reason: "the file is sealed under it and no key ring is configured (storage.encryption)"})
	}
	s, err := keys.OpenHeader(h[headerSize:], h[:headerSize])
	if err != nil {
		return layout{}, fmt.Errorf("journal: %s: %w", path, err)
	}
	return sealedLayout(v, s), nil
}

package fix

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"

	"github.com/quickfixgo/quickfix"
)

// fileStore is quickfix's file store (store/file) with its own reads of
// the messages it holds. quickfix's IterateMessages walks the message
// index (.header, one "seq,offset,size" line per save, in the order of
// the saves) and stops at the first entry numbered above the range asked
// for. After a Reset the index need not be in sequence order: a cancel or
// a report quickfix numbered before the venue's Logon with
// ResetSeqNumFlag=Y and saved after it is indexed under its old, higher
// number, and every later message after it. A resend request for those
// later messages stopped there: quickfix gap-filled them, and the venue
// never had them (an order among them lost at the venue). It also read
// the index one byte per read() system call, seconds for a day's store,
// with the store's lock held (LockedStore). fileStore returns every
// message indexed in the range, in sequence order, the last save of a
// number winning, as the sealed store does, reading the files through
// buffers.
//
// fileStore is not safe for concurrent use: Create uses it alone, then
// wraps it in a LockedStore.
type fileStore struct {
	quickfix.MessageStore
	// prefix is the path of the store's files without their suffix.
	prefix string
}

var _ quickfix.MessageStore = (*fileStore)(nil)

// indexEntry is where the message file holds a message.
type indexEntry struct {
	seq       int
	off, size int64
}

// GetMessages returns the messages indexed under begin..end, in sequence
// order; a number saved twice returns its later message.
func (s *fileStore) GetMessages(begin, end int) ([][]byte, error) {
	var msgs [][]byte
	err := s.IterateMessages(begin, end, func(m []byte) error {
		msgs = append(msgs, m)
		return nil
	})
	return msgs, err
}

// IterateMessages calls cb with each message GetMessages returns, in
// turn, as it reads them: at a start, scanStore reads the whole store
// without holding it in memory. cb may keep the message.
func (s *fileStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	entries, err := s.entries(begin, end)
	if err != nil || len(entries) == 0 {
		return err
	}
	body, err := os.Open(s.prefix + ".body")
	if err != nil {
		return fmt.Errorf("fix: store: %w", err)
	}
	defer body.Close()
	// The messages of a range lie one after the other in the message
	// file: they are read in chunks of up to readChunk bytes, each a
	// single read, and passed on as slices of them.
	const readChunk = 1 << 20
	var (
		chunk    []byte
		chunkOff int64
	)
	for i, e := range entries {
		if e.off < chunkOff || e.off+e.size > chunkOff+int64(len(chunk)) {
			n := e.size
			for _, next := range entries[i+1:] {
				if next.off < e.off || next.off+next.size-e.off > readChunk {
					break
				}
				n = max(n, next.off+next.size-e.off)
			}
			chunk, chunkOff = make([]byte, n), e.off
			if _, err := body.ReadAt(chunk, e.off); err != nil {
				return fmt.Errorf("fix: store: %s.body: the message numbered %d (at %d, %d bytes): %w",
					s.prefix, e.seq, e.off, e.size, err)
			}
		}
		at := e.off - chunkOff
		if err := cb(chunk[at : at+e.size : at+e.size]); err != nil {
			return err
		}
	}
	return nil
}

// entries reads the message index and returns its entries numbered
// begin..end, in sequence order, the last of a number only.
func (s *fileStore) entries(begin, end int) ([]indexEntry, error) {
	f, err := os.Open(s.prefix + ".header")
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("fix: store: %w", err)
	}
	defer f.Close()
	byseq := map[int]indexEntry{}
	r := bufio.NewReaderSize(f, 64<<10)
	for at := int64(0); ; {
		line, err := r.ReadSlice('\n')
		if errors.Is(err, io.EOF) && len(line) == 0 {
			break
		} else if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("fix: store: %s.header: %w", s.prefix, err)
		}
		e, ok := parseEntry(line)
		if !ok {
			return nil, fmt.Errorf("%w: %s.header holds the entry %q (at byte %d), not \"seq,offset,size\"",
				ErrStoreDamaged, s.prefix, truncate(line, 64), at)
		}
		if e.seq >= begin && e.seq <= end {
			byseq[e.seq] = e
		}
		at += int64(len(line))
	}
	entries := make([]indexEntry, 0, len(byseq))
	for _, e := range byseq {
		entries = append(entries, e)
	}
	slices.SortFunc(entries, func(a, b indexEntry) int { return a.seq - b.seq })
	return entries, nil
}

// parseEntry parses "seq,offset,size\n", the newline required.
func parseEntry(line []byte) (e indexEntry, ok bool) {
	line, ok = bytes.CutSuffix(line, []byte("\n"))
	if !ok {
		return e, false
	}
	seq, rest, ok1 := bytes.Cut(line, []byte(","))
	off, size, ok2 := bytes.Cut(rest, []byte(","))
	if !ok1 || !ok2 {
		return e, false
	}
	n, err1 := strconv.Atoi(string(seq))
	o, err2 := strconv.ParseInt(string(off), 10, 64)
	z, err3 := strconv.ParseInt(string(size), 10, 64)
	if err1 != nil || err2 != nil || err3 != nil || o < 0 || z < 0 || z > 1<<30 {
		return e, false
	}
	return indexEntry{seq: n, off: o, size: z}, true
}

package orderbook

import (
	"encoding/binary"
	"hash/crc32"
)

// Checksum depths and the bytes one level row contributes.
const (
	checksumDepth  = 10
	checksum5Depth = 5
	checksumRow    = 32 // bid price, bid qty, ask price, ask qty: 4 big-endian int64
)

// Checksum returns the book checksum of docs/CONTRACTS.md over the first n
// levels of bids and asks (best first): the CRC-32 (IEEE) of, for each
// i < n, bid price i, bid qty i, ask price i and ask qty i as big-endian
// int64, an absent level contributing zeros. Checksum(b, a, 10) matches
// Update.Checksum and View.Checksum, Checksum(b, a, 5) matches Checksum5.
//
// Checksum is a pure function, safe to call from any goroutine; it does not
// allocate.
func Checksum(bids, asks []Level, n int) uint32 {
	var row [checksumRow]byte
	crc := uint32(0)
	for i := 0; i < n; i++ {
		var b, a Level
		if i < len(bids) {
			b = bids[i]
		}
		if i < len(asks) {
			a = asks[i]
		}
		putRow(row[:], b, a)
		crc = crc32.Update(crc, crc32.IEEETable, row[:])
	}
	return crc
}

func putRow(row []byte, b, a Level) {
	binary.BigEndian.PutUint64(row[0:], uint64(b.Price))
	binary.BigEndian.PutUint64(row[8:], uint64(b.Qty))
	binary.BigEndian.PutUint64(row[16:], uint64(a.Price))
	binary.BigEndian.PutUint64(row[24:], uint64(a.Qty))
}

// checksummer keeps the checksum input of the top 10 levels so that an
// event only rewrites the rows it touched, and recomputes the CRC from the
// first changed row's half: a change below rank 5 reuses the depth-5 CRC as
// the seed of the depth-10 one (one incremental pass for both).
type checksummer struct {
	buf   [checksumDepth * checksumRow]byte
	ck5   uint32
	ck10  uint32
	dirty int // lowest rewritten row since the last sum; checksumDepth = none
}

func (c *checksummer) init() {
	c.buf = [len(c.buf)]byte{}
	c.dirty = 0
	c.sum()
}

// set rewrites the side half of row r.
func (c *checksummer) set(side Side, r int, price, qty int64) {
	off := r * checksumRow
	if side == Ask {
		off += 16
	}
	binary.BigEndian.PutUint64(c.buf[off:], uint64(price))
	binary.BigEndian.PutUint64(c.buf[off+8:], uint64(qty))
	if r < c.dirty {
		c.dirty = r
	}
}

// sum recomputes the CRCs from the lowest rewritten row.
func (c *checksummer) sum() {
	if c.dirty >= checksumDepth {
		return
	}
	if c.dirty < checksum5Depth {
		c.ck5 = crc32.ChecksumIEEE(c.buf[:checksum5Depth*checksumRow])
	}
	c.ck10 = crc32.Update(c.ck5, crc32.IEEETable, c.buf[checksum5Depth*checksumRow:])
	c.dirty = checksumDepth
}

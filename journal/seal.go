package journal

import (
	"encoding/binary"

	"sgw/atrest"
)

// Sealing a batch of a sealed journal (doc.go, Encryption at rest).
//
// Appenders frame records in plaintext under Journal.mu; the writer
// goroutine seals them before their write. To keep the cipher off the
// critical path, while the writer waits for an fsync a presealer goroutine
// seals the records already waiting in the next batch (Journal.cur): it
// copies them out under Journal.mu, seals the copy without the lock, and
// copies the result back under the lock. Only the writer replaces
// Journal.cur, and it waits for the presealer before it goes on, so the
// batch cannot change hands meanwhile; appenders only add bytes after
// the part being sealed. batch.sealed records how far the batch is
// sealed; the writer seals the rest itself. The presealer is one
// goroutine for the journal's life, driven by unbuffered channels, so
// presealing allocates nothing.

const (
	// presealChunk bounds what the presealer copies out at once, and so
	// how long it holds Journal.mu for the copies.
	presealChunk = 64 << 10
	// presealMin is how many unsealed bytes wake the presealer: waking it
	// for every record would cost more than the sealing it saves the
	// writer.
	presealMin = 2 << 10
)

// presealer is the presealer goroutine of a sealed journal, started by
// open. Before each fsync the writer sends on preStart; the presealer then
// seals what comes until the writer sends on preStop, and answers on
// preDone once the batch holds what it sealed. It returns when the writer
// closes preStart, on its way out.
func (j *Journal) presealer() {
	for range j.preStart {
		j.presealUntilStop()
		j.preDone <- struct{}{}
	}
}

// presealUntilStop seals the current batch's unsealed records, then more
// each time presealMin bytes of them have come, until preStop. It checks preStop between records, so the writer
// waits for at most one record's sealing.
func (j *Journal) presealUntilStop() {
	for {
		j.mu.Lock()
		c := j.cur
		start, end := c.sealed, c.sealed
		for end < len(c.buf) && end-start < presealChunk { // whole frames
			end += frameHeaderSize + int(binary.BigEndian.Uint32(c.buf[end:]))
		}
		more := end < len(c.buf)
		j.preBuf = append(j.preBuf[:0], c.buf[start:end]...)
		j.mu.Unlock()
		n := 0
		for n < len(j.preBuf) {
			select {
			case <-j.preStop:
				j.presealed(c, start, n)
				return
			default:
			}
			n += sealFrame(j.preBuf[n:], j, &j.preNonce)
		}
		j.presealed(c, start, n)
		if more {
			continue
		}
		select {
		case <-j.preStop:
			return
		case <-j.sealKick:
		}
	}
}

// presealed copies the first n sealed bytes of the presealer's buffer back
// into batch c from offset start.
func (j *Journal) presealed(c *batch, start, n int) {
	if n == 0 {
		return
	}
	j.mu.Lock()
	copy(c.buf[start:], j.preBuf[:n])
	c.sealed = start + n
	j.mu.Unlock()
}

// sealFrame seals in place the first frame of buf (as sealFrames does)
// and returns its size.
func sealFrame(buf []byte, j *Journal, nonce *atrest.Nonce) int {
	n := frameHeaderSize + int(binary.BigEndian.Uint32(buf))
	sealFrames(buf[:n], j.lay, nonce)
	return n
}

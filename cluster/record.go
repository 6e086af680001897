package cluster

import (
	"encoding/binary"
	"fmt"
)

// Records of the State: one Raft log entry each, tagged by kind in the
// first byte so one log carries both the order journal and the upstream
// sessions' stores. Integers are big-endian.
//
//	'J' journal record:  u8 type | i64 time (Unix ns) | body
//	'S' session store:   u8 op | u16 len | session id | op body
//	'B' batch:           u16 count | count × (u32 len | 'S' record)
//	'G' journal group:   u16 count | count × (u32 len | 'J' record)
//
// A batch carries one session store's mutations of a few milliseconds in
// one entry (SessionStores coalesces them); its records are applied in
// order, all or none: a batch with one record that does not decode is
// refused whole. A journal group is the same for journal records: the
// ones appended while the previous group was in flight (the Node's
// pipeline gathers them), applied in order at consecutive journal seqs
// under the group's one Raft index. Format: 'G' is new (2026-12-05),
// written only with Config.JournalGroups. A build before it cannot read
// it: 820fd29 and earlier skip it as malformed, quietly, and go on with a
// journal short of its records, numbered lower than the others'; 6628a3a
// stops (ErrUnknownRecord); both refuse a snapshot whose journal records
// share an index. So every member must run a build that reads it before a
// leader writes one, and none may go back to such a build after.
//
// Session store ops and their bodies:
//
//	's' next sender MsgSeqNum:  u64 next
//	't' next target MsgSeqNum:  u64 next
//	'c' creation time:          i64 Unix ns
//	'm' message saved:          u64 MsgSeqNum | message
//	'n' message sent:           u64 MsgSeqNum | message (saved, and next sender + 1)
//	'r' reset:                  i64 creation time (no messages, both next = 1)
//	'v' reservation:            u64 reserved | u8 clean 0|1 | owner
//
// Extending the format: add a kind or an op, never change what an
// existing kind or op holds (a batch's records included). A replica meets
// a kind or op it does not know (a newer leader's) by stopping
// (ErrUnknownRecord) rather than skipping it; a changed body it would
// refuse as malformed (ErrBadRecord) and skip, diverging.
const (
	kindJournal = 'J'
	kindSession = 'S'
	kindBatch   = 'B'
	kindGroup   = 'G'

	opSender  = 's'
	opTarget  = 't'
	opCreated = 'c'
	opMessage = 'm'
	opSent    = 'n'
	opReset   = 'r'
	opReserve = 'v'
)

// Limits checked by the decoder.
const (
	// maxSeqNum bounds sequence numbers and reservations so that they
	// fit an int on every platform quickfix runs on.
	maxSeqNum = 1<<31 - 1
	// maxSessionID bounds a session id (a quickfix SessionID string).
	maxSessionID = 1024
	// maxOwner bounds a reservation's owner (a node ID and its term);
	// the snapshot encodes its length in 16 bits.
	maxOwner = 1024
	// journalHeader is the size of a journal record before its body.
	journalHeader = 1 + 1 + 8
	// maxBatch bounds the records of a batch.
	maxBatch = 1<<16 - 1
)

// record is a decoded State record. Byte slices alias the encoding.
type record struct {
	kind byte

	// kindJournal
	typ  byte
	time int64
	body []byte

	// kindSession
	op      byte
	session string
	n       uint64 // next, MsgSeqNum or reservation
	stamp   int64  // creation time
	msg     []byte
	clean   bool
	owner   string

	// kindBatch: session records, in order; kindGroup: journal records
	batch []record
}

// appendJournalRecord appends the encoding of a journal record.
func appendJournalRecord(dst []byte, typ byte, time int64, body []byte) []byte {
	dst = append(dst, kindJournal, typ)
	dst = binary.BigEndian.AppendUint64(dst, uint64(time))
	return append(dst, body...)
}

// appendSessionHeader appends the start of a session store record.
func appendSessionHeader(dst []byte, op byte, session string) []byte {
	dst = append(dst, kindSession, op)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(session)))
	return append(dst, session...)
}

// sessionRecord encodes a session op whose body is one u64 (or i64) and
// an optional message.
func sessionRecord(op byte, session string, v uint64, msg []byte) []byte {
	b := make([]byte, 0, 2+2+len(session)+8+len(msg))
	b = appendSessionHeader(b, op, session)
	b = binary.BigEndian.AppendUint64(b, v)
	return append(b, msg...)
}

// reserveRecord encodes a reservation.
func reserveRecord(session string, reserved uint64, clean bool, owner string) []byte {
	b := make([]byte, 0, 2+2+len(session)+9+len(owner))
	b = appendSessionHeader(b, opReserve, session)
	b = binary.BigEndian.AppendUint64(b, reserved)
	mark := byte(0)
	if clean {
		mark = 1
	}
	b = append(b, mark)
	return append(b, owner...)
}

// batchHeader is the size of a batch before its records.
const batchHeader = 1 + 2

// appendBatchRecord appends rec, a session record, to the batch being
// built in dst (started with batchHeader bytes by the caller) and counts it
// in the header.
func appendBatchRecord(dst, rec []byte) []byte {
	binary.BigEndian.PutUint16(dst[1:], binary.BigEndian.Uint16(dst[1:])+1)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(rec)))
	return append(dst, rec...)
}

// newBatch returns an empty batch with room for size bytes.
func newBatch(size int) []byte {
	return append(make([]byte, 0, batchHeader+size), kindBatch, 0, 0)
}

// newGroup returns an empty journal group with room for size bytes; its
// records are appended as a batch's (appendBatchRecord).
func newGroup(size int) []byte {
	return append(make([]byte, 0, batchHeader+size), kindGroup, 0, 0)
}

// decodeBatch decodes a batch's records, each a session record, or a
// journal group's, each a journal record (b[0] says which).
func decodeBatch(b []byte) (record, error) {
	r := record{kind: b[0]}
	sub := byte(kindSession)
	if r.kind == kindGroup {
		sub = kindJournal
	}
	if len(b) < batchHeader {
		return r, fmt.Errorf("%w: batch of %d bytes", ErrBadRecord, len(b))
	}
	n := int(binary.BigEndian.Uint16(b[1:]))
	if n == 0 {
		return r, fmt.Errorf("%w: empty batch", ErrBadRecord)
	}
	rest := b[batchHeader:]
	if len(rest) < n*(4+4) { // every record has a length and at least 4 bytes
		return r, fmt.Errorf("%w: batch of %d records in %d bytes", ErrBadRecord, n, len(rest))
	}
	r.batch = make([]record, 0, n)
	for i := range n {
		if len(rest) < 4 {
			return r, fmt.Errorf("%w: batch record %d: no length", ErrBadRecord, i)
		}
		l := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(l) > uint64(len(rest)) {
			return r, fmt.Errorf("%w: batch record %d of %d bytes in %d", ErrBadRecord, i, l, len(rest))
		}
		if l == 0 || rest[0] != sub {
			return r, fmt.Errorf("%w: batch record %d is not a %q record", ErrBadRecord, i, sub)
		}
		rec, err := decodeRecord(rest[:l])
		if err != nil {
			return r, fmt.Errorf("batch record %d: %w", i, err)
		}
		r.batch = append(r.batch, rec)
		rest = rest[l:]
	}
	if len(rest) != 0 {
		return r, fmt.Errorf("%w: %d bytes after a batch's records", ErrBadRecord, len(rest))
	}
	return r, nil
}

// decodeRecord decodes and validates one record. Every replica of one
// version decodes the same bytes to the same result, so a record refused
// as malformed (ErrBadRecord) is refused everywhere; one of a kind or op
// this version does not know (ErrUnknownRecord) may be a newer version's.
func decodeRecord(b []byte) (record, error) {
	var r record
	if len(b) == 0 {
		return r, fmt.Errorf("%w: empty record", ErrBadRecord)
	}
	r.kind = b[0]
	switch r.kind {
	case kindJournal:
		if len(b) < journalHeader {
			return r, fmt.Errorf("%w: journal record of %d bytes", ErrBadRecord, len(b))
		}
		r.typ = b[1]
		r.time = int64(binary.BigEndian.Uint64(b[2:]))
		r.body = b[journalHeader:]
		return r, nil
	case kindBatch, kindGroup:
		return decodeBatch(b)
	case kindSession:
	default:
		return r, fmt.Errorf("%w: kind 0x%02x", ErrUnknownRecord, r.kind)
	}
	// An op this version does not know is a newer version's, whatever its
	// body: it is told apart before the checks of the known ops' bodies,
	// which would refuse it as malformed and let this replica skip it.
	if len(b) >= 2 && !knownOp(b[1]) {
		return r, fmt.Errorf("%w: session op 0x%02x", ErrUnknownRecord, b[1])
	}
	if len(b) < 4 {
		return r, fmt.Errorf("%w: session record of %d bytes", ErrBadRecord, len(b))
	}
	r.op = b[1]
	n := int(binary.BigEndian.Uint16(b[2:]))
	if n == 0 || n > maxSessionID || len(b) < 4+n {
		return r, fmt.Errorf("%w: session id of %d bytes in a record of %d", ErrBadRecord, n, len(b))
	}
	r.session = string(b[4 : 4+n])
	rest := b[4+n:]
	if len(rest) < 8 {
		return r, fmt.Errorf("%w: session op %q with %d bytes", ErrBadRecord, r.op, len(rest))
	}
	v := binary.BigEndian.Uint64(rest)
	rest = rest[8:]
	switch r.op {
	case opSender, opTarget:
		if len(rest) != 0 || v == 0 || v > maxSeqNum {
			return r, fmt.Errorf("%w: session op %q: next %d, %d trailing bytes", ErrBadRecord, r.op, v, len(rest))
		}
		r.n = v
	case opCreated, opReset:
		if len(rest) != 0 {
			return r, fmt.Errorf("%w: session op %q: %d trailing bytes", ErrBadRecord, r.op, len(rest))
		}
		r.stamp = int64(v)
	case opMessage, opSent:
		if v == 0 || v > maxSeqNum {
			return r, fmt.Errorf("%w: session op %q: MsgSeqNum %d", ErrBadRecord, r.op, v)
		}
		r.n, r.msg = v, rest
	case opReserve:
		if len(rest) < 1 || rest[0] > 1 || len(rest)-1 > maxOwner || v == 0 || v > maxSeqNum {
			return r, fmt.Errorf("%w: reservation %d with %d more bytes", ErrBadRecord, v, len(rest))
		}
		r.n, r.clean, r.owner = v, rest[0] == 1, string(rest[1:])
	}
	return r, nil
}

// knownOp reports whether op is a session store op of this version.
func knownOp(op byte) bool {
	switch op {
	case opSender, opTarget, opCreated, opMessage, opSent, opReset, opReserve:
		return true
	}
	return false
}

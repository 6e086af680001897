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
const (
	kindJournal = 'J'
	kindSession = 'S'

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
	// journalHeader is the size of a journal record before its body.
	journalHeader = 1 + 1 + 8
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

// decodeRecord decodes and validates one record. Every replica decodes
// the same bytes to the same result, so a record refused here is refused
// everywhere.
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
	case kindSession:
	default:
		return r, fmt.Errorf("%w: unknown kind 0x%02x", ErrBadRecord, r.kind)
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
		if len(rest) < 1 || rest[0] > 1 || v == 0 || v > maxSeqNum {
			return r, fmt.Errorf("%w: reservation %d with %d more bytes", ErrBadRecord, v, len(rest))
		}
		r.n, r.clean, r.owner = v, rest[0] == 1, string(rest[1:])
	default:
		return r, fmt.Errorf("%w: unknown session op 0x%02x", ErrBadRecord, r.op)
	}
	return r, nil
}

package cluster

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"slices"
	"strings"

	"sgw/atrest"
	"sgw/internal/binread"
)

// Snapshot encoding of a State, version 1 or 3 (2 is read). Integers are
// big-endian.
//
//	"SGWSTATE" | u16 version (1, or 3 with a record key) | u64 applied index
//	versions 2 and 3: u16 len | the current record key's header (seal.go)
//	version 3 only: u8 1 if its counters rise in log order (keyOrdered),
//	    else 0 | u64 the highest counter opened under it |
//	    u32 count | count × the header of a record key applied before it,
//	    ascending (atrest.HeaderSize bytes each)
//	u64 journal record count, then per record:
//	    u64 Raft index | u8 type | i64 time | u32 len | body
//	u32 session count, then per session, in id order:
//	    u16 len | id | u64 next sender | u64 next target | i64 created |
//	    u8 flags (1: has reservation, 2: clean) | u64 reserved |
//	    u16 len | owner | u32 message count, then per message, in seq order:
//	        u64 MsgSeqNum | u32 len | message
//	u32 CRC-32C of everything before it
//
// Journal seqs are not stored: they are dense from 1. Version 3 adds what
// refuses a replayed record (seal.go); a version 2 snapshot, written
// before, restores as one that opened no record under its key and applied
// none before it. With a key ring the
// whole encoding is sealed: "SGWSEALD" | atrest.SealBlob(context
// "SGWSEALD", encoding).
const (
	snapshotMagic   = "SGWSTATE"
	snapshotVersion = 1
	// snapshotKeyedV2 is the first version that carries a record key,
	// still read.
	snapshotKeyedV2 = 2
	// snapshotKeyed is the version written with a record key: it carries
	// the replay check's state too.
	snapshotKeyed = 3

	flagReservation = 1
	flagClean       = 2
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Snapshot implements StateMachine: a point-in-time copy of the State,
// taken in a time that grows with the number of sessions only. It shares
// the journal records and the sessions' stored messages, which later
// Applies never change in place (State, msgLog); its WriteTo encodes them.
// A stopped replica (Err) takes none: Raft counts the entries after the
// record it could not open as applied, and a snapshot labelled with their
// index would let Raft drop the log this replica never applied.
func (s *State) Snapshot() (io.WriterTo, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return nil, fmt.Errorf("cluster: no snapshot of a replica that stopped applying: %w", s.err)
	}
	p := &stateSnapshot{
		keys: s.keys, applied: s.applied, inHeader: s.inHeader,
		opened: s.opened, ordered: s.ordered, spent: slices.Clone(s.spent), // applyKey inserts into spent in place
		records:  s.records.view(),
		sessions: make([]sessionSnapshot, 0, len(s.sessions)),
	}
	for id, ss := range s.sessions {
		c := sessionSnapshot{id: id, state: *ss}
		c.state.messages = msgLog{}
		c.msgs = ss.messages.view()
		p.sessions = append(p.sessions, c)
	}
	slices.SortFunc(p.sessions, func(a, b sessionSnapshot) int { return strings.Compare(a.id, b.id) })
	return p, nil
}

// stateSnapshot is a State as Snapshot took it. Its slices are shared with
// the State and only read. WriteTo may run on any goroutine.
type stateSnapshot struct {
	keys     *atrest.KeyRing // nil: written plain
	applied  uint64
	inHeader []byte
	opened   uint64
	ordered  bool
	spent    [][]byte
	records  recView
	sessions []sessionSnapshot // in id order
}

// sessionSnapshot is one session of a stateSnapshot.
type sessionSnapshot struct {
	id    string
	state sessionState // its scalars; messages is empty
	msgs  msgLog       // a view of the messages held
}

// WriteTo implements io.WriterTo: it writes the snapshot's encoding,
// sealed whole when the State has a key ring.
func (p *stateSnapshot) WriteTo(w io.Writer) (int64, error) {
	b, err := p.encode()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// encode returns the snapshot's encoding (see the format above).
func (p *stateSnapshot) encode() ([]byte, error) {
	size := len(snapshotMagic) + 2 + 8 + 2 + len(p.inHeader) + 1 + 8 + 4 + len(p.spent)*atrest.HeaderSize + 8 + 4 + 4
	for i := range p.records.n {
		size += 8 + 1 + 8 + 4 + int(p.records.meta(i).len)
	}
	for _, ss := range p.sessions {
		size += 2 + len(ss.id) + 8 + 8 + 8 + 1 + 8 + 2 + len(ss.state.owner) + 4
		for i := range ss.msgs.n {
			size += 8 + 4 + int(ss.msgs.meta(i).len)
		}
	}
	b := make([]byte, 0, size)
	b = append(b, snapshotMagic...)
	if p.inHeader == nil {
		b = binary.BigEndian.AppendUint16(b, snapshotVersion)
		b = binary.BigEndian.AppendUint64(b, p.applied)
	} else {
		b = binary.BigEndian.AppendUint16(b, snapshotKeyed)
		b = binary.BigEndian.AppendUint64(b, p.applied)
		b = binary.BigEndian.AppendUint16(b, uint16(len(p.inHeader)))
		b = append(b, p.inHeader...)
		var ordered byte
		if p.ordered {
			ordered = 1
		}
		b = append(b, ordered)
		b = binary.BigEndian.AppendUint64(b, p.opened)
		b = binary.BigEndian.AppendUint32(b, uint32(len(p.spent)))
		for _, h := range p.spent {
			b = append(b, h...)
		}
	}
	b = binary.BigEndian.AppendUint64(b, uint64(p.records.n))
	for i := range p.records.n {
		r := p.records.record(i)
		b = binary.BigEndian.AppendUint64(b, p.records.meta(i).index)
		b = append(b, r.Type)
		b = binary.BigEndian.AppendUint64(b, uint64(r.Time))
		b = binary.BigEndian.AppendUint32(b, uint32(len(r.Body)))
		b = append(b, r.Body...)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(len(p.sessions)))
	for _, c := range p.sessions {
		ss := &c.state
		b = binary.BigEndian.AppendUint16(b, uint16(len(c.id)))
		b = append(b, c.id...)
		b = binary.BigEndian.AppendUint64(b, ss.nextSender)
		b = binary.BigEndian.AppendUint64(b, ss.nextTarget)
		b = binary.BigEndian.AppendUint64(b, uint64(ss.created))
		var flags byte
		if ss.hasReservation {
			flags |= flagReservation
		}
		if ss.clean {
			flags |= flagClean
		}
		b = append(b, flags)
		b = binary.BigEndian.AppendUint64(b, ss.reserved)
		b = binary.BigEndian.AppendUint16(b, uint16(len(ss.owner)))
		b = append(b, ss.owner...)
		b = binary.BigEndian.AppendUint32(b, uint32(c.msgs.n))
		for i := range c.msgs.n {
			seq, m := c.msgs.at(i)
			b = binary.BigEndian.AppendUint64(b, seq)
			b = binary.BigEndian.AppendUint32(b, uint32(len(m)))
			b = append(b, m...)
		}
	}
	b = binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
	if p.keys == nil {
		return b, nil
	}
	sealed, err := p.keys.SealBlob([]byte(sealedSnapshotMagic), b)
	if err != nil {
		return nil, fmt.Errorf("cluster: seal state snapshot: %w", err)
	}
	return append([]byte(sealedSnapshotMagic), sealed...), nil
}

// Restore implements StateMachine: it replaces the whole State with the
// one encoded in r. On error the State is unchanged. With a key ring a
// plain snapshot is refused (ErrPlain), as a plain record is (Apply).
func (s *State) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("cluster: read state snapshot: %w", err)
	}
	if bytes.HasPrefix(b, []byte(sealedSnapshotMagic)) {
		if s.keys == nil {
			return fmt.Errorf("cluster: a sealed state snapshot and no storage.encryption: %w", atrest.ErrKey)
		}
		if b, err = s.keys.OpenBlob([]byte(sealedSnapshotMagic), b[len(sealedSnapshotMagic):]); err != nil {
			return fmt.Errorf("cluster: open state snapshot: %w", err)
		}
	} else if s.keys != nil {
		return fmt.Errorf("cluster: a plain state snapshot and storage.encryption: %w", atrest.ErrPlain)
	}
	st, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	var in *atrest.Sealer
	if st.inHeader != nil {
		if s.keys == nil {
			return fmt.Errorf("cluster: a state snapshot with a record key and no storage.encryption: %w", atrest.ErrKey)
		}
		if in, err = s.keys.OpenHeader(st.inHeader, []byte(sealContext)); err != nil {
			return fmt.Errorf("cluster: state snapshot: record key: %w", err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.records, s.sessions, s.applied = st.records, st.sessions, st.applied
	s.in, s.inHeader, s.own, s.counter = in, st.inHeader, false, 0
	s.opened, s.ordered, s.spent = st.opened, st.ordered, st.spent
	s.err = nil // the snapshot replaces everything, the record that stopped this replica too
	return nil
}

// decodeSnapshot decodes and validates a snapshot encoding into a new
// State. The records' bodies and the messages are slices of b, which the
// caller hands over: b must never change after. (b is the records' only
// arena, or several windows of it beyond 4 GiB: journalRecs.addShared;
// each session's messages likewise, msgLog.addShared.)
func decodeSnapshot(b []byte) (*State, error) {
	const trailer = 4
	if len(b) < len(snapshotMagic)+2+trailer || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: no %s header", ErrBadSnapshot, snapshotMagic)
	}
	v := binary.BigEndian.Uint16(b[len(snapshotMagic):])
	if v != snapshotVersion && v != snapshotKeyedV2 && v != snapshotKeyed {
		return nil, fmt.Errorf("%w: version %d, this build reads %d, %d and %d", ErrBadSnapshot, v, snapshotVersion, snapshotKeyedV2, snapshotKeyed)
	}
	body := b[:len(b)-trailer]
	if got, want := crc32.Checksum(body, castagnoli), binary.BigEndian.Uint32(b[len(b)-trailer:]); got != want {
		return nil, fmt.Errorf("%w: checksum %08x, want %08x", ErrBadSnapshot, got, want)
	}
	r := binread.New(body)
	r.Bytes(len(snapshotMagic)+2, "header") // read above
	st := NewState()
	st.applied = r.Uint64BE("applied index")
	if v == snapshotKeyedV2 || v == snapshotKeyed {
		if n := int(r.Uint16BE("record key length")); r.Err() == nil && n != atrest.HeaderSize {
			r.Fail(fmt.Sprintf("record key of %d bytes", n))
		} else {
			st.inHeader = slices.Clone(r.Bytes(n, "record key"))
		}
	}
	if v == snapshotKeyed {
		switch o := r.Byte("record key ordered"); o {
		case 0, 1:
			st.ordered = o == 1
		default:
			r.Fail(fmt.Sprintf("record key ordered flag %d", o))
		}
		st.opened = r.Uint64BE("counter opened")
		n := r.Count(uint64(r.Uint32BE("earlier record key count")), atrest.HeaderSize, "earlier record keys")
		for range n {
			h := r.Bytes(atrest.HeaderSize, "earlier record key")
			if r.Err() != nil {
				break
			}
			if k := len(st.spent); bytes.Equal(h, st.inHeader) || (k > 0 && bytes.Compare(h, st.spent[k-1]) <= 0) {
				r.Fail(fmt.Sprintf("earlier record key %d repeated or out of order", k))
				break
			}
			st.spent = append(st.spent, slices.Clone(h))
		}
	}
	n := r.Count(r.Uint64BE("record count"), 8+1+8+4, "journal records")
	var prevIdx uint64
	for i := range n {
		idx := r.Uint64BE("record index")
		typ := r.Byte("record type")
		t := int64(r.Uint64BE("record time"))
		size := int(r.Uint32BE("record length"))
		off := r.Offset()
		r.Bytes(size, "record body")
		if r.Err() != nil {
			break
		}
		// A batch's journal records share its index (an earlier build
		// wrote strictly rising ones).
		if idx < prevIdx || idx == 0 || idx > st.applied {
			r.Fail(fmt.Sprintf("record %d at index %d after index %d, applied %d", i+1, idx, prevIdx, st.applied))
			break
		}
		st.records.addShared(idx, typ, t, b, off, size, maxArenaOffset)
		prevIdx = idx
	}
	ns := r.Count(uint64(r.Uint32BE("session count")), 2+8+8+8+1+8+2+4, "sessions")
	prev := ""
	for i := range ns {
		id := string(r.Bytes(int(r.Uint16BE("session id length")), "session id"))
		if r.Err() == nil && (id == "" || len(id) > maxSessionID || (i > 0 && id <= prev)) {
			r.Fail(fmt.Sprintf("session %d id %q after %q", i, id, prev))
		}
		prev = id
		ss := newSessionState()
		ss.nextSender = r.Uint64BE("next sender")
		ss.nextTarget = r.Uint64BE("next target")
		ss.created = int64(r.Uint64BE("created"))
		flags := r.Byte("flags")
		ss.reserved = r.Uint64BE("reserved")
		ss.owner = string(r.Bytes(int(r.Uint16BE("owner length")), "owner"))
		if r.Err() == nil && (flags&^(flagReservation|flagClean) != 0 ||
			ss.nextSender == 0 || ss.nextTarget == 0 || ss.nextTarget > maxSeqNum ||
			ss.reserved > maxSeqNum || (flags&flagReservation != 0) != (ss.reserved != 0)) {
			r.Fail(fmt.Sprintf("session %q: flags %x, next %d/%d, reserved %d", id, flags, ss.nextSender, ss.nextTarget, ss.reserved))
		}
		ss.hasReservation, ss.clean = flags&flagReservation != 0, flags&flagClean != 0
		nm := r.Count(uint64(r.Uint32BE("message count")), 8+4, "messages")
		var last uint64
		for range nm {
			seq := r.Uint64BE("message seq")
			size := int(r.Uint32BE("message length"))
			off := r.Offset()
			r.Bytes(size, "message")
			if r.Err() == nil && (seq == 0 || seq > maxSeqNum || seq <= last) {
				r.Fail(fmt.Sprintf("session %q: message %d after %d", id, seq, last))
			}
			if r.Err() != nil {
				break
			}
			last = seq
			ss.messages.addShared(seq, b, off, size, maxArenaOffset)
		}
		if r.Err() != nil {
			break
		}
		st.sessions[id] = ss
	}
	if r.Err() == nil && r.Len() != 0 {
		r.Fail(fmt.Sprintf("%d trailing bytes", r.Len()))
	}
	if err := r.Err(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	return st, nil
}

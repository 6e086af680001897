package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"sgw/atrest"
)

// Sealing at rest. With a key ring (NewSealedState) every record a
// leader appends is sealed with SM4-GCM under a record key of its term,
// so the Raft log and snapshots on each member's disk hold no order,
// account or FIX message in the clear. Two more kinds of record:
//
//	'K' record key: a sealed header (atrest.NewHeader, context
//	    sealContext): names the master key and carries the salt the
//	    term's record key derives from
//	'E' sealed record: u64 counter | SM4-GCM of a 'J', 'S' or 'B' record,
//	    nonce (0, counter), the first 9 bytes as additional data
//
// A leader appends its 'K' at the start of its term (BeginTerm) and seals
// only under its own key, with a counter that never repeats under it (the
// key is new each term: a random salt). Every replica opens an 'E' with
// the key of the last 'K' it applied, which the log orders before it: a
// new leader's 'K' follows every entry of earlier terms. A replica that
// cannot open a record (its key ring lacks the key, or a record does not
// verify) stops applying (State.Err) rather than diverge; it cannot lead.
//
// Snapshots with a key ring are sealed whole (atrest.SealBlob, context
// sealedSnapshotMagic) and carry the current record key's header.
const (
	kindKey    = 'K'
	kindSealed = 'E'

	sealContext         = "sgw cluster record key v1"
	sealedSnapshotMagic = "SGWSEALD"
	sealedHeader        = 1 + 8 // kind and counter: the additional data
)

// ErrNoRecordKey is returned when a record is sealed on a node that has
// not appended its term's record key (BeginTerm) or lost it to a newer
// one.
var ErrNoRecordKey = errors.New("cluster: no record key of this term (BeginTerm first)")

// NewSealedState returns an empty State that seals records and snapshots
// with keys (see seal.go); nil keys is NewState.
func NewSealedState(keys *atrest.KeyRing) *State {
	s := NewState()
	s.keys = keys
	return s
}

// Err returns the error that stopped this replica applying records (a
// record it could not open), or nil.
func (s *State) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// BeginTerm appends this leader's record key (a 'K' record) and waits
// until it is committed and applied; records are sealed under it from
// then on. Without a key ring it does nothing. Call it when a term
// starts, before anything appends.
func (s *State) BeginTerm(n *Node) error {
	if s.keys == nil {
		return nil
	}
	if err := s.Err(); err != nil {
		return err
	}
	h, _, err := s.keys.NewHeader([]byte(sealContext))
	if err != nil {
		return fmt.Errorf("cluster: record key: %w", err)
	}
	s.mu.Lock()
	s.mine = h
	s.mu.Unlock()
	if _, err := n.Apply(append([]byte{kindKey}, h...), 0); err != nil {
		return fmt.Errorf("cluster: record key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.own || !bytes.Equal(s.inHeader, h) {
		return fmt.Errorf("cluster: record key: %w", ErrNoRecordKey)
	}
	return nil
}

// seal returns rec sealed under this term's record key, or rec itself
// without a key ring. Any goroutine.
func (s *State) seal(rec []byte) ([]byte, error) {
	if s.keys == nil {
		return rec, nil
	}
	s.mu.Lock()
	if !s.own || s.err != nil {
		s.mu.Unlock()
		return nil, ErrNoRecordKey
	}
	s.counter++
	c, sealer := s.counter, s.in
	s.mu.Unlock()
	out := make([]byte, sealedHeader, sealedHeader+len(rec)+atrest.Overhead)
	out[0] = kindSealed
	binary.BigEndian.PutUint64(out[1:], c)
	nonce := atrest.MakeNonce(0, c)
	return sealer.Seal(out, &nonce, rec, out[:sealedHeader]), nil
}

// applyKey applies a 'K' record; s.mu held.
func (s *State) applyKey(h []byte) error {
	if len(h) != atrest.HeaderSize {
		return fmt.Errorf("%w: record key of %d bytes", ErrBadRecord, len(h))
	}
	if s.keys == nil {
		return fmt.Errorf("cluster: a sealed cluster's record key reached a member without storage.encryption: %w", atrest.ErrKey)
	}
	sealer, err := s.keys.OpenHeader(h, []byte(sealContext))
	if err != nil {
		return fmt.Errorf("cluster: record key: %w", err)
	}
	s.in, s.inHeader = sealer, bytes.Clone(h)
	s.own = s.mine != nil && bytes.Equal(s.mine, h)
	s.counter = 0
	return nil
}

// openSealed returns the record an 'E' record seals; s.mu held.
func (s *State) openSealed(b []byte) ([]byte, error) {
	if len(b) < sealedHeader+atrest.Overhead {
		return nil, fmt.Errorf("%w: sealed record of %d bytes", ErrBadRecord, len(b))
	}
	if s.in == nil {
		return nil, fmt.Errorf("cluster: a sealed record before any record key: %w", atrest.ErrKey)
	}
	nonce := atrest.MakeNonce(0, binary.BigEndian.Uint64(b[1:]))
	rec, err := s.in.Open(nil, &nonce, b[sealedHeader:], b[:sealedHeader])
	if err != nil {
		return nil, fmt.Errorf("cluster: sealed record: %w", err)
	}
	if len(rec) > 0 && (rec[0] == kindKey || rec[0] == kindSealed) {
		return nil, fmt.Errorf("%w: a sealed record seals a %q record", ErrBadRecord, rec[0])
	}
	return rec, nil
}

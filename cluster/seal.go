package cluster

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"sgw/atrest"
)

// Sealing at rest. With a key ring (NewSealedState) every record a
// leader appends is sealed with SM4-GCM under a record key of its term,
// so the Raft log and snapshots on each member's disk hold no order,
// account or FIX message in the clear. Two more kinds of record:
//
//	'K' record key: a sealed header (atrest.NewHeader, context
//	    sealContext): names the master key and carries the salt the
//	    term's record key derives from; then the byte keyOrdered
//	'E' sealed record: u64 counter | SM4-GCM of a 'J', 'S', 'B' or 'G' record,
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
// Replays. Someone able to write a member's Raft log could copy a genuine
// entry again further on; it would verify. A replica refuses it instead:
// the counters of the 'E' records under one key strictly increase in log
// order, so an 'E' whose counter is not above the last one opened under
// the current key is a copy, and a 'K' applied before (the current key or
// an earlier one, which would bring back an old term's records) is too.
// Either stops the replica as a record it cannot open does (ErrReplayed).
// The counters increase in log order because the leader takes each one
// in the same step as the record's submission to Raft: seal runs under
// the Node's pipeline mutex (Node.applyAsync, Node.apply) right before
// raft.Apply, which only enqueues the entry on Raft's apply channel; the
// one Raft goroutine that reads the channel appends what it reads in that
// order, each at the next index. A record Raft refuses (not the leader,
// step-down, enqueue timeout) or a leader loses leaves a gap, never a step
// back: entries of one term keep their order in every log, and a later
// term's entries follow an earlier term's. BeginTerm ends sealing under
// the previous key in the same step as it submits its 'K', so nothing
// sealed under the previous key follows it. The last counter opened and
// the keys applied before are in snapshots (state_snapshot.go), so a
// replica restored from one refuses a copy of a record before it.
//
// Snapshots with a key ring are sealed whole (atrest.SealBlob, context
// sealedSnapshotMagic) and carry the current record key's header.
const (
	kindKey    = 'K'
	kindSealed = 'E'
	// keyOrdered ends a 'K' record whose leader takes each counter in the
	// step that submits the record (below): under it, counters rise in
	// log order and a replica refuses one that does not. A 'K' without it
	// (header alone) was written by an earlier build, which sealed before
	// submitting; under such a key only repeated record keys are refused.
	keyOrdered = 1

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
// starts, before anything appends. A replica that stopped applying
// records (Err) cannot lead: BeginTerm fails with the reason.
func (s *State) BeginTerm(n *Node) error {
	if err := s.Err(); err != nil {
		return fmt.Errorf("cluster: this replica stopped applying records: %w", err)
	}
	if s.keys == nil {
		return nil
	}
	h, _, err := s.keys.NewHeader([]byte(sealContext))
	if err != nil {
		return fmt.Errorf("cluster: record key: %w", err)
	}
	// In the step that submits the 'K', this process stops sealing under
	// its previous key (if it led before): every record sealed under that
	// key precedes the 'K' in the log.
	begin := func(rec []byte) ([]byte, error) {
		s.mu.Lock()
		s.mine, s.own = h, false
		s.mu.Unlock()
		return rec, nil
	}
	if _, err := n.apply(append(append([]byte{kindKey}, h...), keyOrdered), begin, 0); err != nil {
		return fmt.Errorf("cluster: record key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.own || !bytes.Equal(s.inHeader, h) {
		return fmt.Errorf("cluster: record key: %w", ErrNoRecordKey)
	}
	return nil
}

// seal returns rec sealed under this term's record key with the next
// counter, or rec itself without a key ring. The counters must reach the
// log in the order seal hands them out, so only the Node calls it, in the
// same step as the record's submission (the seal argument of
// Node.applyAsync and Node.apply); tests of a State alone call it directly.
// Takes s.mu.
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

// applyKey applies a 'K' record's body at index; s.mu held. A key applied
// before, current or earlier, is a replay.
func (s *State) applyKey(index uint64, b []byte) error {
	var ordered bool
	switch {
	case len(b) == atrest.HeaderSize:
		// Written by a build that sealed before submitting, outside the
		// pipeline's mutex: its counters may reach the log out of order.
	case len(b) == atrest.HeaderSize+1 && b[atrest.HeaderSize] == keyOrdered:
		ordered = true
	default:
		return fmt.Errorf("%w: record key of %d bytes", ErrBadRecord, len(b))
	}
	h := b[:atrest.HeaderSize]
	if s.keys == nil {
		return fmt.Errorf("cluster: a sealed cluster's record key reached a member without storage.encryption: %w", atrest.ErrKey)
	}
	if _, spent := slices.BinarySearchFunc(s.spent, h, bytes.Compare); spent || bytes.Equal(h, s.inHeader) {
		return fmt.Errorf("cluster: record key at index %d applied before: %w", index, ErrReplayed)
	}
	sealer, err := s.keys.OpenHeader(h, []byte(sealContext))
	if err != nil {
		return fmt.Errorf("cluster: record key: %w", err)
	}
	if s.inHeader != nil {
		i, _ := slices.BinarySearchFunc(s.spent, s.inHeader, bytes.Compare)
		s.spent = slices.Insert(s.spent, i, s.inHeader)
	}
	s.in, s.inHeader = sealer, bytes.Clone(h)
	s.own = s.mine != nil && bytes.Equal(s.mine, h)
	s.counter, s.opened, s.ordered = 0, 0, ordered
	return nil
}

// openSealed returns the record an 'E' record at index seals; s.mu held.
// A counter not above the last one opened under the current key is a
// replay: a genuine record's is above it (see the comment at the top).
func (s *State) openSealed(index uint64, b []byte) ([]byte, error) {
	if len(b) < sealedHeader+atrest.Overhead {
		return nil, fmt.Errorf("%w: sealed record of %d bytes", ErrBadRecord, len(b))
	}
	if s.in == nil {
		return nil, fmt.Errorf("cluster: a sealed record before any record key: %w", atrest.ErrKey)
	}
	c := binary.BigEndian.Uint64(b[1:])
	nonce := atrest.MakeNonce(0, c)
	rec, err := s.in.Open(nil, &nonce, b[sealedHeader:], b[:sealedHeader])
	if err != nil {
		return nil, fmt.Errorf("cluster: sealed record: %w", err)
	}
	if c <= s.opened && s.ordered {
		return nil, fmt.Errorf("cluster: sealed record at index %d has counter %d, %d was opened under this record key: %w", index, c, s.opened, ErrReplayed)
	}
	s.opened = max(s.opened, c)
	if len(rec) > 0 && (rec[0] == kindKey || rec[0] == kindSealed) {
		return nil, fmt.Errorf("%w: a sealed record seals a %q record", ErrBadRecord, rec[0])
	}
	return rec, nil
}

package cluster

import (
	"errors"
	"fmt"
	"sync"

	"sgw/atrest"
	"sgw/journal"
)

// State is the gateway's replicated state: the order journal's records
// and the upstream FIX sessions' stores (sequence numbers, messages sent,
// reservation), built by applying the records of record.go in log order.
// Every replica holds the same State at the same applied index.
//
// Lock contract: Apply, Snapshot and Restore are called by Raft's FSM
// goroutine, one at a time. Readers (Replay, the session stores' open, the
// Journal's sequence lookup) run on other goroutines. Every access to the
// fields below holds mu; mu is never held while calling out (Replay calls
// its fn without it), so a reader may do anything in its callback.
// Journal records are append-only and never changed once applied, which is
// what lets Replay iterate them without the lock, and a snapshot share them
// (state_records.go, state_snapshot.go); a session's stored messages are
// shared the same way (msgLog, state_messages.go).
// seal takes mu under the Node's pipeline mutex (seal.go); nothing holding
// mu takes that mutex.
type State struct {
	mu       sync.Mutex
	records  journalRecs // dense seqs from 1, with their Raft indexes
	sessions map[string]*sessionState
	applied  uint64 // Raft index of the last record applied

	// Sealing (seal.go); keys is set at construction and never changes.
	keys     *atrest.KeyRing
	in       *atrest.Sealer // the last record key applied; nil before one
	inHeader []byte         // its header
	mine     []byte         // the record key this process appended last (BeginTerm)
	own      bool           // in is mine: this process may seal under it
	counter  uint64         // the last nonce counter sealed under in (own only)
	opened   uint64         // the highest counter of a record opened under in
	ordered  bool           // in's counters rise in log order: a repeat is a replay (keyOrdered)
	spent    [][]byte       // the headers of the record keys applied before in, ascending
	err      error          // sticky: a record this replica could not open or does not know

	onStop func(error) // set before use (OnStop); called outside mu
}

// sessionState is one upstream session's store as replicated.
type sessionState struct {
	nextSender uint64
	nextTarget uint64
	created    int64 // Unix ns
	messages   msgLog

	hasReservation bool
	reserved       uint64
	clean          bool
	owner          string
}

func newSessionState() *sessionState {
	return &sessionState{nextSender: 1, nextTarget: 1}
}

var _ StateMachine = (*State)(nil)

// NewState returns an empty State.
func NewState() *State {
	return &State{records: newJournalRecs(), sessions: map[string]*sessionState{}}
}

// Apply implements StateMachine. A record that does not decode is
// rejected with ErrBadRecord and changes nothing; every other record is
// applied. A record of a kind or op this version does not know stops the
// replica (ErrUnknownRecord, sticky): a newer leader wrote it and the
// newer members applied it. With a key ring a plain record stops the
// replica (ErrPlain, sticky): sealing would otherwise hide the records,
// not protect them. The State's OnStop function, if any, is called once,
// when it stops, with no lock held.
func (s *State) Apply(index uint64, b []byte) error {
	stopped, err := s.apply(index, b)
	if stopped && s.onStop != nil {
		s.onStop(err)
	}
	return err
}

// OnStop sets fn to be called, on Raft's FSM goroutine with no lock held,
// when this replica stops applying records (see Err), with the reason.
// Call it before the Node starts.
func (s *State) OnStop(fn func(error)) { s.onStop = fn }

// apply is Apply; stopped reports that this record stopped the replica.
func (s *State) apply(index uint64, b []byte) (stopped bool, err error) {
	var r record
	sealed := len(b) > 0 && (b[0] == kindKey || b[0] == kindSealed)
	var derr error
	if !sealed && s.keys == nil {
		r, derr = decodeRecord(b)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	if derr != nil {
		return s.stop(fmt.Errorf("cluster: record at index %d: %w", index, derr))
	}
	if !sealed && s.keys != nil {
		// A sealed cluster's leaders append only 'K' and 'E' records: a
		// plain one was written into the log on disk, not by a leader.
		return s.stop(fmt.Errorf("cluster: a plain record at index %d of a sealed cluster: %w", index, atrest.ErrPlain))
	}
	if sealed {
		if b[0] == kindKey {
			if err := s.applyKey(index, b[1:]); err != nil {
				return s.stop(err)
			}
			s.applied = index
			return false, nil
		}
		rec, err := s.openSealed(index, b)
		if err != nil {
			return s.stop(err)
		}
		if r, err = decodeRecord(rec); err != nil {
			return s.stop(fmt.Errorf("cluster: record at index %d: %w", index, err))
		}
	}
	s.applied = index
	switch r.kind {
	case kindJournal:
		s.applyJournal(index, r)
	case kindBatch:
		for _, sub := range r.batch {
			s.applySession(sub)
		}
	case kindGroup:
		for _, sub := range r.batch {
			s.applyJournal(index, sub)
		}
	default:
		s.applySession(r)
	}
	return false, nil
}

// applyJournal appends a journal record applied at index: the next seq.
// A batch's journal records share its index. s.mu held.
func (s *State) applyJournal(index uint64, r record) {
	s.records.add(index, r.typ, r.time, r.body)
}

// stop makes err, a record this replica cannot open or does not know,
// sticky: the State applies nothing more rather than diverge from the
// others. A malformed record (ErrBadRecord) is refused the same way
// everywhere and does not stop it. s.mu held.
func (s *State) stop(err error) (stopped bool, _ error) {
	if errors.Is(err, ErrBadRecord) {
		return false, err
	}
	s.err = err
	return true, err
}

// applySession applies a session record. s.mu held.
func (s *State) applySession(r record) {
	ss := s.sessions[r.session]
	if ss == nil {
		ss = newSessionState()
		s.sessions[r.session] = ss
	}
	switch r.op {
	case opSender:
		ss.nextSender = r.n
	case opTarget:
		ss.nextTarget = r.n
	case opCreated:
		ss.created = r.stamp
	case opMessage:
		ss.messages.set(r.n, r.msg)
	case opSent:
		ss.messages.set(r.n, r.msg)
		ss.nextSender++
	case opReset:
		ss.nextSender, ss.nextTarget, ss.created = 1, 1, r.stamp
		ss.messages = msgLog{}
	case opReserve:
		ss.hasReservation, ss.reserved, ss.clean, ss.owner = true, r.n, r.clean, r.owner
	}
}

// Replay calls fn for every journal record applied, in order, with dense
// seqs from 1, and stops at fn's first error, which it returns. It holds
// no lock while calling fn; records applied during the call may or may not
// be included. fn must not modify the record's body; it may keep it (the
// State never changes a body once applied). Any goroutine.
func (s *State) Replay(fn func(journal.Record) error) error {
	return s.ReplayAfter(0, fn)
}

// ReplayAfter is Replay from the record after seq on: the records are
// dense from seq 1, so it reads nothing before them. A seq beyond the
// last record is an error: the journal never shrinks, so the caller read
// records this State does not have.
func (s *State) ReplayAfter(seq uint64, fn func(journal.Record) error) error {
	s.mu.Lock()
	v := s.records.view()
	s.mu.Unlock()
	if seq > uint64(v.n) {
		return fmt.Errorf("cluster: replay after journal record %d: only %d are applied here", seq, v.n)
	}
	for i := int(seq); i < v.n; i++ {
		if err := fn(v.record(i)); err != nil {
			return err
		}
	}
	return nil
}

// JournalLen returns how many journal records are applied.
func (s *State) JournalLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.records.n
}

// Size returns how many journal records and stored FIX messages (all
// sessions) the State holds: what it keeps in memory and writes in each
// snapshot. It grows all day (nothing is trimmed). Any goroutine.
func (s *State) Size() (records, messages int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ss := range s.sessions {
		messages += ss.messages.len()
	}
	return s.records.n, messages
}

// AppliedIndex returns the Raft index of the last record applied (or
// restored).
func (s *State) AppliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

// journalSeq returns the journal seq of the pos-th journal record applied
// at Raft index index (0 for an entry of one record; a batch's records
// share its index), if it is held.
func (s *State) journalSeq(index uint64, pos int) (uint64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v := &s.records.recView
	i := v.search(index) + pos
	if pos >= 0 && i < v.n && v.meta(i).index == index {
		return uint64(i) + 1, true
	}
	return 0, false
}

// sessionView is a copy of one session's store, for the store's open.
type sessionView struct {
	nextSender, nextTarget int
	created                int64
	messages               msgLog // a view of the State's, shared until either changes it

	hasReservation bool
	reserved       int
	clean          bool
	owner          string
}

// session returns a copy of session id's store; a session never written
// has both sequence numbers at 1 and no reservation. Its messages share
// the State's chunks and arenas (msgLog.view), so the copy costs the same
// for a session that sent a million messages as for one that sent none.
func (s *State) session(id string) sessionView {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[id]
	if ss == nil {
		ss = newSessionState()
	}
	return sessionView{
		nextSender: int(ss.nextSender), nextTarget: int(ss.nextTarget), created: ss.created,
		messages:       ss.messages.view(),
		hasReservation: ss.hasReservation, reserved: int(ss.reserved), clean: ss.clean, owner: ss.owner,
	}
}

package cluster

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/quickfixgo/quickfix"
)

// SessionStoresConfig configures SessionStores.
type SessionStoresConfig struct {
	// Node is the cluster member the stores replicate through. Required.
	Node *Node
	// State is the StateMachine Node applies to. Required.
	State *State
	// Clock stamps a new store's creation time. Nil means time.Now.
	Clock func() time.Time
	// OnFail, when set, hears of the first replication failure of each
	// open store (session is its session id). From then on the store
	// refuses every mutation, so its session can send nothing more, not
	// even a heartbeat: the caller ends the leadership term (a failure
	// because this node no longer leads, ErrNotLeader, means the term is
	// ending anyway). It is called on the Node's completer goroutine (or
	// the store's flusher), with no lock of this package held, and must
	// not block.
	OnFail func(session string, err error)
}

// SessionStores keeps the upstream FIX sessions' stores in the replicated
// State; it implements fix.SessionStores (structurally: this package does
// not import fix). Only the leader opens stores. Each store keeps its own
// in-memory copy for the session's reads (resends) and replicates its
// mutations in order without waiting: they are coalesced into one batch
// record per few milliseconds (while earlier batches are in flight), so a
// session costs the log a few entries per commit, not one per message.
// A reservation rides in that stream and is waited for until the quorum
// holds it, so it always follows the store's earlier mutations and bounds
// what a leader that crashed may have sent. The owner is the node ID and
// its leadership epoch, so a takeover by another node, or a new term on
// this one, reads as a machine restart to the fix package: it skips to
// the reservation and reports the scan as lost.
//
// All methods may be called from any goroutine.
type SessionStores struct {
	cfg SessionStoresConfig

	mu   sync.Mutex
	open map[string]*messageStore // the stores open, by session id
}

// NewSessionStores validates cfg and fills its defaults.
func NewSessionStores(cfg SessionStoresConfig) (*SessionStores, error) {
	if cfg.Node == nil || cfg.State == nil {
		return nil, errors.New("cluster: SessionStoresConfig.Node and State are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &SessionStores{cfg: cfg, open: map[string]*messageStore{}}, nil
}

// Owner returns "<node id>/<epoch>"; the epoch is 0 while this node is not
// leader (it then opens nothing).
func (s *SessionStores) Owner() string {
	return fmt.Sprintf("%s/%d", s.cfg.Node.ID(), s.cfg.Node.Epoch())
}

// sync refuses on a node that is not the leader (with its epoch
// published), then waits until everything appended before, by an earlier
// store of this node above all, is applied to the State.
func (s *SessionStores) sync() error {
	if s.cfg.Node.Epoch() == 0 {
		return fmt.Errorf("cluster: session store: %w", s.cfg.Node.notLeader())
	}
	if err := s.cfg.Node.Barrier(0); err != nil {
		return fmt.Errorf("cluster: session store: %w", err)
	}
	return nil
}

// ReadReservation returns the session's last reservation as the State
// holds it.
func (s *SessionStores) ReadReservation(sid quickfix.SessionID) (reserved int, clean bool, owner string, found bool, err error) {
	if err := s.sync(); err != nil {
		return 0, false, "", false, err
	}
	v := s.cfg.State.session(sid.String())
	return v.reserved, v.clean, v.owner, v.hasReservation, nil
}

// WriteReservation replicates a reservation and waits until it is
// committed on a quorum. While the session's store is open the
// reservation follows every mutation the store took before it, in the
// same stream; after the store's Close (which waited for them all) it is
// written on its own.
func (s *SessionStores) WriteReservation(sid quickfix.SessionID, reserved int, clean bool, owner string) error {
	if reserved <= 0 || reserved > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: reservation %d out of range", sid, reserved)
	}
	if len(owner) > maxOwner {
		return fmt.Errorf("cluster: session store %s: reservation owner of %d bytes, at most %d", sid, len(owner), maxOwner)
	}
	id := sid.String()
	rec := reserveRecord(id, uint64(reserved), clean, owner)
	s.mu.Lock()
	st := s.open[id]
	s.mu.Unlock()
	var err error
	if st != nil {
		err = st.commit(rec)
	} else {
		_, err = s.cfg.Node.apply(rec, s.cfg.State.seal, 0)
	}
	if err != nil {
		return fmt.Errorf("cluster: session store %s: reservation: %w", sid, err)
	}
	return nil
}

// Flush waits until every mutation the session's open store took so far
// is committed on a quorum and applied (its batches handed over and
// completed), and returns the store's replication failure, if any. A
// session without an open store has nothing to flush. A planned step that
// must not lose the last milliseconds of the store (a handover, a test)
// calls it; order entry never needs to.
func (s *SessionStores) Flush(sid quickfix.SessionID) error {
	s.mu.Lock()
	st := s.open[sid.String()]
	s.mu.Unlock()
	if st == nil {
		return nil
	}
	if err := st.drain(); err != nil {
		return fmt.Errorf("cluster: session store %s: flush: %w", sid, err)
	}
	return nil
}

// OpenMessages returns the session's store, starting from what the State
// holds. A store never written is created with both sequence numbers at 1.
func (s *SessionStores) OpenMessages(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	if err := s.sync(); err != nil {
		return nil, err
	}
	v := s.cfg.State.session(sid.String())
	st := s.newStore(sid.String(), v)
	if v.created == 0 {
		now := s.cfg.Clock()
		st.queue(opCreated, uint64(now.UnixNano()), nil)
		st.created = now
	}
	s.mu.Lock()
	s.open[st.id] = st
	s.mu.Unlock()
	go st.flush()
	return st, nil
}

// newStore returns session id's store holding v, not yet open: its
// flusher is not started.
func (s *SessionStores) newStore(id string, v sessionView) *messageStore {
	st := &messageStore{
		id: id, node: s.cfg.Node, seal: s.cfg.State.seal, clock: s.cfg.Clock, onFail: s.cfg.OnFail,
		nextSender: v.nextSender, nextTarget: v.nextTarget, messages: v.messages,
		created:  time.Unix(0, v.created),
		targetAt: -1, senderAt: -1,
		flushed: make(chan struct{}),
	}
	st.changed = sync.NewCond(&st.mu)
	st.closed = func() {
		s.mu.Lock()
		if s.open[st.id] == st {
			delete(s.open, st.id)
		}
		s.mu.Unlock()
	}
	return st
}

// Batching of a store's replication.
const (
	// batchesInFlight bounds a store's batches handed to the Node and
	// not yet completed; the next batch gathers mutations meanwhile.
	batchesInFlight = 2
	// batchBytes is the size past which a batch being built is closed
	// and a new one started (a batch also closes at maxBatch records).
	batchBytes = 1 << 20
)

// messageStore is one session's quickfix.MessageStore on the leader: an
// in-memory copy whose mutations are replicated asynchronously, in call
// order, in batches (flush). A mutation is refused only once an earlier
// replication failed (the State no longer follows the copy; the error is
// sticky) or after Close.
//
// Its quickfix methods are not safe for concurrent use (the fix package
// wraps the store in a LockedStore); the fields above mu are theirs. mu
// guards the fields below it, which the flusher goroutine and the Node's
// completer goroutine (through the batches' done callback) also touch; it
// is never held while calling the Node.
type messageStore struct {
	id     string
	node   *Node
	seal   func([]byte) ([]byte, error) // State.seal, passed to Node.applyAsync
	clock  func() time.Time
	closed func()                          // removes the store from SessionStores.open
	onFail func(session string, err error) // SessionStoresConfig.OnFail; may be nil

	nextSender, nextTarget int
	created                time.Time
	messages               msgLog // from the State's view (msgLog.view)

	mu        sync.Mutex
	changed   *sync.Cond // a mutation queued, a batch completed, Close
	batches   [][]byte   // closed batches and, last, the one being built
	targetAt  int        // offset in the last batch of its last 't' record's value, or -1
	senderAt  int        // offset of the last batch's last record's value if it is 's', or -1
	taken     uint64     // batches handed to the Node
	completed uint64     // batches completed (or refused)
	err       error      // first replication failure; sticky
	closing   bool
	flushed   chan struct{} // closed when the flusher returns
}

// queue adds a session record (op, v, msg) to the batch being built.
// Consecutive next-sender records, and next-target records since the last
// reset, collapse into one: only their last value matters to the State.
func (s *messageStore) queue(op byte, v uint64, msg []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refusal(); err != nil {
		return fmt.Errorf("cluster: session store %s: %w", s.id, err)
	}
	s.add(op, v, msg)
	return nil
}

// refusal returns why the store takes no more mutations (a replication
// failed, or Close), or nil. s.mu held.
func (s *messageStore) refusal() error {
	switch {
	case s.err != nil:
		return s.err
	case s.closing:
		return ErrClosed
	}
	return nil
}

// add queues the record; s.mu held.
func (s *messageStore) add(op byte, v uint64, msg []byte) {
	if len(s.batches) > 0 {
		last := s.batches[len(s.batches)-1]
		switch {
		case op == opTarget && s.targetAt >= 0:
			binary.BigEndian.PutUint64(last[s.targetAt:], v)
			return
		case op == opSender && s.senderAt >= 0:
			binary.BigEndian.PutUint64(last[s.senderAt:], v)
			return
		}
	}
	s.append(sessionRecord(op, s.id, v, msg))
}

// append adds an encoded session record to the batch being built, or to
// a new one when that is full, and notes where a record that may be
// coalesced keeps its value. s.mu held.
func (s *messageStore) append(rec []byte) {
	n := len(s.batches)
	if n == 0 || len(s.batches[n-1]) >= batchBytes || binary.BigEndian.Uint16(s.batches[n-1][1:]) == maxBatch {
		s.batches = append(s.batches, newBatch(4096))
		s.targetAt, s.senderAt = -1, -1
		n++
		s.changed.Broadcast() // a new batch for the flusher
	}
	b := appendBatchRecord(s.batches[n-1], rec)
	s.batches[n-1] = b
	at := len(b) - len(rec) + 2 + 2 + len(s.id) // the record's u64
	s.senderAt = -1
	switch rec[1] {
	case opTarget:
		s.targetAt = at
	case opSender:
		s.senderAt = at
	case opReset:
		s.targetAt = -1
	}
}

// commit queues rec (a reservation) behind the store's mutations and
// waits until the batch carrying it is committed on a quorum and applied.
func (s *messageStore) commit(rec []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refusal(); err != nil {
		return err
	}
	s.append(rec)
	want := s.taken + uint64(len(s.batches))
	for s.completed < want && s.err == nil {
		s.changed.Wait()
	}
	return s.err
}

// drain waits until every batch queued so far is completed.
func (s *messageStore) drain() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	want := s.taken + uint64(len(s.batches))
	for s.completed < want && s.err == nil {
		s.changed.Wait()
	}
	return s.err
}

// flush is the store's flusher goroutine: it hands the batches to the
// Node in order, at most batchesInFlight uncompleted, until Close and no
// batch is left (or a replication failed: the rest is dropped).
func (s *messageStore) flush() {
	defer close(s.flushed)
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if s.err != nil || len(s.batches) == 0 {
			if s.closing {
				s.batches = nil
				return
			}
			s.changed.Wait()
			continue
		}
		if s.taken-s.completed >= batchesInFlight {
			s.changed.Wait()
			continue
		}
		b := s.batches[0]
		s.batches = s.batches[1:]
		if len(s.batches) == 0 {
			s.batches = nil // the last batch is no longer being built
			s.targetAt, s.senderAt = -1, -1
		}
		s.taken++
		s.mu.Unlock()
		if err := s.node.applyAsync(b, s.seal, false, func(index uint64, _ int, err error) { s.done(index, err) }); err != nil {
			s.done(0, err)
		}
		s.mu.Lock()
	}
}

// done completes a batch; the Node's completer calls it (or flush, for a
// batch refused at once, without s.mu held).
func (s *messageStore) done(_ uint64, err error) {
	s.mu.Lock()
	first := err != nil && s.err == nil
	if first {
		s.err = err
	}
	s.completed++
	s.changed.Broadcast()
	s.mu.Unlock()
	if first && s.onFail != nil {
		s.onFail(s.id, err)
	}
}
func (s *messageStore) NextSenderMsgSeqNum() int { return s.nextSender }
func (s *messageStore) NextTargetMsgSeqNum() int { return s.nextTarget }

func (s *messageStore) IncrNextSenderMsgSeqNum() error {
	return s.SetNextSenderMsgSeqNum(s.nextSender + 1)
}

func (s *messageStore) IncrNextTargetMsgSeqNum() error {
	return s.SetNextTargetMsgSeqNum(s.nextTarget + 1)
}

func (s *messageStore) SetNextSenderMsgSeqNum(next int) error {
	if next <= 0 || next > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: next sender %d out of range", s.id, next)
	}
	if err := s.queue(opSender, uint64(next), nil); err != nil {
		return err
	}
	s.nextSender = next
	return nil
}

func (s *messageStore) SetNextTargetMsgSeqNum(next int) error {
	if next <= 0 || next > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: next target %d out of range", s.id, next)
	}
	if err := s.queue(opTarget, uint64(next), nil); err != nil {
		return err
	}
	s.nextTarget = next
	return nil
}

// CreationTime returns when the store was created or last reset.
func (s *messageStore) CreationTime() time.Time { return s.created }

// SetCreationTime does nothing, as in quickfix's file store: the creation
// time is the store's own.
func (s *messageStore) SetCreationTime(time.Time) {}

func (s *messageStore) SaveMessage(seq int, msg []byte) error {
	if seq <= 0 || seq > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: MsgSeqNum %d out of range", s.id, seq)
	}
	if err := s.queue(opMessage, uint64(seq), msg); err != nil {
		return err
	}
	s.messages.set(uint64(seq), msg)
	return nil
}

// SaveMessageAndIncrNextSenderMsgSeqNum saves msg and advances the next
// sender sequence number in one record.
func (s *messageStore) SaveMessageAndIncrNextSenderMsgSeqNum(seq int, msg []byte) error {
	if seq <= 0 || seq > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: MsgSeqNum %d out of range", s.id, seq)
	}
	if err := s.queue(opSent, uint64(seq), msg); err != nil {
		return err
	}
	s.messages.set(uint64(seq), msg)
	s.nextSender++
	return nil
}

// GetMessages returns copies of the messages saved under sequence numbers
// begin to end, in sequence order.
func (s *messageStore) GetMessages(begin, end int) ([][]byte, error) {
	lo, hi := s.messages.span(begin, end)
	msgs := make([][]byte, hi-lo)
	for i := range msgs {
		_, m := s.messages.at(lo + i)
		msgs[i] = slices.Clone(m)
	}
	return msgs, nil
}

// IterateMessages calls cb for each message GetMessages returns, in
// order, without copying it: cb must neither change nor keep it. quickfix
// reads the store through fix's LockedStore, whose IterateMessages copies
// the messages under its lock; the fix package's scans of a store being
// opened call this one.
func (s *messageStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	lo, hi := s.messages.span(begin, end)
	for i := lo; i < hi; i++ {
		_, m := s.messages.at(i)
		if err := cb(m); err != nil {
			return err
		}
	}
	return nil
}

// Refresh does nothing: the copy is the store.
func (s *messageStore) Refresh() error { return nil }

// Reset discards every message and sets both sequence numbers to 1.
func (s *messageStore) Reset() error {
	now := s.clock()
	if err := s.queue(opReset, uint64(now.UnixNano()), nil); err != nil {
		return err
	}
	s.nextSender, s.nextTarget, s.created, s.messages = 1, 1, now, msgLog{}
	return nil
}

// Close hands the last batch over and waits until every batch is
// completed (each within the Node's ApplyTimeout of its hand-over), then
// returns the first replication failure: the fix package marks the store
// clean only on nil. A second Close returns nil.
func (s *messageStore) Close() error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return nil
	}
	s.closing = true
	s.changed.Broadcast()
	s.mu.Unlock()
	<-s.flushed
	s.closed()
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.completed < s.taken {
		s.changed.Wait()
	}
	if s.err != nil {
		return fmt.Errorf("cluster: session store %s: %w", s.id, s.err)
	}
	return nil
}

package cluster

import (
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
}

// SessionStores keeps the upstream FIX sessions' stores in the replicated
// State; it implements fix.SessionStores (structurally: this package does
// not import fix). Only the leader opens stores. Each store keeps its own
// in-memory copy for the session's reads (resends) and replicates every
// mutation with ApplyAsync, in order, without waiting; the reservation is
// written with Apply, which waits for the quorum, so a reservation always
// bounds what a leader that crashed may have sent. The owner is the node
// ID and its leadership epoch, so a takeover by another node, or a new
// term on this one, reads as a machine restart to the fix package: it
// skips to the reservation and reports the scan as lost.
//
// All methods may be called from any goroutine.
type SessionStores struct {
	cfg SessionStoresConfig
}

// NewSessionStores validates cfg and fills its defaults.
func NewSessionStores(cfg SessionStoresConfig) (*SessionStores, error) {
	if cfg.Node == nil || cfg.State == nil {
		return nil, errors.New("cluster: SessionStoresConfig.Node and State are required")
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &SessionStores{cfg: cfg}, nil
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
// committed on a quorum (Node.Apply): it follows every mutation the
// session's store replicated before it in the log.
func (s *SessionStores) WriteReservation(sid quickfix.SessionID, reserved int, clean bool, owner string) error {
	if reserved <= 0 || reserved > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: reservation %d out of range", sid, reserved)
	}
	if _, err := s.cfg.Node.Apply(reserveRecord(sid.String(), uint64(reserved), clean, owner), 0); err != nil {
		return fmt.Errorf("cluster: session store %s: reservation: %w", sid, err)
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
	st := &messageStore{
		id: sid.String(), node: s.cfg.Node, clock: s.cfg.Clock,
		nextSender: v.nextSender, nextTarget: v.nextTarget, messages: v.messages,
		created: time.Unix(0, v.created),
	}
	st.drained = sync.NewCond(&st.mu)
	if v.created == 0 {
		now := s.cfg.Clock()
		if err := st.replicate(sessionRecord(opCreated, st.id, uint64(now.UnixNano()), nil)); err != nil {
			return nil, err
		}
		st.created = now
	}
	return st, nil
}

// messageStore is one session's quickfix.MessageStore on the leader: an
// in-memory copy whose every mutation is replicated asynchronously, in
// call order. A mutation whose replication is refused at once changes
// nothing and returns the error; one that fails later makes every later
// call (and Close) fail with that error, since the State no longer follows
// the copy.
//
// Its quickfix methods are not safe for concurrent use (the fix package
// wraps the store in a LockedStore). mu guards the fields below it, which
// the Node's completer goroutine also touches through replicate's
// callback; it is never held while calling the Node.
type messageStore struct {
	id    string
	node  *Node
	clock func() time.Time

	nextSender, nextTarget int
	created                time.Time
	messages               map[int][]byte // bodies are never changed once stored

	mu       sync.Mutex
	drained  *sync.Cond // signalled when inflight drops to 0
	inflight int        // replications not yet completed
	err      error      // first replication failure; sticky
	closed   bool
}

// replicate hands rec to the Node; the caller applies the mutation to the
// copy only on nil.
func (s *messageStore) replicate(rec []byte) error {
	s.mu.Lock()
	if err := s.err; err != nil || s.closed {
		s.mu.Unlock()
		if err == nil {
			err = ErrClosed
		}
		return fmt.Errorf("cluster: session store %s: %w", s.id, err)
	}
	s.inflight++
	s.mu.Unlock()
	err := s.node.ApplyAsync(rec, func(_ uint64, err error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil && s.err == nil {
			s.err = err
		}
		s.inflight--
		if s.inflight == 0 {
			s.drained.Broadcast()
		}
	})
	if err != nil {
		s.mu.Lock()
		s.inflight--
		if s.inflight == 0 {
			s.drained.Broadcast()
		}
		s.mu.Unlock()
		return fmt.Errorf("cluster: session store %s: %w", s.id, err)
	}
	return nil
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
	if err := s.replicate(sessionRecord(opSender, s.id, uint64(next), nil)); err != nil {
		return err
	}
	s.nextSender = next
	return nil
}

func (s *messageStore) SetNextTargetMsgSeqNum(next int) error {
	if next <= 0 || next > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: next target %d out of range", s.id, next)
	}
	if err := s.replicate(sessionRecord(opTarget, s.id, uint64(next), nil)); err != nil {
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
	if err := s.replicate(sessionRecord(opMessage, s.id, uint64(seq), msg)); err != nil {
		return err
	}
	s.messages[seq] = slices.Clone(msg)
	return nil
}

// SaveMessageAndIncrNextSenderMsgSeqNum saves msg and advances the next
// sender sequence number in one record.
func (s *messageStore) SaveMessageAndIncrNextSenderMsgSeqNum(seq int, msg []byte) error {
	if seq <= 0 || seq > maxSeqNum {
		return fmt.Errorf("cluster: session store %s: MsgSeqNum %d out of range", s.id, seq)
	}
	if err := s.replicate(sessionRecord(opSent, s.id, uint64(seq), msg)); err != nil {
		return err
	}
	s.messages[seq] = slices.Clone(msg)
	s.nextSender++
	return nil
}

// GetMessages returns copies of the messages saved under sequence numbers
// begin to end, in sequence order.
func (s *messageStore) GetMessages(begin, end int) ([][]byte, error) {
	var seqs []int
	for seq := range s.messages {
		if seq >= begin && seq <= end {
			seqs = append(seqs, seq)
		}
	}
	slices.Sort(seqs)
	msgs := make([][]byte, len(seqs))
	for i, seq := range seqs {
		msgs[i] = slices.Clone(s.messages[seq])
	}
	return msgs, nil
}

// IterateMessages calls cb for each message GetMessages returns.
func (s *messageStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	msgs, err := s.GetMessages(begin, end)
	if err != nil {
		return err
	}
	for _, m := range msgs {
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
	if err := s.replicate(sessionRecord(opReset, s.id, uint64(now.UnixNano()), nil)); err != nil {
		return err
	}
	s.nextSender, s.nextTarget, s.created, s.messages = 1, 1, now, map[int][]byte{}
	return nil
}

// Close waits until every mutation replicated is completed (each within
// the Node's ApplyTimeout) and returns the first replication failure: the
// fix package marks the store clean only on nil. A second Close returns
// nil.
func (s *messageStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for s.inflight > 0 {
		s.drained.Wait()
	}
	if s.err != nil {
		return fmt.Errorf("cluster: session store %s: %w", s.id, s.err)
	}
	return nil
}

package broker

import (
	"fmt"
	"sync"
	"time"

	"github.com/quickfixgo/quickfix"
	"github.com/quickfixgo/quickfix/store/file"
)

// stores is the acceptor's quickfix MessageStoreFactory: quickfix's file
// stores, each wrapped in a lock. Safe for concurrent use.
type stores struct {
	file quickfix.MessageStoreFactory

	mu   sync.Mutex
	open []*lockedStore
}

var _ quickfix.MessageStoreFactory = (*stores)(nil)

func newStores(settings *quickfix.Settings) *stores {
	return &stores{file: file.NewStoreFactory(settings)}
}

// Create implements quickfix.MessageStoreFactory; quickfix calls it once
// per session when the acceptor is created.
func (s *stores) Create(sid quickfix.SessionID) (quickfix.MessageStore, error) {
	st, err := s.file.Create(sid)
	if err != nil {
		return nil, fmt.Errorf("broker: open store of %s: %w", sid, err)
	}
	ls := &lockedStore{st: st}
	s.mu.Lock()
	s.open = append(s.open, ls)
	s.mu.Unlock()
	return ls, nil
}

// close closes every store created. quickfix never closes its stores; the
// acceptor calls this after its sessions stopped.
func (s *stores) close() error {
	s.mu.Lock()
	open := s.open
	s.open = nil
	s.mu.Unlock()
	var first error
	for _, st := range open {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// lockedStore serialises a quickfix MessageStore. quickfix (v0.9.11) reads
// and advances a session's sequence numbers on the session goroutine
// without a lock, while SendToTarget, called by the pacer goroutine, saves
// messages and advances the sender sequence number under the session's
// send mutex only; the file store's in-memory cache is a plain struct.
type lockedStore struct {
	mu sync.Mutex
	st quickfix.MessageStore
}

var _ quickfix.MessageStore = (*lockedStore)(nil)

func (l *lockedStore) NextSenderMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.NextSenderMsgSeqNum()
}

func (l *lockedStore) NextTargetMsgSeqNum() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.NextTargetMsgSeqNum()
}

func (l *lockedStore) IncrNextSenderMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.IncrNextSenderMsgSeqNum()
}

func (l *lockedStore) IncrNextTargetMsgSeqNum() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.IncrNextTargetMsgSeqNum()
}

func (l *lockedStore) SetNextSenderMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SetNextSenderMsgSeqNum(next)
}

func (l *lockedStore) SetNextTargetMsgSeqNum(next int) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SetNextTargetMsgSeqNum(next)
}

func (l *lockedStore) CreationTime() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.CreationTime()
}

func (l *lockedStore) SetCreationTime(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.st.SetCreationTime(t)
}

func (l *lockedStore) SaveMessage(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SaveMessage(seqNum, msg)
}

func (l *lockedStore) SaveMessageAndIncrNextSenderMsgSeqNum(seqNum int, msg []byte) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.SaveMessageAndIncrNextSenderMsgSeqNum(seqNum, msg)
}

func (l *lockedStore) GetMessages(begin, end int) ([][]byte, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.GetMessages(begin, end)
}

// IterateMessages copies the messages under the lock and calls cb without
// it: quickfix's callback writes each message to the connection.
func (l *lockedStore) IterateMessages(begin, end int, cb func([]byte) error) error {
	msgs, err := l.GetMessages(begin, end)
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

func (l *lockedStore) Refresh() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Refresh()
}

func (l *lockedStore) Reset() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Reset()
}

func (l *lockedStore) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.st.Close()
}
